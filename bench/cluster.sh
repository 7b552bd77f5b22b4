#!/usr/bin/env bash
# The cluster benchmark: surge-push nodes on one Redis (--redis) against one surge-push alone, in one run.
#  - single: one surge-push, no broker; N subscribers (default 10,000) and the publisher on it;
#  - cluster: a redis-server of the run's own and two surge-push nodes on it; the subscribers are spread over the
#    two nodes (half each) and the publisher's POSTs alternate between them, so every publication crosses Redis
#    to reach half of its subscribers at least.
# Each run: surge-load --mode subscribe opens the subscriptions (format=raw, so the publisher's stamps and numbers
# are read back), surge-load --mode publish POSTs stamped, numbered messages at each --rate (messages per second
# over the whole run; default 10,20). Reported per setup and rate: deliveries per second, the CPU seconds per
# second of the surge-push processes (and of Redis beside them), deliveries per server-CPU-second (nodes alone,
# and nodes plus Redis), publish-to-delivery latency p50/p99, and the loss check (numbered messages lost,
# repeated, subscribers silent). For the cluster, what each publication cost Redis: its commands (EVALSHA and the
# PUBLISH inside it), the microseconds Redis spent in them, and the bytes in and out of Redis per publication,
# from INFO over the measured window. The setups take turns, --repeat times (default 3); figures are medians.
# First, the publish path's peak: POSTs as fast as 4 keep-alive connections can into one node, alone and through
# Redis (each publish is a round trip to Redis).
#
# Usage: bench/cluster.sh [--subscribers N] [--rate R[,R...]] [--duration S] [--warmup S] [--size B]
#                         [--threads T] [--repeat N] [--build DIR] [--json FILE]
# Needs redis-server and redis-cli (tools/setup-deps.sh installs them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
subscribers=10000
rates=10,20
duration=10
warmup=3
size=32
threads=1
repeat=3
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
        --repeat) repeat=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
for tool in redis-server redis-cli; do
    command -v "$tool" >/dev/null || { echo "cluster.sh: needs $tool (bash tools/setup-deps.sh installs it)" >&2; exit 1; }
done
source "$root/bench/lib.sh"
need_built tools/surge-push bench/surge-load
push=$build/tools/surge-push
load=$build/bench/surge-load

# cpu_of PID...: CPU seconds the processes have used so far, together.
cpu_of() {
    local total=0 pid
    for pid in "$@"; do total=$(python3 -c "print($total + $(cpu_seconds "$pid"))"); done
    echo "$total"
}
# redis_figures PORT: "<evalsha calls> <evalsha usec> <bytes in> <bytes out>" from Redis's INFO.
redis_figures() {
    redis-cli -p "$1" info all | python3 -c '
import sys
calls = usec = bytes_in = bytes_out = 0
for line in sys.stdin:
    line = line.strip()
    if line.startswith("cmdstat_evalsha:") or line.startswith("cmdstat_eval:"):
        fields = dict(f.split("=") for f in line.split(":", 1)[1].split(","))
        calls += int(fields["calls"]); usec += int(fields["usec"])
    elif line.startswith("total_net_input_bytes:"): bytes_in = int(line.split(":")[1])
    elif line.startswith("total_net_output_bytes:"): bytes_out = int(line.split(":")[1])
print(calls, usec, bytes_in, bytes_out)'
}

# start_redis LOG: a redis-server of the run's own, without persistence; sets redis_port and redis_pid.
start_redis() {
    redis_port=$(free_port)
    redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" >"$work/$1" 2>&1 &
    redis_pid=$!
    pids+=("$redis_pid")
    wait_port "$redis_port"
}

