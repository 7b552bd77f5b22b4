#!/usr/bin/env bash
# Where io_uring cannot be set up: `--backend io_uring` refuses to start and says why, and `--backend auto` runs
# on epoll, says why in its start-up log, and serves a real client.
# Usage: fallback_without_io_uring.sh WITHOUT_IO_URING SURGE_ECHO CLIENT_COMMAND...
set -uo pipefail
wrapper=$1
echo_bin=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT

if timeout 10 "$wrapper" "$echo_bin" --port 0 --backend io_uring >"$log" 2>&1; then
    echo "FAIL: --backend io_uring started without io_uring"; cat "$log"; exit 1
fi
grep -q "io_uring unavailable: io_uring_setup: Operation not permitted" "$log" || {
    echo "FAIL: --backend io_uring did not say why it could not start"; cat "$log"; exit 1
}

source "$(dirname "$0")/../../tools/start_echo.sh"
SURGE_LOG=info start_echo "$log" "$wrapper" "$echo_bin" --port 0 --threads 2 --backend auto || exit 1
timeout 90 "$@" "ws://127.0.0.1:$port/echo"
client=$?
kill -INT "$server"
wait "$server"
server_status=$?
cat "$log"
grep -q "reactor backend: epoll (auto; io_uring is unavailable: io_uring_setup: Operation not permitted)" "$log" || {
    echo "FAIL: auto did not log that it fell back to epoll, and why"; exit 1
}
[ $client -eq 0 ] && [ $server_status -eq 0 ]
