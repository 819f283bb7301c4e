//! Protocol decisions without I/O: when to renew, how long to back off, how to read
//! `Retry-After`, and what an ACME problem means for the next step.
//!
//! Every function here takes "now" and any randomness as arguments, so the tests below can
//! pin them.

use std::time::{Duration, SystemTime};

/// The longest wait any server hint may impose (a hostile or buggy CA cannot park the service
/// for longer than this before it tries again or falls back).
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(8 * 24 * 3600);

/// Lifetimes shorter than this renew at half their lifetime, longer ones at two thirds (Let's
/// Encrypt's integration guide).
const SHORT_LIFETIME: Duration = Duration::from_secs(10 * 24 * 3600);

/// Bounds of the ARI re-check interval (RFC 9773 §4.3.2 asks for 1 minute to 1 day).
pub const ARI_RECHECK_MIN: Duration = Duration::from_secs(60);
/// See [`ARI_RECHECK_MIN`].
pub const ARI_RECHECK_MAX: Duration = Duration::from_secs(24 * 3600);
/// How long to wait before asking for renewal information again after it failed (RFC 9773).
pub const ARI_ERROR_RECHECK: Duration = Duration::from_secs(6 * 3600);

/// When to renew a certificate valid from `not_before` to `not_after`.
///
/// With an ARI window (`start`, `end`) from the CA, a uniformly random point in it chosen with
/// `random` (in `[0, 1)`); a window already over means "now". A malformed window (end not after
/// start) is ignored. Without a window: one third of the lifetime before `not_after` (half for
/// lifetimes under ten days). The result is never before `now`.
pub fn renewal_time(not_before: SystemTime, not_after: SystemTime, ari_window: Option<(SystemTime, SystemTime)>, now: SystemTime, random: f64) -> SystemTime {
    let random = if random.is_finite() { random.clamp(0.0, 1.0) } else { 0.5 };
    if let Some((start, end)) = ari_window {
        if let Ok(width) = end.duration_since(start) {
            if !width.is_zero() {
                let at = start + width.mul_f64(random);
                return at.max(now);
            }
        }
    }
    let lifetime = not_after.duration_since(not_before).unwrap_or(Duration::ZERO);
    let remaining_share = if lifetime < SHORT_LIFETIME { lifetime / 2 } else { lifetime / 3 };
    let at = not_after.checked_sub(remaining_share).unwrap_or(not_before);
    at.max(now)
}

/// How long to wait before asking for renewal information again, from the CA's `Retry-After`.
pub fn ari_recheck(retry_after: Duration) -> Duration {
    retry_after.clamp(ARI_RECHECK_MIN, ARI_RECHECK_MAX)
}

/// What a failure means for the retry schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// The network, a timeout, a server error, a bad nonce: retry soon.
    Transient,
    /// The CA could not validate our challenge, or refused the request: retry slowly, since
    /// Let's Encrypt allows only 5 validation failures per hour per name and account.
    Validation,
    /// The CA limited us: do not ask that CA again before its `Retry-After`.
    RateLimited,
}

/// The shape of the retry schedule; [`Backoff::new`] derives everything from one base step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// First delay after a transient failure.
    pub base: Duration,
}

impl Backoff {
    /// A schedule whose first transient delay is `base` (2 s in production).
    pub fn new(base: Duration) -> Self {
        Backoff { base }
    }

    /// The delay before attempt `attempt + 1`, after `attempt` consecutive failures of `kind`
    /// (`attempt` starts at 0). Exponential with "equal jitter" (`random` in `[0, 1)` picks a
    /// point in the upper half of the step), capped, and never shorter than the server's
    /// `retry_after` (itself capped at [`MAX_SERVER_WAIT`]).
    ///
    /// Transient: base × 2ⁿ up to base × 300 (2 s … 10 min). Validation: base × 30 × 4ⁿ up to
    /// base × 7200 (1 min, 4 min, 16 min, 64 min, 4 h). Rate-limited: the server's time, or
    /// base × 1800 (1 h) when it gave none.
    pub fn delay(&self, kind: FailureKind, attempt: u32, retry_after: Option<Duration>, random: f64) -> Duration {
        let random = if random.is_finite() { random.clamp(0.0, 1.0) } else { 0.5 };
        let (first, factor, cap) = match kind {
            FailureKind::Transient => (self.base, 2u32, self.base.saturating_mul(300)),
            FailureKind::Validation => (self.base.saturating_mul(30), 4, self.base.saturating_mul(7200)),
            FailureKind::RateLimited => (self.base.saturating_mul(1800), 1, self.base.saturating_mul(1800)),
        };
        let growth = factor.checked_pow(attempt.min(30)).unwrap_or(u32::MAX);
        let step = first.saturating_mul(growth).min(cap);
        let jittered = step / 2 + (step / 2).mul_f64(random);
        match retry_after {
            Some(wait) => jittered.max(wait.min(MAX_SERVER_WAIT)),
            None => jittered,
        }
    }
}

