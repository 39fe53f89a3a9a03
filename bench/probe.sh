#!/usr/bin/env bash
# Overhead of watching a Node target: throughput of a plain Node hello-world server under the
# same load, with and without harness's Node probe and process sampler.
#
#   without: the server is started by this script; harness only loads it (URL only).
#   with:    harness starts the server itself (-- COMMAND): probe injected, sampler on,
#            GC floors and heap snapshots outside the measured window, as by default.
#
# The server is pinned to core 0, harness (one worker) to core 1. Runs come in pairs, one of
# each mode back to back (the order alternates), and each pair gives a ratio with/without, so
# that the machine's slow drift cancels. Every run is a fresh Node process: separate processes
# of the same server differ by about 2 % in speed on their own (heap and code layout). So both
# servers of a pair get the same layout: address-space randomisation off (setarch -R) and the
# same V8 random seed, a different seed for each pair. That halves the spread of the pairs'
# ratios; the median of many pairs is reported, with a bootstrap 95 % interval.
#
# Besides requests/s it reports the server's CPU time per response (utime + stime from /proc,
# over the load window) and how busy its core was. When the server's core is saturated in
# both modes, throughput follows its CPU per response, and harness's own side (which shares
# core 1 with the load worker) is not what limits it.
#
# The bar: under 3 % lower throughput with the probe.
#
# Env: DURATION (seconds of load per run, default 5), RUNS (pairs, default 12), CONNECTIONS
# (default 50), HARNESS (binary, default target/release/harness), SPLIT=1 (also pairs
# "started by harness without the probe" (--no-probe) against URL only, which separates
# the sampler and process handling from the probe).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
export DURATION=${DURATION:-5}
export RUNS=${RUNS:-12}
export CONNECTIONS=${CONNECTIONS:-50}
export HARNESS=${HARNESS:-"$ROOT/target/release/harness"}
export APP="$ROOT/scenarios/apps/hello.js"
export SPLIT=${SPLIT:-0}

die() { echo "probe.sh: $*" >&2; exit 1; }
[[ -x $HARNESS ]] || die "no harness binary at $HARNESS (cargo build --release)"
command -v node >/dev/null || die "node is required"
command -v taskset >/dev/null || die "taskset is required (util-linux)"
command -v python3 >/dev/null || die "python3 is required"

echo "probe overhead: node $(node --version) hello server on core 0, harness -w 1 -c $CONNECTIONS on core 1"
echo "$DURATION s of load per run, $RUNS pairs per comparison (progress on stderr)"
setarch -R true 2>/dev/null || echo "(setarch -R is not permitted here: layouts are not paired, expect a wider interval)"
exec python3 - <<'PY'
import datetime, json, os, random, signal, socket, statistics, subprocess, sys, tempfile, threading, time

HARNESS, APP = os.environ["HARNESS"], os.environ["APP"]
DURATION, RUNS = os.environ["DURATION"], int(os.environ["RUNS"])
CONNECTIONS = os.environ["CONNECTIONS"]
HZ = os.sysconf("SC_CLK_TCK")
LOAD = ["taskset", "-c", "1", HARNESS, "-w", "1", "-c", CONNECTIONS, "-d", DURATION, "-n", "--json"]
SAME_LAYOUT = ["setarch", "-R"] if subprocess.run(["setarch", "-R", "true"], capture_output=True).returncode == 0 else []
children = []


def cleanup(*_):
    for child in children:
        if child.poll() is None:
            child.kill()
    sys.exit(130)


signal.signal(signal.SIGINT, cleanup)
signal.signal(signal.SIGTERM, cleanup)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
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


def bootstrap(ratios, rounds=2000):
    rng = random.Random(1)
    medians = sorted(statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(rounds))
    return medians[int(0.025 * rounds)], medians[int(0.975 * rounds) - 1]


def compare(name, flags, reports):
    pairs = []
    for run in range(RUNS):
        first_url = run % 2 == 0
        seed = run + 1
        a = url_only(seed) if first_url else None
        b = started_by_harness(reports, flags, seed)
        a = a or url_only(seed)
        pairs.append((a, b))
        print(f"{name} pair {run + 1}: URL only {a[0]:,.0f} req/s, {a[1]:.2f} µs/response, core {100 * a[2]:.0f} % | "
              f"started by harness {b[0]:,.0f} req/s, {b[1]:.2f} µs/response, core {100 * b[2]:.0f} %",
              file=sys.stderr, flush=True)
    rps = [b[0] / a[0] for a, b in pairs]
    cpu = [b[1] / a[1] for a, b in pairs]
    low, high = bootstrap(rps)
    median = statistics.median
    print(f"\n{name}: median of {RUNS} pairs")
    print(f"  requests/s        URL only {median(a[0] for a, _ in pairs):,.0f}, started by harness "
          f"{median(b[0] for _, b in pairs):,.0f}")
    print(f"  CPU per response  URL only {median(a[1] for a, _ in pairs):.2f} µs, started by harness "
          f"{median(b[1] for _, b in pairs):.2f} µs (paired ratio {median(cpu):.3f})")
    print(f"  server core busy  URL only {100 * median(a[2] for a, _ in pairs):.1f} %, started by harness "
          f"{100 * median(b[2] for _, b in pairs):.1f} %")
    print(f"  throughput ratio  {median(rps):.3f} ({100 * (1 - median(rps)):+.1f} % throughput lost; "
          f"95 % interval {100 * (1 - high):+.1f} to {100 * (1 - low):+.1f} %)")


with tempfile.TemporaryDirectory() as reports:
    compare("probe and sampler", [], reports)
    if os.environ["SPLIT"] == "1":
        compare("sampler only (--no-probe)", ["--no-probe"], reports)
PY
