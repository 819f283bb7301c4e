#!/usr/bin/env bash
# Reproducibility check: build the image twice from two fresh clones of the committed tree
# (different paths, separate empty cargo target directories, different umask) and compare the
# sha256 of every artifact in the two manifests. Exit status 1 on any difference.
#
# The kernel is taken from the build cache (IMAGE_CACHE) when present: its reproducibility was
# established separately (research/image.md §4.3: two from-scratch builds in different
# directories, identical bzImage). Set KERNEL_FRESH=1 to build it twice from scratch too
# (adds 2 x 10-13 min on 2 cores).
#
# Usage: nix/check-reproducible.sh [git-rev, default HEAD]
set -euo pipefail
repo=$(git -C "$(dirname "$(realpath "$0")")" rev-parse --show-toplevel)
# Resolve the revision once: both builds must be of the same commit even if the branch moves.
rev=$(git -C "$repo" rev-parse --verify "${1:-HEAD}^{commit}")
work=$(mktemp -d /tmp/paa-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT
for i in 1 2; do
  git clone -q "$repo" "$work/tree-$i"
  git -C "$work/tree-$i" checkout -q "$rev"
  cache=${IMAGE_CACHE:-/var/cache/paypal-auth-vm}
  [ "${KERNEL_FRESH:-0}" = 1 ] && cache=$work/cache-$i
  echo "[check-reproducible] build $i in $work/tree-$i" >&2
  ( [ "$i" = 2 ] && umask 0077
    cd "$work/tree-$i"
    CARGO_TARGET_DIR=$work/target-$i OUT=$work/out-$i IMAGE_CACHE=$cache nix/build-local.sh ) >"$work/build-$i.log" 2>&1 \
    || { tail -40 "$work/build-$i.log" >&2; echo "[check-reproducible] build $i failed" >&2; exit 2; }
done
python3 - "$work/out-1/manifest.json" "$work/out-2/manifest.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = 0
for name in sorted(set(a["artifacts"]) | set(b["artifacts"])):
    x, y = a["artifacts"].get(name, {}).get("sha256"), b["artifacts"].get(name, {}).get("sha256")
    same = x == y and x is not None
    bad += not same
    print(f"{'same' if same else 'DIFFERENT':9} {name:12} {x} {'' if same else y}")
if a != b:
    print("manifests differ" if bad else "manifests differ outside the artifacts (inputs/tools)")
    bad += 1
sys.exit(1 if bad else 0)
PY
echo "[check-reproducible] identical: every artifact of two clean builds of $rev has the same sha256" >&2
