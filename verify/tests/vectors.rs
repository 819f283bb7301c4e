//! Real AMD-signed reports (verify/testdata/vectors): chain, signature, binding, policy, and
//! every tamper from issue 5 with its named failure.

use paypal_auth_verify::certs::{self, Cert, ChainError, LeafBindingError, LeafExtensions, Role, Roots};
use paypal_auth_verify::check::{self, Failure, ProductError, ReportOptions, ReportResult, Status};
use paypal_auth_verify::policy::{Overrides, Policy, Violation};
use paypal_auth_verify::report::{offset, Product, RawTcb, Report, SigningKey, REPORT_LEN};
use paypal_auth_verify::time::parse_rfc3339;

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

struct Vector {
    name: &'static str,
    cert: &'static str,
    product: Product,
    /// A time inside every certificate's validity (the AWS VLEK expired 2025-12-10).
    at: &'static str,
}

const VECTORS: &[Vector] = &[
    Vector { name: "milan-v2-virtee", cert: "vcek.der", product: Product::Milan, at: "2026-12-01T00:00:00Z" },
    Vector { name: "milan-v2-gosevguest", cert: "vcek.der", product: Product::Milan, at: "2026-12-01T00:00:00Z" },
    Vector { name: "milan-v2-trustee", cert: "vcek.der", product: Product::Milan, at: "2026-12-01T00:00:00Z" },
    Vector { name: "milan-v3-vlek-aws-trustee", cert: "vlek.der", product: Product::Milan, at: "2025-06-01T00:00:00Z" },
    Vector { name: "genoa-v3-msft", cert: "vcek.pem", product: Product::Genoa, at: "2026-12-01T00:00:00Z" },
    Vector { name: "genoa-v5-attestation-rs", cert: "vcek.der", product: Product::Genoa, at: "2026-12-01T00:00:00Z" },
];

fn load(v: &Vector) -> (Vec<u8>, Cert) {
    let raw = std::fs::read(format!("{DIR}/vectors/{}/report.bin", v.name)).unwrap();
    let cert = Cert::parse(&std::fs::read(format!("{DIR}/vectors/{}/{}", v.name, v.cert)).unwrap(), Role::Vcek).unwrap();
    (raw, cert)
}

fn opts(v: &Vector) -> ReportOptions {
    let mut o = ReportOptions::new();
    // v2 reports carry no CPUID: the product is given as a user would with --product.
    o.product = Some(v.product);
    o.at = parse_rfc3339(v.at).unwrap();
    o
}

fn status(r: &ReportResult, name: &str) -> Status {
    r.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}: {:#?}", r.checks)).status
}

fn failure<'a>(r: &'a ReportResult, name: &str) -> &'a Failure {
    let c = r.checks.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no check {name}"));
    c.failure.as_ref().unwrap_or_else(|| panic!("check {name} did not fail: {}", c.detail))
}

fn run(raw: &[u8], cert: &Cert, o: &ReportOptions) -> ReportResult {
    let report = Report::parse(raw).unwrap();
    check::verify_report(&report, Some(cert), o)
}

#[test]
fn every_vector_passes_chain_and_signature() {
    for v in VECTORS {
        let (raw, cert) = load(v);
        let r = run(&raw, &cert, &opts(v));
        for name in [
            "report.product",
            "chain.ark",
            "chain.intermediate",
            "chain.leaf",
            "chain.validity",
            "report.signature",
            "binding.tcb",
        ] {
            assert_eq!(status(&r, name), Status::Pass, "{}: {name}: {:#?}", v.name, r.checks);
        }
        assert!(r.genuine(), "{}", v.name);
        let chip = status(&r, "binding.chip_id");
        if v.cert.starts_with("vlek") {
            assert_eq!(chip, Status::Skip);
        } else {
            assert_eq!(chip, Status::Pass, "{}", v.name);
        }
    }
}

#[test]
fn v3_and_v5_reports_need_no_product_flag() {
    for v in VECTORS.iter().filter(|v| !v.name.contains("-v2-")) {
        let (raw, cert) = load(v);
        let mut o = opts(v);
        o.product = None;
        let r = run(&raw, &cert, &o);
        assert_eq!(status(&r, "report.product"), Status::Pass, "{}", v.name);
        assert_eq!(r.summary.product, Some(v.product));
    }
}

