//! Per-client token buckets, so one address cannot monopolise logins or the attestation device.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// A token bucket per client address, with a bounded number of tracked clients.
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    max_clients: usize,
    buckets: Mutex<HashMap<IpAddr, (f64, Instant)>>,
}

impl RateLimiter {
    /// Allows `burst` requests at once and `per_second` sustained, per address.
    pub fn new(burst: u32, per_second: f64, max_clients: usize) -> Self {
        RateLimiter { burst: f64::from(burst), per_second, max_clients, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `client`; false when the client must wait.
    pub fn allow(&self, client: IpAddr, now: Instant) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if buckets.len() >= self.max_clients && !buckets.contains_key(&client) {
            // Drop buckets that have refilled completely: they carry no information.
            let (burst, rate) = (self.burst, self.per_second);
            buckets.retain(|_, (tokens, at)| *tokens + now.saturating_duration_since(*at).as_secs_f64() * rate < burst);
            if buckets.len() >= self.max_clients {
                return false;
            }
        }
        let (tokens, at) = buckets.entry(client).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn burst_then_refill() {
        let l = RateLimiter::new(3, 1.0, 10);
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t = Instant::now();
        assert!(l.allow(ip, t) && l.allow(ip, t) && l.allow(ip, t));
        assert!(!l.allow(ip, t));
        assert!(l.allow(ip, t + Duration::from_secs(1)));
        let other: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.allow(other, t), "clients are independent");
    }

    #[test]
    fn client_table_is_bounded() {
        let l = RateLimiter::new(1, 0.001, 2);
        let t = Instant::now();
        assert!(l.allow("192.0.2.1".parse().unwrap(), t));
        assert!(l.allow("192.0.2.2".parse().unwrap(), t));
        assert!(!l.allow("192.0.2.3".parse().unwrap(), t));
    }
}
