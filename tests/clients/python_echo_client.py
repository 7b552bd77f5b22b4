#!/usr/bin/env python3
"""Third-party client check: Python `websockets` (Debian's python3-websockets) with its default headers,
which offer permessage-deflate, echoes 100 messages of mixed types and sizes through the server and closes with
1000. Usage: python_echo_client.py ws://127.0.0.1:PORT/path"""
import asyncio
import sys

import websockets


async def main(url):
    async with websockets.connect(url, max_size=2 ** 24) as ws:
        for i in range(100):
            message = f"message {i} " * (i % 7) if i % 2 else bytes([i % 256]) * (i * 97)
            await ws.send(message)
            echo = await ws.recv()
            if echo != message:
                raise SystemExit(f"message {i}: sent {len(message)} units, got back {len(echo)}")
        pong = await ws.ping(b"python")
        await asyncio.wait_for(pong, 10)
        await ws.close(1000, "done")
    if ws.close_code != 1000:
        raise SystemExit(f"closed with {ws.close_code}, expected 1000")
    print(f"python websockets {websockets.__version__}: 100 echoes, ping, close 1000 ok")


asyncio.run(asyncio.wait_for(main(sys.argv[1]), 60))
