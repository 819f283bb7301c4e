//! The service configuration, parsed once at start into a typed struct.
//!
//! Sources, highest precedence first:
//! 1. the process environment — in the image it is fixed by the measured kernel command line, so
//!    it is part of what the attestation covers; local runs and tests use it to point the service
//!    at stand-ins;
//! 2. OCI instance metadata (unmeasured, operator-controlled), which may only *choose* among
//!    compiled-in options and name public values; it can never change where PayPal is or which
//!    roots outbound TLS trusts (see [`Key::metadata_allowed`]).
//!
//! Secrets are not configuration: they arrive through [`crate::secret::Secret`] from the
//! environment (local runs) or OCI Vault.

use crate::acme::ca::KnownCa;
use crate::secret::Secret;
use paypal_auth_evidence::binding::Environment;
use std::net::SocketAddr;
use std::time::Duration;

/// Every configuration key the service reads, with its environment-variable name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// `PAYPAL_CLIENT_ID`: the PayPal app's client id.
    PaypalClientId,
    /// `PAYPAL_ENVIRONMENT`: `live` (default) or `sandbox`.
    PaypalEnvironment,
    /// `PAYPAL_AUTH_BASE`: override of the browser-facing PayPal base URL (tests, demo).
    PaypalAuthBase,
    /// `PAYPAL_API_BASE`: override of the PayPal API base URL (tests, demo).
    PaypalApiBase,
    /// `PAYPAL_TIMEOUT_MS`: timeout of each PayPal API call (default 10000).
    PaypalTimeoutMs,
    /// `DOMAIN`: the public DNS name.
    Domain,
    /// `PUBLIC_URL`: base URL users reach the service at, when it is not `https://<DOMAIN>`
    /// (a local run on a high port).
    PublicUrl,
    /// `HTTP_ADDR`: plain-HTTP listener (ACME challenges, redirects); default `0.0.0.0:80`.
    HttpAddr,
    /// `HTTPS_ADDR`: TLS listener; default `0.0.0.0:443`.
    HttpsAddr,
    /// `TLS_SOURCE`: `acme` (default) or `self-signed` (local runs only; announced on every page).
    TlsSource,
    /// `ACCOUNT_CAPACITY`: how many PayPal accounts may use the service this boot (default 1000000).
    AccountCapacity,
    /// `OUTBOUND_CA_FILE`: a PEM file of extra roots for outbound TLS (tests with local CAs).
    OutboundCaFile,
    /// `ACME_DIRECTORY`: the compiled-in ACME CA to use first (default `letsencrypt`).
    AcmeDirectory,
    /// `ACME_FALLBACK`: comma-separated compiled-in CAs to try, in order, when the ones before
    /// are rate-limited (default none).
    AcmeFallback,
    /// `ACME_EMAIL`: contact address given to the CA (optional).
    AcmeEmail,
    /// `ACME_EAB_KID`: External Account Binding key id for the CAs that require one (the HMAC
    /// key is a secret, `ACME_EAB_HMAC`).
    AcmeEabKid,
    /// `ACME_DIRECTORY_URL`: test-only override of the first CA's directory URL; process
    /// environment only.
    AcmeDirectoryUrl,
    /// `ACME_RETRY_BASE_MS`: first retry delay of the ACME scheduler (default 2000; tests use
    /// less); process environment only.
    AcmeRetryBaseMs,
    /// `LOGIN_RATE_LIMIT`: logins a client address may start per minute (also the burst); default 60.
    LoginRateLimit,
}

