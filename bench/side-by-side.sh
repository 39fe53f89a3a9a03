#!/usr/bin/env bash
# What one thing done inside a Node server costs its throughput afterwards, measured side by
# side: two fresh hello servers share core 0, each loaded by its own harness (one worker,
# core 1) at the same time, so that both see the same machine. A trial measures their
# throughput ratio over 3 loads, then does the treatment in one of them (SIGUSR1) and nothing
# in the other (SIGUSR2), and measures the ratio over 3 more loads. Each server is its own
# control, so the ±2 % between separate Node processes cancels out. The slowdown of the
# treated server is reported as the median of the trials, with a bootstrap 95 % interval; the
# treated server alternates between trials.
#
# Treatments (TREATMENTS, default "floor gc minor context snapshot"):
#   floor     what the probe does for a GC floor: --expose-gc through a new context, gc() twice
#   gc        one gc() (a full mark-compact)
#   minor     one gc({type: 'minor'}) (a scavenge)
#   context   only the new context the probe gets gc() from, no collection
#   snapshot  v8.writeHeapSnapshot (V8 then tracks every object the collector moves)
#   profile-N V8's CPU profiler started (as the probe does for the CPU trace) with one sample
#             every N µs, left running through the loads after it: what profiling costs
#             the server while it runs
#
# Env: TRIALS (default 8), DURATION (seconds per load, default 3), APP_NAME (the server, from
# scenarios/apps; default hello.js), PRE_GC=1 (both servers run one full GC right after they
# start: does a second one still cost?).
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
export TRIALS=${TRIALS:-8}
export DURATION=${DURATION:-3}
export TREATMENTS=${TREATMENTS:-"floor gc minor context snapshot"}
export PRE_GC=${PRE_GC:-0}
APP="$ROOT/scenarios/apps/${APP_NAME:-hello.js}"
[[ -f $APP ]] || die "no app $APP"

echo "side by side: node $(node --version), two $(basename "$APP") servers on core 0, one harness -w 1 -c 25 each on core 1"
echo "$TRIALS trials per treatment, 3 + 3 loads of $DURATION s each (progress on stderr)"
exec python3 - <<'PY'
import json, os, signal, statistics, subprocess, sys, tempfile, time

from benchlib import bootstrap, children, free_port, kill_children_on_signal, wait_listening

HARNESS, APP = os.environ["HARNESS"], os.environ["APP"]
TRIALS, DURATION = int(os.environ["TRIALS"]), os.environ["DURATION"]
TREAT = r"""
const v8 = require('v8'), vm = require('vm'), fs = require('fs'), path = require('path');
const treatment = process.env.TREATMENT;
let kept;
function gcFunction() {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  v8.setFlagsFromString('--no-expose-gc');
  return gc;
}
if (process.env.PRE_GC === '1') setTimeout(() => gcFunction()(), 200);
process.on('SIGUSR2', () => {});
process.on('SIGUSR1', () => {
  if (treatment === 'floor') { kept = gcFunction(); kept(); kept(); }
  else if (treatment === 'gc') { kept = gcFunction(); kept(); }
  else if (treatment === 'minor') { kept = gcFunction(); kept({ type: 'minor' }); }
  else if (treatment === 'context') { kept = vm.runInNewContext('(function () {})'); }
  else if (treatment.startsWith('profile-')) {
    kept = new (require('inspector').Session)();
    kept.connect();
    kept.post('Profiler.enable');
    kept.post('Profiler.setSamplingInterval', { interval: Number(treatment.slice(8)) });
    kept.post('Profiler.start');
  }
  else if (treatment === 'snapshot') {
    const file = path.join(process.env.SCRATCH, process.pid + '.heapsnapshot');
    v8.writeHeapSnapshot(file);
    fs.unlinkSync(file);
  }
});
"""
kill_children_on_signal()


def server(port, treatment, scratch, preload):
    child = subprocess.Popen(["taskset", "-c", "0", "node", "--require", preload, APP],
                             env=dict(os.environ, PORT=str(port), TREATMENT=treatment, SCRATCH=scratch),
                             stdout=subprocess.DEVNULL)
    children.append(child)
    wait_listening(port, "side-by-side.sh")
    return child


def ratio(ports, duration=DURATION):
    """Throughput of the first server over the second's, loaded at the same time."""
    loads = [subprocess.Popen(["taskset", "-c", "1", HARNESS, "-w", "1", "-c", "25", "-d", duration, "-n", "--json",
                               f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE) for port in ports]
    children.extend(loads)
    rps = [json.loads(load.communicate()[0])["requests"]["overall"] for load in loads]
    return rps[0] / rps[1]


with tempfile.TemporaryDirectory() as scratch:
    preload = os.path.join(scratch, "treat.js")
    with open(preload, "w") as f:
        f.write(TREAT)
    for treatment in os.environ["TREATMENTS"].split():
        slowdowns = []
        for trial in range(TRIALS):
            ports = [free_port(), free_port()]
            servers = [server(port, treatment, scratch, preload) for port in ports]
            try:
                time.sleep(0.5)
                ratio(ports, "2")  # warm both up
                before = statistics.median(ratio(ports) for _ in range(3))
                treated = trial % 2
                servers[treated].send_signal(signal.SIGUSR1)
                servers[1 - treated].send_signal(signal.SIGUSR2)
                time.sleep(1.5)
                after = statistics.median(ratio(ports) for _ in range(3))
            finally:
                for s in servers:
                    s.kill()
                    s.wait()
            change = after / before  # of server 0 against server 1
            slowdown = 1 / change - 1 if treated == 0 else change - 1
            slowdowns.append(slowdown)
            print(f"{treatment} trial {trial + 1}: treated server {100 * slowdown:+.2f} % slower",
                  file=sys.stderr, flush=True)
        low, high = bootstrap(slowdowns)
        print(f"{treatment:11} treated server slower by {100 * statistics.median(slowdowns):+.2f} % "
              f"(95 % interval {100 * low:+.2f} to {100 * high:+.2f} %, {TRIALS} trials)")
PY
