#!/usr/bin/env python3
"""surge-push's page in a real browser: headless Chromium, driven over the DevTools protocol.

The page subscribes to a topic over WebSocket; the test publishes over HTTP (with the bearer token the server was
started with) and reads the message back from the page's DOM. Then the page publishes through its own form, and a
Python `websockets` subscriber must receive that. A POST without the token must get 401.
With --tls the same runs over https:// and wss://: a certificate is made for the run (openssl), surge-push gets
--cert/--key and --deflate shared (Chromium offers permessage-deflate), and Chromium is told to accept the
certificate. With --prefix NGINX the page is opened through nginx under /push/, with README's "path prefix"
location (read from README.md), so the page's own URLs must be relative to it.

Usage: browser_push_test.py [--tls | --prefix NGINX] SURGE_PUSH [CHROMIUM]   (exit 0 on success; waits bounded)
"""
import asyncio
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import websockets

from nginx_runner import Nginx, NginxError, free_port, readme_blocks

TOKEN = "browser-test-token"
TOPIC = "browser test/é"  # a space, a slash and a non-ASCII letter: the page and the server must encode alike
TLS = None  # with --tls: the client-side SSL context that trusts the run's certificate


def fail(message):
    print("FAIL:", message, flush=True)
    sys.exit(1)


def make_certificate(directory):
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools", "make-test-cert.sh")
    subprocess.run(["bash", script, directory], check=True, capture_output=True)
    return os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")


def scheme(plain):
    return plain + "s" if TLS else plain


