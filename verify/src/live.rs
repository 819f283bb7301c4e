//! `live`: ask a running service for a fresh report bound to our nonce and to its TLS key.
//!
//! `GET https://host[:port]/attestation?nonce=<64 hex digits>` over TLS (WebPKI roots, or the
//! roots given with `--ca`). The answer is an [`AttestationResponse`]. The verifier checks that
//! the SubjectPublicKeyInfo of the certificate the server presented in *this* connection hashes
//! to the `tls_key_sha256` the report binds, so the report speaks for the endpoint we talk to.

use crate::certs::{Cert, Role};
use crate::check::{self, Check, ReportSummary, Status};
use crate::page::{self, PageError};
use crate::report::Report;
use crate::verdict::{self, Evidence, Verdict};
use paypal_auth_evidence::binding::{self, Environment, Purpose, ServiceIdentity};
use paypal_auth_evidence::bundle::NO_ATTESTATION;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

/// The `format` member of an `/attestation` answer.
pub const ATTESTATION_FORMAT: &str = "paypal-auth-vm/attestation/v1";

/// Largest `/attestation` answer read.
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// The service identity as the `/attestation` answer states it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityJson {
    /// PayPal client id.
    pub client_id: String,
    /// PayPal environment.
    pub environment: Environment,
    /// Public DNS name.
    pub domain: String,
    /// RFC 7638 thumbprint of the page-signing key, base64url without padding.
    pub signing_key_thumbprint: String,
    /// SHA-256 of the TLS key's DER SubjectPublicKeyInfo, lowercase hex.
    pub tls_key_sha256: String,
    /// The page-signing public key itself (optional; when present its thumbprint must equal
    /// `signing_key_thumbprint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_jwk: Option<paypal_auth_evidence::jwk::PublicJwk>,
}

/// The evidence part of the answer, tagged by `platform`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "platform", rename_all = "kebab-case")]
pub enum LiveEvidence {
    /// A fresh SNP report whose REPORT_DATA is `binding::report_data(identity, Nonce(nonce))`.
    SevSnp {
        /// base64 (standard, padded) of the 1184-byte report as the firmware returned it.
        report: String,
        /// DER certificates from the host (VCEK or VLEK first), base64.
        #[serde(default)]
        certificates: Vec<String>,
        /// KDS URL of the VCEK when the host supplied none.
        #[serde(default)]
        kds_url: Option<String>,
    },
    /// No hardware attestation on this host.
    None {
        /// Always "no hardware attestation on this host".
        statement: String,
    },
}

/// The JSON body of `GET /attestation?nonce=<hex>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationResponse {
    /// [`ATTESTATION_FORMAT`] (optional for now: checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The nonce from the request, echoed as lowercase hex (optional: the nonce is bound in
    /// `REPORT_DATA` anyway; checked when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// What the report binds besides the nonce.
    pub identity: IdentityJson,
    /// The report or the statement that there is none.
    #[serde(flatten)]
    pub evidence: LiveEvidence,
}

/// A named failure of the live exchange.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveError {
    /// The URL is not `https://host[:port]`.
    Url(String),
    /// TCP connect, TLS handshake or I/O failed (the text names the step).
    Connection(String),
    /// The server presented no certificate.
    NoCertificate,
    /// The certificate could not be parsed to find its SubjectPublicKeyInfo.
    Certificate,
    /// The HTTP answer is not 200 or not a complete response.
    Http(String),
    /// The body is not an [`AttestationResponse`].
    Body(String),
    /// `format` is present and differs.
    Format(String),
    /// The nonce is echoed and differs from ours.
    Nonce,
    /// The identity's thumbprint is not 32 bytes of base64url, or not that of `signing_jwk`.
    Thumbprint,
    /// The TLS key of this connection is not the one the answer binds.
    TlsKey {
        /// SHA-256 of the SPKI we saw.
        seen: String,
        /// What the answer states.
        stated: String,
    },
}

