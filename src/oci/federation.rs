//! Instance-principal federation, as Oracle's SDKs do it (research/oci.md §2).
//!
//! Leaf certificate, leaf key and intermediate from IMDS; a fresh RSA-2048 session key in RAM;
//! `POST https://auth.<region>.<realm domain>/v1/x509` signed with the leaf key (no `host` in
//! the signature), key id `<tenancy>/fed-x509-sha256/<SHA-256 of the leaf, colon hex>` with body
//! field `fingerprintAlgorithm: "SHA256"` (the Go SDK's current form); the answer is a JWT whose
//! `exp` says when to federate again — with a new session key and freshly read certificates.
//! Service calls are then signed with the session key and key id `ST$<token>` ([`Federation::call`]).

use super::imds::{Identity, Imds, ImdsError};
use super::signer::{self, HostHeader, RequestParts, RsaKey, SignError};
use super::Clock;
use crate::net::http::{HttpClient, HttpError, Response};
use crate::secret::Secret;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use hyper::{Method, StatusCode};
use sha2::{Digest as _, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Deadline of the federation call.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// Size cap of the federation answer (a JWT of a few KB).
pub const MAX_BODY: usize = 64 * 1024;
/// Largest clock difference OCI accepts on a signed request.
pub const MAX_SKEW_SECS: i64 = 300;

/// Why federation failed.
#[derive(Debug)]
pub enum FedError {
    /// Reading the identity material from IMDS failed.
    Imds(ImdsError),
    /// The leaf or intermediate certificate is unusable; says what.
    Certificate(&'static str),
    /// The leaf key is unusable or a session key could not be made.
    Key(SignError),
    /// The tenancy in the leaf certificate changed since the first federation.
    TenancyChanged,
    /// The auth endpoint could not be reached.
    Transport(HttpError),
    /// The auth service refused the request (e.g. 401 NotAuthenticated).
    Rejected {
        /// HTTP status.
        status: u16,
        /// OCI error code.
        code: String,
        /// OCI error message (sanitized, truncated).
        message: String,
    },
    /// Our clock differs from the auth service's by more than 5 minutes; the next attempt
    /// uses the service's clock.
    ClockSkew {
        /// Service time minus our time, seconds.
        skew_secs: i64,
    },
    /// The answer is not `{"token": "<JWT with exp>"}`.
    BadToken(&'static str),
}

impl std::fmt::Display for FedError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FedError::Imds(e) => write!(f, "instance principal material: {e}"),
            FedError::Certificate(what) => write!(f, "instance certificate unusable: {what}"),
            FedError::Key(e) => write!(f, "instance principal key: {e}"),
            FedError::TenancyChanged => f.write_str("the tenancy in the instance certificate changed"),
            FedError::Transport(e) => write!(f, "auth service unreachable: {e}"),
            FedError::Rejected { status, code, message } => write!(f, "auth service refused federation: HTTP {status} {code}: {message}"),
            FedError::ClockSkew { skew_secs } => write!(
                f,
                "clock skew: the auth service's clock is {skew_secs} s from ours (more than {MAX_SKEW_SECS} s); using its clock from now on"
            ),
            FedError::BadToken(what) => write!(f, "auth service answer unusable: {what}"),
        }
    }
}

impl std::error::Error for FedError {}