def start_push(binary, tls_files):
    extra = ["--cert", tls_files[0], "--key", tls_files[1], "--deflate", "shared"] if tls_files else []
    server = subprocess.Popen([binary, "--port", "0", "--threads", "2", "--token", TOKEN] + extra,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = server.stdout.readline()  # the announcement comes first (one process: nothing logs before it)
    announced = scheme("ws") + "://127.0.0.1:"
    if announced not in line:
        server.kill()
        fail("surge-push did not announce its port: " + line)
    threading.Thread(target=server.stdout.read, daemon=True).start()  # a full pipe must never block it
    return server, int(line.split(announced)[1].split("/")[0])


def start_chromium(binary, profile):
    # The run's certificate is self-signed: Chromium accepts it only when told to.
    trust = ["--ignore-certificate-errors"] if TLS else []
    browser = subprocess.Popen(
        [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-extensions", "--mute-audio",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "--user-data-dir=" + profile]
        + trust + ["about:blank"],
        # Chromium puts its singleton socket in a directory of its own under TMPDIR and leaves it behind when
        # terminated: keep it inside the profile, which the test removes.
        env={**os.environ, "TMPDIR": profile},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    active = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if os.path.exists(active):
            with open(active) as f:
                first = f.readline().strip()
            if first:
                return browser, int(first)
        if browser.poll() is not None:
            fail("chromium exited with %s before it listened" % browser.returncode)
        time.sleep(0.1)
    browser.kill()
    fail("chromium did not open its DevTools port")


def http(url, body=None, headers=None):
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body is not None else "GET")
    try:
        context = TLS if url.startswith("https:") else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class DevTools:
    def __init__(self, socket):
        self.socket = socket
        self.next_id = 0

    async def call(self, method, **params):
        self.next_id += 1
        await self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:  # events come in between; skip them
            reply = json.loads(await asyncio.wait_for(self.socket.recv(), 20))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    fail("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    async def evaluate(self, expression):
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return result.get("result", {}).get("value")

    async def wait_for(self, expression, what, seconds=20):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        fail("the page never showed " + what + "; the page says: " +
             str(await self.evaluate("document.body.innerText")))


def prefix_server_block(push_port, nginx_port):
    """README's map and its /push/ location, in a server of their own on nginx_port."""
    blocks = readme_blocks()
    first, location = blocks[0], next((b for b in blocks if b.lstrip().startswith("location /push/")), None)
    if location is None:
        fail("README's 'Behind nginx' section has no 'location /push/' block")
    the_map = first[:first.index("server {")]
    return (the_map + "server {\n    listen 127.0.0.1:%d;\n%s}\n" % (nginx_port, location)).replace(
        "127.0.0.1:9001", "127.0.0.1:%d" % push_port)


async def run(devtools_port, base):
    page = base + "?topic=" + urllib.parse.quote(TOPIC, safe="")
    _, targets = http(f"http://127.0.0.1:{devtools_port}/json/list")
    pages = [t for t in json.loads(targets) if t.get("type") == "page"]
    if not pages:
        fail("chromium has no page target")
    async with websockets.connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
        tools = DevTools(socket)
        await tools.call("Page.enable")
        await tools.call("Page.navigate", url=page)
        await tools.wait_for("document.getElementById('status')?.textContent === %s" %
                             json.dumps("subscribed to " + TOPIC), "that it subscribed")

        # The test publishes; the page shows it.
        publish_url = base + "publish/" + urllib.parse.quote(TOPIC, safe="")
        status, _ = http(publish_url, b"nobody may", {})
        if status != 401:
            fail("a POST without the token got %d, not 401" % status)
        message = "hello from the test, %d ✓" % os.getpid()
        status, answer = http(publish_url, message.encode(), {"Authorization": "Bearer " + TOKEN})
        if status != 200 or json.loads(answer) != {"topic": TOPIC, "subscribers": 1, "offset": 1}:
            fail("publish answered %d %s" % (status, answer))
        await tools.wait_for("document.getElementById('messages').textContent.includes(%s)" % json.dumps(message),
                             "the published message")
        # Each message is listed with its topic and offset (the envelope's), and the time it came.
        await tools.wait_for("document.querySelector('#messages .where')?.textContent === %s" %
                             json.dumps(TOPIC + " #1"), "the message's topic and offset")
        print("page showed:", message, flush=True)

        # The page publishes through its form; another subscriber gets it.
        other_url = base.replace("http", "ws", 1) + "ws?topics=" + urllib.parse.quote(TOPIC, safe="")
        async with websockets.connect(other_url, ssl=TLS) as other:
            from_page = "sent by the page, %d" % os.getpid()
            await tools.evaluate("document.getElementById('message').value = %s;"
                                 "document.getElementById('token').value = %s;"
                                 "document.getElementById('publish').click(); true" %
                                 (json.dumps(from_page), json.dumps(TOKEN)))
            received = json.loads(await asyncio.wait_for(other.recv(), 20))["data"]
            if received != from_page:
                fail("the other subscriber got %r" % received)
            await tools.wait_for("document.getElementById('result').textContent.startsWith('200')",
                                 "the publish answer")
            await tools.wait_for("document.getElementById('messages').textContent.includes(%s)" %
                                 json.dumps(from_page), "its own message")
        print("the page's publish reached another subscriber", flush=True)


def main():
    global TLS
    args = sys.argv[1:]
    tls = args and args[0] == "--tls"
    if tls:
        args = args[1:]
    nginx_binary = None
    if args and args[0] == "--prefix":
        nginx_binary, args = args[1], args[2:]
    push_binary = args[0]
    chromium = args[1] if len(args) > 1 else (shutil.which("chromium") or "chromium")
    profile = tempfile.mkdtemp(prefix="surge-chromium-")
    tls_files = None
    if tls:
        tls_files = make_certificate(profile)
        TLS = ssl.create_default_context(cafile=tls_files[0])
    def body(port, devtools_port):
        if nginx_binary:
            nginx_port = free_port()
            base = "http://127.0.0.1:%d/push/" % nginx_port
            try:
                with Nginx(nginx_binary, prefix_server_block(port, nginx_port), [base + "metrics"]):
                    asyncio.run(run(devtools_port, base))
            except NginxError as error:
                fail(str(error))
        else:
            asyncio.run(run(devtools_port, f"{scheme('http')}://127.0.0.1:{port}/"))

    with_push_and_chromium(push_binary, chromium, profile, tls_files, body)
    print("ok", flush=True)


def with_push_and_chromium(push_binary, chromium, profile, tls_files, body):
    """Runs body(push_port, devtools_port) with surge-push and headless Chromium (profile: its directory, removed
    after), then stops both by pid; fails when surge-push did not exit cleanly."""
    server, port = start_push(push_binary, tls_files)
    browser = None
    try:
        browser, devtools_port = start_chromium(chromium, profile)
        body(port, devtools_port)
    finally:
        if browser:
            browser.terminate()
            try:
                browser.wait(10)
            except subprocess.TimeoutExpired:
                browser.kill()
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()
            code = "killed"
        shutil.rmtree(profile, ignore_errors=True)
    if code != 0:
        fail("surge-push exited with %s" % code)


if __name__ == "__main__":
    main()
