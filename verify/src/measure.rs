//! The SEV-SNP launch digest (`MEASUREMENT`) of a guest, computed from its firmware, kernel,
//! initrd, command line and vCPUs — the same result as `sev-snp-measure` 0.0.13 (`--mode snp`).
//!
//! The digest is a chain of SHA-384 over 0x70-byte `PAGE_INFO` records (SNP ABI spec,
//! `SNP_LAUNCH_UPDATE`), one per page the hypervisor adds, in this order:
//! 1. every 4 KiB page of the OVMF image as a NORMAL page, at GPA `4 GiB − size` upward;
//! 2. the OVMF SEV metadata sections in table order (ZERO, SECRETS, CPUID, and the kernel-hashes
//!    page holding the SHA-256 of kernel, initrd and command line when a kernel is given);
//! 3. one VMSA page per vCPU (the boot processor first).

use sha2::{Digest, Sha256, Sha384};
use std::fmt;

const PAGE: usize = 4096;
const FOUR_GIB: u64 = 1 << 32;
/// GPA recorded for VMSA pages.
const VMSA_GPA: u64 = 0xFFFF_FFFF_F000;
/// Initial instruction pointer of the boot processor.
const BSP_EIP: u32 = 0xFFFF_FFF0;

/// GUIDs in the OVMF footer table (stored in little-endian "Microsoft" byte order).
mod guid {
    pub const FOOTER: &str = "96b582de-1fb2-45f7-baea-a366c55a082d";
    pub const SEV_HASH_TABLE_RV: &str = "7255371f-3a3b-4b04-927b-1da6efa8d454";
    pub const SEV_ES_RESET_BLOCK: &str = "00f771de-1a7e-4fcb-890e-68c77e2fb44e";
    pub const SEV_METADATA: &str = "dc886566-984a-4798-a75e-5585a7bf67cc";
    pub const HASH_TABLE_HEADER: &str = "9438d606-4f22-4cc9-b479-a793d411fd21";
    pub const KERNEL_ENTRY: &str = "4de79437-abd2-427f-b835-d5b172d2045b";
    pub const INITRD_ENTRY: &str = "44baf731-3a2f-4bd7-9af1-41e29169781d";
    pub const CMDLINE_ENTRY: &str = "97d02dd8-bd20-4c94-aa78-e7714d36ab2a";
}

/// A GUID string in the 16-byte little-endian layout UEFI uses.
fn guid_le(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'-')
        .map(|c| match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => 0,
        })
        .collect();
    let mut be = [0u8; 16];
    for (i, b) in be.iter_mut().enumerate() {
        *b = hex.get(2 * i).copied().unwrap_or(0) << 4 | hex.get(2 * i + 1).copied().unwrap_or(0);
    }
    let mut le = be;
    le[0..4].reverse();
    le[4..6].reverse();
    le[6..8].reverse();
    le
}

/// Why a launch digest cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MeasureError {
    /// The firmware is empty, not a multiple of 4 KiB, or larger than 4 GiB.
    OvmfSize(usize),
    /// The footer GUID table is malformed (an entry size is out of range).
    FooterTable,
    /// The firmware has no SEV-ES reset block, so AP start addresses are unknown.
    NoResetBlock,
    /// The SEV metadata ("ASEV") header is missing, has a bad signature or version, or is out of range.
    Metadata(&'static str),
    /// A metadata section has an unknown type.
    UnknownSection(u32),
    /// A ZERO/UNMEASURED section is not a multiple of 4 KiB.
    SectionSize(u32),
    /// A kernel was given but the firmware has no SNP_KERNEL_HASHES section (not an AmdSev build).
    NoKernelHashesSection,
    /// The kernel-hashes section is not one page, or the hash table does not fit its page.
    HashTablePlacement,
    /// The firmware has no SEV hash table entry.
    NoHashTable,
    /// No vCPUs.
    NoVcpus,
    /// More than one vCPU, but the firmware gives no AP reset address.
    NoApResetAddress,
    /// `--initrd` or `--append` without `--kernel`.
    KernelRequired,
    /// A metadata section reaches past 4 GiB, or all sections together exceed
    /// [`MAX_SECTION_BYTES`] (real firmware declares a few hundred KiB).
    SectionRange,
    /// More than [`MAX_VCPUS`] vCPUs.
    TooManyVcpus(u32),
}

