# The sysctls a large number of loopback connections needs, raised (never lowered) by the benchmarks that hold
# many: bench/million.sh and bench/million_push.sh (sourced, not run), and the network namespace they run in.
# Needs root; says which it could not set.

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

# in_own_netns CONNECTIONS SCRIPT ARGS...: unless already inside one (SURGE_BENCH_NETNS set), runs SCRIPT ARGS in a
# network namespace of its own whose established-connection hash has a bucket for every socket of the run, then
# exits with its status; returns (and the caller goes on where it is) when it cannot, saying why.
# The kernel sizes that table once, at boot, from memory (262,144 buckets on this 24 GiB VM; see dmesg). On
# loopback both ends of a connection are in it, so a million connections hang 8 sockets on a bucket, and every
# segment received walks a chain: __inet_lookup_established was 9.6% of the machine's samples at 200,000
# subscribers. net.ipv4.tcp_child_ehash_entries (Linux 6.1) sizes the table of namespaces made afterwards; it is
# set back right after. A real server, with its clients elsewhere, has one socket per connection (thash_entries=
# on the kernel command line sizes the table at boot).
in_own_netns() {
    local connections=$1
    shift
    [ -n "${SURGE_BENCH_NETNS:-}" ] && return 0
    local knob=/proc/sys/net/ipv4/tcp_child_ehash_entries
    if [ ! -w "$knob" ] || ! command -v unshare >/dev/null || ! command -v ip >/dev/null; then
        echo "note: running in the machine's own network namespace (needs root, unshare, ip and Linux 6.1)"
        return 0
    fi
    local buckets=1
    while [ "$buckets" -lt $(( connections * 2 )) ] && [ "$buckets" -lt 16777216 ]; do buckets=$(( buckets * 2 )); done
    local previous status=0
    previous=$(cat "$knob")
    sysctl -qw net.ipv4.tcp_child_ehash_entries="$buckets"
    echo "a network namespace of the run's own, with $buckets established-connection hash buckets"
    SURGE_BENCH_NETNS=1 unshare --net bash -c 'ip link set lo up && exec bash "$@"' bash "$@" || status=$?
    sysctl -qw net.ipv4.tcp_child_ehash_entries="$previous"
    exit "$status"
}
