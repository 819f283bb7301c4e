//! The service's start-up, as a list of named steps, each logged with its duration.
//!
//! A step that fails returns a [`BootError`] naming the step; `main` logs it and (as PID 1)
//! reboots. Nothing serves logins before the PayPal secret is loaded.

use crate::acme;
use crate::attest;
use crate::config::{Config, TlsSource};
use crate::net::http::{HttpClient, Resolver};
use crate::oci::config_source::ConfigSource;
use crate::oci::notify::{Event, Notifier};
use crate::paypal::PaypalClient;
use crate::secret::Secret;
use crate::serve::{self, Challenges, Limits};
use crate::signing::PageSigner;
use crate::tls::{self, CertStore, TlsKey};
use crate::web::{App, AppParts};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

/// A failed boot step.
#[derive(Debug)]
pub struct BootError {
    /// The step's name.
    pub step: &'static str,
    /// What went wrong (never a secret).
    pub reason: String,
}

impl std::fmt::Display for BootError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "boot step '{}' failed: {}", self.step, self.reason)
    }
}

impl std::error::Error for BootError {}

/// Runs `f` as the named step, logging its duration or failure.
pub fn step<T, E: std::fmt::Display>(name: &'static str, f: impl FnOnce() -> Result<T, E>) -> Result<T, BootError> {
    let start = Instant::now();
    match f() {
        Ok(value) => {
            crate::info!("boot", "step {name} ok ({} ms)", start.elapsed().as_millis());
            Ok(value)
        }
        Err(e) => Err(BootError { step: name, reason: e.to_string() }),
    }
}

/// The async form of [`step`].
pub async fn step_async<T, E: std::fmt::Display>(name: &'static str, f: impl std::future::Future<Output = Result<T, E>>) -> Result<T, BootError> {
    let start = Instant::now();
    match f.await {
        Ok(value) => {
            crate::info!("boot", "step {name} ok ({} ms)", start.elapsed().as_millis());
            Ok(value)
        }
        Err(e) => Err(BootError { step: name, reason: e.to_string() }),
    }
}

/// The secrets the service needs, however they were obtained.
pub struct Secrets {
    /// PayPal client secret.
    pub paypal_secret: Secret,
    /// Optional PKCS#8 PEM signing key.
    pub signing_key: Option<Secret>,
    /// ACME account key and EAB HMAC key, when configured.
    pub acme: crate::acme::AcmeSecrets,
}

/// Reads the secrets from the process environment (local runs).
pub fn secrets_from_env() -> Result<Secrets, String> {
    let paypal_secret = crate::config::secret_from_env("PAYPAL_SECRET").ok_or("PAYPAL_SECRET is not set")?;
    Ok(Secrets { paypal_secret, signing_key: crate::config::secret_from_env("SIGNING_KEY"), acme: crate::acme::AcmeSecrets::from_env() })
}

/// Starts the service and serves until the process ends.
///
/// `CONFIG_SOURCE` picks where configuration and secrets come from: `env` (default, local runs)
/// or `oci` (instance metadata + Vault, see [`crate::oci::startup`]).
pub async fn run(resolver: Resolver) -> Result<(), BootError> {
    let (config, secrets, notifier) = match step("config-source", ConfigSource::from_env)? {
        ConfigSource::Env => {
            let config = step("config", Config::from_env)?;
            let secrets = step("secrets", secrets_from_env)?;
            let notifier = Notifier::console_only(&config.domain);
            (config, secrets, notifier)
        }
        ConfigSource::Oci => {
            let oci = crate::oci::startup::load(resolver.clone()).await?;
            (oci.config, oci.secrets, oci.notifier)
        }
    };
    let result = serve_with(config, secrets, notifier.clone(), resolver).await;
    if let Err(e) = &result {
        notifier.notify_and_wait(Event::Fatal { reason: e.to_string() }, std::time::Duration::from_secs(10)).await;
    }
    result
}

/// Builds the app from the configuration and secrets, then serves.
async fn serve_with(config: Config, secrets: Secrets, notifier: Notifier, resolver: Resolver) -> Result<(), BootError> {
    let signer = step("signing-key", || match &secrets.signing_key {
        Some(pem) => PageSigner::from_pem(pem),
        None => Ok(PageSigner::generate()),
    })?;
    crate::info!("boot", "signing key {} ({})", signer.kid(), if signer.is_ephemeral() { "generated in this boot" } else { "loaded from a secret" });
    let boot_event = Event::BootComplete { signing_public_jwk: serde_json::to_string(signer.jwk()).unwrap_or_default(), ephemeral_key: signer.is_ephemeral() };
    let http = step("outbound-http", || HttpClient::new(config.outbound_ca_file.as_deref(), resolver.clone()))?;
    let tls_key = Arc::new(step("tls-key", TlsKey::generate)?);
    let attester = attest::detect();
    let paypal = PaypalClient::new(http.clone(), &config, &secrets.paypal_secret);
    let Secrets { paypal_secret, signing_key, acme: acme_secrets } = secrets;
    drop((paypal_secret, signing_key));
    let self_signed = config.tls_source == TlsSource::SelfSigned;
    let app = App::new(AppParts {
        config: config.clone(),
        paypal,
        signer,
        attester,
        tls_key_sha256: tls_key.spki_sha256(),
        self_signed_tls: self_signed,
    })
    .await;

    let store = CertStore::new();
    let challenges = Challenges::new();
    let ready = Arc::new(AtomicBool::new(false));
    let http_listener = step_async("listen-http", serve::bind(config.http_addr)).await?;
    let https_listener = step_async("listen-https", serve::bind(config.https_addr)).await?;
    // Sized to the open-files limit (which the PID-1 code in src/sys raises soft→hard first).
    let (limits, http_limits) = Limits::for_fd_limit(serve::nofile_soft_limit());
    tokio::spawn(serve::serve_http(http_listener, Arc::clone(&challenges), config.public_url.clone(), Arc::clone(&ready), http_limits));

    match config.tls_source {
        TlsSource::SelfSigned => {
            let cert = step("self-signed-certificate", || tls_key.self_signed(&config.domain))?;
            store.set(cert);
            crate::warn!("tls", "serving a SELF-SIGNED certificate (local run); pages say so");
        }
        TlsSource::Acme => {
            let settings = step("acme-settings", || acme::AcmeSettings::from_config(&config, acme_secrets))?;
            let mut issuer = step("acme-client", || {
                acme::Issuer::new(settings, http.clone(), Arc::clone(&challenges), Arc::clone(&tls_key), Arc::new(notifier.clone()))
            })?;
            // Retries with backoff until a certificate exists; port 80 is already answering.
            let issued = step_async("certificate", async { Ok::<_, std::convert::Infallible>(acme::obtain_first(&mut issuer).await) }).await?;
            store.set(Arc::clone(&issued.certified));
            tokio::spawn(acme::renew_forever(issuer, Arc::clone(&store), issued));
        }
    }
    let tls_config = step("tls-config", || tls::server_config(Arc::clone(&store)))?;
    ready.store(true, std::sync::atomic::Ordering::Release);
    crate::info!("boot", "serving {} on https://{} (http on {})", config.public_url, config.https_addr, config.http_addr);
    notifier.notify(boot_event);
    serve::serve_https(https_listener, tls_config, app, limits).await;
    Ok(())
}
