#!/usr/bin/env bash
# Starts surge-echo on a free port with the given backend, runs a client command against it (the URL is
# appended), stops the server with SIGINT, and fails if the client failed or the server did not exit cleanly.
# Usage: run_against_echo.sh SURGE_ECHO BACKEND CLIENT_COMMAND...
# SURGE_ECHO_FLAGS, when set, holds more flags for surge-echo (e.g. "--deflate shared").
set -uo pipefail
echo_bin=$1
backend=$2
shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
source "$(dirname "$0")/../../tools/start_echo.sh"
SURGE_LOG=warn start_echo "$log" "$echo_bin" --port 0 --threads 2 --backend "$backend" ${SURGE_ECHO_FLAGS:-} || exit 1
timeout 90 "$@" "ws://127.0.0.1:$port/echo"
client=$?
kill -INT "$server"
wait "$server"
server_status=$?
cat "$log"
[ $client -eq 0 ] && [ $server_status -eq 0 ]
