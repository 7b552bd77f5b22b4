#!/usr/bin/env python3
"""Several surge-push nodes on one Redis (--redis): what a cluster must promise, end to end.

A redis-server is started on a free loopback port (and stopped), then three nodes on it. Checked:
  1. publishes taken by every node reach the subscribers of every node, each once, in offset order, the offsets
     being the ones the publishers were answered (global: 1, 2, 3, ... over the nodes);
  2. a subscriber that leaves one node and resumes on another (since=topic:offset, epoch) gets exactly what it
     missed, then the live stream, while publishing goes on;
  3. the nodes' subscribing connections are cut by Redis (CLIENT KILL) while publishing goes on: each node
     reconnects, notices the offsets it missed and fills them from the Redis stream: nothing lost for anyone;
     and the same with 600 topics heard by one connection (the node catches them all up, batched);
  4. Redis restarts (with its append-only file) while publishing goes on: publishes answer 503 meanwhile (never
     200 for what was not published), and every subscriber ends with every publication that was answered 200;
  5. a node is killed with SIGKILL: its subscribers resume on another node with nothing lost;
  6. Redis restarts without its data: a subscriber resuming from before is told recovered:false, and the new
     epoch's publications reach it.
With --workers, the same publish-everywhere check runs on one node of two worker processes.

Usage: redis_cluster_test.py SURGE_PUSH REDIS_SERVER BACKEND   (exit 0 on success; every wait is bounded)
"""
import asyncio
import json
import os
import shutil
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

from test_support import check, free_port


