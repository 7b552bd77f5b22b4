#!/usr/bin/env bash
# Builds the fuzz preset (clang, libFuzzer, ASan+UBSan) and runs every fuzz target for SECONDS each (default 60),
# starting from the committed corpus and dictionary. New inputs go to a scratch directory, not the repo: copy
# the interesting ones into tests/fuzz/corpus/<target>/ by hand. Exits non-zero on any finding.
# Usage: tools/fuzz.sh [SECONDS]
set -euo pipefail
seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$(nproc)" --target fuzz_upgrade_request fuzz_upgrade_response fuzz_frame_decoder fuzz_message_reader fuzz_chunked_body fuzz_push_command fuzz_resp_command >/dev/null

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for target in upgrade_request upgrade_response frame_decoder message_reader chunked_body push_command resp_command; do
    mkdir -p "$scratch/$target"
    echo "== fuzzing $target for ${seconds}s"
    (cd "$scratch" && "$root/build/fuzz/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -max_len=4096 \
        -dict="$root/tests/fuzz/$target.dict" -print_final_stats=1 "$scratch/$target" \
        "$root/tests/fuzz/corpus/$target" 2>&1 | grep -E "stat::number_of_executed_units|ERROR|SUMMARY|Done" || true)
    if ls "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* >/dev/null 2>&1; then
        echo "fuzz finding in $target:" && ls "$scratch"/crash-* "$scratch"/leak-* "$scratch"/timeout-* 2>/dev/null
        exit 1
    fi
done
