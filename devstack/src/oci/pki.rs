//! The stand-in's PKI: a CA, an intermediate, instance leaf certificates (RSA-2048, subject
//! `OU=opc-instance:<id>, OU=opc-compartment:<id>, OU=opc-tenant:<tenancy>` like Oracle's), and
//! the chain check the auth stand-in applies to what a client presents.

use rcgen::{CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, PKCS_RSA_SHA256};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePublicKey as _, EncodePrivateKey as _};
use rustls_pki_types::PrivatePkcs8KeyDer;
use x509_parser::prelude::*;

/// The CA, the intermediate and the current leaf.
pub struct Pki {
    /// Stand-in root CA certificate (PEM).
    pub ca_pem: String,
    ca_der: Vec<u8>,
    /// Intermediate certificate (PEM), as IMDS serves it.
    pub intermediate_pem: String,
    intermediate_der: Vec<u8>,
    intermediate_issuer: Issuer<'static, KeyPair>,
    /// Current leaf certificate (PEM).
    pub leaf_pem: String,
    /// Current leaf key, PKCS#1 PEM (`BEGIN RSA PRIVATE KEY`, as IMDS has been seen to serve).
    pub leaf_key_pem: String,
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
    p
}

impl Pki {
    /// Generates a CA, an intermediate and a first leaf for `instance_id` in `tenancy`.
    pub fn generate(tenancy: &str, instance_id: &str) -> Result<Pki, String> {
        let e = |what: &str, err: &dyn std::fmt::Display| format!("stand-in PKI: {what}: {err}");
        let ca_key = KeyPair::generate().map_err(|x| e("CA key", &x))?;
        let root_params = ca_params("OCI stand-in root CA");
        let ca_cert = root_params.self_signed(&ca_key).map_err(|x| e("CA", &x))?;
        let ca_issuer = Issuer::new(root_params, ca_key);
        let int_key = KeyPair::generate().map_err(|x| e("intermediate key", &x))?;
        let int_params = ca_params("OCI stand-in PKISVC intermediate");
        let int_cert = int_params.signed_by(&int_key, &ca_issuer).map_err(|x| e("intermediate", &x))?;
        let mut pki = Pki {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().to_vec(),
            intermediate_pem: int_cert.pem(),
            intermediate_der: int_cert.der().to_vec(),
            intermediate_issuer: Issuer::new(int_params, int_key),
            leaf_pem: String::new(),
            leaf_key_pem: String::new(),
        };
        pki.rotate_leaf(tenancy, instance_id)?;
        Ok(pki)
    }

    /// Issues a new leaf with a new key (Oracle rotates them several times a day).
    pub fn rotate_leaf(&mut self, tenancy: &str, instance_id: &str) -> Result<(), String> {
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| format!("leaf key: {e}"))?;
        let pkcs8 = key.to_pkcs8_der().map_err(|e| format!("leaf key: {e}"))?;
        let key_pair = KeyPair::from_pkcs8_der_and_sign_algo(&PrivatePkcs8KeyDer::from(pkcs8.as_bytes()), &PKCS_RSA_SHA256).map_err(|e| format!("leaf key: {e}"))?;
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, instance_id);
        dn.push(DnType::OrganizationalUnitName, format!("opc-instance:{instance_id}"));
        dn.push(DnType::OrganizationalUnitName, "opc-compartment:ocid1.compartment.oc1..standin".to_string());
        dn.push(DnType::OrganizationalUnitName, format!("opc-tenant:{tenancy}"));
        params.distinguished_name = dn;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyAgreement];
        let cert = params.signed_by(&key_pair, &self.intermediate_issuer).map_err(|e| format!("leaf: {e}"))?;
        self.leaf_pem = cert.pem();
        self.leaf_key_pem = key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).map_err(|e| format!("leaf key: {e}"))?.to_string();
        Ok(())
    }

    /// Checks a presented leaf (DER) and intermediate (DER) against the stand-in CA and returns
    /// the leaf's tenancy and RSA public key.
    pub fn check_chain(&self, leaf_der: &[u8], intermediate_der: &[u8]) -> Result<(String, rsa::RsaPublicKey), String> {
        if intermediate_der != self.intermediate_der.as_slice() {
            return Err("intermediate certificate is not the stand-in's".into());
        }
        let (_, ca) = X509Certificate::from_der(&self.ca_der).map_err(|e| format!("CA: {e}"))?;
        let (_, int) = X509Certificate::from_der(intermediate_der).map_err(|_| "intermediate is not X.509".to_string())?;
        let (_, leaf) = X509Certificate::from_der(leaf_der).map_err(|_| "certificate is not X.509".to_string())?;
        int.verify_signature(Some(ca.public_key())).map_err(|_| "intermediate not signed by the stand-in CA".to_string())?;
        leaf.verify_signature(Some(int.public_key())).map_err(|_| "certificate not signed by the intermediate".to_string())?;
        if !leaf.validity().is_valid() {
            return Err("certificate is not valid now".into());
        }
        let mut tenancy = None;
        for ou in leaf.subject().iter_organizational_unit() {
            if let Some(t) = ou.as_str().ok().and_then(|s| s.strip_prefix("opc-tenant:")) {
                tenancy = Some(t.to_string());
            }
        }
        let tenancy = tenancy.ok_or("certificate has no opc-tenant")?;
        let public = rsa::RsaPublicKey::from_public_key_der(leaf.public_key().raw).map_err(|_| "certificate key is not RSA".to_string())?;
        Ok((tenancy, public))
    }
}

/// PEM → DER of the first block.
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem.lines().map(str::trim).filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}
