#!/usr/bin/env bash
# What the heap trace costs a run that finds a leak or a suspect (which only the trace can
# decide): wall time added and the memory of the
# second copy of the target, against the same run with --no-heap (the reference), in the
# same script. The heap trace starts a second copy of the target after the measured one has
# stopped and snapshots it around a small trace load; its budget is about 20 s of wall time,
# and a peak RSS well below the measured process's.
#
# Each round runs harness twice on the app, once by default (heap trace) and once with
# --no-heap, in alternating order; reported per app: the median wall time of each, the
# median of the rounds' differences, the trace's own length from its result (heapTrace.end -
# heapTrace.start), the second copy's peak RSS against the measured target's, and what the
# trace named.
#
# Env: CONNECTIONS (default 1000), DURATION (seconds, default 30), RUNS (rounds, default 3),
# APPS (default cache-leak.js, from scenarios/apps).
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
export CONNECTIONS=${CONNECTIONS:-1000}
export DURATION=${DURATION:-30}
export RUNS=${RUNS:-3}
export APPS=${APPS:-"cache-leak.js"}
export APPS_DIR="$ROOT/scenarios/apps"

echo "heap trace cost: node $(node --version), harness -c $CONNECTIONS -d $DURATION, $RUNS rounds (progress on stderr)"
exec python3 - <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time

from benchlib import children, kill_children_on_signal

HARNESS, RUNS = os.environ["HARNESS"], int(os.environ["RUNS"])
kill_children_on_signal()


def run(app, extra, scratch):
    args = [HARNESS, "--json", "-n", "-c", os.environ["CONNECTIONS"], "-d", os.environ["DURATION"],
            "--report", scratch, *extra, "http://127.0.0.1:0/", "--", "node",
            os.path.join(os.environ["APPS_DIR"], app)]
    started = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    children.append(child)
    out, _ = child.communicate(timeout=600)
    wall = time.monotonic() - started
    children.remove(child)
    return wall, json.loads(out)


def mb(value):
    return f"{value / 1e6:.0f} MB"


for app in os.environ["APPS"].split():
    walls = {"trace": [], "no-heap": []}
    traces, seconds, peaks, named, decided = [], [], [], [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(RUNS):
            order = ["trace", "no-heap"] if i % 2 == 0 else ["no-heap", "trace"]
            for mode in order:
                wall, result = run(app, ["--no-heap"] if mode == "no-heap" else [], scratch)
                walls[mode].append(wall)
                if mode == "trace":
                    trace = result.get("heapTrace") or {}
                    if trace.get("warning") or "end" not in trace:
                        notes = [p.get("note") for p in result.get("heap", [])]
                        sys.exit(f"{app}: the heap trace did not run: {trace or notes}; verdict: {result['verdict']}")
                    traces.append(trace["end"] - trace["start"])
                    measured = max(p["rss"] for p in result["process"]["points"])
                    peaks.append((trace.get("peakRss", 0), measured))
                    group = ((result["heap"][0].get("analysis") or {}).get("groups") or [{}])[0]
                    holder = (group.get("retainer") or {}).get("name", "nothing")
                    named.append(f"{holder} ({group.get('class', '-')})")
                    decided.extend(f["confirmation"]["outcome"] for f in result["findings"] if f.get("confirmation"))
                    seconds.append(trace["seconds"])
                print(f"  {app} round {i + 1} {mode}: {wall:.1f} s", file=sys.stderr)
    added = [t - n for t, n in zip(walls["trace"], walls["no-heap"])]
    second = statistics.median(p[0] for p in peaks)
    first = statistics.median(p[1] for p in peaks)
    print(f"\n{app}: -c {os.environ['CONNECTIONS']} -d {os.environ['DURATION']}, {RUNS} rounds, medians")
    print(f"  wall time, default (heap trace)     {statistics.median(walls['trace']):.1f} s")
    print(f"  wall time, --no-heap (reference)    {statistics.median(walls['no-heap']):.1f} s")
    print(f"  added by the heap trace             {statistics.median(added):.1f} s (rounds: {', '.join(f'{a:.1f}' for a in added)})")
    print(f"  heap trace in its result            {statistics.median(traces):.1f} s, of which trace load {statistics.median(seconds):.1f} s")
    print(f"  peak RSS, second copy / measured    {mb(second)} / {mb(first)} = {second / first:.2f}")
    print(f"  named                               {'; '.join(sorted(set(named)))}")
    print(f"  the trace's verdict on the leak     {', '.join(sorted(set(decided))) or '-'}")
PY
