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
# Usage: bench/million_push.sh [SUBSCRIBERS] [--publications N] [--rate R] [--ramp-rate N] [--per-process N]
#                              [--wait-batch N] [--wait-batch-us US] [--backend B] [--build DIR] [--json FILE]
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
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        -*) echo "million_push.sh: unknown option $1" >&2; exit 2 ;;
        *) subscribers=$1; shift ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-push tools/surge-stress
source "$root/bench/sysctls.sh"
in_own_netns "$subscribers" "$0" "${args[@]}"
raise_for_connections "$subscribers"

workers=$(( (subscribers + per_process - 1) / per_process ))
port=$(free_port)
# No idle pings (a million of them every 30 s would be load of their own), no per-address limit (the subscribers
# come from a few loopback addresses), history kept for the publications of the run.
SURGE_LOG=warn "$build/tools/surge-push" --port "$port" --address 127.0.0.1 --workers "$workers" --threads 1 \
    --backend "$backend" --idle-timeout 0 --max-per-address 0 >"$work/push.log" 2>&1 &
server=$!
pids+=("$server")
for _ in $(seq 600); do  # every worker listening: the parent announces once they all are
    grep -q 'surge-push: http' "$work/push.log" && break
    kill -0 "$server" 2>/dev/null || { cat "$work/push.log"; exit 1; }
    sleep 0.1
done
echo "surge-push: $workers workers on port $port"
grep -E '^(MemTotal|MemAvailable|Slab)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
echo

status=0
"$build/tools/surge-stress" "ws://127.0.0.1:$port/ws?topics=million&format=raw" --connections "$subscribers" \
    --rate "$ramp_rate" --procs "$workers" --in-flight 4000 --verify none \
    --publish "http://127.0.0.1:$port/publish/million" --push "$publications" --push-rate "$rate" \
    --server-pid "$server" --hold 1 --timeout 60 --wait-batch "$wait_batch" --wait-batch-us "$wait_batch_us" \
    ${json:+--json "$json"} || status=$?
grep -E '^(MemAvailable|Slab)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
echo
exit $status
