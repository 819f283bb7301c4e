//! TLS for the public listener: the boot-time key, the certificate store that is swapped
//! atomically on renewal, and the rustls server configuration.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};

/// Why a TLS object could not be built.
#[derive(Debug)]
pub enum TlsError {
    /// Key generation or certificate creation failed (rcgen).
    Generate(String),
    /// rustls refused the key or configuration.
    Rustls(String),
}

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsError::Generate(what) => write!(f, "TLS key or certificate generation: {what}"),
            TlsError::Rustls(what) => write!(f, "TLS configuration: {what}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// The one crypto provider the service uses, installed explicitly.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS key of this boot: ECDSA P-256, generated in RAM, kept across renewals so the hash
/// bound in attestation reports stays valid for the whole boot.
pub struct TlsKey {
    key: rcgen::KeyPair,
    spki_sha256: [u8; 32],
}

impl TlsKey {
    /// Generates a fresh key.
    pub fn generate() -> Result<Self, TlsError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| TlsError::Generate(e.to_string()))?;
        let spki_sha256 = Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&key)).into();
        Ok(TlsKey { key, spki_sha256 })
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo: what `REPORT_DATA` binds.
    pub fn spki_sha256(&self) -> [u8; 32] {
        self.spki_sha256
    }

    /// The rcgen key pair, for CSRs and self-signed certificates.
    pub fn key_pair(&self) -> &rcgen::KeyPair {
        &self.key
    }

    /// A rustls certified key for `chain` (leaf first) with this key.
    pub fn certified(&self, chain: Vec<CertificateDer<'static>>) -> Result<Arc<CertifiedKey>, TlsError> {
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key.serialize_der()));
        let signing = provider().key_provider.load_private_key(der).map_err(|e| TlsError::Rustls(e.to_string()))?;
        Ok(Arc::new(CertifiedKey::new(chain, signing)))
    }

    /// A self-signed certificate for `domain` (local runs only; pages say so).
    pub fn self_signed(&self, domain: &str) -> Result<Arc<CertifiedKey>, TlsError> {
        let mut names = vec![domain.to_string()];
        if domain != "localhost" {
            names.push("localhost".into());
        }
        names.push("127.0.0.1".into());
        let params = rcgen::CertificateParams::new(names).map_err(|e| TlsError::Generate(e.to_string()))?;
        let cert = params.self_signed(&self.key).map_err(|e| TlsError::Generate(e.to_string()))?;
        self.certified(vec![cert.der().clone()])
    }
}

impl std::fmt::Debug for TlsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsKey").field("spki_sha256", &crate::crypto::hex(&self.spki_sha256)).finish()
    }
}

/// The certificate currently served. Renewal swaps it; handshakes in progress keep the `Arc`
/// they took, so existing connections are untouched.
#[derive(Debug, Default)]
pub struct CertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CertStore {
    /// An empty store (handshakes fail until a certificate is set).
    pub fn new() -> Arc<Self> {
        Arc::new(CertStore::default())
    }

    /// Replaces the served certificate.
    pub fn set(&self, key: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key);
    }

    /// The served certificate, if any.
    pub fn get(&self) -> Option<Arc<CertifiedKey>> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.get()
    }
}

/// The rustls server configuration: TLS 1.2 and 1.3, ALPN h2 and http/1.1, certificates from `store`.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
