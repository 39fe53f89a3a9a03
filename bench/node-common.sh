# Sourced by the Node benchmarks (probe.sh, probe-cpu.sh, sampler.sh): where things are, the
# harness binary and the tools they need. Sets ROOT, and exports HARNESS and APP.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export HARNESS=${HARNESS:-"$ROOT/target/release/harness"}
export APP="$ROOT/scenarios/apps/hello.js"

die() { echo "$(basename "$0"): $*" >&2; exit 1; }
[[ -x $HARNESS ]] || die "no harness binary at $HARNESS (cargo build --release)"
command -v node >/dev/null || die "node is required"
command -v taskset >/dev/null || die "taskset is required (util-linux)"
command -v python3 >/dev/null || die "python3 is required"
# The Python of these benchmarks imports benchlib.py from here.
export PYTHONPATH="$ROOT/bench${PYTHONPATH:+:$PYTHONPATH}"
