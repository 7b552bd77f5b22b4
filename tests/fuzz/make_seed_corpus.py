#!/usr/bin/env python3
"""Writes the seed corpora for the fuzz targets (tests/fuzz/corpus/<target>/seed-*).

The seeds are committed; this script is how they were made, so that they can be regenerated or extended.
Findings that a fuzzing run adds to the corpus are committed beside them (they are named by their hash).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
MASK = bytes([0x37, 0xFA, 0x21, 0x3D])


def write(target, name, data):
    folder = os.path.join(HERE, "corpus", target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def request(lines, line_end=b"\r\n"):
    return line_end.join(lines) + line_end + line_end


RFC = [b"GET /chat HTTP/1.1", b"Host: server.example.com", b"Upgrade: websocket", b"Connection: Upgrade",
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", b"Origin: http://example.com",
       b"Sec-WebSocket-Protocol: chat, superchat", b"Sec-WebSocket-Version: 13"]


def upgrade_seeds():
    write("upgrade_request", "rfc", request(RFC))
    write("upgrade_request", "lf-only", request(RFC, b"\n"))
    write("upgrade_request", "with-frame", request(RFC) + b"\x81\x82" + MASK + b"\x5f\x93")
    write("upgrade_request", "browser", request([
        b"GET /ws?topics=a,b HTTP/1.1", b"Host: 127.0.0.1:9001", b"Connection: keep-alive, Upgrade",
        b"Pragma: no-cache", b"User-Agent: Mozilla/5.0", b"Upgrade: websocket", b"Origin: http://127.0.0.1:9001",
        b"Sec-WebSocket-Version: 13", b"Accept-Encoding: gzip, deflate, br",
        b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits"]))
    write("upgrade_request", "quoted-connection", request(RFC[:3] + [b'Connection: "keep-alive, Upgrade"'] + RFC[4:]))
    write("upgrade_request", "post", request([b"POST /publish/news HTTP/1.1", b"Host: h", b"Content-Length: 5"]) + b"hello")
    write("upgrade_request", "http10", request([b"GET / HTTP/1.0"] + RFC[1:]))
    write("upgrade_request", "version8", request(RFC[:-1] + [b"Sec-WebSocket-Version: 8"]))
    write("upgrade_request", "folded", request(RFC + [b"X-Fold: a", b" b"]))
    write("upgrade_request", "bad-key", request(RFC[:4] + [b"Sec-WebSocket-Key: short=="] + RFC[5:]))
    write("upgrade_request", "big", request(RFC + [b"X-Big: " + b"b" * 1100]))


def frame(first, payload, masked=True, length_form=None):
    n = len(payload)
    mask_bit = 0x80 if masked else 0
    if length_form == 16 or (length_form is None and 126 <= n <= 0xFFFF):
        head = bytes([first, mask_bit | 126]) + struct.pack("!H", n)
    elif length_form == 64 or (length_form is None and n > 0xFFFF):
        head = bytes([first, mask_bit | 127]) + struct.pack("!Q", n)
    else:
        head = bytes([first, mask_bit | n])
    if masked:
        payload = bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))
        head += MASK
    return head + payload


def frame_seeds():
    # The first byte of each input picks the configuration: bit 0 client role, bit 1 small limit, bit 2 RSV1.
    server, client, small, rsv1 = b"\x00", b"\x01", b"\x02", b"\x04"
    write("frame_decoder", "text", server + frame(0x81, b"Hello"))
    write("frame_decoder", "client-text", client + frame(0x81, b"Hello", masked=False))
    write("frame_decoder", "fragmented", server + frame(0x01, b"Hel") + frame(0x89, b"p") + frame(0x80, b"lo"))
    write("frame_decoder", "len16", server + frame(0x82, b"x" * 300))
    write("frame_decoder", "len64", server + frame(0x82, b"y" * 70000))
    write("frame_decoder", "non-minimal-length", server + frame(0x82, b"z" * 5, length_form=64))
    write("frame_decoder", "close", server + frame(0x88, b"\x03\xe8bye"))
    write("frame_decoder", "close-bad-code", server + frame(0x88, b"\x03\xed"))
    write("frame_decoder", "close-one-byte", server + frame(0x88, b"\x03"))
    write("frame_decoder", "utf8", server + frame(0x01, "κόσμε".encode()[:5]) + frame(0x80, "κόσμε".encode()[5:]))
    write("frame_decoder", "bad-utf8", server + frame(0x81, b"\xed\xa0\x80"))
    write("frame_decoder", "reserved-opcode", server + frame(0x83, b""))
    write("frame_decoder", "rsv1-compressed", rsv1 + frame(0xC1, b"\xf2\x48\xcd\xc9\xc9\x07\x00"))
    write("frame_decoder", "too-big", small + frame(0x82, b"b" * 301))
    write("frame_decoder", "top-bit", server + b"\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01" + MASK)
    write("frame_decoder", "ping-125", server + frame(0x89, b"p" * 125))
    write("frame_decoder", "ping-126", server + frame(0x89, b"p" * 126))


def deflated(message):
    import zlib
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return (compressor.compress(message) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def message_seeds():
    # The first byte picks the configuration: bit 0 client role, bit 1 small limit, bit 2 RSV1 allowed,
    # bit 3 streaming role, bit 4 the role's inflater keeps no context, bit 5 this side has sent its close.
    server, client, small, rsv1, streaming, shared, closing = (bytes([b]) for b in (0, 1, 2, 4, 8, 16, 32))
    z = deflated(b"compressed " * 40)
    write("message_reader", "fragments", server + frame(0x01, b"Hel") + frame(0x89, b"p") + frame(0x80, b"lo"))
    write("message_reader", "client-text", client + frame(0x81, b"Hello", masked=False))
    write("message_reader", "compressed", rsv1 + frame(0xC1, z) + frame(0x41, z[:7]) + frame(0x80, z[7:]))
    write("message_reader", "compressed-shared", bytes([4 | 16]) + frame(0xC2, z) + frame(0xC2, z))
    write("message_reader", "compressed-too-big", bytes([4 | 2]) + frame(0xC2, z))
    write("message_reader", "corrupt-deflate", rsv1 + frame(0xC2, b"\xff\xff\xff"))
    write("message_reader", "deflated-bad-utf8", rsv1 + frame(0xC1, deflated(b"\xc3\x28")))
    write("message_reader", "streaming", bytes([8 | 4]) + frame(0x02, b"abc") + frame(0x80, b"def") + frame(0xC1, z))
    write("message_reader", "close-echo", server + frame(0x88, b"\x03\xe9bye") + frame(0x81, b"after"))
    write("message_reader", "close-answer", closing + frame(0x89, b"late") + frame(0x88, b""))
    write("message_reader", "bad-utf8", server + frame(0x81, b"\xed\xa0\x80"))


def chunked_seeds():
    # The first byte picks the body limit (times 16).
    write("chunked_body", "two-chunks", b"\x10" + b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n")
    write("chunked_body", "trailers", b"\x10" + b"3\r\nabc\r\n0\r\nA: b\r\nC: d\r\n\r\n")
    write("chunked_body", "bare-lf", b"\x10" + b"3\nabc\n0\n\n")
    write("chunked_body", "too-big", b"\x01" + b"20\r\n" + b"x" * 32 + b"\r\n0\r\n\r\n")
    write("chunked_body", "bad-size", b"\x10" + b"zz\r\nabc\r\n0\r\n\r\n")
    write("chunked_body", "long-data", b"\x10" + b"2\r\nabc\r\n0\r\n\r\n")


ACCEPT = b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # for RFC's key above


def response_seeds():
    ok = [b"HTTP/1.1 101 Switching Protocols", b"Upgrade: websocket", b"Connection: Upgrade", ACCEPT]
    write("upgrade_response", "rfc", request(ok))
    write("upgrade_response", "rfc-then-frame", request(ok) + b"\x81\x02hi")
    write("upgrade_response", "bare-lf", request(ok, b"\n"))
    write("upgrade_response", "proxy-list", request([b"HTTP/1.1 101 OK", b"upgrade: WebSocket",
                                                     b"connection: keep-alive, upgrade", ACCEPT]))
    write("upgrade_response", "subprotocol", request(ok + [b"Sec-WebSocket-Protocol: chat"]))
    write("upgrade_response", "extension", request(ok + [b"Sec-WebSocket-Extensions: permessage-deflate"]))
    write("upgrade_response", "refused", request([b"HTTP/1.1 403 Forbidden", b"Content-Length: 0"]))
    write("upgrade_response", "no-reason", request([b"HTTP/1.1 101", b"Upgrade: websocket"]))


if __name__ == "__main__":
    upgrade_seeds()
    response_seeds()
    frame_seeds()
    message_seeds()
    chunked_seeds()
