//! Bytes in, decisions out: building PayPal requests and classifying PayPal responses.
//!
//! Response shapes follow `shared/research/paypal.md` §2–3: `expires_in` may be a number or a
//! string, `id_token` is usually absent and never used, `verified_account` may be a bool or the
//! string `"true"`, every userinfo field but the id may be missing, and error codes vary by era
//! (`access_denied`, `invalid_grant`, `invalid_authz_code`, …).

use serde::Deserialize;

/// The scopes requested at authorize.
pub const SCOPES: &str = "openid profile email";

/// Path of the token endpoint.
pub const TOKEN_PATH: &str = "/v1/oauth2/token";

/// Path and query of the userinfo endpoint.
pub const USERINFO_PATH: &str = "/v1/identity/oauth2/userinfo?schema=paypalv1.1";

/// Largest PayPal response body read.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// Longest field value kept from userinfo; longer values are cut (names are shown on a page).
const MAX_FIELD: usize = 256;

/// What went wrong talking to PayPal, classified by what the user and operator should do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PaypalError {
    /// The authorization code is unknown, expired or already used (the user should start again).
    InvalidCode,
    /// PayPal rejected our client credentials or redirect URI: an operator must fix the config.
    ClientRejected,
    /// PayPal rate-limited us (HTTP 429).
    RateLimited,
    /// PayPal failed (5xx), did not answer in time, or could not be reached.
    Unavailable(String),
    /// PayPal rejected the access token at userinfo.
    TokenRejected,
    /// PayPal answered with something we cannot use (bad JSON, no access token, no user id).
    BadResponse(String),
    /// A 4xx we do not recognise; the text is PayPal's error code.
    Refused(String),
}

impl std::fmt::Display for PaypalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PaypalError::InvalidCode => f.write_str("authorization code invalid, expired or already used"),
            PaypalError::ClientRejected => f.write_str("PayPal rejected the client credentials or redirect URI"),
            PaypalError::RateLimited => f.write_str("PayPal rate limit reached"),
            PaypalError::Unavailable(why) => write!(f, "PayPal unavailable: {why}"),
            PaypalError::TokenRejected => f.write_str("PayPal rejected the access token"),
            PaypalError::BadResponse(why) => write!(f, "unusable PayPal response: {why}"),
            PaypalError::Refused(code) => write!(f, "PayPal refused the request: {code}"),
        }
    }
}

impl std::error::Error for PaypalError {}

/// Percent-encodes a query component (RFC 3986 unreserved characters pass through).
pub fn encode_component(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>().replace('+', "%20")
}

/// The browser URL that starts a login.
pub fn authorize_url(auth_base: &str, client_id: &str, redirect_uri: &str, state: &str, nonce: &str) -> String {
    format!(
        "{auth_base}/signin/authorize?flowEntry=static&client_id={}&response_type=code&scope={}&redirect_uri={}&state={}&nonce={}",
        encode_component(client_id),
        encode_component(SCOPES),
        encode_component(redirect_uri),
        encode_component(state),
        encode_component(nonce),
    )
}

/// The form body of the code exchange. `redirect_uri` is deliberately left out (research §2).
pub fn token_request_body(code: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", code)
        .finish()
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

fn error_code(body: &[u8]) -> String {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error: Some(code), .. }) | Ok(ErrorBody { name: Some(code), .. }) => sanitize_code(&code),
        _ => "unparseable error body".into(),
    }
}

/// Error codes go into logs: keep them short and printable.
fn sanitize_code(code: &str) -> String {
    code.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.').take(64).collect()
}

/// Classifies a token-endpoint response; on success returns the access token.
pub fn parse_token_response(status: u16, body: &[u8]) -> Result<AccessToken, PaypalError> {
    match status {
        200 => {
            #[derive(Deserialize)]
            struct Token {
                access_token: String,
                #[serde(default)]
                token_type: Option<String>,
            }
            let token: Token =
                serde_json::from_slice(body).map_err(|_| PaypalError::BadResponse("token response is not the expected JSON".into()))?;
            if let Some(kind) = &token.token_type {
                if !kind.eq_ignore_ascii_case("bearer") {
                    return Err(PaypalError::BadResponse("token_type is not Bearer".into()));
                }
            }
            if token.access_token.is_empty()
                || token.access_token.len() > 4096
                || !token.access_token.bytes().all(|b| b.is_ascii_graphic())
            {
                return Err(PaypalError::BadResponse("access_token is empty or malformed".into()));
            }
            Ok(AccessToken(crate::secret::Secret::from(token.access_token)))
        }
        401 => Err(PaypalError::ClientRejected),
        429 => Err(PaypalError::RateLimited),
        400..=499 => {
            let code = error_code(body);
            match code.as_str() {
                "access_denied" | "invalid_grant" | "invalid_authz_code" | "invalid_request" => Err(PaypalError::InvalidCode),
                "invalid_client" => Err(PaypalError::ClientRejected),
                _ => Err(PaypalError::Refused(code)),
            }
        }
        500..=599 => Err(PaypalError::Unavailable(format!("token endpoint HTTP {status}"))),
        _ => Err(PaypalError::BadResponse(format!("token endpoint HTTP {status}"))),
    }
}

