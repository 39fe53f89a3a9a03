#!/usr/bin/env bash
# Heap snapshot parsing: time and peak memory of `harness heap-diff` on one large snapshot
# (parse, check, and the class summary), against Node's own JSON.parse of the same file as the
# reference. The bar: a 160 MB snapshot in under 1.5 s with under 400 MB peak memory.
#
# Env: HEAP_MB (used heap of the generated process, default 90, which writes about 157 MB),
# RUNS (default 5), HARNESS (binary, default target/release/harness).
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
HEAP_MB=${HEAP_MB:-90}
RUNS=${RUNS:-5}
HARNESS=${HARNESS:-"$ROOT/target/release/harness"}

die() { echo "heap.sh: $*" >&2; exit 1; }
[[ -x $HARNESS ]] || die "no harness binary at $HARNESS (cargo build --release)"
command -v node >/dev/null || die "node is required"
[[ -x /usr/bin/time ]] || die "/usr/bin/time is required (Debian package time)"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cat >"$WORK/gen.js" <<'JS'
const v8 = require('v8');
const keep = []; globalThis.keep = keep; // a global, so that it outlives the loop
const target = Number(process.argv[2]) * 1024 * 1024;
let i = 0;
while (process.memoryUsage().heapUsed < target) {
  for (let j = 0; j < 10000; j++, i++) keep.push({ id: i, name: 'item-' + i, tags: [i % 7, i % 11], nested: { when: i * 3 } });
}
v8.writeHeapSnapshot(process.argv[3]);
JS
SNAPSHOT="$WORK/big.heapsnapshot"
node "$WORK/gen.js" "$HEAP_MB" "$SNAPSHOT"
size_mb=$(( $(stat -c %s "$SNAPSHOT") / 1000000 ))
echo "snapshot: $size_mb MB (a Node $(node --version) process with $HEAP_MB MB of used heap); $RUNS runs each"

measure() { # command...; prints "seconds peak_kb"
    /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null
    cat "$WORK/time"
}
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }

h_s=(); h_kb=(); n_s=(); n_kb=()
for _ in $(seq "$RUNS"); do
    read -r s kb < <(measure "$HARNESS" heap-diff "$SNAPSHOT")
    h_s+=("$s"); h_kb+=("$kb")
    read -r s kb < <(measure node -e "JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'))" "$SNAPSHOT")
    n_s+=("$s"); n_kb+=("$kb")
done
python3 - "$(median "${h_s[@]}")" "$(median "${h_kb[@]}")" "$(median "${n_s[@]}")" "$(median "${n_kb[@]}")" <<'PY'
import sys
hs, hkb, ns, nkb = map(float, sys.argv[1:])
print(f"harness heap-diff (parse + classes): {hs:.2f} s, peak {hkb / 1024:.0f} MB (median)")
print(f"node JSON.parse (reference):         {ns:.2f} s, peak {nkb / 1024:.0f} MB (median)")
print(f"ratio harness/node: time {hs / ns:.2f}, memory {hkb / nkb:.2f}")
print("bar (160 MB snapshot): under 1.5 s and under 400 MB:", "met" if hs < 1.5 and hkb / 1024 < 400 else "NOT met")
PY
