#!/usr/bin/env bash
# Build the kernel (bzImage) and the kernel's own cpio writer (usr/gen_init_cpio) from an
# unpacked Linux source tree and nix/kernel.config (bzImage builds usr/ and with it the
# host tool gen_init_cpio, for the built-in default initramfs). Reproducible: build identity pinned in
# env.sh, no modules (so no random signing key), no debug info, no LOCALVERSION_AUTO.
# Usage: kernel.sh <unpacked linux source dir> <kernel.config> <fragment> <out dir>
# Writes <out>/bzImage, <out>/gen_init_cpio, <out>/config, <out>/version.
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/env.sh"
src=$1 cfg=$2 frag=$3 out=$4
mkdir -p "$out"
cp "$cfg" "$src/.config"
make -s -C "$src" olddefconfig
# olddefconfig may legitimately rewrite toolchain-derived lines (CONFIG_CC_VERSION_TEXT, ...)
# with another compiler; what must hold is every option we chose.
"$here/kernel-config-check.sh" "$frag" "$src/.config"
if ! diff -q <(grep -v -E '^CONFIG_(CC|GCC|LD|AS|CLANG|LLD|PAHOLE|RUSTC)_' "$cfg") \
             <(grep -v -E '^CONFIG_(CC|GCC|LD|AS|CLANG|LLD|PAHOLE|RUSTC)_' "$src/.config") >/dev/null; then
  echo "kernel.sh: note: olddefconfig changed non-toolchain lines of kernel.config:" >&2
  diff <(grep -v -E '^CONFIG_(CC|GCC|LD|AS|CLANG|LLD|PAHOLE|RUSTC)_' "$cfg") \
       <(grep -v -E '^CONFIG_(CC|GCC|LD|AS|CLANG|LLD|PAHOLE|RUSTC)_' "$src/.config") >&2 || true
fi
make -C "$src" -j"$(nproc)" \
  KBUILD_BUILD_TIMESTAMP="$KBUILD_BUILD_TIMESTAMP" KBUILD_BUILD_USER="$KBUILD_BUILD_USER" \
  KBUILD_BUILD_HOST="$KBUILD_BUILD_HOST" KBUILD_BUILD_VERSION="$KBUILD_BUILD_VERSION" \
  bzImage
cp "$src/arch/x86/boot/bzImage" "$out/bzImage"
cp "$src/usr/gen_init_cpio" "$out/gen_init_cpio"
cp "$src/.config" "$out/config"
make -s -C "$src" kernelrelease >"$out/version"
