//! The SEV-SNP `ATTESTATION_REPORT` as plain typed Rust.
//!
//! Layout: AMD SEV-SNP Firmware ABI specification (pub. 56860), table "ATTESTATION_REPORT
//! Structure"; every offset below is written out explicitly. All integers are little-endian.
//! The parser keeps the bytes exactly as received: signatures are checked over
//! [`Report::signed_bytes`] (0x000–0x29F of the input), never over a re-serialisation.
//!
//! Versions 2, 3, 4 and 5 are accepted (4 is parsed like 3, as the public tools do); anything
//! else is refused because its layout is unknown. Reserved ranges must be zero for the version
//! at hand; `PLATFORM_INFO` bits this crate does not know are kept, not refused.

use std::fmt;

/// Size of a report in bytes (0x4A0).
pub const REPORT_LEN: usize = 0x4A0;
/// Number of leading bytes the signature covers (0x000–0x29F).
pub const SIGNED_LEN: usize = 0x2A0;

/// Byte offsets of every field (ABI spec table "ATTESTATION_REPORT Structure").
pub mod offset {
    /// `VERSION` (u32).
    pub const VERSION: usize = 0x000;
    /// `GUEST_SVN` (u32).
    pub const GUEST_SVN: usize = 0x004;
    /// `POLICY` (u64).
    pub const POLICY: usize = 0x008;
    /// `FAMILY_ID` (16 bytes).
    pub const FAMILY_ID: usize = 0x010;
    /// `IMAGE_ID` (16 bytes).
    pub const IMAGE_ID: usize = 0x020;
    /// `VMPL` (u32).
    pub const VMPL: usize = 0x030;
    /// `SIGNATURE_ALGO` (u32).
    pub const SIGNATURE_ALGO: usize = 0x034;
    /// `CURRENT_TCB` (8 bytes).
    pub const CURRENT_TCB: usize = 0x038;
    /// `PLATFORM_INFO` (u64).
    pub const PLATFORM_INFO: usize = 0x040;
    /// `KEY_INFO` (u32; called "flags" in older revisions).
    pub const KEY_INFO: usize = 0x048;
    /// Reserved, 4 bytes.
    pub const RESERVED_04C: usize = 0x04C;
    /// `REPORT_DATA` (64 bytes).
    pub const REPORT_DATA: usize = 0x050;
    /// `MEASUREMENT` (48 bytes).
    pub const MEASUREMENT: usize = 0x090;
    /// `HOST_DATA` (32 bytes).
    pub const HOST_DATA: usize = 0x0C0;
    /// `ID_KEY_DIGEST` (48 bytes).
    pub const ID_KEY_DIGEST: usize = 0x0E0;
    /// `AUTHOR_KEY_DIGEST` (48 bytes).
    pub const AUTHOR_KEY_DIGEST: usize = 0x110;
    /// `REPORT_ID` (32 bytes).
    pub const REPORT_ID: usize = 0x140;
    /// `REPORT_ID_MA` (32 bytes).
    pub const REPORT_ID_MA: usize = 0x160;
    /// `REPORTED_TCB` (8 bytes).
    pub const REPORTED_TCB: usize = 0x180;
    /// `CPUID_FAM_ID` (1 byte, v3+).
    pub const CPUID_FAM_ID: usize = 0x188;
    /// `CPUID_MOD_ID` (1 byte, v3+).
    pub const CPUID_MOD_ID: usize = 0x189;
    /// `CPUID_STEP` (1 byte, v3+).
    pub const CPUID_STEP: usize = 0x18A;
    /// Reserved up to `CHIP_ID` (from 0x188 in v2, 0x18B in v3+).
    pub const RESERVED_18B: usize = 0x18B;
    /// `CHIP_ID` (64 bytes).
    pub const CHIP_ID: usize = 0x1A0;
    /// `COMMITTED_TCB` (8 bytes).
    pub const COMMITTED_TCB: usize = 0x1E0;
    /// `CURRENT_BUILD`, `CURRENT_MINOR`, `CURRENT_MAJOR` (1 byte each), then 1 reserved.
    pub const CURRENT_VERSION: usize = 0x1E8;
    /// `COMMITTED_BUILD`, `COMMITTED_MINOR`, `COMMITTED_MAJOR`, then 1 reserved.
    pub const COMMITTED_VERSION: usize = 0x1EC;
    /// `LAUNCH_TCB` (8 bytes).
    pub const LAUNCH_TCB: usize = 0x1F0;
    /// `LAUNCH_MIT_VECTOR` (u64, v5+; reserved before).
    pub const LAUNCH_MIT_VECTOR: usize = 0x1F8;
    /// `CURRENT_MIT_VECTOR` (u64, v5+; reserved before).
    pub const CURRENT_MIT_VECTOR: usize = 0x200;
    /// Reserved up to the signature.
    pub const RESERVED_208: usize = 0x208;
    /// `SIGNATURE.R` (72 bytes, little-endian).
    pub const SIGNATURE_R: usize = 0x2A0;
    /// `SIGNATURE.S` (72 bytes, little-endian).
    pub const SIGNATURE_S: usize = 0x2E8;
    /// Reserved to the end.
    pub const RESERVED_330: usize = 0x330;
}

