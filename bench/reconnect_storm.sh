#!/usr/bin/env bash
# The reconnect storm: N subscribers (default 10,000) of one topic are cut at once while publishing goes on, and
# all come back at once, each resuming from B publications back (default 100). Measured: how long until every
# one of them had caught up (received the B it was owed and the first live one), the server's CPU seconds over
# the storm, its resident memory at the peak, and the loss check (no publication lost, none twice: the
# publisher numbers its messages and every subscriber checks the numbers, history and live alike).
# The server is surge-push on --threads T (default 2); the publisher posts --rate R messages/s (default 50) of
# 32 bytes throughout; subscribers use format=raw so that they read the publisher's numbers. The cut is a
# SIGKILL of the subscribers' process: the kernel resets every connection at once, as a network failure would.
# surge-load (subscribers, publisher) and the server share the machine's CPUs. With --envelope the subscribers
# take surge-push's default JSON envelopes instead (what a browser gets): then they cannot read the numbers, and
# only the catch-up, the CPU and the memory are measured.
#
# Usage: bench/reconnect_storm.sh [--subscribers N] [--back B] [--rate R] [--threads T] [--envelope] [--build DIR]
#                                 [--json FILE]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
subscribers=10000
back=100
rate=50
threads=2
json=""
format="&format=raw"
build=${SURGE_BUILD:-$root/build/release}
while [ $# -gt 0 ]; do
    case $1 in
        --subscribers) subscribers=$2; shift 2 ;;
        --back) back=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        --threads) threads=$2; shift 2 ;;
        --envelope) format=""; shift ;;
        --build) build=$2; shift 2 ;;
        --json) json=$2; shift 2 ;;
        *) echo "reconnect_storm.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
source "$root/bench/lib.sh"
need_built tools/surge-push bench/surge-load
push=$build/tools/surge-push
load=$build/bench/surge-load

port=$(free_port)
SURGE_LOG=warn "$push" --port "$port" --threads "$threads" --max-per-address 0 >"$work/push.log" 2>&1 &
server=$!
pids+=("$server")
wait_port "$port" || { echo "surge-push did not start"; cat "$work/push.log"; exit 1; }
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

"$load" "http://127.0.0.1:$port/publish/storm" --mode publish --rate "$rate/total" --size 32 --duration 120 \
    --warmup 0 >"$work/publisher.log" 2>&1 &
publisher=$!
pids+=("$publisher")
"$load" "ws://127.0.0.1:$port/ws?topics=storm$format" --mode subscribe --connections "$subscribers" \
    --threads 2 --duration 120 --warmup 0 >"$work/before.log" 2>&1 &
before=$!
pids+=("$before")
# Until every subscriber is in and has had a few seconds of publications.
for _ in $(seq 200); do
    [ "$(python3 - "$port" <<'PY'
import json, sys, urllib.request
text = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode()
print(int(sum(float(l.split()[-1]) for l in text.splitlines() if l.startswith("surge_connections{"))))
PY
)" -ge "$subscribers" ] && break
    sleep 0.1
done
sleep 3
rss_before=$(rss_kb "$server")
# Where the topic stands at the cut: a subscribe's answer says.
tip=$(/usr/bin/python3 - "$port" <<'PY'
import asyncio, json, sys, websockets
async def main():
    async with websockets.connect("ws://127.0.0.1:%s/ws" % sys.argv[1]) as ws:
        await ws.send(json.dumps({"subscribe": "storm"}))
        print(json.loads(await asyncio.wait_for(ws.recv(), 10))["offset"])
asyncio.run(main())
PY
)
since=$((tip - back))
{ kill -KILL "$before"; wait "$before"; } 2>/dev/null || true  # bash would announce the kill
cpu0=$(cpu_seconds "$server") t0=$(now)
"$load" "ws://127.0.0.1:$port/ws?topics=storm$format&since=storm:$since" --mode subscribe \
    --connections "$subscribers" --threads 2 --duration 15 --warmup 0 --caught-up "$((back + 1))" \
    --json "$work/storm.json" >"$work/storm.log" 2>&1 &
