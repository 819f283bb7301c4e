//! Hardware attestation providers.
//!
//! A provider turns 64 bytes of `REPORT_DATA` into evidence signed by the platform. The service
//! picks one at boot ([`detect`]) and never simulates one: where no SNP device exists, the
//! [`NoAttestation`] provider says so plainly on every page and in every evidence bundle.

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

/// Picks the attestation provider for this host.
pub fn detect() -> Box<dyn Attester> {
    crate::info!("attest", "{NO_ATTESTATION}: using the 'none' provider");
    Box::new(NoAttestation)
}
