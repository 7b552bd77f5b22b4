#!/usr/bin/env python3
"""Third-party client check: Python `websockets` with permessage-deflate, across every combination of the
parameters it can offer (context takeover on either side, the server's window 9..15 or unasked, the client's
window 9..15, offered bare or not at all). For each, the agreed parameters must match the offer and the server's
mode, 40 messages of mixed types and sizes (repeats among them, so a kept context shows) must echo intact, and
the bytes that came back on the wire must be far fewer than the messages: the server really compressed.
Usage: python_deflate_client.py MODE ws://127.0.0.1:PORT/path   (MODE: the server's --deflate, shared|dedicated)"""
import asyncio
import itertools
import sys

import websockets
from websockets.extensions import permessage_deflate as pmd


def messages():
    for i in range(40):
        if i % 4 == 0:
            yield ("quote BTC-USD bid 42017.5 ask 42018.0 " * (1 + i % 9))[: 20 + i * 40]
        elif i % 4 == 1:
            yield bytes(range(64)) * (4 + 4 * i)  # a period a 512-byte window still finds
        elif i % 4 == 2:
            yield "é€😀 unicode text, compressed " * (i + 1)
        else:
            yield ""  # an empty message, compressed or not


async def one_combination(url, mode, offer):
    factory = pmd.ClientPerMessageDeflateFactory(**offer)
    async with websockets.connect(url, extensions=[factory], compression=None, max_size=2 ** 24) as ws:
        if len(ws.extensions) != 1:
            raise SystemExit(f"{offer}: permessage-deflate not agreed")
        agreed = ws.extensions[0]
        # A shared server compresses each message alone and asks the client to do the same; a dedicated one keeps
        # whatever the client allows.
        expect_server_no = offer.get("server_no_context_takeover", False) or mode == "shared"
        expect_client_no = offer.get("client_no_context_takeover", False) or mode == "shared"
        if agreed.remote_no_context_takeover != expect_server_no:
            raise SystemExit(f"{offer}: server_no_context_takeover {agreed.remote_no_context_takeover}")
        if agreed.local_no_context_takeover != expect_client_no:
            raise SystemExit(f"{offer}: client_no_context_takeover {agreed.local_no_context_takeover}")
        wanted_bits = offer.get("server_max_window_bits") or 15
        if agreed.remote_max_window_bits != wanted_bits:
            raise SystemExit(f"{offer}: server window {agreed.remote_max_window_bits}, wanted {wanted_bits}")

        received = 0
        original = ws.data_received

        def counting(data):
            nonlocal received
            received += len(data)
            original(data)

        ws.data_received = counting
        sent_bytes = 0
        for i, message in enumerate(messages()):
            await ws.send(message)
            echo = await ws.recv()
            if echo != message:
                raise SystemExit(f"{offer}: message {i}: sent {len(message)} units, got back {len(echo)}")
            sent_bytes += len(message.encode() if isinstance(message, str) else message)
        await ws.close(1000, "done")
    if ws.close_code != 1000:
        raise SystemExit(f"{offer}: closed with {ws.close_code}")
    if received * 3 > sent_bytes:
        raise SystemExit(f"{offer}: {received} bytes came back for {sent_bytes} of messages: not compressed")
    return sent_bytes, received


async def main(mode, url):
    offers = []
    for server_no, client_no in itertools.product([False, True], repeat=2):
        for server_bits in [None, 9, 10, 12, 15]:
            for client_bits in [None, True, 9, 11, 15]:
                offer = {"server_no_context_takeover": server_no, "client_no_context_takeover": client_no}
                if server_bits:
                    offer["server_max_window_bits"] = server_bits
                if client_bits:
                    offer["client_max_window_bits"] = client_bits
                offers.append(offer)
    total_sent = total_received = 0
    for offer in offers:
        sent, received = await one_combination(url, mode, offer)
        total_sent += sent
        total_received += received
    # An offer the server must decline (a 256-byte window for the server) still connects, uncompressed.
    declined = pmd.ClientPerMessageDeflateFactory(server_max_window_bits=8)
    async with websockets.connect(url, extensions=[declined], compression=None) as ws:
        if ws.extensions:
            raise SystemExit("server_max_window_bits=8 was accepted; zlib cannot honour it")
        await ws.send("still works")
        if await ws.recv() != "still works":
            raise SystemExit("the uncompressed connection after a declined offer did not echo")
    print(f"python websockets {websockets.__version__} permessage-deflate, server {mode}: {len(offers)} "
          f"combinations echoed; {total_sent} bytes of messages came back as {total_received} bytes")


asyncio.run(asyncio.wait_for(main(sys.argv[1], sys.argv[2]), 120))