/// Why a signed service call failed before a response could be returned.
#[derive(Debug)]
pub enum CallError {
    /// Getting a session failed.
    Federation(FedError),
    /// Signing failed (bad URL).
    Sign(SignError),
    /// The request failed.
    Http(HttpError),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Federation(e) => e.fmt(f),
            CallError::Sign(e) => e.fmt(f),
            CallError::Http(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for CallError {}

/// The parts of the leaf certificate federation needs. I/O-free.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Base64 DER (PEM without armor and newlines), as sent in the request body.
    pub stripped: String,
    /// Tenancy OCID from the subject's `opc-tenant:` (or `opc-identity:`) attribute.
    pub tenancy: String,
    /// SHA-256 of the DER, lower-case colon-separated hex.
    pub sha256_fingerprint: String,
}

/// The base64 body of the first PEM block, newlines removed.
pub fn pem_stripped(pem: &str) -> Option<String> {
    let mut out = String::new();
    let mut inside = false;
    for line in pem.lines().map(str::trim) {
        if line.starts_with("-----BEGIN ") {
            inside = true;
        } else if line.starts_with("-----END ") {
            return (inside && !out.is_empty()).then_some(out);
        } else if inside {
            out.push_str(line);
        }
    }
    None
}

/// Reads the leaf certificate. I/O-free.
pub fn parse_leaf(cert_pem: &str) -> Result<Leaf, FedError> {
    use x509_cert::der::Decode as _;
    let stripped = pem_stripped(cert_pem).ok_or(FedError::Certificate("leaf is not PEM"))?;
    let der = B64.decode(&stripped).map_err(|_| FedError::Certificate("leaf PEM is not base64"))?;
    let cert = x509_cert::Certificate::from_der(&der).map_err(|_| FedError::Certificate("leaf is not an X.509 certificate"))?;
    let mut tenancy = None;
    for rdn in cert.tbs_certificate.subject.0.iter() {
        for atv in rdn.0.iter() {
            let Ok(value) = std::str::from_utf8(atv.value.value()) else { continue };
            if let Some(t) = value.strip_prefix("opc-tenant:").or_else(|| value.strip_prefix("opc-identity:")) {
                tenancy.get_or_insert_with(|| t.to_string());
            }
        }
    }
    let tenancy = tenancy.ok_or(FedError::Certificate("no opc-tenant: attribute in the leaf subject"))?;
    if tenancy.is_empty() || tenancy.len() > 255 || !tenancy.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-') {
        return Err(FedError::Certificate("tenancy OCID in the leaf subject is malformed"));
    }
    let sha256_fingerprint = Sha256::digest(&der).iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":");
    Ok(Leaf { stripped, tenancy, sha256_fingerprint })
}

/// The `/v1/x509` request body. I/O-free.
pub fn request_body(leaf: &Leaf, session_public_spki_der: &[u8], intermediate_stripped: &str) -> Vec<u8> {
    serde_json::json!({
        "certificate": leaf.stripped,
        "publicKey": B64.encode(session_public_spki_der),
        "intermediateCertificates": [intermediate_stripped],
        "fingerprintAlgorithm": "SHA256",
    })
    .to_string()
    .into_bytes()
}

/// The federation key id for a leaf.
pub fn federation_key_id(leaf: &Leaf) -> String {
    format!("{}/fed-x509-sha256/{}", leaf.tenancy, leaf.sha256_fingerprint)
}

/// `exp` and `iat` of a JWT (payload read without verifying, as the SDKs do). I/O-free.
pub fn token_times(token: &str) -> Result<(i64, Option<i64>), FedError> {
    if token.len() > 16 * 1024 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.' || b == b'=') {
        return Err(FedError::BadToken("token has characters a JWT cannot have"));
    }
    let payload = token.split('.').nth(1).ok_or(FedError::BadToken("token is not a JWT"))?;
    let json = B64URL.decode(payload.trim_end_matches('=')).map_err(|_| FedError::BadToken("JWT payload is not base64url"))?;
    let claims: serde_json::Value = serde_json::from_slice(&json).map_err(|_| FedError::BadToken("JWT payload is not JSON"))?;
    let exp = claims.get("exp").and_then(|v| v.as_i64()).ok_or(FedError::BadToken("JWT has no exp"))?;
    Ok((exp, claims.get("iat").and_then(|v| v.as_i64())))
}

/// When to federate again: before `exp` by 5 minutes (Go SDK) or, for short-lived tokens,
/// by half their lifetime.
pub fn refresh_at(exp: i64, iat: Option<i64>, now: i64) -> i64 {
    let lifetime = exp - iat.unwrap_or(now).min(exp);
    exp - MAX_SKEW_SECS.min(lifetime / 2)
}

/// OCI's error body `{"code": "...", "message": "..."}`, sanitized. I/O-free.
pub fn error_body(body: &[u8]) -> (String, String) {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let clean = |s: Option<&str>, max: usize| -> String {
        s.unwrap_or("").chars().filter(|c| !c.is_control()).take(max).collect()
    };
    (clean(v.get("code").and_then(|c| c.as_str()), 64), clean(v.get("message").and_then(|c| c.as_str()), 300))
}