impl fmt::Display for LiveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LiveError::Url(u) => write!(f, "{u:?} is not https://host[:port]"),
            LiveError::Connection(e) => write!(f, "connection failed: {e}"),
            LiveError::NoCertificate => f.write_str("server presented no TLS certificate"),
            LiveError::Certificate => f.write_str("server TLS certificate could not be parsed"),
            LiveError::Http(e) => write!(f, "HTTP: {e}"),
            LiveError::Body(e) => write!(f, "/attestation answer is not the expected JSON: {e}"),
            LiveError::Format(s) => write!(f, "/attestation format {s:?} is not {ATTESTATION_FORMAT:?}"),
            LiveError::Nonce => f.write_str("/attestation echoed a different nonce"),
            LiveError::Thumbprint => {
                f.write_str("identity.signing_key_thumbprint is not 32 bytes of base64url, or not the thumbprint of signing_jwk")
            }
            LiveError::TlsKey { seen, stated } => write!(
                f,
                "TLS key of this connection (SPKI sha256 {seen}) is not the bound one ({stated}): not the attested endpoint"
            ),
        }
    }
}

impl std::error::Error for LiveError {}

/// Options of `live`.
#[derive(Clone, Debug, Default)]
pub struct LiveOptions {
    /// Report, expected claims, measurement and `--cert`, as for `page`.
    pub page: page::PageOptions,
    /// PEM roots to trust instead of the WebPKI roots (`--ca`).
    pub ca_pem: Option<Vec<u8>>,
    /// Connect to this address instead of resolving the host (`--connect addr:port`).
    pub connect: Option<String>,
    /// Timeout for each network step.
    pub timeout: Option<Duration>,
}

/// Result of `live`.
#[derive(Clone, Debug, Serialize)]
pub struct LiveResult {
    /// The checklist.
    pub checks: Vec<Check>,
    /// What the report says.
    pub report: Option<ReportSummary>,
    /// The verdict.
    pub verdict: Verdict,
}

impl LiveResult {
    /// Whether all checks hold.
    pub fn ok(&self) -> bool {
        check::all_hold(&self.checks)
    }
}

/// `https://host[:port]` split into host and port.
pub fn parse_url(url: &str) -> Result<(String, u16), LiveError> {
    let bad = || LiveError::Url(url.to_owned());
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.contains(']') || h.ends_with(']') => (h, p.parse::<u16>().map_err(|_| bad())?),
        _ => (rest, 443),
    };
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host.to_ascii_lowercase(), port))
}

/// SHA-256 of the DER SubjectPublicKeyInfo of a DER certificate.
pub fn spki_sha256(cert_der: &[u8]) -> Result<[u8; 32], LiveError> {
    use der::{Decode, Encode};
    let cert = x509_cert::Certificate::from_der(cert_der).map_err(|_| LiveError::Certificate)?;
    let spki = cert.tbs_certificate.subject_public_key_info.to_der().map_err(|_| LiveError::Certificate)?;
    Ok(Sha256::digest(spki).into())
}

