#!/usr/bin/env python3
"""A third-party server for the load tools' tests, on Python `websockets` (Debian's python3-websockets).

  python_ws_server.py echo       echoes every message; prints "ws PORT"
  python_ws_server.py broadcast  sends every body POSTed to http://127.0.0.1:HTTP_PORT/ to every WebSocket
                                 client; prints "ws PORT" and "http HTTP_PORT"

Both listen on 127.0.0.1 with ports the kernel picks, and stop on SIGTERM or SIGINT."""
import asyncio
import signal
import sys

import websockets

clients = set()


async def echo(ws, path=None):
    async for message in ws:
        await ws.send(message)


async def subscriber(ws, path=None):
    clients.add(ws)
    try:
        await ws.wait_closed()
    finally:
        clients.discard(ws)


async def publish(reader, writer):
    """One POST per connection: read the head and the body, broadcast the body, answer with the count."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    body = await reader.readexactly(length)
    websockets.broadcast(clients, body.decode("utf-8", "replace"))
    answer = str(len(clients)).encode()
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(answer), answer))
    await writer.drain()
    writer.close()


async def main(mode):
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    handler = echo if mode == "echo" else subscriber
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=2 ** 24) as server:
        print("ws", server.sockets[0].getsockname()[1], flush=True)
        if mode == "broadcast":
            http = await asyncio.start_server(publish, "127.0.0.1", 0)
            print("http", http.sockets[0].getsockname()[1], flush=True)
        await stop


asyncio.run(main(sys.argv[1]))
