# Constants shared by every build step. Sourced, not executed.
# One fixed epoch for every timestamp the artifacts carry: 1980-01-01T00:00:00Z is the
# earliest date FAT can store, so the same value works for cpio, kernel, PE and FAT.
export SOURCE_DATE_EPOCH=315532800
export TZ=UTC
export LC_ALL=C
# Kernel build identity (what `uname -v` and /proc/version print); pinned so the bzImage
# does not depend on who built it, where, or when.
export KBUILD_BUILD_TIMESTAMP='Tue Jan  1 00:00:00 UTC 1980'
export KBUILD_BUILD_USER=build
export KBUILD_BUILD_HOST=paypal-auth-vm
export KBUILD_BUILD_VERSION=1
# Fixed identifiers of the disk image (GPT disk GUID, ESP partition GUID, FAT volume id).
export DISK_GUID=5041594c-4155-4854-8000-564d44495348
export ESP_GUID=5041594c-4155-4854-8000-455350303031
export FAT_VOLUME_ID=50415641
