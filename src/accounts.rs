//! The one-use set: each PayPal account may use the service once per boot.
//!
//! Accounts are keyed by `HMAC-SHA256(per-boot key, environment, client id, user id)` truncated
//! to 128 bits, so raw PayPal ids are never kept and the set is meaningless after a reboot.
//! 128 bits keeps the chance of any collision among 10⁸ accounts below 10⁻²¹.
//!
//! [`OneUseSet::reserve`] is an atomic check-and-insert that returns a [`Reservation`]. The
//! reservation removes its entry again when dropped, unless [`Reservation::commit`] was called:
//! a login that fails after the check (signing, attestation, rendering) never burns the account.

use hmac::{Hmac, Mac};
use paypal_auth_evidence::binding::Environment;
use sha2::Sha256;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// The stored form of one account.
pub type AccountKey = [u8; 16];

/// Why a reservation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This account has already used the service in this boot (or is using it right now).
    AlreadyUsed,
    /// The set is full; nothing is ever evicted.
    Full,
}

/// The set of accounts that have used the service this boot.
pub struct OneUseSet {
    /// HMAC keyed once per boot; cloning the keyed state skips the key schedule per lookup.
    mac: Hmac<Sha256>,
    capacity: usize,
    entries: Mutex<HashSet<AccountKey>>,
}

impl OneUseSet {
    /// An empty set with a fresh random key, holding at most `capacity` accounts.
    pub fn new(capacity: usize) -> Arc<Self> {
        Self::with_key(crate::crypto::random(), capacity)
    }

    /// An empty set with a given key (benchmarks and tests).
    pub fn with_key(key: [u8; 32], capacity: usize) -> Arc<Self> {
        // HMAC takes keys of any length, so this cannot fail; an empty-keyed MAC would still be
        // correct, merely unkeyed, so no panic path is needed.
        let mac = Hmac::<Sha256>::new_from_slice(&key).unwrap_or_else(|_| Hmac::<Sha256>::new(&Default::default()));
        Arc::new(OneUseSet { mac, capacity, entries: Mutex::new(HashSet::new()) })
    }

    /// The stored key of an account.
    pub fn account_key(&self, environment: Environment, client_id: &str, user_id: &str) -> AccountKey {
        let mut mac = self.mac.clone();
        for part in [environment.as_str().as_bytes(), client_id.as_bytes(), user_id.as_bytes()] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part);
        }
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; 16];
        out.copy_from_slice(&tag[..16]);
        out
    }

    /// Atomically checks that `account` is new and inserts it.
    pub fn reserve(self: &Arc<Self>, account: AccountKey) -> Result<Reservation, Refusal> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.contains(&account) {
            return Err(Refusal::AlreadyUsed);
        }
        if entries.len() >= self.capacity {
            return Err(Refusal::Full);
        }
        entries.insert(account);
        Ok(Reservation { set: Arc::clone(self), account, committed: false })
    }

    /// How many accounts are in the set (including reservations in flight).
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// True when no account has used the service.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The configured capacity.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn release(&self, account: &AccountKey) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(account);
    }
}

/// An account held in the set while its login completes.
#[must_use = "a reservation that is dropped without commit() releases the account"]
pub struct Reservation {
    set: Arc<OneUseSet>,
    account: AccountKey,
    committed: bool,
}

impl Reservation {
    /// Makes the use permanent (for this boot).
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.committed {
            self.set.release(&self.account);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_refused_after_commit() {
        let set = OneUseSet::new(10);
        let k = set.account_key(Environment::Live, "client", "user-1");
        set.reserve(k).unwrap().commit();
        assert_eq!(set.reserve(k).err(), Some(Refusal::AlreadyUsed));
        let other = set.account_key(Environment::Live, "client", "user-2");
        assert!(set.reserve(other).is_ok());
    }

    #[test]
    fn dropped_reservation_releases_the_account() {
        let set = OneUseSet::new(10);
        let k = set.account_key(Environment::Sandbox, "c", "u");
        let r = set.reserve(k).unwrap();
        assert_eq!(set.reserve(k).err(), Some(Refusal::AlreadyUsed), "in-flight login holds the account");
        drop(r);
        assert!(set.is_empty());
        set.reserve(k).unwrap().commit();
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn keys_separate_environment_client_and_user() {
        let set = OneUseSet::new(10);
        let a = set.account_key(Environment::Live, "c", "u");
        assert_ne!(a, set.account_key(Environment::Sandbox, "c", "u"));
        assert_ne!(a, set.account_key(Environment::Live, "c2", "u"));
        assert_ne!(a, set.account_key(Environment::Live, "c", "u2"));
        let other_boot = OneUseSet::new(10);
        assert_ne!(a, other_boot.account_key(Environment::Live, "c", "u"), "per-boot key");
    }

    #[test]
    fn full_set_refuses_and_never_evicts() {
        let set = OneUseSet::new(2);
        for u in ["a", "b"] {
            set.reserve(set.account_key(Environment::Live, "c", u)).unwrap().commit();
        }
        assert_eq!(set.reserve(set.account_key(Environment::Live, "c", "z")).err(), Some(Refusal::Full));
        assert_eq!(set.reserve(set.account_key(Environment::Live, "c", "a")).err(), Some(Refusal::AlreadyUsed));
    }

    #[test]
    fn concurrent_reservations_admit_exactly_one() {
        let set = OneUseSet::new(100);
        let k = set.account_key(Environment::Live, "c", "same");
        let wins: usize = std::thread::scope(|s| {
            let handles: Vec<_> = (0..16)
                .map(|_| {
                    let set = Arc::clone(&set);
                    s.spawn(move || match set.reserve(k) {
                        Ok(r) => {
                            r.commit();
                            1
                        }
                        Err(_) => 0,
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
        });
        assert_eq!(wins, 1);
    }
}
