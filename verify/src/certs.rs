//! AMD's certificate chain: pinned ARK/ASK/ASVK, RSASSA-PSS links, and the VCEK/VLEK leaf.
//!
//! The roots for Milan, Genoa and Turin are compiled in (`verify/roots/<product>/*.pem`, copied
//! from AMD KDS via the sources listed in `verify/roots/README.md`). Every certificate signature
//! is checked over the `tbsCertificate` bytes exactly as they appear in the input, and must be
//! RSASSA-PSS with SHA-384, MGF1-SHA-384 and a 48-byte salt (AMD's only scheme). The leaf's
//! P-384 key then checks the report signature over the report's raw bytes 0x000–0x29F.

use crate::report::{Product, RawTcb, Report, SigningKey, Tcb};
use const_oid::ObjectIdentifier;
use der::{Decode, Encode, Reader};
use sha2::{Digest, Sha384};
use std::fmt;
use x509_cert::Certificate;

const OID_RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// AMD's VCEK/VLEK extension OIDs (KDS spec, pub. 57230), prefix 1.3.6.1.4.1.3704.1.
pub mod ext {
    use const_oid::ObjectIdentifier;
    /// structVersion INTEGER.
    pub const STRUCT_VERSION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.1");
    /// productName IA5String.
    pub const PRODUCT_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.2");
    /// blSPL INTEGER.
    pub const BL_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
    /// teeSPL INTEGER.
    pub const TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
    /// snpSPL INTEGER.
    pub const SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
    /// ucodeSPL INTEGER.
    pub const UCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
    /// fmcSPL INTEGER (Turin and later).
    pub const FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
    /// hwID: raw octets (64 bytes, 8 on Turin), VCEK only.
    pub const HWID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
    /// CSP_ID IA5String, VLEK only.
    pub const CSP_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.5");
}

/// Which certificate of the chain a failure is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Role {
    /// AMD Root Key.
    Ark,
    /// AMD SEV Key (signs VCEKs).
    Ask,
    /// AMD SEV VLEK Key (signs VLEKs).
    Asvk,
    /// Versioned Chip Endorsement Key.
    Vcek,
    /// Versioned Loaded Endorsement Key.
    Vlek,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Ark => "ARK",
            Role::Ask => "ASK",
            Role::Asvk => "ASVK",
            Role::Vcek => "VCEK",
            Role::Vlek => "VLEK",
        })
    }
}

/// Why a certificate or the chain did not check out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChainError {
    /// The bytes are neither a DER certificate nor a PEM `CERTIFICATE`.
    Decode(Role),
    /// The certificate's signature algorithm is not RSASSA-PSS/SHA-384/MGF1-SHA-384/salt 48.
    SignatureAlgorithm(Role),
    /// The issuer's key is not an RSA key.
    IssuerKey(Role),
    /// The certificate's signature does not verify under its issuer's key.
    Signature {
        /// The certificate whose signature failed.
        role: Role,
        /// The issuer tried.
        issuer: Role,
        /// The product whose pinned issuer was tried.
        product: Product,
    },
    /// The certificate is not valid yet at the verification time.
    NotYetValid {
        /// Which certificate.
        role: Role,
        /// notBefore, seconds since the epoch.
        not_before: i64,
        /// The verification time.
        at: i64,
    },
    /// The certificate has expired at the verification time.
    Expired {
        /// Which certificate.
        role: Role,
        /// notAfter, seconds since the epoch.
        not_after: i64,
        /// The verification time.
        at: i64,
    },
    /// The leaf's subject CN is not what `KEY_INFO.SIGNING_KEY` requires.
    LeafKind {
        /// `SEV-VCEK` or `SEV-VLEK`.
        expected: &'static str,
        /// The CN found.
        found: String,
    },
    /// The leaf's key is not an EC P-384 key.
    LeafKey,
    /// `KEY_INFO.SIGNING_KEY` says the report is unsigned (7) or uses a reserved value.
    Unsigned(SigningKey),
    /// The report signature does not verify under the leaf key.
    ReportSignature,
    /// A VCEK/VLEK extension is malformed.
    Extension(&'static str),
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainError::Decode(r) => write!(f, "{r} certificate is neither DER nor PEM"),
            ChainError::SignatureAlgorithm(r) => {
                write!(f, "{r} certificate is not signed with RSASSA-PSS SHA-384 (MGF1-SHA-384, salt 48)")
            }
            ChainError::IssuerKey(r) => write!(f, "issuer of the {r} certificate has no RSA key"),
            ChainError::Signature { role, issuer, product } => {
                write!(f, "{role} certificate is not signed by the pinned {product} {issuer}")
            }
            ChainError::NotYetValid { role, not_before, at } => write!(
                f,
                "{role} certificate is not valid before {} (checked at {})",
                crate::time::format_rfc3339(*not_before),
                crate::time::format_rfc3339(*at)
            ),
            ChainError::Expired { role, not_after, at } => write!(
                f,
                "{role} certificate expired at {} (checked at {}; pass --at to check at another time)",
                crate::time::format_rfc3339(*not_after),
                crate::time::format_rfc3339(*at)
            ),
            ChainError::LeafKind { expected, found } => {
                write!(f, "report KEY_INFO requires a {expected} certificate, got CN {found:?}")
            }
            ChainError::LeafKey => f.write_str("VCEK/VLEK key is not EC P-384"),
            ChainError::Unsigned(k) => {
                write!(f, "report KEY_INFO.SIGNING_KEY is {k:?}: the report is not signed by a VCEK or VLEK")
            }
            ChainError::ReportSignature => {
                f.write_str("report signature (bytes 0x000-0x29F) does not verify under the VCEK/VLEK")
            }
            ChainError::Extension(what) => write!(f, "VCEK/VLEK extension {what} is malformed"),
        }
    }
}

