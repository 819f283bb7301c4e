//! The claims a result page signs (the JWS payload).

use crate::binding::Environment;
use serde::{Deserialize, Serialize};

/// The `format` member every statement carries; bumped with incompatible changes.
pub const STATEMENT_FORMAT: &str = "paypal-auth-vm/statement/v1";

/// The signed statement of one successful login.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Always [`STATEMENT_FORMAT`].
    pub format: String,
    /// `https://<domain>`, the issuer.
    pub iss: String,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
    /// Random statement id (base64url of 16 bytes).
    pub jti: String,
    /// The service's public DNS name.
    pub domain: String,
    /// The PayPal client id the login went through.
    pub client_id: String,
    /// The PayPal environment.
    pub environment: Environment,
    /// What PayPal's userinfo said about the user (the fields shown on the page).
    pub user: UserClaims,
    /// base64url(SHA-256(OAuth `state` of this login)): ties the statement to one login, so a
    /// report bound to it cannot be replayed onto another.
    pub login: String,
    /// Which hardware evidence the service can attach, and the TLS key it serves with.
    pub attestation: AttestationClaims,
}

/// The user fields; everything but `user_id` is optional because PayPal omits fields by scope.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// PayPal's `user_id` (a pairwise id, per app and environment; falls back to `sub`).
    pub user_id: String,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The primary (else first) email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether PayPal marks that address as confirmed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    /// Whether the PayPal account is verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_account: Option<bool>,
    /// The global payer id, when PayPal returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_id: Option<String>,
}

/// Attestation facts the statement commits to before any report exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationClaims {
    /// `"sev-snp"` or `"none"`.
    pub platform: String,
    /// Hex SHA-256 of the TLS key's SubjectPublicKeyInfo.
    pub tls_key_sha256: String,
    /// True when the signing key was generated in this boot and exists only in the VM's memory.
    pub signing_key_ephemeral: bool,
}
