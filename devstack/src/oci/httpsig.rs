//! Verification of OCI request signatures (draft-cavage v1), written independently of the
//! service's signer so the stand-ins check it rather than mirror it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use rsa::signature::Verifier as _;
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// The parameters of `Authorization: Signature ...`.
#[derive(Debug, Clone)]
pub struct SignatureParams {
    /// `keyId`.
    pub key_id: String,
    /// `headers`, split.
    pub headers: Vec<String>,
    /// `signature`, decoded.
    pub signature: Vec<u8>,
}

/// Parses the Authorization header; checks `version="1"` and `algorithm="rsa-sha256"`.
pub fn parse_authorization(value: &str) -> Result<SignatureParams, &'static str> {
    let rest = value.strip_prefix("Signature ").ok_or("Authorization is not a Signature")?;
    let mut params = HashMap::new();
    let mut s = rest.trim();
    while !s.is_empty() {
        let eq = s.find('=').ok_or("malformed signature parameters")?;
        let name = s[..eq].trim().to_string();
        let after = s[eq + 1..].strip_prefix('"').ok_or("parameter value not quoted")?;
        let end = after.find('"').ok_or("unterminated parameter value")?;
        params.insert(name, after[..end].to_string());
        s = after[end + 1..].trim_start_matches(',').trim();
    }
    if params.get("version").map(String::as_str) != Some("1") {
        return Err("signature version is not 1");
    }
    if params.get("algorithm").map(String::as_str) != Some("rsa-sha256") {
        return Err("algorithm is not rsa-sha256");
    }
    let key_id = params.get("keyId").ok_or("no keyId")?.clone();
    let headers = params.get("headers").ok_or("no headers")?.split(' ').map(str::to_string).collect();
    let signature = B64.decode(params.get("signature").ok_or("no signature")?).map_err(|_| "signature is not base64")?;
    Ok(SignatureParams { key_id, headers, signature })
}

/// Rebuilds the signing string from the received request and verifies it with `key`.
pub fn verify(
    params: &SignatureParams,
    method: &str,
    path_and_query: &str,
    headers: &hyper::HeaderMap,
    key: &rsa::RsaPublicKey,
) -> Result<(), &'static str> {
    let mut lines = Vec::new();
    for name in &params.headers {
        if name == "(request-target)" {
            lines.push(format!("(request-target): {} {}", method.to_ascii_lowercase(), path_and_query));
        } else {
            let value = headers.get(name.as_str()).ok_or("a signed header is missing")?.to_str().map_err(|_| "a signed header is not text")?;
            lines.push(format!("{name}: {value}"));
        }
    }
    let signing_string = lines.join("\n");
    let verifier = rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone());
    let signature = rsa::pkcs1v15::Signature::try_from(params.signature.as_slice()).map_err(|_| "signature has the wrong length")?;
    verifier.verify(signing_string.as_bytes(), &signature).map_err(|_| "signature does not verify")
}

/// Checks `x-content-sha256` and `content-length` against the body.
pub fn check_body(headers: &hyper::HeaderMap, body: &[u8]) -> Result<(), &'static str> {
    let sha = headers.get("x-content-sha256").and_then(|v| v.to_str().ok()).ok_or("no x-content-sha256")?;
    if sha != B64.encode(Sha256::digest(body)) {
        return Err("x-content-sha256 does not match the body");
    }
    let len = headers.get("content-length").and_then(|v| v.to_str().ok()).ok_or("no content-length")?;
    if len != body.len().to_string() {
        return Err("content-length does not match the body");
    }
    Ok(())
}

/// The headers OCI requires to be signed for a method (`host` is required for service calls).
pub fn required_headers(method: &str, with_host: bool) -> Vec<&'static str> {
    let mut v = vec!["date", "(request-target)"];
    if with_host {
        v.push("host");
    }
    if matches!(method, "POST" | "PUT" | "PATCH") {
        v.extend(["content-length", "content-type", "x-content-sha256"]);
    }
    v
}
