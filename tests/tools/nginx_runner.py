"""nginx for the tests: README's blocks, a configuration kept inside a temporary directory, and an nginx in the
foreground on loopback ports, started and stopped by pid. Shared by nginx_proxy_test.py and browser_push_test.py.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

from test_support import free_port


ROOT = pathlib.Path(__file__).resolve().parents[2]


class NginxError(Exception):
    pass


def readme_blocks():
    """The ```nginx blocks of README's "Behind nginx" section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Behind nginx", 1)
    if len(section) != 2:
        raise NginxError("README has no 'Behind nginx' section")
    blocks = re.findall(r"```nginx\n(.*?)```", section[1].split("\n## ", 1)[0], re.S)
    if not blocks:
        raise NginxError("README's 'Behind nginx' section has no nginx block")
    return blocks


def _config(directory, server_blocks):
    # What a distribution's nginx.conf would wrap around README's blocks.
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
{server_blocks}
}}
"""


def _answers(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


class Nginx:
    """`with Nginx(binary, blocks, ready_urls):` runs nginx with `blocks` inside http {} until every URL in
    ready_urls answers 200 (10 s at most), and stops it (by pid) on the way out."""

    def __init__(self, binary, server_blocks, ready_urls):
        if not os.access(binary, os.X_OK):
            raise NginxError("no nginx at %s (tools/setup-deps.sh installs it)" % binary)
        self.binary, self.blocks, self.ready_urls = binary, server_blocks, ready_urls
        self.directory = None
        self.process = None

    def __enter__(self):
        self.directory = tempfile.mkdtemp(prefix="surge-nginx-")
        os.chmod(self.directory, 0o755)  # nginx's worker may run as another user
        conf = pathlib.Path(self.directory) / "nginx.conf"
        conf.write_text(_config(self.directory, self.blocks))
        self.process = subprocess.Popen([self.binary, "-p", self.directory, "-c", str(conf),
                                         "-e", f"{self.directory}/error.log"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not all(_answers(url) for url in self.ready_urls):
            if self.process.poll() is not None:
                error = self.process.stderr.read()
                self.__exit__(None, None, None)
                raise NginxError("nginx exited: " + error)
            if time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise NginxError("nginx did not answer within 10 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self.directory:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
        return False