#[test]
fn default_policy_accepts_all_but_the_debug_vector() {
    for v in VECTORS {
        let (raw, cert) = load(v);
        let mut o = opts(v);
        if v.name.contains("vlek") {
            // The AWS VLEK report was requested at VMPL 1.
            o.overrides.max_vmpl = Some(1);
        }
        let r = run(&raw, &cert, &o);
        let all = check::all_hold(&r.checks);
        if v.name == "milan-v2-gosevguest" {
            assert!(!all);
            assert_eq!(failure(&r, "policy.debug"), &Failure::Policy(Violation::DebugAllowed));
            assert!(r.checks.iter().find(|c| c.name == "policy.debug").unwrap().detail.contains("DEBUG"));
        } else {
            assert!(all, "{}: {:#?}", v.name, r.checks);
        }
    }
}

#[test]
fn allow_debug_accepts_the_debug_vector() {
    let v = &VECTORS[1];
    let (raw, cert) = load(v);
    let mut o = opts(v);
    o.overrides = Overrides { allow_debug: true, max_vmpl: None };
    let r = run(&raw, &cert, &o);
    assert!(check::all_hold(&r.checks), "{:#?}", r.checks);
}

#[test]
fn vmpl_rule_names_the_vmpl() {
    let v = &VECTORS[3];
    let (raw, cert) = load(v);
    let r = run(&raw, &cert, &opts(v));
    assert_eq!(failure(&r, "policy.vmpl"), &Failure::Policy(Violation::Vmpl { vmpl: 1, max: 0 }));
}

#[test]
fn tamper_flipped_measurement_byte() {
    for v in VECTORS {
        let (mut raw, cert) = load(v);
        raw[offset::MEASUREMENT + 7] ^= 0x01;
        let r = run(&raw, &cert, &opts(v));
        assert_eq!(failure(&r, "report.signature"), &Failure::Chain(ChainError::ReportSignature), "{}", v.name);
        assert!(!r.genuine());
    }
}

#[test]
fn tamper_flipped_signature_byte() {
    for v in VECTORS {
        let (mut raw, cert) = load(v);
        raw[offset::SIGNATURE_R + 3] ^= 0x80;
        let r = run(&raw, &cert, &opts(v));
        assert_eq!(failure(&r, "report.signature"), &Failure::Chain(ChainError::ReportSignature), "{}", v.name);
    }
}

#[test]
fn tamper_wrong_product_chain() {
    // A Milan report checked against the Genoa roots.
    let v = &VECTORS[0];
    let (raw, cert) = load(v);
    let mut o = opts(v);
    o.product = Some(Product::Genoa);
    let r = run(&raw, &cert, &o);
    assert_eq!(
        failure(&r, "chain.leaf"),
        &Failure::Chain(ChainError::Signature { role: Role::Vcek, issuer: Role::Ask, product: Product::Genoa })
    );
    assert!(matches!(failure(&r, "report.product"), Failure::Product(ProductError::Conflict { other: Product::Milan, .. })));
    // And a Genoa v3 report whose CPUID says Genoa, forced to Milan.
    let v = &VECTORS[4];
    let (raw, cert) = load(v);
    let mut o = opts(v);
    o.product = Some(Product::Milan);
    let r = run(&raw, &cert, &o);
    assert_eq!(
        failure(&r, "chain.leaf"),
        &Failure::Chain(ChainError::Signature { role: Role::Vcek, issuer: Role::Ask, product: Product::Milan })
    );
}

