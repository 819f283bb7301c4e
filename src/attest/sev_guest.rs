//! SEV-SNP reports through the `/dev/sev-guest` ioctl: the second choice, for kernels or
//! configurations where configfs-tsm is absent. Our own kernel (6.12, `TSM_REPORTS=y`) always
//! offers configfs-tsm, so in the image this path is a fallback that should never be taken.
//!
//! The ioctl itself lives in [`crate::sys`]; this module serialises requests, bounds each with a
//! timeout, and checks the firmware's answer (an I/O-free parser, tested below).

use super::snp::{check_outblob, kds_vcek_url, REPORT_LEN};
use super::{AttestError, Attester, Report, ReportFuture};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The device path.
pub const DEVICE: &str = "/dev/sev-guest";

/// Byte offset of the report inside MSG_REPORT_RSP (after status, size and 24 reserved bytes).
const REPORT_OFFSET: usize = 32;

/// Extracts the report from the firmware's MSG_REPORT_RSP: status must be 0 and the size 1184.
pub fn parse_report_response(response: &[u8]) -> Result<Vec<u8>, AttestError> {
    let word = |at: usize| response.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    let (Some(status), Some(size)) = (word(0), word(4)) else {
        return Err(AttestError::Device("report response too short".into()));
    };
    if status != 0 {
        return Err(AttestError::Device(format!("firmware status {status:#x}")));
    }
    if size as usize != REPORT_LEN {
        return Err(AttestError::Device(format!("firmware report size {size}, expected {REPORT_LEN}")));
    }
    response
        .get(REPORT_OFFSET..REPORT_OFFSET + REPORT_LEN)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| AttestError::Device("report response truncated".into()))
}

/// SEV-SNP reports through `/dev/sev-guest`, at VMPL 0.
pub struct SevGuestAttester {
    device: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
    timeout: Duration,
}

impl SevGuestAttester {
    /// A provider over the device at `device`.
    pub fn new(device: impl Into<PathBuf>) -> Self {
        SevGuestAttester { device: device.into(), lock: Arc::new(tokio::sync::Mutex::new(())), timeout: Duration::from_secs(5) }
    }

    async fn request(&self, report_data: [u8; 64]) -> Result<Report, AttestError> {
        let device = self.device.clone();
        let lock = Arc::clone(&self.lock);
        let work = async move {
            let guard = lock.lock_owned().await;
            tokio::task::spawn_blocking(move || {
                let _guard = guard;
                let file = std::fs::OpenOptions::new().read(true).write(true).open(&device)?;
                crate::sys::snp_get_report(&file, &report_data, 0)
            })
            .await
        };
        let response = tokio::time::timeout(self.timeout, work)
            .await
            .map_err(|_| AttestError::Timeout)?
            .map_err(|e| AttestError::Device(format!("report task failed: {e}")))?
            .map_err(|e| AttestError::Device(e.to_string()))?;
        let raw = parse_report_response(&response[..])?;
        check_outblob(&raw, &report_data)?;
        let kds_url = kds_vcek_url(&raw);
        Ok(Report { raw, certificates: Vec::new(), kds_url })
    }
}

impl Attester for SevGuestAttester {
    fn platform(&self) -> &'static str {
        "sev-snp"
    }

    fn report(&self, report_data: [u8; 64]) -> ReportFuture<'_> {
        Box::pin(self.request(report_data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u32, size: u32, report: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 4000];
        r[0..4].copy_from_slice(&status.to_le_bytes());
        r[4..8].copy_from_slice(&size.to_le_bytes());
        r[32..32 + report.len()].copy_from_slice(report);
        r
    }

    #[test]
    fn firmware_answers_are_checked() {
        let report = vec![0xAB; REPORT_LEN];
        assert_eq!(parse_report_response(&response(0, 1184, &report)).unwrap(), report);
        assert!(matches!(parse_report_response(&response(0x16, 1184, &report)), Err(AttestError::Device(e)) if e.contains("0x16")));
        assert!(matches!(parse_report_response(&response(0, 1000, &report)), Err(AttestError::Device(_))));
        assert!(matches!(parse_report_response(&[0; 7]), Err(AttestError::Device(_))));
        assert!(matches!(parse_report_response(&[0; 100]), Err(AttestError::Device(_))));
    }

    #[tokio::test]
    async fn missing_device_is_a_device_error_not_a_report() {
        let attester = SevGuestAttester::new("/nonexistent/sev-guest");
        assert!(matches!(attester.report([0; 64]).await, Err(AttestError::Device(_))));
    }
}
