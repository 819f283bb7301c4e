#!/bin/sh
# Short libFuzzer run of every target, for CI: verify/fuzz/smoke.sh [seconds-per-target]
#
# Works on the stable toolchain: `-s none` builds without AddressSanitizer (ASan needs the
# nightly-only -Zsanitizer flag, which cargo-fuzz 0.13 does not get past even with
# RUSTC_BOOTSTRAP=1). The verifier is #![forbid(unsafe_code)], so ASan would add little; the
# coverage-guided search and panic detection work as usual. Needs `cargo install cargo-fuzz`.
set -eu
cd "$(dirname "$0")/.."
secs="${1:-30}"
corpus="${PAV_FUZZ_CORPUS:-$(mktemp -d)}"
mkdir -p "$corpus/report" "$corpus/evidence" "$corpus/ovmf"
for d in testdata/vectors/*; do
    for c in "$d"/vcek.der "$d"/vcek.pem "$d"/vlek.der; do
        [ -f "$c" ] && cat "$d/report.bin" "$c" > "$corpus/report/$(basename "$d")-$(basename "$c")"
    done
done
printf '%s' '{"format":"paypal-auth-vm/evidence/v1","jws":"eyJhbGciOiJFUzI1NiJ9.e30.AAAA","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},"attestation":{"platform":"none","statement":"no hardware attestation on this host"}}' > "$corpus/evidence/none.json"
printf '<html><script type="application/json" id="paypal-auth-evidence">%s</script></html>' "$(cat "$corpus/evidence/none.json")" > "$corpus/evidence/page.html"
printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}' > "$corpus/evidence/http"
if [ -f /usr/share/ovmf/OVMF.fd ]; then tail -c 8192 /usr/share/ovmf/OVMF.fd > "$corpus/ovmf/debian-tail"; fi
head -c 4096 /dev/zero > "$corpus/ovmf/zero"
for target in report evidence ovmf; do
    echo "== fuzz $target for ${secs}s"
    cargo fuzz run -s none "$target" "$corpus/$target" -- -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1
done
