//! The PayPal Auth VM verifier: offline checks of result pages and AMD SEV-SNP attestation
//! reports, the launch-measurement calculator, and the live `/attestation` check.
//!
//! Modules, from the bytes up:
//! * [`report`]: the `ATTESTATION_REPORT` with explicit byte offsets (v2/v3/v5);
//! * [`certs`]: pinned AMD roots, RSASSA-PSS chain, VCEK/VLEK extensions, report signature;
//! * [`policy`]: guest-policy and minimum-TCB rules from a versioned policy file;
//! * [`check`]: the checklist and the report pipeline that runs all of the above;
//! * [`measure`]: the SNP launch digest (identical to `sev-snp-measure` 0.0.13);
//! * [`page`]: bundle, JWS, claims and `REPORT_DATA` binding of a result page;
//! * [`live`]: the `/attestation` exchange and its TLS-key binding;
//! * [`verdict`]: `FULL_CHAIN` / `FIRMWARE_ONLY` / `NONE`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use paypal_auth_evidence as evidence;

pub mod certs;
pub mod check;
pub mod fuzzing;
pub mod kds;
pub mod live;
pub mod measure;
pub mod page;
pub mod policy;
pub mod report;
pub mod time;
pub mod verdict;

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Parses hex (either case, even length, optional `0x`).
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t).as_bytes();
    if t.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    t.chunks(2).map(|p| Some(nib(p[0])? << 4 | nib(p[1])?)).collect()
}

/// Constant-time equality of equal-length byte strings (false on different lengths).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
