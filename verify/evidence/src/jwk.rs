//! The public half of the page-signing key as a JWK (RFC 7517) and its thumbprint (RFC 7638).

use p256::ecdsa::VerifyingKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An EC P-256 public JWK, exactly the members RFC 7638 hashes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublicJwk {
    /// Always `"EC"`.
    pub kty: String,
    /// Always `"P-256"`.
    pub crv: String,
    /// base64url of the 32-byte X coordinate.
    pub x: String,
    /// base64url of the 32-byte Y coordinate.
    pub y: String,
}

/// Why a JWK could not be turned into a key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwkError {
    /// `kty` is not `EC` or `crv` is not `P-256`.
    UnsupportedKeyType,
    /// `x` or `y` is not 32 bytes of base64url.
    BadCoordinate,
    /// The point is not on the curve.
    NotOnCurve,
}

impl std::fmt::Display for JwkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JwkError::UnsupportedKeyType => "JWK is not an EC P-256 key",
            JwkError::BadCoordinate => "JWK coordinate is not 32 bytes of base64url",
            JwkError::NotOnCurve => "JWK point is not on the P-256 curve",
        })
    }
}

impl std::error::Error for JwkError {}

impl PublicJwk {
    /// The JWK of a P-256 verifying key.
    pub fn from_key(key: &VerifyingKey) -> Self {
        let point = key.to_encoded_point(false);
        // An uncompressed, non-identity P-256 point always has both coordinates.
        let x = point.x().map(|x| crate::b64url(x)).unwrap_or_default();
        let y = point.y().map(|y| crate::b64url(y)).unwrap_or_default();
        PublicJwk { kty: "EC".into(), crv: "P-256".into(), x, y }
    }

    /// The verifying key this JWK describes.
    pub fn to_key(&self) -> Result<VerifyingKey, JwkError> {
        if self.kty != "EC" || self.crv != "P-256" {
            return Err(JwkError::UnsupportedKeyType);
        }
        let x = crate::b64url_decode(&self.x).filter(|x| x.len() == 32).ok_or(JwkError::BadCoordinate)?;
        let y = crate::b64url_decode(&self.y).filter(|y| y.len() == 32).ok_or(JwkError::BadCoordinate)?;
        let mut sec1 = Vec::with_capacity(65);
        sec1.push(0x04);
        sec1.extend_from_slice(&x);
        sec1.extend_from_slice(&y);
        VerifyingKey::from_sec1_bytes(&sec1).map_err(|_| JwkError::NotOnCurve)
    }

    /// RFC 7638 thumbprint: SHA-256 over `{"crv":…,"kty":…,"x":…,"y":…}` with no whitespace.
    pub fn thumbprint(&self) -> [u8; 32] {
        // The members are base64url strings and fixed names, so no JSON escaping is ever needed;
        // building the string by hand keeps the hashed bytes obvious.
        let canonical = format!(r#"{{"crv":"{}","kty":"{}","x":"{}","y":"{}"}}"#, self.crv, self.kty, self.x, self.y);
        Sha256::digest(canonical.as_bytes()).into()
    }

    /// The thumbprint in base64url, as used for the JWS `kid`.
    pub fn thumbprint_b64(&self) -> String {
        crate::b64url(&self.thumbprint())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc7638_style_thumbprint_is_over_sorted_members() {
        // Key from RFC 7515 appendix A.3 (ES256 example).
        let jwk = PublicJwk {
            kty: "EC".into(),
            crv: "P-256".into(),
            x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU".into(),
            y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0".into(),
        };
        let key = jwk.to_key().unwrap();
        assert_eq!(PublicJwk::from_key(&key), jwk);
        // Independently computed with Python's hashlib over the canonical JSON.
        assert_eq!(jwk.thumbprint_b64(), include_str!("../testdata/rfc7515-a3-thumbprint.txt").trim());
    }

    #[test]
    fn rejects_other_curves_and_bad_points() {
        let mut jwk = PublicJwk { kty: "EC".into(), crv: "P-384".into(), x: String::new(), y: String::new() };
        assert_eq!(jwk.to_key(), Err(JwkError::UnsupportedKeyType));
        jwk.crv = "P-256".into();
        assert_eq!(jwk.to_key(), Err(JwkError::BadCoordinate));
        jwk.x = crate::b64url(&[1; 32]);
        jwk.y = crate::b64url(&[2; 32]);
        assert_eq!(jwk.to_key(), Err(JwkError::NotOnCurve));
    }
}
