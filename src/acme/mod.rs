//! Certificates from an ACME CA (Let's Encrypt by default) over HTTP-01, kept in RAM only.
//!
//! - [`Issuer`] runs one order against an ordered list of CAs ([`CaEndpoint`]): a
//!   `rateLimited` answer marks that CA blocked until its `Retry-After`, raises an
//!   [`AcmeEvent::RateLimited`] through the [`Notifier`], and moves on to the next CA.
//! - The certificate is for the boot's [`TlsKey`] (CSR via `finalize_csr`), so the key hash
//!   bound into attestation reports stays valid across renewals.
//! - [`obtain_first`] retries until a certificate exists (boot); [`renew_forever`] keeps
//!   renewing (ARI window when the CA offers one, otherwise with a third of the lifetime left)
//!   and keeps serving the current certificate when a renewal fails.
//! - Every request has a deadline ([`transport::AcmeHttp`]) and every operation too; all
//!   decisions about timing live in the I/O-free [`policy`].
//!
//! Account keys are secrets: they are never logged, and errors never carry them.

pub mod ca;
pub mod policy;
pub mod transport;

use crate::config::Config;
use crate::net::http::HttpClient;
use crate::secret::Secret;
use crate::serve::Challenges;
use crate::tls::{CertStore, TlsKey};
use instant_acme::{
    Account, AuthorizationStatus, CertificateIdentifier, ChallengeType, ExternalAccountKey, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use policy::{Backoff, FailureKind, ProblemClass};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use rustls::sign::CertifiedKey;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use transport::{AcmeHttp, TransportError};

/// External Account Binding credentials (RFC 8555 §7.3.4).
#[derive(Clone, Debug)]
pub struct Eab {
    /// Key id the CA issued.
    pub kid: String,
    /// The raw HMAC key (decoded from the CA's base64url text).
    pub hmac_key: Secret,
}

/// One CA in the ordered list.
#[derive(Clone, Debug)]
pub struct CaEndpoint {
    /// Name for logs and events (`letsencrypt`, …, or `override` for a test URL).
    pub name: String,
    /// Directory URL.
    pub directory_url: String,
    /// EAB credentials, for CAs that require them.
    pub eab: Option<Eab>,
}

/// Deadlines and retry shape.
#[derive(Clone, Copy, Debug)]
pub struct Timing {
    /// Deadline of each HTTP request to a CA.
    pub request: Duration,
    /// Deadline of one whole order (account, order, validation, finalize, download).
    pub operation: Duration,
    /// First delay when polling an order; grows ×1.5.
    pub poll_initial: Duration,
    /// Retry schedule between failed operations.
    pub backoff: Backoff,
}

impl Timing {
    /// Production timing from a retry base (2 s by default).
    pub fn with_retry_base(base: Duration) -> Self {
        Timing {
            request: Duration::from_secs(30),
            operation: Duration::from_secs(300),
            poll_initial: Duration::from_millis(500).min(base),
            backoff: Backoff::new(base),
        }
    }
}

/// Everything the ACME client needs besides the network.
#[derive(Clone, Debug)]
pub struct AcmeSettings {
    /// The DNS name to certify.
    pub domain: String,
    /// CAs in order of preference (never empty).
    pub cas: Vec<CaEndpoint>,
    /// Contact address.
    pub email: Option<String>,
    /// A stable account key (PKCS#8 PEM, P-256), so that the account — and with it ARI
    /// renewals and authorization reuse — survives reboots. `None`: a key per boot.
    pub account_key: Option<Secret>,
    /// Deadlines and retries.
    pub timing: Timing,
}

/// ACME secrets, from OCI Vault in the VM or the environment in local runs.
#[derive(Clone, Debug, Default)]
pub struct AcmeSecrets {
    /// `ACME_ACCOUNT_KEY`: PKCS#8 PEM of a P-256 account key.
    pub account_key: Option<Secret>,
    /// `ACME_EAB_HMAC`: base64url HMAC key for External Account Binding.
    pub eab_hmac: Option<Secret>,
}

impl AcmeSecrets {
    /// Reads `ACME_ACCOUNT_KEY` and `ACME_EAB_HMAC` from the process environment (local runs).
    pub fn from_env() -> Self {
        AcmeSecrets {
            account_key: crate::config::secret_from_env("ACME_ACCOUNT_KEY"),
            eab_hmac: crate::config::secret_from_env("ACME_EAB_HMAC"),
        }
    }
}

impl AcmeSettings {
    /// Builds the settings from the configuration and the ACME secrets.
    pub fn from_config(config: &Config, secrets: AcmeSecrets) -> Result<Self, AcmeError> {
        let acme = &config.acme;
        let eab = match (&acme.eab_kid, &secrets.eab_hmac) {
            (Some(kid), Some(hmac)) => Some(Eab { kid: kid.clone(), hmac_key: decode_eab_key(hmac)? }),
            (None, None) => None,
            _ => return Err(AcmeError::Config("External Account Binding needs both ACME_EAB_KID and the ACME_EAB_HMAC secret".into())),
        };
        let mut cas = Vec::new();
        let primary_url = acme.directory_url_override.clone();
        for (index, known) in std::iter::once(acme.directory).chain(acme.fallback.iter().copied()).enumerate() {
            let (name, url) = match (&primary_url, index) {
                (Some(url), 0) => ("override".to_string(), url.clone()),
                _ => (known.name().to_string(), known.directory_url().to_string()),
            };
            let wants_eab = known.requires_eab() || (index == 0 && primary_url.is_some());
            let ca_eab = if wants_eab { eab.clone() } else { None };
            if known.requires_eab() && ca_eab.is_none() && !(index == 0 && primary_url.is_some()) {
                return Err(AcmeError::Config(format!("{} requires External Account Binding: set ACME_EAB_KID and the ACME_EAB_HMAC secret", known.name())));
            }
            cas.push(CaEndpoint { name, directory_url: url, eab: ca_eab });
        }
        if let Some(key) = &secrets.account_key {
            parse_account_key(key)?;
        }
        Ok(AcmeSettings {
            domain: config.domain.clone(),
            cas,
            email: acme.email.clone(),
            account_key: secrets.account_key,
            timing: Timing::with_retry_base(acme.retry_base),
        })
    }
}

fn decode_eab_key(secret: &Secret) -> Result<Secret, AcmeError> {
    use base64::Engine;
    let text = secret.expose_str().ok_or_else(|| AcmeError::Config("ACME_EAB_HMAC is not text".into()))?.trim().trim_end_matches('=');
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| AcmeError::Config("ACME_EAB_HMAC is not base64url".into()))?;
    if raw.is_empty() {
        return Err(AcmeError::Config("ACME_EAB_HMAC is empty".into()));
    }
    Ok(Secret::new(raw))
}

