//! Small cryptographic helpers shared by the service's modules.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Fills a fresh array from the kernel's CSPRNG.
///
/// Failure means the kernel has no entropy source at all; nothing in the service can be safe
/// then, so this is the one place that stops the process instead of returning an error.
pub fn random<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    if let Err(e) = getrandom::getrandom(&mut out) {
        crate::error!("crypto", "kernel random number generator failed: {e}");
        std::process::abort();
    }
    out
}

/// HMAC-SHA256 of the concatenation of `parts` under `key`, each part length-prefixed so that
/// moving bytes between parts changes the tag.
pub fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable_hmac()
    };
    for part in parts {
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cold]
fn unreachable_hmac() -> ! {
    crate::error!("crypto", "HMAC refused a key (impossible for HMAC-SHA256)");
    std::process::abort()
}

/// Constant-time equality of two byte strings of possibly different lengths.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict base64url without padding.
pub fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).ok()
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_parts_is_injective_over_boundaries() {
        assert_ne!(hmac_parts(b"k", &[b"ab", b"c"]), hmac_parts(b"k", &[b"a", b"bc"]));
        assert_eq!(hmac_parts(b"k", &[b"ab", b"c"]), hmac_parts(b"k", &[b"ab", b"c"]));
    }

    #[test]
    fn ct_eq_works() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
