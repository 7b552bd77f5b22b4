#!/usr/bin/env bash
# The million, reproducible: sets the sysctls a million loopback connections need, starts surge-echo with enough
# worker processes, and has surge-stress open, verify (one echoed message each), hold and close N connections
# (default 1,000,000), reporting ramp time, kernel memory and the server's user-space bytes per connection.
# Needs root for the sysctls (it only ever raises them, and says which it could not set). CI runs it with 5000.
# Past 20,000 connections it runs in a network namespace of its own, whose established-connection hash is sized
# for the run (bench/sysctls.sh, in_own_netns: the machine's, sized at boot, would hang 8 sockets on a bucket).
#
# Why several processes on both sides: the per-process descriptor limit here is 20000 and cannot be raised, so
# the server runs one worker per 18000 connections (surge-echo --workers) and the client one process per 18000
# (surge-stress --procs). Why several source addresses: a 4-tuple needs a free port, and one source address
# has 64k of them per destination; surge-stress spreads over one address per 30000 connections.
#
# Usage: bench/million.sh [CONNECTIONS] [--json FILE] [--rate N] [--hold S] [--backend B] [--per-process N]
#                         [--build DIR]
set -euo pipefail
args=("$@")
root=$(cd "$(dirname "$0")/.." && pwd)
connections=1000000
json=""
rate=25000
hold=10
backend=auto
per_process=18000
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --json) json=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --hold) hold=$2; shift 2 ;;
        --backend) backend=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --per-process) per_process=$2; shift 2 ;;
        *) connections=$1; shift ;;
    esac
done
echo_bin=$build/tools/surge-echo
stress_bin=$build/tools/surge-stress
if [ ! -x "$echo_bin" ] || [ ! -x "$stress_bin" ]; then
    echo "building (cmake --preset release) ..."
    (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" \
        --target surge-echo surge-stress >/dev/null)
    echo_bin=$root/build/release/tools/surge-echo
    stress_bin=$root/build/release/tools/surge-stress
fi

workers=$(( (connections + per_process - 1) / per_process ))

source "$root/bench/sysctls.sh"
in_own_netns "$connections" "$0" "${args[@]}"
raise_for_connections "$connections"

log=$(mktemp)
server=""
cleanup() {
    [ -n "$server" ] && kill -INT "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -f "$log"
}
trap cleanup EXIT

source "$root/tools/start_echo.sh"
SURGE_LOG=warn start_echo "$log" "$echo_bin" --port 0 --address 127.0.0.1 --workers "$workers" --threads 1 \
    --backend "$backend" --idle-timeout 0 || { server=""; exit 1; }
echo "surge-echo: $workers workers on port $port ($(head -1 <(grep surge-echo "$log")))"
grep -E '^(MemTotal|MemAvailable|Slab)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
echo

status=0
"$stress_bin" "ws://127.0.0.1:$port/" --connections "$connections" --rate "$rate" \
    --procs "$workers" --in-flight 4000 --server-pid "$server" --hold "$hold" ${json:+--json "$json"} || status=$?
grep -E '^(MemAvailable|Slab)' /proc/meminfo | tr -s ' ' | tr '\n' ' '
echo
exit $status
