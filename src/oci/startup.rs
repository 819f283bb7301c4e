//! The OCI boot steps (`CONFIG_SOURCE=oci`): instance metadata → typed config → instance
//! principal session → PayPal secret (and signing key) from Vault → notifier.
//!
//! Every remote step retries with exponential backoff (1 s doubling to a cap of 60 s) and one
//! console line per failure, for as long as it takes: no exit, no crash loop, and — since the
//! listeners open only after this returns — no login is ever served without the PayPal secret.
//! An operator can fix metadata, a policy or a secret while the VM waits.
//!
//! Endpoint overrides come only from the process environment (the measured command line in the
//! image; tests point them at the stand-ins): `OCI_IMDS_BASE`, `OCI_AUTH_BASE`,
//! `OCI_SECRETS_BASE`, `OCI_NOTIFICATION_BASE`; `OCI_RETRY_MAX_MS` caps the backoff.

use super::config_source::{layered, oci_settings, OciSettings};
use super::federation::Federation;
use super::imds::{Imds, Instance, DEFAULT_BASE};
use super::notify::{Notifier, Target};
use super::{secrets, Clock};
use crate::boot::{BootError, Secrets};
use crate::config::Config;
use crate::net::http::{HttpClient, Resolver};
use crate::secret::Secret;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the OCI boot steps produce.
pub struct OciBoot {
    /// The typed configuration (environment over metadata).
    pub config: Config,
    /// The secrets read from Vault.
    pub secrets: Secrets,
    /// The notifier (publishing when a topic is configured).
    pub notifier: Notifier,
    /// The session provider, for later calls.
    pub federation: Arc<Federation>,
}

/// Endpoint overrides and retry tuning from the process environment.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `OCI_IMDS_BASE` (default `http://169.254.169.254/opc/v2`).
    pub imds_base: Option<String>,
    /// `OCI_AUTH_BASE` (default `https://auth.<region>.<realm domain>`).
    pub auth_base: Option<String>,
    /// `OCI_SECRETS_BASE` (default `https://secrets.vaults.<region>.oci.<realm domain>`).
    pub secrets_base: Option<String>,
    /// `OCI_NOTIFICATION_BASE` (default: the topic endpoint from metadata, else
    /// `https://notification.<region>.<realm domain>`).
    pub notification_base: Option<String>,
    /// `OCI_RETRY_MAX_MS`: backoff cap (default 60000).
    pub retry_max: Option<Duration>,
}

impl Overrides {
    /// Reads the overrides from the process environment.
    pub fn from_env() -> Overrides {
        let var = |name: &str| std::env::var(name).ok().map(|v| v.trim().trim_end_matches('/').to_string()).filter(|v| !v.is_empty());
        Overrides {
            imds_base: var("OCI_IMDS_BASE"),
            auth_base: var("OCI_AUTH_BASE"),
            secrets_base: var("OCI_SECRETS_BASE"),
            notification_base: var("OCI_NOTIFICATION_BASE"),
            retry_max: var("OCI_RETRY_MAX_MS").and_then(|v| v.parse().ok()).map(Duration::from_millis),
        }
    }
}

/// Exponential backoff, 1 s doubling up to a cap.
#[derive(Clone, Debug)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    /// Starts at `min(1 s, cap)`.
    pub fn new(cap: Duration) -> Backoff {
        Backoff { next: Duration::from_secs(1).min(cap), cap }
    }

    /// The delay before the next attempt.
    pub fn step(&mut self) -> Duration {
        let now = self.next;
        self.next = (self.next * 2).min(self.cap);
        now
    }
}