/// Why bytes are not a report this crate can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// The input is not exactly [`REPORT_LEN`] bytes.
    Length(usize),
    /// `VERSION` is not 2, 3, 4 or 5.
    UnsupportedVersion(u32),
    /// `SIGNATURE_ALGO` is not 1 (ECDSA P-384 with SHA-384).
    UnsupportedSignatureAlgorithm(u32),
    /// A reserved range holds a non-zero byte.
    ReservedNotZero {
        /// Name of the range, e.g. `"0x208..0x2A0"`.
        range: &'static str,
    },
    /// `KEY_INFO` has bits set that must be zero (bits 31:5).
    KeyInfoReservedBits(u32),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Length(n) => write!(f, "report is {n} bytes, expected {REPORT_LEN}"),
            ParseError::UnsupportedVersion(v) => write!(f, "report VERSION {v} is not 2, 3, 4 or 5"),
            ParseError::UnsupportedSignatureAlgorithm(a) => {
                write!(f, "report SIGNATURE_ALGO {a} is not 1 (ECDSA P-384 SHA-384)")
            }
            ParseError::ReservedNotZero { range } => write!(f, "report reserved bytes {range} are not zero"),
            ParseError::KeyInfoReservedBits(k) => write!(f, "report KEY_INFO {k:#x} has reserved bits set"),
        }
    }
}

impl std::error::Error for ParseError {}

/// An AMD EPYC generation, which fixes the TCB layout, the chip-id length and the AMD roots.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// Zen 3 (EPYC 7xx3).
    Milan,
    /// Zen 4 (EPYC 9xx4, also Bergamo and Siena).
    Genoa,
    /// Zen 5 (EPYC 9xx5).
    Turin,
}

impl Product {
    /// All products this verifier has roots for.
    pub const ALL: [Product; 3] = [Product::Milan, Product::Genoa, Product::Turin];

