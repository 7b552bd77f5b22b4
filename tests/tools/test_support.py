"""What the Python tool tests share: failing with a message, and a free loopback port."""
import socket
import sys


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
