//! The PayPal stand-in's state and rules, free of I/O (research/paypal.md §6).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long an authorization code is valid (PayPal staff: "about 3 minutes").
pub const CODE_LIFETIME_SECS: u64 = 180;
/// Access-token lifetime reported by PayPal.
pub const TOKEN_LIFETIME_SECS: u64 = 28800;

/// A registered PayPal app.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Client {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub secret: String,
    /// `live` or `sandbox`.
    pub env: String,
    /// `APP-…`.
    pub app_id: String,
    /// Exact registered Return URLs.
    pub return_urls: Vec<String>,
    /// Scopes enabled for the app in the dashboard.
    pub enabled_scopes: Vec<String>,
}

/// A PayPal account.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct User {
    /// Internal account id (the `user_id` is derived from it per client).
    pub account_id: String,
    /// Global payer id.
    pub payer_id: String,
    /// Optional names.
    #[serde(default)]
    pub name: Option<String>,
    /// Given name.
    #[serde(default)]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default)]
    pub family_name: Option<String>,
    /// Emails.
    #[serde(default)]
    pub emails: Vec<Email>,
    /// Verified account.
    #[serde(default)]
    pub verified_account: bool,
}

/// One email of a user.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Email {
    /// Address.
    pub value: String,
    /// Primary flag.
    pub primary: bool,
    /// Confirmed flag.
    pub confirmed: bool,
}

/// Response-shape variants and strictness toggles (research §6.3–6.4).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Toggles {
    /// Invalid-code errors use `invalid_grant` instead of `access_denied`.
    pub invalid_grant: bool,
    /// `expires_in` as a string.
    pub expires_in_string: bool,
    /// Add unknown fields to the token response.
    pub extra_token_fields: bool,
    /// Userinfo: `verified_account` as `"true"`/`"false"`.
    pub verified_as_string: bool,
    /// Userinfo: omit `user_id`.
    pub omit_user_id: bool,
    /// Userinfo: omit `sub`.
    pub omit_sub: bool,
    /// Userinfo: omit `name`.
    pub omit_name: bool,
    /// Deny redirect includes `state`.
    pub deny_includes_state: bool,
}

/// A fault to inject on an endpoint's next calls.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fault {
    /// `authorize`, `token` or `userinfo`.
    pub endpoint: String,
    /// `status` (with `status`), `delay` (with `delay_ms`), `reset`, `bad_json`.
    pub kind: String,
    /// HTTP status for `status` faults.
    #[serde(default)]
    pub status: Option<u16>,
    /// Delay for `delay` faults.
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// How many calls it affects.
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

/// One logged request.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LoggedRequest {
    /// `auth` or `api`.
    pub host: String,
    /// Method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Seconds on the stand-in's clock.
    pub at: u64,
}

pub(crate) struct Code {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub account_id: String,
    pub issued_at: u64,
    pub used: bool,
}

pub(crate) struct Token {
    pub client_id: String,
    pub account_id: Option<String>,
    pub scopes: Vec<String>,
    pub expires_at: u64,
}

/// A consent screen waiting for the user's decision.
pub(crate) struct PendingConsent {
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub state: Option<String>,
}

/// Everything the stand-in knows.
pub struct State {
    pub(crate) key: [u8; 32],
    pub(crate) clients: HashMap<String, Client>,
    pub(crate) users: Vec<User>,
    pub(crate) codes: HashMap<String, Code>,
    pub(crate) tokens: HashMap<String, Token>,
    pub(crate) consents: HashMap<String, PendingConsent>,
    pub(crate) clock_offset: u64,
    /// Variants.
    pub toggles: Toggles,
    pub(crate) faults: Vec<Fault>,
    pub(crate) log: Vec<LoggedRequest>,
}

impl State {
    /// A stand-in with one client and the default users.
    pub fn new(client: Client) -> Self {
        let mut clients = HashMap::new();
        clients.insert(client.client_id.clone(), client);
        State {
            key: random_bytes(),
            clients,
            users: default_users(),
            codes: HashMap::new(),
            tokens: HashMap::new(),
            consents: HashMap::new(),
            clock_offset: 0,
            toggles: Toggles::default(),
            faults: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Seconds on the stand-in's (advanceable) clock.
    pub fn now(&self) -> u64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0) + self.clock_offset
    }

    /// The pairwise `user_id` of an account for a client (research §6.1).
    pub fn user_id(&self, client_id: &str, account_id: &str) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else { return String::new() };
        mac.update(client_id.as_bytes());
        mac.update(b"|");
        mac.update(account_id.as_bytes());
        let tag = b64url(&mac.finalize().into_bytes());
        format!("https://www.paypal.com/webapps/auth/identity/user/{}", &tag[..43])
    }

    /// Takes the next fault for an endpoint, if any.
    pub fn take_fault(&mut self, endpoint: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|f| f.endpoint == endpoint)?;
        let fault = &mut self.faults[index];
        fault.count = fault.count.saturating_sub(1);
        let taken = fault.clone();
        if fault.count == 0 {
            self.faults.remove(index);
        }
        Some(taken)
    }
}

/// Four accounts covering the response shapes of research §3.
pub fn default_users() -> Vec<User> {
    let email = |v: &str, confirmed: bool| Email { value: v.into(), primary: true, confirmed };
    vec![
        User {
            account_id: "alice".into(),
            payer_id: "WDJJHEBZ4X2LY".into(),
            name: Some("Alice Example".into()),
            given_name: Some("Alice".into()),
            family_name: Some("Example".into()),
            emails: vec![email("alice@example.com", true)],
            verified_account: true,
        },
        User {
            account_id: "bob".into(),
            payer_id: "2JPHCKE993TUY".into(),
            name: Some("Bob <b>Tester</b>".into()),
            given_name: Some("Bob".into()),
            family_name: Some("Tester".into()),
            emails: vec![
                Email { value: "bob.old@example.com".into(), primary: false, confirmed: true },
                Email { value: "bob@example.com".into(), primary: true, confirmed: false },
            ],
            verified_account: false,
        },
        User {
            account_id: "carol".into(),
            payer_id: "7QX4PLMN8RSTV".into(),
            name: None,
            given_name: None,
            family_name: None,
            emails: vec![],
            verified_account: false,
        },
        User {
            account_id: "dave".into(),
            payer_id: "9ABCDEFGH2JKL".into(),
            name: Some("Dave Davies".into()),
            given_name: Some("Dave".into()),
            family_name: Some("Davies".into()),
            emails: vec![email("dave@example.com", true)],
            verified_account: true,
        },
    ]
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Random bytes from the OS.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).expect("OS random number generator");
    out
}

/// Random base64url text of `n` characters.
pub fn random_text(n: usize) -> String {
    let mut s = String::new();
    while s.len() < n {
        s.push_str(&b64url(&random_bytes::<48>()));
    }
    s.truncate(n);
    s
}

/// 13 hex characters, like `paypal-debug-id`.
pub fn debug_id() -> String {
    random_bytes::<7>().iter().map(|b| format!("{b:02x}")).collect::<String>()[..13].to_string()
}
