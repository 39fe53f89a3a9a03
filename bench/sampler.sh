#!/usr/bin/env bash
# What the process sampler costs a Node server's throughput, without the noise of fresh
# processes: one hello-world server (core 0) lives through the whole script and is loaded by
# harness (one worker, core 1) in rounds of three runs in rotating order: by URL only,
# watching it with `--pid` and the default 100 ms samples, and with `--pid` at 5 s samples.
# Separate Node processes of the same server differ by about 2 % on their own; one process
# loaded again and again does not, so a paired ratio per round shows a cost of under 1 %.
#
# Env: DURATION (seconds of load per run, default 3), RUNS (rounds, default 30), CONNECTIONS
# (default 50), HARNESS (binary, default target/release/harness).
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
export DURATION=${DURATION:-3}
export RUNS=${RUNS:-30}
export CONNECTIONS=${CONNECTIONS:-50}

echo "sampler overhead: node $(node --version) hello server on core 0, harness -w 1 -c $CONNECTIONS on core 1"
echo "$DURATION s of load per run, $RUNS rounds of 3 runs (progress on stderr)"
exec python3 - <<'PY'
import json, os, statistics, subprocess, sys

from benchlib import bootstrap, free_port, wait_listening

HARNESS, APP = os.environ["HARNESS"], os.environ["APP"]
RUNS = int(os.environ["RUNS"])
LOAD = ["taskset", "-c", "1", HARNESS, "-w", "1", "-c", os.environ["CONNECTIONS"],
        "-d", os.environ["DURATION"], "-n", "--json"]

port = free_port()
server = subprocess.Popen(["taskset", "-c", "0", "node", APP], env=dict(os.environ, PORT=str(port)),
                          stdout=subprocess.DEVNULL)
try:
    wait_listening(port, "sampler.sh")
    url = f"http://127.0.0.1:{port}/"
    watch = ["--pid", str(server.pid), "--baseline", "0s", "--cooldown", "0s"]
    modes = {"URL only": [], "--pid, 100 ms samples": watch,
             "--pid, 5 s samples": watch + ["--sample-interval", "5s"]}

    def run(flags):
        done = subprocess.run(LOAD + flags + [url], capture_output=True, timeout=120)
        if done.returncode != 0:
            raise SystemExit(f"sampler.sh: harness exited with {done.returncode}")
        return json.loads(done.stdout)["requests"]["overall"]

    run([]), run([])  # warm the server's code up first
    names, rounds = list(modes), []
    for r in range(RUNS):
        order = names[r % 3:] + names[:r % 3]
        got = {name: run(modes[name]) for name in order}
        rounds.append(got)
        print(f"round {r + 1}: " + " | ".join(f"{n} {got[n]:,.0f} req/s" for n in names),
              file=sys.stderr, flush=True)
finally:
    server.kill()
    server.wait()

print(f"\nURL only: median {statistics.median(g['URL only'] for g in rounds):,.0f} req/s")
for name in names[1:]:
    ratios = [g[name] / g["URL only"] for g in rounds]
    low, high = bootstrap(ratios)
    print(f"{name}: {100 * (1 - statistics.median(ratios)):+.2f} % throughput lost "
          f"(95 % interval {100 * (1 - high):+.2f} to {100 * (1 - low):+.2f} %, "
          f"{len(ratios)} rounds)")
PY
