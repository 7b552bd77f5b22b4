#!/usr/bin/env python3
"""surge-push end to end, with Python `websockets` subscribers and plain HTTP publishers.

Checks: subscribing by URL and by JSON command (and the answers to both kinds of command), POST /publish answers
with the subscriber count and reaches exactly the topic's subscribers, text stays text and other bytes go as
binary, bearer authentication (401), body limit (413), the Prometheus /metrics figures after all that, with
--admin-address that publishing and /metrics live there only and go on while subscribers fill the public port,
and with --workers 2 that a publish taken by either worker reaches the subscribers of both.

Usage: push_server_test.py SURGE_PUSH BACKEND   (exit 0 on success; every wait is bounded)
"""
import asyncio
import base64
import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import sys
import time
import urllib.error
import urllib.request

import websockets

from test_support import check, start_announced, stop_announced


TOKEN = "t0ken"
FILE_TOKEN = "from-a-file"


def start(binary, backend, *extra):
    server, line = start_announced([binary, "--port", "0", "--backend", backend, "--threads", "2", *extra],
                                   "ws://127.0.0.1:")
    port = int(line.split("ws://127.0.0.1:")[1].split("/")[0])
    publish_port = int(line.split("POST http://127.0.0.1:")[1].split("/")[0])
    return server, (port if publish_port == port else (port, publish_port))


def stop(server):
    stop_announced(server, "surge-push")


def post_with(port, path, body, headers):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def post(port, path, body, token=TOKEN):
    return post_with(port, path, body, {"Authorization": "Bearer " + token} if token else {})


def get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def metrics(port, workers=None):
    """Each family summed over its series (over every worker and shard), under its name; the families labelled by
    outcome, status or code also under NAME:VALUE. With a `workers` set, the worker labels seen are added to it."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        check(response.headers["Content-Type"].startswith("text/plain"), "metrics content type")
        totals = {}
        for line in response.read().decode().splitlines():
            if line.startswith("#") or not line:
                continue
            name_labels, value = line.rsplit(" ", 1)
            name = name_labels.split("{")[0]
            labels = dict(pair.split("=", 1) for pair in name_labels[len(name) + 1:-1].split(","))
            number = float(value) if "." in value else int(value)
            totals[name] = totals.get(name, 0) + number
            for label in ("outcome", "status", "code"):
                if label in labels:
                    key = name + ":" + labels[label].strip('"')
                    totals[key] = totals.get(key, 0) + number
            if workers is not None:
                workers.add(labels["worker"].strip('"'))
        return totals


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 10)


async def published(ws, topic=None):
    """The next publication an envelope subscriber gets: its data (bytes when it came as base64), its topic checked."""
    envelope = json.loads(await recv(ws))
    check(isinstance(envelope.get("offset"), int) and "data" in envelope, "an envelope: %r" % envelope)
    if topic is not None:
        check(envelope["topic"] == topic, "the envelope names %r: %r" % (topic, envelope))
    if envelope.get("encoding") == "base64":
        return base64.b64decode(envelope["data"])
    return envelope["data"]


def subscribed(answer, topic, recovered=False):
    """A subscribe's answer: {"subscribed":topic,"offset":N,"epoch":E,"recovered":B}; returns it, parsed."""
    reply = json.loads(answer)
    check(reply.get("subscribed") == topic and isinstance(reply.get("offset"), int) and
          isinstance(reply.get("epoch"), str) and reply["epoch"] and reply.get("recovered") is recovered,
          "the answer to subscribing to %r: %r" % (topic, answer))
    return reply


