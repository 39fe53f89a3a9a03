#!/usr/bin/env bash
# Overhead of watching a Node target: throughput of a plain Node hello-world server under the
# same load, with and without harness's Node probe and process sampler.
#
#   without: the server is started by this script; harness only loads it (URL only).
#   with:    harness starts the server itself (-- COMMAND): probe injected, sampler on.
#
# The server is pinned to core 0, harness (one worker) to core 1. Runs alternate between the
# two modes; the medians are compared. The bar: under 3 % lower throughput with the probe.
#
# Env: DURATION (seconds of load per run, default 10), RUNS (default 5), CONNECTIONS
# (default 50), HARNESS (binary, default target/release/harness), SPLIT=1 (also runs the
# sampler alone, --no-probe; the probe without heap snapshots and the sampling heap profiler,
# --no-heap; and that without GC tracking as well, HARNESS_PROBE_GC=off).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
DURATION=${DURATION:-10}
RUNS=${RUNS:-5}
CONNECTIONS=${CONNECTIONS:-50}
HARNESS=${HARNESS:-"$ROOT/target/release/harness"}
APP="$ROOT/scenarios/apps/hello.js"

die() { echo "probe.sh: $*" >&2; exit 1; }
[[ -x $HARNESS ]] || die "no harness binary at $HARNESS (cargo build --release)"
command -v node >/dev/null || die "node is required"
command -v taskset >/dev/null || die "taskset is required (util-linux)"
command -v python3 >/dev/null || die "python3 is required"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
rps() { python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"]["overall"])'; }

SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    if [[ -n ${REPORTS:-} ]]; then rm -rf "$REPORTS"; fi
}
trap cleanup EXIT INT TERM

run_without() {
    local port; port=$(free_port)
    PORT=$port taskset -c 0 node "$APP" >/dev/null &
    SERVER_PID=$!
    for _ in $(seq 100); do
        if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
        sleep 0.05
    done
    sleep 1 # the same idle second the "with" run has as its baseline
    timeout $((DURATION + 30)) taskset -c 1 "$HARNESS" -w 1 -c "$CONNECTIONS" -d "$DURATION" -n --json \
        "http://127.0.0.1:$port/" | rps
    cleanup
    SERVER_PID=
}

REPORTS=$(mktemp -d)
run_with() { # extra harness flags as arguments
    local port; port=$(free_port)
    timeout $((DURATION + 60)) taskset -c 1 "$HARNESS" -w 1 -c "$CONNECTIONS" -d "$DURATION" -n --json \
        --baseline 1s --cooldown 0s --report "$REPORTS" "$@" "http://127.0.0.1:$port/" -- taskset -c 0 node "$APP" | rps
}

median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

echo "probe overhead: node $(node --version) hello server on core 0, harness -w 1 -c $CONNECTIONS on core 1"
echo "$DURATION s per run, $RUNS runs per mode, alternating"
without=(); with=(); sampler=(); noheap=(); nogc=()
for run in $(seq "$RUNS"); do
    without+=("$(run_without)")
    with+=("$(run_with)")
    if [[ ${SPLIT:-0} == 1 ]]; then
        sampler+=("$(run_with --no-probe)")
        noheap+=("$(run_with --no-heap)")
        nogc+=("$(HARNESS_PROBE_GC=off run_with --no-heap)")
    fi
    echo "run $run: without ${without[-1]} req/s, with ${with[-1]} req/s" >&2
done
a=$(median "${without[@]}"); b=$(median "${with[@]}")
if [[ ${SPLIT:-0} == 1 ]]; then
    echo "sampler only (--no-probe):          $(median "${sampler[@]}") req/s (median)"
    echo "probe without heap profiling:       $(median "${noheap[@]}") req/s (median)"
    echo "... and without GC events:          $(median "${nogc[@]}") req/s (median)"
fi
python3 - "$a" "$b" <<'PY'
import sys
a, b = float(sys.argv[1]), float(sys.argv[2])
print(f"without probe and sampler: {a:,.0f} req/s (median)")
print(f"with probe and sampler:    {b:,.0f} req/s (median)")
print(f"ratio with/without: {b / a:.3f} ({100 * (1 - b / a):+.1f} % throughput lost)")
PY
