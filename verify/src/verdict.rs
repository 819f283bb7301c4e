//! What a `page` or `live` verification proves, as one typed verdict.
//!
//! The verdict never means different things on different hosts: `FULL_CHAIN` only when the
//! launch digest was compared with our artifacts (firmware, kernel, initramfs, cmdline);
//! `FIRMWARE_ONLY` when the hardware evidence is genuine and binds the keys but the digest was
//! not (or could not be) tied to our image; `NONE` when no hardware evidence holds.

use serde::Serialize;
use std::fmt;

/// The level of assurance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Level {
    /// Genuine AMD SEV-SNP report, keys bound, and the launch digest equals the digest of our
    /// firmware + kernel + initramfs + command line.
    #[serde(rename = "FULL_CHAIN")]
    FullChain,
    /// Genuine AMD SEV-SNP report and keys bound, but the launch digest covers only the
    /// platform's firmware (as on OCI) or was not compared with our artifacts.
    #[serde(rename = "FIRMWARE_ONLY")]
    FirmwareOnly,
    /// No hardware evidence (platform `none`), or the evidence did not check out.
    #[serde(rename = "NONE")]
    None,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::FullChain => "FULL_CHAIN",
            Level::FirmwareOnly => "FIRMWARE_ONLY",
            Level::None => "NONE",
        })
    }
}

/// What the expected measurement given by the user covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Coverage {
    /// Firmware, kernel, initramfs and command line (`measure` with `--kernel`, or `--image`).
    Image,
    /// Firmware only (no kernel hashes).
    Firmware,
}

/// The report fields the launch digest never covers; each is either bound or checked
/// separately, or not checked at all (listed so the user knows).
pub const NOT_COVERED_BY_DIGEST: &[&str] = &[
    "REPORT_DATA (guest-chosen; checked separately as the binding of keys, client id, domain, environment and page/nonce)",
    "HOST_DATA (host-chosen at launch; not checked)",
    "POLICY (checked against the policy file)",
    "VMPL (checked against the policy file)",
    "PLATFORM_INFO (reported, not checked)",
    "CURRENT_TCB, COMMITTED_TCB, LAUNCH_TCB (reported; REPORTED_TCB is checked against the certificate and the minimum)",
    "CHIP_ID (checked against the VCEK hwID)",
    "FAMILY_ID, IMAGE_ID, GUEST_SVN, ID_KEY_DIGEST, AUTHOR_KEY_DIGEST (ID block; not used by this service)",
    "REPORT_ID, REPORT_ID_MA (migration agent checked)",
    "instance metadata and secrets (never measured; metadata that matters is bound in REPORT_DATA)",
];

/// The final verdict of a `page` or `live` verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The level.
    pub level: Level,
    /// One sentence saying what is proven.
    pub meaning: String,
    /// What the report's `REPORT_DATA` binds: `page`, `boot`, `nonce`, or none.
    pub report_binds: Option<String>,
    /// Report fields (and inputs) the launch digest does not cover.
    pub not_covered: Vec<String>,
}

/// Inputs to [`decide`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Evidence {
    /// An SNP report was offered at all.
    pub has_report: bool,
    /// Chain, signature and leaf binding checks passed.
    pub genuine: bool,
    /// `REPORT_DATA` equals the expected binding.
    pub bound: bool,
    /// The policy checks passed.
    pub policy_ok: bool,
    /// The measurement was compared and matched, with what coverage.
    pub measurement: Option<Coverage>,
}

/// Decides the verdict from what was proven.
pub fn decide(e: Evidence, binds: Option<&str>) -> Verdict {
    let mut not_covered: Vec<String> = NOT_COVERED_BY_DIGEST.iter().map(|s| s.to_string()).collect();
    if !e.has_report {
        // Nothing is attested, so no report field list applies.
        return Verdict {
            level: Level::None,
            meaning:
                "no hardware evidence: only the service's own word (its signature and TLS key), nothing attested by hardware"
                    .to_string(),
            report_binds: None,
            not_covered: vec!["everything: no attestation report".to_string()],
        };
    }
    let (level, meaning) = if !(e.genuine && e.bound && e.policy_ok) {
        (Level::None, "the hardware evidence did not check out (see the failed checks)".to_string())
    } else if e.measurement == Some(Coverage::Image) {
        (
            Level::FullChain,
            "genuine AMD SEV-SNP guest, keys bound, launch digest equals our firmware + kernel + initramfs + cmdline".to_string(),
        )
    } else {
        let why = match e.measurement {
            Some(_) => "the launch digest was compared with a firmware-only measurement",
            None => "the launch digest was not compared with our artifacts (pass --measurement or --image)",
        };
        (Level::FirmwareOnly, format!("genuine AMD SEV-SNP guest and keys bound, but the image is not proven: {why}"))
    };
    if level != Level::FullChain {
        not_covered.insert(0, "kernel, initramfs and command line (the image itself)".to_string());
    }
    if binds == Some("boot") {
        not_covered.insert(0, "this page's payload (the report is the boot-time one; only the keys are bound)".to_string());
    }
    Verdict { level, meaning, report_binds: binds.map(str::to_owned), not_covered }
}
