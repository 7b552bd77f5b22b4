#!/usr/bin/env python3
"""The shipped servers' command lines: every mistake ends with status 2 and one line that names it (an unknown
option, a missing value, a bad value with what was expected, --cert without --key), and a SURGE_LOG that is not a
level is reported instead of ignored. Nothing here listens: each case fails before the server starts.

Usage: server_flags_test.py SURGE_PUSH SURGE_ECHO VERSION   (exit 0 on success)
"""
import os
import subprocess
import sys

from test_support import check


def run(binary, *args, env=None):
    done = subprocess.run([binary, *args], capture_output=True, text=True, timeout=10,
                          env={**os.environ, **(env or {})})
    return done.returncode, done.stderr


def main():
    push, echo, version = sys.argv[1], sys.argv[2], sys.argv[3]
    cases = [
        (("--frobnicate",), "unknown option --frobnicate"),
        (("--frobnicate", "1"), "unknown option --frobnicate"),
        (("--port",), "--port needs a value"),
        (("--port", "70000"), "bad value for --port: '70000' (expected a port, 0 to 65535)"),
        (("--backend", "kqueue"), "bad value for --backend: 'kqueue' (expected auto, io_uring or epoll)"),
        (("--deflate", "maybe"), "expected off, shared or dedicated"),
        (("--cert", "server.pem"), "--cert needs --key"),
        (("--key", "server.key"), "--key needs --cert"),
        (("--address", "localhost"), "bad value for --address: 'localhost' (expected an IPv4 or IPv6 address"),
        (("--trusted-proxies", "10.0.0.1/8"), "bad value for --trusted-proxies: '10.0.0.1/8' (expected comma-"),
        (("--trusted-proxies", "127.0.0.1,,::1"), "bad value for --trusted-proxies"),
        (("--wait-batch", "0"), "bad value for --wait-batch: '0' (expected completions, 1 to 4096)"),
        (("--wait-batch-us", "0"), "bad value for --wait-batch-us: '0' (expected microseconds, 1 to 100000)"),
        (("--wait-batch-us", "300"), "--wait-batch-us is the longest wait for a batch: it needs --wait-batch N"),
    ]
    for binary in (push, echo):
        name = os.path.basename(binary)
        for args, expected in cases:
            status, err = run(binary, *args)
            check(status == 2 and expected in err, "%s %s: %s %r" % (name, " ".join(args), status, err))
            check(err.count("\n") <= 2, "%s %s: a line or two, not the usage: %r" % (name, " ".join(args), err))
    for args, expected in [(("--max-subscriptions", "0"), "bad value for --max-subscriptions: '0'"),
                           (("--admin-address", "localhost"), "--admin-address: expected IP:PORT"),
                           (("--token-file", "/nonexistent/token"), "--token-file /nonexistent/token:"),
                           (("--redis", "rediss://redis.example:6380"), "--redis: rediss:// (TLS) is not supported"),
                           (("--redis", "http://127.0.0.1:6379"), "--redis: a Redis address is redis://"),
                           (("--redis", "redis://127.0.0.1:99999"), "--redis: the port in the Redis address"),
                           (("--redis", "redis://127.0.0.1/x"), "--redis: the database in the Redis address"),
                           (("--redis-prefix", ""), "bad value for --redis-prefix")]:
        status, err = run(push, *args)
        check(status == 2 and expected in err, "surge-push %s: %s %r" % (" ".join(args), status, err))
    status, err = run(echo, "--max-message", "x")
    check(status == 2 and "bad value for --max-message: 'x'" in err, "surge-echo --max-message x: %r" % err)
    # --help still prints the usage, to stdout, with status 0.
    done = subprocess.run([push, "--help"], capture_output=True, text=True, timeout=10)
    check(done.returncode == 0 and "--admin-address" in done.stdout, "surge-push --help")
    # --version says the project's version (CMakeLists.txt's project(), also surge::kVersion).
    for binary in (push, echo):
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=10)
        check(done.returncode == 0 and done.stdout == "%s %s\n" % (os.path.basename(binary), version),
              "--version: %r" % done.stdout)
    # A log level that is not one is said, once, at start-up.
    status, err = run(echo, "--frobnicate", env={"SURGE_LOG": "verbose"})
    check("SURGE_LOG=verbose is not a level" in err and status == 2, "SURGE_LOG=verbose: %r" % err)
    status, err = run(echo, "--frobnicate", env={"SURGE_LOG": "debug"})
    check("SURGE_LOG" not in err, "SURGE_LOG=debug is a level: %r" % err)
    print("server flags: ok", flush=True)


if __name__ == "__main__":
    main()
