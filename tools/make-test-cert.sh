#!/usr/bin/env bash
# Makes a self-signed P-256 certificate for localhost, 127.0.0.1 and ::1, valid two days, as DIR/cert.pem and
# DIR/key.pem: what the TLS tests and bench/tls-echo.sh serve with. Needs the openssl command (setup-deps.sh).
# Usage: tools/make-test-cert.sh DIR
set -euo pipefail
dir=$1
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
