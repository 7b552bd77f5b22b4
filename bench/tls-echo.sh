#!/usr/bin/env bash
# TLS echo throughput as a ratio of plain echo, measured in the same run: surge-echo served over ws:// and, with
# a certificate made for the run (--cert/--key), over wss://; surge-load --mode echo (N connections, each with
# one message in flight) against each. Reported per variant: messages per second and messages per server-CPU-
# second (utime + stime from /proc over the measured window); then wss:// as a ratio of ws://. The variants take
# turns, --repeat times (default 3), and the ratios are of the medians: the machine is shared and noisy.
# With --deflate both run with permessage-deflate (server --deflate shared, client --deflate on, text messages).
#
# Usage: bench/tls-echo.sh [--connections N] [--size B] [--duration S] [--warmup S] [--threads T]
#                          [--load-threads T] [--backend B] [--repeat N] [--deflate] [--build DIR] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
connections=100
size=32
duration=8
warmup=2
threads=1
load_threads=1
backend=auto
repeat=3
deflate=0
json=""
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --connections) connections=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --load-threads) load_threads=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --deflate) deflate=1; shift ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "tls-echo.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-echo bench/surge-load
echo_bin=$build/tools/surge-echo
load=$build/bench/surge-load
bash "$root/tools/make-test-cert.sh" "$work"
server_extra=() load_extra=()
if [ "$deflate" = 1 ]; then server_extra=(--deflate shared) load_extra=(--deflate on --text); fi

results=()
# run NAME SCHEME [SERVER FLAGS...]: one measured echo run.
run() {
    local name=$1 scheme=$2 port
    shift 2
    port=$(free_port)
    "$echo_bin" --port "$port" --threads "$threads" --backend "$backend" "${server_extra[@]}" "$@" \
        >"$work/$name.log" 2>&1 &
    local server=$!
    pids+=("$server")
    wait_port "$port" || { echo "$name: the server did not start"; cat "$work/$name.log"; exit 1; }
    "$load" "$scheme://localhost:$port/" --ca "$work/cert.pem" --mode echo --connections "$connections" \
        --threads "$load_threads" --size "$size" --duration "$duration" --warmup "$warmup" "${load_extra[@]}" \
        --json "$work/$name.json" >"$work/$name.load.log" 2>&1 &
    local client=$!
    pids+=("$client")
    sleep "$warmup"
    local cpu
    cpu=$(cpu_per_second "$server" "$duration")
    wait "$client" || { echo "$name: surge-load failed"; cat "$work/$name.load.log"; exit 1; }
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    results+=("$(python3 - "$work/$name.json" "$name" "$cpu" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
cpu = float(sys.argv[3])
rate = r["messages_per_second"]
print(json.dumps({"variant": sys.argv[2], "messages_per_second": round(rate),
                  "server_cpu_per_second": round(cpu, 4),
                  "messages_per_cpu_second": round(rate / cpu) if cpu > 0 else None,
                  "latency_us": {k: r["latency_us"][k] for k in ("p50", "p99")},
                  "errors": sum(r["errors"].values())}))
PY
)")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("   %(variant)-5s %(messages_per_second)d messages/s, server CPU %(server_cpu_per_second).3f s/s, %(messages_per_cpu_second)s messages per CPU-second, %(errors)d errors" % r)' "${results[-1]}"
}

echo "TLS echo: $connections connections x $size-byte messages, ${duration}s measured, server threads $threads," \
     "backend $backend, deflate $([ "$deflate" = 1 ] && echo on || echo off)"
for round in $(seq "$repeat"); do
    echo "-- round $round of $repeat"
    run ws ws
    run wss wss --cert "$work/cert.pem" --key "$work/key.pem"
done

python3 - "$json" "${results[@]}" <<'PY'
import json, statistics, sys
runs = [json.loads(a) for a in sys.argv[2:]]
summary = {}
for name in ("ws", "wss"):
    mine = [r for r in runs if r["variant"] == name]
    summary[name] = {k: statistics.median(r[k] for r in mine) for k in ("messages_per_second", "messages_per_cpu_second")}
    summary[name]["errors"] = sum(r["errors"] for r in mine)
    print("%-4s median of %d: %d messages/s, %d messages per server-CPU-second, %d errors"
          % (name, len(mine), summary[name]["messages_per_second"], summary[name]["messages_per_cpu_second"],
             summary[name]["errors"]))
ratios = {k: round(summary["wss"][k] / summary["ws"][k], 3) for k in ("messages_per_second", "messages_per_cpu_second")}
print("wss/ws: throughput %.3f, per server-CPU-second %.3f" % (ratios["messages_per_second"], ratios["messages_per_cpu_second"]))
if sys.argv[1]:
    json.dump({"runs": runs, "summary": summary, "ratios": ratios}, open(sys.argv[1], "w"), indent=2)
PY
