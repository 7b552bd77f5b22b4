#!/usr/bin/env python3
"""TLS checks against `surge-echo --cert --key` (run by run_against_echo.sh with SURGE_ECHO_TLS=1, which makes
the certificate and points SSL_CERT_FILE at it): the certificate verifies for 127.0.0.1; ALPN answers http/1.1
when it is offered among others; a session resumes, with a TLS 1.3 ticket and from TLS 1.2's session cache; 64
clients that handshake at once (past the server's per-iteration handshake bound) all get their echoes while an
established connection keeps echoing; a client that closes without close_notify ends only its own connection; and
64 messages in one TLS record are answered in order in a segment or two and in one record (the server's cork), not
one each, and corked echoes keep their order with a large frame, a pong and a close among them.
Usage: python_tls_client.py wss://127.0.0.1:PORT/path"""
import asyncio
import socket
import ssl
import struct
import sys
import urllib.parse

import websockets

UPGRADE = (b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")


def context(version=None, alpn=None):
    ctx = ssl.create_default_context()  # trusts SSL_CERT_FILE: the test's certificate
    if version:
        ctx.minimum_version = ctx.maximum_version = version
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def upgrade(host, port, ctx, session=None, ragged_eofs=True):
    """A raw TLS connection that completes the WebSocket upgrade; returns (socket, response head)."""
    raw = socket.create_connection((host, port), timeout=10)
    tls = ctx.wrap_socket(raw, server_hostname=host, session=session, suppress_ragged_eofs=ragged_eofs)
    tls.sendall(UPGRADE)
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = tls.recv(4096)
        if not chunk:
            raise SystemExit("the server closed during the upgrade")
        head += chunk
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"upgrade refused: {head[:60]!r}")
    return tls, head


def check_alpn_and_resumption(host, port):
    tls, _ = upgrade(host, port, context(alpn=["h2", "http/1.1"]))
    if tls.selected_alpn_protocol() != "http/1.1":
        raise SystemExit(f"ALPN chose {tls.selected_alpn_protocol()!r}, expected 'http/1.1'")
    tls.close()
    for name, version in [("TLS 1.3 ticket", ssl.TLSVersion.TLSv1_3), ("TLS 1.2 session cache", ssl.TLSVersion.TLSv1_2)]:
        ctx = context(version)
        first, _ = upgrade(host, port, ctx)
        session = first.session  # TLS 1.3 tickets arrive after the handshake: read with the 101 above
        first.close()
        second, _ = upgrade(host, port, ctx, session=session)
        if not second.session_reused:
            raise SystemExit(f"{name}: the session was not resumed")
        second.close()


def segments_in(sock):
    """Segments the kernel has received on `sock` (Linux tcp_info's tcpi_segs_in, at byte 140)."""
    return struct.unpack_from("I", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232), 140)[0]


def bytes_in(sock):
    """Bytes the kernel has received on `sock` (tcp_info's tcpi_bytes_received, at byte 128)."""
    return struct.unpack_from("Q", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232), 128)[0]


# What each TLS 1.3 record adds to its plaintext: a 5-byte header, the inner content type and AES-GCM's 16-byte tag.
RECORD_OVERHEAD = 5 + 1 + 16


def masked_text(payload):
    """A client's text frame (short payload) with a zero masking key, which leaves the payload as it is."""
    return masked(0x1, payload)


def masked(opcode, payload):
    """A client's final frame with a zero masking key (which leaves the payload as it is)."""
    if len(payload) < 126:
        length = bytes([0x80 | len(payload)])
    else:
        length = bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    return bytes([0x80 | opcode]) + length + b"\0\0\0\0" + payload


def read_frames_to_end(tls):
    """The server's frames until the end of the stream, as (opcode, payload); fails on an end without
    close_notify (the socket is wrapped with suppress_ragged_eofs=False)."""
    data = b""
    while True:
        try:
            chunk = tls.recv(65536)
        except ssl.SSLEOFError:
            raise SystemExit("the stream ended without close_notify")
        if not chunk:
            break
        data += chunk
    frames = []
    while data:
        length, at = data[1] & 0x7F, 2
        if length == 126:
            length, at = struct.unpack_from("!H", data, 2)[0], 4
        frames.append((data[0] & 0x0F, data[at:at + length]))
        data = data[at + length:]
    return frames


