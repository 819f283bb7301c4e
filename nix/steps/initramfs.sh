#!/usr/bin/env bash
# Write the initramfs: an uncompressed newc cpio holding exactly /init (our binary) and the
# console device node (plus the /dev directory it lives in), all owned by root, every mtime
# SOURCE_DATE_EPOCH. Uses the kernel's own usr/gen_init_cpio, which needs no root for device
# nodes and writes entries in spec order with sequential inode numbers: deterministic.
# Usage: initramfs.sh <gen_init_cpio> <init binary> <out.cpio>
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/env.sh"
gen=$1 init=$(realpath "$2") out=$3
spec=$(mktemp)
trap 'rm -f "$spec"' EXIT
cat >"$spec" <<SPEC
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
file /init $init 0755 0 0
SPEC
"$gen" -t "$SOURCE_DATE_EPOCH" "$spec" >"$out"
