#!/usr/bin/env python3
"""The compression case matrix Autobahn|Testsuite runs as 12.x and 13.x, with Python `websockets` as the client
(Autobahn itself needs Python 2 and is not installable here; this runs the same shape of cases, written afresh).

12.x: five kinds of data (JSON, a greyscale bitmap, human-readable text with umlauts, HTML, a PDF-like mix of
incompressible streams and text), each at 18 (message size, fragment size) pairs from 16 B to 128 KiB, with the
default offer (client_no_context_takeover; client_max_window_bits).
13.x: the JSON data at the same 18 pairs under seven offers: the server's context taken over or not, its window
unasked, 9 or 15, and three offers in one header.

Each case opens a connection, checks what was agreed, sends COUNT messages one at a time, each a slice of the
data continuing where the last ended (text sliced by characters, so always valid UTF-8), fragmented when the
case says, and checks that each echo has the type, length and SHA-1 of what was sent; then closes with 1000 and
expects 1000 back. Every case must pass.

Usage: python_compression_cases.py [--count N] [--data-dir DIR] [--only 12|13] MODE ws://127.0.0.1:PORT/path
  MODE: the server's --deflate (shared|dedicated); --count: messages per case (Autobahn sends 1000);
  --data-dir: read the five data sets from files there instead of generating them (json, bmp, txt, html, pdf)."""
import argparse
import asyncio
import hashlib
import random
import sys
import time

import websockets
from websockets.extensions import permessage_deflate as pmd

# (message size, fragment size; 0: one frame), as in 12.x/13.x.
SIZES = [(16, 0), (64, 0), (256, 0), (1024, 0), (4096, 0), (8192, 0), (16384, 0), (32768, 0), (65536, 0),
         (131072, 0), (8192, 256), (16384, 256), (32768, 256), (65536, 256), (131072, 256), (131072, 1024),
         (131072, 4096), (131072, 32768)]

# 13.x: each offer list is (server_no_context_takeover, server_max_window_bits or None), every offer also letting
# the server ask for client_no_context_takeover and a client window.
OFFERS_13 = [[(False, None)], [(True, None)], [(False, 9)], [(False, 15)], [(True, 9)], [(True, 15)],
             [(True, 9), (True, None), (False, None)]]


def generated_data():
    """Five deterministic data sets with the character of Autobahn's (sizes near theirs)."""
    rng = random.Random(12)
    names = ["Ärger", "Grüße", "naïve", "東京", "Zoë", "Łódź", "smith", "O'Brien", "data-🚀"]
    records = []
    while sum(len(r) for r in records) < 194_000:
        records.append('{"id":%d,"name":"%s","score":%.4f,"tags":["%s","%s"],"active":%s}' % (
            rng.randrange(10 ** 6), rng.choice(names), rng.random() * 100, rng.choice(names), rng.choice(names),
            "true" if rng.random() < 0.5 else "false"))
    json_text = "[" + ",\n".join(records) + "]"

    width = height = 512  # an 8-bit greyscale bitmap: smooth shading with noise, like a photograph
    header = b"BM" + (1078 + width * height).to_bytes(4, "little") + bytes(4) + (1078).to_bytes(4, "little")
    header += (40).to_bytes(4, "little") + width.to_bytes(4, "little") + height.to_bytes(4, "little")
    header += (1).to_bytes(2, "little") + (8).to_bytes(2, "little") + bytes(24)
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    pixels = bytearray(width * height)
    for y in range(height):
        for x in range(width):
            pixels[y * width + x] = (((x * y) >> 9) + (x >> 2) + rng.randrange(8)) & 0xFF
    bitmap = header + palette + bytes(pixels)

    words = ("Habe nun, ach! Philosophie, Juristerei und Medizin, und leider auch Theologie durchaus studiert, mit "
             "heißem Bemühn. Da steh ich nun, ich armer Tor! Und bin so klug als wie zuvor; heiße Magister, heiße "
             "Doktor gar Übermut Öde Ähre").split()
    lines = []
    while sum(len(line) + 1 for line in lines) < 180_000:
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randrange(4, 14))))
    prose = "\n".join(lines)

    rows = []
    while sum(len(r) for r in rows) < 260_000:
        rows.append('<tr class="row-%d"><td><a href="/item/%d">%s</a></td><td>%s</td></tr>\n' % (
            rng.randrange(4), rng.randrange(10 ** 5), rng.choice(names), rng.choice(words)))
    html = "<!DOCTYPE html><html><head><title>Table</title></head><body><table>\n" + "".join(rows) + \
           "</table></body></html>"

    pdf = bytearray(b"%PDF-1.4\n")
    while len(pdf) < 1_040_000:
        if rng.random() < 0.6:
            pdf += b"stream\n" + rng.randbytes(rng.randrange(2000, 20000)) + b"\nendstream\n"
        else:
            pdf += ("%d 0 obj << /Type /Page /Font /F%d >> endobj\n" % (
                rng.randrange(10 ** 4), rng.randrange(9))).encode() * rng.randrange(10, 60)
    return {"json": (json_text, False), "bmp": (bitmap, True), "txt": (prose.encode(), True),
            "html": (html, False), "pdf": (bytes(pdf), True)}


