#!/usr/bin/env python3
"""SIGHUP reloads the certificate without dropping a connection: surge-echo serves certificate A; a WebSocket
client that trusts A stays connected; the files are replaced with certificate B and the server gets SIGHUP; then a
new client that trusts only B connects, one that trusts only A is refused by its own verification, and the first
client still echoes. A SIGHUP with unusable files keeps B in service. Run on one process and on --workers 2 (the
parent forwards the signal to every worker: each of several new connections must see B).

Usage: tls_reload_test.py SURGE_ECHO BACKEND   (exit 0 on success; every wait is bounded)
"""
import asyncio
import os
import pathlib
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import websockets

from test_support import check


ROOT = pathlib.Path(__file__).resolve().parents[2]


def make_certificate(directory):
    os.makedirs(directory)
    subprocess.run(["bash", str(ROOT / "tools" / "make-test-cert.sh"), directory], check=True)
    return ssl.create_default_context(cafile=os.path.join(directory, "cert.pem"))


def start(binary, backend, served, *extra):
    server = subprocess.Popen([binary, "--port", "0", "--threads", "2", "--backend", backend, "--cert", os.path.join(served, "cert.pem"),
                               "--key", os.path.join(served, "key.pem"), *extra],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    for _ in range(50):
        line = server.stdout.readline()
        lines.append(line)
        if "wss://127.0.0.1:" in line:
            log = []
            threading.Thread(target=lambda: log.extend(server.stdout), daemon=True).start()
            return server, int(line.split("wss://127.0.0.1:")[1].split("/")[0]), log
        if not line:
            break
    server.kill()
    check(False, "surge-echo did not announce: " + "".join(lines))


async def echoes(ws, text):
    await ws.send(text)
    return await asyncio.wait_for(ws.recv(), 10) == text


async def scenario(server, port, log, served, trusts_a, trusts_b, b_dir, workers):
    url = f"wss://127.0.0.1:{port}/"
    async with websockets.connect(url, ssl=trusts_a, open_timeout=10) as before:
        check(await echoes(before, "before"), "a client that trusts A is served")
        for name in ("cert.pem", "key.pem"):
            shutil.copy(os.path.join(b_dir, name), os.path.join(served, name))
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while sum("reloaded" in line for line in log) < workers:
            check(time.monotonic() < deadline, "no reload logged: %s" % "".join(log))
            await asyncio.sleep(0.05)
        for n in range(4 * workers):  # connections spread over the shards (and workers): each has B
            async with websockets.connect(url, ssl=trusts_b, open_timeout=10) as after:
                check(await echoes(after, "after %d" % n), "a client that trusts B is served")
            try:
                async with websockets.connect(url, ssl=trusts_a, open_timeout=10):
                    check(False, "a client that trusts only A still connected after the reload")
            except ssl.SSLCertVerificationError:
                pass
        check(await echoes(before, "still here"), "the connection made before the reload is kept")
        # Unusable files: the reload fails, says so, and B stays.
        with open(os.path.join(served, "key.pem"), "w") as broken:
            broken.write("not a key\n")
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while sum("reload failed" in line for line in log) < workers:
            check(time.monotonic() < deadline, "no failed reload logged: %s" % "".join(log))
            await asyncio.sleep(0.05)
        async with websockets.connect(url, ssl=trusts_b, open_timeout=10) as after:
            check(await echoes(after, "after a failed reload"), "B is still served")


def main():
    binary, backend = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as directory:
        trusts_a = make_certificate(os.path.join(directory, "a"))
        trusts_b = make_certificate(os.path.join(directory, "b"))
        for workers in (1, 2):
            served = os.path.join(directory, "served%d" % workers)
            shutil.copytree(os.path.join(directory, "a"), served)
            server, port, log = start(binary, backend, served, *(["--workers", "2"] if workers == 2 else []))
            try:
                asyncio.run(scenario(server, port, log, served, trusts_a, trusts_b, os.path.join(directory, "b"),
                                     workers))
            finally:
                server.send_signal(signal.SIGTERM)
                try:
                    check(server.wait(15) == 0, "surge-echo exited with %s" % server.returncode)
                except subprocess.TimeoutExpired:
                    server.kill()
                    check(False, "surge-echo did not stop")
            print("reload on SIGHUP: ok with %d process%s" % (workers, "es" if workers > 1 else ""), flush=True)


if __name__ == "__main__":
    main()