fn parse_account_key(secret: &Secret) -> Result<PrivatePkcs8KeyDer<'static>, AcmeError> {
    let der = PrivatePkcs8KeyDer::from_pem_slice(secret.expose()).map_err(|_| AcmeError::AccountKey("not a PKCS#8 PEM private key"))?;
    instant_acme::Key::from_pkcs8_der(der.clone_key()).map_err(|_| AcmeError::AccountKey("not a P-256 ECDSA key"))?;
    Ok(der)
}

/// Something an operator should hear about (through OCI Notifications in the VM).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AcmeEvent {
    /// A CA answered `rateLimited`; the next CA in the list is tried.
    RateLimited {
        /// The CA's name.
        ca: String,
        /// How long that CA asked us to wait, when it said.
        retry_after: Option<Duration>,
        /// The CA's problem detail.
        detail: String,
    },
    /// A certificate was issued.
    Issued {
        /// The CA's name.
        ca: String,
        /// Serial number, hex.
        serial: String,
        /// End of validity.
        not_after: SystemTime,
    },
    /// A renewal attempt failed; the current certificate is still served.
    RenewalFailed {
        /// What failed.
        error: String,
        /// End of validity of the certificate still served.
        current_not_after: SystemTime,
    },
}

/// Receives [`AcmeEvent`]s. The OCI Notifications sender implements it; [`LogNotifier`] logs.
pub trait Notifier: Send + Sync {
    /// Handles one event. Must not block for long (it is called from the ACME task).
    fn notify(&self, event: &AcmeEvent);
}

/// A [`Notifier`] that writes events to the console log.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogNotifier;

impl Notifier for LogNotifier {
    fn notify(&self, event: &AcmeEvent) {
        match event {
            AcmeEvent::RateLimited { ca, retry_after, detail } => {
                crate::error!("acme", "OPERATOR: CA {ca} rate-limited us (retry after {:?}): {detail}", retry_after.map(|d| d.as_secs()))
            }
            AcmeEvent::Issued { ca, serial, not_after } => {
                crate::info!("acme", "certificate {serial} issued by {ca}, valid until {} (unix)", unix(*not_after))
            }
            AcmeEvent::RenewalFailed { error, current_not_after } => {
                crate::error!("acme", "OPERATOR: renewal failed ({error}); still serving the certificate valid until {} (unix)", unix(*current_not_after))
            }
        }
    }
}

