//! `REPORT_DATA`: what a hardware attestation report binds.
//!
//! The 64 bytes are `SHA-512(DOMAIN || fields)`, where `DOMAIN` is a versioned, NUL-terminated
//! ASCII label and each field is `tag (1 byte) || length (u32, big-endian) || bytes`, in tag order.
//! The exact layout and test vectors are in `docs/attestation.md`; the unit tests below pin them.

use sha2::{Digest, Sha256, Sha512};

/// The domain-separation label, including its terminating NUL. Bumped with any layout change.
pub const DOMAIN: &[u8] = b"paypal-auth-vm/report-data/v1\0";

/// Largest verifier nonce accepted by [`Purpose::Nonce`].
pub const MAX_NONCE_LEN: usize = 64;

/// Which PayPal environment the service talks to; bound because it changes what an account id means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// `www.paypal.com` / `api-m.paypal.com`.
    Live,
    /// `www.sandbox.paypal.com` / `api-m.sandbox.paypal.com`.
    Sandbox,
}

impl Environment {
    /// The lowercase name used in claims, metadata and the binding.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Sandbox => "sandbox",
        }
    }

    /// Parses `live` or `sandbox` (exactly; no case folding).
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "live" => Some(Environment::Live),
            "sandbox" => Some(Environment::Sandbox),
            _ => None,
        }
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity of one running service: what every report of this boot binds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceIdentity {
    /// PayPal client id (public; chosen by the operator through metadata).
    pub client_id: String,
    /// PayPal environment.
    pub environment: Environment,
    /// The public DNS name the service answers on (lowercase).
    pub domain: String,
    /// RFC 7638 SHA-256 thumbprint of the page-signing public key.
    pub signing_key_thumbprint: [u8; 32],
    /// SHA-256 of the DER SubjectPublicKeyInfo of the TLS key.
    pub tls_key_sha256: [u8; 32],
}

/// What else a particular report binds besides the [`ServiceIdentity`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose<'a> {
    /// A result page: SHA-256 of the JWS payload bytes (the decoded payload, exactly as signed).
    Page([u8; 32]),
    /// A verifier's challenge to `/attestation`: 1 to [`MAX_NONCE_LEN`] bytes.
    Nonce(&'a [u8]),
    /// The report taken at boot, binding only the service identity.
    Boot,
}

/// Why a binding could not be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BindingError {
    /// The nonce was empty or longer than [`MAX_NONCE_LEN`].
    NonceLength(usize),
}

impl std::fmt::Display for BindingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BindingError::NonceLength(n) => {
                write!(f, "nonce must be 1 to {MAX_NONCE_LEN} bytes, got {n}")
            }
        }
    }
}

impl std::error::Error for BindingError {}

/// Field tags, in the order they are hashed.
mod tag {
    pub const CLIENT_ID: u8 = 1;
    pub const ENVIRONMENT: u8 = 2;
    pub const DOMAIN: u8 = 3;
    pub const SIGNING_KEY: u8 = 4;
    pub const TLS_KEY: u8 = 5;
    pub const PURPOSE: u8 = 6;
    pub const VALUE: u8 = 7;
}

/// The one-byte purpose codes of field 6.
pub mod purpose_code {
    /// [`super::Purpose::Page`].
    pub const PAGE: u8 = 1;
    /// [`super::Purpose::Nonce`].
    pub const NONCE: u8 = 2;
    /// [`super::Purpose::Boot`].
    pub const BOOT: u8 = 3;
}

fn field(hash: &mut Sha512, tag: u8, bytes: &[u8]) {
    // Lengths are bounded by the callers (nonce) or by the metadata parser; a length that does not
    // fit u32 cannot occur, and saturating keeps this total without a panic path.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    hash.update([tag]);
    hash.update(len.to_be_bytes());
    hash.update(bytes);
}

