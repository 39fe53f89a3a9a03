#!/usr/bin/env bash
# Benchmark harness against wrk (and oha / autocannon if on PATH) on loopback.
#
# Target: nginx, one worker pinned to core 0, 5-byte body, keep-alive forever.
# Generators: one thread each, pinned to core 1, same connections and duration.
# Configs: 50 connections; 1000 connections; 50 connections with pipelining 10.
#
# Env: DURATION (seconds per run, default 10), RUNS (repeats, median reported,
#      default 3), HARNESS (path to the binary, default target/release/harness),
#      LONG=1 (also run the memory-growth check: harness at 1000 connections
#      for 3 x DURATION, compared with the DURATION runs' peak RSS),
#      ONLY (configurations to run, e.g. ONLY=c50-p10; default all three),
#      LIVE=1 (also run harness on a terminal, a pty from `script`, twice: with
#      the progress bar and live line (harness-tty) and with -n (harness-tty-n);
#      both write --report, so their ratio is the live view's cost alone),
#      CHECKS=1 (also run harness with --expect-body hello, a check that reads every
#      5-byte body (harness-check); its ratio to the plain harness row is the
#      check's cost per request).
# Needs: nginx (nginx-light), wrk, GNU time, taskset (util-linux), python3.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-10}
RUNS=${RUNS:-3}
LONG=${LONG:-0}
LIVE=${LIVE:-0}
CHECKS=${CHECKS:-0}
HARNESS=${HARNESS:-"$BENCH_DIR/../target/release/harness"}
GNU_TIME=/usr/bin/time

die() { echo "load.sh: $*" >&2; exit 1; }

[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a positive integer (seconds), got '$DURATION'"
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "RUNS must be a positive integer, got '$RUNS'"

# --- tools -------------------------------------------------------------------
missing=()
NGINX=$(command -v nginx || true)
[[ -z $NGINX && -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx
[[ -n $NGINX ]] || missing+=(nginx-light)
command -v wrk >/dev/null || missing+=(wrk)
[[ -x $GNU_TIME ]] || missing+=(time)
command -v taskset >/dev/null || missing+=(util-linux)
command -v timeout >/dev/null || missing+=(coreutils)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    echo "load.sh: missing tools. Install them with:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
fi
if (($(nproc) < 2)); then
    die "needs at least 2 CPU cores (nginx on core 0, load generator on core 1)"
fi

have_harness=1
if [[ ! -x $HARNESS ]]; then
    have_harness=0
    echo "NOTE: harness binary not found at $HARNESS" >&2
    echo "      (build it with 'cargo build --release' or set HARNESS=path); skipping harness rows." >&2
fi
have_oha=0; command -v oha >/dev/null && have_oha=1
have_autocannon=0; command -v autocannon >/dev/null && have_autocannon=1

# 1000 connections need more than the usual 1024 descriptors.
want_nofile=4096
soft=$(ulimit -Sn)
if [[ $soft != unlimited ]] && ((soft < want_nofile)); then
    hard=$(ulimit -Hn)
    if [[ $hard == unlimited ]] || ((hard >= want_nofile)); then
        ulimit -Sn "$want_nofile"
    else
        ulimit -Sn "$hard"
        echo "WARNING: open-file limit is only $hard; 1000 connections may fail (raise it: ulimit -n $want_nofile)" >&2
    fi
fi

# --- temp dir, cleanup -------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/harness-bench.XXXXXX")
NGINX_PID=
GEN_PID=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $GEN_PID ]] && kill -0 "$GEN_PID" 2>/dev/null; then
        kill -TERM "$GEN_PID" 2>/dev/null || true
        wait "$GEN_PID" 2>/dev/null || true
    fi
    if [[ -n $NGINX_PID ]] && kill -0 "$NGINX_PID" 2>/dev/null; then
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$NGINX_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
    fi
    if [[ ${KEEP_TMP:-0} == 1 ]]; then echo "load.sh: kept $TMP" >&2; else rm -rf "$TMP"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- target ------------------------------------------------------------------
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Prints "ok" once the target answers 200 "hello".
probe() {
    python3 - "$1" <<'PY' 2>/dev/null || true
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=1) as r:
        if r.status == 200 and r.read() == b"hello":
            print("ok")
except Exception:
    pass
PY
}

