#!/usr/bin/env bash
# The fan-out benchmark: one publisher, N subscribers (default 10,000) on loopback in other processes, and the
# server's cost per delivery, measured against a baseline in the same run.
#  - baseline: bench/raw-fanout, one send() per subscriber socket in a plain loop (the physical limit: each small
#    send on loopback emits a TCP segment, whose cost is mostly the kernel's);
#  - surge: tools/surge-push;
#  - optionally a peer server (--peer 'COMMAND'), started the same way and held to the same contract.
# Each server gets the same load: surge-load --mode subscribe opens N subscriptions to ws://.../ws?topics=fan, and
# surge-load --mode publish POSTs stamped messages to http://.../publish/fan at --rate messages per second. The
# server's CPU time (utime + stime of its process, all threads) is read from /proc over the measured window.
# Reported per server: deliveries per second (what the subscribers received), the server's CPU seconds per
# second, deliveries per server-CPU-second, and delivery latency p50/p99 (publisher's stamp to subscriber);
# then surge's deliveries per CPU-second as a ratio of the baseline's (and of the peer's).
# A peer COMMAND may contain {port}, replaced by the port to listen on; it must serve the two URLs above.
# The machine is shared and noisy, so the servers take turns, --repeat times (default 3), and the ratios are of
# the medians.
#
# Usage: bench/fanout.sh [--subscribers N] [--rate R] [--duration S] [--warmup S] [--size B] [--threads T]
#                        [--backend B] [--repeat N] [--peer 'COMMAND'] [--peer-name NAME] [--build DIR]
#                        [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
subscribers=10000
rate=10
duration=10
warmup=3
size=32
threads=1
backend=auto
repeat=3
peer=""
peer_name=peer
json=""
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --subscribers) subscribers=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --peer) peer=$2; shift 2 ;;
        --peer-name) peer_name=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "fanout.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
push=$build/tools/surge-push
raw=$build/bench/raw-fanout
load=$build/bench/surge-load
if [ ! -x "$push" ] || [ ! -x "$raw" ] || [ ! -x "$load" ]; then
    echo "building (cmake --preset release) ..."
    (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" \
        --target surge-push raw-fanout surge-load >/dev/null)
    build=$root/build/release
    push=$build/tools/surge-push raw=$build/bench/raw-fanout load=$build/bench/surge-load
fi


source "$root/bench/lib.sh"

# run NAME COMMAND...: one measured run against a server started by COMMAND (already holding its port).
results=()
run() {
    local name=$1 port=$2
    shift 2
    "$@" >"$work/$name.log" 2>&1 &
    local server=$!
    pids+=("$server")
    wait_port "$port" || true
    echo "== $name: $subscribers subscribers, $rate messages/s of $size bytes, ${duration}s measured"
    "$load" "ws://127.0.0.1:$port/ws?topics=fan" --mode subscribe --connections "$subscribers" --threads 2 \
        --duration "$duration" --warmup "$warmup" --json "$work/$name.sub.json" >"$work/$name.sub.log" 2>&1 &
    local subscriber=$!
    pids+=("$subscriber")
    sleep 1  # the subscriptions open (their ramp is inside the warm-up)
    "$load" "http://127.0.0.1:$port/publish/fan" --mode publish --rate "$rate/total" --size "$size" \
        --duration "$((duration + warmup + 3))" --warmup 0 >"$work/$name.pub.log" 2>&1 &
    local publisher=$!
    pids+=("$publisher")
    sleep "$((warmup - 1))"
    local cpu0 t0 cpu1 t1
    cpu0=$(cpu_seconds "$server") t0=$(now)
    sleep "$duration"
    cpu1=$(cpu_seconds "$server") t1=$(now)
    wait "$subscriber" || { echo "$name: the subscribers failed"; cat "$work/$name.sub.log"; exit 1; }
    kill "$publisher" 2>/dev/null || true
    wait "$publisher" 2>/dev/null || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    results+=("$(python3 - "$work/$name.sub.json" "$name" "$cpu0" "$cpu1" "$t0" "$t1" "$subscribers" "$rate" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, (cpu0, cpu1, t0, t1, subs, rate) = sys.argv[2], map(float, sys.argv[3:9])
cpu_per_second = (cpu1 - cpu0) / (t1 - t0)
deliveries = r["messages_per_second"]
out = {
    "server": name,
    "deliveries_per_second": round(deliveries),
    "expected_per_second": round(subs * rate),
    "server_cpu_per_second": round(cpu_per_second, 4),
    "deliveries_per_cpu_second": round(deliveries / cpu_per_second) if cpu_per_second > 0 else None,
    "latency_us": {k: r["latency_us"][k] for k in ("p50", "p99", "max")},
    "errors": sum(r["errors"].values()),
    "connections_opened": r["connections_opened"],
}
print(json.dumps(out))
PY
)")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("   %(deliveries_per_second)d deliveries/s (expected %(expected_per_second)d), server CPU %(server_cpu_per_second).3f s/s, %(deliveries_per_cpu_second)s deliveries per CPU-second, latency p50 %(p50).0f us p99 %(p99).0f us, %(errors)d errors" % {**r, **r["latency_us"]})' "${results[-1]}"
}

for round in $(seq "$repeat"); do
    echo "-- round $round of $repeat"
    port=$(free_port)
    run raw-send-loop "$port" "$raw" --port "$port"
    port=$(free_port)
    run surge-push "$port" "$push" --port "$port" --threads "$threads" --backend "$backend"
    if [ -n "$peer" ]; then
        port=$(free_port)
        run "$peer_name" "$port" bash -c "exec ${peer//\{port\}/$port}"
    fi
done

python3 - "$json" "$subscribers" "$rate" "$size" "$threads" "$backend" "${results[@]}" <<'PY'
import json, statistics, sys
path, subscribers, rate, size, threads, backend = sys.argv[1:7]
runs = [json.loads(a) for a in sys.argv[7:]]
servers = list(dict.fromkeys(r["server"] for r in runs))
summary = {}
for name in servers:
    mine = [r for r in runs if r["server"] == name]
    summary[name] = {
        "deliveries_per_cpu_second_median": statistics.median(r["deliveries_per_cpu_second"] for r in mine),
        "deliveries_per_second_median": statistics.median(r["deliveries_per_second"] for r in mine),
        "latency_us_p50_median": statistics.median(r["latency_us"]["p50"] for r in mine),
        "latency_us_p99_median": statistics.median(r["latency_us"]["p99"] for r in mine),
        "errors": sum(r["errors"] for r in mine),
    }
    s = summary[name]
    print("%-14s median of %d: %d deliveries per server-CPU-second, %d deliveries/s, latency p50 %.0f us, p99 %.0f us"
          % (name, len(mine), s["deliveries_per_cpu_second_median"], s["deliveries_per_second_median"],
             s["latency_us_p50_median"], s["latency_us_p99_median"]))
surge = summary["surge-push"]["deliveries_per_cpu_second_median"]
report = {"subscribers": int(subscribers), "rate": float(rate), "size": int(size), "threads": int(threads),
          "backend": backend, "runs": runs, "summary": summary, "ratios": {}}
for name in servers:
    if name != "surge-push":
        ratio = round(surge / summary[name]["deliveries_per_cpu_second_median"], 3)
        report["ratios"]["surge_vs_" + name] = ratio
        print("surge-push deliveries per server-CPU-second / %s: %.3f" % (name, ratio))
if path:
    json.dump(report, open(path, "w"), indent=2)
PY
