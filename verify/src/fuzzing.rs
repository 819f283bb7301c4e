//! Entry points shared by the cargo-fuzz targets (`verify/fuzz`) and the stable-toolchain
//! mutation test (`verify/tests/fuzz_smoke.rs`): each feeds arbitrary bytes to a parser and to
//! the checks that consume its output. None may panic, whatever the input.

use crate::certs::{Cert, LeafExtensions, Role};
use crate::check::{self, ReportOptions};
use crate::measure::{self, DirectBoot, Inputs, VmmType};
use crate::page::{self, PageOptions};
use crate::report::{Product, Report, REPORT_LEN};

/// The first [`REPORT_LEN`] bytes as a report, the rest as a VCEK/VLEK; then the whole report
/// pipeline (chain checks only when the first byte is odd, to keep throughput up).
pub fn report(data: &[u8]) {
    let (head, tail) = data.split_at(data.len().min(REPORT_LEN));
    let cert = Cert::parse(tail, Role::Vcek).ok();
    if let Some(c) = &cert {
        let _ = LeafExtensions::read(c).map(|e| (e.product(), e.tcb(Product::Turin), e.tcb(Product::Milan)));
        let _ = c.p384_key();
        let _ = c.subject_cn();
    }
    let Ok(r) = Report::parse(head) else { return };
    for p in Product::ALL {
        let _ = r.kds_vcek_url(p);
        let _ = r.reported_tcb.decode(p.tcb_layout());
    }
    let _ = r.signature_be();
    if data.first().is_some_and(|b| b & 1 == 1) {
        let mut o = ReportOptions::new();
        o.at = 1_767_225_600;
        let result = check::verify_report(&r, cert.as_ref(), &o);
        let _ = result.genuine();
    }
}

/// Bytes as an evidence bundle (JSON or HTML) through every page check, and as an
/// `/attestation` HTTP answer through the live checks.
pub fn evidence(data: &[u8]) {
    if let Ok(bundle) = page::read_bundle(data) {
        let mut o = PageOptions::default();
        o.report.at = 1_767_225_600;
        let _ = page::verify_bundle(&bundle, &o);
    }
    if let Ok(body) = crate::live::parse_http(data) {
        let _ = crate::live::verify_answer(&body, &[1; 32], [0; 32], "localhost", &Default::default());
    }
    let _ = crate::live::verify_answer(data, &[1; 32], [0; 32], "localhost", &Default::default());
    let _ = crate::time::parse_rfc3339(&String::from_utf8_lossy(data));
}

/// Bytes (padded to whole pages) as an OVMF image through the launch-digest calculator.
pub fn ovmf(data: &[u8]) {
    let mut image = data.to_vec();
    image.resize(data.len().div_ceil(4096).max(1) * 4096, 0);
    let _ = measure::Ovmf::parse(&image);
    let vcpus = u32::from(data.first().copied().unwrap_or(1) % 4);
    for vmm in [VmmType::Qemu, VmmType::Ec2, VmmType::Gce] {
        for boot in [None, Some(DirectBoot { kernel: b"k", initrd: None, append: Some("console=ttyS0") })] {
            let _ = measure::launch_digest(&Inputs {
                ovmf: &image,
                direct_boot: boot,
                vcpus,
                vcpu_sig: 0x800F12,
                guest_features: 1,
                vmm,
                ovmf_hash: None,
            });
        }
    }
}