/// An access token; held as a secret and never logged.
#[derive(Debug)]
pub struct AccessToken(pub crate::secret::Secret);

/// The user, as far as PayPal told us.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// `user_id`, or `sub` when `user_id` is missing: the pairwise account id.
    pub user_id: String,
    /// Full name.
    pub name: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Primary (else first) email.
    pub email: Option<String>,
    /// Whether that email is confirmed.
    pub email_verified: Option<bool>,
    /// Whether the account is verified.
    pub verified_account: Option<bool>,
    /// Global payer id (only with the paypalattributes scope).
    pub payer_id: Option<String>,
}

/// A boolean that PayPal sends as `true` or as `"true"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum LooseBool {
    Bool(bool),
    Text(String),
}

impl LooseBool {
    fn value(&self) -> Option<bool> {
        match self {
            LooseBool::Bool(b) => Some(*b),
            LooseBool::Text(t) if t.eq_ignore_ascii_case("true") => Some(true),
            LooseBool::Text(t) if t.eq_ignore_ascii_case("false") => Some(false),
            LooseBool::Text(_) => None,
        }
    }
}

#[derive(Deserialize)]
struct RawEmail {
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    primary: Option<LooseBool>,
    #[serde(default)]
    confirmed: Option<LooseBool>,
}

#[derive(Deserialize)]
struct RawUserInfo {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    emails: Option<Vec<RawEmail>>,
    // The openid-schema variant carries a single address.
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    email_verified: Option<LooseBool>,
    #[serde(default)]
    verified_account: Option<LooseBool>,
    #[serde(default)]
    payer_id: Option<String>,
}

fn clean(value: Option<String>) -> Option<String> {
    let value = value?;
    let trimmed: String = value.trim().chars().filter(|c| !c.is_control()).take(MAX_FIELD).collect();
    (!trimmed.is_empty()).then_some(trimmed)
}

