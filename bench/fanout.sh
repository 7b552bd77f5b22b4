#!/usr/bin/env bash
# The fan-out benchmark: one publisher, N subscribers (default 10,000) on loopback in other processes, and the
# server's cost per delivery, measured against a baseline in the same run.
#  - baseline: bench/raw-fanout, one send() per subscriber socket in a plain loop (the physical limit: each small
#    send on loopback emits a TCP segment, whose cost is mostly the kernel's);
#  - surge: tools/surge-push;
#  - optionally a peer server (--peer 'COMMAND'), started the same way and held to the same contract;
#  - with --envelope, surge-push again with its default delivery, the JSON envelope ({"topic","offset","data"};
#    format=raw is what the other surge-push run asks for, the bytes as published): what the envelope costs.
#    Its subscribers cannot read the publisher's stamps and numbers inside the envelope, so that run reports no
#    latency and no loss check (the resume tests check its offsets instead).
# Each server gets the same load: surge-load --mode subscribe opens N subscriptions to ws://.../ws?topics=fan, and
# surge-load --mode publish POSTs stamped, numbered messages to http://.../publish/fan at each of the --rate
# loads in turn (messages per second; default 10,20,50: one every server keeps up with, and two that are past
# what a send() per delivery can do on one core here). The server's CPU time (utime + stime of its process, all
# threads) is read from /proc over the measured window.
# Reported per server and load: deliveries per second (what the subscribers received), the server's CPU seconds
# per second, deliveries per server-CPU-second, delivery latency p50/p99 (publisher's stamp to subscriber),
# whether it kept up (delivered 99% of what was asked, with p99 under a second), and the subscribers' loss check:
# numbered messages lost, repeated or out of order, and subscribers that got none. Then surge's deliveries per
# CPU-second as a ratio of the baseline's (and of the peer's), per load.
# surge-push must lose nothing it did not count as dropped for a slow subscriber (its surge_dropped_total),
# repeat nothing and leave no subscriber silent; otherwise the script fails, after its report.
# A peer COMMAND may contain {port}, replaced by the port to listen on; it must serve the two URLs above.
# The machine is shared and noisy, so the servers take turns, --repeat times (default 3), and the ratios are of
# the medians.
# --tls: the subscribers over wss:// (a certificate made for the run; surge-push with --cert and --key), the
# publisher over plain HTTP to an --admin-address listener of the same process. The baseline has no TLS, so with
# --tls only surge-push and the peer run; the peer's COMMAND may also contain {cert}, {key} and {admin} (the
# address:port its publish and /metrics must listen on), e.g. another build of surge-push to compare with.
#
# Usage: bench/fanout.sh [--subscribers N] [--rate R[,R...]] [--duration S] [--warmup S] [--size B]
#                        [--threads T] [--backend B] [--repeat N] [--peer 'COMMAND'] [--peer-name NAME]
#                        [--envelope] [--tls] [--build DIR] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
subscribers=10000
rates=10,20,50
duration=10
warmup=3
size=32
threads=1
backend=auto
repeat=3
peer=""
peer_name=peer
envelope=""
tls=""
json=""
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --subscribers) subscribers=$2; shift 2 ;;
        --rate) rates=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --peer) peer=$2; shift 2 ;;
        --peer-name) peer_name=$2; shift 2 ;;
        --envelope) envelope=1; shift ;;
        --tls) tls=1; shift ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "fanout.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-push bench/raw-fanout bench/surge-load
push=$build/tools/surge-push
raw=$build/bench/raw-fanout
load=$build/bench/surge-load
if [ -n "$tls" ]; then
    [ -z "$envelope" ] || { echo "fanout.sh: --envelope and --tls cannot be combined" >&2; exit 2; }
    bash "$root/tools/make-test-cert.sh" "$work" >/dev/null 2>&1 ||
        { echo "fanout.sh: --tls: openssl could not make a certificate" >&2; exit 2; }
fi


# metric_sum PORT NAME: the sum of every sample of a Prometheus metric the server on PORT exports (empty if none).
metric_sum() {
    python3 - "$1" "$2" <<'PY'
import sys, urllib.request
try:
    text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
except OSError:
    sys.exit(0)
values = [float(line.split()[-1]) for line in text.splitlines()
          if line.split("{")[0].split(" ")[0] == sys.argv[2]]
if values:
    print(int(sum(values)))
PY
}

