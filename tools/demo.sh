#!/usr/bin/env bash
# The demo: installs what building surge needs (compiler, CMake, liburing, OpenSSL, mimalloc, zlib; nothing for
# the tests), builds surge-push alone in the `dist` preset and starts it on port 9001.
# Open http://127.0.0.1:9001/ in a browser (it subscribes to "news" and shows what arrives), then publish:
#   curl -d 'hello' http://127.0.0.1:9001/publish/news
# Ctrl-C stops it. Usage: tools/demo.sh [surge-push options, e.g. --port 9002 --threads 1 --token secret]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
echo "surge demo: checking the build's packages (compiler, CMake, liburing, OpenSSL, mimalloc, zlib)"
bash tools/setup-deps.sh --build
echo "surge demo: building surge-push (release, in build/dist)"
cmake --preset dist >/dev/null
cmake --build --preset dist --target surge-push
echo "surge demo: starting build/dist/tools/surge-push $*"
exec build/dist/tools/surge-push "$@"
