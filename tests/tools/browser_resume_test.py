#!/usr/bin/env python3
"""Nothing lost, nothing twice, in a real browser whose connections keep being cut.

headless Chromium opens surge-push's page through a TCP proxy made here, which cuts every connection it carries
several times while a publisher (straight to surge-push) sends N numbered messages. In the page two subscribers
listen to the same topic: surge-push's own client (/surge.js, which reconnects and resumes by offset) and a bare
EventSource on /sse (which reconnects by itself and resumes with Last-Event-ID). Each must end with the offsets
1..N, once each, in order.

With --tls the same runs over https://, wss:// and permessage-deflate (a certificate made for the run): the
proxy cuts TLS connections mid-record, and resumes go through the encrypted, compressed path.

Usage: browser_resume_test.py [--tls] SURGE_PUSH [CHROMIUM]   (exit 0 on success; every wait is bounded)
"""
import asyncio
import json
import shutil
import ssl
import sys
import tempfile
import threading
import time
import urllib.request

import websockets

import browser_push_test
from browser_push_test import TOKEN, DevTools, http, make_certificate, with_push_and_chromium

TOPIC = "resume"
MESSAGES = 300
CUTS = 5


def fail(message):
    print("FAIL:", message, flush=True)
    sys.exit(1)


class CuttingProxy:
    """Forwards 127.0.0.1:port to the upstream port; cut() ends every connection it carries, both ways, at once."""

    def __init__(self, upstream):
        self.upstream = upstream
        self.links = set()
        self.cuts = 0

    async def start(self):
        self.server = await asyncio.start_server(self.accept, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def accept(self, reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            writer.close()
            return
        link = (writer, up_writer)
        self.links.add(link)

        async def pump(source, sink):
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer), return_exceptions=True)
        self.links.discard(link)

    def cut(self):
        self.cuts += 1
        for client, upstream in list(self.links):
            client.transport.abort()
            upstream.transport.abort()
        self.links.clear()


def publisher(port, done):
    scheme = "https" if browser_push_test.TLS else "http"
    for n in range(1, MESSAGES + 1):
        request = urllib.request.Request(f"{scheme}://127.0.0.1:{port}/publish/{TOPIC}", data=b"m%d" % n,
                                         method="POST", headers={"Authorization": "Bearer " + TOKEN})
        with urllib.request.urlopen(request, timeout=10, context=browser_push_test.TLS) as response:
            if response.status != 200:
                done.append("publish %d: %d" % (n, response.status))
                return
        time.sleep(0.01)
    done.append("ok")


async def run(push_port, devtools_port):
    proxy = CuttingProxy(push_port)
    proxy_port = await proxy.start()
    _, targets = http(f"http://127.0.0.1:{devtools_port}/json/list")
    page = [t for t in json.loads(targets) if t.get("type") == "page"][0]
    async with websockets.connect(page["webSocketDebuggerUrl"], max_size=None) as socket:
        tools = DevTools(socket)
        await tools.call("Page.enable")
        scheme = "https" if browser_push_test.TLS else "http"
        await tools.call("Page.navigate", url=f"{scheme}://127.0.0.1:{proxy_port}/?topic={TOPIC}")
        await tools.wait_for("typeof SurgeClient === 'function' && document.readyState === 'complete'",
                             "the page with surge.js")
        # The two subscribers under test, each collecting the offsets it delivers.
        await tools.evaluate("""
            window.viaClient = []; window.viaEvents = []; window.ready = 0; window.lost = [];
            const url = new URL("ws", location.href);
            url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
            window.testClient = new SurgeClient(url.href, {
                topics: [%(topic)s], minDelay: 100, maxDelay: 1000,
                onMessage: (m) => window.viaClient.push(m.offset),
                onSubscribed: () => { window.ready |= 1; },
                onLost: (topic, info) => window.lost.push(info),
            });
            window.events = new EventSource("sse?topics=" + encodeURIComponent(%(topic)s));
            window.events.onopen = () => { window.ready |= 2; };
            window.events.onmessage = (e) => window.viaEvents.push(JSON.parse(e.data).offset);
            true""" % {"topic": json.dumps(TOPIC)})
        await tools.wait_for("window.ready === 3", "both subscribers connected")  # an open stream is subscribed
        done = []
        thread = threading.Thread(target=publisher, args=(push_port, done), daemon=True)
        thread.start()
        for _ in range(CUTS):
            await asyncio.sleep(0.5)
            proxy.cut()
        while thread.is_alive():
            await asyncio.sleep(0.1)
        if done != ["ok"]:
            fail("the publisher: %s" % done)
        expected = list(range(1, MESSAGES + 1))
        for name in ("viaClient", "viaEvents"):
            await tools.wait_for("window.%s.length >= %d" % (name, MESSAGES), name + " catching up", seconds=30)
            got = await tools.evaluate("window.%s" % name)
            if got != expected:
                missing = sorted(set(expected) - set(got))
                twice = sorted({n for n in got if got.count(n) > 1})
                fail("%s: %d offsets, missing %s, twice %s, first out of order at %s" % (
                    name, len(got), missing[:10], twice[:10],
                    next((i for i, (a, b) in enumerate(zip(got, expected)) if a != b), None)))
        lost = await tools.evaluate("window.lost")
        if lost:
            fail("the client reported losses it should not have had: %s" % lost)
        print("cut %d times: surge.js and EventSource each saw offsets 1..%d once, in order" % (proxy.cuts, MESSAGES),
              flush=True)
        proxy.server.close()


def main():
    args = sys.argv[1:]
    tls = args[0] == "--tls"
    if tls:
        args = args[1:]
    push_binary = args[0]
    chromium = args[1] if len(args) > 1 else (shutil.which("chromium") or "chromium")
    profile = tempfile.mkdtemp(prefix="surge-chromium-")
    tls_files = None
    if tls:  # start_push() then serves https/wss with --deflate shared; Chromium is told to accept the certificate
        tls_files = make_certificate(profile)
        browser_push_test.TLS = ssl.create_default_context(cafile=tls_files[0])
    with_push_and_chromium(push_binary, chromium, profile, tls_files,
                           lambda port, devtools_port: asyncio.run(run(port, devtools_port)))
    print("ok", flush=True)


if __name__ == "__main__":
    main()