    /// The name AMD's KDS uses (`Milan`, `Genoa`, `Turin`).
    pub fn kds_name(self) -> &'static str {
        match self {
            Product::Milan => "Milan",
            Product::Genoa => "Genoa",
            Product::Turin => "Turin",
        }
    }

    /// Parses `milan`, `genoa` or `turin` (any case).
    pub fn parse(text: &str) -> Option<Product> {
        match text.to_ascii_lowercase().as_str() {
            "milan" => Some(Product::Milan),
            "genoa" => Some(Product::Genoa),
            "turin" => Some(Product::Turin),
            _ => None,
        }
    }

    /// The product from the CPUID family and model a v3+ report carries, if it is one of ours.
    pub fn from_cpuid(family: u8, model: u8) -> Option<Product> {
        match (family, model) {
            (0x19, 0x00..=0x0F) => Some(Product::Milan),
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => Some(Product::Genoa),
            (0x1A, 0x00..=0x11) => Some(Product::Turin),
            _ => None,
        }
    }

    /// The TCB_VERSION byte layout this product uses.
    pub fn tcb_layout(self) -> TcbLayout {
        match self {
            Product::Milan | Product::Genoa => TcbLayout::MilanGenoa,
            Product::Turin => TcbLayout::Turin,
        }
    }

    /// How many leading bytes of `CHIP_ID` identify the chip (64, or 8 on Turin).
    pub fn chip_id_len(self) -> usize {
        match self {
            Product::Milan | Product::Genoa => 64,
            Product::Turin => 8,
        }
    }
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kds_name())
    }
}

/// How the 8 bytes of a TCB_VERSION are laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcbLayout {
    /// Milan and Genoa: byte 0 BOOT_LOADER, 1 TEE, 2–5 reserved, 6 SNP, 7 MICROCODE.
    MilanGenoa,
    /// Turin: byte 0 FMC, 1 BOOT_LOADER, 2 TEE, 3 SNP, 4–6 reserved, 7 MICROCODE.
    Turin,
}

/// A TCB_VERSION as the 8 raw bytes of the report; decode it with [`RawTcb::decode`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RawTcb(pub [u8; 8]);

impl RawTcb {
    /// The security patch levels under `layout`.
    pub fn decode(self, layout: TcbLayout) -> Tcb {
        let b = self.0;
        match layout {
            TcbLayout::MilanGenoa => Tcb { fmc: None, bootloader: b[0], tee: b[1], snp: b[6], microcode: b[7] },
            TcbLayout::Turin => Tcb { fmc: Some(b[0]), bootloader: b[1], tee: b[2], snp: b[3], microcode: b[7] },
        }
    }

    /// Whether the bytes reserved under `layout` are zero.
    pub fn reserved_zero(self, layout: TcbLayout) -> bool {
        let b = self.0;
        match layout {
            TcbLayout::MilanGenoa => b[2..6].iter().all(|&x| x == 0),
            TcbLayout::Turin => b[4..7].iter().all(|&x| x == 0),
        }
    }

    /// Lowercase hex of the 8 bytes in report order.
    pub fn hex(self) -> String {
        crate::hex(&self.0)
    }
}

/// Decoded security patch levels (SPLs) of one TCB_VERSION. Compare component-wise, never as a
/// single integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Tcb {
    /// FMC SPL (Turin and later only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fmc: Option<u8>,
    /// Boot loader SPL.
    pub bootloader: u8,
    /// TEE (PSP OS) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Microcode SPL.
    pub microcode: u8,
}

impl fmt::Display for Tcb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(fmc) = self.fmc {
            write!(f, "fmc {fmc}, ")?;
        }
        write!(f, "bl {}, tee {}, snp {}, ucode {}", self.bootloader, self.tee, self.snp, self.microcode)
    }
}

/// `POLICY`: what the guest owner allowed at launch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GuestPolicy(pub u64);

impl GuestPolicy {
    /// Bit 16: SMT allowed.
    pub const SMT: u64 = 1 << 16;
    /// Bit 17: reserved, must be one.
    pub const RESERVED_ONE: u64 = 1 << 17;
    /// Bit 18: association with a migration agent allowed.
    pub const MIGRATE_MA: u64 = 1 << 18;
    /// Bit 19: debugging allowed (the host can read and write guest memory).
    pub const DEBUG: u64 = 1 << 19;
    /// Bit 20: single socket required.
    pub const SINGLE_SOCKET: u64 = 1 << 20;
    /// Highest bit defined by the ABI revisions this crate knows (25, PAGE_SWAP_DISABLE).
    pub const KNOWN_MASK: u64 = (1 << 26) - 1;

