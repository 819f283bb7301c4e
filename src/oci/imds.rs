//! Instance Metadata Service v2 (`http://169.254.169.254/opc/v2`), research/oci.md §1.
//!
//! Every request carries `Authorization: Bearer Oracle`. The instance document gives the
//! canonical region name (never the short `region`, which is `iad`/`phx` in two regions) and
//! the realm's domain, from which the OCI endpoints are built; custom metadata holds the
//! operator's settings; `identity/*.pem` holds the instance-principal material.
//!
//! The base URL can be changed only through the process environment (`OCI_IMDS_BASE`), which in
//! the image is fixed by the measured command line.

use crate::net::http::{HttpClient, HttpError};
use crate::secret::Secret;
use hyper::{Method, StatusCode};
use std::collections::BTreeMap;
use std::time::Duration;

/// The IMDS v2 base URL in OCI.
pub const DEFAULT_BASE: &str = "http://169.254.169.254/opc/v2";
/// Deadline of each IMDS request (the doc's advice is 30 s for a retry cycle; a healthy IMDS
/// answers in milliseconds).
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Size cap of an IMDS response (custom metadata is at most 32,000 bytes).
pub const MAX_BODY: usize = 256 * 1024;

/// Realm domains the service accepts from IMDS (compiled in, from the SDK's `regions_definitions.py`);
/// metadata may choose among them, never name another domain.
pub const REALM_DOMAINS: &[&str] = &[
    "oraclecloud.com",
    "oraclegovcloud.com",
    "oraclegovcloud.uk",
    "oraclecloud8.com",
    "oraclecloud9.com",
    "oraclecloud10.com",
];

/// Why an IMDS request failed.
#[derive(Debug)]
pub enum ImdsError {
    /// No answer: connection refused, no route, or timeout (IMDS absent or slow).
    Unreachable(HttpError),
    /// 401: the request was refused (IMDS v2 needs `Authorization: Bearer Oracle`).
    Unauthorized(String),
    /// 404 for a path.
    NotFound(String),
    /// 429 or 5xx (throttling, maintenance).
    Unavailable(u16),
    /// Another status.
    Status(u16),
    /// The instance document or an identity file is malformed; says which field.
    Document(String),
}

impl std::fmt::Display for ImdsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ImdsError::Unreachable(e) => write!(f, "instance metadata service unreachable: {e}"),
            ImdsError::Unauthorized(path) => write!(f, "instance metadata refused {path} with 401 (IMDS v2 header 'Authorization: Bearer Oracle' not accepted)"),
            ImdsError::NotFound(path) => write!(f, "instance metadata has no {path} (404)"),
            ImdsError::Unavailable(code) => write!(f, "instance metadata busy or in maintenance (HTTP {code})"),
            ImdsError::Status(code) => write!(f, "instance metadata answered HTTP {code}"),
            ImdsError::Document(what) => write!(f, "instance metadata document malformed: {what}"),
        }
    }
}

impl std::error::Error for ImdsError {}

/// What the service uses from `/opc/v2/instance/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Instance OCID.
    pub id: String,
    /// Canonical region name, e.g. `us-ashburn-1`.
    pub region: String,
    /// Realm domain, e.g. `oraclecloud.com` (one of [`REALM_DOMAINS`]).
    pub realm_domain: String,
    /// Custom metadata (string values only; nested `extended_metadata` values are ignored).
    pub metadata: BTreeMap<String, String>,
}

/// The instance-principal material from `/opc/v2/identity/`.
pub struct Identity {
    /// Leaf certificate PEM.
    pub cert_pem: String,
    /// Leaf private key PEM (PKCS#1 or PKCS#8).
    pub key_pem: Secret,
    /// Intermediate certificate PEM.
    pub intermediate_pem: String,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("cert_pem", &"…").field("key_pem", &self.key_pem).finish()
    }
}

/// True for a DNS label sequence of `[a-z0-9-]` (region names).
fn is_region_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses the instance document (`GET /opc/v2/instance/`). I/O-free.
pub fn parse_instance(body: &[u8]) -> Result<Instance, ImdsError> {
    let doc: serde_json::Value = serde_json::from_slice(body).map_err(|_| ImdsError::Document("instance/ is not JSON".into()))?;
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(|s| s.trim().to_ascii_lowercase());
    let id = doc.get("id").and_then(|v| v.as_str()).ok_or_else(|| ImdsError::Document("no id".into()))?.to_string();
    let region = text(doc.get("canonicalRegionName"))
        .or_else(|| text(doc.pointer("/regionInfo/regionIdentifier")))
        .ok_or_else(|| ImdsError::Document("no canonicalRegionName or regionInfo.regionIdentifier".into()))?;
    if !is_region_name(&region) {
        return Err(ImdsError::Document("canonicalRegionName is not a region name".into()));
    }
    let realm_domain = text(doc.pointer("/regionInfo/realmDomainComponent"))
        .ok_or_else(|| ImdsError::Document("no regionInfo.realmDomainComponent".into()))?;
    let realm_domain = REALM_DOMAINS
        .iter()
        .find(|d| **d == realm_domain)
        .ok_or_else(|| ImdsError::Document(format!("realm domain {realm_domain:?} is not a compiled-in OCI realm")))?
        .to_string();
    let mut metadata = BTreeMap::new();
    if let Some(map) = doc.get("metadata").and_then(|m| m.as_object()) {
        for (k, v) in map {
            if let Some(s) = v.as_str() {
                metadata.insert(k.clone(), s.to_string());
            }
        }
    }
    Ok(Instance { id, region, realm_domain, metadata })
}