impl std::error::Error for ChainError {}

/// One certificate, its DER as received and the parsed form.
#[derive(Clone, Debug)]
pub struct Cert {
    der: Vec<u8>,
    parsed: Certificate,
}

impl Cert {
    /// Parses DER, or PEM with a `CERTIFICATE` label.
    pub fn parse(bytes: &[u8], role: Role) -> Result<Cert, ChainError> {
        let start = bytes.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(bytes.len());
        let der = if bytes[start..].starts_with(b"-----BEGIN ") {
            let (label, der) = der::pem::decode_vec(&bytes[start..]).map_err(|_| ChainError::Decode(role))?;
            if label != "CERTIFICATE" {
                return Err(ChainError::Decode(role));
            }
            der
        } else {
            bytes.to_vec()
        };
        let parsed = Certificate::from_der(&der).map_err(|_| ChainError::Decode(role))?;
        Ok(Cert { der, parsed })
    }

    /// The DER bytes as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed certificate.
    pub fn parsed(&self) -> &Certificate {
        &self.parsed
    }

    /// The `tbsCertificate` TLV exactly as it appears in [`Cert::der`].
    fn tbs_bytes(&self) -> Option<&[u8]> {
        let mut outer = der::SliceReader::new(&self.der).ok()?;
        let header = der::Header::decode(&mut outer).ok()?;
        let body = outer.read_slice(header.length).ok()?;
        let mut inner = der::SliceReader::new(body).ok()?;
        inner.tlv_bytes().ok()
    }

    /// The subject common name, if any.
    pub fn subject_cn(&self) -> Option<String> {
        for rdn in self.parsed.tbs_certificate.subject.0.iter() {
            for atv in rdn.0.iter() {
                if atv.oid == OID_CN {
                    if let Ok(s) = der::asn1::Utf8StringRef::try_from(&atv.value) {
                        return Some(s.as_str().to_owned());
                    }
                    if let Ok(s) = der::asn1::PrintableStringRef::try_from(&atv.value) {
                        return Some(s.as_str().to_owned());
                    }
                    if let Ok(s) = der::asn1::Ia5StringRef::try_from(&atv.value) {
                        return Some(s.as_str().to_owned());
                    }
                }
            }
        }
        None
    }

    /// notBefore and notAfter in seconds since the epoch.
    pub fn validity(&self) -> (i64, i64) {
        let v = &self.parsed.tbs_certificate.validity;
        let secs = |t: &x509_cert::time::Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
        (secs(&v.not_before), secs(&v.not_after))
    }

    /// Checks validity at `at` (seconds since the epoch).
    pub fn check_validity(&self, role: Role, at: i64) -> Result<(), ChainError> {
        let (not_before, not_after) = self.validity();
        if at < not_before {
            return Err(ChainError::NotYetValid { role, not_before, at });
        }
        if at > not_after {
            return Err(ChainError::Expired { role, not_after, at });
        }
        Ok(())
    }