/// Operator notifications through OCI Notifications (and the console): the details are logged
/// here, the published event carries what an operator needs (never a secret).
impl Notifier for crate::oci::notify::Notifier {
    fn notify(&self, event: &AcmeEvent) {
        use crate::oci::notify::Event;
        LogNotifier.notify(event);
        let published = match event {
            AcmeEvent::Issued { not_after, .. } => Event::CertificateIssued { not_after: format!("{} (unix time)", unix(*not_after)) },
            AcmeEvent::RenewalFailed { error, .. } => Event::RenewalFailed { reason: error.clone() },
            AcmeEvent::RateLimited { ca, retry_after, .. } => Event::RateLimited {
                what: format!("ACME CA {ca} (retry after {} s); trying the next configured CA", retry_after.map(|d| d.as_secs()).unwrap_or(0)),
            },
        };
        crate::oci::notify::Notifier::notify(self, published);
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Why an ACME operation failed. Never carries key material.
#[derive(Debug)]
pub enum AcmeError {
    /// The ACME settings are unusable.
    Config(String),
    /// The configured account key is unusable (the text says how, never what it is).
    AccountKey(&'static str),
    /// A step exceeded its deadline.
    Timeout {
        /// The step.
        step: &'static str,
        /// The CA.
        ca: String,
    },
    /// The CA answered with a problem document.
    Problem {
        /// The step.
        step: &'static str,
        /// The CA.
        ca: String,
        /// What the problem means for us.
        class: ProblemClass,
        /// The problem `type`.
        kind: String,
        /// The problem `detail` (the CA's text).
        detail: String,
        /// How long the CA asked us to wait (header, or the detail's "retry after …").
        retry_after: Option<Duration>,
    },
    /// The CA could not be reached, or the connection failed.
    Transport {
        /// The step.
        step: &'static str,
        /// The CA.
        ca: String,
        /// What failed.
        detail: String,
    },
    /// The CA's answer did not follow the protocol (bad JSON, unexpected state, …).
    Protocol {
        /// The step.
        step: &'static str,
        /// The CA.
        ca: String,
        /// What was wrong.
        detail: String,
    },
    /// The issued chain is unusable (does not parse, not for our key, not for our name).
    Certificate(String),
    /// The CA does not offer a feature (ARI).
    Unsupported {
        /// The CA.
        ca: String,
        /// The feature.
        feature: &'static str,
    },
    /// Every CA in the list is rate-limited; the earliest may be asked again at `until`.
    AllRateLimited {
        /// When the first CA unblocks.
        until: SystemTime,
    },
}

impl std::fmt::Display for AcmeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AcmeError::Config(what) => write!(f, "ACME configuration: {what}"),
            AcmeError::AccountKey(what) => write!(f, "ACME account key: {what}"),
            AcmeError::Timeout { step, ca } => write!(f, "ACME {step} at {ca}: timed out"),
            AcmeError::Problem { step, ca, kind, detail, retry_after, .. } => {
                write!(f, "ACME {step} at {ca}: {kind}: {detail}")?;
                if let Some(wait) = retry_after {
                    write!(f, " (retry after {} s)", wait.as_secs())?;
                }
                Ok(())
            }
            AcmeError::Transport { step, ca, detail } => write!(f, "ACME {step} at {ca}: {detail}"),
            AcmeError::Protocol { step, ca, detail } => write!(f, "ACME {step} at {ca}: unexpected answer: {detail}"),
            AcmeError::Certificate(what) => write!(f, "issued certificate unusable: {what}"),
            AcmeError::Unsupported { ca, feature } => write!(f, "ACME CA {ca} does not offer {feature}"),
            AcmeError::AllRateLimited { until } => {
                write!(f, "every configured CA is rate-limited; the first unblocks in {} s", until.duration_since(SystemTime::now()).unwrap_or_default().as_secs())
            }
        }
    }
}

impl std::error::Error for AcmeError {}

impl AcmeError {
    /// Which retry schedule applies after this error.
    pub fn failure_kind(&self) -> FailureKind {
        match self {
            AcmeError::Problem { class, .. } => class.failure_kind(),
            AcmeError::AllRateLimited { .. } => FailureKind::RateLimited,
            AcmeError::Timeout { .. } | AcmeError::Transport { .. } | AcmeError::Protocol { .. } | AcmeError::Unsupported { .. } => FailureKind::Transient,
            AcmeError::Config(_) | AcmeError::AccountKey(_) | AcmeError::Certificate(_) => FailureKind::Validation,
        }
    }

    /// The earliest moment the CA allows another attempt, as a wait from now.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            AcmeError::Problem { retry_after, .. } => *retry_after,
            AcmeError::AllRateLimited { until } => Some(until.duration_since(SystemTime::now()).unwrap_or_default()),
            _ => None,
        }
    }

    fn is_bad_nonce(&self) -> bool {
        matches!(self, AcmeError::Problem { class: ProblemClass::BadNonce, .. })
    }
}

