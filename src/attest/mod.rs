//! Hardware attestation providers.
//!
//! A provider turns 64 bytes of `REPORT_DATA` into evidence signed by the platform. The service
//! picks one at boot ([`detect`]) and never simulates one: where no SNP device exists, the
//! [`NoAttestation`] provider says so plainly on every page and in every evidence bundle.

pub mod sev_guest;
pub mod snp;
pub mod tsm;

use paypal_auth_evidence::bundle::NO_ATTESTATION;
use std::future::Future;
use std::pin::Pin;

/// A report as the platform returned it, with what is needed to check it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// The raw report bytes, exactly as returned (1184 bytes for SEV-SNP).
    pub raw: Vec<u8>,
    /// DER certificates the host supplied with the report (VCEK or VLEK first), if any.
    pub certificates: Vec<Vec<u8>>,
    /// Where a verifier can fetch the signing certificate when the host supplied none.
    pub kds_url: Option<String>,
}

/// Why no report could be produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttestError {
    /// This host has no attestation device; the only answer a [`NoAttestation`] gives.
    Unavailable,
    /// The device did not answer in time.
    Timeout,
    /// The device (or firmware) refused or failed; the text names the operation.
    Device(String),
}

impl std::fmt::Display for AttestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttestError::Unavailable => f.write_str(NO_ATTESTATION),
            AttestError::Timeout => f.write_str("attestation device timed out"),
            AttestError::Device(what) => write!(f, "attestation device failed: {what}"),
        }
    }
}

impl std::error::Error for AttestError {}

/// Boxed future returned by [`Attester::report`].
pub type ReportFuture<'a> = Pin<Box<dyn Future<Output = Result<Report, AttestError>> + Send + 'a>>;

/// A source of hardware attestation reports.
pub trait Attester: Send + Sync {
    /// The platform name used in claims and evidence: `"sev-snp"` or `"none"`.
    fn platform(&self) -> &'static str;

    /// A fresh report binding `report_data`. Implementations serialise requests themselves and
    /// bound each with a timeout.
    fn report(&self, report_data: [u8; 64]) -> ReportFuture<'_>;
}

/// The provider for hosts without SEV-SNP: it never produces a report.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAttestation;

impl Attester for NoAttestation {
    fn platform(&self) -> &'static str {
        "none"
    }

    fn report(&self, _report_data: [u8; 64]) -> ReportFuture<'_> {
        Box::pin(async { Err(AttestError::Unavailable) })
    }
}

/// Picks the attestation provider for this host: SEV-SNP when the configfs-tsm interface
/// (configfs mounted at `/sys/kernel/config`) reports the `sev_guest` provider, else
/// [`NoAttestation`]. Nothing is simulated.
pub fn detect() -> Box<dyn Attester> {
    detect_at(std::path::Path::new(tsm::DEFAULT_ROOT))
}

/// [`detect`] with the configfs-tsm root as a parameter.
pub fn detect_at(root: &std::path::Path) -> Box<dyn Attester> {
    if root.is_dir() {
        let snp = snp::SnpAttester::new(root);
        match snp.probe() {
            Ok(true) => {
                crate::info!("attest", "SEV-SNP guest: reports through configfs-tsm at {}", root.display());
                return Box::new(snp);
            }
            Ok(false) => crate::warn!("attest", "configfs-tsm at {} is not the sev_guest provider", root.display()),
            Err(e) => crate::warn!("attest", "configfs-tsm probe failed: {e}"),
        }
    }
    if std::path::Path::new(sev_guest::DEVICE).exists() {
        // Second choice: kernels before 6.7, or configfs not mounted.
        crate::info!("attest", "SEV-SNP guest: reports through the {} ioctl", sev_guest::DEVICE);
        return Box::new(sev_guest::SevGuestAttester::new(sev_guest::DEVICE));
    }
    crate::info!("attest", "{NO_ATTESTATION}: using the 'none' provider");
    Box::new(NoAttestation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detect_without_interface_is_none() {
        assert_eq!(detect_at(std::path::Path::new("/nonexistent/pav/tsm")).platform(), "none");
    }
}
