# Helpers the whole-server benchmarks share (sourced, not run): the binaries they need, free ports, waiting for a
# listener, a process's CPU time, a monotonic clock, and a scratch directory cleaned up with every process
# started. Needs python3, and $root (the checkout) and $build (where the binaries are) set before it is sourced.

# need_built PATH...: when any PATH (relative to $build) is missing, builds those targets (named as the files) in
# the release preset and points $build at its directory.
need_built() {
    local path missing=0 targets=()
    for path in "$@"; do
        [ -x "$build/$path" ] || missing=1
        targets+=("$(basename "$path")")
    done
    [ "$missing" = 0 ] && return 0
    echo "building (cmake --preset release) ..."
    (cd "$root" && cmake --preset release >/dev/null && cmake --build --preset release -j "$(nproc)" \
        --target "${targets[@]}" >/dev/null)
    build=$root/build/release
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Waits (at most 5 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
# CPU seconds (user + system, every thread) process PID has used so far.
cpu_seconds() {
    local ticks
    ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
    python3 -c "print($ticks / $(getconf CLK_TCK))"
}
now() { python3 -c 'import time; print(time.monotonic())'; }
# cpu_per_second PID SECONDS: sleeps SECONDS and prints the CPU seconds PID used per wall-clock second meanwhile
# (the benchmarks' server-CPU figure; read from /proc on both ends).
cpu_per_second() {
    local cpu sleeps
    read -r cpu sleeps < <(cpu_and_sleeps_per_second "$1" "$2")
    echo "$cpu"
}
# Times process PID has gone to sleep so far (voluntary context switches, every thread): a server that is not
# saturated sleeps and is woken about once per message, and each wake-up costs it CPU (bench/wake-cost).
sleeps_of() {
    cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}'
}
# cpu_and_sleeps_per_second PID SECONDS: cpu_per_second's figure, then the times PID slept per second meanwhile.
cpu_and_sleeps_per_second() {
    local cpu0 sleeps0 t0 cpu1 sleeps1 t1
    cpu0=$(cpu_seconds "$1") sleeps0=$(sleeps_of "$1") t0=$(now)
    sleep "$2"
    cpu1=$(cpu_seconds "$1") sleeps1=$(sleeps_of "$1") t1=$(now)
    python3 -c "d = $t1 - $t0; print(($cpu1 - $cpu0) / d, ($sleeps1 - $sleeps0) / d)"
}
# A scratch directory in $work, and $pids: every process started is added there, and all are ended (and the
# directory removed) when the script exits.
work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
