#!/usr/bin/env bash
# Builds the release preset and starts the demo server: surge-echo on port 9001 (until the push server lands).
# Try it: python3 -m websockets ws://127.0.0.1:9001/   (or any WebSocket client); Ctrl-C stops it.
# Usage: tools/demo.sh [surge-echo options, e.g. --port 9002 --threads 1]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target surge-echo
exec build/release/tools/surge-echo "$@"
