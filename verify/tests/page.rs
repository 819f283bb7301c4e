//! `page` on bundles built here with the evidence crate, the way the service builds them.

use base64::Engine;
use p256::ecdsa::SigningKey;
use paypal_auth_verify::check::{Failure, Status};
use paypal_auth_verify::evidence::binding::{self, Environment, Purpose, ServiceIdentity};
use paypal_auth_verify::evidence::bundle::{Attestation, Bundle, ReportBinding, BUNDLE_FORMAT, NO_ATTESTATION};
use paypal_auth_verify::evidence::claims::{AttestationClaims, Claims, UserClaims, STATEMENT_FORMAT};
use paypal_auth_verify::evidence::jwk::PublicJwk;
use paypal_auth_verify::evidence::jws::{self, JwsError};
use paypal_auth_verify::page::{self, Expected, ExpectedMeasurement, PageError, PageOptions, PageResult};
use paypal_auth_verify::report::Report;
use paypal_auth_verify::verdict::{self, Coverage, Evidence, Level};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");
const TLS: [u8; 32] = [0x22; 32];

fn key() -> SigningKey {
    SigningKey::from_slice(&[7u8; 32]).unwrap()
}

fn claims(platform: &str) -> Claims {
    Claims {
        format: STATEMENT_FORMAT.into(),
        iss: "https://auth.example.com".into(),
        iat: 1_764_000_000,
        jti: "AAAAAAAAAAAAAAAAAAAAAA".into(),
        domain: "auth.example.com".into(),
        client_id: "client-123".into(),
        environment: Environment::Sandbox,
        user: UserClaims { user_id: "paypal-user-1".into(), name: Some("Ann Example".into()), ..Default::default() },
        login: "bG9naW4".into(),
        attestation: AttestationClaims {
            platform: platform.into(),
            tls_key_sha256: paypal_auth_verify::hex(&TLS),
            signing_key_ephemeral: true,
        },
    }
}

fn bundle(c: &Claims, attestation: Attestation) -> (Bundle, Vec<u8>) {
    let k = key();
    let jwk = PublicJwk::from_key(k.verifying_key());
    let payload = serde_json::to_vec(c).unwrap();
    let jws = jws::sign(&k, &jwk.thumbprint_b64(), &payload);
    (Bundle { format: BUNDLE_FORMAT.into(), jws, jwk, attestation }, payload)
}

fn none_attestation() -> Attestation {
    Attestation::None { statement: NO_ATTESTATION.into() }
}

fn failure<'a>(r: &'a PageResult, name: &str) -> &'a Failure {
    let c = r.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}: {:#?}", r.checks));
    c.failure.as_ref().unwrap_or_else(|| panic!("{name} did not fail: {}", c.detail))
}

fn expected() -> Expected {
    Expected {
        client_id: Some("client-123".into()),
        domain: Some("auth.example.com".into()),
        environment: Some(Environment::Sandbox),
    }
}

#[test]
fn platform_none_gives_verdict_none_and_holds() {
    let (b, _) = bundle(&claims("none"), none_attestation());
    let r = page::verify_bundle(&b, &PageOptions { expected: expected(), ..Default::default() });
    assert!(r.ok(), "{:#?}", r.checks);
    assert_eq!(r.verdict.level, Level::None);
    assert!(r.checks.iter().all(|c| c.status == Status::Pass), "{:#?}", r.checks);
}

#[test]
fn unexpected_client_id_domain_environment() {
    let (b, _) = bundle(&claims("none"), none_attestation());
    let opts = PageOptions {
        expected: Expected {
            client_id: Some("other".into()),
            domain: Some("evil.example".into()),
            environment: Some(Environment::Live),
        },
        ..Default::default()
    };
    let r = page::verify_bundle(&b, &opts);
    assert!(!r.ok());
    assert!(matches!(failure(&r, "expected.client_id"), Failure::Page(PageError::Unexpected { field: "client_id", .. })));
    assert!(matches!(failure(&r, "expected.domain"), Failure::Page(PageError::Unexpected { field: "domain", .. })));
    assert!(matches!(failure(&r, "expected.environment"), Failure::Page(PageError::Unexpected { field: "environment", .. })));
}

