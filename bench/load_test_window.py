#!/usr/bin/env python3
"""Runs uWebSockets' benchmarks/load_test (a peer's echo load generator, built outside this repository) against a
server and measures, over the same seconds, how many echoes it counted and how much CPU the server used.

load_test prints "Msg/sec: X" every 4 seconds once every connection is up, and runs until stopped. The first
report is left out (its interval starts before the timer's first tick); the next `reports` are averaged, and the
server's CPU time (utime + stime of every thread, from /proc) is read at the line before the first kept report
and at the last one, so both figures cover exactly the same interval; so are the times the server slept (its
threads' voluntary context switches: a server that is not saturated is woken about once per message).

Usage: load_test_window.py LOAD_TEST SERVER_PID PORT CONNECTIONS SIZE REPORTS JSON_OUT [taskset CPU]
Writes {"messages_per_second", "server_cpu_per_second", "server_sleeps_per_second", "reports"} to JSON_OUT.
"""
import json
import os
import subprocess
import sys
import time

LOAD_TEST_INTERVAL_S = 4


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sleeps(pid):
    total = 0
    for task in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/status" % (pid, task)) as f:
            total += sum(int(line.split()[1]) for line in f if line.startswith("voluntary_ctxt_switches"))
    return total


def main():
    load_test, server, port, connections, size, reports, out = sys.argv[1:8]
    server, reports = int(server), int(reports)
    command = [load_test, connections, "127.0.0.1", port, "0", "0", size]
    if len(sys.argv) > 8:
        command = ["taskset", "-c", sys.argv[8]] + command
    # Line-buffered through a pipe: load_test's printf goes to a pipe, so it is made to flush with stdbuf.
    generator = subprocess.Popen(["stdbuf", "-oL"] + command, stdout=subprocess.PIPE, text=True)
    rates, marks = [], []
    # load_test opens its connections one after another while those open already echo at full speed: 7,560 of
    # 10,000 were open after 15 s here, so the deadline grows with the count.
    deadline = time.monotonic() + 60 + int(connections) / 50 + LOAD_TEST_INTERVAL_S * (reports + 2)
    try:
        for line in generator.stdout:
            if time.monotonic() > deadline:
                sys.exit("load_test_window: load_test did not report in time (%s connections)" % connections)
            if line.startswith("Closed!") or line.startswith("ERROR"):
                sys.exit("load_test_window: load_test says: " + line.strip())
            if not line.startswith("Msg/sec:"):
                continue
            marks.append((time.monotonic(), cpu_seconds(server), sleeps(server)))
            rates.append(float(line.split(":")[1]))
            if len(rates) == reports + 1:
                break
    finally:
        generator.terminate()
        generator.wait()
    if len(rates) < reports + 1:
        sys.exit("load_test_window: load_test stopped after %d reports" % len(rates))
    (t0, c0, s0), (t1, c1, s1) = marks[0], marks[-1]
    kept = rates[1:]
    result = {"messages_per_second": sum(kept) / len(kept), "server_cpu_per_second": (c1 - c0) / (t1 - t0),
              "server_sleeps_per_second": (s1 - s0) / (t1 - t0), "reports": kept}
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