/// Fetches `/attestation` with `nonce`; returns the body and the server certificate's SPKI hash.
pub fn fetch(host: &str, port: u16, nonce_hex: &str, opts: &LiveOptions) -> Result<(Vec<u8>, [u8; 32]), LiveError> {
    let conn_err = |what: &str, e: &dyn fmt::Display| LiveError::Connection(format!("{what}: {e}"));
    let timeout = opts.timeout.unwrap_or(Duration::from_secs(15));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &opts.ca_pem {
        Some(pem) => {
            let mut any = false;
            for block in pem_blocks(pem) {
                roots.add(rustls::pki_types::CertificateDer::from(block)).map_err(|e| conn_err("--ca certificate", &e))?;
                any = true;
            }
            if !any {
                return Err(LiveError::Connection("--ca holds no PEM certificate".into()));
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| conn_err("TLS config", &e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(host.to_owned()).map_err(|_| LiveError::Url(host.to_owned()))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| conn_err("TLS", &e))?;
    let target = opts.connect.clone().unwrap_or_else(|| format!("{host}:{port}"));
    let addr = target
        .to_socket_addrs()
        .map_err(|e| conn_err("resolve", &e))?
        .next()
        .ok_or_else(|| LiveError::Connection(format!("{target} resolves to nothing")))?;
    let mut tcp = TcpStream::connect_timeout(&addr, timeout).map_err(|e| conn_err("connect", &e))?;
    tcp.set_read_timeout(Some(timeout)).map_err(|e| conn_err("socket", &e))?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| conn_err("socket", &e))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| conn_err("TLS handshake", &e))?;
    }
    let leaf = conn.peer_certificates().and_then(|c| c.first()).ok_or(LiveError::NoCertificate)?;
    let spki = spki_sha256(leaf.as_ref())?;
    let host_header = if port == 443 { host.to_owned() } else { format!("{host}:{port}") };
    let request = format!(
        "GET /attestation?nonce={nonce_hex} HTTP/1.1\r\nHost: {host_header}\r\nAccept: application/json\r\nUser-Agent: paypal-auth-verify/{}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
    stream.write_all(request.as_bytes()).map_err(|e| conn_err("send", &e))?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                raw.extend_from_slice(&buf[..n]);
                if raw.len() > MAX_RESPONSE + 64 * 1024 {
                    return Err(LiveError::Http("answer too large".into()));
                }
                if response_complete(&raw) {
                    break;
                }
            }
            // A peer that closes without close_notify: accept only a complete response.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(conn_err("receive", &e)),
        }
    }
    Ok((parse_http(&raw)?, spki))
}

fn pem_blocks(pem: &[u8]) -> Vec<Vec<u8>> {
    let text = String::from_utf8_lossy(pem);
    let mut out = Vec::new();
    let mut rest = text.as_ref();
    while let Some(start) = rest.find("-----BEGIN CERTIFICATE-----") {
        let Some(end_rel) = rest[start..].find("-----END CERTIFICATE-----") else { break };
        let end = start + end_rel + "-----END CERTIFICATE-----".len();
        if let Ok((_, der)) = der::pem::decode_vec(&rest.as_bytes()[start..end]) {
            out.push(der);
        }
        rest = &rest[end..];
    }
    out
}

fn split_head(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some((&raw[..at], &raw[at + 4..]))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.split("\r\n").skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn response_complete(raw: &[u8]) -> bool {
    let Some((head, body)) = split_head(raw) else { return false };
    let head = String::from_utf8_lossy(head);
    if let Some(len) = header(&head, "content-length").and_then(|v| v.parse::<usize>().ok()) {
        return body.len() >= len;
    }
    header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) && dechunk(body).is_some()
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        if size > MAX_RESPONSE || body.len() < size.checked_add(2)? || out.len() + size > MAX_RESPONSE {
            return None;
        }
        out.extend_from_slice(&body[..size]);
        body = &body[size + 2..];
    }
}

/// The body of a complete `200` HTTP/1.1 response.
pub fn parse_http(raw: &[u8]) -> Result<Vec<u8>, LiveError> {
    let (head, body) = split_head(raw).ok_or_else(|| LiveError::Http("incomplete response head".into()))?;
    let head = String::from_utf8_lossy(head);
    let status = head.split("\r\n").next().unwrap_or("");
    let code = status.split(' ').nth(1).unwrap_or("");
    if !status.starts_with("HTTP/1.") || code != "200" {
        return Err(LiveError::Http(format!("status line {status:?}")));
    }
    let body = if let Some(len) = header(&head, "content-length") {
        let len: usize = len.parse().map_err(|_| LiveError::Http("bad Content-Length".into()))?;
        body.get(..len).ok_or_else(|| LiveError::Http("body shorter than Content-Length".into()))?.to_vec()
    } else if header(&head, "transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(body).ok_or_else(|| LiveError::Http("bad chunked body".into()))?
    } else {
        body.to_vec()
    };
    if body.len() > MAX_RESPONSE {
        return Err(LiveError::Http("body too large".into()));
    }
    Ok(body)
}