#[test]
fn tampered_jws_payload_fails_signature() {
    let (mut b, _) = bundle(&claims("none"), none_attestation());
    let parts: Vec<&str> = b.jws.split('.').collect();
    let mut c = claims("none");
    c.user.user_id = "someone-else".into();
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap());
    b.jws = format!("{}.{}.{}", parts[0], forged, parts[2]);
    let r = page::verify_bundle(&b, &PageOptions::default());
    assert_eq!(failure(&r, "page.jws"), &Failure::Page(PageError::Jws(JwsError::BadSignature)));
    assert_eq!(r.verdict.level, Level::None);
}

#[test]
fn platform_in_claims_must_match_bundle() {
    let (b, _) = bundle(&claims("sev-snp"), none_attestation());
    let r = page::verify_bundle(&b, &PageOptions::default());
    assert!(matches!(failure(&r, "page.platform"), Failure::Page(PageError::Platform { .. })));
}

#[test]
fn none_statement_must_be_exact() {
    let (b, _) = bundle(&claims("none"), Attestation::None { statement: "trust me".into() });
    let r = page::verify_bundle(&b, &PageOptions::default());
    assert!(matches!(failure(&r, "attestation"), Failure::Page(PageError::Statement(_))));
}

fn real_snp_attestation(binds: ReportBinding) -> (Attestation, Vec<u8>) {
    let raw = std::fs::read(format!("{DIR}/vectors/genoa-v5-attestation-rs/report.bin")).unwrap();
    let vcek = std::fs::read(format!("{DIR}/vectors/genoa-v5-attestation-rs/vcek.der")).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    (
        Attestation::SevSnp {
            report: b64.encode(&raw),
            binds,
            fallback_reason: None,
            certificates: vec![b64.encode(vcek)],
            kds_url: None,
        },
        raw,
    )
}

/// A genuine report that does not bind this page: the chain holds, the binding names the failure,
/// and the verdict is NONE.
#[test]
fn report_data_not_matching_the_page() {
    let (att, raw) = real_snp_attestation(ReportBinding::Page);
    let (b, payload) = bundle(&claims("sev-snp"), att);
    let report = Report::parse(&raw).unwrap();
    let opts = PageOptions {
        expected: expected(),
        measurement: Some(ExpectedMeasurement { digest: report.measurement, coverage: Coverage::Image }),
        ..Default::default()
    };
    let r = page::verify_bundle(&b, &opts);
    for name in [
        "chain.ark",
        "chain.intermediate",
        "chain.leaf",
        "chain.validity",
        "report.signature",
        "binding.tcb",
        "binding.chip_id",
        "measurement",
    ] {
        let c = r.checks.iter().find(|c| c.name == name).unwrap();
        assert_eq!(c.status, Status::Pass, "{name}: {}", c.detail);
    }
    let Failure::Page(PageError::Binding { purpose: "page", expected, reported }) = failure(&r, "binding.report_data") else {
        panic!("{:#?}", r.checks)
    };
    // The expected value is exactly the contract's binding of this page.
    let identity = ServiceIdentity {
        client_id: "client-123".into(),
        environment: Environment::Sandbox,
        domain: "auth.example.com".into(),
        signing_key_thumbprint: b.jwk.thumbprint(),
        tls_key_sha256: TLS,
    };
    let want = binding::report_data(&identity, Purpose::Page(binding::page_digest(&payload))).unwrap();
    assert_eq!(expected, &paypal_auth_verify::hex(&want));
    assert_eq!(reported, &paypal_auth_verify::hex(&report.report_data));
    assert!(!r.ok());
    assert_eq!(r.verdict.level, Level::None);
}