impl Key {
    /// The environment variable that sets this key.
    pub fn env_name(self) -> &'static str {
        match self {
            Key::PaypalClientId => "PAYPAL_CLIENT_ID",
            Key::PaypalEnvironment => "PAYPAL_ENVIRONMENT",
            Key::PaypalAuthBase => "PAYPAL_AUTH_BASE",
            Key::PaypalApiBase => "PAYPAL_API_BASE",
            Key::PaypalTimeoutMs => "PAYPAL_TIMEOUT_MS",
            Key::Domain => "DOMAIN",
            Key::PublicUrl => "PUBLIC_URL",
            Key::HttpAddr => "HTTP_ADDR",
            Key::HttpsAddr => "HTTPS_ADDR",
            Key::TlsSource => "TLS_SOURCE",
            Key::AccountCapacity => "ACCOUNT_CAPACITY",
            Key::OutboundCaFile => "OUTBOUND_CA_FILE",
            Key::AcmeDirectory => "ACME_DIRECTORY",
            Key::AcmeFallback => "ACME_FALLBACK",
            Key::AcmeEmail => "ACME_EMAIL",
            Key::AcmeEabKid => "ACME_EAB_KID",
            Key::AcmeDirectoryUrl => "ACME_DIRECTORY_URL",
            Key::AcmeRetryBaseMs => "ACME_RETRY_BASE_MS",
            Key::LoginRateLimit => "LOGIN_RATE_LIMIT",
        }
    }

    /// The instance-metadata key for this setting, for the settings the operator may choose
    /// through metadata. `None` for everything that changes what the attestation means.
    pub fn metadata_name(self) -> Option<&'static str> {
        match self {
            Key::PaypalClientId => Some("paypal_client_id"),
            Key::PaypalEnvironment => Some("paypal_environment"),
            Key::Domain => Some("domain"),
            Key::AccountCapacity => Some("account_capacity"),
            Key::AcmeDirectory => Some("acme_directory"),
            Key::AcmeFallback => Some("acme_fallback"),
            Key::AcmeEmail => Some("acme_email"),
            Key::AcmeEabKid => Some("acme_eab_kid"),
            Key::LoginRateLimit => Some("login_rate_limit"),
            _ => None,
        }
    }
}

/// A configuration value that is missing or malformed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// A required key has no value in any source.
    Missing(Key),
    /// A key has a value that does not parse.
    Invalid {
        /// The key.
        key: Key,
        /// What is wrong with it (never the value itself when the key may be secret).
        reason: String,
    },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Missing(key) => write!(f, "{} is not set", key.env_name()),
            ConfigError::Invalid { key, reason } => write!(f, "{} is invalid: {reason}", key.env_name()),
        }
    }
}

impl std::error::Error for ConfigError {}

/// How the TLS certificate is obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsSource {
    /// ACME (Let's Encrypt by default).
    Acme,
    /// A certificate generated at start and signed by itself; for local runs only.
    SelfSigned,
}

/// ACME settings (used when [`TlsSource::Acme`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AcmeConfig {
    /// The CA asked first.
    pub directory: KnownCa,
    /// CAs asked, in order, when the ones before are rate-limited.
    pub fallback: Vec<KnownCa>,
    /// Contact address, if any.
    pub email: Option<String>,
    /// External Account Binding key id for CAs that require EAB.
    pub eab_kid: Option<String>,
    /// Test-only directory URL replacing `directory`'s (process environment only).
    pub directory_url_override: Option<String>,
    /// First retry delay of the scheduler.
    pub retry_base: Duration,
}

/// Where the PayPal endpoints are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaypalEndpoints {
    /// Browser-facing base (`https://www.paypal.com`).
    pub auth_base: String,
    /// API base (`https://api-m.paypal.com`).
    pub api_base: String,
    /// True when the environment replaced a compiled-in URL.
    pub overridden: bool,
}

impl PaypalEndpoints {
    /// The compiled-in endpoints of an environment.
    pub fn compiled_in(env: Environment) -> Self {
        let (auth, api) = match env {
            Environment::Live => ("https://www.paypal.com", "https://api-m.paypal.com"),
            Environment::Sandbox => ("https://www.sandbox.paypal.com", "https://api-m.sandbox.paypal.com"),
        };
        PaypalEndpoints { auth_base: auth.into(), api_base: api.into(), overridden: false }
    }
}

/// The parsed configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// PayPal client id.
    pub client_id: String,
    /// PayPal environment.
    pub environment: Environment,
    /// PayPal endpoints.
    pub paypal: PaypalEndpoints,
    /// Timeout of each PayPal call.
    pub paypal_timeout: Duration,
    /// Public DNS name (lowercase).
    pub domain: String,
    /// Base URL of the service as users reach it, without a trailing slash.
    pub public_url: String,
    /// Plain-HTTP listener address.
    pub http_addr: SocketAddr,
    /// TLS listener address.
    pub https_addr: SocketAddr,
    /// Certificate source.
    pub tls_source: TlsSource,
    /// One-use set capacity.
    pub account_capacity: usize,
    /// Extra outbound TLS roots (PEM file path).
    pub outbound_ca_file: Option<String>,
    /// ACME settings.
    pub acme: AcmeConfig,
    /// Logins per minute per client address (and the burst).
    pub login_rate_limit: u32,
}