/// A federated session: the session key and its token.
pub struct Session {
    key: RsaKey,
    token: Secret,
    /// Token expiry, Unix seconds.
    pub exp: i64,
    /// When this session should be replaced, Unix seconds.
    pub refresh_at: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("exp", &self.exp).field("refresh_at", &self.refresh_at).finish_non_exhaustive()
    }
}

impl Session {
    /// Signs a service request with the session key and `ST$<token>`.
    pub fn sign(&self, req: &RequestParts<'_>) -> Result<signer::SignedHeaders, SignError> {
        let token = self.token.expose_str().unwrap_or_default();
        signer::sign(&self.key, &format!("ST${token}"), req, HostHeader::Signed)
    }
}

/// The instance-principal session provider. Cheap to share (`Arc`).
pub struct Federation {
    http: HttpClient,
    imds: Imds,
    auth_url: String,
    clock: Arc<Clock>,
    tenancy: std::sync::Mutex<Option<String>>,
    current: tokio::sync::Mutex<Option<Arc<Session>>>,
}

impl Federation {
    /// A provider federating at `auth_base` (`https://auth.<region>.<realm domain>`).
    pub fn new(http: HttpClient, imds: Imds, auth_base: &str, clock: Arc<Clock>) -> Federation {
        Federation {
            http,
            imds,
            auth_url: format!("{}/v1/x509", auth_base.trim_end_matches('/')),
            clock,
            tenancy: std::sync::Mutex::new(None),
            current: tokio::sync::Mutex::new(None),
        }
    }

    /// The clock used for signing (corrected after a skew report).
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The current session, federating first when there is none or it is due for refresh.
    pub async fn session(&self) -> Result<Arc<Session>, FedError> {
        let mut current = self.current.lock().await;
        if let Some(s) = current.as_ref() {
            if self.clock.now() < s.refresh_at {
                return Ok(Arc::clone(s));
            }
        }
        let fresh = Arc::new(self.federate().await?);
        crate::info!("oci", "instance principal session established (token valid until {}, refresh at {})", signer::http_date(fresh.exp), signer::http_date(fresh.refresh_at));
        *current = Some(Arc::clone(&fresh));
        Ok(fresh)
    }