/// Classifies a userinfo response; on success returns the user.
pub fn parse_userinfo_response(status: u16, body: &[u8]) -> Result<UserInfo, PaypalError> {
    match status {
        200 => {}
        401 => return Err(PaypalError::TokenRejected),
        429 => return Err(PaypalError::RateLimited),
        400..=499 => return Err(PaypalError::Refused(error_code(body))),
        500..=599 => return Err(PaypalError::Unavailable(format!("userinfo HTTP {status}"))),
        _ => return Err(PaypalError::BadResponse(format!("userinfo HTTP {status}"))),
    }
    let raw: RawUserInfo =
        serde_json::from_slice(body).map_err(|_| PaypalError::BadResponse("userinfo is not the expected JSON".into()))?;
    let user_id = clean(raw.user_id)
        .or_else(|| clean(raw.sub))
        .ok_or_else(|| PaypalError::BadResponse("userinfo has neither user_id nor sub".into()))?;
    let (email, email_verified) = match raw.emails {
        Some(emails) if !emails.is_empty() => {
            let primary = emails.iter().position(|e| e.primary.as_ref().and_then(LooseBool::value) == Some(true));
            let chosen = &emails[primary.unwrap_or(0)];
            (clean(chosen.value.clone()), chosen.confirmed.as_ref().and_then(LooseBool::value))
        }
        _ => (clean(raw.email), raw.email_verified.as_ref().and_then(LooseBool::value)),
    };
    Ok(UserInfo {
        user_id,
        name: clean(raw.name),
        given_name: clean(raw.given_name),
        family_name: clean(raw.family_name),
        email,
        email_verified,
        verified_account: raw.verified_account.as_ref().and_then(LooseBool::value),
        payer_id: clean(raw.payer_id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorize_url_encodes_everything() {
        let url = authorize_url("https://www.paypal.com", "cid", "https://a.b/callback", "s t", "n&1");
        assert!(url.starts_with("https://www.paypal.com/signin/authorize?"));
        assert!(url.contains("client_id=cid"));
        assert!(url.contains("scope=openid%20profile%20email"));
        assert!(url.contains("redirect_uri=https%3A%2F%2Fa.b%2Fcallback"));
        assert!(url.contains("state=s%20t"));
        assert!(url.contains("nonce=n%261"));
        assert!(url.contains("response_type=code"));
    }

    #[test]
    fn token_body_has_no_redirect_uri() {
        assert_eq!(token_request_body("C21AA+x/y"), "grant_type=authorization_code&code=C21AA%2Bx%2Fy");
    }

    #[test]
    fn token_success_shapes() {
        let t = parse_token_response(200, br#"{"access_token":"A23AA","token_type":"Bearer","expires_in":"28800","x":1}"#).unwrap();
        assert_eq!(t.0.expose(), b"A23AA");
        assert!(parse_token_response(200, br#"{"access_token":"A","expires_in":28800}"#).is_ok());
        assert!(matches!(parse_token_response(200, br#"{"token_type":"Bearer"}"#), Err(PaypalError::BadResponse(_))));
        assert!(matches!(parse_token_response(200, b"<html>"), Err(PaypalError::BadResponse(_))));
        assert!(matches!(parse_token_response(200, br#"{"access_token":"A","token_type":"MAC"}"#), Err(PaypalError::BadResponse(_))));
    }

    #[test]
    fn token_errors_from_the_research_table() {
        let invalid = br#"{"error":"access_denied","error_description":"Invalid authorization code","correlation_id":"ab"}"#;
        assert_eq!(parse_token_response(400, invalid).unwrap_err(), PaypalError::InvalidCode);
        assert_eq!(parse_token_response(400, br#"{"error":"invalid_grant"}"#).unwrap_err(), PaypalError::InvalidCode);
        assert_eq!(parse_token_response(400, br#"{"error":"invalid_authz_code"}"#).unwrap_err(), PaypalError::InvalidCode);
        assert_eq!(parse_token_response(401, br#"{"error":"invalid_client"}"#).unwrap_err(), PaypalError::ClientRejected);
        assert_eq!(parse_token_response(400, br#"{"error":"invalid_client","error_description":"Redirect uri does not match"}"#).unwrap_err(), PaypalError::ClientRejected);
        assert_eq!(parse_token_response(400, br#"{"error":"unauthorized_client"}"#).unwrap_err(), PaypalError::Refused("unauthorized_client".into()));
        assert_eq!(parse_token_response(429, br#"{"name":"RATE_LIMIT_REACHED"}"#).unwrap_err(), PaypalError::RateLimited);
        assert!(matches!(parse_token_response(503, b""), Err(PaypalError::Unavailable(_))));
        assert_eq!(parse_token_response(400, b"garbage").unwrap_err(), PaypalError::Refused("unparseable error body".into()));
    }

    #[test]
    fn userinfo_variants() {
        let full = br#"{"user_id":"https://www.paypal.com/webapps/auth/identity/user/X","sub":"https://www.paypal.com/webapps/auth/identity/user/X",
            "name":"Ada Lovelace","emails":[{"value":"b@x","primary":false,"confirmed":true},{"value":"a@x","primary":true,"confirmed":false}],
            "verified_account":"true","payer_id":"WDJJHEBZ4X2LY"}"#;
        let u = parse_userinfo_response(200, full).unwrap();
        assert_eq!(u.user_id, "https://www.paypal.com/webapps/auth/identity/user/X");
        assert_eq!(u.email.as_deref(), Some("a@x"));
        assert_eq!(u.email_verified, Some(false));
        assert_eq!(u.verified_account, Some(true));
        let minimal = parse_userinfo_response(200, br#"{"sub":"S"}"#).unwrap();
        assert_eq!(minimal.user_id, "S");
        assert_eq!(minimal.name, None);
        let empty_emails = parse_userinfo_response(200, br#"{"user_id":"U","emails":[],"verified_account":false}"#).unwrap();
        assert_eq!(empty_emails.email, None);
        assert_eq!(empty_emails.verified_account, Some(false));
        let openid = parse_userinfo_response(200, br#"{"user_id":"U","email":"e@x","email_verified":true}"#).unwrap();
        assert_eq!(openid.email.as_deref(), Some("e@x"));
        assert!(matches!(parse_userinfo_response(200, br#"{"name":"x"}"#), Err(PaypalError::BadResponse(_))));
        assert!(matches!(parse_userinfo_response(200, br#"{"user_id":"  "}"#), Err(PaypalError::BadResponse(_))));
        assert_eq!(parse_userinfo_response(401, b"{}").unwrap_err(), PaypalError::TokenRejected);
        assert_eq!(parse_userinfo_response(429, b"{}").unwrap_err(), PaypalError::RateLimited);
        assert!(matches!(parse_userinfo_response(500, b"{}"), Err(PaypalError::Unavailable(_))));
    }

    #[test]
    fn long_and_control_characters_are_cut() {
        let long = format!(r#"{{"user_id":"U","name":"{}\u0007x"}}"#, "n".repeat(1000));
        let u = parse_userinfo_response(200, long.as_bytes()).unwrap();
        assert_eq!(u.name.unwrap().len(), MAX_FIELD);
    }
}