/// Upper bound on the bytes all OVMF metadata sections may declare together (64 MiB).
pub const MAX_SECTION_BYTES: u64 = 64 << 20;

/// Upper bound on the vCPU count (KVM's maximum for SEV-SNP guests is far lower).
pub const MAX_VCPUS: u32 = 4096;

impl fmt::Display for MeasureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MeasureError::OvmfSize(n) => write!(f, "OVMF image of {n} bytes is not a non-empty multiple of 4096 below 4 GiB"),
            MeasureError::FooterTable => f.write_str("OVMF footer GUID table is malformed"),
            MeasureError::NoResetBlock => f.write_str("OVMF has no SEV-ES reset block (not an SEV-capable build)"),
            MeasureError::Metadata(what) => write!(f, "OVMF SEV metadata: {what}"),
            MeasureError::UnknownSection(t) => write!(f, "OVMF SEV metadata section type {t:#x} is unknown"),
            MeasureError::SectionSize(s) => write!(f, "OVMF SEV metadata section size {s:#x} is not page-aligned"),
            MeasureError::NoKernelHashesSection => {
                f.write_str("kernel given, but the OVMF metadata has no SNP_KERNEL_HASHES section (use an AmdSev OVMF)")
            }
            MeasureError::HashTablePlacement => f.write_str("SEV hash table does not fit its kernel-hashes page"),
            MeasureError::NoHashTable => f.write_str("OVMF has no SEV hash table entry"),
            MeasureError::NoVcpus => f.write_str("at least one vCPU is needed"),
            MeasureError::NoApResetAddress => f.write_str("OVMF gives no AP reset address, so only 1 vCPU can be measured"),
            MeasureError::KernelRequired => f.write_str("--initrd and --append need --kernel"),
            MeasureError::SectionRange => f.write_str("OVMF SEV metadata sections reach past 4 GiB or declare more than 64 MiB"),
            MeasureError::TooManyVcpus(n) => write!(f, "{n} vCPUs is more than the {MAX_VCPUS} this calculator accepts"),
        }
    }
}

impl std::error::Error for MeasureError {}

/// The launch digest differs from the expected one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeasurementMismatch {
    /// Expected (hex).
    pub expected: String,
    /// In the report (hex).
    pub reported: String,
}

impl fmt::Display for MeasurementMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MEASUREMENT {} differs from the expected {}", self.reported, self.expected)
    }
}

impl std::error::Error for MeasurementMismatch {}

/// Which hypervisor launched the guest (it fixes a few initial register values).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmmType {
    /// QEMU/KVM (the default).
    Qemu,
    /// AWS EC2.
    Ec2,
    /// Google Compute Engine.
    Gce,
}

impl VmmType {
    /// Parses `qemu`, `ec2` or `gce` (any case).
    pub fn parse(text: &str) -> Option<VmmType> {
        match text.to_ascii_lowercase().as_str() {
            "qemu" => Some(VmmType::Qemu),
            "ec2" => Some(VmmType::Ec2),
            "gce" => Some(VmmType::Gce),
            _ => None,
        }
    }
}

/// CPUID(1).EAX of a family/model/stepping (AMD CPUID spec, pub. 25481).
pub const fn cpu_sig(family: u32, model: u32, stepping: u32) -> u32 {
    let (fam_lo, fam_hi) = if family > 0xF { (0xF, (family - 0xF) & 0xFF) } else { (family, 0) };
    (fam_hi << 20) | (((model >> 4) & 0xF) << 16) | (fam_lo << 8) | ((model & 0xF) << 4) | (stepping & 0xF)
}