#[test]
fn boot_binding_is_checked_as_boot() {
    let (att, _) = real_snp_attestation(ReportBinding::Boot);
    let (b, _) = bundle(&claims("sev-snp"), att);
    let r = page::verify_bundle(&b, &PageOptions::default());
    assert!(matches!(failure(&r, "binding.report_data"), Failure::Page(PageError::Binding { purpose: "boot", .. })));
    assert!(r.verdict.not_covered.iter().any(|f| f.contains("boot-time")));
}

#[test]
fn measurement_mismatch_is_named() {
    let (att, _) = real_snp_attestation(ReportBinding::Page);
    let (b, _) = bundle(&claims("sev-snp"), att);
    let opts = PageOptions {
        measurement: Some(ExpectedMeasurement { digest: [0xAB; 48], coverage: Coverage::Image }),
        ..Default::default()
    };
    let r = page::verify_bundle(&b, &opts);
    assert!(matches!(failure(&r, "measurement"), Failure::Measurement(_)));
}

#[test]
fn garbage_report_and_certificates_are_named() {
    let (b, _) = bundle(
        &claims("sev-snp"),
        Attestation::SevSnp {
            report: "!!!".into(),
            binds: ReportBinding::Page,
            fallback_reason: None,
            certificates: vec![],
            kds_url: None,
        },
    );
    let r = page::verify_bundle(&b, &PageOptions::default());
    assert_eq!(failure(&r, "report.parse"), &Failure::Page(PageError::ReportEncoding));
    let (b, _) = bundle(
        &claims("sev-snp"),
        Attestation::SevSnp {
            report: base64::engine::general_purpose::STANDARD.encode([0u8; 100]),
            binds: ReportBinding::Page,
            fallback_reason: None,
            certificates: vec![],
            kds_url: None,
        },
    );
    let r = page::verify_bundle(&b, &PageOptions::default());
    assert!(matches!(failure(&r, "report.parse"), Failure::Parse(_)));
}

#[test]
fn html_page_with_escaped_evidence() {
    let (b, _) = bundle(&claims("none"), none_attestation());
    let json = serde_json::to_string(&b).unwrap().replace('<', "\\u003c");
    let html = format!(
        "<!doctype html><html><head><title>x</title></head><body><h1>Signed</h1>\n<script type=\"application/json\" id=\"paypal-auth-evidence\">{json}</script></body></html>"
    );
    let parsed = page::read_bundle(html.as_bytes()).unwrap();
    assert_eq!(parsed, b);
    let r = page::verify_bundle(&parsed, &PageOptions { expected: expected(), ..Default::default() });
    assert!(r.ok());
}

#[test]
fn verdict_levels() {
    let full = Evidence { has_report: true, genuine: true, bound: true, policy_ok: true, measurement: Some(Coverage::Image) };
    assert_eq!(verdict::decide(full, Some("page")).level, Level::FullChain);
    assert!(!verdict::decide(full, Some("page")).not_covered.iter().any(|f| f.contains("image itself")));
    let fw = Evidence { measurement: Some(Coverage::Firmware), ..full };
    assert_eq!(verdict::decide(fw, Some("page")).level, Level::FirmwareOnly);
    assert!(verdict::decide(fw, Some("page")).not_covered.iter().any(|f| f.contains("image itself")));
    let unmeasured = Evidence { measurement: None, ..full };
    assert_eq!(verdict::decide(unmeasured, Some("page")).level, Level::FirmwareOnly);
    assert_eq!(verdict::decide(Evidence { bound: false, ..full }, Some("page")).level, Level::None);
    assert_eq!(verdict::decide(Evidence { genuine: false, ..full }, Some("page")).level, Level::None);
    assert_eq!(verdict::decide(Evidence { policy_ok: false, ..full }, Some("page")).level, Level::None);
    assert_eq!(verdict::decide(Evidence::default(), None).level, Level::None);
    let json = serde_json::to_value(verdict::decide(full, Some("page"))).unwrap();
    assert_eq!(json["level"], "FULL_CHAIN");
}
