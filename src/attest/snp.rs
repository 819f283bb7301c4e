//! The AMD SEV-SNP provider: reports from the PSP through configfs-tsm.
//!
//! Requests are serialised (one at a time, a mutex held until the firmware answers even if the
//! caller gave up) and each is bounded by a timeout. The report is returned exactly as the
//! firmware produced it; the certificates come from the host's `auxblob` when it supplies them,
//! otherwise the report names the AMD KDS URL of its VCEK, built from `REPORTED_TCB` and
//! `CHIP_ID`. The `/dev/sev-guest` ioctl is the second choice ([`super::sev_guest`]); the kernel
//! this image pins (6.12) always offers configfs-tsm.

use super::tsm::{ConfigFs, RealFs, Tsm, TsmError};
use super::{AttestError, Attester, Report, ReportFuture};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Size of an SEV-SNP report.
pub const REPORT_LEN: usize = 0x4A0;

/// Default bound on one firmware request (reports take ~8 ms; hosts may throttle bursts).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Report offsets this provider reads (SEV-SNP ABI spec, ATTESTATION_REPORT).
mod offset {
    pub const VERSION: usize = 0x000;
    pub const KEY_INFO: usize = 0x048;
    pub const REPORT_DATA: usize = 0x050;
    pub const REPORTED_TCB: usize = 0x180;
    pub const CPUID_FAM_ID: usize = 0x188;
    pub const CPUID_MOD_ID: usize = 0x189;
    pub const CHIP_ID: usize = 0x1A0;
}

/// GHCB certificate-table GUIDs (RFC 4122 byte order, as the host writes them).
mod cert_guid {
    pub const VCEK: [u8; 16] = [0x63, 0xda, 0x75, 0x8d, 0xe6, 0x64, 0x45, 0x64, 0xad, 0xc5, 0xf4, 0xb9, 0x3b, 0xe8, 0xac, 0xcd];
    pub const VLEK: [u8; 16] = [0xa8, 0x07, 0x4b, 0xc2, 0xa2, 0x5a, 0x48, 0x3e, 0xaa, 0xe6, 0x39, 0xc0, 0x45, 0xa0, 0xb8, 0xa1];
    pub const ASK: [u8; 16] = [0x4a, 0xb7, 0xb3, 0x79, 0xbb, 0xac, 0x4f, 0xe4, 0xa0, 0x2f, 0x05, 0xae, 0xf3, 0x27, 0xc7, 0x82];
    pub const ARK: [u8; 16] = [0xc0, 0xb4, 0x06, 0xa4, 0xa8, 0x03, 0x49, 0x52, 0x97, 0x43, 0x3f, 0xb6, 0x01, 0x4c, 0xd0, 0xae];
}

/// Splits the host's certificate table (`auxblob`) into DER certificates, endorsement key
/// (VCEK or VLEK) first, then ASK/ASVK, then ARK; unknown GUIDs are dropped. A malformed table
/// yields no certificates (the verifier then uses the KDS URL).
pub fn parse_cert_table(blob: &[u8]) -> Vec<Vec<u8>> {
    let mut found: Vec<(u8, Vec<u8>)> = Vec::new();
    for entry in blob.chunks_exact(24) {
        if entry.iter().all(|&b| b == 0) {
            break;
        }
        let guid: [u8; 16] = entry[..16].try_into().unwrap_or([0; 16]);
        let at = u32::from_le_bytes([entry[16], entry[17], entry[18], entry[19]]) as usize;
        let len = u32::from_le_bytes([entry[20], entry[21], entry[22], entry[23]]) as usize;
        let Some(der) = at.checked_add(len).and_then(|end| blob.get(at..end)) else {
            return Vec::new();
        };
        let rank = match guid {
            cert_guid::VCEK | cert_guid::VLEK => 0,
            cert_guid::ASK => 1,
            cert_guid::ARK => 2,
            _ => continue,
        };
        if !der.is_empty() {
            found.push((rank, der.to_vec()));
        }
    }
    found.sort_by_key(|(rank, _)| *rank);
    found.into_iter().map(|(_, der)| der).collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The AMD KDS URL of the VCEK that signs `report`, from its `REPORTED_TCB` and `CHIP_ID`.
/// `None` for VLEK-signed reports, masked chip ids, and when the generation cannot be told
/// (v2 reports of Milan/Genoa carry no CPUID bytes).
pub fn kds_vcek_url(report: &[u8]) -> Option<String> {
    if report.len() != REPORT_LEN {
        return None;
    }
    let key_info = u32::from_le_bytes(report[offset::KEY_INFO..offset::KEY_INFO + 4].try_into().ok()?);
    let chip = &report[offset::CHIP_ID..offset::CHIP_ID + 64];
    if (key_info >> 2) & 7 != 0 || chip.iter().all(|&b| b == 0) {
        return None;
    }
    let version = u32::from_le_bytes(report[offset::VERSION..offset::VERSION + 4].try_into().ok()?);
    let (fam, model) = (report[offset::CPUID_FAM_ID], report[offset::CPUID_MOD_ID]);
    let product = if version >= 3 {
        match (fam, model) {
            (0x19, 0x00..=0x0F) => "Milan",
            (0x19, 0x10..=0x1F) | (0x19, 0xA0..=0xAF) => "Genoa",
            (0x1A, 0x00..=0x11) => "Turin",
            _ => return None,
        }
    } else if chip[8..].iter().all(|&b| b == 0) {
        "Turin"
    } else {
        return None;
    };
    let t = &report[offset::REPORTED_TCB..offset::REPORTED_TCB + 8];
    Some(if product == "Turin" {
        format!(
            "https://kdsintf.amd.com/vcek/v1/Turin/{}?fmcSPL={}&blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
            hex(&chip[..8]),
            t[0],
            t[1],
            t[2],
            t[3],
            t[7]
        )
    } else {
        format!(
            "https://kdsintf.amd.com/vcek/v1/{product}/{}?blSPL={}&teeSPL={}&snpSPL={}&ucodeSPL={}",
            hex(chip),
            t[0],
            t[1],
            t[6],
            t[7]
        )
    })
}

/// Checks the firmware's answer: right size, and it binds the `REPORT_DATA` we asked for.
pub(super) fn check_outblob(outblob: &[u8], report_data: &[u8; 64]) -> Result<(), AttestError> {
    if outblob.len() != REPORT_LEN {
        return Err(AttestError::Device(format!("report is {} bytes, expected {REPORT_LEN}", outblob.len())));
    }
    if outblob[offset::REPORT_DATA..offset::REPORT_DATA + 64] != report_data[..] {
        return Err(AttestError::Device("report does not carry the REPORT_DATA requested".into()));
    }
    Ok(())
}

/// SEV-SNP reports through configfs-tsm.
pub struct SnpAttester<F: ConfigFs + 'static = RealFs> {
    tsm: Arc<Tsm<F>>,
    lock: Arc<tokio::sync::Mutex<()>>,
    timeout: Duration,
    counter: AtomicU64,
}

