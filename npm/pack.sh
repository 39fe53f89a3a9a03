#!/usr/bin/env bash
# Packs harness for npm, the way esbuild and biome ship native binaries: the main package
# `harness-load` (a small JavaScript launcher as its bin) and one package per platform
# (`@harness-load/linux-x64`, ...) holding the binary, which npm picks by `os` and `cpu`.
#
# Packs this machine's platform package from $BINARY (default target/release/harness), every
# cross-built Linux binary found under target/<triple>/release/harness, and the main package,
# into $OUT (default target/npm) as *.tgz. Builds nothing: run `cargo build --release` (and
# for arm64 `cargo zigbuild --release --target aarch64-unknown-linux-gnu.2.17`) first.
#
# Env: BINARY, OUT, VERSION (default: Cargo.toml's). Needs npm.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BINARY=${BINARY:-$ROOT/target/release/harness}
OUT=${OUT:-$ROOT/target/npm}
VERSION=${VERSION:-$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n 1)}

die() { echo "npm/pack.sh: $*" >&2; exit 1; }
command -v npm >/dev/null || die "needs npm (apt-get install -y npm)"
[[ -n $VERSION ]] || die "no version in Cargo.toml"
[[ -x $BINARY ]] || die "no binary at $BINARY: run cargo build --release first, or set BINARY"

case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) HERE=linux-x64 ;;
    Linux-aarch64 | Linux-arm64) HERE=linux-arm64 ;;
    Darwin-x86_64) HERE=darwin-x64 ;;
    Darwin-arm64) HERE=darwin-arm64 ;;
    *) die "no npm platform for $(uname -s)-$(uname -m)" ;;
esac

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/harness-npm.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$OUT"
rm -f "$OUT"/*.tgz

# platform PLATFORM BINARY: stages and packs @harness-load/PLATFORM.
platform() {
    local name=$1 binary=$2 os cpu dir
    os=${name%-*}
    cpu=${name#*-}
    dir=$STAGE/$name
    mkdir -p "$dir/bin"
    cp "$binary" "$dir/bin/harness"
    chmod 755 "$dir/bin/harness"
    cat >"$dir/package.json" <<JSON
{
  "name": "@harness-load/$name",
  "version": "$VERSION",
  "description": "The harness binary for $os on $cpu (installed by the harness-load package)",
  "license": "MIT OR Apache-2.0",
  "os": ["$os"],
  "cpu": ["$cpu"],
  "files": ["bin/harness"],
  "preferUnplugged": true
}
JSON
    echo "The \`harness\` binary for $os-$cpu. Install \`harness-load\` instead; it picks this package." >"$dir/README.md"
    (cd "$dir" && npm pack --silent --pack-destination "$OUT" >/dev/null)
    echo "packed @harness-load/$name from $binary"
}

platform "$HERE" "$BINARY"
for pair in aarch64-unknown-linux-gnu:linux-arm64 x86_64-unknown-linux-gnu:linux-x64; do
    triple=${pair%%:*}
    name=${pair#*:}
    cross=$ROOT/target/$triple/release/harness
    if [[ $name != "$HERE" && -x $cross ]]; then
        platform "$name" "$cross"
    fi
done

# The main package: the launcher, with every platform package as an optional dependency.
main=$STAGE/harness-load
cp -r "$ROOT/npm/harness-load" "$main"
python3 - "$main/package.json" "$VERSION" <<'PY'
import json, sys
path, version = sys.argv[1], sys.argv[2]
package = json.load(open(path))
package["version"] = version
package["optionalDependencies"] = {
    f"@harness-load/{p}": version for p in ["linux-x64", "linux-arm64", "darwin-x64", "darwin-arm64"]
}
json.dump(package, open(path, "w"), indent=2)
PY
cp "$ROOT/npm/README.md" "$main/README.md"
(cd "$main" && npm pack --silent --pack-destination "$OUT" >/dev/null)
echo "packed harness-load $VERSION"
ls -1 "$OUT"/*.tgz