    /// Minimum firmware ABI minor version (bits 7:0).
    pub fn abi_minor(self) -> u8 {
        (self.0 & 0xFF) as u8
    }
    /// Minimum firmware ABI major version (bits 15:8).
    pub fn abi_major(self) -> u8 {
        ((self.0 >> 8) & 0xFF) as u8
    }
    /// Whether debugging was allowed.
    pub fn debug(self) -> bool {
        self.0 & Self::DEBUG != 0
    }
    /// Whether a migration agent was allowed.
    pub fn migrate_ma(self) -> bool {
        self.0 & Self::MIGRATE_MA != 0
    }
    /// Whether SMT was allowed.
    pub fn smt(self) -> bool {
        self.0 & Self::SMT != 0
    }
    /// Whether the must-be-one bit 17 is set.
    pub fn reserved_one(self) -> bool {
        self.0 & Self::RESERVED_ONE != 0
    }
    /// Bits above those this crate knows.
    pub fn unknown_bits(self) -> u64 {
        self.0 & !Self::KNOWN_MASK
    }
}

/// Which key signed the report (`KEY_INFO.SIGNING_KEY`, bits 4:2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// 0: the chip's VCEK (chain ARK → ASK → VCEK).
    Vcek,
    /// 1: a cloud provider's VLEK (chain ARK → ASVK → VLEK).
    Vlek,
    /// 7: the report is not signed.
    None,
    /// 2–6: reserved values.
    Reserved(u8),
}

/// `KEY_INFO` (offset 0x48).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInfo(pub u32);

impl KeyInfo {
    /// Bit 0: an author key digest is present.
    pub fn author_key_en(self) -> bool {
        self.0 & 1 != 0
    }
    /// Bit 1: `CHIP_ID` is masked to zero.
    pub fn mask_chip_key(self) -> bool {
        self.0 & 2 != 0
    }
    /// Bits 4:2: the signing key.
    pub fn signing_key(self) -> SigningKey {
        match (self.0 >> 2) & 7 {
            0 => SigningKey::Vcek,
            1 => SigningKey::Vlek,
            7 => SigningKey::None,
            n => SigningKey::Reserved(n as u8),
        }
    }
}

/// The CPUID family/model/stepping bytes of a v3+ report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Cpuid {
    /// Extended family + base family (0x19 Zen 3/4, 0x1A Zen 5).
    pub family: u8,
    /// Extended model + base model.
    pub model: u8,
    /// Stepping.
    pub stepping: u8,
}

/// A firmware version (major.minor.build).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FirmwareVersion {
    /// Major.
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Build.
    pub build: u8,
}

impl fmt::Display for FirmwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.build)
    }
}

