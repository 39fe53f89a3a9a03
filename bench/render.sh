#!/usr/bin/env bash
# How long `harness report` takes to render a 30-minute run: a result with 1,800 per-second
# entries, 18,000 process samples and 18,000 Node samples (100 ms interval) and 20,000 GC
# events is synthesised from src/analyse/testdata/base.json, then rendered RUNS times.
# The bar: under one second. Env: RUNS (default 5), HARNESS (default target/release/harness).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-5}
HARNESS=${HARNESS:-"$ROOT/target/release/harness"}
[[ -x $HARNESS ]] || { echo "render.sh: no harness binary at $HARNESS (cargo build --release)" >&2; exit 1; }
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT

python3 - "$ROOT/src/analyse/testdata/base.json" "$TMP/result.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
seconds, start = 1800, 3.0
r["measureStart"], r["duration"] = start, float(seconds)
r["phases"] = [{"name": "baseline", "start": 0.0, "end": start},
               {"name": "load", "start": start, "end": start + seconds},
               {"name": "cooldown", "start": start + seconds, "end": start + seconds + 6}]
r["series"] = [{"second": s, "covered": 1.0, "requests": 20000 + int(500 * math.sin(s)), "bytes": 2_000_000,
                "errors": 0, "latencyP50": 1.0, "latencyP90": 2.0, "latencyP99": 5.0 + s % 7, "latencyMax": 20.0}
               for s in range(seconds)]
r["requests"]["total"] = sum(e["requests"] for e in r["series"])
n = (seconds + 9) * 10
p = r["process"]["points"][0]
r["process"]["points"] = [dict(p, t=i / 10, rss=50_000_000 + i * 1000, cpu=90.0 + i % 10) for i in range(n)]
node = r["node"][0]
s0 = node["samples"][0]
node["samples"] = [dict(s0, t=i / 10, heapUsed=5_000_000 + i * 500, elu=0.9, delayMax=1.0 + i % 5) for i in range(n)]
node["gc"] = [{"t": i * 0.09, "kind": "major" if i % 50 == 0 else "minor", "ms": 1.5, "heapAfter": 5_000_000 + i * 450}
              for i in range(20000)]
json.dump(r, open(sys.argv[2], "w"))
PY
echo "result.json: $(du -h "$TMP/result.json" | cut -f1)"
times=()
for _ in $(seq "$RUNS"); do
    start=$(date +%s.%N)
    "$HARNESS" report "$TMP/result.json" -o "$TMP/report.html" >/dev/null
    times+=("$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")")
done
python3 - "$(du -k "$TMP/report.html" | cut -f1)" "${times[@]}" <<'PY'
import statistics, sys
kb, times = sys.argv[1], [float(t) for t in sys.argv[2:]]
print(f"report.html: {kb} kB; render time median {statistics.median(times):.3f} s over {len(times)} runs "
      f"(min {min(times):.3f}, max {max(times):.3f})")
PY
