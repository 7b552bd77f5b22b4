#!/usr/bin/env bash
# tools/systemd/surge-push.service passes `systemd-analyze verify` with nothing said (an unknown key is only a
# warning there, so any output fails the test), with ExecStart pointed at this build's surge-push; and the options
# its ExecStart passes are ones surge-push takes (--token-file with a file it can read).
# Usage: systemd_unit_test.sh UNIT SURGE_PUSH   (exit 0 on success)
set -euo pipefail
unit=$1 push=$(realpath "$2")
command -v systemd-analyze >/dev/null || { echo "FAIL: no systemd-analyze (Debian: systemd)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -q '^ExecStart=/usr/local/bin/surge-push ' "$unit" || { echo "FAIL: ExecStart is not /usr/local/bin/surge-push"; exit 1; }
sed "s|/usr/local/bin/surge-push|$push|" "$unit" >"$work/surge-push.service"
status=0
said=$(systemd-analyze verify --man=no "$work/surge-push.service" 2>&1) || status=$?
if [ "$status" -ne 0 ] || [ -n "$said" ]; then
    echo "FAIL: systemd-analyze verify (status $status):"
    echo "$said"
    exit 1
fi
# The command line as systemd would run it (%d: the credentials directory), without SURGE_PUSH_ARGS: its options
# must parse (the token file is read while parsing), up to a --version that then ends the process.
echo "secret" >"$work/token"
line=$(sed -n 's|^ExecStart=/usr/local/bin/surge-push ||p' "$unit" | sed "s|%d|$work|; s|\$SURGE_PUSH_ARGS||")
# shellcheck disable=SC2086
if ! out=$(timeout 5 "$push" $line --port 0 --version 2>&1); then
    echo "FAIL: surge-push $line: $out"
    exit 1
fi
echo "surge-push.service: verified ($out)"
