#!/usr/bin/env bash
# The million, reproducible: sets the sysctls a million loopback connections need, starts surge-echo with enough
# worker processes, and has surge-stress open, verify (one echoed message each), hold and close N connections
# (default 1,000,000), reporting ramp time, kernel memory and the server's user-space bytes per connection.
# Needs root for the sysctls (it only ever raises them, and says which it could not set). CI runs it with 5000.
#
# Why several processes on both sides: the per-process descriptor limit here is 20000 and cannot be raised, so
# the server runs one worker per 18000 connections (surge-echo --workers) and the client one process per 18000
# (surge-stress --procs). Why several source addresses: a 4-tuple needs a free port, and one source address
# has 64k of them per destination; surge-stress spreads over one address per 30000 connections.
#
# Usage: bench/million.sh [CONNECTIONS] [--json FILE] [--rate N] [--hold S] [--backend B] [--per-process N]
#                         [--build DIR]
set -euo pipefail
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

# raise NAME VALUE: sets a sysctl to VALUE unless it is already at least that (for a range, its width).
raise() {
    local name=$1 want=$2 path=/proc/sys/${1//.//}
    [ -e "$path" ] || return 0
    local have
    have=$(awk '{print ($2 != "" ? $2 - $1 : $1)}' "$path")
    local need
    need=$(echo "$want" | awk '{print ($2 != "" ? $2 - $1 : $1)}')
    if [ "$have" -lt "$need" ]; then
        if sysctl -qw "$name=$want" 2>/dev/null; then
            echo "sysctl $name = $want"
        else
            echo "warning: could not set $name to $want (have $(cat "$path")); run as root"
        fi
    fi
}
if [ "$connections" -gt 20000 ]; then  # below that, any default machine will do: leave its settings alone
    raise fs.file-max $(( connections * 3 + 100000 ))           # both ends' sockets, system-wide
    raise net.ipv4.ip_local_port_range "1024 65535"             # source ports per (source, destination) pair
    raise net.core.somaxconn 65535                              # accept queues during the ramp
    raise net.ipv4.tcp_max_syn_backlog 65535
    raise net.netfilter.nf_conntrack_max $(( connections * 2 + 100000 ))  # if loopback traffic is tracked at all
    raise vm.max_map_count 262144
fi

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
