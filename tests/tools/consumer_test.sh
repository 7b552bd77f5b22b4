#!/usr/bin/env bash
# surge consumed as a user's project consumes it (tests/consumer): installed into a fresh prefix, then
#   1. find_package(surge CONFIG REQUIRED) + target_link_libraries(consumer PRIVATE surge::ws),
#   2. pkg-config --cflags --libs surge, with nothing else on the command line,
#   3. FetchContent (add_subdirectory underneath) from the source tree, which builds the library only.
# Each consumer is built with -Wall -Wextra -Wpedantic -Werror and run: it echoes one message through a
# surge::Server with a surge::Client; and the Redis broker's consumer (surge::redis, surge-redis.pc) is built and
# run each way too. Usage: consumer_test.sh BUILD_DIR SOURCE_DIR CXX   (exit 0 on success)
set -euo pipefail
build=$(cd "$1" && pwd) source=$(cd "$2" && pwd) cxx=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
consumer=$source/tests/consumer

step() { echo "== consumer: $*"; }
quiet() {  # quiet COMMAND...: its output only when it fails
    "$@" >"$work/log" 2>&1 || { local status=$?; cat "$work/log"; echo "FAIL ($status): $*"; exit 1; }
}
run_consumer() {  # run_consumer BINARY: it must exit 0 and say what it echoed
    local out
    out=$(timeout 30 "$1") || { echo "FAIL: $1 exited with $?: $out"; exit 1; }
    echo "$out"
    [[ $out == "surge "*": echoed 'hello from a consumer'" ]] || { echo "FAIL: unexpected output"; exit 1; }
}
run_redis_consumer() {  # run_redis_consumer BINARY
    test -x "$1" || { echo "FAIL: $1 was not built (no surge::redis?)"; exit 1; }
    local out
    out=$(timeout 30 "$1") || { echo "FAIL: $1 exited with $?: $out"; exit 1; }
    echo "$out"
}

step "cmake --install into a fresh prefix"
quiet cmake --install "$build" --prefix "$work/prefix"
test -f "$work/prefix/include/surge/ws/server.hpp" -a -f "$work/prefix/include/surge/version.hpp"
! test -e "$work/prefix/include/ws" || { echo "FAIL: headers installed outside include/surge/"; exit 1; }
# The installed headers are the API and nothing else: no internals (detail/, hiredis's glue: surge.pc's consumers
# have no hiredis), and every surge header one of them includes is installed too, so all compile from the prefix.
internal=$(find "$work/prefix/include/surge" -path '*/detail*'
          grep -rl '<hiredis/' "$work/prefix/include/surge" || true)
[ -z "$internal" ] || { echo "FAIL: internal headers installed: $internal"; exit 1; }
missing=$(cd "$work/prefix/include" && grep -ho '#include ["<]surge/[^">]*' -r surge | sed 's/#include .//' | sort -u |
    while read -r h; do test -f "$h" || echo "$h"; done)
[ -z "$missing" ] || { echo "FAIL: installed headers include headers that are not installed: $missing"; exit 1; }
(cd "$work/prefix/include" && find surge -name '*.hpp' | sort | sed 's/.*/#include <&>/') >"$work/all_headers.cpp"
quiet "$cxx" -std=c++20 -fsyntax-only -I "$work/prefix/include" "$work/all_headers.cpp"
echo "installed headers: $(wc -l <"$work/all_headers.cpp"), none internal, all compile from the prefix"

step "find_package(surge) from the prefix"
quiet cmake -S "$consumer" -B "$work/package" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_PREFIX_PATH="$work/prefix" \
    -DSURGE_FROM=package
quiet cmake --build "$work/package"
run_consumer "$work/package/consumer"
run_redis_consumer "$work/package/redis_consumer"

step "pkg-config --cflags --libs surge"
pc=$(find "$work/prefix" -name surge.pc)
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs surge)
echo "pkg-config: $flags"
quiet "$cxx" -Wall -Wextra -Wpedantic -Werror -I "$consumer" "$consumer/main.cpp" $flags -o "$work/consumer-pc"
run_consumer "$work/consumer-pc"
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs surge-redis)
quiet "$cxx" -Wall -Wextra -Wpedantic -Werror "$consumer/redis_main.cpp" $flags -o "$work/redis-consumer-pc"
run_redis_consumer "$work/redis-consumer-pc"

step "FetchContent from the source tree (the library alone is built)"
quiet cmake -S "$consumer" -B "$work/source" -G Ninja -DCMAKE_CXX_COMPILER="$cxx" -DSURGE_FROM=source \
    -DSURGE_SOURCE_DIR="$source"
quiet cmake --build "$work/source"
! test -e "$work/source/_deps/surge-build/tools/surge-push" || { echo "FAIL: tools built for a consumer"; exit 1; }
run_consumer "$work/source/consumer"
run_redis_consumer "$work/source/redis_consumer"
echo "consumer: all three ways work"