/// QEMU's AMD vCPU models and their CPUID signatures.
pub const VCPU_TYPES: &[(&str, u32)] = &[
    ("EPYC", cpu_sig(23, 1, 2)),
    ("EPYC-v1", cpu_sig(23, 1, 2)),
    ("EPYC-v2", cpu_sig(23, 1, 2)),
    ("EPYC-IBPB", cpu_sig(23, 1, 2)),
    ("EPYC-v3", cpu_sig(23, 1, 2)),
    ("EPYC-v4", cpu_sig(23, 1, 2)),
    ("EPYC-Rome", cpu_sig(23, 49, 0)),
    ("EPYC-Rome-v1", cpu_sig(23, 49, 0)),
    ("EPYC-Rome-v2", cpu_sig(23, 49, 0)),
    ("EPYC-Rome-v3", cpu_sig(23, 49, 0)),
    ("EPYC-Milan", cpu_sig(25, 1, 1)),
    ("EPYC-Milan-v1", cpu_sig(25, 1, 1)),
    ("EPYC-Milan-v2", cpu_sig(25, 1, 1)),
    ("EPYC-Genoa", cpu_sig(25, 17, 0)),
    ("EPYC-Genoa-v1", cpu_sig(25, 17, 0)),
    ("EPYC-Turin", cpu_sig(26, 0, 0)),
];

/// The signature of a QEMU vCPU model name (exact match).
pub fn vcpu_sig(name: &str) -> Option<u32> {
    VCPU_TYPES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Kernel, initrd and command line for measured direct boot.
#[derive(Clone, Copy, Debug)]
pub struct DirectBoot<'a> {
    /// The kernel image as given to QEMU `-kernel`.
    pub kernel: &'a [u8],
    /// The initrd (`None` hashes the empty string, as QEMU does without `-initrd`).
    pub initrd: Option<&'a [u8]>,
    /// The command line (`None` or empty: just the terminating NUL is hashed).
    pub append: Option<&'a str>,
}

/// Everything the digest depends on.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The OVMF image (the single combined `.fd` given to QEMU `-bios`).
    pub ovmf: &'a [u8],
    /// Kernel/initrd/cmdline, for an AmdSev OVMF with kernel hashes.
    pub direct_boot: Option<DirectBoot<'a>>,
    /// Number of vCPUs.
    pub vcpus: u32,
    /// CPUID(1).EAX of the vCPU model (ignored for EC2 and GCE, which use 0x600).
    pub vcpu_sig: u32,
    /// VMSA `SEV_FEATURES` (sev-snp-measure `--guest-features`, default 0x1).
    pub guest_features: u64,
    /// The hypervisor.
    pub vmm: VmmType,
    /// A precomputed digest of the OVMF pages (`--snp-ovmf-hash`), skipping step 1.
    pub ovmf_hash: Option<[u8; 48]>,
}

/// The running launch digest.
struct Gctx {
    ld: [u8; 48],
}

mod page_type {
    pub const NORMAL: u8 = 1;
    pub const VMSA: u8 = 2;
    pub const ZERO: u8 = 3;
    pub const UNMEASURED: u8 = 4;
    pub const SECRETS: u8 = 5;
    pub const CPUID: u8 = 6;
}

impl Gctx {
    fn update(&mut self, page_type: u8, gpa: u64, contents: &[u8; 48]) {
        // PAGE_INFO: DIGEST_CUR(48) CONTENTS(48) LENGTH u16 PAGE_TYPE u8 IMI_PAGE u8
        // VMPL3_PERMS u8 VMPL2_PERMS u8 VMPL1_PERMS u8 reserved u8 GPA u64.
        let mut info = [0u8; 0x70];
        info[0..48].copy_from_slice(&self.ld);
        info[48..96].copy_from_slice(contents);
        info[96..98].copy_from_slice(&0x70u16.to_le_bytes());
        info[98] = page_type;
        info[104..112].copy_from_slice(&gpa.to_le_bytes());
        self.ld = Sha384::digest(info).into();
    }

    fn normal_pages(&mut self, gpa: u64, data: &[u8]) {
        for (i, page) in data.chunks(PAGE).enumerate() {
            self.update(page_type::NORMAL, gpa + (i * PAGE) as u64, &Sha384::digest(page).into());
        }
    }

    fn empty_pages(&mut self, page_type: u8, gpa: u64, len: u32) {
        for i in 0..u64::from(len) / PAGE as u64 {
            self.update(page_type, gpa + i * PAGE as u64, &[0; 48]);
        }
    }
}

/// A parsed OVMF image: its footer GUID table and SEV metadata sections.
#[derive(Clone, Debug)]
pub struct Ovmf<'a> {
    data: &'a [u8],
    table: Vec<([u8; 16], &'a [u8])>,
    sections: Vec<Section>,
}

