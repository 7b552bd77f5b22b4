#!/usr/bin/env bash
# The echo benchmark: surge-echo on each reactor backend (and optionally a peer server) against the same load
# generator, one server at a time, and each server's messages per server-CPU-second. The server is pinned to CPU 0
# and the generator (surge-load, one thread) to CPU 1; the server's CPU time (utime + stime, every thread) is read
# from /proc over the measured window, and so are the times it slept (voluntary context switches), reported per
# message: a server that is not saturated is woken about once per message, which bench/wake-cost prices. Two loads: saturated (--mode echo: every connection sends its next message
# when the echo of the last arrives) and, with --rate, a rate-limited one (--mode rate: R messages/s in all, for
# a server that is not saturated, the normal state of a production server).
# The machine is shared and noisy, so the servers take turns, --repeat times (default 3), and the ratios are of the
# medians. A peer COMMAND may contain {port}; it must echo every message of ws://127.0.0.1:{port}/ back.
# --wait-batch N:US adds surge-echo on each backend with --wait-batch N --wait-batch-us US to the turns (named
# ...-batch), so that the default and the batched server are measured side by side.
# --load-test PATH makes uWebSockets' own generator (its benchmarks/load_test, built outside this repository) the
# load instead of surge-load: saturated only (it has no rate), each connection sending its next message when the
# echo of the last arrives; bench/load_test_window.py reads its reports and the server's CPU over the same seconds
# (--duration is rounded to its 4-second reports).
# --pipeline N: with surge-load, saturated, each connection keeps N messages in flight instead of one (a client
# that sends without waiting for each answer, so that a server read finds several).
#
# Usage: bench/echo.sh [--connections N[,N...]] [--size B] [--duration S] [--warmup S] [--repeat N] [--rate R]
#                      [--wait-batch N:US] [--load-test PATH] [--pipeline N] [--peer 'COMMAND'] [--peer-name NAME]
#                      [--client-backend B] [--build DIR] [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
connections=100,1000
size=20
duration=8
warmup=2
repeat=3
rate=""
peer=""
peer_name=peer
client_backend=epoll
wait_batch=""
load_test=""
pipeline=1
json=""
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --connections) connections=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --warmup) warmup=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --peer) peer=$2; shift 2 ;;
        --peer-name) peer_name=$2; shift 2 ;;
        --client-backend) client_backend=$2; shift 2 ;;
        --wait-batch) wait_batch=$2; shift 2 ;;
        --load-test) load_test=$2; shift 2 ;;
        --pipeline) pipeline=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "echo.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-echo bench/surge-load
echo_bin=$build/tools/surge-echo
load=$build/bench/surge-load
[ "$(nproc)" -ge 2 ] || { echo "echo.sh: needs two CPUs (server and generator pinned apart)" >&2; exit 2; }
if [ -n "$wait_batch" ] && ! [[ $wait_batch =~ ^[0-9]+:[0-9]+$ ]]; then
    echo "echo.sh: --wait-batch takes N:US (completions and microseconds: 16:200), not '$wait_batch'" >&2; exit 2
fi
if [ -n "$load_test" ]; then
    [ -x "$load_test" ] || { echo "echo.sh: --load-test $load_test is not an executable" >&2; exit 2; }
    [ -z "$rate" ] || { echo "echo.sh: --load-test has no rate-limited mode; leave out --rate" >&2; exit 2; }
fi
if ! [[ $pipeline =~ ^[0-9]+$ ]] || [ "$pipeline" -lt 1 ]; then
    echo "echo.sh: --pipeline takes a count of messages in flight per connection (1 or more), not '$pipeline'" >&2
    exit 2
fi
if [ "$pipeline" -gt 1 ] && { [ -n "$load_test" ] || [ -n "$rate" ]; }; then
    echo "echo.sh: --pipeline is for surge-load's saturated echo: leave out --load-test and --rate" >&2; exit 2
fi
generator_name=${load_test:+uWebSockets load_test}
generator_name=${generator_name:-surge-load}

# run NAME PORT N COMMAND...: one measured run with N connections against a server started by COMMAND.
results=()
run() {
    local name=$1 port=$2 n=$3 cpu sleeps
    shift 3
    SURGE_LOG=warn taskset -c 0 "$@" >"$work/$name.log" 2>&1 &
    local server=$!
    pids+=("$server")
    wait_port "$port" || { echo "$name did not start:"; cat "$work/$name.log"; exit 1; }
    if [ -n "$load_test" ]; then
        # Reports every 4 s: the window is the whole ones that fit in --duration, after the first.
        python3 "$root/bench/load_test_window.py" "$load_test" "$server" "$port" "$n" "$size" \
            "$(( duration / 4 > 0 ? duration / 4 : 1 ))" "$work/$name.json" 1 >"$work/$name.load.log" 2>&1 ||
            { echo "$name: the generator failed"; cat "$work/$name.load.log"; exit 1; }
        read -r cpu sleeps < <(python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))
