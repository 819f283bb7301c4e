//! OCI Vault secret retrieval (Secrets data plane 20190301, research/oci.md §4).
//!
//! `GET https://secrets.vaults.<region>.oci.<realm domain>/20190301/secretbundles/<ocid>?stage=CURRENT`,
//! signed with the instance-principal session; the base64 `secretBundleContent.content` is
//! decoded straight into a [`Secret`], and the intermediate copies are zeroized.

use super::federation::{error_body, CallError, Federation};
use crate::secret::Secret;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use hyper::{Method, StatusCode};
use std::time::Duration;
use zeroize::{Zeroize as _, Zeroizing};

/// Deadline of a secret fetch.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// Size cap of a secret bundle answer (Vault secrets are at most 25 KB before base64).
pub const MAX_BODY: usize = 128 * 1024;

/// Why a secret could not be read. Never carries the secret or the answer body.
#[derive(Debug)]
pub enum SecretError {
    /// The OCID is not an OCID.
    BadOcid,
    /// 404 NotAuthorizedOrNotFound: wrong OCID or region, or no policy allowing
    /// `read secret-bundles` for the instance's dynamic group.
    NotAuthorizedOrNotFound,
    /// The Secrets service refused the signed request (401 twice).
    Unauthorized(String),
    /// Another HTTP status.
    Status {
        /// Status code.
        status: u16,
        /// OCI error code.
        code: String,
    },
    /// Getting a session or sending the request failed.
    Call(CallError),
    /// The answer is not a secret bundle; says what is missing.
    Bundle(&'static str),
    /// `secretBundleContent.content` is not valid base64.
    BadBase64,
    /// The secret is empty.
    Empty,
}

impl std::fmt::Display for SecretError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretError::BadOcid => f.write_str("secret OCID is malformed"),
            SecretError::NotAuthorizedOrNotFound => f.write_str(
                "404 NotAuthorizedOrNotFound: the secret does not exist in this region or the instance's dynamic group may not 'read secret-bundles' on it",
            ),
            SecretError::Unauthorized(code) => write!(f, "Secrets service refused the instance principal (401 {code})"),
            SecretError::Status { status, code } => write!(f, "Secrets service answered HTTP {status} {code}"),
            SecretError::Call(e) => write!(f, "{e}"),
            SecretError::Bundle(what) => write!(f, "secret bundle malformed: {what}"),
            SecretError::BadBase64 => f.write_str("secret bundle content is not valid base64"),
            SecretError::Empty => f.write_str("secret is empty"),
        }
    }
}

impl std::error::Error for SecretError {}

/// True for an OCID-shaped string (`ocid1.<type>.<realm>.[region].<id>`), safe in a URL path.
pub fn is_ocid(s: &str) -> bool {
    s.starts_with("ocid1.") && s.len() <= 255 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-' || b == b'_')
}

/// The secret-bundle URL. I/O-free.
pub fn bundle_url(base: &str, ocid: &str) -> Result<String, SecretError> {
    if !is_ocid(ocid) {
        return Err(SecretError::BadOcid);
    }
    Ok(format!("{}/20190301/secretbundles/{ocid}?stage=CURRENT", base.trim_end_matches('/')))
}

/// Decodes a secret bundle answer into a [`Secret`]. I/O-free.
pub fn parse_bundle(body: &[u8]) -> Result<Secret, SecretError> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Content {
        content_type: Option<String>,
        content: Option<String>,
    }
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Bundle {
        secret_bundle_content: Option<Content>,
    }
    let bundle: Bundle = serde_json::from_slice(body).map_err(|_| SecretError::Bundle("not JSON"))?;
    let content = bundle.secret_bundle_content.ok_or(SecretError::Bundle("no secretBundleContent"))?;
    let mut text = Zeroizing::new(content.content.ok_or(SecretError::Bundle("no content"))?);
    if content.content_type.as_deref().is_some_and(|t| t != "BASE64") {
        return Err(SecretError::Bundle("contentType is not BASE64"));
    }
    let mut decoded = B64.decode(text.trim().as_bytes()).map_err(|_| SecretError::BadBase64)?;
    text.zeroize();
    if decoded.is_empty() {
        return Err(SecretError::Empty);
    }
    let secret = Secret::new(std::mem::take(&mut decoded));
    Ok(secret)
}

/// Reads the CURRENT version of the secret `ocid` from the Secrets service at `base`
/// (`https://secrets.vaults.<region>.oci.<realm domain>`).
pub async fn fetch(federation: &Federation, base: &str, ocid: &str) -> Result<Secret, SecretError> {
    let url = bundle_url(base, ocid)?;
    let response = federation.call(Method::GET, &url, Vec::new(), TIMEOUT, MAX_BODY).await.map_err(SecretError::Call)?;
    match response.status {
        StatusCode::OK => {
            // The answer body holds the secret in base64; `Bytes` cannot be zeroized in place,
            // so copy it into a zeroizing buffer and drop the original at once.
            let body = Zeroizing::new(response.body.to_vec());
            drop(response);
            parse_bundle(&body)
        }
        StatusCode::NOT_FOUND => Err(SecretError::NotAuthorizedOrNotFound),
        StatusCode::UNAUTHORIZED => Err(SecretError::Unauthorized(error_body(&response.body).0)),
        status => Err(SecretError::Status { status: status.as_u16(), code: error_body(&response.body).0 }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_base64_content() {
        let s = parse_bundle(br#"{"secretId":"ocid1.vaultsecret.oc1.iad.x","versionNumber":3,"secretBundleContent":{"contentType":"BASE64","content":"dGVzdA=="}}"#).unwrap();
        assert_eq!(s.expose(), b"test");
    }

    #[test]
    fn bad_bundles_are_named_errors_without_the_content() {
        let e = parse_bundle(br#"{"secretBundleContent":{"contentType":"BASE64","content":"not base64 !!! hunter2"}}"#).unwrap_err();
        assert!(matches!(e, SecretError::BadBase64));
        assert!(!format!("{e} {e:?}").contains("hunter2"));
        assert!(matches!(parse_bundle(b"{}"), Err(SecretError::Bundle(_))));
        assert!(matches!(parse_bundle(b"<html>"), Err(SecretError::Bundle(_))));
        assert!(matches!(parse_bundle(br#"{"secretBundleContent":{"content":""}}"#), Err(SecretError::Empty)));
    }

    #[test]
    fn urls_only_for_ocids() {
        assert_eq!(
            bundle_url("https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com/", "ocid1.vaultsecret.oc1.iad.abc").unwrap(),
            "https://secrets.vaults.us-ashburn-1.oci.oraclecloud.com/20190301/secretbundles/ocid1.vaultsecret.oc1.iad.abc?stage=CURRENT"
        );
        assert!(matches!(bundle_url("https://x", "ocid1.x/../y"), Err(SecretError::BadOcid)));
        assert!(matches!(bundle_url("https://x", "abc"), Err(SecretError::BadOcid)));
    }
}