async def single_process(port):
    url = f"ws://127.0.0.1:{port}/ws"
    async with websockets.connect(url + "?topics=news,prices%2Feu") as a, \
            websockets.connect(url) as b, websockets.connect(url + "?topics=sport") as c:
        await b.send(json.dumps({"subscribe": "news"}))
        subscribed(await recv(b), "news")
        await b.send('{ "subscribe" : "caf\\u00e9" }')
        subscribed(await recv(b), "café")
        await b.send("not json")
        check("error" in json.loads(await recv(b)), "bad command answer")

        status, body = post(port, "/publish/news", b"headline")
        check(status == 200 and json.loads(body) == {"topic": "news", "subscribers": 2, "offset": 1},
              "publish answer %s" % body)
        check(await published(a, "news") == "headline" and await published(b, "news") == "headline",
              "news reached its subscribers")
        status, body = post(port, "/publish/prices%2Feu", b"\xff\x00binary")
        check(json.loads(body)["subscribers"] == 1, "percent-encoded topic")
        check(await published(a, "prices/eu") == b"\xff\x00binary", "non-UTF-8 bodies go as binary (base64)")
        status, _ = post(port, "/publish/caf%C3%A9", "crème".encode())
        check(await published(b, "café") == "crème", "UTF-8 topic and text")

        await b.send(json.dumps({"unsubscribe": "news"}))
        check(json.loads(await recv(b)) == {"unsubscribed": "news"}, "unsubscribe answer")
        status, body = post(port, "/publish/news", b"second")
        check(json.loads(body)["subscribers"] == 1, "count after unsubscribe")
        check(await published(a) == "second", "still subscribed")
        status, _ = post(port, "/publish/sport", b"goal")
        check(await published(c, "sport") == "goal", "sport")
        # b got nothing since: the next thing it hears is the answer to this command.
        await b.send(json.dumps({"subscribe": "x"}))
        subscribed(await recv(b), "x")  # b heard nothing it had not asked for

        check(post(port, "/publish/news", b"x", token="wrong")[0] == 401, "wrong token")
        check(post(port, "/publish/news", b"x", token=None)[0] == 401, "no token")
        check(post(port, "/publish/", b"x")[0] == 400, "empty topic")
        check(post(port, "/publish/news", b"x" * (64 * 1024 + 1))[0] == 413, "body past --max-message")

    m = metrics(port)
    check(m["surge_publish_requests_total:accepted"] == 5, "accepted publishes %s" % m)
    check(m["surge_publish_requests_total:unauthorized"] == 2, "unauthorized publishes")
    check(m["surge_messages_out_total"] == 6 + 5, "deliveries and answers counted %s" % m)
    check(m["surge_messages_in_total"] == 5, "commands counted")
    check(m["surge_dropped_total"] == 0 and m["surge_slow_closed_total"] == 0, "nothing dropped")
    check(m["surge_ring_lag"] == 0, "no lag")


