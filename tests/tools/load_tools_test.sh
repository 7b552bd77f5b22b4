#!/usr/bin/env bash
# surge-load and surge-stress against real servers: surge-echo (both backends, ws:// and wss://, and --workers)
# and a Python `websockets` server (echo, and broadcast with HTTP publish). Each run's JSON report is checked: the
# counts that must be there are there, and nothing failed. Nothing here asserts on speed: that is bench/'s business.
# Usage: load_tools_test.sh SCENARIO BUILD_DIR PYTHON
#   SCENARIO: surge_echo.io_uring | surge_echo.epoll | python_echo | python_broadcast | stress_workers |
#             push_workers | fanout
set -uo pipefail
scenario=$1
build=$2
python=$3
here=$(cd "$(dirname "$0")" && pwd)
load=$build/bench/surge-load
stress=$build/tools/surge-stress
echo_bin=$build/tools/surge-echo
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -INT "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT
source "$here/../../tools/start_echo.sh"

# check FILE PYTHON_EXPRESSION...: each expression, over the report `r`, must hold.
check() {
    local file=$1
    shift
    "$python" - "$file" "$@" <<'PY' || exit 1
import json, sys
r = json.load(open(sys.argv[1]))
for expression in sys.argv[2:]:
    if not eval(expression, {"r": r}):
        sys.exit(f"failed: {expression}\nreport: {json.dumps(r, indent=1)}")
print(f"{sys.argv[1].rsplit('/', 1)[-1]}: {len(sys.argv) - 2} checks hold")
PY
}

# start_python MODE: starts the Python server; sets ws_port (and http_port for broadcast).
start_python() {
    "$python" "$here/python_ws_server.py" "$1" >"$work/py.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        ws_port=$(awk '$1 == "ws" {print $2}' "$work/py.log")
        http_port=$(awk '$1 == "http" {print $2}' "$work/py.log")
        [ -n "$ws_port" ] && { [ "$1" != broadcast ] || [ -n "$http_port" ]; } && return 0
        sleep 0.1
    done
    cat "$work/py.log"
    exit 1
}

no_errors='all(v == 0 for v in r["errors"].values())'
echo_checks=('r["messages_received"] > 1000' 'r["latency_us"]["samples"] > 1000' 'r["messages_per_second"] > 0'
             'r["latency_us"]["p50"] <= r["latency_us"]["p99"] <= r["latency_us"]["max"]' "$no_errors")

case $scenario in
surge_echo.io_uring | surge_echo.epoll)
    SURGE_LOG=warn start_echo "$work/echo.log" "$echo_bin" --port 0 --threads 2 --backend "${scenario#*.}" || exit 1
    pids+=("$server")
    timeout 60 "$load" "ws://127.0.0.1:$port/a" "ws://127.0.0.1:$port/b" --connections 40 --threads 2 \
        --duration 2 --warmup 1 --size 100 --json "$work/echo.json" || exit 1
    check "$work/echo.json" "${echo_checks[@]}" 'r["connections_opened"] == 40' 'r["mode"] == "echo"'
    # Eight in flight per connection: every echo comes back with its own send stamp.
    timeout 60 "$load" "ws://127.0.0.1:$port/" --pipeline 8 --connections 10 --duration 2 --warmup 1 \
        --json "$work/pipelined.json" || exit 1
    check "$work/pipelined.json" "${echo_checks[@]}" 'r["pipeline"] == 8' 'r["messages_unstamped"] == 0'
    # Open loop: 20 connections at 100 messages/s each is 2000/s; all of them come back, stamped.
    timeout 60 "$load" "ws://127.0.0.1:$port/" --mode rate --rate 100 --connections 20 --duration 2 --warmup 1 \
        --size 64 --text --json "$work/rate.json" || exit 1
    check "$work/rate.json" "$no_errors" 'r["messages_unstamped"] == 0' \
        '1000 < r["messages_per_second"] < 3000' 'r["latency_us"]["samples"] > 2000' \
        'r["sequence"]["checked"] >= r["messages_received"]' 'r["sequence"]["lost"] == 0' \
        'r["sequence"]["repeated"] == 0'
    # Sixteen in flight over wss://, both sides corking what a read answers into one record: every echo stamped.
    bash "$here/../../tools/make-test-cert.sh" "$work" || { echo "openssl could not make a test certificate"; exit 1; }
    SURGE_LOG=warn start_echo "$work/tls_echo.log" "$echo_bin" --port 0 --threads 1 --backend "${scenario#*.}" \
        --cert "$work/cert.pem" --key "$work/key.pem" || exit 1
    pids+=("$server")
    timeout 60 "$load" "wss://127.0.0.1:$port/" --ca "$work/cert.pem" --pipeline 16 --connections 10 --duration 2 \
        --warmup 1 --json "$work/pipelined_tls.json" || exit 1
    check "$work/pipelined_tls.json" "${echo_checks[@]}" 'r["pipeline"] == 16' 'r["messages_unstamped"] == 0'
    ;;