/// A parsed report. The raw bytes stay inside; every field is a copy of the bytes at its offset.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    raw: Box<[u8; REPORT_LEN]>,
    /// `VERSION` (2–5).
    pub version: u32,
    /// `GUEST_SVN`.
    pub guest_svn: u32,
    /// `POLICY`.
    pub policy: GuestPolicy,
    /// `FAMILY_ID`.
    pub family_id: [u8; 16],
    /// `IMAGE_ID`.
    pub image_id: [u8; 16],
    /// `VMPL` the request asked for.
    pub vmpl: u32,
    /// `SIGNATURE_ALGO` (always 1 after parsing).
    pub signature_algo: u32,
    /// `CURRENT_TCB`.
    pub current_tcb: RawTcb,
    /// `PLATFORM_INFO` (unknown bits kept).
    pub platform_info: u64,
    /// `KEY_INFO`.
    pub key_info: KeyInfo,
    /// `REPORT_DATA`: what the guest asked to bind.
    pub report_data: [u8; 64],
    /// `MEASUREMENT`: the launch digest.
    pub measurement: [u8; 48],
    /// `HOST_DATA`: chosen by the host at launch.
    pub host_data: [u8; 32],
    /// `ID_KEY_DIGEST`.
    pub id_key_digest: [u8; 48],
    /// `AUTHOR_KEY_DIGEST`.
    pub author_key_digest: [u8; 48],
    /// `REPORT_ID`.
    pub report_id: [u8; 32],
    /// `REPORT_ID_MA` (all 0xFF without a migration agent).
    pub report_id_ma: [u8; 32],
    /// `REPORTED_TCB`: what the VCEK is derived from.
    pub reported_tcb: RawTcb,
    /// CPUID bytes (v3+), `None` for v2.
    pub cpuid: Option<Cpuid>,
    /// `CHIP_ID` (zero when masked; only 8 bytes used on Turin).
    pub chip_id: [u8; 64],
    /// `COMMITTED_TCB`.
    pub committed_tcb: RawTcb,
    /// Current firmware version.
    pub current_version: FirmwareVersion,
    /// Committed firmware version.
    pub committed_version: FirmwareVersion,
    /// `LAUNCH_TCB`.
    pub launch_tcb: RawTcb,
    /// `LAUNCH_MIT_VECTOR` (v5+).
    pub launch_mit_vector: Option<u64>,
    /// `CURRENT_MIT_VECTOR` (v5+).
    pub current_mit_vector: Option<u64>,
    /// `SIGNATURE.R`, 72 bytes little-endian as stored.
    pub signature_r: [u8; 72],
    /// `SIGNATURE.S`, 72 bytes little-endian as stored.
    pub signature_s: [u8; 72],
}

fn arr<const N: usize>(raw: &[u8; REPORT_LEN], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&raw[at..at + N]);
    out
}

fn u32_at(raw: &[u8; REPORT_LEN], at: usize) -> u32 {
    u32::from_le_bytes(arr(raw, at))
}

fn u64_at(raw: &[u8; REPORT_LEN], at: usize) -> u64 {
    u64::from_le_bytes(arr(raw, at))
}

fn zero(raw: &[u8; REPORT_LEN], from: usize, to: usize, range: &'static str) -> Result<(), ParseError> {
    if raw[from..to].iter().all(|&b| b == 0) {
        Ok(())
    } else {
        Err(ParseError::ReservedNotZero { range })
    }
}

fn version_at(raw: &[u8; REPORT_LEN], at: usize) -> FirmwareVersion {
    FirmwareVersion { build: raw[at], minor: raw[at + 1], major: raw[at + 2] }
}