    fn rsa_key(&self, role: Role) -> Result<rsa::RsaPublicKey, ChainError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        let spki = &self.parsed.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != OID_RSA {
            return Err(ChainError::IssuerKey(role));
        }
        let bits = spki.subject_public_key.as_bytes().ok_or(ChainError::IssuerKey(role))?;
        rsa::RsaPublicKey::from_pkcs1_der(bits).map_err(|_| ChainError::IssuerKey(role))
    }

    /// Checks that this certificate (in `role`) is signed by `issuer` with AMD's PSS scheme.
    pub fn check_signed_by(&self, role: Role, issuer: &Cert, issuer_role: Role, product: Product) -> Result<(), ChainError> {
        check_pss_algorithm(&self.parsed.signature_algorithm).ok_or(ChainError::SignatureAlgorithm(role))?;
        // The inner and outer algorithm identifiers must agree (RFC 5280 4.1.1.2).
        if self.parsed.tbs_certificate.signature != self.parsed.signature_algorithm {
            return Err(ChainError::SignatureAlgorithm(role));
        }
        let key = issuer.rsa_key(issuer_role)?;
        let tbs = self.tbs_bytes().ok_or(ChainError::Decode(role))?;
        let sig = self.parsed.signature.as_bytes().ok_or(ChainError::Decode(role))?;
        let hashed = Sha384::digest(tbs);
        key.verify(rsa::Pss::new_with_salt::<Sha384>(48), &hashed, sig).map_err(|_| ChainError::Signature {
            role,
            issuer: issuer_role,
            product,
        })
    }

    /// The leaf's P-384 verifying key.
    pub fn p384_key(&self) -> Result<p384::ecdsa::VerifyingKey, ChainError> {
        let spki = &self.parsed.tbs_certificate.subject_public_key_info;
        if spki.algorithm.oid != OID_EC_PUBLIC_KEY {
            return Err(ChainError::LeafKey);
        }
        let curve =
            spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok()).ok_or(ChainError::LeafKey)?;
        if curve != OID_SECP384R1 {
            return Err(ChainError::LeafKey);
        }
        let point = spki.subject_public_key.as_bytes().ok_or(ChainError::LeafKey)?;
        p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| ChainError::LeafKey)
    }

    fn extension(&self, oid: ObjectIdentifier) -> Option<&[u8]> {
        self.parsed.tbs_certificate.extensions.as_ref()?.iter().find(|e| e.extn_id == oid).map(|e| e.extn_value.as_bytes())
    }
}

/// `RSASSA-PSS-params` must name SHA-384, MGF1 with SHA-384, salt 48, trailer 1.
fn check_pss_algorithm(alg: &x509_cert::spki::AlgorithmIdentifierOwned) -> Option<()> {
    if alg.oid != OID_RSA_PSS {
        return None;
    }
    let params_der = alg.parameters.as_ref()?.to_der().ok()?;
    let params = rsa::pkcs1::RsaPssParams::from_der(&params_der).ok()?;
    let mgf_hash = params.mask_gen.parameters.as_ref()?.oid;
    (params.hash.oid == OID_SHA384
        && params.mask_gen.oid == OID_MGF1
        && mgf_hash == OID_SHA384
        && params.salt_len == 48
        && params.trailer_field == rsa::pkcs1::TrailerField::BC)
        .then_some(())
}

/// The compiled-in AMD certificates for one product.
#[derive(Clone, Debug)]
pub struct Roots {
    /// Which product.
    pub product: Product,
    /// ARK (self-signed root).
    pub ark: Cert,
    /// ASK (issues VCEKs).
    pub ask: Cert,
    /// ASVK (issues VLEKs).
    pub asvk: Cert,
}

const ROOT_PEMS: [(Product, &str, &str, &str); 3] = [
    (
        Product::Milan,
        include_str!("../roots/milan/ark.pem"),
        include_str!("../roots/milan/ask.pem"),
        include_str!("../roots/milan/asvk.pem"),
    ),
    (
        Product::Genoa,
        include_str!("../roots/genoa/ark.pem"),
        include_str!("../roots/genoa/ask.pem"),
        include_str!("../roots/genoa/asvk.pem"),
    ),
    (
        Product::Turin,
        include_str!("../roots/turin/ark.pem"),
        include_str!("../roots/turin/ask.pem"),
        include_str!("../roots/turin/asvk.pem"),
    ),
];