impl Config {
    /// The OAuth redirect URI, which must equal the Return URL registered at PayPal.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.public_url)
    }

    /// Parses the configuration from a lookup function (environment first, then metadata).
    pub fn parse(lookup: &dyn Fn(Key) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |key: Key| lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let required = |key: Key| get(key).ok_or(ConfigError::Missing(key));
        let invalid = |key: Key, reason: &str| ConfigError::Invalid { key, reason: reason.to_string() };

        let client_id = required(Key::PaypalClientId)?;
        if client_id.len() > 256 || !client_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(invalid(Key::PaypalClientId, "expected up to 256 characters of [A-Za-z0-9_-]"));
        }
        let environment = match get(Key::PaypalEnvironment) {
            None => Environment::Live,
            Some(v) => Environment::parse(&v).ok_or_else(|| invalid(Key::PaypalEnvironment, "expected live or sandbox"))?,
        };
        let mut paypal = PaypalEndpoints::compiled_in(environment);
        if let Some(v) = get(Key::PaypalAuthBase) {
            paypal.auth_base = parse_base_url(&v).map_err(|r| invalid(Key::PaypalAuthBase, r))?;
            paypal.overridden = true;
        }
        if let Some(v) = get(Key::PaypalApiBase) {
            paypal.api_base = parse_base_url(&v).map_err(|r| invalid(Key::PaypalApiBase, r))?;
            paypal.overridden = true;
        }
        let paypal_timeout = match get(Key::PaypalTimeoutMs) {
            None => Duration::from_secs(10),
            Some(v) => match v.parse::<u64>() {
                Ok(ms) if (100..=120_000).contains(&ms) => Duration::from_millis(ms),
                _ => return Err(invalid(Key::PaypalTimeoutMs, "expected milliseconds between 100 and 120000")),
            },
        };
        let domain = required(Key::Domain)?.to_ascii_lowercase();
        if !is_dns_name(&domain) {
            return Err(invalid(Key::Domain, "expected a DNS name such as auth.example.com"));
        }
        let public_url = match get(Key::PublicUrl) {
            None => format!("https://{domain}"),
            Some(v) => {
                let url = parse_base_url(&v).map_err(|r| invalid(Key::PublicUrl, r))?;
                if !url.starts_with("https://") {
                    return Err(invalid(Key::PublicUrl, "must be https (the login cookie is Secure)"));
                }
                url
            }
        };
        let addr = |key: Key, default: &str| -> Result<SocketAddr, ConfigError> {
            get(key).unwrap_or_else(|| default.to_string()).parse().map_err(|_| invalid(key, "expected IP:port"))
        };
        let http_addr = addr(Key::HttpAddr, "0.0.0.0:80")?;
        let https_addr = addr(Key::HttpsAddr, "0.0.0.0:443")?;
        let tls_source = match get(Key::TlsSource).as_deref() {
            None | Some("acme") => TlsSource::Acme,
            Some("self-signed") => TlsSource::SelfSigned,
            Some(_) => return Err(invalid(Key::TlsSource, "expected acme or self-signed")),
        };
        let account_capacity = match get(Key::AccountCapacity) {
            None => 1_000_000,
            Some(v) => match v.parse::<usize>() {
                Ok(n) if (1..=100_000_000).contains(&n) => n,
                _ => return Err(invalid(Key::AccountCapacity, "expected a whole number from 1 to 100000000")),
            },
        };
        let acme = parse_acme(&get)?;
        let login_rate_limit = match get(Key::LoginRateLimit) {
            None => 60,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => n,
                _ => return Err(invalid(Key::LoginRateLimit, "expected logins per minute from 1 to 1000000")),
            },
        };
        Ok(Config {
            login_rate_limit,
            client_id,
            environment,
            paypal,
            paypal_timeout,
            domain,
            public_url,
            http_addr,
            https_addr,
            tls_source,
            account_capacity,
            outbound_ca_file: get(Key::OutboundCaFile),
            acme,
        })
    }

    /// Parses from the process environment only.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::parse(&|key| std::env::var(key.env_name()).ok())
    }
}

