#!/usr/bin/env python3
"""Where --workers put their shards: when the workers' shards fit the CPUs (workers x threads <= CPUs), each
shard thread runs on a CPU of its own, none shared across workers; past that none is pinned, and the scheduler
places them. (Every worker once pinned its shard 0 to CPU 0: with --workers 56 --threads 1 on two CPUs, all the
workers shared one CPU while the other served only the clients.)

Usage: worker_pinning_test.py SURGE_ECHO   (exit 0 on success)
"""
import os
import signal
import subprocess
import sys
import time

from test_support import check, free_port


def allowed_cpus(pid, tid):
    with open("/proc/%d/task/%d/status" % (pid, tid)) as f:
        for line in f:
            if line.startswith("Cpus_allowed_list:"):
                cpus = set()
                for part in line.split(":", 1)[1].strip().split(","):
                    low, _, high = part.partition("-")
                    cpus.update(range(int(low), int(high or low) + 1))
                return cpus
    return set()


def children(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(p) for p in f.read().split()]


def pinned_threads(workers, threads):
    """{worker pid: [the CPU of each thread allowed on one CPU only]} of a surge-echo with these flags."""
    port = free_port()
    server = subprocess.Popen([sys.argv[1], "--port", str(port), "--address", "127.0.0.1", "--workers",
                               str(workers), "--threads", str(threads)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = server.stdout.readline()  # the announcement: every worker listens, its shards are running
        check("surge-echo:" in line, "surge-echo did not start: %r" % line)
        time.sleep(0.2)  # the shard threads are pinned right after they start
        result = {}
        for worker in children(server.pid):
            cpus = [allowed_cpus(worker, int(t)) for t in os.listdir("/proc/%d/task" % worker)]
            result[worker] = sorted(next(iter(c)) for c in cpus if len(c) == 1)
        check(len(result) == workers, "%d worker processes, not %d" % (len(result), workers))
        return result
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


def main():
    machine = len(os.sched_getaffinity(0))
    online = os.cpu_count()
    if machine != online:
        print("skipped: this process may use %d of %d CPUs" % (machine, online))
        return
    if online >= 2:
        fit = pinned_threads(2, 1)
        every = [cpu for cpus in fit.values() for cpu in cpus]
        check(all(len(cpus) == 1 for cpus in fit.values()), "one pinned shard per worker: %r" % fit)
        check(len(set(every)) == 2, "the two workers' shards on two CPUs, not one: %r" % fit)
    over = pinned_threads(online + 1, 1)
    check(all(not cpus for cpus in over.values()), "%d workers on %d CPUs: none pinned: %r" % (online + 1, online, over))
    print("worker pinning: ok", flush=True)


if __name__ == "__main__":
    main()
