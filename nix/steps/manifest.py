#!/usr/bin/env python3
"""Write manifest.json: sha256 and size of every artifact, the exact kernel command line, and
the versions of the tools that made them (so an auditor knows what to reproduce with).

Usage: manifest.py <out.json> <name>=<file>... [--input <name>=<file>...] [--tool <name>=<version>...]
Keys are sorted and no time or path is recorded, so two identical builds give identical bytes.
"""
import hashlib
import json
import os
import sys


def digest(path: str) -> dict:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return {"sha256": h.hexdigest(), "size": os.path.getsize(path)}


def main() -> None:
    out, args = sys.argv[1], sys.argv[2:]
    manifest = {"artifacts": {}, "inputs": {}, "tools": {}}
    section = "artifacts"
    for arg in args:
        if arg == "--input":
            section = "inputs"
            continue
        if arg == "--tool":
            section = "tools"
            continue
        name, value = arg.split("=", 1)
        manifest[section][name] = value if section == "tools" else digest(value)
    with open(out, "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
