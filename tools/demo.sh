#!/usr/bin/env bash
# Builds the release preset and starts the demo: surge-push, the push server, on port 9001.
# Open http://127.0.0.1:9001/ in a browser (it subscribes to "news" and shows what arrives), then publish:
#   curl -d 'hello' http://127.0.0.1:9001/publish/news
# Ctrl-C stops it. Usage: tools/demo.sh [surge-push options, e.g. --port 9002 --threads 1 --token secret]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash tools/setup-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target surge-push
exec build/release/tools/surge-push "$@"
