# The sysctls a large number of loopback connections needs, raised (never lowered) by the benchmarks that hold
# many: bench/million.sh and bench/million_push.sh (sourced, not run). Needs root; says which it could not set.

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
# raise_for_connections N: what N loopback connections (both ends on this machine) need.
raise_for_connections() {
    local connections=$1
    [ "$connections" -gt 20000 ] || return 0  # below that, any default machine will do: leave its settings alone
    raise fs.file-max $(( connections * 3 + 100000 ))           # both ends' sockets, system-wide
    raise net.ipv4.ip_local_port_range "1024 65535"             # source ports per (source, destination) pair
    raise net.core.somaxconn 65535                              # accept queues during the ramp
    raise net.ipv4.tcp_max_syn_backlog 65535
    raise net.netfilter.nf_conntrack_max $(( connections * 2 + 100000 ))  # if loopback traffic is tracked at all
    raise vm.max_map_count 262144
}