# run NAME PORT RATE COMMAND...: one measured run at RATE against a server started by COMMAND (holding PORT; with
# --tls, its publish and /metrics on ADMIN).
results=()
run() {
    local name=$1 port=$2 rate=$3
    shift 3
    "$@" >"$work/$name.log" 2>&1 &
    local server=$!
    pids+=("$server")
    wait_port "$port" || true
    local subscribe_url="ws://127.0.0.1:$port/ws?topics=fan$query" publish_port=$port tls_client=()
    if [ -n "$tls" ]; then
        wait_port "$admin" || true
        subscribe_url="wss://127.0.0.1:$port/ws?topics=fan$query" publish_port=$admin tls_client=(--ca "$work/cert.pem")
    fi
    echo "== $name: $subscribers subscribers${tls:+ over wss://}, $rate messages/s of $size bytes," \
        "${duration}s measured"
    "$load" "$subscribe_url" "${tls_client[@]}" --mode subscribe --connections "$subscribers" --threads 2 \
        --duration "$duration" --warmup "$warmup" --json "$work/$name.sub.json" >"$work/$name.sub.log" 2>&1 &
    local subscriber=$!
    pids+=("$subscriber")
    sleep 1  # the subscriptions open (their ramp is inside the warm-up)
    "$load" "http://127.0.0.1:$publish_port/publish/fan" --mode publish --rate "$rate/total" --size "$size" \
        --duration "$((duration + warmup + 3))" --warmup 0 >"$work/$name.pub.log" 2>&1 &
    local publisher=$!
    pids+=("$publisher")
    sleep "$((warmup - 1))"
    local cpu dropped=""
    cpu=$(cpu_per_second "$server" "$duration")
    wait "$subscriber" || { echo "$name: the subscribers failed"; cat "$work/$name.sub.log"; exit 1; }
    # What the server counted as dropped for slow subscribers (surge-push's metric; a peer may have none).
    [[ $name == surge-push* ]] && dropped=$(metric_sum "$publish_port" surge_dropped_total)
    kill "$publisher" 2>/dev/null || true
    wait "$publisher" 2>/dev/null || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    results+=("$(python3 - "$work/$name.sub.json" "$name" "$cpu" "$subscribers" "$rate" \
        "${dropped:--1}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, (cpu_per_second, subs, rate, dropped) = sys.argv[2], map(float, sys.argv[3:7])
deliveries = r["messages_per_second"]
out = {
    "server": name,
    "rate": rate,
    "deliveries_per_second": round(deliveries),
    "expected_per_second": round(subs * rate),
    "server_cpu_per_second": round(cpu_per_second, 4),
    "deliveries_per_cpu_second": round(deliveries / cpu_per_second) if cpu_per_second > 0 else None,
    "latency_us": {k: r["latency_us"][k] for k in ("p50", "p99", "max")},
    "kept_up": deliveries >= 0.99 * subs * rate and r["latency_us"]["p99"] < 1e6,
    "sequence": r["sequence"],
    "server_dropped": None if dropped < 0 else int(dropped),
    "errors": sum(r["errors"].values()),
    "connections_opened": r["connections_opened"],
}
print(json.dumps(out))
PY
)")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("   %(deliveries_per_second)d deliveries/s (expected %(expected_per_second)d), server CPU %(server_cpu_per_second).3f s/s, %(deliveries_per_cpu_second)s deliveries per CPU-second, latency p50 %(p50).0f us p99 %(p99).0f us, %(errors)d errors; %(checked)d numbered: %(lost)d lost, %(repeated)d repeated, %(silent_connections)d silent subscribers%(dropped)s" % {**r, **r["latency_us"], **r["sequence"], "dropped": "" if r["server_dropped"] is None else "; the server counted %d dropped" % r["server_dropped"]})' "${results[-1]}"
}

# One server's run at RATE, by its place in `order`: the baseline, surge-push (raw), the peer, surge-push (JSON).
run_server() {
    local which=$1 rate=$2 port tls_server=()
    port=$(free_port)
    admin=$(free_port)
    query="&format=raw"
    [ -n "$tls" ] && tls_server=(--cert "$work/cert.pem" --key "$work/key.pem" --admin-address "127.0.0.1:$admin")
    local peer_command=${peer//\{port\}/$port}
    peer_command=${peer_command//\{admin\}/127.0.0.1:$admin}
    peer_command=${peer_command//\{cert\}/$work/cert.pem}
    peer_command=${peer_command//\{key\}/$work/key.pem}
    case $which in
        baseline) run raw-send-loop "$port" "$rate" "$raw" --port "$port" ;;
        # All the subscribers come from 127.0.0.1: no per-address limit here.
        surge) run surge-push "$port" "$rate" "$push" --port "$port" --threads "$threads" --backend "$backend" \
               --max-per-address 0 "${tls_server[@]}" ;;
        peer) run "$peer_name" "$port" "$rate" bash -c "exec $peer_command" ;;
        envelope) query=""
            run surge-push-json "$port" "$rate" "$push" --port "$port" --threads "$threads" --backend "$backend" \
               --max-per-address 0 ;;
    esac
}

