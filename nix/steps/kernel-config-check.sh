#!/usr/bin/env bash
# Fail if any option of the fragment does not hold in the given .config.
# Usage: kernel-config-check.sh <fragment> <.config>
set -euo pipefail
frag=$1 cfg=$2 bad=0
while IFS= read -r line; do
  case $line in '#'*|'') continue ;; esac
  key=${line%%=*} val=${line#*=}
  if [ "$val" = n ]; then
    if grep -q "^$key=" "$cfg"; then echo "kernel config: $key should be off: $(grep "^$key=" "$cfg")" >&2; bad=1; fi
  elif ! grep -qxF "$key=$val" "$cfg"; then
    echo "kernel config: wanted $line, got: $(grep -E "^(# )?$key[= ]" "$cfg" || echo unset)" >&2; bad=1
  fi
done <"$frag"
exit $bad
