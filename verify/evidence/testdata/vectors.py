#!/usr/bin/env python3
"""Independent reimplementation of the REPORT_DATA layout (docs/attestation.md), used to produce the
test vectors that the Rust implementation is checked against."""
import hashlib, struct, sys

DOMAIN = b"paypal-auth-vm/report-data/v1\0"

def field(tag, data):
    return bytes([tag]) + struct.pack(">I", len(data)) + data

def report_data(client_id, env, domain, thumb, tls, purpose, value):
    m = DOMAIN
    m += field(1, client_id.encode()) + field(2, env.encode()) + field(3, domain.encode())
    m += field(4, thumb) + field(5, tls) + field(6, bytes([purpose])) + field(7, value)
    return hashlib.sha512(m).hexdigest()

ident = ("AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS", "sandbox", "auth.example.com",
         b"\x11" * 32, b"\x22" * 32)
vectors = {
    "vector-boot.hex": report_data(*ident, 3, b""),
    "vector-page.hex": report_data(*ident, 1, b"\x33" * 32),
    "vector-nonce.hex": report_data(*ident, 2, b"verifier-nonce-0001"),
}
for name, value in vectors.items():
    if len(sys.argv) > 1 and sys.argv[1] == "--write":
        open(name, "w").write(value + "\n")
    print(name, value)