async def resume(port):
    # Offsets, envelopes (format=json) and resume, by URL and by command; raw delivery resumes too.
    url = f"ws://127.0.0.1:{port}/ws"
    async with websockets.connect(url + "?topics=feed") as a:  # envelopes: the default
        for n in range(1, 6):
            status, _ = post(port, "/publish/feed", b"m%d" % n)
            check(status == 200, "publish m%d" % n)
        for n in range(1, 6):
            check(json.loads(await recv(a)) == {"topic": "feed", "offset": n, "data": "m%d" % n}, "envelope %d" % n)
    for n in range(6, 9):
        post(port, "/publish/feed", b"m%d" % n)
    async with websockets.connect(url + "?topics=feed&format=json") as probe:
        await probe.send(json.dumps({"subscribe": "feed", "id": 1}))
        epoch = json.loads(await recv(probe))["epoch"]  # already subscribed by the URL: where the topic stands
    # By URL: what was missed, in order, then the answer, then live.
    async with websockets.connect(url + "?topics=feed&since=feed:5&epoch=%s&format=json" % epoch) as b:
        for n in (6, 7, 8):
            check(json.loads(await recv(b))["offset"] == n, "resumed by URL: %d" % n)
        answer = subscribed(await recv(b), "feed", recovered=True)
        check(answer["offset"] == 8 and answer["epoch"] == epoch, "the answer says where the topic stands")
        post(port, "/publish/feed", b"m9")
        check(json.loads(await recv(b)) == {"topic": "feed", "offset": 9, "data": "m9"}, "then live")
    # By command, with an id; and raw delivery (the default) resumes the same way.
    async with websockets.connect(url + "?format=json") as c, websockets.connect(url + "?format=raw") as d:
        await c.send(json.dumps({"subscribe": "feed", "since": 7, "epoch": epoch, "id": "r1"}))
        check([json.loads(await recv(c))["offset"] for _ in range(2)] == [8, 9], "resumed by command")
        answer = subscribed(await recv(c), "feed", recovered=True)
        check(answer["id"] == "r1", "the answer carries the command's id")
        await d.send(json.dumps({"subscribe": "feed", "since": 8}))
        check(await recv(d) == "m9", "raw delivery (format=raw) resumes with the bytes as published")
        subscribed(await recv(d), "feed", recovered=True)
        # Another epoch, or a position history no longer holds, is said plainly: live only.
        await d.send(json.dumps({"unsubscribe": "feed"}))
        check(json.loads(await recv(d)) == {"unsubscribed": "feed"}, "unsubscribed")
        await d.send(json.dumps({"subscribe": "feed", "since": 3, "epoch": "0000000000000000"}))
        subscribed(await recv(d), "feed", recovered=False)
    # Mistakes get an error that names them.
    async with websockets.connect(url + "?topics=feed&since=feed:x") as e:
        check(json.loads(await recv(e))["error"].startswith("since: expected topic:offset"), "a bad since in the URL")
        await e.send(json.dumps({"subscribe": "feed", "colour": "red"}))
        check("unknown member" in json.loads(await recv(e))["error"], "an unknown member")
    m = metrics(port)  # the history is accounted: what it holds, in publications and bytes
    check(m["surge_history_entries"] >= 9 and m["surge_history_bytes"] > 0 and m["surge_history_topics"] >= 1,
          "history in /metrics: %s" % {k: v for k, v in m.items() if k.startswith("surge_history")})
    async with websockets.connect(url + "?topics=feed&format=xml") as f:
        check(json.loads(await recv(f)) == {"error": "format is json (the default) or raw"}, "an unknown format")