/// The IMDS v2 client.
#[derive(Clone)]
pub struct Imds {
    http: HttpClient,
    base: String,
}

impl Imds {
    /// A client for `base` (normally [`DEFAULT_BASE`]).
    pub fn new(http: HttpClient, base: &str) -> Imds {
        Imds { http, base: base.trim_end_matches('/').to_string() }
    }

    /// One GET of `path` (relative to `/opc/v2/`), body returned as bytes.
    pub async fn get(&self, path: &str) -> Result<bytes::Bytes, ImdsError> {
        let url = format!("{}/{}", self.base, path);
        let response = self
            .http
            .send(Method::GET, &url, &[("authorization", "Bearer Oracle")], Vec::new(), TIMEOUT, MAX_BODY)
            .await
            .map_err(ImdsError::Unreachable)?;
        match response.status {
            s if s.is_success() => Ok(response.body),
            StatusCode::UNAUTHORIZED => Err(ImdsError::Unauthorized(path.to_string())),
            StatusCode::NOT_FOUND => Err(ImdsError::NotFound(path.to_string())),
            s if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => Err(ImdsError::Unavailable(s.as_u16())),
            s => Err(ImdsError::Status(s.as_u16())),
        }
    }

    async fn get_text(&self, path: &str) -> Result<String, ImdsError> {
        let body = self.get(path).await?;
        String::from_utf8(body.to_vec()).map_err(|_| ImdsError::Document(format!("{path} is not UTF-8")))
    }

    /// The instance document.
    pub async fn instance(&self) -> Result<Instance, ImdsError> {
        parse_instance(&self.get("instance/").await?)
    }

    /// The leaf certificate, its key and the intermediate certificate (re-read on every
    /// federation: Oracle rotates them several times a day).
    pub async fn identity(&self) -> Result<Identity, ImdsError> {
        let cert_pem = self.get_text("identity/cert.pem").await?;
        let key_bytes = self.get("identity/key.pem").await?;
        let key_pem = Secret::new(key_bytes.to_vec());
        drop(key_bytes);
        let intermediate_pem = self.get_text("identity/intermediate.pem").await?;
        Ok(Identity { cert_pem, key_pem, intermediate_pem })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#"{"availabilityDomain":"EMIr:US-ASHBURN-AD-1","id":"ocid1.instance.oc1.iad.abc","region":"iad",
        "canonicalRegionName":"us-ashburn-1","regionInfo":{"realmKey":"oc1","realmDomainComponent":"oraclecloud.com","regionKey":"IAD","regionIdentifier":"us-ashburn-1"},
        "metadata":{"domain":"auth.example.com","paypal_client_id":"abc","nested":{"x":1}},"timeCreated":1700000000000}"#;

    #[test]
    fn uses_the_canonical_region_never_the_short_one() {
        let i = parse_instance(DOC.as_bytes()).unwrap();
        assert_eq!(i.region, "us-ashburn-1");
        assert_eq!(i.realm_domain, "oraclecloud.com");
        assert_eq!(i.metadata.get("domain").map(String::as_str), Some("auth.example.com"));
        assert!(!i.metadata.contains_key("nested"));
    }

    #[test]
    fn rejects_foreign_realms_and_odd_regions() {
        let evil = DOC.replace("\"realmDomainComponent\":\"oraclecloud.com\"", "\"realmDomainComponent\":\"attacker.example\"");
        assert!(matches!(parse_instance(evil.as_bytes()), Err(ImdsError::Document(_))));
        let odd = DOC.replace("\"canonicalRegionName\":\"us-ashburn-1\"", "\"canonicalRegionName\":\"x.evil.com/\"");
        assert!(matches!(parse_instance(odd.as_bytes()), Err(ImdsError::Document(_))));
        assert!(matches!(parse_instance(b"not json"), Err(ImdsError::Document(_))));
        assert!(matches!(parse_instance(b"{}"), Err(ImdsError::Document(_))));
    }
}
