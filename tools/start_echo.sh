# Sourced by the scripts that start surge-echo (client and load tool tests, bench scripts).
# start_echo LOG COMMAND...: starts COMMAND (surge-echo, possibly behind a wrapper, with --port 0) in the
# background with its output in LOG, and waits for the URL it logs. Sets `server` (its pid) and `port`; returns
# 1, after showing LOG and ending the server, if no URL came.
start_echo() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    server=$!
    port=""
    for _ in $(seq 100); do
        port=$(grep -oE 'wss?://127\.0\.0\.1:[0-9]+' "$log" | head -1 | cut -d: -f3)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "surge-echo did not start:"
    cat "$log"
    kill "$server" 2>/dev/null
    return 1
}