    /// Drops `stale` so the next [`Federation::session`] federates again (after a 401).
    pub async fn invalidate(&self, stale: &Arc<Session>) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, stale)) {
            *current = None;
        }
    }

    async fn federate(&self) -> Result<Session, FedError> {
        let Identity { cert_pem, key_pem, intermediate_pem } = self.imds.identity().await.map_err(FedError::Imds)?;
        let leaf = parse_leaf(&cert_pem)?;
        {
            let mut known = self.tenancy.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            match known.as_ref() {
                Some(t) if *t != leaf.tenancy => return Err(FedError::TenancyChanged),
                Some(_) => {}
                None => *known = Some(leaf.tenancy.clone()),
            }
        }
        let intermediate = pem_stripped(&intermediate_pem).ok_or(FedError::Certificate("intermediate is not PEM"))?;
        let leaf_key = RsaKey::from_pem(key_pem.expose_str().unwrap_or_default()).map_err(FedError::Key)?;
        drop(key_pem);
        // Key generation is CPU-bound (tens of ms optimized); keep it off the async workers.
        let session_key = tokio::task::spawn_blocking(RsaKey::generate_session_key)
            .await
            .map_err(|_| FedError::Key(SignError::KeyGeneration))?
            .map_err(FedError::Key)?;
        let body = request_body(&leaf, &session_key.public_spki_der().map_err(FedError::Key)?, &intermediate);
        let date = signer::http_date(self.clock.now());
        let req = RequestParts { method: "POST", url: &self.auth_url, date: &date, body: &body, content_type: "application/json" };
        let signed = signer::sign(&leaf_key, &federation_key_id(&leaf), &req, HostHeader::Omitted).map_err(FedError::Key)?;
        drop(leaf_key);
        let mut headers: Vec<(&str, &str)> = signed.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        headers.push(("accept", "application/json"));
        let response = self.http.send(Method::POST, &self.auth_url, &headers, body, TIMEOUT, MAX_BODY).await.map_err(FedError::Transport)?;
        if response.status != StatusCode::OK {
            if response.status == StatusCode::UNAUTHORIZED {
                if let Some(skew) = self.skew_from(&response) {
                    return Err(FedError::ClockSkew { skew_secs: skew });
                }
            }
            let (code, message) = error_body(&response.body);
            return Err(FedError::Rejected { status: response.status.as_u16(), code, message });
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            token: String,
        }
        let answer: Answer = serde_json::from_slice(&response.body).map_err(|_| FedError::BadToken("answer is not {\"token\": ...}"))?;
        let (exp, iat) = token_times(&answer.token)?;
        let now = self.clock.now();
        if exp <= now {
            return Err(FedError::BadToken("token already expired"));
        }
        Ok(Session { key: session_key, token: Secret::from(answer.token), exp, refresh_at: refresh_at(exp, iat, now) })
    }

    /// When a 401 carries a `Date` more than 5 minutes from ours, adopts the server's clock and
    /// returns the skew.
    fn skew_from(&self, response: &Response) -> Option<i64> {
        let server = response.headers.get("date")?.to_str().ok().and_then(signer::parse_http_date)?;
        let skew = server - self.clock.now();
        if skew.abs() > MAX_SKEW_SECS {
            self.clock.adjust(skew);
            Some(skew)
        } else {
            None
        }
    }

    /// Sends a request signed with the session; on 401 federates once more and retries (as the
    /// Python SDK does). The response is returned whatever its status.
    pub async fn call(&self, method: Method, url: &str, body: Vec<u8>, timeout: Duration, max_body: usize) -> Result<Response, CallError> {
        let mut retried = false;
        loop {
            let session = self.session().await.map_err(CallError::Federation)?;
            let date = signer::http_date(self.clock.now());
            let req = RequestParts { method: method.as_str(), url, date: &date, body: &body, content_type: "application/json" };
            let signed = session.sign(&req).map_err(CallError::Sign)?;
            let mut headers: Vec<(&str, &str)> = signed.headers.iter().filter(|(n, _)| *n != "host").map(|(n, v)| (*n, v.as_str())).collect();
            if method == Method::GET {
                headers.push(("accept", "application/json"));
            }
            let response = self.http.send(method.clone(), url, &headers, body.clone(), timeout, max_body).await.map_err(CallError::Http)?;
            if response.status == StatusCode::UNAUTHORIZED && !retried {
                crate::warn!("oci", "401 from {}: federating again and retrying once", host_of(url));
                self.invalidate(&session).await;
                retried = true;
                continue;
            }
            return Ok(response);
        }
    }
}

/// The host of a URL, for log lines.
pub fn host_of(url: &str) -> &str {
    signer::split_url(url).map(|(h, _)| h).unwrap_or("?")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_times_and_refresh_point() {
        let payload = B64URL.encode(br#"{"exp":2000,"iat":1000,"sub":"x"}"#);
        let token = format!("eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln");
        assert_eq!(token_times(&token).unwrap(), (2000, Some(1000)));
        assert_eq!(refresh_at(2000, Some(1000), 1000), 1700);
        assert_eq!(refresh_at(1020, Some(1000), 1000), 1010);
        assert!(token_times("a.b").is_err());
        assert!(token_times("a\"b.c.d").is_err());
        let no_exp = format!("x.{}.y", B64URL.encode(br#"{"iat":1}"#));
        assert!(matches!(token_times(&no_exp), Err(FedError::BadToken(_))));
    }

    #[test]
    fn pem_stripping() {
        assert_eq!(pem_stripped("-----BEGIN CERTIFICATE-----\nAAAA\nBBBB\n-----END CERTIFICATE-----\n").as_deref(), Some("AAAABBBB"));
        assert_eq!(pem_stripped("AAAA"), None);
        assert!(matches!(parse_leaf("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"), Err(FedError::Certificate(_))));
    }

    #[test]
    fn error_bodies_are_sanitized() {
        let (code, msg) = error_body(br#"{"code":"NotAuthenticated","message":"bad\nthing"}"#);
        assert_eq!((code.as_str(), msg.as_str()), ("NotAuthenticated", "badthing"));
        assert_eq!(error_body(b"<html>"), (String::new(), String::new()));
    }
}
