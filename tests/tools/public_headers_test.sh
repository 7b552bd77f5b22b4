#!/usr/bin/env bash
# Every header a user can include (the build's surge/ tree, what `cmake --install` copies) compiles on its own,
# as the first include of a file, with -Wall -Wextra -Wpedantic -Wshadow -Werror, with g++ and with clang++: a
# user's project with those flags must not fail inside surge's headers (clang's -Wshadow also flags a parameter
# named like a field, which g++'s does not). Usage: public_headers_test.sh BUILD_DIR   (exit 0 on success)
set -euo pipefail
include=$(cd "$1" && pwd)/include
compilers=()
for cxx in g++ clang++; do command -v "$cxx" >/dev/null && compilers+=("$cxx"); done
[ "${#compilers[@]}" -gt 0 ] || { echo "FAIL: neither g++ nor clang++"; exit 1; }
headers=$(cd "$include" && find -L surge -name '*.hpp' | sort)
[ -n "$headers" ] || { echo "FAIL: no headers under $include/surge"; exit 1; }
# check CXX HEADER: prints the first error, if any, and fails.
check() {
    local out
    if ! out=$(echo "#include <$2>" | "$1" -std=c++20 -Wall -Wextra -Wpedantic -Wshadow -Werror -I "$include" \
        -x c++ -fsyntax-only - 2>&1); then
        echo "FAIL: $1 $2"
        echo "$out" | head -5
        return 1
    fi
}
export -f check
export include
status=0
for cxx in "${compilers[@]}"; do
    echo "$headers" | xargs -P "$(nproc)" -I{} bash -c 'check "$0" "$1"' "$cxx" {} || status=1
done
[ "$status" = 0 ] && echo "public headers: $(echo "$headers" | wc -l) each compiled alone, clean, with ${compilers[*]}"
exit $status