start_nginx() {
    local attempt
    for attempt in 1 2 3; do
        PORT=$(free_port)
        sed -e "s|@PREFIX@|$TMP|g" -e "s|@PORT@|$PORT|g" "$BENCH_DIR/nginx.conf" >"$TMP/nginx.conf"
        # -p: prefix, -e: error log before the config is read, -g: stay in the
        # foreground so $! is the master and the trap can kill it by pid.
        taskset -c 0 "$NGINX" -p "$TMP/" -e "$TMP/error.log" -c "$TMP/nginx.conf" \
            -g 'daemon off;' >"$TMP/nginx.out" 2>&1 &
        NGINX_PID=$!
        URL="http://127.0.0.1:$PORT/"
        for _ in $(seq 50); do
            if ! kill -0 "$NGINX_PID" 2>/dev/null; then break; fi
            if [[ $(probe "$URL") == ok ]]; then return 0; fi
            sleep 0.1
        done
        kill -TERM "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=
        echo "nginx did not come up on port $PORT (attempt $attempt):" >&2
        cat "$TMP/nginx.out" "$TMP/error.log" 2>/dev/null >&2 || true
    done
    die "could not start nginx"
}

# --- one measured run ----------------------------------------------------------
RESULTS=$TMP/results.tsv
: >"$RESULTS"

# CPU clock ticks (user+sys) used so far by the nginx worker(s).
target_ticks() {
    local pid rest total=0 f
    for pid in $(pgrep -P "$NGINX_PID" || true); do
        rest=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
        rest=${rest##*) }           # fields after "(comm) "; field 3 is rest[0]
        read -r -a f <<<"$rest"
        total=$((total + f[11] + f[12]))  # utime, stime (fields 14, 15)
    done
    echo "$total"
}

# run_gen SECONDS OUTFILE CMD...: runs CMD pinned to core 1 under GNU time,
# bounded by timeout. Writes CMD's stdout to OUTFILE, rusage to OUTFILE.time,
# the target's CPU ticks during the run to OUTFILE.target.
run_gen() {
    local secs=$1 out=$2 rc=0 t0
    shift 2
    t0=$(target_ticks)
    timeout -k 5 $((secs + 30)) \
        "$GNU_TIME" -f '%U %S %M %e' -o "$out.time" \
        taskset -c 1 "$@" >"$out" 2>"$out.err" &
    GEN_PID=$!
    wait "$GEN_PID" || rc=$?
    GEN_PID=
    echo $(($(target_ticks) - t0)) >"$out.target"
    return "$rc"
}

# record CONFIG TOOL RUN TOTAL TIMEFILE
record() {
    local config=$1 tool=$2 run=$3 total=$4 tfile=$5 user sys rss elapsed
    # GNU time may prefix "Command exited with non-zero status N"; use the last line.
    read -r user sys rss elapsed < <(tail -n 1 "$tfile")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$config" "$tool" "$run" "$total" "$user" "$sys" "$rss" \
        "$elapsed" "$(cat "${tfile%.time}.target")" >>"$RESULTS"
    awk -v t="$tool" -v n="$total" -v u="$user" -v s="$sys" -v r="$rss" -v d="$elapsed" 'BEGIN {
        printf "    %-10s %9.0f req/s %7.2f us/req %6.1f MB\n", t, n / d, n ? (u + s) * 1e6 / n : 0, r / 1024 }' >&2
}

fail_run() {
    local tool=$1 out=$2
    echo "WARNING: $tool run failed; its output:" >&2
    cat "$out" "$out.err" "$out.time" 2>/dev/null | tail -n 20 >&2 || true
}