async def limits(port):
    # Started with --max-subscriptions 3 --max-topic-bytes 16: every refusal is an error in valid JSON, in a text
    # frame, and names no topic it could not name safely.
    url = f"ws://127.0.0.1:{port}/ws"
    async with websockets.connect(url + "?topics=a,b,c,d") as d:
        answer = await recv(d)
        check(isinstance(answer, str) and "3 subscriptions" in json.loads(answer)["error"], "URL past the limit")
        await d.send(json.dumps({"subscribe": "e"}))
        check("error" in json.loads(await recv(d)), "command past the limit")
        await d.send(b'{"subscribe":"\xff\xfe"}')  # not UTF-8, in a binary frame
        answer = await recv(d)
        check(isinstance(answer, str) and "UTF-8" in json.loads(answer)["error"], "non-UTF-8 topic refused")
        await d.send(json.dumps({"unsubscribe": "a"}))
        check(json.loads(await recv(d)) == {"unsubscribed": "a"}, "unsubscribe makes room")
        await d.send(json.dumps({"subscribe": "x" * 17}))
        check("16 bytes" in json.loads(await recv(d))["error"], "topic past --max-topic-bytes")
        await d.send(json.dumps({"subscribe": "line\nbreak"}))
        check("error" in json.loads(await recv(d)), "control characters refused")
        await d.send(json.dumps({"subscribe": "e"}))
        subscribed(await recv(d), "e")  # a subscription within the limit
    # A chunked POST (what Go's and Node's HTTP clients send for a body of unknown length) publishes its body.
    async with websockets.connect(url + "?format=raw") as e:  # raw: the opcode shows what Content-Type decided
        # Subscribed by command, so the answer says the server holds the subscription before anything is published.
        await e.send(json.dumps({"subscribe": "chunks"}))
        subscribed(await recv(e), "chunks")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("POST", "/publish/chunks", body=iter([b"chunked ", b"body"]), encode_chunked=True)
        reply = connection.getresponse()
        answer = reply.read()
        check(reply.status == 200 and json.loads(answer)["subscribers"] == 1,
              "chunked publish answer: %s %s" % (reply.status, answer))
        connection.close()
        check(await recv(e) == "chunked body", "a chunked body is published whole")
        # One keep-alive connection publishes one POST after another; Content-Type says text or binary, and a
        # text type's body must be UTF-8 in UTF-8's charset (refusals leave the connection open too).
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.connect()
        kept = connection.sock
        for body, content_type, status, delivered in [
                (b"plain words", "application/octet-stream", 200, b"plain words"),
                ("h\u00e9llo".encode(), "text/plain; charset=utf-8", 200, "h\u00e9llo"),
                (b"{\"a\":1}", "application/json", 200, "{\"a\":1}"),
                (b"\xff\xfe", "text/plain", 400, None),
                (b"caf\xe9", "text/plain; charset=iso-8859-1", 415, None),
                (b"\xff\xfe", "", 200, b"\xff\xfe")]:
            headers = {"Content-Type": content_type} if content_type else {}
            connection.request("POST", "/publish/chunks", body=body, headers=headers)
            reply = connection.getresponse()
            answer = json.loads(reply.read())
            check(reply.status == status, "%s %r: %s %s" % (content_type, body, reply.status, answer))
            check(connection.sock is kept, "the publisher's connection stays open after a %d" % status)
            if delivered is not None:
                got = await recv(e)
                check(got == delivered and type(got) is type(delivered),
                      "%s is delivered as %s: %r" % (content_type or "no Content-Type", type(delivered), got))
            else:
                check("error" in answer and "application/octet-stream" in answer["error"], "the refusal says why")
        connection.close()
    status, body = post(port, "/publish/%ff%fe", b"x", token=None)
    check(status == 400 and "error" in json.loads(body), "non-UTF-8 publish topic: 400 with JSON")
    status, body = post(port, "/publish/" + "y" * 17, b"x", token=None)
    check(status == 400, "publish topic past --max-topic-bytes")
    m = metrics(port)
    check(m["surge_publish_requests_total:invalid"] == 4, "invalid publish topics and bodies counted %s" % m)
    check(m["surge_topics_refused_total"] == 3, "refused topic names counted (not UTF-8, too long, control)")
    before, before_404 = m["surge_requests_refused_total"], m["surge_requests_refused_total:404"]
    check(get(port, "/nowhere")[0] == 404, "an unknown path")
    after = metrics(port)
    check(after["surge_requests_refused_total"] == before + 1 and after["surge_requests_refused_total:404"] ==
          before_404 + 1, "the server's own refusals are counted, by status")
    check(metrics(port)["surge_subscriptions_refused_total"] == 2, "refused subscriptions counted")

    # Browser origins, without --allowed-origins: a page elsewhere may subscribe but not publish; the server's
    # own page (same origin) may publish.
    evil = {"Origin": "https://evil.example"}
    status, body = post_with(port, "/publish/news", b"csrf", evil)
    check(status == 403 and "origin" in json.loads(body)["error"], "a cross-site publish is refused")
    status, _ = post_with(port, "/publish/news", b"own page", {"Origin": f"http://127.0.0.1:{port}"})
    check(status == 200, "the server's own page publishes")
    async with websockets.connect(url + "?topics=news", origin="https://evil.example"):
        pass
    check(metrics(port)["surge_publish_requests_total:forbidden"] == 1, "forbidden publishes counted")

    # A subscriber that stops reading falls past --max-backpressure 65536 and its messages are dropped; a command it
    # sends then cannot be answered, and is not left unanswered: the connection closes with 1008, which it reads
    # after the messages it was sent. A raw socket, so that nothing reads behind the test's back (a WebSocket
    # library would keep draining the socket into its own buffers, and the queue could fall under its bound).
    slow = socket.socket()
    slow.settimeout(10)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: shrunk later, Linux stalls
    slow.connect(("127.0.0.1", port))
    slow.sendall(b"GET /ws?topics=flood&format=raw HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                 b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 b"Sec-WebSocket-Version: 13\r\n\r\n")
    head = b""
    while b"\r\n\r\n" not in head:
        head += slow.recv(1)
    check(head.startswith(b"HTTP/1.1 101"), "the raw subscriber upgraded: %r" % head)
    # Subscribed by the URL; a command's answer says the subscription is in place before the flood starts.
    slow.sendall(client_frame(1, json.dumps({"subscribe": "flood"}).encode()))
    opcode, payload = read_frame(slow)
    check(opcode == 1, "the slow subscriber's answer is text")
    subscribed(payload, "flood")
    # A command's reply is dropped only while the queue is past its bound when the command arrives; the kernel may
    # still take a little of the queue after the drops were seen, and then the reply is queued and comes, which
    # is right too. So: flood until drops, send a command, read up to its reply or the close; again until the
    # close (each round reads the backlog and floods again).
    closed = None
    for attempt in range(10):
        dropped_before = metrics(port)["surge_dropped_total"]
        for n in range(2000):  # up to 120 MB: the kernel's buffers on both sides take some MB first
            check(post(port, "/publish/flood", b"f" * 60000, token=None)[0] == 200, "flood publish")
            if n % 5 == 4 and metrics(port)["surge_dropped_total"] > dropped_before:
                break
        check(metrics(port)["surge_dropped_total"] > dropped_before, "the slow subscriber's messages are dropped")
        topic = "w%d" % attempt
        slow.sendall(client_frame(1, json.dumps({"subscribe": topic}).encode()))
        while True:
            opcode, payload = read_frame(slow)
            if opcode == 1 and payload == b"f" * 60000:
                continue
            break
        if opcode == 8:
            closed = int.from_bytes(payload[:2], "big"), payload[2:]
            break
        check(opcode == 1, "the reply, or else the close: %r" % payload[:80])
        subscribed(payload, topic)
    check(closed == (1008, b"replies are not being read"), "closed with 1008 and a reason: %s" % (closed,))
    slow.close()
    check(metrics(port)["surge_replies_undeliverable_total"] == 1, "the undeliverable reply is counted")
    m = metrics(port)  # --history-size 3: no topic keeps more, and the flood's older ones were let go
    check(0 < m["surge_history_entries"] <= 3 * m["surge_history_topics"] and m["surge_history_evicted_total"] > 0,
          "history bounded per topic: %s" % {k: v for k, v in m.items() if k.startswith("surge_history")})


def client_frame(opcode, payload):
    """One masked client frame (mask key 0: the payload goes as it is)."""
    n = len(payload)
    head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return head + b"\0\0\0\0" + payload


def read_exactly(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        check(chunk, "the connection ended mid-frame (%d of %d bytes)" % (len(data), n))
        data += chunk
    return data


def read_frame(sock):
    """(opcode, payload) of the next unmasked server frame."""
    first, second = read_exactly(sock, 2)
    n = second & 0x7F
    if n == 126:
        n = int.from_bytes(read_exactly(sock, 2), "big")
    elif n == 127:
        n = int.from_bytes(read_exactly(sock, 8), "big")
    return first & 0x0F, read_exactly(sock, n)


async def locked_down(port):
    # Started with --allowed-origins https://app.example and the token from a file.
    url = f"ws://127.0.0.1:{port}/ws?topics=news"
    try:
        async with websockets.connect(url, origin="https://evil.example"):
            check(False, "an upgrade from an origin not listed was accepted")
    except websockets.exceptions.InvalidStatus as refused:
        check(refused.response.status_code == 403, "an upgrade from an origin not listed gets 403")
    except websockets.exceptions.InvalidStatusCode as refused:  # older websockets
        check(refused.status_code == 403, "an upgrade from an origin not listed gets 403")
    async with websockets.connect(url, origin="https://app.example") as app:
        check(post(port, "/publish/news", b"x", token="wrong")[0] == 401, "the file's token is required")
        status, _ = post_with(port, "/publish/news", b"from app", {"Origin": "https://app.example",
                                                                   "Authorization": "Bearer " + FILE_TOKEN})
        check(status == 200, "a listed origin with the token publishes")
        check(await published(app) == "from app", "and its subscriber hears it")


async def admin_listener(port, admin):
    # Started with --admin-address 127.0.0.1:0 --max-connections 20 --max-per-address 0.
    status, body = post(port, "/publish/news", b"x", token="")
    check(status == 404 and json.loads(body)["error"].startswith("publishing is not served on this port"),
          "the public port does not publish: %s %s" % (status, body))
    check(get(port, "/metrics")[0] == 404, "nor serve /metrics")
    check(get(port, "/health")[0] == 200 and get(admin, "/health")[0] == 200, "both answer /health")
    # Subscribers take every connection the public port allows; the next one is refused.
    subscribers = [await websockets.connect(f"ws://127.0.0.1:{port}/ws?topics=news") for _ in range(20)]
    try:
        try:
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws?topics=news", open_timeout=10):
                check(False, "a 21st connection was accepted past --max-connections 20")
        except websockets.exceptions.InvalidStatusCode as refused:
            check(refused.status_code == 503, "past --max-connections: 503, got %s" % refused.status_code)
        except websockets.exceptions.InvalidStatus as refused:  # newer websockets
            check(refused.response.status_code == 503, "past --max-connections: 503")
        # Publishing goes on through the admin listener, and every subscriber hears it.
        for ws in subscribers:  # the URL subscription is made right after the 101: be sure it is
            await ws.send(json.dumps({"subscribe": "news"}))
            subscribed(await recv(ws), "news")
        status, body = post(admin, "/publish/news", b"still publishing", token="")
        check(status == 200 and json.loads(body)["subscribers"] == 20, "admin publish: %s %s" % (status, body))
        for ws in subscribers:
            check(await published(ws) == "still publishing", "every subscriber got it")
    finally:
        for ws in subscribers:
            await ws.close()
    m = metrics(admin)
    check(m["surge_refused_at_capacity_total"] == 1, "the refusal is counted: %s" % m)
    check(m["surge_publish_requests_total:accepted"] == 1, "the publish is counted")
    # Through a trusted proxy (127.0.0.1 here), the access log names the client it forwards for.
    status, _ = post_with(admin, "/publish/news", b"forwarded", {"X-Forwarded-For": "203.0.113.9"})
    check(status == 200, "a forwarded publish")


def check_access_log(path):
    # Started with --access-log PATH --trusted-proxies 127.0.0.1 for admin_listener().
    lines = open(path).read().splitlines()
    pattern = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (\S+) "([^"]*)" (\d{3}) (\d+)$')
    records = []
    for line in lines:
        match = pattern.match(line)
        check(match is not None, "an access log line: %r" % line)
        records.append(match.groups())
    def count(request, status):
        return sum(1 for r in records if r[1] == request and r[2] == status)
    check(count("POST /publish/news", "404") == 1, "the public port's 404 is logged: %s" % lines)
    check(count("GET /ws?topics=news", "101") == 20, "every upgrade is logged")
    check(count("-", "503") == 1, "the refusal at capacity is logged")
    check(count("POST /publish/news", "200") == 2, "both publishes on the admin listener are logged")
    forwarded = [r for r in records if r[0] == "203.0.113.9"]
    check(len(forwarded) == 1 and forwarded[0][1:] == ("POST /publish/news", "200", "43"),
          "the forwarded client is named: %s" % forwarded)


