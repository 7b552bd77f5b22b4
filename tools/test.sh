#!/usr/bin/env bash
# Builds and runs every test: the release build with -Werror, then the ASan+UBSan build. Each runs the unit
# tests, the layer check and the fuzz corpus replays under ctest. Installs what is missing first.
# Usage: tools/test.sh        (README's test command; CI runs it too)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup-deps.sh
jobs=$(nproc)

for preset in ci asan; do
    echo "== surge: build and test, preset $preset"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset" -j "$jobs"
    ctest --preset "$preset" -j "$jobs"
done
