//! OAuth `state` and `nonce`: random, single-use, bound to a short-lived signed cookie.
//!
//! `/login` creates a state, remembers it server-side as pending, and sets a `__Host-` cookie
//! carrying `state || nonce || expiry` under an HMAC with a per-boot key. `/callback` accepts the
//! login only if the cookie verifies, has not expired, carries the same state as the query, and
//! the state is still pending; the state is then removed, so a replayed callback is refused
//! before any call to PayPal is made. This module does no I/O.

use crate::crypto::{b64url, b64url_decode, ct_eq, hmac_parts, random};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Name of the login cookie. The `__Host-` prefix makes browsers require Secure, Path=/ and no Domain.
pub const COOKIE_NAME: &str = "__Host-pav_login";

/// How long a user has between `/login` and `/callback`.
pub const LOGIN_WINDOW: Duration = Duration::from_secs(600);

const STATE_LEN: usize = 24;
const NONCE_LEN: usize = 16;
const PAYLOAD_LEN: usize = STATE_LEN + NONCE_LEN + 8;

/// Why a callback's state was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    /// No login cookie (cookies blocked, or the login started elsewhere).
    MissingCookie,
    /// The cookie does not verify or is malformed.
    BadCookie,
    /// The login window passed.
    Expired,
    /// The query has no `state`.
    MissingState,
    /// The query's state differs from the cookie's.
    Mismatch,
    /// The state was already used (a replayed callback) or is unknown to this boot.
    NotPending,
}

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StateError::MissingCookie => "no login cookie",
            StateError::BadCookie => "login cookie does not verify",
            StateError::Expired => "login window expired",
            StateError::MissingState => "callback has no state",
            StateError::Mismatch => "callback state does not match the login cookie",
            StateError::NotPending => "state already used or unknown",
        })
    }
}

/// Too many logins in flight (the pending table is full).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Busy;

/// A login that `/login` started.
#[derive(Debug)]
pub struct NewLogin {
    /// The `state` to send to PayPal.
    pub state: String,
    /// The `nonce` to send to PayPal.
    pub nonce: String,
    /// The cookie value to set.
    pub cookie: String,
}

/// A login whose callback passed the state checks.
#[derive(Debug)]
pub struct VerifiedLogin {
    /// The raw state, for the statement's login digest.
    pub state: String,
}

/// Pending logins of this boot.
pub struct LoginStates {
    key: [u8; 32],
    capacity: usize,
    pending: Mutex<HashMap<[u8; STATE_LEN], u64>>,
}

