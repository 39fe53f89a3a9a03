#!/usr/bin/env bash
# How much memory `harness merge` takes as the run gets longer: three real shards of a 3 s
# run against a Node hello server are expanded to SECONDS per-second entries each (their
# entries and histograms repeated), then merged under /usr/bin/time; the peak RSS of each
# length is printed with its ratio to the 100 s merge. The bar: three shards of 5,000 s
# under 150 MB, and flat in the number of seconds but for the files themselves.
# Env: LENGTHS (default "100 1000 5000 28800"), HARNESS (default target/release/harness).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LENGTHS=${LENGTHS:-"100 1000 5000 28800"}
HARNESS=${HARNESS:-"$ROOT/target/release/harness"}
[[ -x $HARNESS ]] || { echo "merge.sh: no harness binary at $HARNESS (cargo build --release)" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "merge.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
TMP=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORT=$PORT node "$ROOT/scenarios/apps/hello.js" >/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done

pids=()
for i in 1 2 3; do
    "$HARNESS" --shard "$i/3" --start-at +2s -c 3 -d 3 -n --json "http://127.0.0.1:$PORT/" >"$TMP/shard-$i.json" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done

rows=()
for seconds in $LENGTHS; do
    for i in 1 2 3; do
        python3 - "$TMP/shard-$i.json" "$TMP/long-$i.json" "$seconds" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
seconds = int(sys.argv[3])
full = [e for e in r["series"] if e["covered"] >= 0.999] or r["series"]
r["series"] = [dict(full[s % len(full)], second=s) for s in range(seconds)]
r["duration"] = float(seconds)
json.dump(r, open(sys.argv[2], "w"))
PY
    done
    size=$(du -cm "$TMP"/long-*.json | tail -1 | cut -f1)
    peak=$(/usr/bin/time -f %M "$HARNESS" merge "$TMP"/long-{1,2,3}.json -o "$TMP/merged.json" 2>&1 >/dev/null | tail -1)
    rows+=("$seconds $size $peak")
done
python3 - "${rows[@]}" <<'PY'
import sys
rows = [tuple(int(x) for x in row.split()) for row in sys.argv[1:]]
base = rows[0][2]
for seconds, size, peak in rows:
    print(f"3 shards x {seconds:>6} s ({size:>4} MB of JSON): peak RSS {peak / 1024:7.1f} MB "
          f"(x{peak / base:.2f} the {rows[0][0]} s merge)")
PY