/// Checks an answer against our nonce and the TLS key seen; all checks of `page` on the report.
pub fn verify_answer(body: &[u8], nonce: &[u8], seen_spki: [u8; 32], host: &str, opts: &LiveOptions) -> LiveResult {
    let mut checks = Vec::new();
    let none_verdict =
        |checks: Vec<Check>| LiveResult { checks, report: None, verdict: verdict::decide(Evidence::default(), None) };
    let answer: AttestationResponse = match serde_json::from_slice(body) {
        Ok(a) => a,
        Err(e) => {
            checks.push(Check::fail("live.answer", LiveError::Body(e.to_string()).into()));
            return none_verdict(checks);
        }
    };
    let shape = match (&answer.format, &answer.nonce) {
        (Some(f), _) if f != ATTESTATION_FORMAT => Err(LiveError::Format(f.clone())),
        (_, Some(n)) if !n.eq_ignore_ascii_case(&crate::hex(nonce)) => Err(LiveError::Nonce),
        (_, Some(_)) => Ok("answer parsed, nonce echoed".to_string()),
        (_, None) => Ok("answer parsed (no nonce echo; the nonce is checked through REPORT_DATA)".to_string()),
    };
    checks.push(Check::from_result("live.answer", shape));
    let id = &answer.identity;
    let stated_tls = page::parse_hex32(&id.tls_key_sha256);
    let tls = match stated_tls {
        Some(t) if crate::ct_eq(&t, &seen_spki) => {
            Ok(format!("TLS key of this connection is the bound one ({})", crate::hex(&seen_spki)))
        }
        _ => Err(LiveError::TlsKey { seen: crate::hex(&seen_spki), stated: id.tls_key_sha256.clone() }),
    };
    checks.push(Check::from_result("live.tls_key", tls));
    let mut expected = opts.page.expected.clone();
    if expected.domain.is_none() {
        expected.domain = Some(host.to_owned());
    }
    page::expected_checks(&expected, &id.client_id, &id.domain, id.environment, &mut checks);
    let thumbprint: Option<[u8; 32]> = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&id.signing_key_thumbprint).ok().and_then(|v| v.try_into().ok())
    };
    if let Some(jwk) = &id.signing_jwk {
        if Some(jwk.thumbprint()) == thumbprint {
            checks.push(Check::pass(
                "live.signing_jwk",
                format!("signing JWK has the stated thumbprint {}", id.signing_key_thumbprint),
            ));
        } else {
            checks.push(Check::fail("live.signing_jwk", LiveError::Thumbprint.into()));
        }
    }
    match &answer.evidence {
        LiveEvidence::None { statement } => {
            if statement == NO_ATTESTATION {
                checks.push(Check::pass("attestation", format!("platform none: {statement:?}")));
            } else {
                checks.push(Check::fail("attestation", PageError::Statement(statement.clone()).into()));
            }
            none_verdict(checks)
        }
        LiveEvidence::SevSnp { report, certificates, kds_url: _ } => {
            let decoded = {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD.decode(report.trim()).ok()
            };
            let parsed = match decoded.as_deref().map(Report::parse) {
                Some(Ok(r)) => r,
                Some(Err(e)) => {
                    checks.push(Check::fail("report.parse", check::Failure::Parse(e)));
                    return none_verdict(checks);
                }
                None => {
                    checks.push(Check::fail("report.parse", PageError::ReportEncoding.into()));
                    return none_verdict(checks);
                }
            };
            checks.push(Check::pass("report.parse", format!("version {}", parsed.version)));
            let leaf = match certificates.first() {
                Some(c) => {
                    use base64::Engine;
                    match base64::engine::general_purpose::STANDARD
                        .decode(c.trim())
                        .ok()
                        .and_then(|d| Cert::parse(&d, Role::Vcek).ok())
                    {
                        Some(c) => Some(c),
                        None => {
                            checks.push(Check::fail("page.certificates", PageError::CertificateEncoding.into()));
                            opts.page.cert.clone()
                        }
                    }
                }
                None => opts.page.cert.clone(),
            };
            let rr = check::verify_report(&parsed, leaf.as_ref(), &opts.page.report);
            let genuine = rr.genuine();
            let policy_ok = rr.checks.iter().filter(|c| c.name.starts_with("policy.")).all(|c| c.status != Status::Fail);
            checks.extend(rr.checks);
            let bound = match (thumbprint, stated_tls) {
                (Some(tp), Some(tls)) => {
                    let identity = ServiceIdentity {
                        client_id: id.client_id.clone(),
                        environment: id.environment,
                        domain: id.domain.clone(),
                        signing_key_thumbprint: tp,
                        tls_key_sha256: tls,
                    };
                    match binding::report_data(&identity, Purpose::Nonce(nonce)) {
                        Ok(exp) if crate::ct_eq(&exp, &parsed.report_data) => {
                            checks.push(Check::pass("binding.report_data", "REPORT_DATA binds identity, TLS key and our nonce"));
                            true
                        }
                        Ok(exp) => {
                            checks.push(Check::fail(
                                "binding.report_data",
                                PageError::Binding {
                                    purpose: "nonce",
                                    expected: crate::hex(&exp),
                                    reported: crate::hex(&parsed.report_data),
                                }
                                .into(),
                            ));
                            false
                        }
                        Err(_) => false,
                    }
                }
                (None, _) => {
                    checks.push(Check::fail("binding.report_data", LiveError::Thumbprint.into()));
                    false
                }
                (_, None) => {
                    checks.push(Check::fail("binding.report_data", PageError::TlsKeyHash.into()));
                    false
                }
            };
            let tls_ok = checks.iter().any(|c| c.name == "live.tls_key" && c.status == Status::Pass);
            let (m, coverage) = page::measurement_check(&parsed, opts.page.measurement.as_ref());
            checks.push(m);
            let verdict = verdict::decide(
                Evidence { has_report: true, genuine, bound: bound && tls_ok, policy_ok, measurement: coverage },
                Some("nonce"),
            );
            LiveResult { checks, report: Some(rr.summary), verdict }
        }
    }
}