/// Parses an HTTP `Retry-After` value (delay-seconds or an HTTP-date) into a wait from `now`.
/// A date in the past is a zero wait; anything unparseable is `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(|s| Duration::from_secs(s).min(MAX_SERVER_WAIT));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_SERVER_WAIT))
}

/// Reads the "retry after 2025-09-18 09:13:16 UTC" text Let's Encrypt puts in rate-limit
/// problem details, as a wait from `now` (the fallback when the header was not seen).
pub fn retry_after_from_detail(detail: &str, now: SystemTime) -> Option<Duration> {
    let lower = detail.to_ascii_lowercase();
    let start = lower.find("retry after ")? + "retry after ".len();
    let rest = detail.get(start..)?;
    // "YYYY-MM-DD HH:MM:SS UTC"
    let stamp = rest.get(..19)?;
    let b = stamp.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<u64> {
        let s = stamp.get(r)?;
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().ok()
        } else {
            None
        }
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || b.get(10) != Some(&b' ') || b.get(13) != Some(&b':') || b.get(16) != Some(&b':') {
        return None;
    }
    if !rest.get(19..)?.trim_start().starts_with("UTC") {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 || year < 1970 {
        return None;
    }
    let days = days_from_civil(year as i64, month as i64, day as i64);
    let secs = u64::try_from(days).ok()?.checked_mul(86400)? + hour * 3600 + minute * 60 + second;
    let at = SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    Some(at.duration_since(now).unwrap_or(Duration::ZERO).min(MAX_SERVER_WAIT))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

/// How an ACME problem document (RFC 8555 §6.7) affects the next step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProblemClass {
    /// `rateLimited`: move to the next CA and wait for `Retry-After` before asking this one again.
    RateLimited,
    /// `badNonce`: repeat the request with a fresh nonce.
    BadNonce,
    /// The CA could not validate control of the name (`unauthorized`, `connection`, `dns`,
    /// `incorrectResponse`, `caa`, `tls`, `rejectedIdentifier`).
    Validation,
    /// `alreadyReplaced` (RFC 9773): order again without `replaces`.
    AlreadyReplaced,
    /// `serverInternal` or any 5xx: retry later.
    Server,
    /// Anything else the CA refused (`malformed`, `unauthorized` account state, `externalAccountRequired`, …):
    /// a configuration problem; retry slowly.
    Refused,
}

/// Classifies a problem by its `type` URN and HTTP status.
pub fn classify(problem_type: Option<&str>, status: Option<u16>) -> ProblemClass {
    let kind = problem_type.and_then(|t| t.strip_prefix("urn:ietf:params:acme:error:")).unwrap_or("");
    match kind {
        "rateLimited" => ProblemClass::RateLimited,
        "badNonce" => ProblemClass::BadNonce,
        "alreadyReplaced" => ProblemClass::AlreadyReplaced,
        "unauthorized" | "connection" | "dns" | "incorrectResponse" | "caa" | "tls" | "rejectedIdentifier" | "unsupportedIdentifier" => {
            ProblemClass::Validation
        }
        "serverInternal" => ProblemClass::Server,
        _ if status == Some(429) => ProblemClass::RateLimited,
        _ if status.is_some_and(|s| s >= 500) => ProblemClass::Server,
        _ => ProblemClass::Refused,
    }
}

impl ProblemClass {
    /// The retry schedule this class of problem uses.
    pub fn failure_kind(self) -> FailureKind {
        match self {
            ProblemClass::RateLimited => FailureKind::RateLimited,
            ProblemClass::BadNonce | ProblemClass::Server | ProblemClass::AlreadyReplaced => FailureKind::Transient,
            ProblemClass::Validation | ProblemClass::Refused => FailureKind::Validation,
        }
    }
}

/// A uniformly distributed number in `[0, 1)` from the OS generator (0.5 if it fails).
pub fn random_unit() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::getrandom(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86400);

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn renews_at_two_thirds_of_a_90_day_certificate() {
        let nb = t(1_000_000);
        let na = nb + 90 * DAY;
        assert_eq!(renewal_time(nb, na, None, nb, 0.3), nb + 60 * DAY);
    }

    #[test]
    fn short_lived_certificates_renew_at_half() {
        let nb = t(1_000_000);
        assert_eq!(renewal_time(nb, nb + 6 * DAY, None, nb, 0.3), nb + 3 * DAY);
        assert_eq!(renewal_time(nb, nb + Duration::from_secs(30), None, nb, 0.9), nb + Duration::from_secs(15));
    }

    #[test]
    fn renewal_is_never_in_the_past() {
        let nb = t(1_000_000);
        let now = nb + 80 * DAY;
        assert_eq!(renewal_time(nb, nb + 90 * DAY, None, now, 0.0), now);
        // Expired certificate, inverted validity: still "now", no panic.
        assert_eq!(renewal_time(nb + DAY, nb, None, now, 0.0), now);
    }

    #[test]
    fn ari_window_is_sampled_uniformly() {
        let nb = t(1_000_000);
        let (s, e) = (nb + 10 * DAY, nb + 12 * DAY);
        assert_eq!(renewal_time(nb, nb + 90 * DAY, Some((s, e)), nb, 0.0), s);
        assert_eq!(renewal_time(nb, nb + 90 * DAY, Some((s, e)), nb, 0.5), nb + 11 * DAY);
        // Out-of-range randomness is clamped, not trusted.
        assert_eq!(renewal_time(nb, nb + 90 * DAY, Some((s, e)), nb, 7.0), e);
        assert_eq!(renewal_time(nb, nb + 90 * DAY, Some((s, e)), nb, f64::NAN), nb + 11 * DAY);
    }

    #[test]
    fn ari_window_in_the_past_means_now() {
        let nb = t(1_000_000);
        let now = nb + 20 * DAY;
        assert_eq!(renewal_time(nb, nb + 90 * DAY, Some((nb + DAY, nb + 2 * DAY)), now, 0.5), now);
    }

    #[test]
    fn malformed_ari_window_falls_back_to_lifetime() {
        let nb = t(1_000_000);
        let na = nb + 90 * DAY;
        assert_eq!(renewal_time(nb, na, Some((nb + 12 * DAY, nb + 10 * DAY)), nb, 0.5), nb + 60 * DAY);
        assert_eq!(renewal_time(nb, na, Some((nb + 12 * DAY, nb + 12 * DAY)), nb, 0.5), nb + 60 * DAY);
    }

    #[test]
    fn ari_recheck_is_clamped() {
        assert_eq!(ari_recheck(Duration::ZERO), ARI_RECHECK_MIN);
        assert_eq!(ari_recheck(Duration::from_secs(6 * 3600)), Duration::from_secs(6 * 3600));
        assert_eq!(ari_recheck(Duration::from_secs(30 * 86400)), ARI_RECHECK_MAX);
    }

    #[test]
    fn transient_backoff_doubles_with_jitter_and_cap() {
        let b = Backoff::new(Duration::from_secs(2));
        assert_eq!(b.delay(FailureKind::Transient, 0, None, 0.0), Duration::from_secs(1));
        assert_eq!(b.delay(FailureKind::Transient, 0, None, 1.0), Duration::from_secs(2));
        assert_eq!(b.delay(FailureKind::Transient, 3, None, 1.0), Duration::from_secs(16));
        assert_eq!(b.delay(FailureKind::Transient, 40, None, 1.0), Duration::from_secs(600));
        assert_eq!(b.delay(FailureKind::Transient, u32::MAX, None, 0.0), Duration::from_secs(300));
    }

    #[test]
    fn validation_backoff_is_slow() {
        let b = Backoff::new(Duration::from_secs(2));
        assert_eq!(b.delay(FailureKind::Validation, 0, None, 1.0), Duration::from_secs(60));
        assert_eq!(b.delay(FailureKind::Validation, 1, None, 1.0), Duration::from_secs(240));
        assert_eq!(b.delay(FailureKind::Validation, 9, None, 1.0), Duration::from_secs(4 * 3600));
    }

    #[test]
    fn retry_after_is_a_floor() {
        let b = Backoff::new(Duration::from_secs(2));
        assert_eq!(b.delay(FailureKind::Transient, 0, Some(Duration::from_secs(120)), 1.0), Duration::from_secs(120));
        assert_eq!(b.delay(FailureKind::RateLimited, 0, Some(Duration::from_secs(86400)), 0.5), Duration::from_secs(86400));
        assert_eq!(b.delay(FailureKind::RateLimited, 0, None, 1.0), Duration::from_secs(3600));
        assert_eq!(b.delay(FailureKind::RateLimited, 0, Some(Duration::from_secs(u64::MAX / 4)), 1.0), MAX_SERVER_WAIT);
    }

    #[test]
    fn parses_retry_after_header() {
        let now = t(784_111_777 - 60); // 60 s before Sun, 06 Nov 1994 08:49:37 GMT
        assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(Duration::from_secs(60)));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", t(900_000_000)), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("99999999999999999999999", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
        assert_eq!(parse_retry_after("999999999999", now), Some(MAX_SERVER_WAIT));
    }

    #[test]
    fn parses_lets_encrypt_detail() {
        // 2025-09-18 09:13:16 UTC = 1758186796
        let now = t(1_758_186_796 - 3600);
        let detail = "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after 2025-09-18 09:13:16 UTC: see https://letsencrypt.org/docs/rate-limits/";
        assert_eq!(retry_after_from_detail(detail, now), Some(Duration::from_secs(3600)));
        assert_eq!(retry_after_from_detail(detail, t(1_800_000_000)), Some(Duration::ZERO));
        assert_eq!(retry_after_from_detail("retry after tomorrow", now), None);
        assert_eq!(retry_after_from_detail("retry after 2025-13-18 09:13:16 UTC", now), None);
        assert_eq!(retry_after_from_detail("retry after 2025-09-18 09:13:16", now), None);
        assert_eq!(retry_after_from_detail("retry after 2025-09-18 09:13:1", now), None);
        assert_eq!(retry_after_from_detail("retry after ２０２５-09-18 09:13:16 UTC", now), None);
        assert_eq!(retry_after_from_detail("no hint", now), None);
    }

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11017);
        assert_eq!(days_from_civil(2026, 12, 3), 20790);
    }

    #[test]
    fn classifies_problems() {
        let c = |t: &str, s| classify(Some(t), s);
        assert_eq!(c("urn:ietf:params:acme:error:rateLimited", Some(429)), ProblemClass::RateLimited);
        assert_eq!(c("urn:ietf:params:acme:error:badNonce", Some(400)), ProblemClass::BadNonce);
        assert_eq!(c("urn:ietf:params:acme:error:unauthorized", Some(403)), ProblemClass::Validation);
        assert_eq!(c("urn:ietf:params:acme:error:connection", None), ProblemClass::Validation);
        assert_eq!(c("urn:ietf:params:acme:error:alreadyReplaced", Some(409)), ProblemClass::AlreadyReplaced);
        assert_eq!(c("urn:ietf:params:acme:error:serverInternal", Some(500)), ProblemClass::Server);
        assert_eq!(c("urn:ietf:params:acme:error:malformed", Some(400)), ProblemClass::Refused);
        assert_eq!(c("about:blank", Some(503)), ProblemClass::Server);
        assert_eq!(c("about:blank", Some(429)), ProblemClass::RateLimited);
        assert_eq!(classify(None, None), ProblemClass::Refused);
        assert_eq!(ProblemClass::RateLimited.failure_kind(), FailureKind::RateLimited);
        assert_eq!(ProblemClass::BadNonce.failure_kind(), FailureKind::Transient);
        assert_eq!(ProblemClass::Validation.failure_kind(), FailureKind::Validation);
    }

    #[test]
    fn random_unit_is_in_range() {
        for _ in 0..100 {
            let r = random_unit();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
