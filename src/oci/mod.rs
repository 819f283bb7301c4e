//! Oracle Cloud (OCI) platform client: instance metadata (IMDS v2), instance-principal
//! federation, Vault secrets and Notifications, and the boot steps that use them.
//!
//! Protocol cores are I/O-free ([`signer`] and the parsers in each module); the I/O goes through
//! the one outbound client, [`crate::net::http::HttpClient`]. See `docs/oci.md`.

pub mod config_source;
pub mod federation;
pub mod imds;
pub mod notify;
pub mod secrets;
pub mod signer;
pub mod startup;

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The wall clock used for signed requests: the system clock plus a correction learned from
/// the auth service when it reports a skew of more than five minutes (the image has no NTP;
/// the auth service's `Date` arrives over TLS checked against compiled-in roots).
#[derive(Debug, Default)]
pub struct Clock {
    offset_secs: AtomicI64,
}

impl Clock {
    /// Unix seconds, corrected.
    pub fn now(&self) -> i64 {
        let system = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
        system + self.offset_secs.load(Ordering::Relaxed)
    }

    /// Adds `delta` seconds to the correction.
    pub fn adjust(&self, delta: i64) {
        self.offset_secs.fetch_add(delta, Ordering::Relaxed);
    }

    /// The current correction, seconds.
    pub fn offset(&self) -> i64 {
        self.offset_secs.load(Ordering::Relaxed)
    }
}