order=(baseline surge)
[ -n "$tls" ] && order=(surge)
[ -n "$peer" ] && order+=(peer)
[ -n "$envelope" ] && order+=(envelope)
servers=${#order[@]}
for rate in ${rates//,/ }; do
    for round in $(seq "$repeat"); do
        echo "-- $rate messages/s, round $round of $repeat"
        # Each round starts with the next server: a run that follows another one is slower (the previous run's
        # 10,000 connections are still closing: the same binary read 1.086x slower in third place than in second),
        # so no server may always have the same place.
        for i in $(seq 0 $((servers - 1))); do
            run_server "${order[$(( (i + round - 1) % servers ))]}" "$rate"
        done
    done
done

python3 - "$json" "$subscribers" "$size" "$threads" "$backend" "${results[@]}" <<'PY'
import json, statistics, sys
path, subscribers, size, threads, backend = sys.argv[1:6]
runs = [json.loads(a) for a in sys.argv[6:]]
servers = list(dict.fromkeys(r["server"] for r in runs))
rates = list(dict.fromkeys(r["rate"] for r in runs))
report = {"subscribers": int(subscribers), "size": int(size), "threads": int(threads), "backend": backend,
          "runs": runs, "by_rate": {}}
for rate in rates:
    print("== %g messages/s to %s subscribers (%d deliveries/s asked)" % (rate, subscribers, rate * int(subscribers)))
    summary, ratios = {}, {}
    for name in servers:
        mine = [r for r in runs if r["server"] == name and r["rate"] == rate]
        summary[name] = {
            "deliveries_per_cpu_second_median": statistics.median(r["deliveries_per_cpu_second"] for r in mine),
            "deliveries_per_second_median": statistics.median(r["deliveries_per_second"] for r in mine),
            "latency_us_p50_median": statistics.median(r["latency_us"]["p50"] for r in mine),
            "latency_us_p99_median": statistics.median(r["latency_us"]["p99"] for r in mine),
            "kept_up_rounds": sum(r["kept_up"] for r in mine),
            "lost": sum(r["sequence"]["lost"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
        }
        s = summary[name]
        print("%-14s median of %d: %d deliveries per server-CPU-second, %d deliveries/s, latency p50 %.0f us, "
              "p99 %.0f us; kept up in %d of %d rounds; %d numbered messages lost"
              % (name, len(mine), s["deliveries_per_cpu_second_median"], s["deliveries_per_second_median"],
                 s["latency_us_p50_median"], s["latency_us_p99_median"], s["kept_up_rounds"], len(mine), s["lost"]))
    surge = summary["surge-push"]["deliveries_per_cpu_second_median"]
    for name in servers:
        if name not in ("surge-push", "surge-push-json"):
            ratios["surge_vs_" + name] = round(surge / summary[name]["deliveries_per_cpu_second_median"], 3)
            print("surge-push deliveries per server-CPU-second / %s: %.3f" % (name, ratios["surge_vs_" + name]))
    if "surge-push-json" in summary:  # the envelope's cost: against the raw delivery and the send() loop
        json_rate = summary["surge-push-json"]["deliveries_per_cpu_second_median"]
        for name in ("surge-push", "raw-send-loop"):
            ratios["json_vs_" + name] = round(json_rate / summary[name]["deliveries_per_cpu_second_median"], 3)
            print("surge-push-json (envelopes) deliveries per server-CPU-second / %s: %.3f"
                  % (name, ratios["json_vs_" + name]))
    report["by_rate"]["%g" % rate] = {"summary": summary, "ratios": ratios}
# surge-push's contract: every message reaches every subscriber within its bound. A message the subscribers saw
# skipped must be one the server counted as dropped, and none may come twice or leave a subscriber out.
broken = [r for r in runs if r["server"] == "surge-push" and (
    r["sequence"]["checked"] == 0 or r["sequence"]["repeated"] or r["sequence"]["silent_connections"] or
    r["sequence"]["lost"] > (r["server_dropped"] or 0))]
report["surge_push_lost_nothing_uncounted"] = not broken
if path:
    json.dump(report, open(path, "w"), indent=2)
for r in broken:
    print("FAILED: surge-push at %g messages/s: %s, the server counted %s dropped"
          % (r["rate"], r["sequence"], r["server_dropped"]))
sys.exit(1 if broken else 0)
PY
