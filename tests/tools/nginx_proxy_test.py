#!/usr/bin/env python3
"""surge-push behind a real nginx (Debian's package), with nginx's defaults: an idle subscriber stays past nginx's
60 s proxy_read_timeout, because surge pings it every 30 s, and publishing through the proxy reaches it.

The nginx configuration is README's own ("Behind nginx"), taken from it with the ports changed, so the README stays
true. It is run three ways at once: as README gives it (Connection from a map: "upgrade" for upgrades, "close"
otherwise); with the line most guides give instead (`proxy_set_header Connection "upgrade";` for every request);
and with no Connection line at all, where nginx sends "Connection: close" beside the Upgrade header (surge
upgrades on the Upgrade header alone, as proxies that rewrite Connection need). All must work. nginx runs in the foreground on free loopback ports, from a temporary directory, and is stopped by pid.

Usage: nginx_proxy_test.py SURGE_PUSH [NGINX]   (exit 0 on success; every wait is bounded)
"""
import asyncio
import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import websockets

from nginx_runner import Nginx, NginxError, free_port, readme_blocks
from test_support import check


IDLE_SECONDS = 65  # past nginx's default proxy_read_timeout (60 s)


def start_surge(binary):
    # --max-per-address 0: behind a proxy every client has the proxy's address.
    server = subprocess.Popen([binary, "--port", "0", "--address", "127.0.0.1", "--threads", "1",
                               "--max-per-address", "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    line = server.stdout.readline()
    for _ in range(20):
        if "ws://127.0.0.1:" in line:
            break
        line = server.stdout.readline()
    if "ws://127.0.0.1:" not in line:
        server.kill()
        check(False, "surge-push did not announce: " + line)
    threading.Thread(target=server.stdout.read, daemon=True).start()
    return server, int(line.split("ws://127.0.0.1:")[1].split("/")[0])


def stop(process, name):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        check(False, name + " did not stop")


def http(port, path, body=None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body,
                                     method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return None, b""


async def idle_subscribers(ports):
    # One subscriber through each nginx server block, sending nothing (no client pings) for IDLE_SECONDS.
    subscribers = []
    for port in ports:
        ws = await websockets.connect(f"ws://127.0.0.1:{port}/ws", ping_interval=None, open_timeout=10)
        await ws.send(json.dumps({"subscribe": "idle"}))
        check(json.loads(await asyncio.wait_for(ws.recv(), 10))["subscribed"] == "idle", "subscribed via nginx")
        subscribers.append(ws)
    await asyncio.sleep(IDLE_SECONDS)
    for n, port in enumerate(ports):
        status, body = http(port, "/publish/idle", b"after %d s" % IDLE_SECONDS)
        check(status == 200 and json.loads(body)["subscribers"] == len(ports),
              "publish through nginx (%d): %s %s" % (port, status, body))
        for ws in subscribers:
            got = json.loads(await asyncio.wait_for(ws.recv(), 10))
            check(got["data"] == "after %d s" % IDLE_SECONDS, "an idle subscriber is still there after %d s: %r" %
                  (IDLE_SECONDS, got))
    for ws in subscribers:
        await ws.close()


def main():
    binary = sys.argv[1]
    nginx_binary = sys.argv[2] if len(sys.argv) > 2 else "/usr/sbin/nginx"
    surge, surge_port = start_surge(binary)
    try:
        readme = readme_blocks()[0]
        check("listen 80;" in readme and "127.0.0.1:9001" in readme, "README's block listens on 80 for 9001")
        as_given, everywhere, forgotten = free_port(), free_port(), free_port()
        given_block = readme.replace("listen 80;", f"listen 127.0.0.1:{as_given};")
        # The same with the common line that sends "Connection: upgrade" on every request, upgrade or not.
        everywhere_block = re.sub(r"proxy_set_header Connection \$connection_upgrade;",
                                  'proxy_set_header Connection "upgrade";',
                                  readme.replace("listen 80;", f"listen 127.0.0.1:{everywhere};"))
        everywhere_block = re.sub(r"map \$http_upgrade.*?\}\n", "", everywhere_block, flags=re.S)
        check('Connection "upgrade"' in everywhere_block, "the variant has the hard-coded Connection line")
        forgotten_block = re.sub(r"\s*proxy_set_header Connection \$connection_upgrade;[^\n]*", "",
                                 readme.replace("listen 80;", f"listen 127.0.0.1:{forgotten};"))
        forgotten_block = re.sub(r"map \$http_upgrade.*?\}\n", "", forgotten_block, flags=re.S)
        check("Connection" not in forgotten_block, "the third variant has no Connection line")
        blocks = (given_block + everywhere_block + forgotten_block).replace("127.0.0.1:9001", f"127.0.0.1:{surge_port}")
        ports = (as_given, everywhere, forgotten)
        try:
            with Nginx(nginx_binary, blocks, [f"http://127.0.0.1:{port}/health" for port in ports]):
                asyncio.run(idle_subscribers(list(ports)))
        except NginxError as error:
            check(False, str(error))
    finally:
        stop(surge, "surge-push")
    print("behind nginx: ok (idle subscribers held %d s: README's config, a hard-coded Connection line, none)" %
          IDLE_SECONDS, flush=True)


if __name__ == "__main__":
    main()
