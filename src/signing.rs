//! The page-signing key: from `SIGNING_KEY` / OCI Vault (stable, pinnable) or generated at boot.

use crate::secret::Secret;
use p256::ecdsa::SigningKey;
use p256::pkcs8::DecodePrivateKey;
use paypal_auth_evidence::jwk::PublicJwk;

/// Why a configured signing key was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SigningKeyError {
    /// The secret is not a PKCS#8 PEM P-256 private key (the text is never echoed).
    NotPkcs8P256,
}

impl std::fmt::Display for SigningKeyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKeyError::NotPkcs8P256 => f.write_str("signing key is not a PKCS#8 PEM P-256 private key"),
        }
    }
}

impl std::error::Error for SigningKeyError {}

/// The ES256 key that signs result pages, with its public JWK.
pub struct PageSigner {
    key: SigningKey,
    jwk: PublicJwk,
    kid: String,
    ephemeral: bool,
}

impl PageSigner {
    /// Loads a PKCS#8 PEM key (from `SIGNING_KEY` or the Vault secret).
    pub fn from_pem(pem: &Secret) -> Result<Self, SigningKeyError> {
        let text = pem.expose_str().ok_or(SigningKeyError::NotPkcs8P256)?;
        let key = SigningKey::from_pkcs8_pem(text).map_err(|_| SigningKeyError::NotPkcs8P256)?;
        Ok(Self::new(key, false))
    }

    /// Generates a key that exists only in this boot's memory.
    pub fn generate() -> Self {
        Self::new(SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng), true)
    }

    fn new(key: SigningKey, ephemeral: bool) -> Self {
        let jwk = PublicJwk::from_key(key.verifying_key());
        let kid = jwk.thumbprint_b64();
        PageSigner { key, jwk, kid, ephemeral }
    }

    /// Signs a JWS payload.
    pub fn sign(&self, payload: &[u8]) -> String {
        paypal_auth_evidence::jws::sign(&self.key, &self.kid, payload)
    }

    /// The public JWK.
    pub fn jwk(&self) -> &PublicJwk {
        &self.jwk
    }

    /// RFC 7638 thumbprint of the public key.
    pub fn thumbprint(&self) -> [u8; 32] {
        self.jwk.thumbprint()
    }

    /// The thumbprint in base64url (the JWS `kid`).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// True when the key was generated in this boot.
    pub fn is_ephemeral(&self) -> bool {
        self.ephemeral
    }
}

impl std::fmt::Debug for PageSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageSigner").field("kid", &self.kid).field("ephemeral", &self.ephemeral).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::pkcs8::EncodePrivateKey;

    #[test]
    fn pem_key_round_trips_and_bad_pem_is_refused() {
        let key = SigningKey::random(&mut p256::elliptic_curve::rand_core::OsRng);
        let pem = key.to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap();
        let signer = PageSigner::from_pem(&Secret::from(pem.to_string())).unwrap();
        assert!(!signer.is_ephemeral());
        let jws = signer.sign(b"{}");
        let ok = paypal_auth_evidence::jws::verify(&jws, key.verifying_key()).unwrap();
        assert_eq!(ok.kid.as_deref(), Some(signer.kid()));
        assert_eq!(PageSigner::from_pem(&Secret::from("nope".to_string())).unwrap_err(), SigningKeyError::NotPkcs8P256);
        assert!(PageSigner::generate().is_ephemeral());
        assert!(!format!("{signer:?}").contains("PRIVATE"));
    }
}
