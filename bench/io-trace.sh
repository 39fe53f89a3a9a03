#!/usr/bin/env bash
# What the I/O trace costs. Two parts, each against a reference in the same script:
#
# 1. The window's cost to the server while its hooks run (the measured load never has them):
#    a fresh hello server and an I/O-bound express app (scenarios/apps/io/shared-helper.js)
#    loaded by wrk (or a Node client) with the trace off, on with every request traced, and
#    on with none traced; requests per second and the server's CPU per request (utime +
#    stime from /proc), medians of RUNS runs. This is tests/support/iotrace-check.js --cost,
#    which runs the probe's iotrace.cjs the way the probe does.
# 2. The time a run gains: harness on an I/O-bound app by default (the I/O trace runs) and
#    with --no-io-trace (the reference), alternating; the median difference of the wall
#    times, and the trace's own length from its result (ioTrace.end - ioTrace.start).
#
# Env: RUNS (default 5), NODE (default node), APPS (part 2; default slow-io.js
# io/shared-helper.js), CONNECTIONS (default 20), DURATION (seconds, default 5).
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
RUNS=${RUNS:-5}
NODE=${NODE:-node}
export RUNS CONNECTIONS=${CONNECTIONS:-20} DURATION=${DURATION:-5}
export APPS=${APPS:-"slow-io.js io/shared-helper.js"} APPS_DIR="$ROOT/scenarios/apps"
[[ -d $ROOT/scenarios/apps/node_modules/express ]] || die "run npm ci --prefix scenarios/apps first"

echo "== 1. the trace window's cost to the server"
"$NODE" "$ROOT/tests/support/iotrace-check.js" --cost --runs "$RUNS" --node "$(command -v "$NODE")"

echo
echo "== 2. the time the I/O trace adds to a run: harness -c $CONNECTIONS -d $DURATION, $RUNS rounds"
exec python3 - <<'PY'
import json, os, statistics, subprocess, sys, time

from benchlib import children, kill_children_on_signal

HARNESS, RUNS = os.environ["HARNESS"], int(os.environ["RUNS"])
kill_children_on_signal()

PATHS = {"io/shared-helper.js": "/home?user=1"}


def run(app, extra):
    url = "http://127.0.0.1:0" + PATHS.get(app, "/")
    args = [HARNESS, "--json", "-n", "-c", os.environ["CONNECTIONS"], "-d", os.environ["DURATION"],
            "--no-heap", "--no-profile", *extra, url, "--", "node", os.path.join(os.environ["APPS_DIR"], app)]
    started = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    children.append(child)
    out, _ = child.communicate(timeout=300)
    children.remove(child)
    return time.monotonic() - started, json.loads(out)


for app in os.environ["APPS"].split():
    walls = {"trace": [], "off": []}
    lengths = []
    for i in range(RUNS):
        for mode in (["trace", "off"] if i % 2 == 0 else ["off", "trace"]):
            wall, result = run(app, [] if mode == "trace" else ["--no-io-trace"])
            walls[mode].append(wall)
            if mode == "trace":
                trace = result.get("ioTrace")
                if not trace:
                    sys.exit(f"{app}: no I/O trace ran; verdict: {result['verdict']}")
                lengths.append(trace["end"] - trace["start"])
            print(f"  {app} round {i + 1} {mode}: {wall:.1f} s", file=sys.stderr)
    added = [t - o for t, o in zip(walls["trace"], walls["off"])]
    print(f"{app}: wall time {statistics.median(walls['trace']):.1f} s with the I/O trace, "
          f"{statistics.median(walls['off']):.1f} s with --no-io-trace; added {statistics.median(added):.1f} s "
          f"(rounds: {', '.join(f'{a:.1f}' for a in added)}); the trace itself {statistics.median(lengths):.1f} s")
PY
