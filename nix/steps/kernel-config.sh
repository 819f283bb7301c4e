#!/usr/bin/env bash
# Regenerate nix/kernel.config from nix/kernel-fragment.config: tinyconfig + fragment +
# olddefconfig, then check that every fragment option survived (Kconfig silently drops
# options whose dependencies are unmet).
# Usage: kernel-config.sh <unpacked linux source dir> <fragment> <output .config>
set -euo pipefail
src=$1 frag=$(realpath "$2") out=$3
make -s -C "$src" tinyconfig
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$frag" >/dev/null
make -s -C "$src" olddefconfig
"$(dirname "$0")/kernel-config-check.sh" "$frag" "$src/.config"
cp "$src/.config" "$out"
