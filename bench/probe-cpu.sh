#!/usr/bin/env bash
# What the Node probe costs the target per request, measured as CPU time rather than lost
# throughput (which is noisy on a shared machine): a Node hello-world server on core 0 is
# loaded by harness at a fixed rate (open model, below saturation) from core 1, and the
# server's own CPU time (utime + stime from /proc) is divided by the responses. Variants,
# alternating: no probe; the probe (src/target/probe/probe.cjs, talking to a socket that discards
# what it sends); the probe with its sampling heap profiler started, as harness does with
# --heap; the probe without GC events (HARNESS_PROBE_GC=off).
#
# Env: RATE (req/s, default 40000), DURATION (s, default 5), RUNS (default 6), HARNESS.
set -euo pipefail

source "$(dirname "$0")/node-common.sh"
RATE=${RATE:-40000}
DURATION=${DURATION:-5}
RUNS=${RUNS:-6}

WORK=$(mktemp -d)
SINK_PID=
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true
    [[ -n $SINK_PID ]] && kill $SINK_PID 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
cp "$ROOT/src/target/probe/probe.cjs" "$WORK/probe.cjs"
# A socket that discards what probes send; on the second one, each probe is first asked to
# start its sampling heap profiler.
sink() {
    python3 - "$1" "$2" <<'PY' &
import socket, sys, threading
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(8)
def drain(c):
    if sys.argv[2] == "sampling":
        c.sendall(b'{"type":"sampling","action":"start"}\n')
    while c.recv(65536):
        pass
while True:
    c, _ = s.accept()
    threading.Thread(target=drain, args=(c,), daemon=True).start()
PY
    SINK_PID="$SINK_PID $!"
}
sink "$WORK/probe.sock" plain
sink "$WORK/heap.sock" sampling
sleep 0.5

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# Prints the server's CPU µs per response for one run: none | probe | probe-heap | probe-nogc.
run() {
    local port; port=$(free_port)
    case $1 in
        none) PORT=$port taskset -c 0 node "$APP" >/dev/null & ;;
        probe) HARNESS_PROBE_SOCKET="$WORK/probe.sock" PORT=$port taskset -c 0 node -r "$WORK/probe.cjs" "$APP" >/dev/null & ;;
        probe-heap) HARNESS_PROBE_SOCKET="$WORK/heap.sock" PORT=$port taskset -c 0 node -r "$WORK/probe.cjs" "$APP" >/dev/null & ;;
        probe-nogc) HARNESS_PROBE_GC=off HARNESS_PROBE_SOCKET="$WORK/probe.sock" PORT=$port taskset -c 0 node -r "$WORK/probe.cjs" "$APP" >/dev/null & ;;
    esac
    SERVER_PID=$!
    sleep 1
    local before; before=$(cpu_ticks "$SERVER_PID")
    local responses
    responses=$(taskset -c 1 "$HARNESS" -w 1 -c 50 -R "$RATE" -d "$DURATION" -n --json "http://127.0.0.1:$port/" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["latency"]["totalCount"])')
    local after; after=$(cpu_ticks "$SERVER_PID")
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
    local hz; hz=$(getconf CLK_TCK)
    python3 -c "print(($after - $before) / $hz * 1e6 / $responses)"
}

median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "probe CPU cost: node $(node --version) hello server on core 0 at $RATE req/s for $DURATION s, $RUNS runs per variant, alternating"
none=(); probe=(); heap=(); nogc=()
for i in $(seq "$RUNS"); do
    none+=("$(run none)"); probe+=("$(run probe)"); heap+=("$(run probe-heap)"); nogc+=("$(run probe-nogc)")
    echo "run $i: none ${none[-1]} µs, probe ${probe[-1]}, with heap sampling ${heap[-1]}, without GC events ${nogc[-1]}" >&2
done
python3 - "$(median "${none[@]}")" "$(median "${probe[@]}")" "$(median "${heap[@]}")" "$(median "${nogc[@]}")" <<'PY'
import sys
none, probe, heap, nogc = map(float, sys.argv[1:])
print(f"server CPU per response (median): none {none:.3f} µs, probe {probe:.3f} µs, "
      f"probe + heap sampling {heap:.3f} µs, probe without GC events {nogc:.3f} µs")
for name, value in [("probe", probe), ("probe + heap sampling", heap), ("probe without GC events", nogc)]:
    print(f"{name}: {100 * (value / none - 1):+.1f} % CPU per request")
PY