async def two_workers(port):
    # Enough subscribers that SO_REUSEPORT puts some on each worker (the chance it does not is 2^-15).
    subscribers = [await websockets.connect(f"ws://127.0.0.1:{port}/ws?topics=all") for _ in range(16)]
    try:
        for n in range(4):  # each POST lands on either worker
            status, body = post(port, "/publish/all", b"m%d" % n, token="")
            check(status == 200, "publish %d: %s" % (n, body))
            check(json.loads(body)["offset"] == n + 1, "one offset over both workers: %s" % body)
            for ws in subscribers:
                check(await published(ws) == "m%d" % n, "every subscriber of every worker got m%d" % n)
    finally:
        for ws in subscribers:
            await ws.close()
    # Resumes land on either worker (SO_REUSEPORT picks) and are served alike from the offsets the workers share.
    epochs = set()
    for _ in range(8):
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws?topics=all&since=all:2") as ws:
            check([await published(ws) for _ in range(2)] == ["m2", "m3"], "a resume got what followed offset 2")
            epochs.add(subscribed(await recv(ws), "all", recovered=True)["epoch"])
    check(len(epochs) == 1, "one epoch over both workers: %s" % epochs)
    # Any worker answers for both: every scrape has both workers' series (the answering one as of now, its
    # sibling as of its last second), and the sums are the whole server's.
    deadline = time.monotonic() + 5
    while True:
        seen = set()
        m = metrics(port, seen)
        check(seen == {"0", "1"}, "one scrape reports both workers: %s" % seen)
        # Each worker with subscribers (both: 16 of them) is handed each publication once by the workers' hub.
        settled = (m["surge_publish_requests_total:accepted"] == 4 and m["surge_broker_delivered_total"] == 8 and
                   m["surge_connections_opened_total"] == 24 and m["surge_closes_total:1000"] == 24)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check(settled, "4 publishes taken, each delivered to both workers, 24 subscribers (16, then 8 resuming) opened and closed "
          "with 1000, over both workers: %s" % m)
    check(m["surge_broker_publish_failures_total"] == 0 and m["surge_broker_connected"] == 2,
          "both workers on the hub, no publish refused")
    check(m["process_max_fds"] > 0 and m["process_resident_memory_bytes"] > 0, "process figures per worker")


