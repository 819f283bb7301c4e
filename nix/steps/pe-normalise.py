#!/usr/bin/env python3
"""Set a PE image's COFF TimeDateStamp to SOURCE_DATE_EPOCH and recompute its CheckSum.

binutils objcopy stamps the current time into the PE header (it ignores SOURCE_DATE_EPOCH), so
a UKI built with it differs from build to build; this fixes the stamp and the checksum that
covers it. Usage: pe-normalise.py <file> (rewritten in place).
"""
import os
import struct
import sys


def pe_checksum(data: bytes, checksum_offset: int) -> int:
    total = 0
    padded = data + (b"\0" if len(data) % 2 else b"")
    for i in range(0, len(padded), 2):
        if i in (checksum_offset, checksum_offset + 2):
            continue  # the CheckSum field itself counts as zero
        total += padded[i] | (padded[i + 1] << 8)
        total = (total & 0xFFFF) + (total >> 16)
    total = (total & 0xFFFF) + (total >> 16)
    return (total + len(data)) & 0xFFFFFFFF


def main() -> None:
    path = sys.argv[1]
    stamp = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    data = bytearray(open(path, "rb").read())
    if data[:2] != b"MZ":
        sys.exit(f"{path}: not a PE image")
    pe = struct.unpack_from("<I", data, 0x3C)[0]
    if data[pe : pe + 4] != b"PE\0\0":
        sys.exit(f"{path}: no PE signature")
    struct.pack_into("<I", data, pe + 8, stamp)
    checksum_offset = pe + 24 + 64  # optional header + CheckSum (same for PE32 and PE32+)
    struct.pack_into("<I", data, checksum_offset, 0)
    struct.pack_into("<I", data, checksum_offset, pe_checksum(bytes(data), checksum_offset))
    open(path, "wb").write(data)


if __name__ == "__main__":
    main()
