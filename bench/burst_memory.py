#!/usr/bin/env python3
"""The server's memory through hostile bursts: surge-push's RSS before, during and a few seconds after each flood.

Floods, one after the other against one surge-push (release build, mimalloc, 2 shards):
  - pings: 4 connections that never read send 50,000 pings of 125 bytes each;
  - stalled POST bodies: N connections each send a POST head announcing 60,000 bytes and half of them, then stall;
  - subscriptions: N/3 connections each subscribe to 100 topics of 200 bytes (surge-push's default limit).
Every flood's connections are then closed, and RSS is read again after --settle seconds. A line per flood, and
--json FILE writes them. Loopback only; every wait is bounded.
Usage: bench/burst_memory.py SURGE_PUSH [--connections N] [--settle S] [--json FILE]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def masked(opcode, payload):
    """A client frame (mask key 0, so the payload is as given)."""
    head = bytes([0x80 | opcode])
    n = len(payload)
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload


def upgrade(port, path="/ws", receive_buffer=0):
    s = socket.socket()
    if receive_buffer:
        # Before connecting: shrinking it on an established connection makes Linux drop what the peer already
        # sent into the larger window, and the connection stalls in both directions (seen here, whatever the server).
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: " + KEY + b"\r\nSec-WebSocket-Version: 13\r\n\r\n")
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("no upgrade")
        got += chunk
    return s


def stalled_posts(port, n):
    head = b"POST /publish/news HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n" + b"b" * 30000
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(head)
        socks.append(s)
    return socks


def subscriptions(port, n, per_connection):
    socks = []
    for i in range(n):
        s = upgrade(port)
        for t in range(per_connection):
            s.sendall(masked(1, json.dumps({"subscribe": "t%05d-%03d-" % (i, t) + "x" * 190}).encode()))
        socks.append(s)
    time.sleep(1)
    return socks


def pings(port, connections, count):
    socks = []
    frame = masked(9, b"p" * 125) * 1000
    for _ in range(connections):
        s = upgrade(port, receive_buffer=4096)
        for _ in range(count // 1000):
            s.sendall(frame)
        socks.append(s)
    return socks


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("surge_push")
    parser.add_argument("--connections", type=int, default=3000)
    parser.add_argument("--settle", type=float, default=5.0)  # memory_return: up to two 2 s periods
    parser.add_argument("--json")
    args = parser.parse_args()
    port = free_port()
    server = subprocess.Popen([args.surge_push, "--port", str(port), "--threads", "2", "--max-per-address", "0"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              env={**os.environ, "SURGE_LOG": "warn"})
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        floods = [
            ("pings, 4 connections x 50,000 that never read their pongs", lambda: pings(port, 4, 50000)),
            ("stalled POST bodies, %d connections" % args.connections, lambda: stalled_posts(port, args.connections)),
            ("subscriptions, %d connections x 100 topics of 200 bytes" % (args.connections // 3),
             lambda: subscriptions(port, args.connections // 3, 100)),
        ]
        results = []
        for name, flood in floods:
            before = rss_kib(server.pid)
            socks = flood()
            time.sleep(1)
            during = rss_kib(server.pid)
            for s in socks:
                s.close()
            time.sleep(args.settle)
            after = rss_kib(server.pid)
            results.append({"flood": name, "rss_kib_before": before, "rss_kib_during": during, "rss_kib_after": after})
            print("%-62s RSS %7d KiB before, %7d KiB during, %7d KiB %gs after" % (name, before, during, after,
                                                                                 args.settle), flush=True)
        if args.json:
            json.dump(results, open(args.json, "w"), indent=2)
    finally:
        server.terminate()
        server.wait(15)


if __name__ == "__main__":
    sys.exit(main())