class Redis:
    """A redis-server of the test's own, on a loopback port; `persist` keeps an append-only file."""

    def __init__(self, binary, directory):
        self.binary, self.directory, self.port, self.process = binary, directory, free_port(), None

    def start(self, persist=True):
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.directory,
             "--appendonly", "yes" if persist else "no", "--appendfsync", "always", "--daemonize", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            if self.command("PING") == b"+PONG\r\n":
                return
            time.sleep(0.05)
        check(False, "redis-server did not answer on port %d" % self.port)

    def command(self, *words):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                s.sendall((" ".join(words) + "\r\n").encode())
                return s.recv(65536)
        except OSError:
            return b""

    def stop(self, wipe=False):
        if self.process:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
        if wipe:
            for name in os.listdir(self.directory):
                path = os.path.join(self.directory, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


class Node:
    def __init__(self, binary, backend, redis, *extra):
        self.process = subprocess.Popen(
            [binary, "--port", "0", "--backend", backend, "--threads", "2", "--redis",
             "redis://127.0.0.1:%d" % redis.port, "--redis-prefix", "test:", *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.log = []
        for _ in range(50):
            line = self.process.stdout.readline()
            self.log.append(line)
            if "ws://127.0.0.1:" in line:
                self.port = int(line.split("ws://127.0.0.1:")[1].split("/")[0])
                threading.Thread(target=lambda: self.log.extend(self.process.stdout), daemon=True).start()
                return
            if not line:
                break
        self.process.kill()
        check(False, "surge-push did not start: " + "".join(self.log))

    def stop(self):
        if self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            status = self.process.wait(15)
            check(status == 0, "surge-push exited with %s:\n%s" % (status, "".join(self.log[-40:])))
        except subprocess.TimeoutExpired:
            self.process.kill()
            check(False, "surge-push did not stop")


def publish(port, topic, body):
    request = urllib.request.Request("http://127.0.0.1:%d/publish/%s" % (port, topic), data=body.encode(),
                                     method="POST", headers={"Content-Type": "text/plain"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError as error:
        return 0, str(error)


class Publisher(threading.Thread):
    """Publishes `count` messages to `topic`, round robin over the ports it is given (a port that stops
    answering is skipped), retrying each until it is answered 200; keeps offset -> body, how many 503s (not
    published), and the bodies answered 504 (Redis's answer lost: published or not, unknown; retried, so such a
    body may be published twice)."""

    def __init__(self, ports, topic, count, pause=0.002):
        super().__init__(daemon=True)
        self.ports, self.topic, self.count, self.pause = list(ports), topic, count, pause
        self.sent, self.unavailable, self.unconfirmed = {}, 0, set()

    def run(self):
        turn = 0
        for n in range(self.count):
            body = "%s-%d" % (self.topic, n)
            deadline = time.time() + 30
            while True:
                port = self.ports[turn % len(self.ports)]
                turn += 1
                status, answer = publish(port, self.topic, body)
                if status == 200:
                    check(answer["offset"] not in self.sent, "offset %s given twice" % answer["offset"])
                    self.sent[answer["offset"]] = body
                    break
                check(status in (503, 504, 0), "publish answered %s: %s" % (status, answer))
                self.unavailable += status == 503
                if status == 504:
                    self.unconfirmed.add(body)
                check(time.time() < deadline, "no node took a publish for 30 s")
                time.sleep(0.02)
            time.sleep(self.pause)


async def read_until(ws, predicate, seconds, take):
    """Reads JSON messages from `ws`, each given to `take`, until `predicate()` holds (True) or `seconds` have
    passed or the connection closed (then whether it holds)."""
    deadline = time.time() + seconds
    while not predicate():
        left = deadline - time.time()
        if left <= 0:
            return False
        try:
            message = json.loads(await asyncio.wait_for(ws.recv(), left))
        except (asyncio.TimeoutError, websockets.ConnectionClosed):
            return predicate()
        take(message)
    return True


class Subscriber:
    """Holds a WebSocket to a node, records each publication (offset, data) and each subscribe answer."""

    def __init__(self, topic):
        self.topic, self.received, self.answers, self.ws, self.epoch = topic, [], [], None, ""
        self.epochs = []  # epochs announced in envelopes (the topic's epoch changed under the connection)

    async def connect(self, port, since=None):
        url = "ws://127.0.0.1:%d/ws?topics=%s" % (port, self.topic)
        if since is not None:
            url += "&since=%s:%d&epoch=%s" % (self.topic, since, self.epoch)
        self.ws = await websockets.connect(url, max_queue=None)
        if since is None:
            await self.ws.send(json.dumps({"subscribe": self.topic, "id": 1}))

    async def read_until(self, predicate, seconds):
        return await read_until(self.ws, predicate, seconds, self.take)

    def take(self, message):
        if "data" in message:
            check(message["topic"] == self.topic, "a publication of another topic: %s" % message)
            self.received.append((message["offset"], message["data"]))
            if "epoch" in message:
                self.epochs.append(message["epoch"])
        elif "subscribed" in message:
            self.answers.append(message)
            self.epoch = message["epoch"]
        else:
            check(False, "unexpected message %s" % message)

    def last_offset(self):
        return self.received[-1][0] if self.received else 0

    async def close(self):
        await self.ws.close()


async def subscribed_on(ports, topic):
    """A subscriber to `topic` on each port given (a port given twice, two), each answered."""
    subscribers = []
    for port in ports:
        subscriber = Subscriber(topic)
        await subscriber.connect(port)
        check(await subscriber.read_until(lambda s=subscriber: s.answers, 5), "no subscribe answer")
        subscribers.append(subscriber)
    return subscribers


def check_exact(subscriber, sent, name, unconfirmed=()):
    """`subscriber` got every offset once and in order, each with what was published there. An offset the publisher
    was never answered for must be a retried body answered 504 (`unconfirmed`): those are counted as sent."""
    for offset, data in subscriber.received:
        if offset not in sent and data in unconfirmed:
            sent = {**sent, offset: data}
    offsets = [offset for offset, _ in subscriber.received]
    expected = sorted(sent)
    first = next((i for i, (a, b) in enumerate(zip(offsets, expected)) if a != b), min(len(offsets), len(expected)))
    check(offsets == expected, "%s: got %d offsets, %d published; from index %d got %s, expected %s" %
          (name, len(offsets), len(expected), first, offsets[first:first + 10], expected[first:first + 10]))
    for offset, data in subscriber.received:
        check(sent[offset] == data, "%s: offset %d carries %r, published %r" % (name, offset, data, sent[offset]))


async def drain(subscribers, sent_of, seconds=20):
    """Reads until each subscriber has the newest offset published (offsets come in order; a retried publication
    answered 504 may add one the publisher was never answered for, so counting would stop short)."""
    for subscriber in subscribers:
        ok = await subscriber.read_until(lambda s=subscriber: s.last_offset() >= max(sent_of()), seconds)
        check(ok, "a subscriber got up to offset %d of %d" % (subscriber.last_offset(), max(sent_of())))


async def everywhere(nodes, topic, count):
    """1: three subscribers on each node, publishers on every node at once."""
    subscribers = await subscribed_on([node.port for node in nodes] * 3, topic)
    publishers = [Publisher([node.port], topic, count // len(nodes), pause=0) for node in nodes]
    for publisher in publishers:
        publisher.start()
    for publisher in publishers:
        publisher.join(60)
    sent = {}
    for publisher in publishers:
        sent.update(publisher.sent)
    check(sorted(sent) == list(range(1, len(sent) + 1)), "offsets are not 1..%d: %s" % (len(sent), sorted(sent)[:10]))
    await drain(subscribers, lambda: sent)
    for i, subscriber in enumerate(subscribers):
        check_exact(subscriber, sent, "subscriber %d on node %d" % (i, i % len(nodes)))
        await subscriber.close()
    print("  everywhere: %d publications on %d nodes reached %d subscribers, in order" %
          (len(sent), len(nodes), len(subscribers)), flush=True)


async def move_and_resume(nodes, topic):
    """2: leave node 0 part way, resume on node 1 while node 2 takes publishes."""
    mover = Subscriber(topic)
    await mover.connect(nodes[0].port)
    check(await mover.read_until(lambda: mover.answers, 5), "no subscribe answer")
    publisher = Publisher([nodes[2].port], topic, 400, pause=0.003)
    publisher.start()
    check(await mover.read_until(lambda: len(mover.received) >= 100, 20), "the mover got nothing")
    await mover.close()
    left_at = mover.last_offset()
    await asyncio.sleep(0.3)  # publishing goes on meanwhile
    await mover.connect(nodes[1].port, since=left_at)
    publisher.join(60)
    await drain([mover], lambda: publisher.sent)
    check(mover.answers[-1]["recovered"] is True, "the resume was not recovered: %s" % mover.answers[-1])
    check_exact(mover, publisher.sent, "the mover")
    await mover.close()
    print("  left node 0 after offset %d, resumed on node 1 (%d publications in all): exactly" %
          (left_at, len(publisher.sent)), flush=True)


async def through_cuts(nodes, redis, topic):
    """3: Redis cuts every node's subscribing connection three times during publishing."""
    subscribers = await subscribed_on([node.port for node in nodes], topic)
    publisher = Publisher([node.port for node in nodes], topic, 600, pause=0.002)
    publisher.start()
    cuts = 0
    for _ in range(3):
        await asyncio.sleep(0.4)
        answer = redis.command("CLIENT", "KILL", "TYPE", "pubsub")
        cuts += int(answer[1:].split(b"\r")[0] or 0) if answer.startswith(b":") else 0
        for subscriber in subscribers:  # keep reading meanwhile
            await subscriber.read_until(lambda: False, 0.05)
    publisher.join(60)
    await drain(subscribers, lambda: publisher.sent)
    for i, subscriber in enumerate(subscribers):
        check_exact(subscriber, publisher.sent, "subscriber on node %d through cuts" % i)
        await subscriber.close()
    check(cuts >= len(nodes), "CLIENT KILL cut %d connections" % cuts)
    print("  %d subscribing connections cut during %d publications: every node filled its gaps" %
          (cuts, len(publisher.sent)), flush=True)


class TopicsPublisher(threading.Thread):
    """Publishes `rounds` messages to each of `topics` (round after round) through `port`, retrying each until it
    is answered 200; keeps (topic, offset) -> body."""

    def __init__(self, port, topics, rounds):
        super().__init__(daemon=True)
        self.port, self.topics, self.rounds, self.sent = port, topics, rounds, {}

    def run(self):
        for n in range(self.rounds):
            for topic in self.topics:
                body = "%s-%d" % (topic, n)
                deadline = time.time() + 30
                while True:
                    status, answer = publish(self.port, topic, body)
                    if status == 200:
                        self.sent[(topic, answer["offset"])] = body
                        break
                    check(status in (503, 504, 0), "publish answered %s: %s" % (status, answer))
                    check(time.time() < deadline, "no publish to %s taken for 30 s" % topic)
                    time.sleep(0.02)


async def many_topics_through_cuts(nodes, redis, count):
    """3b: one connection on node 0 hears `count` topics; Redis cuts the nodes' subscribing connections while
    node 1 publishes to every topic: node 0 catches every topic up after each cut (their first history reads go
    in batches, one round trip each), and the connection gets every publication of every topic once, in order."""
    topics = ["many%d" % i for i in range(count)]
    ws = await websockets.connect("ws://127.0.0.1:%d/ws" % nodes[0].port, max_queue=None)
    for i, topic in enumerate(topics):
        await ws.send(json.dumps({"subscribe": topic, "id": i}))
    received, answered = {}, set()  # topic -> [(offset, data)]

    def take(message):
        if "data" in message:
            received.setdefault(message["topic"], []).append((message["offset"], message["data"]))
        elif "subscribed" in message:
            answered.add(message["subscribed"])
        else:
            check(False, "unexpected message %s" % message)

    check(await read_until(ws, lambda: len(answered) == count, 20, take),
          "%d of %d subscribes answered" % (len(answered), count))
    caught_up_before = sum("caught up %d topics" % count in line for line in list(nodes[0].log))
    publisher = TopicsPublisher(nodes[1].port, topics, 3)
    publisher.start()
    cuts = 0
    for _ in range(3):
        await read_until(ws, lambda: False, 0.3, take)
        answer = redis.command("CLIENT", "KILL", "TYPE", "pubsub")
        cuts += int(answer[1:].split(b"\r")[0] or 0) if answer.startswith(b":") else 0
    publisher.join(120)
    check(not publisher.is_alive(), "the publisher did not finish")
    expected = {}
    for (topic, offset), body in sorted(publisher.sent.items(), key=lambda item: item[0][1]):
        expected.setdefault(topic, []).append((offset, body))
    complete = lambda: all(len(received.get(t, [])) >= len(expected.get(t, [])) for t in topics)
    check(await read_until(ws, complete, 30, take), "%d of %d topics complete" %
          (sum(len(received.get(t, [])) >= len(expected[t]) for t in topics), count))
    await read_until(ws, lambda: False, 0.3, take)  # anything more would be a repeat
    for topic in topics:
        check(received.get(topic) == expected[topic], "topic %s: got %s, published %s" %
              (topic, received.get(topic), expected[topic]))
    caught_up = sum("caught up %d topics" % count in line for line in list(nodes[0].log)) - caught_up_before
    check(cuts >= len(nodes) and caught_up >= 1, "%d connections cut; node 0 caught up all %d topics %d times" %
          (cuts, count, caught_up))
    await ws.close()
    print("  %d topics heard by one connection, %d subscribing connections cut during %d publications: node 0 "
          "caught them all up %d times, nothing lost or repeated" % (count, cuts, len(publisher.sent), caught_up),
          flush=True)


async def through_restart(nodes, redis, topic):
    """4: Redis stops for a second and comes back with its append-only file, during publishing."""
    subscribers = await subscribed_on([node.port for node in nodes], topic)
    publisher = Publisher([node.port for node in nodes], topic, 500, pause=0.003)
    publisher.start()
    await asyncio.sleep(0.5)
    redis.stop()
    for subscriber in subscribers:
        await subscriber.read_until(lambda: False, 0.3)
    await asyncio.sleep(0.7)
    redis.start(persist=True)
    publisher.join(90)
    await drain(subscribers, lambda: publisher.sent, seconds=30)
    for i, subscriber in enumerate(subscribers):
        check_exact(subscriber, publisher.sent, "subscriber on node %d through a Redis restart" % i,
                    publisher.unconfirmed)
        await subscriber.close()
    check(publisher.unavailable > 0, "no publish was answered 503 while Redis was down")
    print("  Redis restarted during %d publications (%d answered 503 meanwhile, %d 504, then retried): nothing lost" %
          (len(publisher.sent), publisher.unavailable, len(publisher.unconfirmed)), flush=True)


async def node_killed(binary, backend, redis, nodes, topic):
    """5: a node dies with SIGKILL; its subscribers resume on the others."""
    doomed = Node(binary, backend, redis)
    subscribers = await subscribed_on([doomed.port] * 4, topic)
    publisher = Publisher([nodes[0].port], topic, 400, pause=0.003)
    publisher.start()
    await asyncio.sleep(0.4)
    for subscriber in subscribers:
        await subscriber.read_until(lambda: False, 0.05)
    doomed.process.kill()
    doomed.process.wait(10)
    for i, subscriber in enumerate(subscribers):
        await subscriber.read_until(lambda: False, 0.2)  # until the connection is seen closed
        await subscriber.connect(nodes[i % len(nodes)].port, since=subscriber.last_offset())
    publisher.join(60)
    await drain(subscribers, lambda: publisher.sent)
    for i, subscriber in enumerate(subscribers):
        check(subscriber.answers[-1]["recovered"] is True, "not recovered after the node died")
        check_exact(subscriber, publisher.sent, "subscriber %d of the killed node" % i)
        await subscriber.close()
    print("  a node killed with SIGKILL: its %d subscribers resumed on the others, nothing lost" % len(subscribers),
          flush=True)


async def data_lost(nodes, redis, topic):
    """6: Redis comes back empty: a resume from the old epoch is not recovered, and the new epoch flows."""
    old = Subscriber(topic)
    await old.connect(nodes[0].port)
    check(await old.read_until(lambda: old.answers, 5), "no subscribe answer")
    first = Publisher([nodes[1].port], topic, 20, pause=0)
    first.run()
    check(await old.read_until(lambda: len(old.received) >= 20, 10), "the first run did not arrive")
    old_epoch = old.epoch
    await old.close()
    stayer = Subscriber(topic)  # connected through the loss: told by the envelope that the epoch changed
    await stayer.connect(nodes[2].port, since=20)
    stayer.epoch = old_epoch
    check(await stayer.read_until(lambda: stayer.answers, 5), "no subscribe answer")
    redis.stop(wipe=True)
    redis.start(persist=False)
    again = Subscriber(topic)
    again.epoch = old_epoch
    # Until node 1 has reconnected, its resume may not know yet: retry for a few seconds.
    deadline = time.time() + 10
    while True:
        await again.connect(nodes[1].port, since=20)
        await again.read_until(lambda: again.answers, 5)
        # While node 1 is still reconnecting it cannot know the epoch: it answers "" (and recovered:false).
        if again.answers and again.answers[-1]["epoch"] not in ("", old_epoch):
            break
        await again.close()
        again.answers.clear()
        check(time.time() < deadline, "the node never saw Redis's new epoch")
        await asyncio.sleep(0.2)
    answer = again.answers[-1]
    check(answer["recovered"] is False, "a resume across lost data said recovered: %s" % answer)
    second = Publisher([nodes[2].port], topic, 10, pause=0)
    second.run()
    check(sorted(second.sent) == list(range(1, 11)), "the new epoch's offsets are %s" % sorted(second.sent))
    await drain([again], lambda: second.sent)
    check_exact(again, second.sent, "the subscriber of the new epoch")
    await again.close()
    check(await stayer.read_until(lambda: len(stayer.received) >= 10, 10), "the stayer got %s" % stayer.received)
    check_exact(stayer, second.sent, "the subscriber that stayed connected")
    check(stayer.epochs == [answer["epoch"]], "the new epoch was said once, in the first envelope: %s (the resume said %s, old %s)" % (stayer.epochs, answer["epoch"], old_epoch))
    await stayer.close()
    print("  Redis lost its data: the resume said recovered:false (epoch %s -> %s), the new epoch arrived" %
          (old_epoch, answer["epoch"]), flush=True)


async def main(binary, redis_binary, backend):
    directory = tempfile.mkdtemp(prefix="surge-redis-")
    redis = Redis(redis_binary, directory)
    redis.start(persist=True)
    nodes = []
    try:
        # --max-subscriptions: one connection of scenario 3b hears 600 topics (the default allows 100).
        nodes = [Node(binary, backend, redis, "--max-subscriptions", "1000") for _ in range(3)]
        await everywhere(nodes, "everywhere", 600)
        await move_and_resume(nodes, "moving")
        await through_cuts(nodes, redis, "cuts")
        await many_topics_through_cuts(nodes, redis, 600)
        await through_restart(nodes, redis, "restart")
        await node_killed(binary, backend, redis, nodes, "killed")
        await data_lost(nodes, redis, "lost")
        for node in nodes:
            node.stop()
        workers = Node(binary, backend, redis, "--workers", "2")
        nodes = [workers]
        await everywhere([workers, workers], "workers", 200)
        workers.stop()
        nodes = []
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.process.kill()
        redis.stop(wipe=True)
        shutil.rmtree(directory, ignore_errors=True)
    print("redis cluster: all checks passed (%s)" % backend)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__)
        sys.exit(2)
    asyncio.run(asyncio.wait_for(main(*sys.argv[1:]), 300))
