//! Stable-toolchain fuzzing: deterministic mutations of the real inputs (bit flips, byte
//! overwrites, truncations, extensions, splices) fed to the same entry points as the cargo-fuzz
//! targets. A panic fails the test. `PAV_FUZZ_ITERS` sets the iterations per target.

use paypal_auth_verify::fuzzing;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0, 0xFF, 0x7F, 0x80, 1][rng.below(5)];
            }
            2 => v.truncate(rng.below(v.len() + 1)),
            3 => {
                let n = rng.below(64);
                for _ in 0..n {
                    v.push(rng.next() as u8);
                }
            }
            4 if !other.is_empty() => {
                let a = rng.below(other.len());
                let b = a + rng.below(other.len() - a);
                let at = rng.below(v.len() + 1);
                v.splice(at..at, other[a..b].iter().copied());
            }
            _ => {}
        }
    }
    v
}

fn iters() -> usize {
    std::env::var("PAV_FUZZ_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(300)
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(format!("{DIR}/vectors")).unwrap().flatten() {
        let d = entry.path();
        let report = std::fs::read(d.join("report.bin")).unwrap();
        for cert in ["vcek.der", "vcek.pem", "vlek.der"] {
            if let Ok(c) = std::fs::read(d.join(cert)) {
                let mut v = report.clone();
                v.extend_from_slice(&c);
                out.push(v);
            }
        }
    }
    out
}

#[test]
fn report_parser_survives_mutations() {
    let seeds = seeds();
    let mut rng = Rng(0x5EED_0001);
    for i in 0..iters() {
        let seed = &seeds[i % seeds.len()];
        let other = &seeds[rng.below(seeds.len())];
        let mut input = mutate(&mut rng, seed, other);
        // Mostly skip the slow RSA chain: clear bit 0 of the first byte on 9 of 10 inputs.
        if i % 10 != 0 {
            if let Some(b) = input.first_mut() {
                *b &= !1;
            }
        }
        fuzzing::report(&input);
    }
}

#[test]
fn evidence_reader_survives_mutations() {
    let bundle = br#"{"format":"paypal-auth-vm/evidence/v1","jws":"eyJhbGciOiJFUzI1NiJ9.e30.AAAA","jwk":{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},"attestation":{"platform":"sev-snp","report":"AAAA","binds":"page","certificates":["AAAA"]}}"#;
    let html = format!(
        "<html><script type=\"application/json\" id=\"paypal-auth-evidence\">{}</script></html>",
        String::from_utf8_lossy(bundle)
    );
    let answer = br#"HTTP/1.1 200 OK
Content-Length: 180

{"platform":"sev-snp","report":"AAAA","certificates":[],"identity":{"client_id":"c","environment":"live","domain":"d","signing_key_thumbprint":"AA","tls_key_sha256":"00"}}"#;
    let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\nffffffffffffffff\r\nx\r\n0\r\n\r\n";
    let seeds: Vec<Vec<u8>> = vec![bundle.to_vec(), html.into_bytes(), answer.to_vec(), chunked.to_vec()];
    let mut rng = Rng(0x5EED_0002);
    for i in 0..iters() * 3 {
        let seed = &seeds[i % seeds.len()];
        let other = &seeds[rng.below(seeds.len())];
        fuzzing::evidence(&mutate(&mut rng, seed, other));
    }
}

#[test]
fn ovmf_parser_survives_mutations() {
    let mut seeds = Vec::new();
    if let Ok(ovmf) = std::fs::read("/usr/share/ovmf/OVMF.fd") {
        // Only the last pages hold the tables; keep inputs small.
        seeds.push(ovmf[ovmf.len() - 8192..].to_vec());
    }
    seeds.push(vec![0u8; 4096]);
    let mut rng = Rng(0x5EED_0003);
    for i in 0..iters() {
        let seed = &seeds[i % seeds.len()];
        let mut input = mutate(&mut rng, seed, seed);
        // Aim some mutations at the footer table region.
        if input.len() > 64 {
            let n = input.len();
            let at = n - 64 + rng.below(64);
            input[at] ^= rng.next() as u8;
        }
        fuzzing::ovmf(&input);
    }
}