results=()
# run SETUP RATE: one measured run.
run() {
    local setup=$1 rate=$2 redis_port="" nodes=() node_pids=() redis_pid="" urls=() publish_urls=() port
    if [ "$setup" = cluster ]; then
        start_redis redis.log
        nodes=(1 2)
    else
        nodes=(1)
    fi
    for _ in "${nodes[@]}"; do
        port=$(free_port)
        local extra=()
        [ -n "$redis_port" ] && extra=(--redis "redis://127.0.0.1:$redis_port")
        # All the subscribers come from 127.0.0.1: no per-address limit here.
        "$push" --port "$port" --threads "$threads" --max-per-address 0 "${extra[@]}" >"$work/$setup.$port.log" 2>&1 &
        node_pids+=($!)
        pids+=($!)
        wait_port "$port"
        urls+=("ws://127.0.0.1:$port/ws?topics=fan&format=raw")
        publish_urls+=("http://127.0.0.1:$port/publish/fan")
    done
    echo "== $setup (${#nodes[@]} node(s)): $subscribers subscribers, $rate messages/s of $size bytes, ${duration}s measured"
    "$load" "${urls[@]}" --mode subscribe --connections "$subscribers" --threads 2 --duration "$duration" \
        --warmup "$warmup" --json "$work/$setup.sub.json" >"$work/$setup.sub.log" 2>&1 &
    local subscriber=$!
    pids+=("$subscriber")
    sleep 1
    # One publishing connection per node URL, the rate split over them: every node takes publishes.
    "$load" "${publish_urls[@]}" --mode publish --connections "${#nodes[@]}" --keep-alive \
        --rate "$rate/total" --size "$size" --duration "$((duration + warmup + 3))" --warmup 0 \
        >"$work/$setup.pub.log" 2>&1 &
    local publisher=$!
    pids+=("$publisher")
    sleep "$((warmup - 1))"
    local cpu0 redis_cpu0=0 t0 figures0="0 0 0 0" cpu1 redis_cpu1=0 t1 figures1="0 0 0 0"
    cpu0=$(cpu_of "${node_pids[@]}") t0=$(now)
    [ -n "$redis_pid" ] && redis_cpu0=$(cpu_of "$redis_pid") figures0=$(redis_figures "$redis_port")
    sleep "$duration"
    cpu1=$(cpu_of "${node_pids[@]}") t1=$(now)
    [ -n "$redis_pid" ] && redis_cpu1=$(cpu_of "$redis_pid") figures1=$(redis_figures "$redis_port")
    wait "$subscriber" || { echo "$setup: the subscribers failed"; cat "$work/$setup.sub.log"; exit 1; }
    kill "$publisher" "${node_pids[@]}" $redis_pid 2>/dev/null || true
    wait "$publisher" "${node_pids[@]}" $redis_pid 2>/dev/null || true
    results+=("$(python3 - "$work/$setup.sub.json" "$setup" "$rate" "$subscribers" "$cpu0" "$cpu1" "$t0" "$t1" \
        "$redis_cpu0" "$redis_cpu1" "$figures0" "$figures1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
setup = sys.argv[2]
rate, subs, cpu0, cpu1, t0, t1, rcpu0, rcpu1 = map(float, sys.argv[3:11])
f0, f1 = [list(map(int, a.split())) for a in sys.argv[11:13]]
seconds = t1 - t0
nodes_cpu = (cpu1 - cpu0) / seconds
redis_cpu = (rcpu1 - rcpu0) / seconds
deliveries = r["messages_per_second"]
out = {
    "setup": setup, "rate": rate,
    "deliveries_per_second": round(deliveries), "expected_per_second": round(subs * rate),
    "nodes_cpu_per_second": round(nodes_cpu, 4), "redis_cpu_per_second": round(redis_cpu, 4),
    "deliveries_per_cpu_second": round(deliveries / nodes_cpu) if nodes_cpu > 0 else None,
    "deliveries_per_cpu_second_with_redis": round(deliveries / (nodes_cpu + redis_cpu)) if nodes_cpu > 0 else None,
    "latency_us": {k: r["latency_us"][k] for k in ("p50", "p99", "max")},
    "sequence": r["sequence"], "errors": sum(r["errors"].values()),
}
publications = f1[0] - f0[0]
if publications > 0:
    out["redis_per_publication"] = {
        "publications": publications,
        "script_usec": round((f1[1] - f0[1]) / publications, 2),
        "bytes_in": round((f1[2] - f0[2]) / publications),
        "bytes_out": round((f1[3] - f0[3]) / publications),
    }
print(json.dumps(out))
PY
)")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("   %(deliveries_per_second)d deliveries/s (expected %(expected_per_second)d), nodes CPU %(nodes_cpu_per_second).3f s/s, Redis CPU %(redis_cpu_per_second).3f s/s, %(deliveries_per_cpu_second)s deliveries per node-CPU-second, latency p50 %(p50).0f us p99 %(p99).0f us; %(checked)d numbered: %(lost)d lost, %(repeated)d repeated, %(silent_connections)d silent" % {**r, **r["latency_us"], **r["sequence"]}); p=r.get("redis_per_publication"); p and print("   Redis per publication: %(script_usec).1f us in the script, %(bytes_in)d bytes in, %(bytes_out)d bytes out (%(publications)d publications)" % p)' "${results[-1]}"
}