/// A certificate the CA issued for the boot's key.
#[derive(Clone)]
pub struct Issued {
    /// What the TLS listener serves.
    pub certified: Arc<CertifiedKey>,
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Leaf serial number, hex.
    pub serial: String,
    /// ARI identifier of the leaf (needs an Authority Key Identifier).
    pub cert_id: Option<CertificateIdentifier<'static>>,
    /// Index of the issuing CA in [`AcmeSettings::cas`].
    pub ca_index: usize,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("serial", &self.serial).field("not_after", &unix(self.not_after)).field("ca_index", &self.ca_index).finish()
    }
}

/// Per-CA state kept between operations.
#[derive(Default)]
struct CaState {
    account: Option<Account>,
    /// Do not ask before this time (after `rateLimited`).
    blocked_until: Option<SystemTime>,
}

/// Runs ACME orders. One operation at a time (the methods take `&mut self`).
pub struct Issuer {
    settings: AcmeSettings,
    http: AcmeHttp,
    challenges: Arc<Challenges>,
    key: Arc<TlsKey>,
    notifier: Arc<dyn Notifier>,
    states: Vec<CaState>,
}

/// Polling shape for order and certificate state.
fn poll_policy(timing: &Timing) -> RetryPolicy {
    RetryPolicy::new().initial_delay(timing.poll_initial).backoff(1.5).timeout(timing.operation)
}

/// Retries a single ACME request on `badNonce` (instant-acme already retried it twice).
macro_rules! with_nonce_retry {
    ($self:ident, $step:expr, $ca:expr, $call:expr) => {{
        let mut tries = 0u32;
        loop {
            let result = match tokio::time::timeout($self.settings.timing.operation, $call).await {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(e)) => Err($self.map_error($step, $ca, e)),
                Err(_) => Err(AcmeError::Timeout { step: $step, ca: $ca.to_string() }),
            };
            match result {
                Err(e) if e.is_bad_nonce() && tries < 4 => {
                    tries += 1;
                    crate::info!("acme", "badNonce at {} ({}), repeating the request", $step, $ca);
                    continue;
                }
                other => break other,
            }
        }
    }};
}

impl Issuer {
    /// An issuer for `settings`, answering challenges through `challenges` and certifying `key`.
    pub fn new(settings: AcmeSettings, http: HttpClient, challenges: Arc<Challenges>, key: Arc<TlsKey>, notifier: Arc<dyn Notifier>) -> Result<Self, AcmeError> {
        if settings.cas.is_empty() {
            return Err(AcmeError::Config("no ACME CA configured".into()));
        }
        let states = settings.cas.iter().map(|_| CaState::default()).collect();
        let http = AcmeHttp::new(http, settings.timing.request);
        Ok(Issuer { settings, http, challenges, key, notifier, states })
    }

    /// The settings in use.
    pub fn settings(&self) -> &AcmeSettings {
        &self.settings
    }

