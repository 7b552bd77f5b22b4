#!/usr/bin/env bash
# Builds the release preset and runs the microbenchmarks, printing every result with its in-run baseline ratio.
# Usage: bench/run-micro.sh [extra Google Benchmark flags, e.g. --benchmark_filter=Unmask]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cmake --preset release >/dev/null
cmake --build build/release --target surge_microbench >/dev/null
build/release/bench/surge_microbench --benchmark_format=json --benchmark_repetitions=3 \
    --benchmark_report_aggregates_only=true "$@" | python3 bench/micro/ratios.py