print(r["server_cpu_per_second"], r["server_sleeps_per_second"])' "$work/$name.json")
    else
        local mode=(--mode echo --pipeline "$pipeline")
        [ -n "$rate" ] && mode=(--mode rate --rate "$rate/total")
        taskset -c 1 "$load" "ws://127.0.0.1:$port/" "${mode[@]}" --connections "$n" --threads 1 --size "$size" \
            --duration "$duration" --warmup "$warmup" --client-backend "$client_backend" \
            --json "$work/$name.json" >"$work/$name.load.log" 2>&1 &
        local generator=$!
        pids+=("$generator")
        # The window: from the end of the warm-up (plus the connections' ramp) to the end of the measured seconds.
        sleep "$warmup"
        read -r cpu sleeps < <(cpu_and_sleeps_per_second "$server" "$((duration - 1))")
        wait "$generator" || { echo "$name: the generator failed"; cat "$work/$name.load.log"; exit 1; }
    fi
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    results+=("$(python3 - "$work/$name.json" "$name" "$n" "$cpu" "$sleeps" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
name, n = sys.argv[2], int(sys.argv[3])
cpu, sleeps = float(sys.argv[4]), float(sys.argv[5])
rate = r["messages_per_second"]
# load_test reports neither latency nor errors (it stops at an echo of the wrong length, failing the run).
latency = {k: r["latency_us"][k] for k in ("p50", "p99")} if "latency_us" in r else {"p50": 0, "p99": 0}
print(json.dumps({"server": name, "connections": n, "messages_per_second": round(rate),
                  "server_cpu_per_second": round(cpu, 4),
                  "messages_per_cpu_second": round(rate / cpu) if cpu > 0 else None,
                  "server_sleeps_per_message": round(sleeps / rate, 3) if rate > 0 else None,
                  "latency_us": latency, "errors": sum(r.get("errors", {}).values())}))
PY
)")
    python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("   %(server)s, %(connections)d connections: %(messages_per_second)d messages/s, server CPU %(server_cpu_per_second).3f s/s, %(messages_per_cpu_second)s messages per CPU-second, %(server_sleeps_per_message)s server sleeps per message, p50 %(p50).0f us, p99 %(p99).0f us, %(errors)d errors" % {**r, **r["latency_us"]})' "${results[-1]}"
}

for n in ${connections//,/ }; do
    for round in $(seq "$repeat"); do
        echo "-- $n connections, round $round of $repeat${rate:+, $rate messages/s in all}"
        # Each round starts with the next server, so that none always runs right after another (see fanout.sh).
        servers=(io_uring epoll)
        [ -n "$wait_batch" ] && servers+=(io_uring-batch epoll-batch)
        [ -n "$peer" ] && servers+=(peer)
        for i in $(seq 0 $((${#servers[@]} - 1))); do
            which=${servers[$(( (i + round - 1) % ${#servers[@]} ))]}
            port=$(free_port)
            if [ "$which" = peer ]; then
                run "$peer_name" "$port" "$n" bash -c "exec ${peer//\{port\}/$port}"
            else
                batch=()
                [[ $which == *-batch ]] && batch=(--wait-batch "${wait_batch%%:*}" --wait-batch-us "${wait_batch##*:}")
                run "surge-echo-$which" "$port" "$n" "$echo_bin" --port "$port" --threads 1 \
                    --backend "${which%-batch}" "${batch[@]}" --idle-timeout 0
            fi
        done
    done
done

python3 - "$json" "$size" "${rate:-0}" "$client_backend" "$generator_name" "$wait_batch" "$pipeline" \
    "${results[@]}" <<'PY'
import json, statistics, sys
path, size, rate, client_backend, generator, wait_batch, pipeline = sys.argv[1:8]
runs = [json.loads(a) for a in sys.argv[8:]]
servers = list(dict.fromkeys(r["server"] for r in runs))
report = {"size": int(size), "rate": float(rate), "client_backend": client_backend, "generator": generator,
          "wait_batch": wait_batch, "pipeline": int(pipeline), "runs": runs, "by_connections": {}}
for n in dict.fromkeys(r["connections"] for r in runs):
    summary = {}
    load = "saturated" if float(rate) == 0 else "%s messages/s in all" % rate
    if int(pipeline) > 1:
        load += ", %s in flight per connection" % pipeline
    print("== %d connections, %s, generator %s" % (n, load, generator))
    for name in servers:
        mine = [r for r in runs if r["server"] == name and r["connections"] == n]
        summary[name] = {
            "messages_per_cpu_second_median": statistics.median(r["messages_per_cpu_second"] for r in mine),
            "messages_per_second_median": statistics.median(r["messages_per_second"] for r in mine),
            "server_cpu_per_second_median": statistics.median(r["server_cpu_per_second"] for r in mine),
            "server_sleeps_per_message_median": statistics.median(r["server_sleeps_per_message"] for r in mine),
            "errors": sum(r["errors"] for r in mine),
        }
        s = summary[name]
        print("%-20s median of %d: %d messages per server-CPU-second, %d messages/s, server CPU %.3f s/s, "
              "%.2f server sleeps per message"
              % (name, len(mine), s["messages_per_cpu_second_median"], s["messages_per_second_median"],
                 s["server_cpu_per_second_median"], s["server_sleeps_per_message_median"]))
    ratios = {}
    for mine in (s for s in servers if s.startswith("surge-echo")):
        for other in servers:
            if other.startswith("surge-echo"):
                continue
            key = "%s_vs_%s" % (mine, other)
            ratios[key] = round(summary[mine]["messages_per_cpu_second_median"] /
                                summary[other]["messages_per_cpu_second_median"], 3)
            print("%s / %s: %.3f" % (mine, other, ratios[key]))
    report["by_connections"][str(n)] = {"summary": summary, "ratios": ratios}
if path:
    json.dump(report, open(path, "w"), indent=2)
PY
