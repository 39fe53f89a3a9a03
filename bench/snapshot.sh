#!/usr/bin/env bash
# What a heap snapshot costs the load that follows it. After v8.writeHeapSnapshot, V8 tracks
# every object its garbage collector moves (so that object ids stay stable for the next
# snapshot), which slows allocation until the ids are cleared. That is why harness takes no
# snapshot before or during the measured load, only around the heap trace after it.
#
# One server per app lives through the whole script, so separate processes' ±2 % does not
# blur the result. A preloaded helper switches the tracking on (SIGUSR1: write a snapshot and
# delete it) and off (SIGUSR2: the inspector's HeapProfiler.enable then disable, which clears
# the object ids). Each round loads the server once in each state, in alternating order, and
# gives a ratio on/off; the median of the rounds is reported with a bootstrap 95 % interval.
#
# The server is pinned to core 0, harness (one worker) to core 1.
#
# Env: DURATION (seconds of load per run, default 3), RUNS (rounds, default 10), CONNECTIONS
# (default 50), APPS (default "hello.js heavy-garbage.js", from scenarios/apps).
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
export DURATION=${DURATION:-3}
export RUNS=${RUNS:-10}
export CONNECTIONS=${CONNECTIONS:-50}
export APPS=${APPS:-"hello.js heavy-garbage.js"}
export APPS_DIR="$ROOT/scenarios/apps"

echo "heap snapshot cost: node $(node --version), server on core 0, harness -w 1 -c $CONNECTIONS on core 1"
echo "$DURATION s of load per run, $RUNS rounds per app (progress on stderr)"
exec python3 - <<'PY'
import json, os, signal, statistics, subprocess, sys, tempfile, time

from benchlib import bootstrap, children, free_port, kill_children_on_signal, wait_listening

HARNESS, DURATION, RUNS = os.environ["HARNESS"], os.environ["DURATION"], int(os.environ["RUNS"])
CONNECTIONS = os.environ["CONNECTIONS"]
TOGGLE = r"""
const v8 = require('v8'), fs = require('fs'), path = require('path'), inspector = require('inspector');
process.on('SIGUSR1', () => {
  const file = path.join(process.env.SNAPSHOT_DIR, 'toggle.heapsnapshot');
  v8.writeHeapSnapshot(file);
  fs.unlinkSync(file);
});
process.on('SIGUSR2', () => {
  const session = new inspector.Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.disable');
  session.disconnect();
});
"""
kill_children_on_signal()


def measure(app, scratch):
    port = free_port()
    toggle = os.path.join(scratch, "toggle.js")
    with open(toggle, "w") as f:
        f.write(TOGGLE)
    server = subprocess.Popen(["taskset", "-c", "0", "node", "--require", toggle, os.path.join(os.environ["APPS_DIR"], app)],
                              env=dict(os.environ, PORT=str(port), SNAPSHOT_DIR=scratch), stdout=subprocess.DEVNULL)
    children.append(server)
    try:
        wait_listening(port, "snapshot.sh")

        def load():
            out = subprocess.run(["taskset", "-c", "1", HARNESS, "-w", "1", "-c", CONNECTIONS, "-d", DURATION, "-n",
                                  "--json", f"http://127.0.0.1:{port}/"], capture_output=True, check=True).stdout
            return json.loads(out)["requests"]["overall"]

        load()  # warm up the server's code
        rows = []
        for run in range(RUNS):
            got = {}
            for state in (["off", "on"] if run % 2 == 0 else ["on", "off"]):
                server.send_signal(signal.SIGUSR1 if state == "on" else signal.SIGUSR2)
                time.sleep(1.5)  # the snapshot (or the clearing) and its collections are done
                got[state] = load()
            rows.append((got["off"], got["on"]))
            print(f"{app} round {run + 1}: tracking off {got['off']:,.0f} req/s, on {got['on']:,.0f} req/s",
                  file=sys.stderr, flush=True)
    finally:
        server.kill()
        server.wait()
    ratios = [on / off for off, on in rows]
    low, high = bootstrap(ratios)
    median = statistics.median
    print(f"\n{app}: median of {RUNS} rounds")
    print(f"  requests/s        tracking off {median(r[0] for r in rows):,.0f}, after a snapshot {median(r[1] for r in rows):,.0f}")
    print(f"  throughput ratio  {median(ratios):.3f} ({100 * (1 - median(ratios)):+.1f} % throughput lost after a snapshot; "
          f"95 % interval {100 * (1 - high):+.1f} to {100 * (1 - low):+.1f} %)")


with tempfile.TemporaryDirectory() as scratch:
    for app in os.environ["APPS"].split():
        measure(app, scratch)
PY
