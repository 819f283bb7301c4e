//! Clock sanity: TLS certificate checks, ACME and OCI request signatures all need a wall clock
//! that is roughly right. A VM whose RTC is unset starts in 1970 (or wherever the host left it);
//! rather than fail later with confusing "certificate not yet valid" errors, refuse early.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Earliest plausible time: 2026-01-01T00:00:00Z (before this code was written).
pub const EARLIEST: Duration = Duration::from_secs(1_767_225_600);
/// Latest plausible time: 2100-01-01T00:00:00Z.
pub const LATEST: Duration = Duration::from_secs(4_102_444_800);

/// Why the clock is not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockError {
    /// The clock reads before [`EARLIEST`] (seconds since the epoch shown).
    TooEarly(u64),
    /// The clock reads after [`LATEST`].
    TooLate(u64),
}

impl std::fmt::Display for ClockError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockError::TooEarly(s) => write!(f, "wall clock reads {s} s since 1970, before 2026: RTC not set?"),
            ClockError::TooLate(s) => write!(f, "wall clock reads {s} s since 1970, after 2100"),
        }
    }
}

impl std::error::Error for ClockError {}

/// Judges a clock reading (I/O-free, for tests).
pub fn judge(now: SystemTime) -> Result<Duration, ClockError> {
    let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    if since < EARLIEST {
        Err(ClockError::TooEarly(since.as_secs()))
    } else if since > LATEST {
        Err(ClockError::TooLate(since.as_secs()))
    } else {
        Ok(since)
    }
}

/// Checks the current wall clock. Call before anything that depends on the time being right
/// (TLS, ACME, OCI request signing).
pub fn check() -> Result<Duration, ClockError> {
    judge(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn judges_epoch_now_and_far_future() {
        assert_eq!(judge(UNIX_EPOCH), Err(ClockError::TooEarly(0)));
        assert!(judge(UNIX_EPOCH + EARLIEST + Duration::from_secs(86_400)).is_ok());
        assert!(matches!(judge(UNIX_EPOCH + LATEST + Duration::from_secs(1)), Err(ClockError::TooLate(_))));
    }
}