def main():
    binary, backend = sys.argv[1], sys.argv[2]
    server, port = start(binary, backend, "--token", TOKEN)
    try:
        asyncio.run(single_process(port))
        asyncio.run(resume(port))
    finally:
        stop(server)
    print("single process: ok", flush=True)

    server, port = start(binary, backend, "--max-subscriptions", "3", "--max-topic-bytes", "16",
                         "--max-backpressure", "65536", "--history-size", "3")
    try:
        asyncio.run(limits(port))
        # A second surge-push on the same port refuses to start instead of splitting the clients with the first.
        second = subprocess.run([binary, "--port", str(port), "--backend", backend], capture_output=True,
                                text=True, timeout=15)
        check(second.returncode != 0 and "another process serves this port" in second.stdout + second.stderr,
              "a second server on the port: %s %s" % (second.returncode, second.stdout + second.stderr))
    finally:
        stop(server)
    print("limits: ok", flush=True)

    with tempfile.NamedTemporaryFile("w", suffix=".token") as token_file:
        token_file.write(FILE_TOKEN + "\n")
        token_file.flush()
        server, port = start(binary, backend, "--allowed-origins", "https://app.example", "--token-file",
                             token_file.name)
        try:
            asyncio.run(locked_down(port))
        finally:
            stop(server)
    print("locked down: ok", flush=True)

    with tempfile.TemporaryDirectory() as directory:
        access_log = os.path.join(directory, "access.log")
        server, (port, admin) = start(binary, backend, "--admin-address", "127.0.0.1:0", "--max-connections", "20",
                                      "--max-per-address", "0", "--access-log", access_log,
                                      "--trusted-proxies", "127.0.0.1")
        try:
            asyncio.run(admin_listener(port, admin))
        finally:
            stop(server)
        check_access_log(access_log)
    print("admin listener and access log: ok", flush=True)

    server, port = start(binary, backend, "--workers", "2")
    try:
        asyncio.run(two_workers(port))
    finally:
        stop(server)
    print("two workers: ok", flush=True)


if __name__ == "__main__":
    main()
