#!/usr/bin/env bash
# Installs from Debian's packages, and only what is missing, what surge needs:
#   setup-deps.sh --build   to build the library and the servers (tools/demo.sh; the `dist` preset)
#   setup-deps.sh           everything to build, test, fuzz and benchmark, and the Node test client's npm packages
#                           (tools/test.sh)
# so a fresh Debian 12 machine needs nothing by hand.
set -euo pipefail

case ${1:-} in
    --build) everything="" ;;
    "") everything=1 ;;
    *) echo "setup-deps.sh: unknown option '$1' (expected --build, or nothing for everything)" >&2; exit 2 ;;
esac

packages=(
    g++ cmake ninja-build pkg-config              # the build
    liburing-dev libssl-dev libmimalloc-dev zlib1g-dev
    libhiredis-dev                                # surge::redis: surge-push --redis
)
if [ -n "$everything" ]; then
    packages+=(
        git
        clang libclang-rt-14-dev                  # the fuzz preset: libFuzzer and clang's sanitizer runtimes
        openssl                                   # tests make their own TLS certificates
        libbenchmark-dev doctest-dev
        python3 python3-websockets                # reports, corpus generator, third-party client tests
        chromium                                  # surge-push's page, tested in a real (headless) browser
        nginx                                     # surge-push behind a proxy: the test starts its own on loopback
        systemd                                   # systemd-analyze verifies surge-push's unit file
        redis-server                              # the cluster tests start their own on loopback
    )
fi

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the Node `ws` client test; a machine that already has them (any version >= 18) keeps its own.
if [ -n "$everything" ]; then
    command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
    echo "surge: installing ${missing[*]}"
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "surge: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # Installing nginx or redis-server would start its service (port 80, 6379); the tests start their own. Where the machine has no
    # policy of its own, say "do not start services" for the length of the install.
    policy=/usr/sbin/policy-rc.d
    own_policy=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod 755 "$policy"
        own_policy=1
    fi
    status=0
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || status=$?
    if [ -n "$own_policy" ]; then $sudo rm -f "$policy"; fi
    [ "$status" -eq 0 ] || exit "$status"
fi

# The Node client's packages, pinned by tests/clients/node/package-lock.json.
root=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "$everything" ] && [ ! -d "$root/tests/clients/node/node_modules/ws" ]; then
    (cd "$root/tests/clients/node" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
