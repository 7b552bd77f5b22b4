#!/usr/bin/env bash
# The HTTP publishing benchmark: surge-push (one shard, pinned to CPU 0) takes POST /publish/bench from surge-load
# --mode publish (pinned to CPU 1) two ways, one after the other in each round: a new connection per POST
# ("Connection: close"), and HTTP/1.1 keep-alive (each publisher thread keeps its connection). The load is open
# loop at a rate above what either reaches, so each run shows the most it sustains: publishes/s, and publishes per
# server-CPU-second (utime + stime over the measured window, from /proc). The machine is shared and noisy, so the
# two take turns (--repeat rounds, the first of each round alternating) and the ratio is of the medians.
#
# Usage: bench/publish.sh [--threads N] [--size B] [--rate R] [--duration S] [--warmup S] [--repeat N]
#                         [--build DIR] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=4
size=64
rate=200000
duration=6
warmup=2
repeat=3
json=""
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --threads) threads=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "publish.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-push bench/surge-load
[ "$(nproc)" -ge 2 ] || { echo "publish.sh: needs two CPUs (server and generator pinned apart)" >&2; exit 2; }

results=()
run() {  # run NAME [surge-load flags...]: one measured run against a fresh surge-push
    local name=$1
    shift
    local port
    port=$(free_port)
    SURGE_LOG=warn taskset -c 0 "$build/tools/surge-push" --port "$port" --threads 1 --max-per-address 0 \
        >"$work/$name.log" 2>&1 &
    local server=$!
    pids+=("$server")
    wait_port "$port" || { echo "surge-push did not start:"; cat "$work/$name.log"; exit 1; }
    taskset -c 1 "$build/bench/surge-load" "http://127.0.0.1:$port/publish/bench" --mode publish \
        --rate "$rate/total" --threads "$threads" --size "$size" --duration "$duration" --warmup "$warmup" "$@" \
        --json "$work/$name.json" >"$work/$name.load.log" 2>&1 &
    local generator=$!
    pids+=("$generator")
    sleep "$warmup"
    local cpu
    cpu=$(cpu_per_second "$server" "$((duration - 1))")
    wait "$generator" || { echo "$name: the generator failed"; cat "$work/$name.load.log"; exit 1; }
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    results+=("$(python3 - "$work/$name.json" "$name" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = float(sys.argv[3])
rate = r["sent_per_second"]  # POSTs answered 2xx: each one published
print(json.dumps({"way": sys.argv[2], "publishes_per_second": round(rate), "server_cpu_per_second": round(cpu, 4),
                  "publishes_per_cpu_second": round(rate / cpu) if cpu > 0 else None,
                  "connections_opened": r["connections_opened"], "errors": sum(r["errors"].values())}))
PY
)")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("   %(way)s: %(publishes_per_second)d publishes/s, server CPU %(server_cpu_per_second).3f s/s, %(publishes_per_cpu_second)s per CPU-second, %(connections_opened)d connections, %(errors)d errors" % r)' "${results[-1]}"
}

for round in $(seq "$repeat"); do
    echo "-- round $round of $repeat"
    if [ $((round % 2)) = 1 ]; then
        run per-post; run keep-alive --keep-alive
    else
        run keep-alive --keep-alive; run per-post
    fi
done

python3 - "$json" "${results[@]}" <<'PY'
import json, statistics, sys
path = sys.argv[1]
runs = [json.loads(a) for a in sys.argv[2:]]
summary = {}
for way in ("per-post", "keep-alive"):
    mine = [r for r in runs if r["way"] == way]
    summary[way] = {k + "_median": statistics.median(r[k] for r in mine)
                    for k in ("publishes_per_second", "publishes_per_cpu_second", "server_cpu_per_second")}
    summary[way]["errors"] = sum(r["errors"] for r in mine)
    s = summary[way]
    print("%-10s median of %d: %d publishes/s, %d per server-CPU-second, server CPU %.3f s/s, %d errors"
          % (way, len(mine), s["publishes_per_second_median"], s["publishes_per_cpu_second_median"],
             s["server_cpu_per_second_median"], s["errors"]))
ratios = {k: round(summary["keep-alive"][k + "_median"] / summary["per-post"][k + "_median"], 3)
          for k in ("publishes_per_second", "publishes_per_cpu_second")}
print("keep-alive / per-post: %.3f publishes/s, %.3f per server-CPU-second"
      % (ratios["publishes_per_second"], ratios["publishes_per_cpu_second"]))
if path:
    json.dump({"runs": runs, "summary": summary, "ratios": ratios}, open(path, "w"), indent=2)
PY
