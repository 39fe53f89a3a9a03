#!/usr/bin/env bash
# Time to answer: the wall time a run takes beyond its load (-d), with the baseline and the
# cooldown ending when the target is at rest (the default) against the same run with the
# old fixed lengths, --baseline 3s --cooldown 6s (the reference), in the same script; and
# whether the verdict is the same both ways.
#
# Each round runs every mode in alternating order. Modes per app: "at rest" (defaults) and
# "fixed" (--baseline 3s --cooldown 6s); and a URL-only run against the hello app started by
# this script (no target, so no idle phases either way). Reported per app: the median time
# beyond -d of each mode, their ratio, the phases' median lengths, and the verdicts seen.
#
# Env: CONNECTIONS (default 100), DURATION (seconds, default 10), RUNS (rounds, default 3),
# APPS (default "hello.js cache-leak.js", from scenarios/apps). Heap and CPU traces are
# off (--no-heap --no-profile): they are measured by bench/heap-trace.sh and
# bench/side-by-side.sh, and would only add the same time to both modes.
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
export CONNECTIONS=${CONNECTIONS:-100}
export DURATION=${DURATION:-10}
export RUNS=${RUNS:-3}
export APPS=${APPS:-"hello.js cache-leak.js"}
export APPS_DIR="$ROOT/scenarios/apps"

echo "time to answer: node $(node --version), harness -c $CONNECTIONS -d $DURATION, $RUNS rounds (progress on stderr)"
exec python3 - <<'PY'
import json, os, statistics, subprocess, sys, tempfile, time

from benchlib import children, free_port, kill_children_on_signal, wait_listening

HARNESS, RUNS = os.environ["HARNESS"], int(os.environ["RUNS"])
DURATION = float(os.environ["DURATION"])
MODES = {"at rest": [], "fixed": ["--baseline", "3s", "--cooldown", "6s"]}
kill_children_on_signal()


def run(target, extra, scratch):
    args = [HARNESS, "--json", "-n", "-c", os.environ["CONNECTIONS"], "-d", os.environ["DURATION"],
            "--no-heap", "--no-profile", "--report", scratch, *extra, *target]
    started = time.monotonic()
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    children.append(child)
    out, _ = child.communicate(timeout=600)
    wall = time.monotonic() - started
    children.remove(child)
    return wall, json.loads(out)


def phase(result, name):
    return next((p["end"] - p["start"] for p in result["phases"] if p["name"] == name), 0.0)


def report(name, beyond, lengths, verdicts):
    rest, fixed = statistics.median(beyond["at rest"]), statistics.median(beyond["fixed"])
    print(f"\n{name}: -c {os.environ['CONNECTIONS']} -d {os.environ['DURATION']}, {RUNS} rounds, medians")
    for mode in MODES:
        base, cool = (statistics.median(v) for v in zip(*lengths[mode]))
        print(f"  {mode:8} {statistics.median(beyond[mode]):5.1f} s beyond -d"
              f"  (baseline {base:.1f} s, cooldown {cool:.1f} s)  verdicts: {sorted(set(verdicts[mode]))}")
    print(f"  at rest / fixed: {rest / fixed:.2f} of the time beyond the load")
    if set(verdicts["at rest"]) != set(verdicts["fixed"]):
        print("  VERDICTS DIFFER")


with tempfile.TemporaryDirectory() as scratch:
    for app in os.environ["APPS"].split():
        beyond = {m: [] for m in MODES}
        lengths = {m: [] for m in MODES}
        verdicts = {m: [] for m in MODES}
        for i in range(RUNS):
            order = list(MODES) if i % 2 == 0 else list(reversed(MODES))
            for mode in order:
                target = ["http://127.0.0.1:0/", "--", "node", os.path.join(os.environ["APPS_DIR"], app)]
                wall, result = run(target, MODES[mode], scratch)
                beyond[mode].append(wall - DURATION)
                lengths[mode].append((phase(result, "baseline"), phase(result, "cooldown")))
                verdicts[mode].append(result["verdict"].split(":")[0])
                print(f"  {app} round {i + 1} {mode}: {wall:.1f} s", file=sys.stderr)
        report(app, beyond, lengths, verdicts)

    # URL only: harness has no target to wait for, whatever the flags say.
    port = free_port()
    server = subprocess.Popen(["node", os.path.join(os.environ["APPS_DIR"], "hello.js")],
                              env={**os.environ, "PORT": str(port)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(server)
    wait_listening(port, "hello.js")
    beyond = []
    for i in range(RUNS):
        wall, result = run([f"http://127.0.0.1:{port}/"], [], scratch)
        beyond.append(wall - DURATION)
        print(f"  URL only round {i + 1}: {wall:.1f} s, phases {[p['name'] for p in result['phases']]}", file=sys.stderr)
    server.terminate()
    print(f"\nURL only (hello.js started by the script): {statistics.median(beyond):.1f} s beyond -d (median)")
PY
