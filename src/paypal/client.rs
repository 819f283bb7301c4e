//! The two server-side PayPal calls: code exchange and userinfo.

use super::protocol::{self, AccessToken, PaypalError, UserInfo};
use crate::config::Config;
use crate::net::http::{HttpClient, HttpError};
use crate::secret::Secret;
use hyper::Method;
use std::time::Duration;
use zeroize::Zeroizing;

/// A PayPal API client for one app (client id + secret) in one environment.
pub struct PaypalClient {
    http: HttpClient,
    api_base: String,
    /// `Basic base64(client_id:secret)`, built once; zeroized on drop.
    basic_auth: Zeroizing<String>,
    timeout: Duration,
}

impl PaypalClient {
    /// A client for `config`'s app, authenticating with `secret`.
    pub fn new(http: HttpClient, config: &Config, secret: &Secret) -> Self {
        use base64::Engine;
        let mut credentials = Zeroizing::new(Vec::with_capacity(config.client_id.len() + 1 + secret.expose().len()));
        credentials.extend_from_slice(config.client_id.as_bytes());
        credentials.push(b':');
        credentials.extend_from_slice(secret.expose());
        let basic_auth = Zeroizing::new(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(&*credentials)));
        PaypalClient { http, api_base: config.paypal.api_base.clone(), basic_auth, timeout: config.paypal_timeout }
    }

    /// Exchanges an authorization code for an access token.
    pub async fn exchange_code(&self, code: &str) -> Result<AccessToken, PaypalError> {
        let url = format!("{}{}", self.api_base, protocol::TOKEN_PATH);
        let body = protocol::token_request_body(code).into_bytes();
        let headers = [
            ("authorization", self.basic_auth.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ];
        let response = self
            .http
            .send(Method::POST, &url, &headers, body, self.timeout, protocol::MAX_RESPONSE)
            .await
            .map_err(transport_error)?;
        let result = protocol::parse_token_response(response.status.as_u16(), &response.body);
        log_outcome("token", response.status.as_u16(), &response.headers, result.as_ref().err());
        result
    }

    /// Reads the user's info with an access token.
    pub async fn userinfo(&self, token: &AccessToken) -> Result<UserInfo, PaypalError> {
        let url = format!("{}{}", self.api_base, protocol::USERINFO_PATH);
        let token_text = token.0.expose_str().ok_or_else(|| PaypalError::BadResponse("access token is not text".into()))?;
        let bearer = Zeroizing::new(format!("Bearer {token_text}"));
        let headers = [("authorization", bearer.as_str()), ("accept", "application/json")];
        let response = self
            .http
            .send(Method::GET, &url, &headers, Vec::new(), self.timeout, protocol::MAX_RESPONSE)
            .await
            .map_err(transport_error)?;
        let result = protocol::parse_userinfo_response(response.status.as_u16(), &response.body);
        log_outcome("userinfo", response.status.as_u16(), &response.headers, result.as_ref().err());
        result
    }
}

fn transport_error(error: HttpError) -> PaypalError {
    match error {
        HttpError::TooLarge(_) => PaypalError::BadResponse(error.to_string()),
        other => PaypalError::Unavailable(other.to_string()),
    }
}

/// One line per failed PayPal call: endpoint, status, PayPal's debug id, our classification.
/// Bodies, tokens and codes are never logged.
fn log_outcome(endpoint: &str, status: u16, headers: &hyper::HeaderMap, error: Option<&PaypalError>) {
    if let Some(error) = error {
        let debug_id: String = headers
            .get("paypal-debug-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(32)
            .collect();
        crate::warn!("paypal", "{endpoint} HTTP {status} paypal-debug-id={debug_id}: {error}");
    }
}