/// Runs `attempt` until it succeeds, logging one line per failure.
pub async fn retry<T, E, F, Fut>(what: &str, cap: Duration, mut attempt: F) -> T
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut backoff = Backoff::new(cap);
    let started = Instant::now();
    let mut n: u64 = 0;
    loop {
        n = n.saturating_add(1);
        match attempt().await {
            Ok(value) => {
                crate::info!("boot", "step {what} ok ({} ms{})", started.elapsed().as_millis(), if n > 1 { format!(", {n} attempts") } else { String::new() });
                return value;
            }
            Err(e) => {
                let delay = backoff.step();
                crate::warn!("oci", "{what} failed (attempt {n}): {e}; retrying in {} ms", delay.as_millis());
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Reads the instance document and parses the configuration and OCI settings from it.
async fn configuration(imds: &Imds) -> Result<(Instance, Config, OciSettings), String> {
    let instance = imds.instance().await.map_err(|e| e.to_string())?;
    let env = |name: &str| std::env::var(name).ok();
    let config = Config::parse(&layered(&env, &instance.metadata)).map_err(|e| format!("configuration: {e}"))?;
    let settings = oci_settings(&env, &instance.metadata, &instance.region, &instance.realm_domain).map_err(|e| e.to_string())?;
    Ok((instance, config, settings))
}

/// Runs the OCI boot steps. Returns only when the PayPal secret is in RAM; the only error is a
/// local one (an unusable `OUTBOUND_CA_FILE`).
pub async fn load(resolver: Resolver) -> Result<OciBoot, BootError> {
    let overrides = Overrides::from_env();
    for name in ["PAYPAL_SECRET", "SIGNING_KEY"] {
        if std::env::var_os(name).is_some() {
            crate::warn!("oci", "{name} in the environment is ignored with CONFIG_SOURCE=oci (secrets come from OCI Vault)");
        }
    }
    let cap = overrides.retry_max.unwrap_or(Duration::from_secs(60));
    let extra_roots = std::env::var("OUTBOUND_CA_FILE").ok().filter(|v| !v.is_empty());
    let http = crate::boot::step("oci-http", || HttpClient::new(extra_roots.as_deref(), resolver))?;
    let imds = Imds::new(http.clone(), overrides.imds_base.as_deref().unwrap_or(DEFAULT_BASE));

    let (instance, config, settings) = retry("instance-metadata", cap, || configuration(&imds)).await;
    crate::info!(
        "oci",
        "instance {} in {} ({}); paypal secret {}; signing key {}; notifications {}",
        instance.id,
        instance.region,
        instance.realm_domain,
        settings.paypal_secret_ocid,
        settings.signing_key_secret_ocid.as_deref().unwrap_or("generated in this boot"),
        settings.notification.as_ref().map(|(t, _)| t.as_str()).unwrap_or("console only")
    );

    let auth_base = overrides.auth_base.clone().unwrap_or_else(|| format!("https://auth.{}.{}", instance.region, instance.realm_domain));
    let secrets_base = overrides.secrets_base.clone().unwrap_or_else(|| format!("https://secrets.vaults.{}.oci.{}", instance.region, instance.realm_domain));
    let federation = Arc::new(Federation::new(http, imds, &auth_base, Arc::new(Clock::default())));
    retry("instance-principal", cap, || federation.session()).await;

    let paypal_secret: Secret = retry("vault-paypal-secret", cap, || secrets::fetch(&federation, &secrets_base, &settings.paypal_secret_ocid)).await;
    let signing_key = match &settings.signing_key_secret_ocid {
        Some(ocid) => Some(retry("vault-signing-key", cap, || secrets::fetch(&federation, &secrets_base, ocid)).await),
        None => None,
    };
    let notifier = match settings.notification {
        Some((topic_ocid, endpoint)) => {
            let endpoint = overrides.notification_base.clone().unwrap_or(endpoint);
            Notifier::publishing(&config.domain, Target { federation: Arc::clone(&federation), endpoint, topic_ocid })
        }
        None => Notifier::console_only(&config.domain),
    };
    let mut acme = crate::acme::AcmeSecrets::default();
    if let Some(ocid) = &settings.acme_account_key_secret_ocid {
        acme.account_key = Some(retry("vault-acme-account-key", cap, || secrets::fetch(&federation, &secrets_base, ocid)).await);
    }
    if let Some(ocid) = &settings.acme_eab_hmac_secret_ocid {
        acme.eab_hmac = Some(retry("vault-acme-eab-hmac", cap, || secrets::fetch(&federation, &secrets_base, ocid)).await);
    }
    Ok(OciBoot { config, secrets: Secrets { paypal_secret, signing_key, acme }, notifier, federation })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(5));
        let steps: Vec<u64> = (0..5).map(|_| b.step().as_secs()).collect();
        assert_eq!(steps, [1, 2, 4, 5, 5]);
        let mut short = Backoff::new(Duration::from_millis(200));
        assert_eq!(short.step(), Duration::from_millis(200));
    }
}
