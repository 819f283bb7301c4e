//! The evidence contract between the PayPal Auth VM service and its verifier.
//!
//! Everything that both sides must compute identically lives here and nowhere else:
//!
//! * [`binding`]: the 64-byte SEV-SNP `REPORT_DATA` derivation (specified in `docs/attestation.md`);
//! * [`jws`]: compact JWS (ES256, P-256) signing and verification over the bytes as received;
//! * [`jwk`]: the public JWK of the signing key and its RFC 7638 thumbprint;
//! * [`claims`]: the JSON claims a result page signs;
//! * [`bundle`]: the evidence JSON a page offers for download.
//!
//! The crate does no I/O and holds no secrets beyond the signing key a caller passes in.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binding;
pub mod bundle;
pub mod claims;
pub mod jwk;
pub mod jws;

/// base64url without padding, the encoding JOSE uses everywhere.
pub(crate) fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url (no padding, no whitespace) decoding.
pub(crate) fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}