impl Roots {
    /// The pinned roots of `product`. The PEMs are compiled in and covered by tests, so a decode
    /// failure here would be a build defect; it is still reported, not panicked on.
    pub fn pinned(product: Product) -> Result<Roots, ChainError> {
        let (_, ark, ask, asvk) = ROOT_PEMS.iter().find(|r| r.0 == product).copied().unwrap_or(ROOT_PEMS[0]);
        Ok(Roots {
            product,
            ark: Cert::parse(ark.as_bytes(), Role::Ark)?,
            ask: Cert::parse(ask.as_bytes(), Role::Ask)?,
            asvk: Cert::parse(asvk.as_bytes(), Role::Asvk)?,
        })
    }

    /// ARK self-signature, and the intermediate `role` (ASK or ASVK) under the ARK.
    pub fn check_intermediate(&self, role: Role) -> Result<&Cert, ChainError> {
        self.ark.check_signed_by(Role::Ark, &self.ark, Role::Ark, self.product)?;
        let inter = if role == Role::Asvk { &self.asvk } else { &self.ask };
        inter.check_signed_by(role, &self.ark, Role::Ark, self.product)?;
        Ok(inter)
    }
}

/// The AMD extensions of a VCEK or VLEK.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LeafExtensions {
    /// structVersion (0 Milan/Genoa, 1 Turin).
    pub struct_version: Option<u64>,
    /// productName, e.g. `Milan-B0`, `Genoa`, `Turin`.
    pub product_name: Option<String>,
    /// blSPL.
    pub bootloader: Option<u8>,
    /// teeSPL.
    pub tee: Option<u8>,
    /// snpSPL.
    pub snp: Option<u8>,
    /// ucodeSPL.
    pub microcode: Option<u8>,
    /// fmcSPL (Turin).
    pub fmc: Option<u8>,
    /// hwID (VCEK).
    #[serde(skip)]
    pub hwid: Option<Vec<u8>>,
    /// CSP_ID (VLEK).
    pub csp_id: Option<String>,
}

impl LeafExtensions {
    /// Reads the AMD extensions of `cert`.
    pub fn read(cert: &Cert) -> Result<LeafExtensions, ChainError> {
        let int = |oid, name: &'static str| -> Result<Option<u64>, ChainError> {
            match cert.extension(oid) {
                None => Ok(None),
                Some(v) => der::asn1::Uint::from_der(v)
                    .ok()
                    .and_then(|u| {
                        let b = u.as_bytes();
                        (b.len() <= 8).then(|| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
                    })
                    .map(Some)
                    .ok_or(ChainError::Extension(name)),
            }
        };
        let spl = |oid, name: &'static str| -> Result<Option<u8>, ChainError> {
            match int(oid, name)? {
                None => Ok(None),
                Some(v) => u8::try_from(v).map(Some).map_err(|_| ChainError::Extension(name)),
            }
        };
        let ia5 = |oid, name: &'static str| -> Result<Option<String>, ChainError> {
            match cert.extension(oid) {
                None => Ok(None),
                Some(v) => der::asn1::Ia5StringRef::from_der(v)
                    .map(|s| Some(s.as_str().to_owned()))
                    .map_err(|_| ChainError::Extension(name)),
            }
        };
        Ok(LeafExtensions {
            struct_version: int(ext::STRUCT_VERSION, "structVersion")?,
            product_name: ia5(ext::PRODUCT_NAME, "productName")?,
            bootloader: spl(ext::BL_SPL, "blSPL")?,
            tee: spl(ext::TEE_SPL, "teeSPL")?,
            snp: spl(ext::SNP_SPL, "snpSPL")?,
            microcode: spl(ext::UCODE_SPL, "ucodeSPL")?,
            fmc: spl(ext::FMC_SPL, "fmcSPL")?,
            hwid: cert.extension(ext::HWID).map(<[u8]>::to_vec),
            csp_id: ia5(ext::CSP_ID, "CSP_ID")?,
        })
    }

    /// The product `productName` names (`Milan-B0` → Milan).
    pub fn product(&self) -> Option<Product> {
        let name = self.product_name.as_deref()?;
        Product::parse(name.split('-').next().unwrap_or(name))
    }

    /// The certified TCB, if all SPLs the layout needs are present.
    pub fn tcb(&self, product: Product) -> Option<Tcb> {
        let fmc = match product {
            Product::Turin => Some(self.fmc?),
            _ => None,
        };
        Some(Tcb { fmc, bootloader: self.bootloader?, tee: self.tee?, snp: self.snp?, microcode: self.microcode? })
    }
}