#[test]
fn tamper_vlek_under_ask() {
    let v = &VECTORS[3];
    let (raw, vlek) = load(v);
    let roots = Roots::pinned(Product::Milan).unwrap();
    // The VLEK does not verify under the ASK, only under the ASVK.
    assert_eq!(
        vlek.check_signed_by(Role::Vlek, &roots.ask, Role::Ask, Product::Milan),
        Err(ChainError::Signature { role: Role::Vlek, issuer: Role::Ask, product: Product::Milan })
    );
    vlek.check_signed_by(Role::Vlek, &roots.asvk, Role::Asvk, Product::Milan).unwrap();
    // A report claiming VCEK signing (KEY_INFO.SIGNING_KEY = 0) with the VLEK as leaf.
    let mut raw = raw;
    raw[offset::KEY_INFO] = 0;
    let r = run(&raw, &vlek, &opts(v));
    assert_eq!(
        failure(&r, "chain.leaf"),
        &Failure::Chain(ChainError::LeafKind { expected: "SEV-VCEK", found: "SEV-VLEK".into() })
    );
    assert_eq!(failure(&r, "report.signature"), &Failure::Chain(ChainError::ReportSignature));
}

#[test]
fn tamper_mismatched_vcek() {
    let (raw, _) = load(&VECTORS[0]);
    let (_, other) = load(&VECTORS[1]);
    let r = run(&raw, &other, &opts(&VECTORS[0]));
    assert_eq!(failure(&r, "report.signature"), &Failure::Chain(ChainError::ReportSignature));
    assert_eq!(failure(&r, "binding.chip_id"), &Failure::Leaf(LeafBindingError::ChipId));
    // TCB of the gosevguest VCEK (bl 2, snp 5, ucode 68) differs from this report's (3, 8, 115).
    assert!(matches!(failure(&r, "binding.tcb"), Failure::Leaf(LeafBindingError::Tcb { .. })));
}

#[test]
fn tamper_expired_certificate_without_at() {
    let v = &VECTORS[3];
    let (raw, cert) = load(v);
    let mut o = opts(v);
    o.at = parse_rfc3339("2026-12-03T00:00:00Z").unwrap();
    let r = run(&raw, &cert, &o);
    assert!(matches!(failure(&r, "chain.validity"), Failure::Chain(ChainError::Expired { role: Role::Vlek, .. })));
    // and before the VCEK was issued
    let v = &VECTORS[5];
    let (raw, cert) = load(v);
    let mut o = opts(v);
    o.at = parse_rfc3339("2020-01-01T00:00:00Z").unwrap();
    let r = run(&raw, &cert, &o);
    assert!(matches!(failure(&r, "chain.validity"), Failure::Chain(ChainError::NotYetValid { .. })));
}

#[test]
fn tamper_debug_policy_bit_set() {
    // Setting DEBUG on a good report: the policy names it, and the signature breaks.
    let v = &VECTORS[0];
    let (mut raw, cert) = load(v);
    raw[offset::POLICY + 2] |= 0x08;
    let r = run(&raw, &cert, &opts(v));
    assert_eq!(failure(&r, "policy.debug"), &Failure::Policy(Violation::DebugAllowed));
    assert_eq!(failure(&r, "report.signature"), &Failure::Chain(ChainError::ReportSignature));
}

#[test]
fn tamper_unsigned_key_info() {
    let v = &VECTORS[0];
    let (mut raw, cert) = load(v);
    raw[offset::KEY_INFO] = 7 << 2;
    let r = run(&raw, &cert, &opts(v));
    assert_eq!(failure(&r, "chain.signing_key"), &Failure::Chain(ChainError::Unsigned(SigningKey::None)));
    assert!(!r.genuine());
}

#[test]
fn missing_certificate_names_the_kds_url() {
    let v = &VECTORS[0];
    let (raw, _) = load(v);
    let report = Report::parse(&raw).unwrap();
    let r = check::verify_report(&report, None, &opts(v));
    let Failure::MissingCertificate(url) = failure(&r, "chain.leaf") else { panic!() };
    assert_eq!(url, "https://kdsintf.amd.com/vcek/v1/Milan/d49554ec717f4e5b0fe6b143bcf0405bd7ae304727edf46603f2a76aef6a3abc15d7af38db757039029f0efacfd08e244324884738c72b082e2f87a44d541eb6?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115");
}