/// One OVMF SEV metadata section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Section {
    /// Guest physical address.
    pub gpa: u32,
    /// Size in bytes.
    pub size: u32,
    /// 1 SNP_SEC_MEM, 2 SNP_SECRETS, 3 CPUID, 4 SVSM_CAA, 0x10 SNP_KERNEL_HASHES.
    pub kind: u32,
}

mod section {
    pub const SNP_SEC_MEM: u32 = 1;
    pub const SNP_SECRETS: u32 = 2;
    pub const CPUID: u32 = 3;
    pub const SVSM_CAA: u32 = 4;
    pub const SNP_KERNEL_HASHES: u32 = 0x10;
}

fn le_u16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

impl<'a> Ovmf<'a> {
    /// Parses the footer table (ends 32 bytes before the end of the image) and the SEV metadata.
    pub fn parse(data: &'a [u8]) -> Result<Ovmf<'a>, MeasureError> {
        if data.is_empty() || data.len() % PAGE != 0 || data.len() as u64 > FOUR_GIB {
            return Err(MeasureError::OvmfSize(data.len()));
        }
        const ENTRY_HEADER: usize = 18; // u16 size + GUID
        let mut table = Vec::new();
        let footer_at = data.len() - 32 - ENTRY_HEADER;
        let footer = &data[footer_at..footer_at + ENTRY_HEADER];
        if footer[2..18] == guid_le(guid::FOOTER) {
            let table_size = usize::from(le_u16(footer)).checked_sub(ENTRY_HEADER);
            if let Some(table_size) = table_size {
                let start = footer_at.checked_sub(table_size).ok_or(MeasureError::FooterTable)?;
                let mut rest = &data[start..footer_at];
                while rest.len() >= ENTRY_HEADER {
                    let hdr = &rest[rest.len() - ENTRY_HEADER..];
                    let size = usize::from(le_u16(hdr));
                    if size < ENTRY_HEADER || size > rest.len() {
                        return Err(MeasureError::FooterTable);
                    }
                    let mut g = [0u8; 16];
                    g.copy_from_slice(&hdr[2..18]);
                    let body = &rest[rest.len() - size..rest.len() - ENTRY_HEADER];
                    // A later (lower) duplicate replaces an earlier one, as in the reference tool.
                    table.retain(|(k, _): &([u8; 16], &[u8])| *k != g);
                    table.push((g, body));
                    rest = &rest[..rest.len() - size];
                }
            }
        }
        let mut ovmf = Ovmf { data, table, sections: Vec::new() };
        ovmf.sections = ovmf.parse_metadata()?;
        Ok(ovmf)
    }

    fn entry(&self, guid_text: &str) -> Option<&'a [u8]> {
        let g = guid_le(guid_text);
        self.table.iter().find(|(k, _)| *k == g).map(|(_, v)| *v)
    }

    fn entry_u32(&self, guid_text: &str) -> Option<u32> {
        self.entry(guid_text).filter(|e| e.len() >= 4).map(le_u32)
    }

    fn parse_metadata(&self) -> Result<Vec<Section>, MeasureError> {
        let Some(entry) = self.entry(guid::SEV_METADATA) else {
            return Ok(Vec::new());
        };
        let off = entry.get(..4).map(le_u32).ok_or(MeasureError::Metadata("table entry too short"))? as usize;
        let start = self.data.len().checked_sub(off).ok_or(MeasureError::Metadata("offset out of range"))?;
        let header = self.data.get(start..start + 16).ok_or(MeasureError::Metadata("header out of range"))?;
        if &header[0..4] != b"ASEV" {
            return Err(MeasureError::Metadata("wrong signature (not ASEV)"));
        }
        if le_u32(&header[8..12]) != 1 {
            return Err(MeasureError::Metadata("version is not 1"));
        }
        let size = le_u32(&header[4..8]) as usize;
        let count = le_u32(&header[12..16]) as usize;
        let items = self.data.get(start + 16..start.saturating_add(size)).ok_or(MeasureError::Metadata("items out of range"))?;
        if count.checked_mul(12).is_none_or(|n| n > items.len()) {
            return Err(MeasureError::Metadata("more items than fit"));
        }
        let mut out = Vec::with_capacity(count);
        let mut total = 0u64;
        for item in items.chunks_exact(12).take(count) {
            let s = Section { gpa: le_u32(&item[0..4]), size: le_u32(&item[4..8]), kind: le_u32(&item[8..12]) };
            total += u64::from(s.size);
            if u64::from(s.gpa) + u64::from(s.size) > FOUR_GIB || total > MAX_SECTION_BYTES {
                return Err(MeasureError::SectionRange);
            }
            if !matches!(
                s.kind,
                section::SNP_SEC_MEM | section::SNP_SECRETS | section::CPUID | section::SVSM_CAA | section::SNP_KERNEL_HASHES
            ) {
                return Err(MeasureError::UnknownSection(s.kind));
            }
            out.push(s);
        }
        Ok(out)
    }