impl SnpAttester<RealFs> {
    /// A provider over the kernel's configfs-tsm at `root`.
    pub fn new(root: impl Into<std::path::PathBuf>) -> Self {
        Self::with_tsm(Tsm::new(root), DEFAULT_TIMEOUT)
    }
}

impl<F: ConfigFs + 'static> SnpAttester<F> {
    /// A provider over any [`ConfigFs`], with a per-request timeout.
    pub fn with_tsm(tsm: Tsm<F>, timeout: Duration) -> Self {
        SnpAttester { tsm: Arc::new(tsm), lock: Arc::new(tokio::sync::Mutex::new(())), timeout, counter: AtomicU64::new(0) }
    }

    /// Whether the interface at the root is the SEV-SNP guest driver.
    pub fn probe(&self) -> Result<bool, TsmError> {
        let name = format!("pav-probe-{}", std::process::id());
        Ok(self.tsm.provider(&name)? == super::tsm::SEV_GUEST_PROVIDER)
    }

    async fn request(&self, report_data: [u8; 64]) -> Result<Report, AttestError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("pav-{}-{n}", std::process::id());
        let tsm = Arc::clone(&self.tsm);
        let lock = Arc::clone(&self.lock);
        let work = async move {
            // The guard moves into the blocking task: if the caller times out, the next request
            // still waits until the firmware has answered this one.
            let guard = lock.lock_owned().await;
            tokio::task::spawn_blocking(move || {
                let _guard = guard;
                tsm.request(&name, 0, &report_data)
            })
            .await
        };
        let answer = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| AttestError::Timeout)?
            .map_err(|e| AttestError::Device(format!("report task failed: {e}")))?
            .map_err(|e| AttestError::Device(e.to_string()))?;
        check_outblob(&answer.outblob, &report_data)?;
        let certificates = parse_cert_table(&answer.auxblob);
        let kds_url = if certificates.is_empty() { kds_vcek_url(&answer.outblob) } else { None };
        Ok(Report { raw: answer.outblob, certificates, kds_url })
    }
}

