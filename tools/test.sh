#!/usr/bin/env bash
# Builds and runs every test three times: the release build with -Werror, the ASan+UBSan build, and the TSan
# build (shards, stop() and defer() cross threads). Each runs the unit and integration suites, the third-party
# clients, the layer check and the fuzz corpus replays under ctest. Installs what is missing first.
# Usage: tools/test.sh        (README's test command; CI runs it too)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup-deps.sh
jobs=$(nproc)

for preset in ci asan tsan; do
    echo "== surge: build and test, preset $preset"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j "$jobs"
    ctest --preset "$preset" -j "$jobs"
done
