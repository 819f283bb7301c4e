#!/usr/bin/env bash
# Build the service as a static, stripped executable: the image's /init.
# Usage: binary.sh <repo dir> <out file>
# Honours CARGO_TARGET_DIR. Local runs use the glibc target with +crt-static (static-pie); the
# Nix flake uses the musl target with the same flags (TARGET overrides the triple).
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/env.sh"
repo=$(realpath "$1") out=$2
target=${TARGET:-x86_64-unknown-linux-gnu}
cargo_home=${CARGO_HOME:-$HOME/.cargo}
# Paths of the checkout and of the crate registry end up in panic messages; map them to
# constants so the binary does not depend on where it was built.
export RUSTFLAGS="-C target-feature=+crt-static --remap-path-prefix=$repo=/build --remap-path-prefix=$cargo_home=/cargo"
cd "$repo"
cargo build --release --locked --target "$target" -p paypal-auth-vm
target_dir=${CARGO_TARGET_DIR:-$repo/target}
mkdir -p "$(dirname "$out")"
cp "$target_dir/$target/release/paypal-auth-vm" "$out"
chmod 0755 "$out"