    fn map_error(&self, step: &'static str, ca: &str, error: instant_acme::Error) -> AcmeError {
        let hint = self.http.take_hint();
        let now = SystemTime::now();
        let ca = ca.to_string();
        match error {
            instant_acme::Error::Api(problem) => {
                let kind = problem.r#type.clone().unwrap_or_else(|| "about:blank".into());
                let detail = problem.detail.clone().unwrap_or_default();
                let class = policy::classify(problem.r#type.as_deref(), problem.status);
                let retry_after = hint
                    .map(|h| h.until.duration_since(now).unwrap_or_default())
                    .or_else(|| policy::retry_after_from_detail(&detail, now));
                AcmeError::Problem { step, ca, class, kind, detail, retry_after }
            }
            instant_acme::Error::Timeout(_) => AcmeError::Timeout { step, ca },
            instant_acme::Error::Unsupported(feature) => AcmeError::Unsupported { ca, feature },
            instant_acme::Error::Other(inner) => match inner.downcast_ref::<TransportError>() {
                Some(transport) => AcmeError::Transport { step, ca, detail: transport.0.to_string() },
                None => AcmeError::Protocol { step, ca, detail: inner.to_string() },
            },
            other => AcmeError::Protocol { step, ca, detail: other.to_string() },
        }
    }

    /// Obtains a certificate, trying the CAs in order and skipping those still blocked by a
    /// rate limit. `replaces` names the certificate being renewed (ARI), used only with the CA
    /// that issued it.
    pub async fn obtain(&mut self, replaces: Option<(usize, CertificateIdentifier<'static>)>) -> Result<Issued, AcmeError> {
        let mut earliest: Option<SystemTime> = None;
        let mut last_error = None;
        for index in 0..self.settings.cas.len() {
            let now = SystemTime::now();
            if let Some(until) = self.states[index].blocked_until {
                if until > now {
                    earliest = Some(earliest.map_or(until, |e| e.min(until)));
                    continue;
                }
                self.states[index].blocked_until = None;
            }
            let replaces_here = replaces.as_ref().filter(|(i, _)| *i == index).map(|(_, id)| id.clone());
            self.http.clear_hint();
            let result = tokio::time::timeout(self.settings.timing.operation, self.obtain_from(index, replaces_here)).await;
            let ca_name = self.settings.cas[index].name.clone();
            let error = match result {
                Ok(Ok(issued)) => {
                    self.notifier.notify(&AcmeEvent::Issued { ca: ca_name, serial: issued.serial.clone(), not_after: issued.not_after });
                    return Ok(issued);
                }
                Ok(Err(e)) => e,
                Err(_) => AcmeError::Timeout { step: "order", ca: ca_name.clone() },
            };
            if let AcmeError::Problem { class: ProblemClass::RateLimited, retry_after, detail, .. } = &error {
                let wait = self.settings.timing.backoff.delay(FailureKind::RateLimited, 0, *retry_after, 1.0);
                let until = SystemTime::now() + wait;
                self.states[index].blocked_until = Some(until);
                earliest = Some(earliest.map_or(until, |e| e.min(until)));
                self.notifier.notify(&AcmeEvent::RateLimited { ca: ca_name, retry_after: *retry_after, detail: detail.clone() });
                continue;
            }
            // Anything else is not a reason to spend another CA's limits: retry later.
            last_error = Some(error);
            break;
        }
        match (last_error, earliest) {
            (Some(error), _) => Err(error),
            (None, Some(until)) => Err(AcmeError::AllRateLimited { until }),
            (None, None) => Err(AcmeError::Config("no ACME CA configured".into())),
        }
    }

    async fn account(&mut self, index: usize) -> Result<Account, AcmeError> {
        if let Some(account) = &self.states[index].account {
            return Ok(account.clone());
        }
        let ca = self.settings.cas[index].clone();
        let contact_owned = self.settings.email.as_ref().map(|e| format!("mailto:{e}"));
        let contact: Vec<&str> = contact_owned.iter().map(String::as_str).collect();
        let builder = || Account::builder_with_http(Box::new(self.http.clone()));
        let stable_key = match (&self.settings.account_key, &ca.eab) {
            (Some(secret), None) => Some(parse_account_key(secret)?),
            // instant-acme 0.8 cannot bind an existing key with EAB; EAB CAs get a per-boot account.
            _ => None,
        };
        let account = match stable_key {
            Some(der) => {
                let key = || instant_acme::Key::from_pkcs8_der(der.clone_key()).map_err(|_| instant_acme::Error::KeyRejected);
                let (account, _credentials) = with_nonce_retry!(
                    self,
                    "account",
                    &ca.name,
                    async { builder().create_from_key((key()?, rustls::pki_types::PrivateKeyDer::Pkcs8(der.clone_key())), ca.directory_url.clone()).await }
                )?;
                if !contact.is_empty() {
                    with_nonce_retry!(self, "account-contact", &ca.name, account.update_contacts(&contact))?;
                }
                crate::info!("acme", "using the configured account key at {} (account {})", ca.name, account.id());
                account
            }
            None => {
                let eab = ca.eab.as_ref().map(|e| ExternalAccountKey::new(e.kid.clone(), e.hmac_key.expose()));
                let new_account = NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
                let (account, _credentials) =
                    with_nonce_retry!(self, "account", &ca.name, builder().create(&new_account, ca.directory_url.clone(), eab.as_ref()))?;
                crate::info!("acme", "created a per-boot account at {} (account {})", ca.name, account.id());
                account
            }
        };
        self.states[index].account = Some(account.clone());
        Ok(account)
    }

    async fn obtain_from(&mut self, index: usize, replaces: Option<CertificateIdentifier<'static>>) -> Result<Issued, AcmeError> {
        let ca = self.settings.cas[index].name.clone();
        let account = self.account(index).await?;
        let identifiers = [Identifier::Dns(self.settings.domain.clone())];
        let mut order = match &replaces {
            Some(id) => {
                let attempt = with_nonce_retry!(self, "new-order", &ca, account.new_order(&NewOrder::new(&identifiers).replaces(id.clone())));
                match attempt {
                    Ok(order) => order,
                    // ARI not offered, or already replaced: an ordinary order.
                    Err(AcmeError::Problem { class: ProblemClass::AlreadyReplaced, .. } | AcmeError::Unsupported { .. }) => {
                        with_nonce_retry!(self, "new-order", &ca, account.new_order(&NewOrder::new(&identifiers)))?
                    }
                    Err(e) => return Err(e),
                }
            }
            None => with_nonce_retry!(self, "new-order", &ca, account.new_order(&NewOrder::new(&identifiers)))?,
        };

        // Publish every pending HTTP-01 challenge, then tell the CA.
        let mut published = ChallengeGuard { challenges: Arc::clone(&self.challenges), tokens: Vec::new() };
        {
            let mut authorizations = order.authorizations();
            while let Some(next) = authorizations.next().await {
                let mut authz = next.map_err(|e| self.map_error("authorization", &ca, e))?;
                match authz.status {
                    AuthorizationStatus::Valid => continue,
                    AuthorizationStatus::Pending => {}
                    other => {
                        return Err(AcmeError::Protocol { step: "authorization", ca, detail: format!("authorization is {other:?}") });
                    }
                }
                let mut challenge = authz
                    .challenge(ChallengeType::Http01)
                    .ok_or_else(|| AcmeError::Protocol { step: "authorization", ca: ca.clone(), detail: "the CA offers no http-01 challenge".into() })?;
                let token = challenge.token.clone();
                self.challenges.insert(token.clone(), challenge.key_authorization().as_str().to_string());
                published.tokens.push(token);
                with_nonce_retry!(self, "challenge", &ca, challenge.set_ready())?;
            }
        }

        let status = with_nonce_retry!(self, "validation", &ca, order.poll_ready(&poll_policy(&self.settings.timing)))?;
        if status != OrderStatus::Ready {
            return Err(self.validation_failure(&mut order, &ca).await);
        }

        let mut params = rcgen::CertificateParams::new(vec![self.settings.domain.clone()]).map_err(|e| AcmeError::Config(format!("certificate request: {e}")))?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        let csr = params.serialize_request(self.key.key_pair()).map_err(|e| AcmeError::Config(format!("certificate request: {e}")))?;
        with_nonce_retry!(self, "finalize", &ca, order.finalize_csr(csr.der()))?;
        let pem = with_nonce_retry!(self, "certificate", &ca, order.poll_certificate(&poll_policy(&self.settings.timing)))?;
        drop(published);
        self.issued(pem.as_bytes(), index)
    }

    async fn validation_failure(&self, order: &mut instant_acme::Order, ca: &str) -> AcmeError {
        let mut authorizations = order.authorizations();
        while let Some(Ok(mut authz)) = authorizations.next().await {
            if authz.refresh().await.is_err() {
                continue;
            }
            for challenge in &authz.challenges {
                if let Some(problem) = &challenge.error {
                    let _ = self.http.take_hint();
                    let kind = problem.r#type.clone().unwrap_or_else(|| "about:blank".into());
                    return AcmeError::Problem {
                        step: "validation",
                        ca: ca.to_string(),
                        class: ProblemClass::Validation,
                        kind,
                        detail: problem.detail.clone().unwrap_or_default(),
                        retry_after: None,
                    };
                }
            }
        }
        AcmeError::Problem {
            step: "validation",
            ca: ca.to_string(),
            class: ProblemClass::Validation,
            kind: "invalid".into(),
            detail: "the order became invalid".into(),
            retry_after: None,
        }
    }

    fn issued(&self, pem: &[u8], ca_index: usize) -> Result<Issued, AcmeError> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<_, _>>()
            .map_err(|e| AcmeError::Certificate(format!("PEM: {e}")))?;
        let leaf = chain.first().ok_or_else(|| AcmeError::Certificate("empty chain".into()))?;
        let facts = leaf_facts(leaf)?;
        if facts.spki_sha256 != self.key.spki_sha256() {
            return Err(AcmeError::Certificate("the leaf is not for this boot's TLS key".into()));
        }
        if !facts.dns_names.iter().any(|n| n.eq_ignore_ascii_case(&self.settings.domain)) {
            return Err(AcmeError::Certificate(format!("the leaf does not name {}", self.settings.domain)));
        }
        let certified = self.key.certified(chain.clone()).map_err(|e| AcmeError::Certificate(e.to_string()))?;
        let cert_id = CertificateIdentifier::try_from(leaf).ok().map(CertificateIdentifier::into_owned);
        Ok(Issued { certified, chain, not_before: facts.not_before, not_after: facts.not_after, serial: facts.serial, cert_id, ca_index })
    }

    /// The ARI window the issuing CA suggests for `issued`, and when to ask again. `Ok(None)`
    /// when the CA does not offer ARI or the certificate has no identifier.
    pub async fn renewal_window(&mut self, issued: &Issued) -> Result<Option<((SystemTime, SystemTime), Duration)>, AcmeError> {
        let Some(cert_id) = &issued.cert_id else { return Ok(None) };
        let ca = self.settings.cas[issued.ca_index].name.clone();
        let account = self.account(issued.ca_index).await?;
        match with_nonce_retry!(self, "renewal-info", &ca, account.renewal_info(cert_id)) {
            Ok((info, retry)) => {
                let w = info.suggested_window;
                let at = |ts: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(ts).unwrap_or(0));
                Ok(Some(((at(w.start.unix_timestamp()), at(w.end.unix_timestamp())), retry)))
            }
            Err(AcmeError::Unsupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// Withdraws published challenge tokens when the order ends, however it ends.
struct ChallengeGuard {
    challenges: Arc<Challenges>,
    tokens: Vec<String>,
}

impl Drop for ChallengeGuard {
    fn drop(&mut self) {
        for token in &self.tokens {
            self.challenges.remove(token);
        }
    }
}

/// What the service needs to know about a leaf certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafFacts {
    /// Start of validity.
    pub not_before: SystemTime,
    /// End of validity.
    pub not_after: SystemTime,
    /// Serial, hex.
    pub serial: String,
    /// SHA-256 of the SubjectPublicKeyInfo.
    pub spki_sha256: [u8; 32],
    /// DNS subject alternative names.
    pub dns_names: Vec<String>,
}

/// Reads validity, serial, key hash and DNS names from a DER certificate.
pub fn leaf_facts(der: &[u8]) -> Result<LeafFacts, AcmeError> {
    use sha2::Digest;
    let (_, cert) = x509_parser::parse_x509_certificate(der).map_err(|e| AcmeError::Certificate(format!("X.509: {e}")))?;
    let at = |ts: i64| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(ts).unwrap_or(0));
    let validity = cert.validity();
    let mut dns_names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            if let x509_parser::extensions::GeneralName::DNSName(n) = name {
                dns_names.push(n.to_string());
            }
        }
    }
    Ok(LeafFacts {
        not_before: at(validity.not_before.timestamp()),
        not_after: at(validity.not_after.timestamp()),
        serial: crate::crypto::hex(cert.raw_serial()),
        spki_sha256: sha2::Sha256::digest(cert.public_key().raw).into(),
        dns_names,
    })
}

