#!/usr/bin/env bash
# Build the bootable disk: a GPT disk with one EFI system partition (FAT32) holding the UKI as
# the removable-media default loader \EFI\BOOT\BOOTX64.EFI, plus its qcow2 conversion (what OCI
# imports). Deterministic: fixed GUIDs and FAT volume id (env.sh), mkfs.fat --invariant, all
# FAT timestamps from SOURCE_DATE_EPOCH in UTC.
# Usage: disk.sh <uki.efi> <out.raw> <out.qcow2>
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/env.sh"
uki=$1 raw=$2 qcow2=$3
esp_mib=64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$uki" "$work/BOOTX64.EFI"
touch -d "@$SOURCE_DATE_EPOCH" "$work/BOOTX64.EFI"
truncate -s "${esp_mib}M" "$work/esp.img"
mkfs.vfat -F 32 --invariant -i "$FAT_VOLUME_ID" -n ESP "$work/esp.img" >/dev/null
export MTOOLS_SKIP_CHECK=1
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -p -m -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
# 1 MiB before the partition (protective MBR + GPT), 1 MiB after it (backup GPT).
rm -f "$raw"
truncate -s $((esp_mib + 2))M "$raw"
sgdisk -U "$DISK_GUID" -n "1:2048:+${esp_mib}M" -t 1:ef00 -c 1:ESP -u "1:$ESP_GUID" "$raw" >/dev/null
dd if="$work/esp.img" of="$raw" bs=1M seek=1 conv=notrunc status=none
qemu-img convert -f raw -O qcow2 "$raw" "$qcow2"
