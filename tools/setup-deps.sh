#!/usr/bin/env bash
# Installs, from Debian's packages, everything surge needs to build, test, fuzz and benchmark, and only what
# is missing. Run by tools/demo.sh and tools/test.sh, so a fresh Debian 12 machine needs nothing by hand.
set -euo pipefail

packages=(
    g++ cmake ninja-build pkg-config git          # the build
    clang libclang-rt-14-dev                      # the fuzz preset: libFuzzer and clang's sanitizer runtimes
    liburing-dev libssl-dev libmimalloc-dev zlib1g-dev
    libbenchmark-dev doctest-dev
    python3 python3-websockets                    # reports, corpus generator, third-party client tests
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "surge: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "surge: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
