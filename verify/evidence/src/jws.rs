//! Compact JWS (RFC 7515) with ES256 only.
//!
//! Verification checks the signature over the signing input exactly as received
//! (`BASE64URL(header) "." BASE64URL(payload)`), never over a re-serialisation, and accepts no
//! algorithm but ES256: `alg: none`, HMAC and RSA are refused before any key is used.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use serde::Deserialize;

/// Largest compact JWS [`verify`] looks at; a page's statement is a few kilobytes.
pub const MAX_JWS_LEN: usize = 64 * 1024;

/// Why a compact JWS did not verify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwsError {
    /// Longer than [`MAX_JWS_LEN`].
    TooLong,
    /// Not three dot-separated base64url parts.
    Malformed,
    /// The protected header is not a JSON object.
    BadHeader,
    /// The header names an algorithm other than ES256.
    UnsupportedAlgorithm(String),
    /// The header carries `crit`, which this verifier does not understand.
    CriticalHeader,
    /// The signature is not 64 bytes (r || s).
    BadSignatureEncoding,
    /// The signature does not verify under the given key.
    BadSignature,
}

impl std::fmt::Display for JwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JwsError::TooLong => write!(f, "JWS longer than {MAX_JWS_LEN} bytes"),
            JwsError::Malformed => f.write_str("JWS is not three base64url parts"),
            JwsError::BadHeader => f.write_str("JWS protected header is not a JSON object"),
            JwsError::UnsupportedAlgorithm(alg) => write!(f, "JWS algorithm {alg:?} is not ES256"),
            JwsError::CriticalHeader => f.write_str("JWS header has a crit member"),
            JwsError::BadSignatureEncoding => f.write_str("JWS signature is not 64 bytes"),
            JwsError::BadSignature => f.write_str("JWS signature does not verify"),
        }
    }
}

impl std::error::Error for JwsError {}

/// A JWS that verified: its header members of interest and the payload bytes exactly as signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The `kid` header member, if any.
    pub kid: Option<String>,
    /// The decoded payload.
    pub payload: Vec<u8>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// Signs `payload` with ES256; `kid` goes into the protected header.
pub fn sign(key: &SigningKey, kid: &str, payload: &[u8]) -> String {
    let header = serde_json::json!({ "alg": "ES256", "typ": "JWT", "kid": kid });
    let mut out = crate::b64url(header.to_string().as_bytes());
    out.push('.');
    out.push_str(&crate::b64url(payload));
    let signature: Signature = key.sign(out.as_bytes());
    out.push('.');
    out.push_str(&crate::b64url(&signature.to_bytes()));
    out
}

/// Verifies a compact ES256 JWS under `key` and returns its payload.
pub fn verify(compact: &str, key: &VerifyingKey) -> Result<Verified, JwsError> {
    if compact.len() > MAX_JWS_LEN {
        return Err(JwsError::TooLong);
    }
    let mut parts = compact.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwsError::Malformed);
    };
    let header_bytes = crate::b64url_decode(h).ok_or(JwsError::Malformed)?;
    let payload = crate::b64url_decode(p).ok_or(JwsError::Malformed)?;
    let sig_bytes = crate::b64url_decode(s).ok_or(JwsError::Malformed)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|_| JwsError::BadHeader)?;
    if header.alg != "ES256" {
        return Err(JwsError::UnsupportedAlgorithm(header.alg));
    }
    if header.crit.is_some() {
        return Err(JwsError::CriticalHeader);
    }
    let signature = Signature::from_slice(&sig_bytes).map_err(|_| JwsError::BadSignatureEncoding)?;
    // The signing input is a prefix of what we received: h "." p.
    let signing_input = &compact.as_bytes()[..h.len() + 1 + p.len()];
    key.verify(signing_input, &signature).map_err(|_| JwsError::BadSignature)?;
    Ok(Verified { kid: header.kid, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::elliptic_curve::rand_core::OsRng;

    #[test]
    fn round_trip_and_tamper() {
        let key = SigningKey::random(&mut OsRng);
        let jws = sign(&key, "k1", br#"{"a":1}"#);
        let ok = verify(&jws, key.verifying_key()).unwrap();
        assert_eq!(ok.payload, br#"{"a":1}"#);
        assert_eq!(ok.kid.as_deref(), Some("k1"));

        let other = SigningKey::random(&mut OsRng);
        assert_eq!(verify(&jws, other.verifying_key()), Err(JwsError::BadSignature));

        let parts: Vec<&str> = jws.split('.').collect();
        let forged = format!("{}.{}.{}", parts[0], crate::b64url(br#"{"a":2}"#), parts[2]);
        assert_eq!(verify(&forged, key.verifying_key()), Err(JwsError::BadSignature));
    }

    #[test]
    fn rejects_other_algorithms_and_shapes() {
        let key = SigningKey::random(&mut OsRng);
        let none = format!("{}.{}.", crate::b64url(br#"{"alg":"none"}"#), crate::b64url(b"{}"));
        assert_eq!(verify(&none, key.verifying_key()), Err(JwsError::UnsupportedAlgorithm("none".into())));
        let hs = format!("{}.{}.AAAA", crate::b64url(br#"{"alg":"HS256"}"#), crate::b64url(b"{}"));
        assert!(matches!(verify(&hs, key.verifying_key()), Err(JwsError::UnsupportedAlgorithm(_))));
        assert_eq!(verify("a.b", key.verifying_key()), Err(JwsError::Malformed));
        assert_eq!(verify("a.b.c.d", key.verifying_key()), Err(JwsError::Malformed));
        assert_eq!(verify("!!.b.c", key.verifying_key()), Err(JwsError::Malformed));
        let crit = format!("{}.{}.{}", crate::b64url(br#"{"alg":"ES256","crit":["x"]}"#), crate::b64url(b"{}"), crate::b64url(&[0; 64]));
        assert_eq!(verify(&crit, key.verifying_key()), Err(JwsError::CriticalHeader));
        let short = format!("{}.{}.{}", crate::b64url(br#"{"alg":"ES256"}"#), crate::b64url(b"{}"), crate::b64url(&[0; 10]));
        assert_eq!(verify(&short, key.verifying_key()), Err(JwsError::BadSignatureEncoding));
        assert_eq!(verify(&"a".repeat(MAX_JWS_LEN + 1), key.verifying_key()), Err(JwsError::TooLong));
    }
}
