#!/usr/bin/env bash
# Starts surge-echo on a free port with the given backend, runs a client command against it (the URL is
# appended), stops the server with SIGINT, and fails if the client failed or the server did not exit cleanly.
# Usage: run_against_echo.sh SURGE_ECHO BACKEND CLIENT_COMMAND...
set -uo pipefail
echo_bin=$1
backend=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
SURGE_LOG=warn "$echo_bin" --port 0 --threads 2 --backend "$backend" >"$log" 2>&1 &
server=$!
port=""
for _ in $(seq 100); do
    port=$(grep -oE 'ws://127\.0\.0\.1:[0-9]+' "$log" | head -1 | cut -d: -f3)
    [ -n "$port" ] && break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "surge-echo did not start:" && cat "$log"
    kill "$server" 2>/dev/null
    exit 1
fi
timeout 90 "$@" "ws://127.0.0.1:$port/echo"
client=$?
kill -INT "$server"
wait "$server"
server_status=$?
cat "$log"
[ $client -eq 0 ] && [ $server_status -eq 0 ]
