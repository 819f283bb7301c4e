#!/usr/bin/env bash
# Local (non-Nix) driver of the image build: runs the same steps as the flake, from Debian
# packages (linux-source-6.12, systemd-boot-efi, dosfstools, mtools, gdisk, qemu-utils, python3).
#
#   nix/build-local.sh                 # builds into out/image/
#
# Environment:
#   OUT=dir            output directory (default <repo>/out/image)
#   CMDLINE_FILE=file  kernel command line to embed in the UKI (default nix/cmdline); tests use
#                      a test command line, the measured image uses nix/cmdline
#   KERNEL_TARBALL=f   Linux source (default /usr/src/linux-source-6.12.tar.xz)
#   IMAGE_CACHE=dir    kernel build cache (default /var/cache/paypal-auth-vm); the kernel takes
#                      10-13 min on 2 cores, so it is built once per cache key
#   SKIP_BINARY=1      reuse $OUT/init (tests that only change the command line)
set -euo pipefail
nix=$(dirname "$(realpath "$0")")
repo=$(dirname "$nix")
steps=$nix/steps
out=${OUT:-$repo/out/image}
cmdline=${CMDLINE_FILE:-$nix/cmdline}
tarball=${KERNEL_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
cache=${IMAGE_CACHE:-/var/cache/paypal-auth-vm}
stub=${EFI_STUB:-/usr/lib/systemd/boot/efi/linuxx64.efi.stub}
mkdir -p "$out"
log() { printf '[build-local] %s\n' "$*" >&2; }

# 1. Kernel (cached by content key).
key=$("$steps/kernel-cache-key.sh" "$tarball")
kdir=$cache/kernel/$key
if [ ! -f "$kdir/bzImage" ]; then
  log "kernel: building (cache miss, key $key); this takes 10-13 min on 2 cores"
  mkdir -p "$cache/kernel"
  work=$(mktemp -d "$cache/kernel/build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  tar -xf "$tarball" -C "$work"
  src=$(find "$work" -mindepth 1 -maxdepth 1 -type d | head -1)
  "$steps/kernel.sh" "$src" "$nix/kernel.config" "$nix/kernel-fragment.config" "$work/out"
  rm -rf "$kdir"
  mv "$work/out" "$kdir"
  rm -rf "$work"
else
  log "kernel: cached ($kdir)"
fi
cp "$kdir/bzImage" "$out/bzImage"

# 2. /init.
if [ "${SKIP_BINARY:-0}" != 1 ] || [ ! -f "$out/init" ]; then
  log "binary: cargo build --release (static)"
  "$steps/binary.sh" "$repo" "$out/init"
fi

# 3-5. initramfs, UKI, disk.
log "initramfs, UKI, disk"
"$steps/initramfs.sh" "$kdir/gen_init_cpio" "$out/init" "$out/initrd.cpio"
tr -d '\n' <"$cmdline" >"$out/cmdline"
"$steps/uki.sh" "$stub" "$out/bzImage" "$out/initrd.cpio" "$out/cmdline" "$nix/os-release" "$out/uki.efi"
"$steps/disk.sh" "$out/uki.efi" "$out/disk.raw" "$out/disk.qcow2"

# 6. Manifest.
first() { "$@" 2>&1 | head -1; }
python3 "$steps/manifest.py" "$out/manifest.json" \
  init="$out/init" initrd.cpio="$out/initrd.cpio" bzImage="$out/bzImage" cmdline="$out/cmdline" \
  uki.efi="$out/uki.efi" disk.raw="$out/disk.raw" disk.qcow2="$out/disk.qcow2" \
  --input kernel-source="$tarball" kernel.config="$nix/kernel.config" efi-stub="$stub" Cargo.lock="$repo/Cargo.lock" \
  --tool rustc="$(first rustc -V)" cargo="$(first cargo -V)" gcc="$(first gcc --version)" \
  binutils="$(first ld --version)" kernel="$(cat "$kdir/version")" \
  dosfstools="$(dpkg-query -W -f='${Version}' dosfstools 2>/dev/null || echo unknown)" mtools="$(first mtools --version)" \
  sgdisk="$(sgdisk --version 2>&1 | grep -m1 -i gdisk)" qemu-img="$(first qemu-img --version)" \
  systemd-boot-efi="$(dpkg-query -W -f='${Version}' systemd-boot-efi 2>/dev/null || echo unknown)" \
  linux-source="$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || echo unknown)"
log "done: $out"
sha256sum "$out"/init "$out"/initrd.cpio "$out"/bzImage "$out"/uki.efi "$out"/disk.raw "$out"/disk.qcow2 >&2