impl<F: ConfigFs + 'static> Attester for SnpAttester<F> {
    fn platform(&self) -> &'static str {
        "sev-snp"
    }

    fn report(&self, report_data: [u8; 64]) -> ReportFuture<'_> {
        Box::pin(self.request(report_data))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tsm::tests::{temp_root, FakeKernel};
    use super::*;

    fn entry(guid: [u8; 16], at: u32, len: u32) -> Vec<u8> {
        let mut e = guid.to_vec();
        e.extend_from_slice(&at.to_le_bytes());
        e.extend_from_slice(&len.to_le_bytes());
        e
    }

    #[test]
    fn cert_table_orders_endorsement_key_first() {
        let mut blob = Vec::new();
        blob.extend(entry(cert_guid::ARK, 96, 3));
        blob.extend(entry(cert_guid::VCEK, 99, 2));
        blob.extend(entry(cert_guid::ASK, 101, 1));
        blob.extend([0u8; 24]);
        blob.extend(b"arkvcask");
        assert_eq!(parse_cert_table(&blob), vec![b"vc".to_vec(), b"a".to_vec(), b"ark".to_vec()]);
        // out-of-range entries make the table unusable, not a panic
        let mut bad = entry(cert_guid::VCEK, 1000, 5);
        bad.extend([0u8; 24]);
        assert!(parse_cert_table(&bad).is_empty());
        assert!(parse_cert_table(&[]).is_empty());
        assert!(parse_cert_table(&[0xFF; 30]).is_empty());
    }

    #[test]
    fn kds_url_from_real_reports() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/verify/testdata/vectors");
        let genoa = std::fs::read(format!("{dir}/genoa-v3-msft/report.bin")).unwrap();
        assert_eq!(
            kds_vcek_url(&genoa).unwrap(),
            "https://kdsintf.amd.com/vcek/v1/Genoa/b1e24a27bbc3a4d58090d8b89851dce3b8031544be249b9ac17132bb222b027622347ee4d0fe4f689efdfc47a68cefc686cbb448d01436506ee1e28010cab7c0?blSPL=10&teeSPL=0&snpSPL=23&ucodeSPL=84"
        );
        // v2 Milan: the generation cannot be told from the report.
        let milan = std::fs::read(format!("{dir}/milan-v2-virtee/report.bin")).unwrap();
        assert_eq!(kds_vcek_url(&milan), None);
        // VLEK-signed: no public VCEK URL.
        let vlek = std::fs::read(format!("{dir}/milan-v3-vlek-aws-trustee/report.bin")).unwrap();
        assert_eq!(kds_vcek_url(&vlek), None);
        let mut turin = vec![0u8; REPORT_LEN];
        turin[0] = 3;
        turin[offset::KEY_INFO] = 0;
        turin[offset::CPUID_FAM_ID] = 0x1A;
        turin[offset::REPORTED_TCB..offset::REPORTED_TCB + 8].copy_from_slice(&[1, 1, 1, 4, 0, 0, 0, 0x51]);
        turin[offset::CHIP_ID..offset::CHIP_ID + 8].copy_from_slice(&[0x1e, 0x55, 0x0a, 0x8e, 0xe5, 0xcf, 0x9f, 0x4d]);
        assert_eq!(
            kds_vcek_url(&turin).unwrap(),
            "https://kdsintf.amd.com/vcek/v1/Turin/1e550a8ee5cf9f4d?fmcSPL=1&blSPL=1&teeSPL=1&snpSPL=4&ucodeSPL=81"
        );
    }

    #[tokio::test]
    async fn provider_over_the_file_protocol() {
        let root = temp_root("provider");
        let attester = SnpAttester::with_tsm(Tsm::with_fs(&root, FakeKernel::new("sev_guest")), Duration::from_secs(5));
        assert!(attester.probe().unwrap());
        assert_eq!(attester.platform(), "sev-snp");
        let report = attester.report([0x42; 64]).await.unwrap();
        assert_eq!(report.raw.len(), REPORT_LEN);
        assert_eq!(&report.raw[0x50..0x90], &[0x42; 64]);
        assert!(report.certificates.is_empty());
        // the fake report has no chip id, so no KDS URL can be named
        assert_eq!(report.kds_url, None);
        // requests run one after another, each in its own directory, all removed
        let (a, b) = tokio::join!(attester.report([1; 64]), attester.report([2; 64]));
        assert_eq!(&a.unwrap().raw[0x50..0x52], &[1, 1]);
        assert_eq!(&b.unwrap().raw[0x50..0x52], &[2, 2]);
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
        let wrong = SnpAttester::with_tsm(Tsm::with_fs(&root, FakeKernel::new("tdx_guest")), Duration::from_secs(5));
        assert!(!wrong.probe().unwrap());
        assert!(matches!(wrong.report([0; 64]).await, Err(AttestError::Device(_))));
        let _ = std::fs::remove_dir_all(&root);
    }

    #[tokio::test]
    async fn slow_firmware_times_out_and_keeps_requests_serial() {
        let root = temp_root("slow");
        let mut k = FakeKernel::new("sev_guest");
        k.delay = Some(Duration::from_millis(300));
        let attester = SnpAttester::with_tsm(Tsm::with_fs(&root, k), Duration::from_millis(100));
        assert_eq!(attester.report([0; 64]).await, Err(AttestError::Timeout));
        // The first request still holds the device; a second one waits behind it and times out too.
        assert_eq!(attester.report([0; 64]).await, Err(AttestError::Timeout));
        // Both abandoned requests still finish (serially) and clean up after themselves.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::fs::read_dir(&root).unwrap().count() != 0 {
            assert!(std::time::Instant::now() < deadline, "request directories left behind");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn outblob_must_echo_report_data() {
        let mut blob = vec![0u8; REPORT_LEN];
        assert!(check_outblob(&blob, &[0; 64]).is_ok());
        assert!(check_outblob(&blob, &[1; 64]).is_err());
        blob.pop();
        assert!(check_outblob(&blob, &[0; 64]).is_err());
    }
}
