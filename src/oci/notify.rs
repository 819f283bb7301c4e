//! Operator notifications through OCI Notifications (ONS PublishMessage, research/oci.md §5).
//!
//! A [`Notifier`] takes typed [`Event`]s — which by construction hold no secrets and no user
//! data — and publishes them to the configured topic from a background task, at most
//! [`MAX_PER_MINUTE`] per minute (more are dropped with a console line). Every event is also
//! written to the console, so a disabled notifier (local runs, no topic configured) still
//! leaves a trace.
//!
//! Usage from other modules (e.g. the ACME engine): keep a clone of the `Notifier` and call
//! `notifier.notify(Event::CertificateIssued { .. })`; it never blocks and never fails.

use super::federation::{error_body, Federation};
use hyper::Method;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// Publishes allowed per rolling minute.
pub const MAX_PER_MINUTE: usize = 10;
/// Deadline of one publish.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// Cap of the longest free-text field of an event.
const MAX_TEXT: usize = 500;

/// Something the operator should hear about. Fields are public values only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The service is serving; carries the public signing key so the operator can pin it.
    BootComplete {
        /// The page-signing public key as a JWK (JSON).
        signing_public_jwk: String,
        /// Whether the key was generated in this boot (vs loaded from Vault).
        ephemeral_key: bool,
    },
    /// A TLS certificate was issued.
    CertificateIssued {
        /// Its expiry, as text.
        not_after: String,
    },
    /// Renewing the certificate failed; the old one is still served.
    RenewalFailed {
        /// Why (an error's Display, never a secret).
        reason: String,
    },
    /// A rate limit is shedding traffic.
    RateLimited {
        /// What is limited (e.g. "logins per client", "PayPal 429").
        what: String,
    },
    /// A fatal error; the VM reboots next.
    Fatal {
        /// Why (an error's Display, never a secret).
        reason: String,
    },
}

fn clip(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(MAX_TEXT).collect()
}

impl Event {
    /// A short name for the event.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::BootComplete { .. } => "boot complete",
            Event::CertificateIssued { .. } => "certificate issued",
            Event::RenewalFailed { .. } => "certificate renewal failed",
            Event::RateLimited { .. } => "rate limit",
            Event::Fatal { .. } => "fatal error, rebooting",
        }
    }

    /// The message `(title, body)` for a service at `domain`. I/O-free.
    pub fn message(&self, domain: &str) -> (String, String) {
        let title = format!("paypal-auth-vm {domain}: {}", self.kind());
        let body = match self {
            Event::BootComplete { signing_public_jwk, ephemeral_key } => format!(
                "The service at https://{domain} is serving.\nSigning public key ({}): {}",
                if *ephemeral_key { "generated in this boot" } else { "loaded from Vault" },
                clip(signing_public_jwk)
            ),
            Event::CertificateIssued { not_after } => format!("A new TLS certificate for {domain} was issued; it expires {}.", clip(not_after)),
            Event::RenewalFailed { reason } => format!("Renewing the TLS certificate for {domain} failed; the current certificate is still served.\nReason: {}", clip(reason)),
            Event::RateLimited { what } => format!("Rate limit active at {domain}: {}", clip(what)),
            Event::Fatal { reason } => format!("The service at {domain} hit a fatal error and reboots.\nReason: {}", clip(reason)),
        };
        (title, body)
    }
}

/// The ONS publish URL. I/O-free.
pub fn publish_url(endpoint: &str, topic_ocid: &str) -> String {
    format!("{}/20181201/topics/{topic_ocid}/messages", endpoint.trim_end_matches('/'))
}

/// A rolling one-minute window of send times. I/O-free.
#[derive(Debug, Default)]
pub struct RateWindow {
    sent: VecDeque<Instant>,
}

impl RateWindow {
    /// Records a send at `now` if fewer than [`MAX_PER_MINUTE`] happened in the last minute.
    pub fn try_take(&mut self, now: Instant) -> bool {
        while self.sent.front().is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(60)) {
            self.sent.pop_front();
        }
        if self.sent.len() >= MAX_PER_MINUTE {
            return false;
        }
        self.sent.push_back(now);
        true
    }
}

struct Job {
    event: Event,
    done: Option<oneshot::Sender<()>>,
}

