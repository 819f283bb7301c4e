#!/usr/bin/env bash
# Print the cache key of a kernel build: sha256 over everything that decides the bzImage bytes
# (source tarball, config, fragment, build steps, compiler and linker versions). The kernel
# command line is not an input of the kernel build.
# Usage: kernel-cache-key.sh <linux source tarball>
set -euo pipefail
here=$(dirname "$(realpath "$0")")
nix=$(dirname "$here")
{
  sha256sum "$1" | cut -d' ' -f1
  sha256sum "$nix/kernel.config" "$nix/kernel-fragment.config" "$here/kernel.sh" \
    "$here/kernel-config-check.sh" "$here/env.sh" | cut -d' ' -f1
  gcc --version | head -1
  ld --version | head -1
} | sha256sum | cut -d' ' -f1
