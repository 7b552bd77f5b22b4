#!/usr/bin/env bash
# One publication to a million subscribers, reproducible: raises the sysctls (bench/sysctls.sh), starts
# surge-push with as many worker processes as the descriptor limit needs (one per --per-process subscribers; the
# workers share one offset per publication through the hub their parent serves), and has surge-stress open N
# subscriptions (default 1,000,000) to one topic with format=raw (the topic is subscribed before the connection
# opens, so no message is needed to verify it: publication 1 checks every one), then publish: publication 1 alone, until every subscriber has it, then --publications - 1 more at --rate per second
# (0: all at once, a burst). Reported by surge-stress: every subscriber's check that each publication came once
# and in order (lost, repeated, silent), publish-to-delivery latency over every delivery (p50/p99/max), for
# publication 1 and per publication the first and last delivery, deliveries per second and per server-CPU-second,
# the server's and the kernel's memory.
# Needs root for the sysctls. CI runs the same path with a few thousand (tests/tools/load_tools_test.sh).
# Past 20,000 connections it runs in a network namespace of its own, whose established-connection hash is sized
# for the run (bench/sysctls.sh, in_own_netns: the machine's, sized at boot, would hang 8 sockets on a bucket).
#
# The subscribers' processes wake when 64 messages wait for them, or after 20 ms (surge-stress --wait-batch,
# --wait-batch-us): on loopback the server pays for waking each receiver, which remote subscribers would not cost
# it. At a million, each of the 56 processes gets about 2,000 messages a second, so a shorter wait wakes it for
# a message or two (publication 1: 9.0-9.7 s with 1 ms, 7.3-7.6 s with 20 ms; README). A delivery's latency is taken
# when its subscriber's process handles it, so the wait is in the figures. --wait-batch 1 wakes per message.
#
# --baseline first runs the same subscribers and publications against bench/raw-fanout (as many processes, one
# send() per subscriber in a plain loop: the plainest delivery there is), then surge-push, and reports surge-push's
# figures as ratios of the loop's; --baseline-last runs the loop second (run both ways: the second
# run starts on a kernel that has just freed a million sockets). Between the two it waits until the first run's
# closed connections have left TIME_WAIT (up to 90 s), so that the second starts on an empty connection table.
# Usage: bench/million_push.sh [SUBSCRIBERS] [--publications N] [--rate R] [--ramp-rate N] [--per-process N]
#                              [--wait-batch N] [--wait-batch-us US] [--backend B] [--baseline|--baseline-last]
#                              [--build DIR] [--json FILE]
# With --json and --baseline, the loop's report is under "baseline" and the ratios under "vs_baseline".
set -euo pipefail
args=("$@")
root=$(cd "$(dirname "$0")/.." && pwd)
subscribers=1000000
publications=20
rate=1
ramp_rate=25000
wait_batch=64
wait_batch_us=20000
per_process=18000
backend=auto
baseline=""
json=""
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --publications) publications=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --ramp-rate) ramp_rate=$2; shift 2 ;;
        --wait-batch) wait_batch=$2; shift 2 ;;
        --wait-batch-us) wait_batch_us=$2; shift 2 ;;
        --per-process) per_process=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --baseline) baseline=first; shift ;;
        --baseline-last) baseline=last; shift ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        -*) echo "million_push.sh: unknown option $1" >&2; exit 2 ;;
        *) subscribers=$1; shift ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-push tools/surge-stress bench/raw-fanout
source "$root/bench/sysctls.sh"
in_own_netns "$subscribers" "$0" "${args[@]}"
raise_for_connections "$subscribers"

workers=$(( (subscribers + per_process - 1) / per_process ))