python_echo)
    start_python echo
    timeout 60 "$load" "ws://127.0.0.1:$ws_port/" --connections 10 --duration 2 --warmup 1 --json "$work/py.json" \
        || exit 1
    check "$work/py.json" "${echo_checks[@]}" 'r["connections_opened"] == 10'
    timeout 60 "$stress" "ws://127.0.0.1:$ws_port/" --connections 300 --procs 2 --sources 3 --hold 1 \
        --json "$work/stress.json" || exit 1
    check "$work/stress.json" 'r["target"] == 300' 'r["verified"] == 300' 'r["failed"] == 0'
    ;;
python_broadcast)
    start_python broadcast
    # Subscribers, and a publisher POSTing 50 stamped, numbered messages a second: every subscriber gets every
    # message, in order.
    timeout 60 "$load" "ws://127.0.0.1:$ws_port/" --mode subscribe --connections 20 --duration 3 --warmup 1 \
        --json "$work/sub.json" >"$work/sub.log" &
    subscriber=$!
    sleep 1.5
    timeout 60 "$load" "http://127.0.0.1:$http_port/publish" --mode publish --rate 50/total --size 40 \
        --duration 2 --warmup 0.5 --json "$work/pub.json" || exit 1
    wait $subscriber || exit 1
    check "$work/pub.json" "$no_errors" 'r["messages_sent"] > 50' 'r["mode"] == "publish"'
    check "$work/sub.json" "$no_errors" 'r["messages_received"] >= 20 * 50' 'r["messages_unstamped"] == 0' \
        'r["latency_us"]["samples"] == r["messages_received"] or r["latency_us"]["samples"] > 0' \
        'r["sequence"]["checked"] >= r["messages_received"]' 'r["sequence"]["lost"] == 0' \
        'r["sequence"]["repeated"] == 0' 'r["sequence"]["silent_connections"] == 0'
    # The stress tool's broadcast verification: every connection receives one published message.
    timeout 60 "$stress" "ws://127.0.0.1:$ws_port/" --connections 200 --procs 2 --verify broadcast \
        --publish "http://127.0.0.1:$http_port/publish" --hold 1 --json "$work/stress.json" || exit 1
    check "$work/stress.json" 'r["verified"] == 200' 'r["failed"] == 0' 'r["verify"] == "broadcast"'
    ;;
stress_workers)
    # The million script, small: 5000 connections over 2 server workers and 2 stress processes.
    bash "$here/../../bench/million.sh" 5000 --per-process 2500 --hold 1 --build "$build" --json "$work/m.json" \
        || exit 1
    check "$work/m.json" 'r["target"] == 5000' 'r["verified"] == 5000' 'r["failed"] == 0' \
        'r["dropped_while_held"] == 0' 'r["server_rss_kb"] > 0' 'r["server_bytes_per_connection"] > 0' \
        'r["procs"] == 2' 'all(k in r for k in ("ramp_seconds", "server_rss_kb", "server_bytes_per_connection"))'
    ;;
