#!/usr/bin/env bash
# Overhead of watching a Node target: throughput of a plain Node hello-world server under the
# same load, with and without harness's Node probe and process sampler.
#
#   without: the server is started by this script; harness only loads it (URL only).
#   with:    harness starts the server itself (-- COMMAND): probe injected, sampler on,
#            GC floors outside the measured window, as by default (the hello server does not
#            leak, so no heap trace follows).
#
# The server is pinned to core 0, harness (one worker) to core 1. Runs come in rounds, one of
# each mode back to back (the order rotates), and each round gives a ratio with/without, so
# that the machine's slow drift cancels. Every run is a fresh Node process: separate processes
# of the same server differ by about 2 % in speed on their own (heap and code layout). So the
# servers of a round get the same layout: address-space randomisation off (setarch -R) and the
# same V8 random seed, a different seed for each round. The median of many rounds is
# reported, with a bootstrap 95 % interval. That interval only covers the spread between
# rounds: separate invocations on this shared machine have differed by more (see README).
#
# Besides requests/s it reports the server's CPU time per response (utime + stime from /proc,
# over the load window) and how busy its core was. When the server's core is saturated in
# both modes, throughput follows its CPU per response, and harness's own side (which shares
# core 1 with the load worker) is not what limits it.
#
# The bar: under 3 % lower throughput with the probe.
#
# Env: DURATION (seconds of load per run, default 5), RUNS (rounds, default 12), CONNECTIONS
# (default 50), HARNESS (binary, default target/release/harness), SPLIT=1 (each round also
# runs the target with --no-heap and without the probe (--no-probe), which separates the
# sampler and process handling from the probe), ATTACH=1 (each round also attaches to a
# server this script started, with --pid: the probe loaded through the inspector).
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
export DURATION=${DURATION:-5}
export RUNS=${RUNS:-12}
export CONNECTIONS=${CONNECTIONS:-50}
export SPLIT=${SPLIT:-0}
export ATTACH=${ATTACH:-0}

echo "probe overhead: node $(node --version) hello server on core 0, harness -w 1 -c $CONNECTIONS on core 1"
echo "$DURATION s of load per run, $RUNS rounds (progress on stderr)"
setarch -R true 2>/dev/null || echo "(setarch -R is not permitted here: layouts are not paired, expect a wider interval)"
exec python3 - <<'PY'
import datetime, json, os, statistics, subprocess, sys, tempfile, threading, time

from benchlib import bootstrap, children, free_port, kill_children_on_signal, wait_listening

HARNESS, APP = os.environ["HARNESS"], os.environ["APP"]
DURATION, RUNS = os.environ["DURATION"], int(os.environ["RUNS"])
CONNECTIONS = os.environ["CONNECTIONS"]
HZ = os.sysconf("SC_CLK_TCK")
LOAD = ["taskset", "-c", "1", HARNESS, "-w", "1", "-c", CONNECTIONS, "-d", DURATION, "-n", "--json"]
SAME_LAYOUT = ["setarch", "-R"] if subprocess.run(["setarch", "-R", "true"], capture_output=True).returncode == 0 else []
kill_children_on_signal()


def cpu_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


class Poller:
    """Reads a process's CPU ticks every 20 ms, so the load window can be cut out later."""

    def __init__(self, pid):
        self.pid, self.log, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        while not self.stop.is_set():
            ticks = cpu_ticks(self.pid)
            if ticks is None:
                break
            self.log.append((time.time(), ticks))
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        self.thread.join()

    def at(self, when):
        log = self.log
        when = min(max(when, log[0][0]), log[-1][0])
        for (t0, v0), (t1, v1) in zip(log, log[1:]):
            if t0 <= when <= t1:
                return v0 + (v1 - v0) * (when - t0) / (t1 - t0) if t1 > t0 else v0
        return log[-1][1]


def node_child(pid):
    """The Node server harness started (taskset execs into it), once it exists."""
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                for kid in f.read().split():
                    with open(f"/proc/{kid}/comm") as c:
                        if c.read().strip() == "node":
                            return int(kid)
        except OSError:
            pass
        time.sleep(0.01)
    raise SystemExit("probe.sh: harness did not start the node server")


def seconds(stamp):
    return datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def measured(load, poller):
    """(requests/s, server CPU µs per response, server core utilisation) of one run."""
    out, _ = load.communicate()
    poller.finish()
    if load.returncode != 0:
        raise SystemExit(f"probe.sh: harness exited with {load.returncode}")
    result = json.loads(out)
    start, finish = seconds(result["start"]), seconds(result["finish"])
    cpu = (poller.at(finish) - poller.at(start)) / HZ
    return (result["requests"]["overall"], cpu * 1e6 / result["latency"]["totalCount"],
            cpu / (finish - start))