# serve NAME: starts the server NAME (surge-push or raw-send-loop) with $workers processes on a free port; sets
# $server and $port.
serve() {
    port=$(free_port)
    if [ "$1" = raw-send-loop ]; then
        "$build/bench/raw-fanout" --port "$port" --workers "$workers" >"$work/$1.log" 2>&1 &
    else
        # No idle pings (a million of them every 30 s would be load of their own), no per-address limit (the
        # subscribers come from a few loopback addresses), history kept for the publications of the run.
        SURGE_LOG=warn "$build/tools/surge-push" --port "$port" --address 127.0.0.1 --workers "$workers" \
            --threads 1 --backend "$backend" --idle-timeout 0 --max-per-address 0 >"$work/$1.log" 2>&1 &
    fi
    server=$!
    pids+=("$server")
    for _ in $(seq 600); do  # every worker listening: surge-push's parent announces once they all are
        grep -q 'surge-push: http\|raw-fanout: ws' "$work/$1.log" && break
        kill -0 "$server" 2>/dev/null || { cat "$work/$1.log"; exit 1; }
        sleep 0.1
    done
    echo "$1: $workers processes on port $port"
}

# push NAME: surge-stress's subscribers and publications against the server running; the report in
# $work/NAME.json. Returns surge-stress's status.
push() {
    grep -E '^(MemTotal|MemAvailable|Slab)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
    echo
    local status=0
    "$build/tools/surge-stress" "ws://127.0.0.1:$port/ws?topics=million&format=raw" --connections "$subscribers" \
        --rate "$ramp_rate" --procs "$workers" --in-flight 4000 --verify none \
        --publish "http://127.0.0.1:$port/publish/million" --push "$publications" --push-rate "$rate" \
        --server-pid "$server" --hold 1 --timeout 60 --wait-batch "$wait_batch" --wait-batch-us "$wait_batch_us" \
        --json "$work/$1.json" || status=$?
    grep -E '^(MemAvailable|Slab)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
    echo
    return $status
}

# stop: ends the server and waits (up to 90 s) for the connections it had to leave the kernel's table.
stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    [ "$subscribers" -gt 20000 ] || return 0
    local held
    for _ in $(seq 90); do
        held=$(awk '/^TCP:/ {print $3 + $7}' /proc/net/sockstat)  # in use, and in TIME_WAIT
        [ "$held" -lt 1000 ] && break
        sleep 1
    done
    echo "the kernel holds $held TCP sockets (in use or TIME_WAIT) before the next run"
}

status=0
order=(surge-push)
[ "$baseline" = first ] && order=(raw-send-loop surge-push)
[ "$baseline" = last ] && order=(surge-push raw-send-loop)
for name in "${order[@]}"; do
    [ "$name" = raw-send-loop ] && echo "== $name: the baseline, one send() per subscriber =="
    [ -n "$baseline" ] && [ "$name" = surge-push ] && echo "== $name =="
    serve "$name"
    push "$name" || status=$?
    [ "$name" = "${order[-1]}" ] || stop
done
if [ -n "$baseline" ]; then
    python3 - "$work" <<'PY' || status=1
import json, sys
work = sys.argv[1]
surge = json.load(open(f"{work}/surge-push.json"))
raw = json.load(open(f"{work}/raw-send-loop.json"))
s, r = surge["push"], raw["push"]
ratios = {
    "publication_1_last_delivery": s["one_last_delivery_ns"] / max(1, r["one_last_delivery_ns"]),
    "latency_p99": s["latency_p99_ns"] / max(1, r["latency_p99_ns"]),
    "server_cpu_per_delivery": (s["server_cpu_seconds"] / max(1, s["received"]))
                               / max(1e-12, r["server_cpu_seconds"] / max(1, r["received"])),
}
print("against the baseline (raw-fanout's send() loop, the same subscribers and publications):")
for name, x in (("raw send loop", r), ("surge-push", s)):
    print(f"  {name:14} publication 1 last delivery {x['one_last_delivery_ns'] / 1e9:.2f} s, p99 "
          f"{x['latency_p99_ns'] / 1e9:.2f} s, {x['received']} of {x['expected']} delivered ({x['lost']} lost), "
          f"server CPU {1e6 * x['server_cpu_seconds'] / max(1, x['received']):.2f} us a delivery")
print("  surge-push / send() loop: publication 1 %.2fx the time, p99 %.2fx, server CPU a delivery %.2fx" % (
    ratios["publication_1_last_delivery"], ratios["latency_p99"], ratios["server_cpu_per_delivery"]))
surge["baseline"] = raw
surge["vs_baseline"] = ratios
json.dump(surge, open(f"{work}/surge-push.json", "w"), indent=1)
PY
fi
[ -n "$json" ] && cp "$work/surge-push.json" "$json"
exit $status