impl Report {
    /// Parses a report from exactly [`REPORT_LEN`] bytes.
    pub fn parse(bytes: &[u8]) -> Result<Report, ParseError> {
        let raw: Box<[u8; REPORT_LEN]> = match <[u8; REPORT_LEN]>::try_from(bytes) {
            Ok(a) => Box::new(a),
            Err(_) => return Err(ParseError::Length(bytes.len())),
        };
        let version = u32_at(&raw, offset::VERSION);
        if !(2..=5).contains(&version) {
            return Err(ParseError::UnsupportedVersion(version));
        }
        let signature_algo = u32_at(&raw, offset::SIGNATURE_ALGO);
        if signature_algo != 1 {
            return Err(ParseError::UnsupportedSignatureAlgorithm(signature_algo));
        }
        let key_info = u32_at(&raw, offset::KEY_INFO);
        if key_info & !0x1F != 0 {
            return Err(ParseError::KeyInfoReservedBits(key_info));
        }
        zero(&raw, offset::RESERVED_04C, offset::REPORT_DATA, "0x04C..0x050")?;
        let cpuid = if version >= 3 {
            zero(&raw, offset::RESERVED_18B, offset::CHIP_ID, "0x18B..0x1A0")?;
            Some(Cpuid { family: raw[offset::CPUID_FAM_ID], model: raw[offset::CPUID_MOD_ID], stepping: raw[offset::CPUID_STEP] })
        } else {
            zero(&raw, offset::CPUID_FAM_ID, offset::CHIP_ID, "0x188..0x1A0")?;
            None
        };
        zero(&raw, offset::CURRENT_VERSION + 3, offset::CURRENT_VERSION + 4, "0x1EB")?;
        zero(&raw, offset::COMMITTED_VERSION + 3, offset::COMMITTED_VERSION + 4, "0x1EF")?;
        let (launch_mit_vector, current_mit_vector) = if version >= 5 {
            (Some(u64_at(&raw, offset::LAUNCH_MIT_VECTOR)), Some(u64_at(&raw, offset::CURRENT_MIT_VECTOR)))
        } else {
            zero(&raw, offset::LAUNCH_MIT_VECTOR, offset::RESERVED_208, "0x1F8..0x208")?;
            (None, None)
        };
        zero(&raw, offset::RESERVED_208, offset::SIGNATURE_R, "0x208..0x2A0")?;
        // R and S are P-384 scalars: only the low 48 of their 72 bytes may be non-zero.
        zero(&raw, offset::SIGNATURE_R + 48, offset::SIGNATURE_S, "0x2D0..0x2E8")?;
        zero(&raw, offset::SIGNATURE_S + 48, offset::RESERVED_330, "0x318..0x330")?;
        zero(&raw, offset::RESERVED_330, REPORT_LEN, "0x330..0x4A0")?;
        Ok(Report {
            version,
            guest_svn: u32_at(&raw, offset::GUEST_SVN),
            policy: GuestPolicy(u64_at(&raw, offset::POLICY)),
            family_id: arr(&raw, offset::FAMILY_ID),
            image_id: arr(&raw, offset::IMAGE_ID),
            vmpl: u32_at(&raw, offset::VMPL),
            signature_algo,
            current_tcb: RawTcb(arr(&raw, offset::CURRENT_TCB)),
            platform_info: u64_at(&raw, offset::PLATFORM_INFO),
            key_info: KeyInfo(key_info),
            report_data: arr(&raw, offset::REPORT_DATA),
            measurement: arr(&raw, offset::MEASUREMENT),
            host_data: arr(&raw, offset::HOST_DATA),
            id_key_digest: arr(&raw, offset::ID_KEY_DIGEST),
            author_key_digest: arr(&raw, offset::AUTHOR_KEY_DIGEST),
            report_id: arr(&raw, offset::REPORT_ID),
            report_id_ma: arr(&raw, offset::REPORT_ID_MA),
            reported_tcb: RawTcb(arr(&raw, offset::REPORTED_TCB)),
            cpuid,
            chip_id: arr(&raw, offset::CHIP_ID),
            committed_tcb: RawTcb(arr(&raw, offset::COMMITTED_TCB)),
            current_version: version_at(&raw, offset::CURRENT_VERSION),
            committed_version: version_at(&raw, offset::COMMITTED_VERSION),
            launch_tcb: RawTcb(arr(&raw, offset::LAUNCH_TCB)),
            launch_mit_vector,
            current_mit_vector,
            signature_r: arr(&raw, offset::SIGNATURE_R),
            signature_s: arr(&raw, offset::SIGNATURE_S),
            raw,
        })
    }

    /// The report exactly as received.
    pub fn raw(&self) -> &[u8; REPORT_LEN] {
        &self.raw
    }

