#!/usr/bin/env bash
# Build the unified kernel image (UKI): systemd-stub + os-release + cmdline + kernel + initrd as
# PE sections, each placed at the next 4 KiB boundary after the previous one (offsets computed
# from the stub and payload sizes, not hard-coded), then PE timestamp/checksum normalised.
# Usage: uki.sh <linuxx64.efi.stub> <bzImage> <initrd> <cmdline file> <os-release> <out.efi>
set -euo pipefail
here=$(dirname "$(realpath "$0")")
. "$here/env.sh"
stub=$1 kernel=$2 initrd=$3 cmdline=$4 osrel=$5 out=$6
align() { echo $(( ($1 + 4095) / 4096 * 4096 )); }
size() { stat -c %s "$1"; }
# End of the stub's last section (VMA + size; the stub's ImageBase is 0, so VMA = RVA).
end=0
while read -r idx _name size vma _rest; do
  case $idx in *[!0-9]* | '') continue ;; esac
  e=$((16#$vma + 16#$size))
  [ "$e" -gt "$end" ] && end=$e
done < <(objdump -h "$stub")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The stub reads .cmdline as a NUL-free string; drop the file's trailing newline.
tr -d '\n' <"$cmdline" >"$work/cmdline"
osrel_at=$(align "$end")
cmdline_at=$(align $((osrel_at + $(size "$osrel"))))
linux_at=$(align $((cmdline_at + $(size "$work/cmdline"))))
initrd_at=$(align $((linux_at + $(size "$kernel"))))
objcopy \
  --add-section .osrel="$osrel" --change-section-vma .osrel=$(printf 0x%x "$osrel_at") \
  --add-section .cmdline="$work/cmdline" --change-section-vma .cmdline=$(printf 0x%x "$cmdline_at") \
  --add-section .linux="$kernel" --change-section-vma .linux=$(printf 0x%x "$linux_at") \
  --add-section .initrd="$initrd" --change-section-vma .initrd=$(printf 0x%x "$initrd_at") \
  "$stub" "$work/uki.efi"
python3 "$here/pe-normalise.py" "$work/uki.efi"
cp "$work/uki.efi" "$out"
