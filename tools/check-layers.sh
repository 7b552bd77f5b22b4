#!/usr/bin/env bash
# Fails when a layer includes a header from a layer above it: core <- net <- ws <- tools, bench; and when the
# library names one of its own headers without the surge/ prefix it is installed under (or names a non-library
# directory at all: the library's users have no tools/ or tests/).
# Run by ctest (layers.no_upward_includes). Usage: tools/check-layers.sh [repo root]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

status=0
check() {  # check LAYER FORBIDDEN-PREFIX...
    local layer=$1
    shift
    for above in "$@"; do
        # Library headers are named "surge/<layer>/..."; tools, bench and tests root-relative.
        local name=$above
        case $above in core | net | ws) name=surge/$above ;; esac
        if hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+[\"<]${name}/" "$layer" \
                  --include='*.hpp' --include='*.cpp' --include='*.h'); then
            echo "upward include: $layer/ must not include $above/:"
            echo "$hits"
            status=1
        fi
    done
}
check core net ws tools bench tests
check net ws tools bench tests
check ws tools bench tests

# Inside ws/, detail/ is the server's internals: the protocol code (codec, handshakes, the message layer, the
# client) never includes it; only the server's own front, server.cpp, does.
if hits=$(grep -nE "^[[:space:]]*#[[:space:]]*include[[:space:]]+[\"<]surge/ws/detail/" ws/*.hpp ws/*.cpp | grep -v '^ws/server\.cpp:'); then
    echo "ws/ protocol code must not include the server's internals (ws/detail/):"
    echo "$hits"
    status=1
fi

# Inside the library, every project header is named as users name it: surge/core/, surge/net/, surge/ws/.
if hits=$(grep -rnE "^[[:space:]]*#[[:space:]]*include[[:space:]]+[\"<](core|net|ws|tools|bench|tests)/" core net ws \
          --include='*.hpp' --include='*.cpp'); then
    echo "library include without the surge/ prefix it is installed under:"
    echo "$hits"
    status=1
fi

if [ $status -eq 0 ]; then echo "layers ok: core <- net <- ws <- tools, bench; ws/detail/ only from ws/server.cpp; includes as surge/..."; fi
exit $status