    /// The bytes the signature covers: 0x000–0x29F as received.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.raw[..SIGNED_LEN]
    }

    /// The signature as 96 bytes `r || s`, big-endian (the fixed-size ECDSA encoding).
    pub fn signature_be(&self) -> [u8; 96] {
        let mut out = [0u8; 96];
        for i in 0..48 {
            out[47 - i] = self.signature_r[i];
            out[95 - i] = self.signature_s[i];
        }
        out
    }

    /// The product the CPUID bytes name (v3+), if any.
    pub fn cpuid_product(&self) -> Option<Product> {
        self.cpuid.and_then(|c| Product::from_cpuid(c.family, c.model))
    }

    /// For reports without CPUID bytes (v2): only the first 8 bytes of `CHIP_ID` non-zero
    /// suggests Turin. Returns `None` when the id is masked or looks like Milan/Genoa.
    pub fn chip_id_suggests_turin(&self) -> bool {
        self.chip_id[..8].iter().any(|&b| b != 0) && self.chip_id[8..].iter().all(|&b| b == 0)
    }

    /// Whether `CHIP_ID` is all zero (masked).
    pub fn chip_id_masked(&self) -> bool {
        self.chip_id.iter().all(|&b| b == 0)
    }

    /// The KDS URL for this report's VCEK under `product`, built from `REPORTED_TCB` and `CHIP_ID`.
    pub fn kds_vcek_url(&self, product: Product) -> String {
        crate::kds::vcek_url(product, &self.chip_id, self.reported_tcb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_lengths_and_versions() {
        assert_eq!(Report::parse(&[]), Err(ParseError::Length(0)));
        let mut raw = [0u8; REPORT_LEN];
        assert_eq!(Report::parse(&raw), Err(ParseError::UnsupportedVersion(0)));
        raw[0] = 6;
        assert_eq!(Report::parse(&raw), Err(ParseError::UnsupportedVersion(6)));
        raw[0] = 2;
        assert_eq!(Report::parse(&raw), Err(ParseError::UnsupportedSignatureAlgorithm(0)));
        raw[offset::SIGNATURE_ALGO] = 1;
        assert!(Report::parse(&raw).is_ok());
        raw[0x400] = 1;
        assert_eq!(Report::parse(&raw), Err(ParseError::ReservedNotZero { range: "0x330..0x4A0" }));
        raw[0x400] = 0;
        raw[offset::CPUID_FAM_ID] = 0x19;
        assert_eq!(Report::parse(&raw), Err(ParseError::ReservedNotZero { range: "0x188..0x1A0" }));
        raw[0] = 3;
        assert!(Report::parse(&raw).unwrap().cpuid.is_some());
        raw[offset::LAUNCH_MIT_VECTOR] = 1;
        assert_eq!(Report::parse(&raw), Err(ParseError::ReservedNotZero { range: "0x1F8..0x208" }));
        raw[0] = 5;
        assert_eq!(Report::parse(&raw).unwrap().launch_mit_vector, Some(1));
        raw[offset::KEY_INFO] = 0x20;
        assert_eq!(Report::parse(&raw), Err(ParseError::KeyInfoReservedBits(0x20)));
    }

    #[test]
    fn tcb_layouts() {
        let t = RawTcb([1, 1, 1, 4, 0, 0, 0, 0x51]);
        assert_eq!(t.decode(TcbLayout::Turin), Tcb { fmc: Some(1), bootloader: 1, tee: 1, snp: 4, microcode: 0x51 });
        let m = RawTcb([3, 0, 0, 0, 0, 0, 8, 0x73]);
        assert_eq!(m.decode(TcbLayout::MilanGenoa), Tcb { fmc: None, bootloader: 3, tee: 0, snp: 8, microcode: 115 });
        assert!(m.reserved_zero(TcbLayout::MilanGenoa));
        assert!(!t.reserved_zero(TcbLayout::MilanGenoa));
        assert!(t.reserved_zero(TcbLayout::Turin));
    }

    #[test]
    fn products_from_cpuid() {
        assert_eq!(Product::from_cpuid(0x19, 0x01), Some(Product::Milan));
        assert_eq!(Product::from_cpuid(0x19, 0x11), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x19, 0xA0), Some(Product::Genoa));
        assert_eq!(Product::from_cpuid(0x1A, 0x02), Some(Product::Turin));
        assert_eq!(Product::from_cpuid(0x17, 0x01), None);
    }
}
