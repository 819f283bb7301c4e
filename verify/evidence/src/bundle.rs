//! The evidence bundle: the JSON a result page offers for download and `paypal-auth-verify page` reads.

use crate::jwk::PublicJwk;
use serde::{Deserialize, Serialize};

/// The `format` member of every bundle.
pub const BUNDLE_FORMAT: &str = "paypal-auth-vm/evidence/v1";

/// The exact sentence shown wherever no hardware evidence exists.
pub const NO_ATTESTATION: &str = "no hardware attestation on this host";

/// Largest bundle a verifier should parse.
pub const MAX_BUNDLE_LEN: usize = 256 * 1024;

/// Everything needed to check one page offline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bundle {
    /// Always [`BUNDLE_FORMAT`].
    pub format: String,
    /// The compact JWS whose payload is [`crate::claims::Claims`].
    pub jws: String,
    /// The public key the JWS verifies under.
    pub jwk: PublicJwk,
    /// The hardware evidence, or the plain statement that there is none.
    pub attestation: Attestation,
}

/// Hardware evidence attached to a page.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "kebab-case")]
pub enum Attestation {
    /// No SNP device on this host.
    None {
        /// Always [`NO_ATTESTATION`].
        statement: String,
    },
    /// An AMD SEV-SNP attestation report.
    SevSnp {
        /// base64 (standard, padded) of the 1184-byte report exactly as the firmware returned it.
        report: String,
        /// Which `REPORT_DATA` purpose the report binds: `page` (fresh, this page) or `boot`.
        binds: ReportBinding,
        /// Why a boot report was attached instead of a fresh one, when it was.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback_reason: Option<String>,
        /// DER certificates the host supplied (VCEK or VLEK first), base64.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        certificates: Vec<String>,
        /// Where to fetch the VCEK when the host supplied none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kds_url: Option<String>,
    },
}

/// Which purpose a report's `REPORT_DATA` was computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportBinding {
    /// [`crate::binding::Purpose::Page`] over this bundle's JWS payload.
    Page,
    /// [`crate::binding::Purpose::Boot`].
    Boot,
}
