#!/usr/bin/env bash
# Idle memory per connection: starts surge-echo (release build, mimalloc), holds COUNT upgraded idle connections
# from another process, and reports the server's user-space bytes per connection (RSS with the connections held
# minus RSS before them, over COUNT) for each backend. Kernel socket memory is not in RSS; it is reported
# separately from /proc/net/sockstat for context.
# Usage: bench/idle-memory.sh [COUNT=15000]
set -euo pipefail
count=${1:-15000}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target surge-echo idle_holder >/dev/null
bin=build/release
source tools/start_echo.sh

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

for backend in io_uring epoll; do
    log=$(mktemp)
    SURGE_LOG=warn start_echo "$log" "$bin/tools/surge-echo" --port 0 --threads 2 --backend "$backend" \
        --idle-timeout 0 || exit 1
    sleep 0.2
    before=$(rss_kb "$server")
    holder_log=$(mktemp)
    "$bin/bench/idle_holder" "$port" "$count" 10 >"$holder_log" &
    holder=$!
    for _ in $(seq 600); do grep -q '^held' "$holder_log" && break; sleep 0.1; done
    sleep 1
    after=$(rss_kb "$server")
    held=$(awk '/^held/ {print $2}' "$holder_log")
    tcp_mem_pages=$(awk '/^TCP:/ {for (i = 1; i <= NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat)
    wait "$holder" || true
    kill -INT "$server"
    wait "$server" || true
    awk -v b="$backend" -v n="$held" -v before="$before" -v after="$after" -v pages="$tcp_mem_pages" 'BEGIN {
        printf "backend %s: %d idle connections, server RSS %d KiB -> %d KiB, %.0f bytes per connection " \
               "(kernel TCP memory now %d pages)\n", b, n, before, after, (after - before) * 1024 / n, pages }'
    rm -f "$log" "$holder_log"
done
