//! Where configuration comes from, and the instance-metadata keys the service reads.
//!
//! `CONFIG_SOURCE` (process environment; in the image, the measured kernel command line) picks
//! the source: `env` (default, local runs) or `oci` (instance metadata + Vault). With `oci`,
//! metadata is layered *under* the process environment: a key set in the environment wins.
//! Metadata can only set keys that [`Key::metadata_name`] allows — never URLs or trust roots.

use crate::config::Key;
use std::collections::BTreeMap;

/// The source of configuration and secrets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigSource {
    /// Process environment only; secrets from `PAYPAL_SECRET` / `SIGNING_KEY` (local runs).
    Env,
    /// OCI instance metadata under the process environment; secrets from OCI Vault.
    Oci,
}

/// `CONFIG_SOURCE` is neither `env` nor `oci`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadConfigSource;

impl std::fmt::Display for BadConfigSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CONFIG_SOURCE must be 'env' or 'oci'")
    }
}

impl std::error::Error for BadConfigSource {}

impl ConfigSource {
    /// Reads `CONFIG_SOURCE` from the process environment (unset = `env`).
    pub fn from_env() -> Result<ConfigSource, BadConfigSource> {
        Self::parse(std::env::var("CONFIG_SOURCE").ok().as_deref())
    }

    /// Parses a `CONFIG_SOURCE` value.
    pub fn parse(value: Option<&str>) -> Result<ConfigSource, BadConfigSource> {
        match value.map(str::trim) {
            None | Some("") | Some("env") => Ok(ConfigSource::Env),
            Some("oci") => Ok(ConfigSource::Oci),
            Some(_) => Err(BadConfigSource),
        }
    }
}

/// Every instance-metadata key the service reads: `(key, meaning)`. Documented in `docs/oci.md`.
pub const METADATA_KEYS: &[(&str, &str)] = &[
    ("paypal_client_id", "PayPal app client id (bound into REPORT_DATA)"),
    ("domain", "public DNS name of the service (bound into REPORT_DATA)"),
    ("paypal_environment", "live or sandbox: chooses compiled-in PayPal endpoints (bound into REPORT_DATA)"),
    ("paypal_secret_ocid", "OCID of the Vault secret holding the PayPal client secret (required)"),
    ("signing_key_secret_ocid", "OCID of the Vault secret holding a PKCS#8 PEM P-256 signing key (optional; else generated per boot)"),
    ("notification_topic_ocid", "OCID of the ONS topic for operator notifications (optional)"),
    ("notification_topic_endpoint", "the topic's API endpoint, only an OCI notification host of this region (optional)"),
    ("acme_account_key_secret_ocid", "OCID of the Vault secret holding a stable PKCS#8 PEM P-256 ACME account key (optional; else one per boot)"),
    ("acme_eab_hmac_secret_ocid", "OCID of the Vault secret holding the base64url EAB HMAC key for a CA that needs it (optional)"),
    ("acme_email", "ACME account contact"),
    ("acme_directory", "name of a compiled-in ACME directory"),
    ("account_capacity", "how many PayPal accounts may use the service per boot"),
];

/// A lookup for [`crate::config::Config::parse`]: the process environment first, then metadata
/// for the keys metadata may set.
pub fn layered<'a>(env: &'a dyn Fn(&str) -> Option<String>, metadata: &'a BTreeMap<String, String>) -> impl Fn(Key) -> Option<String> + 'a {
    move |key: Key| {
        env(key.env_name())
            .filter(|v| !v.trim().is_empty())
            .or_else(|| key.metadata_name().and_then(|name| metadata.get(name).cloned()))
    }
}

/// The OCI-specific settings (secret and topic OCIDs). Environment over metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OciSettings {
    /// OCID of the PayPal client secret.
    pub paypal_secret_ocid: String,
    /// OCID of the signing key secret, when configured.
    pub signing_key_secret_ocid: Option<String>,
    /// OCID of the stable ACME account key secret, when configured.
    pub acme_account_key_secret_ocid: Option<String>,
    /// OCID of the ACME EAB HMAC secret, when configured.
    pub acme_eab_hmac_secret_ocid: Option<String>,
    /// Topic OCID and its endpoint, when notifications are configured.
    pub notification: Option<(String, String)>,
}

/// A missing or malformed OCI setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SettingsError {
    /// A required key is missing; names the metadata key.
    Missing(&'static str),
    /// A key's value is malformed; names the metadata key and what is wrong.
    Invalid(&'static str, &'static str),
}

impl std::fmt::Display for SettingsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SettingsError::Missing(k) => write!(f, "instance metadata key {k} is not set"),
            SettingsError::Invalid(k, why) => write!(f, "instance metadata key {k} is invalid: {why}"),
        }
    }
}

impl std::error::Error for SettingsError {}