storm=$!
pids+=("$storm")
peak=0
: >"$work/cpu.samples"
while kill -0 "$storm" 2>/dev/null; do
    rss=$(rss_kb "$server")
    [ "$rss" -gt "$peak" ] && peak=$rss
    echo "$(now) $(cpu_seconds "$server")" >>"$work/cpu.samples"  # to read the CPU spent until all caught up
    sleep 0.05
done
wait "$storm" || { echo "the storm's subscribers failed"; cat "$work/storm.log"; exit 1; }
cpu1=$(cpu_seconds "$server") t1=$(now)
kill "$publisher" 2>/dev/null || true
python3 - "$work/storm.json" "$subscribers" "$back" "$rate" "$tip" "$since" "$cpu0" "$cpu1" "$t0" "$t1" \
    "$rss_before" "$peak" "$json" "$work/cpu.samples" "${format:-envelope}" <<'PY'
import json, sys
envelope = sys.argv[15] == "envelope"
r = json.load(open(sys.argv[1]))
subscribers, back, rate, tip, since = map(int, sys.argv[2:7])
cpu0, cpu1, t0, t1 = map(float, sys.argv[7:11])
rss_before, peak, path = int(sys.argv[11]), int(sys.argv[12]), sys.argv[13]
samples = [tuple(map(float, line.split())) for line in open(sys.argv[14]) if line.strip()]
caught = r["caught_up"]
# The server's CPU from the reconnect until every subscriber had caught up (the first sample after that moment),
# and over the rest of the window, when it only fans out the live stream: what the catch-up cost beyond it.
until = t0 + caught["last_seconds"]
after = [s for s in samples if s[0] >= until] or [(t1, cpu1)]
catch_up_cpu = after[0][1] - cpu0
live_rate = (cpu1 - after[0][1]) / max(1e-9, t1 - after[0][0])
report = {"subscribers": subscribers, "back": back, "rate": rate, "tip_at_cut": tip, "resumed_from": since,
          "caught_up_connections": caught["connections"], "caught_up_seconds": round(caught["last_seconds"], 3),
          "catch_up_server_cpu_seconds": round(catch_up_cpu, 3),
          "catch_up_measured_until_seconds": round(after[0][0] - t0, 3),
          "live_server_cpu_per_second": round(live_rate, 3),
          "server_cpu_seconds": round(cpu1 - cpu0, 3), "window_seconds": round(t1 - t0, 3),
          "server_rss_mb_before": round(rss_before / 1024, 1), "server_rss_mb_peak": round(peak / 1024, 1),
          "sequence": r["sequence"], "errors": sum(r["errors"].values())}
print("reconnect storm: %(subscribers)d subscribers cut at once at offset %(tip_at_cut)d, resumed from %(resumed_from)d "
      "(%(back)d back) while %(rate)d messages/s went on" % report)
print("  caught up: %(caught_up_connections)d of %(subscribers)d connections within %(caught_up_seconds).2f s of "
      "the reconnect; server CPU %(catch_up_server_cpu_seconds).2f s from the reconnect to %(catch_up_measured_until_seconds).2f s "
      "(then %(live_server_cpu_per_second).2f s/s for the live stream alone); server RSS %(server_rss_mb_before).1f MB "
      "before, %(server_rss_mb_peak).1f MB at the peak" % report)
s = r["sequence"]
if envelope:
    print("  envelopes: the subscribers cannot read the publisher's numbers, so there is no loss check; %d errors"
          % report["errors"])
else:
    print("  loss check: %d numbered messages checked, %d lost, %d repeated, %d silent subscribers, %d errors"
          % (s["checked"], s["lost"], s["repeated"], s["silent_connections"], report["errors"]))
report["delivery"] = "envelope" if envelope else "raw"
if path:
    json.dump(report, open(path, "w"), indent=2)
ok = caught["connections"] == subscribers and s["lost"] == 0 and s["repeated"] == 0 and report["errors"] == 0
sys.exit(0 if ok else 1)
PY
