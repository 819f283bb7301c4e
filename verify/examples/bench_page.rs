//! Times a full offline `page` verification: JWS, claims, pinned ARK → ASK → VCEK chain
//! (three RSA-4096 PSS checks), report signature, TCB/chip-id binding, policy, REPORT_DATA
//! binding and measurement, on a bundle carrying a real Genoa v5 report and its VCEK.
//!
//! `cargo run --release -p paypal-auth-verify --example bench_page [runs] [write-bundle-to]`
//! prints the median and writes the bundle JSON (for timing the CLI with hyperfine).

use base64::Engine;
use p256::ecdsa::SigningKey;
use paypal_auth_verify::evidence::binding::Environment;
use paypal_auth_verify::evidence::bundle::{Attestation, Bundle, ReportBinding, BUNDLE_FORMAT};
use paypal_auth_verify::evidence::claims::{AttestationClaims, Claims, UserClaims, STATEMENT_FORMAT};
use paypal_auth_verify::evidence::jwk::PublicJwk;
use paypal_auth_verify::evidence::jws;
use paypal_auth_verify::page::{self, PageOptions};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(101);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors/genoa-v5-attestation-rs");
    let b64 = base64::engine::general_purpose::STANDARD;
    let report = std::fs::read(format!("{dir}/report.bin")).expect("report");
    let vcek = std::fs::read(format!("{dir}/vcek.der")).expect("vcek");
    let key = SigningKey::from_slice(&[7u8; 32]).expect("key");
    let jwk = PublicJwk::from_key(key.verifying_key());
    let claims = Claims {
        format: STATEMENT_FORMAT.into(),
        iss: "https://auth.example.com".into(),
        iat: 1_764_000_000,
        jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        domain: "auth.example.com".into(),
        client_id: "client-123".into(),
        environment: Environment::Sandbox,
        user: UserClaims { user_id: "u".into(), ..Default::default() },
        login: "bG9naW4".into(),
        attestation: AttestationClaims {
            platform: "sev-snp".into(),
            tls_key_sha256: "22".repeat(32),
            signing_key_ephemeral: true,
        },
    };
    let payload = serde_json::to_vec(&claims).expect("claims");
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        jws: jws::sign(&key, &jwk.thumbprint_b64(), &payload),
        jwk,
        attestation: Attestation::SevSnp {
            report: b64.encode(&report),
            binds: ReportBinding::Page,
            fallback_reason: None,
            certificates: vec![b64.encode(&vcek)],
            kds_url: None,
        },
    };
    let json = serde_json::to_vec(&bundle).expect("bundle");
    if let Some(path) = args.get(2) {
        std::fs::write(path, &json).expect("write bundle");
    }
    let opts = PageOptions::default();
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        let parsed = page::read_bundle(&json).expect("parse");
        let result = page::verify_bundle(&parsed, &opts);
        times.push(start.elapsed());
        // The vector's REPORT_DATA is not our binding: everything else must hold.
        assert!(result
            .checks
            .iter()
            .filter(|c| c.name != "binding.report_data")
            .all(|c| c.status != paypal_auth_verify::check::Status::Fail));
    }
    times.sort();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "full offline page verification, {runs} runs: median {:.2} ms, min {:.2} ms, max {:.2} ms",
        ms(times[runs / 2]),
        ms(times[0]),
        ms(times[runs - 1])
    );
}