fn unix_now(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl LoginStates {
    /// A table with a fresh key holding at most `capacity` logins in flight.
    pub fn new(capacity: usize) -> Self {
        LoginStates { key: random(), capacity, pending: Mutex::new(HashMap::new()) }
    }

    /// Starts a login.
    pub fn begin(&self, now: SystemTime) -> Result<NewLogin, Busy> {
        let state: [u8; STATE_LEN] = random();
        let nonce: [u8; NONCE_LEN] = random();
        let expiry = unix_now(now) + LOGIN_WINDOW.as_secs();
        {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            if pending.len() >= self.capacity {
                let t = unix_now(now);
                pending.retain(|_, exp| *exp > t);
                if pending.len() >= self.capacity {
                    return Err(Busy);
                }
            }
            pending.insert(state, expiry);
        }
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(&state);
        payload.extend_from_slice(&nonce);
        payload.extend_from_slice(&expiry.to_be_bytes());
        let tag = hmac_parts(&self.key, &[b"login-cookie", &payload]);
        Ok(NewLogin { state: b64url(&state), nonce: b64url(&nonce), cookie: format!("{}.{}", b64url(&payload), b64url(&tag)) })
    }

    /// Checks a callback's cookie and state and consumes the state.
    pub fn finish(&self, cookie: Option<&str>, query_state: Option<&str>, now: SystemTime) -> Result<VerifiedLogin, StateError> {
        let cookie = cookie.ok_or(StateError::MissingCookie)?;
        let (payload_b64, tag_b64) = cookie.split_once('.').ok_or(StateError::BadCookie)?;
        let payload = b64url_decode(payload_b64).filter(|p| p.len() == PAYLOAD_LEN).ok_or(StateError::BadCookie)?;
        let tag = b64url_decode(tag_b64).ok_or(StateError::BadCookie)?;
        if !ct_eq(&tag, &hmac_parts(&self.key, &[b"login-cookie", &payload])) {
            return Err(StateError::BadCookie);
        }
        let mut state = [0u8; STATE_LEN];
        state.copy_from_slice(&payload[..STATE_LEN]);
        let mut expiry = [0u8; 8];
        expiry.copy_from_slice(&payload[STATE_LEN + NONCE_LEN..]);
        if u64::from_be_bytes(expiry) <= unix_now(now) {
            // Also forget it, so the table does not hold expired entries for long.
            self.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&state);
            return Err(StateError::Expired);
        }
        let query_state = query_state.ok_or(StateError::MissingState)?;
        let query_bytes = b64url_decode(query_state).ok_or(StateError::Mismatch)?;
        if !ct_eq(&query_bytes, &state) {
            return Err(StateError::Mismatch);
        }
        if self.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&state).is_none() {
            return Err(StateError::NotPending);
        }
        Ok(VerifiedLogin { state: query_state.to_string() })
    }

    /// Forgets the login a cookie names, if it verifies (used when PayPal reports an error).
    pub fn abandon(&self, cookie: Option<&str>) {
        let Some((payload_b64, tag_b64)) = cookie.and_then(|c| c.split_once('.')) else { return };
        let (Some(payload), Some(tag)) = (b64url_decode(payload_b64), b64url_decode(tag_b64)) else { return };
        if payload.len() == PAYLOAD_LEN && ct_eq(&tag, &hmac_parts(&self.key, &[b"login-cookie", &payload])) {
            let mut state = [0u8; STATE_LEN];
            state.copy_from_slice(&payload[..STATE_LEN]);
            self.pending.lock().unwrap_or_else(PoisonError::into_inner).remove(&state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn happy_path_then_replay_is_refused() {
        let t = LoginStates::new(10);
        let now = SystemTime::now();
        let login = t.begin(now).unwrap();
        let ok = t.finish(Some(&login.cookie), Some(&login.state), now).unwrap();
        assert_eq!(ok.state, login.state);
        assert_eq!(t.finish(Some(&login.cookie), Some(&login.state), now).unwrap_err(), StateError::NotPending);
    }

    #[test]
    fn each_bad_input_has_its_error() {
        let t = LoginStates::new(10);
        let now = SystemTime::now();
        let a = t.begin(now).unwrap();
        let b = t.begin(now).unwrap();
        assert_eq!(t.finish(None, Some(&a.state), now).unwrap_err(), StateError::MissingCookie);
        assert_eq!(t.finish(Some("x"), Some(&a.state), now).unwrap_err(), StateError::BadCookie);
        let mut forged = a.cookie.clone();
        forged.replace_range(0..1, if forged.starts_with('A') { "B" } else { "A" });
        assert_eq!(t.finish(Some(&forged), Some(&a.state), now).unwrap_err(), StateError::BadCookie);
        assert_eq!(t.finish(Some(&a.cookie), None, now).unwrap_err(), StateError::MissingState);
        assert_eq!(t.finish(Some(&a.cookie), Some(&b.state), now).unwrap_err(), StateError::Mismatch);
        assert_eq!(t.finish(Some(&a.cookie), Some("%%%"), now).unwrap_err(), StateError::Mismatch);
        let later = now + LOGIN_WINDOW + Duration::from_secs(1);
        assert_eq!(t.finish(Some(&a.cookie), Some(&a.state), later).unwrap_err(), StateError::Expired);
        // Another boot's cookie does not verify.
        let other = LoginStates::new(10);
        assert_eq!(other.finish(Some(&b.cookie), Some(&b.state), now).unwrap_err(), StateError::BadCookie);
    }

    #[test]
    fn abandon_consumes_the_state() {
        let t = LoginStates::new(10);
        let now = SystemTime::now();
        let a = t.begin(now).unwrap();
        t.abandon(Some(&a.cookie));
        assert_eq!(t.finish(Some(&a.cookie), Some(&a.state), now).unwrap_err(), StateError::NotPending);
    }

    #[test]
    fn table_is_bounded_but_expired_entries_make_room() {
        let t = LoginStates::new(2);
        let now = SystemTime::now();
        t.begin(now).unwrap();
        t.begin(now).unwrap();
        assert_eq!(t.begin(now).unwrap_err(), Busy);
        assert!(t.begin(now + LOGIN_WINDOW + Duration::from_secs(1)).is_ok());
    }
}
