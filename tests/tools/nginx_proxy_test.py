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
import os
import pathlib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import websockets

ROOT = pathlib.Path(__file__).resolve().parents[2]
IDLE_SECONDS = 65  # past nginx's default proxy_read_timeout (60 s)


def check(condition, message):
    if not condition:
        print("FAIL:", message, flush=True)
        sys.exit(1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_config():
    """The ```nginx block of README's "Behind nginx" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Behind nginx", 1)
    check(len(section) == 2, "README has a 'Behind nginx' section")
    block = re.search(r"```nginx\n(.*?)```", section[1], re.S)
    check(block is not None, "the section has an nginx block")
    return block.group(1)


def nginx_config(directory, server_block):
    # What a distribution's nginx.conf would wrap around README's block, kept inside the temporary directory.
    temp = "\n".join(f"    {kind}_temp_path {directory}/{kind};" for kind in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""daemon off;
master_process off;
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}
{server_block}
}}
"""


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
        check(json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"subscribed": "idle"}, "subscribed via nginx")
        subscribers.append(ws)
    await asyncio.sleep(IDLE_SECONDS)
    for n, port in enumerate(ports):
        status, body = http(port, "/publish/idle", b"after %d s" % IDLE_SECONDS)
        check(status == 200 and json.loads(body)["subscribers"] == len(ports),
              "publish through nginx (%d): %s %s" % (port, status, body))
        for ws in subscribers:
            got = await asyncio.wait_for(ws.recv(), 10)
            check(got == "after %d s" % IDLE_SECONDS, "an idle subscriber is still there after %d s: %r" %
                  (IDLE_SECONDS, got))
    for ws in subscribers:
        await ws.close()


def main():
    binary = sys.argv[1]
    nginx_binary = sys.argv[2] if len(sys.argv) > 2 else "/usr/sbin/nginx"
    check(os.access(nginx_binary, os.X_OK), "nginx at " + nginx_binary + " (tools/setup-deps.sh installs it)")
    surge, surge_port = start_surge(binary)
    nginx = None
    try:
        readme = readme_config()
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
        with tempfile.TemporaryDirectory() as directory:
            os.chmod(directory, 0o755)  # nginx's worker may run as another user
            conf = pathlib.Path(directory) / "nginx.conf"
            conf.write_text(nginx_config(directory, blocks))
            nginx = subprocess.Popen([nginx_binary, "-p", directory, "-c", str(conf), "-e", f"{directory}/error.log"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 10
            while any(http(port, "/health")[0] != 200 for port in (as_given, everywhere, forgotten)):
                check(nginx.poll() is None, "nginx exited: " + nginx.stderr.read())
                check(time.monotonic() < deadline, "nginx did not answer within 10 s")
                time.sleep(0.05)
            asyncio.run(idle_subscribers([as_given, everywhere, forgotten]))
            stop(nginx, "nginx")
            nginx = None
    finally:
        if nginx is not None:
            nginx.kill()
        stop(surge, "surge-push")
    print("behind nginx: ok (idle subscribers held %d s: README's config, a hard-coded Connection line, none)" %
          IDLE_SECONDS, flush=True)


if __name__ == "__main__":
    main()