def server_command(seed):
    return ["taskset", "-c", "0", *SAME_LAYOUT, "node", f"--random-seed={seed}", APP]


def url_only(seed):
    port = free_port()
    server = subprocess.Popen(server_command(seed), env=dict(os.environ, PORT=str(port)),
                              stdout=subprocess.DEVNULL)
    children.append(server)
    try:
        wait_listening(port, "probe.sh")
        time.sleep(1)  # the same idle second the "with" run has as its baseline
        poller = Poller(server.pid)
        time.sleep(0.05)
        load = subprocess.Popen(LOAD + [f"http://127.0.0.1:{port}/"], stdout=subprocess.PIPE)
        children.append(load)
        return measured(load, poller)
    finally:
        server.kill()
        server.wait()


def started_by_harness(reports, flags, seed):
    load = subprocess.Popen(LOAD + ["--baseline", "1s", "--cooldown", "0s", "--report", reports, *flags,
                                    "http://127.0.0.1:0/", "--", *server_command(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    children.append(load)
    return measured(load, Poller(node_child(load.pid)))


def attached(reports, seed):
    """The server started here, then harness attaches to it (--pid): the probe through the
    inspector, loaded in its baseline."""
    port = free_port()
    server = subprocess.Popen(server_command(seed), env=dict(os.environ, PORT=str(port)),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(server)
    try:
        wait_listening(port, "probe.sh")
        poller = Poller(server.pid)
        load = subprocess.Popen(LOAD + ["--baseline", "1s", "--cooldown", "0s", "--report", reports,
                                        "--pid", str(server.pid), f"http://127.0.0.1:{port}/"],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        children.append(load)
        return measured(load, poller)
    finally:
        server.kill()
        server.wait()


def report(name, rows):
    """rows: (URL only, this variant) measurements, one per round."""
    rps = [b[0] / a[0] for a, b in rows]
    cpu = [b[1] / a[1] for a, b in rows]
    low, high = bootstrap(rps)
    median = statistics.median
    print(f"\n{name}: median of {len(rows)} rounds")
    print(f"  requests/s        URL only {median(a[0] for a, _ in rows):,.0f}, started by harness "
          f"{median(b[0] for _, b in rows):,.0f}")
    print(f"  CPU per response  URL only {median(a[1] for a, _ in rows):.2f} µs, started by harness "
          f"{median(b[1] for _, b in rows):.2f} µs (paired ratio {median(cpu):.3f})")
    print(f"  server core busy  URL only {100 * median(a[2] for a, _ in rows):.1f} %, started by harness "
          f"{100 * median(b[2] for _, b in rows):.1f} %")
    print(f"  throughput ratio  {median(rps):.3f} ({100 * (1 - median(rps)):+.1f} % throughput lost; "
          f"95 % interval {100 * (1 - high):+.1f} to {100 * (1 - low):+.1f} %)")


VARIANTS = [("default run (probe, sampler, GC floors; a heap trace only on a leak)", [])]
if os.environ["SPLIT"] == "1":
    VARIANTS += [("never a heap trace (--no-heap)", ["--no-heap"]),
                 ("sampler only (--no-probe)", ["--no-probe"])]
if os.environ["ATTACH"] == "1":
    VARIANTS += [("attached (--pid: the probe through the inspector)", ["--pid"])]

with tempfile.TemporaryDirectory() as reports:
    rows = {name: [] for name, _ in VARIANTS}
    for run in range(RUNS):
        seed = run + 1
        # One run of each mode, back to back, in an order that rotates from round to round.
        modes = [None] + [flags for _, flags in VARIANTS]
        shift = run % len(modes)
        modes = modes[shift:] + modes[:shift]
        got = [url_only(seed) if flags is None
               else attached(reports, seed) if flags == ["--pid"]
               else started_by_harness(reports, flags, seed) for flags in modes]
        base = got[modes.index(None)]
        line = [f"round {run + 1}: URL only {base[0]:,.0f} req/s {base[1]:.2f} µs/response core {100 * base[2]:.0f} %"]
        for name, flags in VARIANTS:
            b = got[modes.index(flags)]
            rows[name].append((base, b))
            line.append(f"{flags[0] if flags else 'default'} {b[0]:,.0f} req/s {b[1]:.2f} µs core {100 * b[2]:.0f} %")
        print(" | ".join(line), file=sys.stderr, flush=True)
    for name, _ in VARIANTS:
        report(name, rows[name])
PY
