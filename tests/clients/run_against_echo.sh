#!/usr/bin/env bash
# Starts surge-echo on a free port with the given backend, runs a client command against it (the URL is
# appended), stops the server with SIGINT, and fails if the client failed or the server did not exit cleanly.
# Usage: run_against_echo.sh SURGE_ECHO BACKEND CLIENT_COMMAND...
# SURGE_ECHO_FLAGS, when set, holds more flags for surge-echo (e.g. "--deflate shared").
# SURGE_ECHO_TLS=1 serves wss:// with a certificate for localhost and 127.0.0.1 made here, for this run only, and
# tells the clients to trust it: SSL_CERT_FILE (Python's default context) and NODE_EXTRA_CA_CERTS (Node).
set -uo pipefail
echo_bin=$1
backend=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log=$work/server.log
tls_flags=()
scheme=ws
if [ "${SURGE_ECHO_TLS:-0}" = 1 ]; then
    bash "$(dirname "$0")/../../tools/make-test-cert.sh" "$work" ||
        { echo "openssl could not make a test certificate"; exit 1; }
    tls_flags=(--cert "$work/cert.pem" --key "$work/key.pem")
    export SSL_CERT_FILE=$work/cert.pem NODE_EXTRA_CA_CERTS=$work/cert.pem
    scheme=wss
fi
source "$(dirname "$0")/../../tools/start_echo.sh"
# shellcheck disable=SC2086 # SURGE_ECHO_FLAGS is a list of flags
SURGE_LOG=warn start_echo "$log" "$echo_bin" --port 0 --threads 2 --backend "$backend" ${SURGE_ECHO_FLAGS:-} \
    "${tls_flags[@]}" || exit 1
timeout 90 "$@" "$scheme://127.0.0.1:$port/echo"
client=$?
kill -INT "$server"
wait "$server"
server_status=$?
cat "$log"
[ $client -eq 0 ] && [ $server_status -eq 0 ]