/// Why the leaf's extensions do not match the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LeafBindingError {
    /// A TCB SPL extension is missing.
    MissingTcb,
    /// The certified TCB differs from `REPORTED_TCB`.
    Tcb {
        /// From the certificate.
        certified: Tcb,
        /// From the report.
        reported: Tcb,
    },
    /// A VCEK without the hwID extension.
    MissingHwid,
    /// The report's `CHIP_ID` is masked, so a VCEK cannot be matched to it.
    ChipIdMasked,
    /// hwID differs from `CHIP_ID`.
    ChipId,
}

impl fmt::Display for LeafBindingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LeafBindingError::MissingTcb => f.write_str("VCEK/VLEK lacks a TCB SPL extension"),
            LeafBindingError::Tcb { certified, reported } => {
                write!(f, "certificate TCB ({certified}) differs from REPORTED_TCB ({reported})")
            }
            LeafBindingError::MissingHwid => f.write_str("VCEK has no hwID extension"),
            LeafBindingError::ChipIdMasked => f.write_str("report CHIP_ID is masked; a VCEK cannot be matched to it"),
            LeafBindingError::ChipId => f.write_str("VCEK hwID differs from the report's CHIP_ID (mismatched VCEK)"),
        }
    }
}

impl std::error::Error for LeafBindingError {}

/// Checks the leaf's TCB extensions against `REPORTED_TCB` under `product`'s layout.
pub fn check_tcb(ext: &LeafExtensions, reported: RawTcb, product: Product) -> Result<Tcb, LeafBindingError> {
    let certified = ext.tcb(product).ok_or(LeafBindingError::MissingTcb)?;
    let reported = reported.decode(product.tcb_layout());
    if certified != reported {
        return Err(LeafBindingError::Tcb { certified, reported });
    }
    Ok(reported)
}

/// Checks a VCEK's hwID against `CHIP_ID` (the first 8 bytes on Turin, the rest then zero).
pub fn check_chip_id(ext: &LeafExtensions, report: &Report, product: Product) -> Result<(), LeafBindingError> {
    let hwid = ext.hwid.as_deref().ok_or(LeafBindingError::MissingHwid)?;
    if report.chip_id_masked() {
        return Err(LeafBindingError::ChipIdMasked);
    }
    let n = product.chip_id_len();
    if hwid.len() != n || hwid != &report.chip_id[..n] || report.chip_id[n..].iter().any(|&b| b != 0) {
        return Err(LeafBindingError::ChipId);
    }
    Ok(())
}

/// Which intermediate and leaf kind `KEY_INFO.SIGNING_KEY` requires.
pub fn expected_chain(key: SigningKey) -> Result<(Role, Role, &'static str), ChainError> {
    match key {
        SigningKey::Vcek => Ok((Role::Ask, Role::Vcek, "SEV-VCEK")),
        SigningKey::Vlek => Ok((Role::Asvk, Role::Vlek, "SEV-VLEK")),
        other => Err(ChainError::Unsigned(other)),
    }
}

/// Checks the report signature over the raw bytes 0x000–0x29F under the leaf's key.
pub fn check_report_signature(leaf: &Cert, report: &Report) -> Result<(), ChainError> {
    use p384::ecdsa::signature::hazmat::PrehashVerifier;
    let key = leaf.p384_key()?;
    let sig = p384::ecdsa::Signature::from_slice(&report.signature_be()).map_err(|_| ChainError::ReportSignature)?;
    let digest = Sha384::digest(report.signed_bytes());
    key.verify_prehash(&digest, &sig).map_err(|_| ChainError::ReportSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_roots_verify_and_do_not_cross() {
        for p in Product::ALL {
            let roots = Roots::pinned(p).unwrap();
            roots.check_intermediate(Role::Ask).unwrap();
            roots.check_intermediate(Role::Asvk).unwrap();
            assert_eq!(roots.ark.subject_cn().unwrap(), format!("ARK-{}", p.kds_name()));
            assert_eq!(roots.ask.subject_cn().unwrap(), format!("SEV-{}", p.kds_name()));
            assert_eq!(roots.asvk.subject_cn().unwrap(), format!("SEV-VLEK-{}", p.kds_name()));
        }
        let milan = Roots::pinned(Product::Milan).unwrap();
        let genoa = Roots::pinned(Product::Genoa).unwrap();
        assert!(matches!(
            milan.ask.check_signed_by(Role::Ask, &genoa.ark, Role::Ark, Product::Genoa),
            Err(ChainError::Signature { .. })
        ));
    }
}