    /// The SEV metadata sections in table order.
    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    /// Whether the image supports measured direct boot (has an SNP_KERNEL_HASHES section).
    pub fn has_kernel_hashes(&self) -> bool {
        self.sections.iter().any(|s| s.kind == section::SNP_KERNEL_HASHES)
    }

    /// GPA of the first byte of the image.
    pub fn gpa(&self) -> u64 {
        FOUR_GIB - self.data.len() as u64
    }
}

/// The 176-byte SEV hashes table exactly as QEMU builds it (header, cmdline, initrd, kernel,
/// then zero padding to a multiple of 16).
pub fn hashes_table(boot: &DirectBoot<'_>) -> [u8; 176] {
    let cmdline = match boot.append {
        Some(a) if !a.is_empty() => {
            let mut v = a.as_bytes().to_vec();
            v.push(0);
            Sha256::digest(&v)
        }
        _ => Sha256::digest([0u8]),
    };
    let initrd = Sha256::digest(boot.initrd.unwrap_or(&[]));
    let kernel = Sha256::digest(boot.kernel);
    let mut t = [0u8; 176];
    t[0..16].copy_from_slice(&guid_le(guid::HASH_TABLE_HEADER));
    t[16..18].copy_from_slice(&168u16.to_le_bytes());
    for (i, (g, h)) in
        [(guid::CMDLINE_ENTRY, cmdline), (guid::INITRD_ENTRY, initrd), (guid::KERNEL_ENTRY, kernel)].iter().enumerate()
    {
        let at = 18 + i * 50;
        t[at..at + 16].copy_from_slice(&guid_le(g));
        t[at + 16..at + 18].copy_from_slice(&50u16.to_le_bytes());
        t[at + 18..at + 50].copy_from_slice(h);
    }
    t
}