#[test]
fn kds_urls_match_the_readme() {
    let cases = [
        ("milan-v2-gosevguest", Product::Milan, "https://kdsintf.amd.com/vcek/v1/Milan/3ac3fe21e13fb0990eb28a802e3fb6a29483a6b0753590c951bdd3b8e53786184ca39e359669a2b76a1936776b564ea464cdce40c05f63c9b610c5068b006b5d?blSPL=2&teeSPL=0&snpSPL=5&ucodeSPL=68"),
        ("milan-v2-trustee", Product::Milan, "https://kdsintf.amd.com/vcek/v1/Milan/c38427a30d4c7af9d96f7a15b97269825a64cb76a2352ffd5d18115d89ad473f8e8c0bcd9a5d9286612bad4aadfb4426205a3b9e4fea82301135a170e477524e?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115"),
        ("genoa-v3-msft", Product::Genoa, "https://kdsintf.amd.com/vcek/v1/Genoa/b1e24a27bbc3a4d58090d8b89851dce3b8031544be249b9ac17132bb222b027622347ee4d0fe4f689efdfc47a68cefc686cbb448d01436506ee1e28010cab7c0?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=84"),
        ("genoa-v5-attestation-rs", Product::Genoa, "https://kdsintf.amd.com/vcek/v1/Genoa/b5f9a4c8280e63c97d288db6648577dc2b848884aa682d7a227ba40e50deb2b0d112b599d87aaccda78d06f4254b1e81c4d953ef3c699db39d4e06013e9fa4ce?blSPL=10&teeSPL=0&snpSPL=27&ucodeSPL=27"),
    ];
    for (name, product, url) in cases {
        let raw = std::fs::read(format!("{DIR}/vectors/{name}/report.bin")).unwrap();
        assert_eq!(Report::parse(&raw).unwrap().kds_vcek_url(product), url, "{name}");
    }
}

#[test]
fn field_values_match_the_readme() {
    let raw = std::fs::read(format!("{DIR}/vectors/milan-v2-trustee/report.bin")).unwrap();
    let r = Report::parse(&raw).unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(r.policy.0, 0x3001f);
    assert_eq!(r.current_tcb.hex(), "03000000000008ce");
    assert_eq!(r.reported_tcb.hex(), "0300000000000873");
    assert_eq!(r.current_version.to_string(), "1.52.4");
    assert!(r.cpuid.is_none());
    let raw = std::fs::read(format!("{DIR}/vectors/genoa-v5-attestation-rs/report.bin")).unwrap();
    let r = Report::parse(&raw).unwrap();
    assert_eq!(r.version, 5);
    assert_eq!((r.launch_mit_vector, r.current_mit_vector), (Some(0xb), Some(0xb)));
    assert_eq!(r.cpuid.map(|c| (c.family, c.model, c.stepping)), Some((0x19, 0xa0, 0x02)));
    assert!(r.report_data.starts_with(b"hello-attestation\0"));
    assert_eq!(
        paypal_auth_verify::hex(&r.measurement),
        "d9912ba396ce409c2947841d93a5076b6839b898c22b4aae05edb3b2b058a99927f8cf9a4f8617ee695deb14795496c8"
    );
    let raw = std::fs::read(format!("{DIR}/vectors/milan-v3-vlek-aws-trustee/report.bin")).unwrap();
    let r = Report::parse(&raw).unwrap();
    assert_eq!(r.key_info.signing_key(), SigningKey::Vlek);
    assert_eq!(r.platform_info, 0x27);
    assert!(r.chip_id_masked());
}