# publish_peak SETUP: POSTs as fast as 4 keep-alive connections can to one node without subscribers, for 5 s:
# what a node takes alone, and through Redis (one round trip per publish); with Redis, its script time per call.
peaks=()
publish_peak() {
    local setup=$1 redis_port="" redis_pid="" port extra=() node figures0="0 0 0 0" figures1="0 0 0 0"
    if [ "$setup" = cluster ]; then
        start_redis redis.peak.log
        extra=(--redis "redis://127.0.0.1:$redis_port")
    fi
    port=$(free_port)
    "$push" --port "$port" --threads "$threads" --max-per-address 0 "${extra[@]}" >"$work/peak.$setup.log" 2>&1 &
    node=$!
    pids+=("$node")
    wait_port "$port"
    [ -n "$redis_port" ] && figures0=$(redis_figures "$redis_port")
    "$load" "http://127.0.0.1:$port/publish/peak" --mode publish --threads 4 --keep-alive \
        --rate 1000000/total --size "$size" --duration 5 --warmup 1 --json "$work/peak.$setup.json" \
        >"$work/peak.$setup.pub.log" 2>&1 || true
    [ -n "$redis_port" ] && figures1=$(redis_figures "$redis_port")
    kill "$node" $redis_pid 2>/dev/null || true
    wait "$node" $redis_pid 2>/dev/null || true
    peaks+=("$(python3 - "$work/peak.$setup.json" "$setup" "$figures0" "$figures1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
f0, f1 = [list(map(int, a.split())) for a in sys.argv[3:5]]
out = {"setup": sys.argv[2], "publishes_per_second": round(r["sent_per_second"]),  # answered 2xx
       "errors": sum(r["errors"].values())}
if f1[0] > f0[0]:
    out["redis_script_usec"] = round((f1[1] - f0[1]) / (f1[0] - f0[0]), 2)
print(json.dumps(out))
PY
)")
    echo "== publishing as fast as 4 keep-alive connections can, $setup: ${peaks[-1]}"
}

publish_peak single
publish_peak cluster