push_workers)
    # The million-push script, small: 4000 subscribers over 2 surge-push workers (on their hub) and 2 stress
    # processes; publication 1 alone, then 9 at 20/s. Every subscriber checks every publication: once, in order.
    # First the same against the send() loop (2 raw-fanout processes, a publication handed to both through pipes).
    bash "$here/../../bench/million_push.sh" 4000 --per-process 2000 --publications 10 --rate 20 --baseline \
        --build "$build" --json "$work/push.json" || exit 1
    check "$work/push.json" 'r["verified"] == 4000' 'r["failed"] == 0' 'r["dropped_while_held"] == 0' \
        'r["push"]["publications"] == 10' 'r["push"]["received"] == 40000 == r["push"]["expected"]' \
        'r["push"]["lost"] == 0' 'r["push"]["repeated"] == 0' 'r["push"]["silent"] == 0' \
        'r["push"]["complete"] == 4000' '0 < r["push"]["one_first_delivery_ns"] <= r["push"]["one_last_delivery_ns"]' \
        '0 < r["push"]["latency_p50_ns"] <= r["push"]["latency_p99_ns"] <= r["push"]["latency_max_ns"]' \
        'r["push"]["deliveries_per_second"] > 0' 'r["push"]["server_cpu_seconds"] > 0' \
        'r["baseline"]["push"]["received"] == 40000' 'r["baseline"]["push"]["lost"] == 0' \
        'r["baseline"]["push"]["repeated"] == 0' 'r["baseline"]["push"]["silent"] == 0' \
        'r["baseline"]["push"]["server_cpu_seconds"] > 0' \
        'all(v > 0 for v in r["vs_baseline"].values()) and len(r["vs_baseline"]) == 3'
    ;;
fanout)
    # The fan-out benchmark, small: 300 subscribers, both servers (raw-fanout and surge-push), one round at one
    # load. Every published message reaches every subscriber of both (the numbered-message check: none lost,
    # repeated or missing from a subscriber); the report has every figure and the ratio.
    bash "$here/../../bench/fanout.sh" --subscribers 300 --rate 20 --duration 2 --warmup 2 --repeat 1 \
        --build "$build" --json "$work/fanout.json" || exit 1
    check "$work/fanout.json" 'len(r["runs"]) == 2' 'all(x["errors"] == 0 for x in r["runs"])' \
        'all(x["connections_opened"] == 300 for x in r["runs"])' \
        'all(0.9 * 6000 <= x["deliveries_per_second"] <= 1.1 * 6000 for x in r["runs"])' \
        'all(x["deliveries_per_cpu_second"] > 0 and x["latency_us"]["p50"] > 0 for x in r["runs"])' \
        'all(x["sequence"]["checked"] > 0 and x["sequence"]["lost"] == 0 for x in r["runs"])' \
        'all(x["sequence"]["repeated"] == 0 and x["sequence"]["silent_connections"] == 0 for x in r["runs"])' \
        'r["by_rate"]["20"]["ratios"]["surge_vs_raw-send-loop"] > 0' 'r["surge_push_lost_nothing_uncounted"]' \
        '[x["server_dropped"] for x in r["runs"]] == [None, 0]'
    # --tls: subscribers over wss://, publishing to the admin listener; the peer is surge-push again, started through
    # the {port} {cert} {key} {admin} placeholders.
    peer="$build/tools/surge-push --port {port} --threads 1 --max-per-address 0 --cert {cert} --key {key}"
    bash "$here/../../bench/fanout.sh" --tls --subscribers 100 --rate 20 --duration 2 --warmup 2 --repeat 1 \
        --build "$build" --json "$work/fanout_tls.json" --peer-name surge-push-again \
        --peer "$peer --admin-address {admin}" || exit 1
    check "$work/fanout_tls.json" 'len(r["runs"]) == 2' 'all(x["errors"] == 0 for x in r["runs"])' \
        'all(x["connections_opened"] == 100 for x in r["runs"])' \
        'all(0.9 * 2000 <= x["deliveries_per_second"] <= 1.1 * 2000 for x in r["runs"])' \
        'all(x["sequence"]["checked"] > 0 and x["sequence"]["lost"] == 0 for x in r["runs"])' \
        '[x["server_dropped"] for x in r["runs"]] == [0, 0]' \
        'r["by_rate"]["20"]["ratios"]["surge_vs_surge-push-again"] > 0'
    ;;
*)
    echo "unknown scenario $scenario"
    exit 2
    ;;
esac