/// Reads the OCI settings; `region`/`realm_domain` bound the topic endpoint. I/O-free.
pub fn oci_settings(
    env: &dyn Fn(&str) -> Option<String>,
    metadata: &BTreeMap<String, String>,
    region: &str,
    realm_domain: &str,
) -> Result<OciSettings, SettingsError> {
    let get = |env_name: &str, meta: &str| -> Option<String> {
        env(env_name).or_else(|| metadata.get(meta).cloned()).map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
    };
    let ocid = |env_name: &str, meta: &'static str| -> Result<Option<String>, SettingsError> {
        match get(env_name, meta) {
            None => Ok(None),
            Some(v) if super::secrets::is_ocid(&v) => Ok(Some(v)),
            Some(_) => Err(SettingsError::Invalid(meta, "expected an OCID (ocid1.…)")),
        }
    };
    let paypal_secret_ocid = ocid("PAYPAL_SECRET_OCID", "paypal_secret_ocid")?.ok_or(SettingsError::Missing("paypal_secret_ocid"))?;
    let signing_key_secret_ocid = ocid("SIGNING_KEY_SECRET_OCID", "signing_key_secret_ocid")?;
    let acme_account_key_secret_ocid = ocid("ACME_ACCOUNT_KEY_SECRET_OCID", "acme_account_key_secret_ocid")?;
    let acme_eab_hmac_secret_ocid = ocid("ACME_EAB_HMAC_SECRET_OCID", "acme_eab_hmac_secret_ocid")?;
    let notification = match ocid("NOTIFICATION_TOPIC_OCID", "notification_topic_ocid")? {
        None => None,
        Some(topic) => {
            let endpoint = match metadata.get("notification_topic_endpoint").map(|v| v.trim()).filter(|v| !v.is_empty()) {
                None => format!("https://notification.{region}.{realm_domain}"),
                Some(v) => topic_endpoint(v, region, realm_domain)
                    .ok_or(SettingsError::Invalid("notification_topic_endpoint", "expected https://<cell>.notification.<region>.oci.<realm domain>"))?,
            };
            Some((topic, endpoint))
        }
    };
    Ok(OciSettings { paypal_secret_ocid, signing_key_secret_ocid, acme_account_key_secret_ocid, acme_eab_hmac_secret_ocid, notification })
}

/// Accepts only Oracle's notification hosts of this region: `notification.<region>.<domain>` or
/// `<cell>.notification.<region>.oci.<domain>` (metadata may choose, not name, an endpoint).
pub fn topic_endpoint(value: &str, region: &str, realm_domain: &str) -> Option<String> {
    let host = value.trim_end_matches('/').strip_prefix("https://")?;
    let plain = format!("notification.{region}.{realm_domain}");
    let cell_suffix = format!(".notification.{region}.oci.{realm_domain}");
    let ok = host == plain
        || host.strip_suffix(&cell_suffix).is_some_and(|cell| {
            !cell.is_empty() && cell.len() <= 63 && cell.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    ok.then(|| format!("https://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn environment_wins_over_metadata_and_metadata_cannot_set_urls() {
        let m = meta(&[
            ("paypal_client_id", "from-metadata"),
            ("domain", "meta.example.com"),
            ("paypal_environment", "sandbox"),
            ("PAYPAL_API_BASE", "https://evil.example"),
            ("paypal_api_base", "https://evil.example"),
        ]);
        let env = |name: &str| (name == "DOMAIN").then(|| "env.example.com".to_string());
        let config = Config::parse(&layered(&env, &m)).unwrap();
        assert_eq!(config.client_id, "from-metadata");
        assert_eq!(config.domain, "env.example.com");
        assert_eq!(config.paypal.api_base, "https://api-m.sandbox.paypal.com");
        assert!(!config.paypal.overridden);
    }

    #[test]
    fn settings() {
        let none = |_: &str| None;
        let m = meta(&[("paypal_secret_ocid", "ocid1.vaultsecret.oc1.iad.a"), ("notification_topic_ocid", "ocid1.onstopic.oc1.iad.t")]);
        let s = oci_settings(&none, &m, "us-ashburn-1", "oraclecloud.com").unwrap();
        assert_eq!(s.paypal_secret_ocid, "ocid1.vaultsecret.oc1.iad.a");
        assert_eq!(s.signing_key_secret_ocid, None);
        assert_eq!(s.notification.unwrap().1, "https://notification.us-ashburn-1.oraclecloud.com");
        assert_eq!(oci_settings(&none, &meta(&[]), "r", "d"), Err(SettingsError::Missing("paypal_secret_ocid")));
        let bad = meta(&[("paypal_secret_ocid", "../../x")]);
        assert!(matches!(oci_settings(&none, &bad, "r", "d"), Err(SettingsError::Invalid("paypal_secret_ocid", _))));
    }

    #[test]
    fn topic_endpoint_is_a_choice_among_oracle_hosts() {
        let ok = topic_endpoint("https://cell1.notification.us-ashburn-1.oci.oraclecloud.com", "us-ashburn-1", "oraclecloud.com");
        assert_eq!(ok.as_deref(), Some("https://cell1.notification.us-ashburn-1.oci.oraclecloud.com"));
        for bad in ["https://evil.example", "http://cell1.notification.us-ashburn-1.oci.oraclecloud.com", "https://a.b.notification.us-ashburn-1.oci.oraclecloud.com", "https://x.notification.eu-frankfurt-1.oci.oraclecloud.com/"] {
            assert_eq!(topic_endpoint(bad, "us-ashburn-1", "oraclecloud.com"), None, "{bad}");
        }
    }

    #[test]
    fn config_source_switch() {
        assert_eq!(ConfigSource::parse(None), Ok(ConfigSource::Env));
        assert_eq!(ConfigSource::parse(Some("oci")), Ok(ConfigSource::Oci));
        assert_eq!(ConfigSource::parse(Some("OCI")), Err(BadConfigSource));
    }
}