order=(single cluster)
for rate in ${rates//,/ }; do
    for round in $(seq "$repeat"); do
        echo "-- $rate messages/s, round $round of $repeat"
        for i in 0 1; do run "${order[$(( (i + round - 1) % 2 ))]}" "$rate"; done
    done
done

python3 - "$json" "$subscribers" "$size" "$threads" "${peaks[0]}" "${peaks[1]}" "${results[@]}" <<'PY'
import json, statistics, sys
path, subscribers, size, threads = sys.argv[1:5]
peaks = [json.loads(a) for a in sys.argv[5:7]]
runs = [json.loads(a) for a in sys.argv[7:]]
report = {"subscribers": int(subscribers), "size": int(size), "threads_per_node": int(threads), "runs": runs,
          "publish_peak": peaks, "by_rate": {}}
print("== publishes per second into one node (4 keep-alive connections, no subscribers): alone %d, through Redis "
      "%d (%.3f of alone; Redis's script %.1f us per publish)" % (peaks[0]["publishes_per_second"],
      peaks[1]["publishes_per_second"], peaks[1]["publishes_per_second"] / max(1, peaks[0]["publishes_per_second"]),
      peaks[1].get("redis_script_usec", 0)))
median = lambda rows, f: statistics.median(f(r) for r in rows)
for rate in dict.fromkeys(r["rate"] for r in runs):
    print("== %g messages/s to %s subscribers" % (rate, subscribers))
    summary = {}
    for setup in ("single", "cluster"):
        mine = [r for r in runs if r["setup"] == setup and r["rate"] == rate]
        s = summary[setup] = {
            "deliveries_per_second": median(mine, lambda r: r["deliveries_per_second"]),
            "deliveries_per_cpu_second": median(mine, lambda r: r["deliveries_per_cpu_second"]),
            "deliveries_per_cpu_second_with_redis": median(mine, lambda r: r["deliveries_per_cpu_second_with_redis"]),
            "redis_cpu_per_second": median(mine, lambda r: r["redis_cpu_per_second"]),
            "latency_us_p50": median(mine, lambda r: r["latency_us"]["p50"]),
            "latency_us_p99": median(mine, lambda r: r["latency_us"]["p99"]),
            "lost": sum(r["sequence"]["lost"] + r["sequence"]["repeated"] + r["sequence"]["silent_connections"]
                        for r in mine),
        }
        line = ("%-8s median of %d: %d deliveries/s, %d per node-CPU-second (%d with Redis's CPU), latency p50 %.0f us "
                "p99 %.0f us; lost/repeated/silent: %d" % (setup, len(mine), s["deliveries_per_second"],
                s["deliveries_per_cpu_second"], s["deliveries_per_cpu_second_with_redis"], s["latency_us_p50"],
                s["latency_us_p99"], s["lost"]))
        costs = [r["redis_per_publication"] for r in mine if "redis_per_publication" in r]
        if costs:
            s["redis_per_publication"] = {k: median(costs, lambda c: c[k]) for k in ("script_usec", "bytes_in", "bytes_out")}
            line += "; Redis per publication: %(script_usec).1f us, %(bytes_in)d bytes in, %(bytes_out)d out" % s["redis_per_publication"]
        print(line)
    ratios = {
        "cluster_vs_single_per_cpu_second": round(summary["cluster"]["deliveries_per_cpu_second"] /
                                                  summary["single"]["deliveries_per_cpu_second"], 3),
        "cluster_vs_single_latency_p50": round(summary["cluster"]["latency_us_p50"] / summary["single"]["latency_us_p50"], 2),
        "cluster_vs_single_latency_p99": round(summary["cluster"]["latency_us_p99"] / summary["single"]["latency_us_p99"], 2),
    }
    print("cluster / single: %(cluster_vs_single_per_cpu_second).3f deliveries per node-CPU-second, latency p50 "
          "x%(cluster_vs_single_latency_p50).2f, p99 x%(cluster_vs_single_latency_p99).2f" % ratios)
    report["by_rate"]["%g" % rate] = {"summary": summary, "ratios": ratios}
broken = [r for r in runs if r["sequence"]["checked"] == 0 or r["sequence"]["lost"] or r["sequence"]["repeated"]
          or r["sequence"]["silent_connections"]]
report["lost_nothing"] = not broken
if path:
    json.dump(report, open(path, "w"), indent=2)
for r in broken:
    print("FAILED: %s at %g messages/s: %s" % (r["setup"], r["rate"], r["sequence"]))
sys.exit(1 if broken else 0)
PY