/// One 4 KiB VMSA (SEV-ES save area) page with the initial register state of a vCPU starting at
/// `eip`. Offsets are those of the AMD APM vol. 2 table B-4 / Linux `struct sev_es_save_area`.
pub fn vmsa_page(eip: u32, sev_features: u64, vcpu_sig: u32, vmm: VmmType) -> [u8; PAGE] {
    let mut p = [0u8; PAGE];
    let put16 = |p: &mut [u8; PAGE], at: usize, v: u16| p[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |p: &mut [u8; PAGE], at: usize, v: u32| p[at..at + 4].copy_from_slice(&v.to_le_bytes());
    let put64 = |p: &mut [u8; PAGE], at: usize, v: u64| p[at..at + 8].copy_from_slice(&v.to_le_bytes());
    // Segment registers: selector u16, attrib u16, limit u32, base u64 (16 bytes each).
    let seg = |p: &mut [u8; PAGE], at: usize, sel: u16, attrib: u16, limit: u32, base: u64| {
        put16(p, at, sel);
        put16(p, at + 2, attrib);
        put32(p, at + 4, limit);
        put64(p, at + 8, base);
    };
    let (cs_flags, ss_flags, tr_flags, rdx, mxcsr, fcw, g_pat) = match vmm {
        VmmType::Qemu => (0x9B, 0x93, 0x8B, u64::from(vcpu_sig), 0x1F80, 0x37F, 0x0007_0406_0007_0406u64),
        VmmType::Ec2 => (if eip == BSP_EIP { 0x9A } else { 0x9B }, 0x92, 0x83, 0x600, 0, 0, 0x0007_0406_0007_0406),
        VmmType::Gce => (0x9B, 0x93, 0x8B, 0x600, 0, 0, 0x0007_0106),
    };
    seg(&mut p, 0x000, 0, 0x93, 0xFFFF, 0); // ES
    seg(&mut p, 0x010, 0xF000, cs_flags, 0xFFFF, u64::from(eip & 0xFFFF_0000)); // CS
    seg(&mut p, 0x020, 0, ss_flags, 0xFFFF, 0); // SS
    seg(&mut p, 0x030, 0, 0x93, 0xFFFF, 0); // DS
    seg(&mut p, 0x040, 0, 0x93, 0xFFFF, 0); // FS
    seg(&mut p, 0x050, 0, 0x93, 0xFFFF, 0); // GS
    seg(&mut p, 0x060, 0, 0, 0xFFFF, 0); // GDTR
    seg(&mut p, 0x070, 0, 0x82, 0xFFFF, 0); // LDTR
    seg(&mut p, 0x080, 0, 0, 0xFFFF, 0); // IDTR
    seg(&mut p, 0x090, 0, tr_flags, 0xFFFF, 0); // TR
    put64(&mut p, 0x0D0, 0x1000); // EFER.SVME
    put64(&mut p, 0x148, 0x40); // CR4.MCE
    put64(&mut p, 0x158, 0x10); // CR0.ET
    put64(&mut p, 0x160, 0x400); // DR7
    put64(&mut p, 0x168, 0xFFFF_0FF0); // DR6
    put64(&mut p, 0x170, 0x2); // RFLAGS
    put64(&mut p, 0x178, u64::from(eip & 0xFFFF)); // RIP
    put64(&mut p, 0x268, g_pat); // G_PAT
    put64(&mut p, 0x310, rdx); // RDX
    put64(&mut p, 0x3B0, sev_features); // SEV_FEATURES
    put64(&mut p, 0x3E8, 0x1); // XCR0
    put32(&mut p, 0x408, mxcsr); // MXCSR
    put16(&mut p, 0x410, fcw); // x87 FCW
    p
}

/// The launch digest of the OVMF pages alone (`sev-snp-measure --mode snp:ovmf-hash`).
pub fn ovmf_hash(ovmf: &[u8]) -> Result<[u8; 48], MeasureError> {
    let parsed = Ovmf::parse(ovmf)?;
    let mut g = Gctx { ld: [0; 48] };
    g.normal_pages(parsed.gpa(), ovmf);
    Ok(g.ld)
}

/// Computes the SNP launch digest.
pub fn launch_digest(inputs: &Inputs<'_>) -> Result<[u8; 48], MeasureError> {
    if inputs.vcpus == 0 {
        return Err(MeasureError::NoVcpus);
    }
    if inputs.vcpus > MAX_VCPUS {
        return Err(MeasureError::TooManyVcpus(inputs.vcpus));
    }
    let ovmf = Ovmf::parse(inputs.ovmf)?;
    let mut g = Gctx { ld: inputs.ovmf_hash.unwrap_or([0; 48]) };
    if inputs.ovmf_hash.is_none() {
        g.normal_pages(ovmf.gpa(), inputs.ovmf);
    }
    for s in ovmf.sections() {
        let gpa = u64::from(s.gpa);
        let aligned = |s: &Section| if s.size as usize % PAGE == 0 { Ok(()) } else { Err(MeasureError::SectionSize(s.size)) };
        match s.kind {
            section::SNP_SEC_MEM => {
                aligned(s)?;
                let t = if inputs.vmm == VmmType::Gce { page_type::UNMEASURED } else { page_type::ZERO };
                g.empty_pages(t, gpa, s.size);
            }
            section::SNP_SECRETS => g.update(page_type::SECRETS, gpa, &[0; 48]),
            section::CPUID => {
                if inputs.vmm != VmmType::Ec2 {
                    g.update(page_type::CPUID, gpa, &[0; 48]);
                }
            }
            section::SVSM_CAA => {
                aligned(s)?;
                g.empty_pages(page_type::ZERO, gpa, s.size);
            }
            _ => match &inputs.direct_boot {
                Some(boot) => {
                    let table_gpa = ovmf.entry_u32(guid::SEV_HASH_TABLE_RV).ok_or(MeasureError::NoHashTable)?;
                    let at = (table_gpa & 0xFFF) as usize;
                    if s.size as usize != PAGE || at + 176 > PAGE {
                        return Err(MeasureError::HashTablePlacement);
                    }
                    let mut page = [0u8; PAGE];
                    page[at..at + 176].copy_from_slice(&hashes_table(boot));
                    g.normal_pages(gpa, &page);
                }
                None => {
                    aligned(s)?;
                    g.empty_pages(page_type::ZERO, gpa, s.size);
                }
            },
        }
    }
    if inputs.vmm == VmmType::Ec2 {
        for s in ovmf.sections().iter().filter(|s| s.kind == section::CPUID) {
            g.update(page_type::CPUID, u64::from(s.gpa), &[0; 48]);
        }
    }
    if inputs.direct_boot.is_some() && !ovmf.has_kernel_hashes() {
        return Err(MeasureError::NoKernelHashesSection);
    }
    let ap_eip = ovmf.entry_u32(guid::SEV_ES_RESET_BLOCK).ok_or(MeasureError::NoResetBlock)?;
    let bsp = vmsa_page(BSP_EIP, inputs.guest_features, inputs.vcpu_sig, inputs.vmm);
    g.update(page_type::VMSA, VMSA_GPA, &Sha384::digest(bsp).into());
    if inputs.vcpus > 1 {
        if ap_eip == 0 {
            return Err(MeasureError::NoApResetAddress);
        }
        let ap: [u8; 48] = Sha384::digest(vmsa_page(ap_eip, inputs.guest_features, inputs.vcpu_sig, inputs.vmm)).into();
        for _ in 1..inputs.vcpus {
            g.update(page_type::VMSA, VMSA_GPA, &ap);
        }
    }
    Ok(g.ld)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        crate::hex(b)
    }

    #[test]
    fn signatures_match_qemu_models() {
        assert_eq!(vcpu_sig("EPYC-v4"), Some(0x800F12));
        assert_eq!(vcpu_sig("EPYC-Rome"), Some(0x830F10));
        assert_eq!(vcpu_sig("EPYC-Milan"), Some(0xA00F11));
        assert_eq!(vcpu_sig("EPYC-Genoa"), Some(0xA10F10));
        assert_eq!(vcpu_sig("EPYC-Turin"), Some(0xB00F00));
    }

    #[test]
    fn vmsa_pages_match_reference_hashes() {
        // research/snp.md §5: EPYC-v4, guest features 0x1, AP EIP 0x80B004 (AmdSev suffix).
        let sig = vcpu_sig("EPYC-v4").unwrap();
        assert_eq!(
            hex(&Sha384::digest(vmsa_page(BSP_EIP, 1, sig, VmmType::Qemu))),
            "77920c4c629ff47e90c0e174fc1ad0eb6fa664f88cd4739488058a8c6cb1a77b3856f55378e9518d0da99452d51c553a"
        );
        assert_eq!(
            hex(&Sha384::digest(vmsa_page(0x80B004, 1, sig, VmmType::Qemu))),
            "8413b852790765a310d95867a8b00bfca3a802b5a80830044b45e253fe96222657e11e53fcf63eb0e0afd722385bf7b4"
        );
    }

    #[test]
    fn hashes_table_matches_qemu_layout() {
        let t = hashes_table(&DirectBoot { kernel: b"kernel", initrd: Some(b"initrd"), append: Some("console=ttyS0") });
        assert_eq!(hex(&t), "06d63894224fc94cb479a793d411fd21a800d82dd09720bd944caa78e7714d36ab2a3200f18aae9b3c09e55bc3047ad361e2442d7c53372470b2958fb83293209a784f7131f7ba442f3ad74b9af141e29169781d320009e6c018d2c8c4903308613dd1b72484d57eadf12ec50ddc8f52e5accce470f23794e74dd2ab7f42b835d5b172d2045b32006923dd1bc0460082c5d55a831908c24a282860b7f1cd6c2b79cf1bc8857c639c0000000000000000");
    }

    /// A 4 KiB firmware image with a footer table (reset block, metadata) and `sections`.
    fn image(sections: &[(u32, u32, u32)]) -> Vec<u8> {
        let mut img = vec![0u8; PAGE];
        let header_at = 0x100;
        img[header_at..header_at + 4].copy_from_slice(b"ASEV");
        img[header_at + 4..header_at + 8].copy_from_slice(&(16 + 12 * sections.len() as u32).to_le_bytes());
        img[header_at + 8..header_at + 12].copy_from_slice(&1u32.to_le_bytes());
        img[header_at + 12..header_at + 16].copy_from_slice(&(sections.len() as u32).to_le_bytes());
        for (i, (gpa, size, kind)) in sections.iter().enumerate() {
            let at = header_at + 16 + 12 * i;
            img[at..at + 4].copy_from_slice(&gpa.to_le_bytes());
            img[at + 4..at + 8].copy_from_slice(&size.to_le_bytes());
            img[at + 8..at + 12].copy_from_slice(&kind.to_le_bytes());
        }
        // Table entries, each {data, u16 size, GUID}, ending at the footer entry.
        let mut table = Vec::new();
        for (g, data) in [(guid::SEV_ES_RESET_BLOCK, 0x80B004u32), (guid::SEV_METADATA, (PAGE - header_at) as u32)] {
            table.extend_from_slice(&data.to_le_bytes());
            table.extend_from_slice(&(4u16 + 18).to_le_bytes());
            table.extend_from_slice(&guid_le(g));
        }
        let footer_at = PAGE - 32 - 18;
        img[footer_at - table.len()..footer_at].copy_from_slice(&table);
        img[footer_at..footer_at + 2].copy_from_slice(&((table.len() + 18) as u16).to_le_bytes());
        img[footer_at + 2..footer_at + 18].copy_from_slice(&guid_le(guid::FOOTER));
        img
    }

    #[test]
    fn synthetic_firmware_and_section_bounds() {
        let ok = image(&[(0x800000, 0x9000, 1), (0x80D000, 0x1000, 2), (0x80E000, 0x1000, 3)]);
        let parsed = Ovmf::parse(&ok).unwrap();
        assert_eq!(parsed.sections().len(), 3);
        assert!(!parsed.has_kernel_hashes());
        let inputs = Inputs {
            ovmf: &ok,
            direct_boot: None,
            vcpus: 2,
            vcpu_sig: 0x800F12,
            guest_features: 1,
            vmm: VmmType::Qemu,
            ovmf_hash: None,
        };
        assert!(launch_digest(&inputs).is_ok());
        // A fuzzer-found input: one section declaring ~3 GiB of zero pages (took 18 s per digest).
        let huge = image(&[(0x800000, 3_355_480_064, 1)]);
        assert_eq!(Ovmf::parse(&huge).err(), Some(MeasureError::SectionRange));
        let past_4g = image(&[(0xFFFF_F000, 0x2000, 1)]);
        assert_eq!(Ovmf::parse(&past_4g).err(), Some(MeasureError::SectionRange));
        assert_eq!(Ovmf::parse(&image(&[(0, 0x1000, 9)])).err(), Some(MeasureError::UnknownSection(9)));
        assert_eq!(Ovmf::parse(&image(&[(0, 0x1001, 1)])).map(|_| ()), Ok(()));
        let unaligned = image(&[(0, 0x1001, 1)]);
        assert_eq!(launch_digest(&Inputs { ovmf: &unaligned, ..inputs }), Err(MeasureError::SectionSize(0x1001)));
    }

    #[test]
    fn rejects_bad_firmware() {
        assert_eq!(Ovmf::parse(&[]).err(), Some(MeasureError::OvmfSize(0)));
        assert_eq!(Ovmf::parse(&[0; 100]).err(), Some(MeasureError::OvmfSize(100)));
        let blank = vec![0u8; PAGE];
        let inputs = Inputs {
            ovmf: &blank,
            direct_boot: None,
            vcpus: 1,
            vcpu_sig: 0,
            guest_features: 1,
            vmm: VmmType::Qemu,
            ovmf_hash: None,
        };
        assert_eq!(launch_digest(&inputs), Err(MeasureError::NoResetBlock));
        assert_eq!(launch_digest(&Inputs { vcpus: 0, ..inputs }), Err(MeasureError::NoVcpus));
        assert_eq!(launch_digest(&Inputs { vcpus: 5000, ..inputs }), Err(MeasureError::TooManyVcpus(5000)));
    }
}