fn parse_acme(get: &dyn Fn(Key) -> Option<String>) -> Result<AcmeConfig, ConfigError> {
    let invalid = |key: Key, reason: String| ConfigError::Invalid { key, reason };
    let ca = |key: Key, name: &str| KnownCa::parse(name).ok_or_else(|| invalid(key, format!("expected one of {}", KnownCa::names())));
    let directory = match get(Key::AcmeDirectory) {
        None => KnownCa::LetsEncrypt,
        Some(name) => ca(Key::AcmeDirectory, &name)?,
    };
    let mut fallback = Vec::new();
    if let Some(list) = get(Key::AcmeFallback) {
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let next = ca(Key::AcmeFallback, name)?;
            if next == directory || fallback.contains(&next) {
                return Err(invalid(Key::AcmeFallback, format!("{name} is listed twice")));
            }
            fallback.push(next);
        }
    }
    let email = get(Key::AcmeEmail);
    if let Some(address) = &email {
        if !is_email(address) {
            return Err(invalid(Key::AcmeEmail, "expected one address such as ops@example.com".into()));
        }
    }
    let eab_kid = get(Key::AcmeEabKid);
    if let Some(kid) = &eab_kid {
        if kid.len() > 256 || !kid.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid(Key::AcmeEabKid, "expected up to 256 printable ASCII characters".into()));
        }
    }
    let directory_url_override = match get(Key::AcmeDirectoryUrl) {
        None => None,
        Some(url) => {
            let ok = (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 2048 && !url.contains([' ', '@']);
            if !ok {
                return Err(invalid(Key::AcmeDirectoryUrl, "expected an http(s) URL without credentials".into()));
            }
            Some(url)
        }
    };
    let retry_base = match get(Key::AcmeRetryBaseMs) {
        None => Duration::from_secs(2),
        Some(v) => match v.parse::<u64>() {
            Ok(ms) if (10..=60_000).contains(&ms) => Duration::from_millis(ms),
            _ => return Err(invalid(Key::AcmeRetryBaseMs, "expected milliseconds between 10 and 60000".into())),
        },
    };
    Ok(AcmeConfig { directory, fallback, email, eab_kid, directory_url_override, retry_base })
}

fn is_email(address: &str) -> bool {
    let Some((local, domain)) = address.split_once('@') else { return false };
    address.len() <= 254
        && !local.is_empty()
        && local.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b',' | b'<' | b'>' | b'"' | b'@' | b'\\'))
        && is_dns_name(&domain.to_ascii_lowercase())
        && domain.contains('.')
}

/// Secrets read from the process environment (local runs; the VM reads them from OCI Vault).
pub fn secret_from_env(name: &str) -> Option<Secret> {
    std::env::var(name).ok().filter(|v| !v.is_empty()).map(Secret::from)
}

/// Accepts `https://host[:port]` (any host) or `http://host[:port]` (for stand-ins), with no
/// path, query or credentials, and returns it without a trailing slash.
fn parse_base_url(text: &str) -> Result<String, &'static str> {
    let text = text.trim_end_matches('/');
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or("expected an http:// or https:// URL")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        return Err("expected scheme://host[:port] with no path, query or credentials");
    }
    Ok(text.to_string())
}

fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn parse(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::parse(&|key| map.get(key.env_name()).cloned())
    }

    #[test]
    fn minimal_config_uses_live_compiled_in_endpoints() {
        let c = parse(&[("PAYPAL_CLIENT_ID", "abc"), ("DOMAIN", "Auth.Example.com")]).unwrap();
        assert_eq!(c.environment, Environment::Live);
        assert_eq!(c.paypal.api_base, "https://api-m.paypal.com");
        assert_eq!(c.paypal.auth_base, "https://www.paypal.com");
        assert!(!c.paypal.overridden);
        assert_eq!(c.domain, "auth.example.com");
        assert_eq!(c.redirect_uri(), "https://auth.example.com/callback");
        assert_eq!(c.tls_source, TlsSource::Acme);
    }

    #[test]
    fn sandbox_and_overrides() {
        let c = parse(&[
            ("PAYPAL_CLIENT_ID", "abc"),
            ("DOMAIN", "a.b"),
            ("PAYPAL_ENVIRONMENT", "sandbox"),
            ("PAYPAL_API_BASE", "http://127.0.0.1:9000/"),
            ("PUBLIC_URL", "https://127.0.0.1:8443"),
        ])
        .unwrap();
        assert_eq!(c.paypal.auth_base, "https://www.sandbox.paypal.com");
        assert_eq!(c.paypal.api_base, "http://127.0.0.1:9000");
        assert!(c.paypal.overridden);
        assert_eq!(c.redirect_uri(), "https://127.0.0.1:8443/callback");
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(parse(&[("DOMAIN", "a.b")]).unwrap_err(), ConfigError::Missing(Key::PaypalClientId));
        let e = parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "a.b"), ("PAYPAL_ENVIRONMENT", "prod")]).unwrap_err();
        assert!(e.to_string().starts_with("PAYPAL_ENVIRONMENT is invalid"), "{e}");
        let e = parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "not a name")]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { key: Key::Domain, .. }));
        let e = parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "a.b"), ("PAYPAL_API_BASE", "ftp://x")]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { key: Key::PaypalApiBase, .. }));
        let e = parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "a.b"), ("PUBLIC_URL", "http://x")]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { key: Key::PublicUrl, .. }));
        let e = parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "a.b"), ("ACCOUNT_CAPACITY", "0")]).unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { key: Key::AccountCapacity, .. }));
    }

    #[test]
    fn acme_keys() {
        let c = parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "a.b")]).unwrap();
        assert_eq!(c.acme.directory, KnownCa::LetsEncrypt);
        assert!(c.acme.fallback.is_empty() && c.acme.email.is_none() && c.acme.directory_url_override.is_none());
        assert_eq!(c.acme.retry_base, Duration::from_secs(2));
        let c = parse(&[
            ("PAYPAL_CLIENT_ID", "a"),
            ("DOMAIN", "a.b"),
            ("ACME_DIRECTORY", "letsencrypt-staging"),
            ("ACME_FALLBACK", "zerossl, google"),
            ("ACME_EMAIL", "ops@example.com"),
            ("ACME_EAB_KID", "kid-1"),
            ("ACME_DIRECTORY_URL", "https://127.0.0.1:14000/dir"),
            ("ACME_RETRY_BASE_MS", "100"),
        ])
        .unwrap();
        assert_eq!(c.acme.directory, KnownCa::LetsEncryptStaging);
        assert_eq!(c.acme.fallback, vec![KnownCa::ZeroSsl, KnownCa::Google]);
        assert_eq!(c.acme.email.as_deref(), Some("ops@example.com"));
        assert_eq!(c.acme.directory_url_override.as_deref(), Some("https://127.0.0.1:14000/dir"));
        assert_eq!(c.acme.retry_base, Duration::from_millis(100));
        let bad = |k: &str, v: &str| parse(&[("PAYPAL_CLIENT_ID", "a"), ("DOMAIN", "a.b"), (k, v)]).unwrap_err();
        assert!(matches!(bad("ACME_DIRECTORY", "https://evil/dir"), ConfigError::Invalid { key: Key::AcmeDirectory, .. }));
        assert!(matches!(bad("ACME_FALLBACK", "letsencrypt"), ConfigError::Invalid { key: Key::AcmeFallback, .. }));
        assert!(matches!(bad("ACME_FALLBACK", "zerossl,nope"), ConfigError::Invalid { key: Key::AcmeFallback, .. }));
        assert!(matches!(bad("ACME_EMAIL", "a@b"), ConfigError::Invalid { key: Key::AcmeEmail, .. }));
        assert!(matches!(bad("ACME_EMAIL", "a,b@c.d"), ConfigError::Invalid { key: Key::AcmeEmail, .. }));
        assert!(matches!(bad("ACME_DIRECTORY_URL", "ftp://x"), ConfigError::Invalid { key: Key::AcmeDirectoryUrl, .. }));
        assert!(matches!(bad("ACME_RETRY_BASE_MS", "0"), ConfigError::Invalid { key: Key::AcmeRetryBaseMs, .. }));
    }

    #[test]
    fn metadata_cannot_set_endpoints_or_roots() {
        for key in [Key::PaypalAuthBase, Key::PaypalApiBase, Key::OutboundCaFile, Key::PublicUrl, Key::TlsSource, Key::AcmeDirectoryUrl, Key::AcmeRetryBaseMs] {
            assert_eq!(key.metadata_name(), None, "{key:?}");
        }
    }
}