/// Obtains the first certificate, retrying with backoff until it succeeds. Port 80 must
/// already be answering challenges.
pub async fn obtain_first(issuer: &mut Issuer) -> Issued {
    let mut attempt = 0u32;
    let mut last_kind = None;
    loop {
        match issuer.obtain(None).await {
            Ok(issued) => return issued,
            Err(error) => {
                let kind = error.failure_kind();
                if last_kind != Some(kind) {
                    attempt = 0;
                }
                last_kind = Some(kind);
                let delay = issuer.settings.timing.backoff.delay(kind, attempt, error.retry_after(), policy::random_unit());
                crate::warn!("acme", "no certificate yet: {error}; retrying in {} ms", delay.as_millis());
                attempt = attempt.saturating_add(1);
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// Renews `current` for as long as the process lives, installing each new certificate in
/// `store`. A failed renewal keeps the current certificate and retries with backoff.
pub async fn renew_forever(mut issuer: Issuer, store: Arc<CertStore>, mut current: Issued) {
    loop {
        // Ask the CA when to renew (ARI), else use the lifetime rule.
        let now = SystemTime::now();
        let (window, recheck) = match issuer.renewal_window(&current).await {
            Ok(Some((window, retry))) => (Some(window), Some(policy::ari_recheck(retry))),
            Ok(None) => (None, None),
            Err(e) => {
                crate::warn!("acme", "renewal information unavailable: {e}");
                (None, Some(policy::ARI_ERROR_RECHECK))
            }
        };
        let renew_at = policy::renewal_time(current.not_before, current.not_after, window, now, policy::random_unit());
        let wait = renew_at.duration_since(SystemTime::now()).unwrap_or_default();
        crate::info!("acme", "certificate {} renews in {} s{}", current.serial, wait.as_secs(), if window.is_some() { " (ARI window)" } else { "" });
        match recheck {
            Some(recheck) if recheck < wait => {
                tokio::time::sleep(recheck).await;
                continue;
            }
            _ => tokio::time::sleep(wait).await,
        }

        let mut attempt = 0u32;
        let mut last_kind = None;
        loop {
            let replaces = current.cert_id.clone().map(|id| (current.ca_index, id));
            match issuer.obtain(replaces).await {
                Ok(issued) => {
                    store.set(Arc::clone(&issued.certified));
                    crate::info!("acme", "renewed: now serving {} (was {})", issued.serial, current.serial);
                    current = issued;
                    break;
                }
                Err(error) => {
                    // Tell the operator on the first failure and then at 2, 4, 8, … failures.
                    if attempt.is_power_of_two() || attempt == 0 {
                        issuer.notifier.notify(&AcmeEvent::RenewalFailed { error: error.to_string(), current_not_after: current.not_after });
                    }
                    let kind = error.failure_kind();
                    if last_kind != Some(kind) {
                        attempt = 0;
                    }
                    last_kind = Some(kind);
                    let delay = issuer.settings.timing.backoff.delay(kind, attempt, error.retry_after(), policy::random_unit());
                    attempt = attempt.saturating_add(1);
                    crate::warn!("acme", "renewal retry in {} ms", delay.as_millis());
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Config {
        let mut map: HashMap<String, String> = [("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "auth.example.com")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::parse(&|key| map.get(key.env_name()).cloned()).unwrap()
    }

    fn secret(text: &str) -> Option<Secret> {
        Some(Secret::from(text.to_string()))
    }

    #[test]
    fn default_is_lets_encrypt_production_only() {
        let s = AcmeSettings::from_config(&config(&[]), AcmeSecrets::default()).unwrap();
        assert_eq!(s.cas.len(), 1);
        assert_eq!(s.cas[0].directory_url, "https://acme-v02.api.letsencrypt.org/directory");
        assert!(s.cas[0].eab.is_none() && s.account_key.is_none());
        assert_eq!(s.domain, "auth.example.com");
    }

    #[test]
    fn fallback_ca_needs_eab() {
        let c = config(&[("ACME_FALLBACK", "zerossl")]);
        let e = AcmeSettings::from_config(&c, AcmeSecrets::default()).unwrap_err();
        assert!(e.to_string().contains("zerossl requires External Account Binding"), "{e}");
        let c = config(&[("ACME_FALLBACK", "zerossl"), ("ACME_EAB_KID", "kid")]);
        let s = AcmeSettings::from_config(&c, AcmeSecrets { account_key: None, eab_hmac: secret("AAEC") }).unwrap();
        assert_eq!(s.cas[1].name, "zerossl");
        let eab = s.cas[1].eab.as_ref().unwrap();
        assert_eq!((eab.kid.as_str(), eab.hmac_key.expose()), ("kid", &[0u8, 1, 2][..]));
        assert!(s.cas[0].eab.is_none(), "Let's Encrypt gets no EAB");
        // Half an EAB pair is a configuration error; a bad HMAC never shows in the message.
        assert!(AcmeSettings::from_config(&config(&[("ACME_EAB_KID", "kid")]), AcmeSecrets::default()).is_err());
        let e = AcmeSettings::from_config(&c, AcmeSecrets { account_key: None, eab_hmac: secret("not base64 !!") }).unwrap_err();
        assert!(!e.to_string().contains("not base64 !!"), "{e}");
    }

    #[test]
    fn override_url_replaces_only_the_first_ca() {
        let c = config(&[("ACME_DIRECTORY_URL", "https://127.0.0.1:14000/dir"), ("ACME_FALLBACK", "letsencrypt-staging")]);
        let s = AcmeSettings::from_config(&c, AcmeSecrets::default()).unwrap();
        assert_eq!((s.cas[0].name.as_str(), s.cas[0].directory_url.as_str()), ("override", "https://127.0.0.1:14000/dir"));
        assert_eq!(s.cas[1].directory_url, "https://acme-staging-v02.api.letsencrypt.org/directory");
    }

    #[test]
    fn account_key_is_checked_and_never_echoed() {
        let bad = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let e = AcmeSettings::from_config(&config(&[]), AcmeSecrets { account_key: secret(bad), eab_hmac: None }).unwrap_err();
        assert!(matches!(e, AcmeError::AccountKey(_)));
        assert!(!e.to_string().contains("AAAA"));
        let good = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap().serialize_pem();
        let s = AcmeSettings::from_config(&config(&[]), AcmeSecrets { account_key: secret(&good), eab_hmac: None }).unwrap();
        assert!(!format!("{s:?}").contains(good.lines().nth(1).unwrap()), "Debug shows key material");
        // P-384 is refused (instant-acme signs with P-256 only).
        let p384 = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap().serialize_pem();
        assert!(AcmeSettings::from_config(&config(&[]), AcmeSecrets { account_key: secret(&p384), eab_hmac: None }).is_err());
    }

    #[test]
    fn leaf_facts_of_a_generated_certificate() {
        let key = TlsKey::generate().unwrap();
        let certified = key.self_signed("auth.example.com").unwrap();
        let facts = leaf_facts(&certified.cert[0]).unwrap();
        assert_eq!(facts.spki_sha256, key.spki_sha256());
        assert!(facts.dns_names.contains(&"auth.example.com".to_string()));
        assert!(facts.not_after > facts.not_before);
        assert!(matches!(leaf_facts(b"not a certificate"), Err(AcmeError::Certificate(_))));
    }
}