def check_cork(host, port):
    tls, _ = upgrade(host, port, context())
    tls.settimeout(10)
    messages = [f"m{i}".encode() for i in range(64)]
    if tls.version() != "TLSv1.3":
        raise SystemExit(f"the cork check counts TLS 1.3 records, and {tls.version()} was negotiated")
    before, bytes_before = segments_in(tls), bytes_in(tls)
    tls.sendall(b"".join(masked_text(m) for m in messages))  # one write: one record, one read at the server
    expected = b"".join(bytes([0x81, len(m)]) + m for m in messages)
    received = b""
    while len(received) < len(expected):
        chunk = tls.recv(65536)
        if not chunk:
            raise SystemExit("the server closed while answering the burst")
        received += chunk
    if received != expected:
        raise SystemExit("the burst's echoes came back different or out of order")
    segments = segments_in(tls) - before
    if segments > 4:  # a TLS 1.3 ticket or a bare acknowledgement may add one; 64 without the cork
        raise SystemExit(f"64 echoes of one read took {segments} segments")
    # The echoes are encrypted together: the bytes on the wire past their plaintext are one record's (tickets came
    # with the 101, before the count began); 64 records' if each echo were encrypted alone.
    records = (bytes_in(tls) - bytes_before - len(expected)) / RECORD_OVERHEAD
    if records > 2:
        raise SystemExit(f"64 echoes of one read came in {records:g} TLS records' worth of bytes")
    tls.close()
    return segments, records


def check_cork_order(host, port):
    """Among corked echoes: a frame too large for the cork, a ping (whose pong leaves at once) and a close (whose
    close_notify must follow every record before it): all arrive, in the order they were written."""
    tls, _ = upgrade(host, port, context(), ragged_eofs=False)
    tls.settimeout(10)
    large = b"L" * 2000
    tls.sendall(masked(0x1, b"a") + masked(0x1, large) + masked(0x9, b"p") + masked(0x1, b"b") +
                masked(0x8, struct.pack("!H", 1000) + b"bye"))
    got = read_frames_to_end(tls)
    expected = [(0x1, b"a"), (0x1, large), (0xA, b"p"), (0x1, b"b")]
    if got[:4] != expected or len(got) != 5 or got[4][0] != 0x8 or got[4][1][:2] != struct.pack("!H", 1000):
        raise SystemExit(f"corked echoes with a large frame, a pong and a close came back as "
                         f"{[(op, body[:8]) for op, body in got]}")
    tls.close()


async def echo_many(url, clients, messages):
    async def one(i):
        async with websockets.connect(url, max_size=2 ** 24) as ws:
            for k in range(messages):
                message = f"client {i} message {k} " * (1 + k * 50)
                await ws.send(message)
                if await ws.recv() != message:
                    raise SystemExit(f"client {i}: message {k} came back different")
    await asyncio.gather(*(one(i) for i in range(clients)))


async def main(url):
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port
    check_alpn_and_resumption(host, port)
    segments, records = check_cork(host, port)
    check_cork_order(host, port)

    # A connection that is open before the flood keeps echoing through it.
    async with websockets.connect(url) as steady:
        flood = asyncio.ensure_future(echo_many(url, 64, 5))
        echoed = 0
        while not flood.done():
            await steady.send(f"steady {echoed}")
            if await steady.recv() != f"steady {echoed}":
                raise SystemExit("the steady connection's echo came back different")
            echoed += 1
        await flood
        # A client that drops its TCP connection without close_notify or a close frame.
        rude, _ = upgrade(host, port, context())
        socket.socket.close(rude)
        await steady.send("after the rude one")
        if await steady.recv() != "after the rude one":
            raise SystemExit("the steady connection broke when another client dropped")
        await steady.close(1000)
    print(f"python TLS: ALPN http/1.1, resumption (1.3 ticket, 1.2 cache), 64 echoes of one read in {segments} "
          f"segments and {records:g} record(s), corked echoes in order, 64 concurrent handshakes x 5 echoes, "
          f"{echoed} steady echoes meanwhile: ok")


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