run_wrk() {
    local config=$1 conns=$2 pipe=$3 run=$4 out total
    out=$TMP/wrk.$config.$run
    local args=(wrk -t1 "-c$conns" "-d${DURATION}s")
    if ((pipe > 1)); then
        args+=(-s "$BENCH_DIR/pipeline.lua" "$URL" -- "$pipe")
    else
        args+=("$URL")
    fi
    if ! run_gen "$DURATION" "$out" "${args[@]}"; then fail_run wrk "$out"; return 0; fi
    total=$(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' "$out")
    [[ -n $total ]] || { fail_run wrk "$out"; return 0; }
    if grep -qE 'Socket errors|Non-2xx' "$out"; then
        echo "WARNING: wrk $config run $run: $(grep -E 'Socket errors|Non-2xx' "$out" | tr -s ' ' | tr '\n' ';')" >&2
    fi
    record "$config" wrk "$run" "$total" "$out.time"
}

# json_get FILE KEY.PATH...: first key path found in the (last) JSON document in FILE.
json_get() {
    python3 - "$@" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
doc = None
try:
    doc = json.loads(text)
except ValueError:
    for line in reversed(text.splitlines()):
        try:
            doc = json.loads(line)
            break
        except ValueError:
            pass
if doc is None:
    sys.exit(1)
for path in sys.argv[2:]:
    v = doc
    try:
        for k in path.split("."):
            v = v[k]
    except (KeyError, TypeError):
        continue
    if isinstance(v, dict):  # e.g. oha's statusCodeDistribution
        v = sum(v.values())
    print(int(v))
    sys.exit(0)
sys.exit(1)
PY
}

run_json_tool() {
    local tool=$1 config=$2 run=$3 secs=$4 key=$5 out total
    shift 5
    out=$TMP/$tool.$config.$run
    if ! run_gen "$secs" "$out" "$@"; then fail_run "$tool" "$out"; return 0; fi
    if ! total=$(json_get "$out" "$key"); then fail_run "$tool" "$out"; return 0; fi
    record "$config" "$tool" "$run" "$total" "$out.time"
}

run_harness() {
    local config=$1 conns=$2 pipe=$3 run=$4 secs=${5:-$DURATION}
    run_json_tool harness "$config" "$run" "$secs" requests.total \
        "$HARNESS" -w 1 -c "$conns" -d "${secs}s" -p "$pipe" -n --json "$URL"
}

# The same with a body check on every response.
run_harness_check() {
    local config=$1 conns=$2 pipe=$3 run=$4
    run_json_tool harness-check "$config" "$run" "$DURATION" requests.total \
        "$HARNESS" -w 1 -c "$conns" -d "${DURATION}s" -p "$pipe" -n --json \
        --expect-body hello "$URL"
}

# run_harness_tty TOOL CONFIG CONNS PIPE RUN [FLAG...]: harness on a terminal 120 columns
# wide (so the progress bar and live line draw), its result read from --report.
run_harness_tty() {
    local tool=$1 config=$2 conns=$3 pipe=$4 run=$5 out total
    shift 5
    out=$TMP/$tool.$config.$run
    local cmd="$HARNESS -w 1 -c $conns -d ${DURATION}s -p $pipe $* --report $out.dir $URL"
    if ! run_gen "$DURATION" "$out" script -q -e -c "stty cols 120 rows 40; exec $cmd" /dev/null; then
        fail_run "$tool" "$out"; return 0
    fi
    if ! total=$(json_get "$out.dir/result.json" requests.total); then fail_run "$tool" "$out"; return 0; fi
    record "$config" "$tool" "$run" "$total" "$out.time"
}

run_oha() {
    local config=$1 conns=$2 pipe=$3 run=$4
    ((pipe == 1)) || return 0 # oha has no pipelining
    local json=(-j) # oha < 1.5; newer versions spell it --output-format json
    if { oha --help 2>&1 || true; } | grep -q -- '--output-format'; then json=(--output-format json); fi
    # TOKIO_WORKER_THREADS=1: one runtime thread, like the other generators.
    run_json_tool oha "$config" "$run" "$DURATION" statusCodeDistribution \
        env TOKIO_WORKER_THREADS=1 oha -z "${DURATION}s" -c "$conns" --no-tui "${json[@]}" "$URL"
}

run_autocannon() {
    local config=$1 conns=$2 pipe=$3 run=$4
    run_json_tool autocannon "$config" "$run" "$DURATION" requests.total \
        autocannon -c "$conns" -d "$DURATION" -p "$pipe" -j "$URL"
}

# --- main --------------------------------------------------------------------
start_nginx

echo "harness load benchmark -- $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores; kernel $(uname -r)"
echo "target: $("$NGINX" -v 2>&1 | sed 's/.*version: //'), 1 worker on core 0, $URL (5-byte body)"
echo "generators: 1 thread on core 1; $DURATION s per run, median of $RUNS run(s)"
versions="wrk $({ wrk -v 2>&1 || true; } | head -n 1 | awk '{print $2}')"
if ((have_oha)); then versions+=", $({ oha --version 2>/dev/null || true; } | head -n 1)"; fi
if ((have_autocannon)); then versions+=", $({ autocannon --version 2>/dev/null || true; } | head -n 1)"; fi
if ((have_harness)); then versions+=", harness $HARNESS"; fi
echo "tools: $versions"
echo

CONFIGS=()
for cfg in "c50 50 1" "c1000 1000 1" "c50-p10 50 10"; do
    # ONLY=c50-p10 (a space-separated list) runs just those configurations.
    if [[ -z ${ONLY:-} || " $ONLY " == *" ${cfg%% *} "* ]]; then CONFIGS+=("$cfg"); fi
done
nruns=$((${#CONFIGS[@]} * RUNS))
n=0
for cfg in "${CONFIGS[@]}"; do
    read -r name conns pipe <<<"$cfg"
    # Tools interleaved within each repeat so slow drift hits all of them alike.
    for run in $(seq "$RUNS"); do
        n=$((n + 1))
        echo "[$n/$nruns] $name run $run ..." >&2
        run_wrk "$name" "$conns" "$pipe" "$run"
        if ((have_harness)); then run_harness "$name" "$conns" "$pipe" "$run"; fi
        if ((have_harness)) && [[ $CHECKS == 1 ]]; then
            run_harness_check "$name" "$conns" "$pipe" "$run"
        fi
        if ((have_harness)) && [[ $LIVE == 1 ]]; then
            run_harness_tty harness-tty "$name" "$conns" "$pipe" "$run"
            run_harness_tty harness-tty-n "$name" "$conns" "$pipe" "$run" -n
        fi
        if ((have_oha)); then run_oha "$name" "$conns" "$pipe" "$run"; fi
        if ((have_autocannon)); then run_autocannon "$name" "$conns" "$pipe" "$run"; fi
    done
done

if ((have_harness)) && [[ $LONG == 1 ]]; then
    long=$((3 * DURATION))
    echo "[memory] harness c1000 for ${long}s ..." >&2
    run_harness c1000-long 1000 1 1 "$long"
fi

python3 - "$RESULTS" "$DURATION" "$have_harness" "$LONG" "$(getconf CLK_TCK)" <<'PY'
import collections, statistics, sys

path, duration, have_harness, long_check = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1", sys.argv[4] == "1"
clk_tck = int(sys.argv[5])
rows = collections.OrderedDict()
for line in open(path):
    config, tool, run, total, user, sys_, rss_kb, elapsed, target_ticks = line.split("\t")
    total, elapsed = int(total), float(elapsed)
    cpu_s = float(user) + float(sys_)
    rows.setdefault((config, tool), []).append((
        total / elapsed,                                    # req/s
        cpu_s * 1e6 / total if total else float("nan"),     # CPU us / request
        int(rss_kb) / 1024,                                 # peak RSS, MiB
        100 * int(target_ticks) / clk_tck / elapsed,        # nginx CPU %
    ))

med = {k: [statistics.median(col) for col in zip(*v)] for k, v in rows.items()}

hdr = (f"{'config':<9} {'tool':<13} {'req/s':>10} {'CPU us/req':>11} {'RSS MB':>7} {'nginx CPU':>9}"
       f" {'CPU/wrk':>8} {'req/s/wrk':>10}")
print(hdr)
print("-" * len(hdr))
for (config, tool), (rps, us, rss, target) in med.items():
    if config.endswith("-long"):
        continue
    line = f"{config:<9} {tool:<13} {rps:>10.0f} {us:>11.2f} {rss:>7.1f} {target:>8.0f}%"
    w = med.get((config, "wrk"))
    if tool.startswith("harness") and w:
        line += f" {us / w[1]:>7.2f}x {rps / w[0]:>9.2f}x"
    print(line)
for config in dict.fromkeys(c for c, _ in med):
    checked, plain = rows.get((config, "harness-check")), rows.get((config, "harness"))
    if checked and plain:
        # Each check run against the plain run just before it: a shared machine drifts
        # between repeats more than the two differ.
        pairs = list(zip(checked, plain))
        cpu = statistics.median(c[1] / p[1] for c, p in pairs)
        rps = statistics.median(c[0] / p[0] for c, p in pairs)
        print(f"body check, {config}: CPU us/req {cpu:.3f}x, req/s {rps:.3f}x "
              f"(harness-check / harness, median of {len(pairs)} paired runs)")
    live, quiet = med.get((config, "harness-tty")), med.get((config, "harness-tty-n"))
    if live and quiet:
        print(f"live view, {config}: CPU us/req {live[1] / quiet[1]:.3f}x, req/s "
              f"{live[0] / quiet[0]:.3f}x (harness-tty / harness-tty-n, medians)")
print()
print("req/s = responses / generator wall time; CPU us/req = generator (user+sys) / responses;")
print("RSS = peak resident set (GNU time %M); nginx CPU near 100% = the target, not the")
print("generator, limits req/s (compare CPU us/req then). Ratios: harness / wrk, medians.")

if have_harness:
    short, longr = med.get(("c1000", "harness")), med.get(("c1000-long", "harness"))
    if long_check and short and longr:
        print()
        print(f"memory growth, harness c1000: peak RSS {short[2]:.1f} MB after {duration}s, "
              f"{longr[2]:.1f} MB after {3 * duration}s ({longr[2] / short[2]:.2f}x)")
    elif not long_check:
        print()
        print("memory-growth check skipped (set LONG=1 to run harness c1000 for 3 x DURATION)")
PY
