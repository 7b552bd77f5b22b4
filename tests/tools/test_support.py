"""What the Python tool tests share: failing with a message, a free loopback port, and starting and stopping a
server that announces its URLs (surge-push)."""
import signal
import socket
import subprocess
import sys
import threading
import time


def check(condition, message):
    """Ends the test, failed, with `message` unless `condition` holds."""
    if not condition:
        print("FAIL:", message, flush=True)
        sys.exit(1)


def free_port():
    """A TCP port free on 127.0.0.1 when asked (the caller binds it soon after)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_announced(command, marker):
    """Starts `command`, a server that logs its URLs, and reads what it logs until a line holding `marker`; returns
    (process, that line). What it logs after is kept in process.log by a thread, so that a full pipe never blocks
    it, and shown if it fails."""
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    for _ in range(50):  # workers log before the parent announces
        line = server.stdout.readline()
        seen.append(line)
        if marker in line:
            server.log = seen
            threading.Thread(target=lambda: server.log.extend(server.stdout), daemon=True).start()
            return server, line
        if not line:
            break
    server.kill()
    check(False, "no announcement: " + "".join(seen))


def stop_announced(server, name):
    """Stops a server start_announced() started with SIGTERM; it must exit with status 0 within 15 s."""
    server.send_signal(signal.SIGTERM)
    try:
        status = server.wait(15)
        time.sleep(0.1)  # the last of its output
        check(status == 0, "%s exited with %s; it said:\n%s" % (name, status, "".join(server.log[-60:])))
    except subprocess.TimeoutExpired:
        server.kill()
        check(False, name + " did not stop")