/// Runs `live` against `url`.
pub fn run(url: &str, opts: &LiveOptions) -> Result<LiveResult, LiveError> {
    let (host, port) = parse_url(url)?;
    let mut nonce = [0u8; 32];
    getrandom::getrandom(&mut nonce).map_err(|e| LiveError::Connection(format!("random nonce: {e}")))?;
    let (body, spki) = fetch(&host, port, &crate::hex(&nonce), opts)?;
    let host_only = host.trim_start_matches('[').trim_end_matches(']').to_owned();
    Ok(verify_answer(&body, &nonce, spki, &host_only, opts))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(parse_url("https://auth.example.com").unwrap(), ("auth.example.com".into(), 443));
        assert_eq!(parse_url("https://Auth.example.com:8443/").unwrap(), ("auth.example.com".into(), 8443));
        assert!(parse_url("http://x").is_err());
        assert!(parse_url("https://x/attestation").is_err());
        assert!(parse_url("https://").is_err());
    }

    #[test]
    fn http_bodies() {
        assert_eq!(parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").unwrap(), b"{}");
        assert_eq!(parse_http(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n").unwrap(), b"{}");
        assert!(parse_http(b"HTTP/1.1 429 Too Many\r\n\r\n").is_err());
        assert!(parse_http(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n{}\r\n0\r\n\r\n").is_err());
        assert!(parse_http(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n{}").is_err());
    }

    #[test]
    fn answer_json_shape() {
        let none = r#"{"format":"paypal-auth-vm/attestation/v1","nonce":"00","platform":"none","statement":"no hardware attestation on this host","identity":{"client_id":"c","environment":"sandbox","domain":"d","signing_key_thumbprint":"AA","tls_key_sha256":"00"}}"#;
        let a: AttestationResponse = serde_json::from_str(none).unwrap();
        assert!(matches!(a.evidence, LiveEvidence::None { .. }));
        let snp = r#"{"format":"paypal-auth-vm/attestation/v1","nonce":"00","platform":"sev-snp","report":"AAAA","certificates":[],"kds_url":"https://kdsintf.amd.com/x","identity":{"client_id":"c","environment":"live","domain":"d","signing_key_thumbprint":"AA","tls_key_sha256":"00"}}"#;
        let a: AttestationResponse = serde_json::from_str(snp).unwrap();
        assert!(matches!(a.evidence, LiveEvidence::SevSnp { .. }));
    }
}