/// Computes the 64-byte `REPORT_DATA` for `identity` and `purpose`.
pub fn report_data(identity: &ServiceIdentity, purpose: Purpose<'_>) -> Result<[u8; 64], BindingError> {
    let (code, value): (u8, &[u8]) = match &purpose {
        Purpose::Page(digest) => (purpose_code::PAGE, digest.as_slice()),
        Purpose::Nonce(nonce) => {
            if nonce.is_empty() || nonce.len() > MAX_NONCE_LEN {
                return Err(BindingError::NonceLength(nonce.len()));
            }
            (purpose_code::NONCE, nonce)
        }
        Purpose::Boot => (purpose_code::BOOT, &[]),
    };
    let mut hash = Sha512::new();
    hash.update(DOMAIN);
    field(&mut hash, tag::CLIENT_ID, identity.client_id.as_bytes());
    field(&mut hash, tag::ENVIRONMENT, identity.environment.as_str().as_bytes());
    field(&mut hash, tag::DOMAIN, identity.domain.as_bytes());
    field(&mut hash, tag::SIGNING_KEY, &identity.signing_key_thumbprint);
    field(&mut hash, tag::TLS_KEY, &identity.tls_key_sha256);
    field(&mut hash, tag::PURPOSE, &[code]);
    field(&mut hash, tag::VALUE, value);
    Ok(hash.finalize().into())
}

/// SHA-256 of a JWS payload, the value a [`Purpose::Page`] binds.
pub fn page_digest(payload: &[u8]) -> [u8; 32] {
    Sha256::digest(payload).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The identity used by the test vectors in docs/attestation.md.
    fn vector_identity() -> ServiceIdentity {
        ServiceIdentity {
            client_id: "AYSq3RDGsmBLJE-otTkBtM-jBRd1TCQwFf9RGfwddNXWz0uFU9ztymylOhRS".into(),
            environment: Environment::Sandbox,
            domain: "auth.example.com".into(),
            signing_key_thumbprint: [0x11; 32],
            tls_key_sha256: [0x22; 32],
        }
    }

    #[test]
    fn vectors_match_the_spec() {
        let id = vector_identity();
        assert_eq!(
            hex(&report_data(&id, Purpose::Boot).unwrap()),
            include_str!("../testdata/vector-boot.hex").trim()
        );
        assert_eq!(
            hex(&report_data(&id, Purpose::Page([0x33; 32])).unwrap()),
            include_str!("../testdata/vector-page.hex").trim()
        );
        assert_eq!(
            hex(&report_data(&id, Purpose::Nonce(b"verifier-nonce-0001")).unwrap()),
            include_str!("../testdata/vector-nonce.hex").trim()
        );
    }

    #[test]
    fn every_input_changes_the_output() {
        let base = vector_identity();
        let reference = report_data(&base, Purpose::Boot).unwrap();
        let mut variants = Vec::new();
        let mut v = base.clone();
        v.client_id.push('x');
        variants.push(v);
        let mut v = base.clone();
        v.environment = Environment::Live;
        variants.push(v);
        let mut v = base.clone();
        v.domain = "auth.example.org".into();
        variants.push(v);
        let mut v = base.clone();
        v.signing_key_thumbprint[0] ^= 1;
        variants.push(v);
        let mut v = base.clone();
        v.tls_key_sha256[31] ^= 1;
        variants.push(v);
        for v in variants {
            assert_ne!(report_data(&v, Purpose::Boot).unwrap(), reference);
        }
        assert_ne!(report_data(&base, Purpose::Page([0; 32])).unwrap(), reference);
        assert_ne!(
            report_data(&base, Purpose::Page([0; 32])).unwrap(),
            report_data(&base, Purpose::Page([1; 32])).unwrap()
        );
    }

    #[test]
    fn length_prefixes_prevent_field_shifting() {
        // Moving a byte from one field to the next must change the hash.
        let mut a = vector_identity();
        a.client_id = "abc".into();
        a.domain = "def".into();
        let mut b = a.clone();
        b.client_id = "abcd".into();
        b.domain = "ef".into();
        assert_ne!(report_data(&a, Purpose::Boot).unwrap(), report_data(&b, Purpose::Boot).unwrap());
    }

    #[test]
    fn nonce_length_is_bounded() {
        let id = vector_identity();
        assert_eq!(report_data(&id, Purpose::Nonce(&[])), Err(BindingError::NonceLength(0)));
        assert!(report_data(&id, Purpose::Nonce(&[7; 64])).is_ok());
        assert_eq!(report_data(&id, Purpose::Nonce(&[7; 65])), Err(BindingError::NonceLength(65)));
    }
}
