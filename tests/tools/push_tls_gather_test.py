#!/usr/bin/env python3
"""surge-push over wss://: publications that reach a TLS subscriber in one fan-out turn are encrypted together.

A publisher sends 50 POSTs in one TLS write, so the shard takes them in one read and fans them out together; a raw
TLS subscriber (format=raw) must get all 50 intact and in order, and the bytes on its socket past their frames must
be a record's or two (each TLS 1.3 record adds 22), not 50 records'. Then one more publication alone, which must
arrive too.

Usage: push_tls_gather_test.py SURGE_PUSH BACKEND MAKE_TEST_CERT   (exit 0 on success; every wait is bounded)
"""
import os
import socket
import ssl
import struct
import subprocess
import sys
import tempfile

from test_support import check, start_announced, stop_announced

RECORD_OVERHEAD = 5 + 1 + 16  # a TLS 1.3 record's header, inner content type and AES-GCM tag
COUNT = 50


def start(binary, backend, cert, key):
    server, line = start_announced([binary, "--port", "0", "--backend", backend, "--threads", "1", "--cert", cert,
                                    "--key", key], "wss://127.0.0.1:")
    return server, int(line.split("wss://127.0.0.1:")[1].split("/")[0])


def connect(port, context):
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def read_head(sock):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(1)  # byte by byte: nothing past the head is taken from the stream
        check(chunk, "the server closed during the response head")
        head += chunk
    return head


def bytes_in(sock):
    """Bytes the kernel has received on `sock` (Linux tcp_info's tcpi_bytes_received, at byte 128)."""
    return struct.unpack_from("Q", sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 232), 128)[0]


def read_text_frames(sock, count):
    """`count` unmasked text frames of under 126 bytes; returns their payloads and the bytes they took."""
    data = b""
    payloads = []
    while len(payloads) < count:
        while len(data) < 2 or len(data) < 2 + (data[1] & 0x7F):
            chunk = sock.recv(65536)
            check(chunk, f"the stream ended after {len(payloads)} of {count} messages")
            data += chunk
        check(data[0] == 0x81 and data[1] < 126, f"not a small text frame: {data[:2]!r}")
        length = data[1]
        payloads.append(data[2:2 + length].decode())
        data = data[2 + length:]
    check(not data, f"{len(data)} bytes past the expected frames")
    return payloads, sum(2 + len(p) for p in payloads)


def publish_pipelined(port, context, bodies):
    publisher = connect(port, context)
    requests = b"".join(b"POST /publish/news HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\n"
                        b"Content-Length: %d\r\n\r\n%s" % (len(body), body) for body in bodies)
    publisher.sendall(requests)  # one write, one record: the shard reads every request at once
    answers = b""
    while answers.count(b"HTTP/1.1 200") < len(bodies):
        chunk = publisher.recv(65536)
        check(chunk, f"the publisher's connection ended after {answers.count(b'HTTP/1.1 200')} answers: {answers!r}")
        answers += chunk
    publisher.close()


def main():
    binary, backend, make_cert = sys.argv[1:4]
    with tempfile.TemporaryDirectory() as directory:
        check(subprocess.run(["bash", make_cert, directory], capture_output=True).returncode == 0,
              "openssl could not make a test certificate")
        cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
        context = ssl.create_default_context(cafile=cert)
        server, port = start(binary, backend, cert, key)
        try:
            subscriber = connect(port, context)
            check(subscriber.version() == "TLSv1.3", f"{subscriber.version()} negotiated; the check counts 1.3 records")
            subscriber.sendall(b"GET /ws?topics=news&format=raw HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                               b"Sec-WebSocket-Version: 13\r\n\r\n")
            head = read_head(subscriber)
            check(head.startswith(b"HTTP/1.1 101"), f"upgrade refused: {head[:60]!r}")
            before = bytes_in(subscriber)

            expected = [f"m{i}" for i in range(COUNT)]
            publish_pipelined(port, context, [m.encode() for m in expected])
            got, frame_bytes = read_text_frames(subscriber, COUNT)
            check(got == expected, f"the burst arrived as {got}")
            records = (bytes_in(subscriber) - before - frame_bytes) / RECORD_OVERHEAD
            check(records <= 2, f"{COUNT} publications of one fan-out turn came in {records:g} records' worth of bytes")

            publish_pipelined(port, context, [b"alone"])
            after, _ = read_text_frames(subscriber, 1)
            check(after == ["alone"], f"the publication after the burst arrived as {after}")
            subscriber.close()
        finally:
            stop_announced(server, "surge-push")
    print(f"surge-push over wss:// ({backend}): {COUNT} publications of one fan-out turn in order, "
          f"in {records:g} TLS record(s); one more after them: ok")


if __name__ == "__main__":
    main()