/// Turin: TCB layout with FMC first and an 8-byte hwID, using the extra Turin VCEK. There is
/// no real Turin report in the test data, so the report is synthesised (and so its signature
/// must fail) to check the layout, hwID and KDS URL logic.
#[test]
fn turin_layout_and_eight_byte_chip_id() {
    let vcek = Cert::parse(&std::fs::read(format!("{DIR}/extra/turin-vcek-noreport-virtee.der")).unwrap(), Role::Vcek).unwrap();
    let ext = LeafExtensions::read(&vcek).unwrap();
    assert_eq!(ext.struct_version, Some(1));
    assert_eq!(ext.product(), Some(Product::Turin));
    assert_eq!((ext.fmc, ext.bootloader, ext.tee, ext.snp, ext.microcode), (Some(0), Some(0), Some(0), Some(0), Some(9)));
    assert_eq!(paypal_auth_verify::hex(ext.hwid.as_deref().unwrap()), "1e550a8ee5cf9f4d");
    let roots = Roots::pinned(Product::Turin).unwrap();
    vcek.check_signed_by(Role::Vcek, &roots.ask, Role::Ask, Product::Turin).unwrap();

    let mut raw = [0u8; REPORT_LEN];
    raw[offset::VERSION] = 3;
    raw[offset::SIGNATURE_ALGO] = 1;
    raw[offset::POLICY + 2] = 0x03;
    raw[offset::CPUID_FAM_ID] = 0x1A;
    raw[offset::CPUID_MOD_ID] = 0x02;
    raw[offset::REPORT_ID_MA..offset::REPORT_ID_MA + 32].fill(0xFF);
    // Turin layout: fmc 0, bl 0, tee 0, snp 0, reserved, ucode 9.
    raw[offset::REPORTED_TCB + 7] = 9;
    raw[offset::CHIP_ID..offset::CHIP_ID + 8].copy_from_slice(ext.hwid.as_deref().unwrap());
    let report = Report::parse(&raw).unwrap();
    assert_eq!(report.cpuid_product(), Some(Product::Turin));
    let mut o = ReportOptions::new();
    o.at = parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
    let r = check::verify_report(&report, Some(&vcek), &o);
    for name in
        ["report.product", "chain.ark", "chain.intermediate", "chain.leaf", "chain.validity", "binding.tcb", "binding.chip_id"]
    {
        assert_eq!(status(&r, name), Status::Pass, "{name}: {:#?}", r.checks);
    }
    assert_eq!(failure(&r, "report.signature"), &Failure::Chain(ChainError::ReportSignature));
    assert_eq!(
        report.kds_vcek_url(Product::Turin),
        "https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=0&blSPL=0&teeSPL=0&snpSPL=0&ucodeSPL=9"
    );
    // Under the Milan/Genoa layout byte 7 is also ucode, but byte 3 would be reserved; a Turin
    // TCB with snp 4 must decode as snp 4 only under the Turin layout.
    let t = RawTcb([1, 1, 1, 4, 0, 0, 0, 0x51]);
    assert_eq!(t.decode(Product::Turin.tcb_layout()).snp, 4);
    assert_eq!(t.decode(Product::Milan.tcb_layout()).snp, 0);
    // A chip id with bytes beyond the first 8 does not match a Turin hwID.
    let mut raw2 = raw;
    raw2[offset::CHIP_ID + 20] = 1;
    let report2 = Report::parse(&raw2).unwrap();
    assert_eq!(certs::check_chip_id(&ext, &report2, Product::Turin), Err(LeafBindingError::ChipId));
    // v2 heuristic: only the first 8 bytes non-zero suggests Turin.
    raw[offset::VERSION] = 2;
    raw[offset::CPUID_FAM_ID] = 0;
    raw[offset::CPUID_MOD_ID] = 0;
    assert!(Report::parse(&raw).unwrap().chip_id_suggests_turin());
}

#[test]
fn stricter_policy_file_names_the_component() {
    let v = &VECTORS[0];
    let (raw, cert) = load(v);
    let mut o = opts(v);
    o.policy = Policy::from_json(
        r#"{"format":"paypal-auth-vm/snp-policy","version":2,"allow_debug":false,"allow_migration_agent":false,"max_vmpl":0,
            "min_reported_tcb":{"milan":{"bootloader":3,"tee":0,"snp":8,"microcode":200}}}"#,
    )
    .unwrap();
    let r = run(&raw, &cert, &o);
    assert_eq!(
        failure(&r, "policy.min_tcb"),
        &Failure::Policy(Violation::TcbBelowMinimum { component: "microcode", reported: 115, minimum: 200, policy_version: 2 })
    );
}

#[test]
fn unknown_platform_info_bits_do_not_fail_parsing() {
    let (mut raw, _) = load(&VECTORS[4]);
    raw[offset::PLATFORM_INFO] |= 0xC0;
    raw[offset::PLATFORM_INFO + 4] = 0xFF;
    let r = Report::parse(&raw).unwrap();
    assert_eq!(r.platform_info & 0xC0, 0xC0);
}