/// Where and how to publish.
pub struct Target {
    /// The session provider.
    pub federation: Arc<Federation>,
    /// `https://notification.<region>.<realm domain>` or the topic's cell endpoint.
    pub endpoint: String,
    /// Topic OCID.
    pub topic_ocid: String,
}

/// The notification sender. Cheap to clone.
#[derive(Clone)]
pub struct Notifier {
    domain: Arc<str>,
    tx: Option<mpsc::Sender<Job>>,
    window: Arc<Mutex<RateWindow>>,
}

impl Notifier {
    /// A notifier that only writes to the console (local runs, or no topic configured).
    pub fn console_only(domain: &str) -> Notifier {
        Notifier { domain: domain.into(), tx: None, window: Arc::default() }
    }

    /// A notifier publishing to `target`; spawns its sender task (needs a Tokio runtime).
    pub fn publishing(domain: &str, target: Target) -> Notifier {
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(sender(domain.to_string(), target, rx));
        Notifier { domain: domain.into(), tx: Some(tx), window: Arc::default() }
    }

    /// True when events go to a topic.
    pub fn is_publishing(&self) -> bool {
        self.tx.is_some()
    }

    fn admit(&self, event: &Event) -> bool {
        crate::info!("notify", "{}", event.kind());
        if self.tx.is_none() {
            return false;
        }
        let allowed = self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner).try_take(Instant::now());
        if !allowed {
            crate::warn!("notify", "notification '{}' dropped: more than {MAX_PER_MINUTE} per minute", event.kind());
        }
        allowed
    }

    /// Queues `event` for publishing; never blocks, never fails.
    pub fn notify(&self, event: Event) {
        if !self.admit(&event) {
            return;
        }
        if let Some(tx) = &self.tx {
            if tx.try_send(Job { event, done: None }).is_err() {
                crate::warn!("notify", "notification dropped: queue full");
            }
        }
    }

    /// Publishes `event` and waits up to `wait` for it to be sent (before a reboot).
    pub async fn notify_and_wait(&self, event: Event, wait: Duration) {
        if !self.admit(&event) {
            return;
        }
        if let Some(tx) = &self.tx {
            let (done, finished) = oneshot::channel();
            if tx.try_send(Job { event, done: Some(done) }).is_ok() {
                let _ = tokio::time::timeout(wait, finished).await;
            }
        }
    }

    /// The domain events are about.
    pub fn domain(&self) -> &str {
        &self.domain
    }
}

async fn sender(domain: String, target: Target, mut rx: mpsc::Receiver<Job>) {
    let url = publish_url(&target.endpoint, &target.topic_ocid);
    while let Some(job) = rx.recv().await {
        let (title, body) = job.event.message(&domain);
        let payload = serde_json::json!({ "title": title, "body": body }).to_string().into_bytes();
        let mut delay = Duration::from_secs(1);
        for attempt in 1..=3 {
            match target.federation.call(Method::POST, &url, payload.clone(), TIMEOUT, 16 * 1024).await {
                Ok(r) if r.status.is_success() => {
                    crate::info!("notify", "published '{}' to the topic", job.event.kind());
                    break;
                }
                Ok(r) => {
                    let (code, _) = error_body(&r.body);
                    crate::warn!("notify", "publishing '{}' failed (attempt {attempt}/3): HTTP {} {code}", job.event.kind(), r.status.as_u16());
                    if r.status.is_client_error() && r.status.as_u16() != 429 {
                        break;
                    }
                }
                Err(e) => crate::warn!("notify", "publishing '{}' failed (attempt {attempt}/3): {e}", job.event.kind()),
            }
            if attempt < 3 {
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
        }
        if let Some(done) = job.done {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_ten_per_minute() {
        let mut w = RateWindow::default();
        let t0 = Instant::now();
        for _ in 0..MAX_PER_MINUTE {
            assert!(w.try_take(t0));
        }
        assert!(!w.try_take(t0 + Duration::from_secs(59)));
        assert!(w.try_take(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn messages_are_clipped_and_single_purpose() {
        let (title, body) = Event::Fatal { reason: format!("x\n{}", "y".repeat(2000)) }.message("auth.example.com");
        assert_eq!(title, "paypal-auth-vm auth.example.com: fatal error, rebooting");
        assert!(body.len() < 700, "{}", body.len());
        assert_eq!(publish_url("https://n.example/", "ocid1.onstopic.oc1.iad.x"), "https://n.example/20181201/topics/ocid1.onstopic.oc1.iad.x/messages");
    }
}