def file_data(directory):
    """Data sets read from files named *.json, *.bmp, *.txt, *.html, *.pdf in `directory`."""
    import pathlib
    found = {}
    for kind, binary in [("json", False), ("bmp", True), ("txt", True), ("html", False), ("pdf", True)]:
        paths = sorted(pathlib.Path(directory).glob("*." + kind))
        if not paths:
            raise SystemExit(f"--data-dir: no *.{kind} in {directory}")
        raw = paths[0].read_bytes()
        found[kind] = (raw if binary else raw.decode("utf-8"), binary)
    return found


def factories(offers):
    return [pmd.ClientPerMessageDeflateFactory(server_no_context_takeover=no_context,
                                               client_no_context_takeover=True,
                                               server_max_window_bits=bits,
                                               client_max_window_bits=True) for no_context, bits in offers]


def fragments(message, size):
    if size == 0:
        return message
    if isinstance(message, bytes):
        return [message[i:i + size] for i in range(0, len(message), size)]
    pieces, start = [], 0  # text: pieces of about `size` bytes, cut between characters
    while start < len(message):
        end = start + size
        while len(message[start:end].encode()) > size and end > start + 1:
            end -= max(1, (len(message[start:end].encode()) - size) // 4)
        pieces.append(message[start:end])
        start = end
    return pieces


async def run_case(url, mode, name, data, binary, size, fragment, offers, count):
    async with websockets.connect(url, extensions=factories(offers), compression=None, max_size=2 ** 24,
                                  open_timeout=10, close_timeout=10) as ws:
        if len(ws.extensions) != 1:
            return f"permessage-deflate not agreed ({ws.response_headers.get('Sec-WebSocket-Extensions')})"
        agreed = ws.extensions[0]
        if agreed.remote_no_context_takeover != (mode == "shared" or offers[0][0]):
            return f"server_no_context_takeover agreed as {agreed.remote_no_context_takeover}"
        if agreed.remote_max_window_bits != (offers[0][1] or 15):
            return f"server window {agreed.remote_max_window_bits}, offered {offers[0][1]}"
        at = 0
        for i in range(count):
            end = (at + size) % len(data)
            message = data[at:end] if end > at else data[at:] + data[:end]
            at = end
            wire = message if binary else message.encode()
            await ws.send(fragments(message, fragment))
            echo = await asyncio.wait_for(ws.recv(), 30)
            if isinstance(echo, bytes) != binary:
                return f"message {i}: the echo's type differs"
            echo_wire = echo if binary else echo.encode()
            if len(echo_wire) != len(wire) or hashlib.sha1(echo_wire).digest() != hashlib.sha1(wire).digest():
                return f"message {i}: the echo differs ({len(echo_wire)} bytes for {len(wire)})"
        await ws.close(1000)
    if ws.close_code != 1000:
        return f"closed with {ws.close_code}"
    return None


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--data-dir")
    parser.add_argument("--only", choices=["12", "13"])
    parser.add_argument("mode", choices=["shared", "dedicated"])
    parser.add_argument("url")
    args = parser.parse_args()
    data = file_data(args.data_dir) if args.data_dir else generated_data()

    cases = []
    if args.only != "13":
        for j, kind in enumerate(["json", "bmp", "txt", "html", "pdf"], 1):
            for i, (size, fragment) in enumerate(SIZES, 1):
                cases.append((f"12.{j}.{i}", kind, size, fragment, [(False, None)]))
    if args.only != "12":
        for j, offers in enumerate(OFFERS_13, 1):
            for i, (size, fragment) in enumerate(SIZES, 1):
                cases.append((f"13.{j}.{i}", "json", size, fragment, offers))

    failed = 0
    started = time.monotonic()
    for name, kind, size, fragment, offers in cases:
        payload, binary = data[kind]
        t0 = time.monotonic()
        try:
            why = await run_case(args.url, args.mode, name, payload, binary, size, fragment, offers, args.count)
        except Exception as error:  # a refused connection, a timeout, a close the client did not expect
            why = f"{type(error).__name__}: {error}"
        if why:
            failed += 1
            print(f"{name} FAILED ({kind}, {size} B, fragments {fragment}, offers {offers}): {why}", flush=True)
        elif args.count >= 100:
            print(f"{name} OK ({kind}, {size} B, fragments {fragment}) {1000 * (time.monotonic() - t0):.0f} ms",
                  flush=True)
    print(f"compression cases: {len(cases) - failed} of {len(cases)} OK, {args.count} messages each, "
          f"against --deflate {args.mode}, {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
