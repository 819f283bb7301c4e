//! Routes and the login flow.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | landing page with the "Log in with PayPal" button |
//! | `GET /login` | 302 to PayPal's authorize URL, sets the login cookie |
//! | `GET /callback` | code exchange, userinfo, one-use check, signed page |
//! | `GET /attestation?nonce=<hex>` | a fresh report binding the nonce (JSON) |
//! | `GET /healthz` | `ok` |
//!
//! Every failure has its own page and status; nothing here can panic on request input.

use super::html::{self, Banner, ResultPage};
use super::login_state::{LoginStates, StateError, COOKIE_NAME, LOGIN_WINDOW};
use super::ratelimit::RateLimiter;
use crate::accounts::{OneUseSet, Refusal};
use crate::attest::{AttestError, Attester, Report};
use crate::config::Config;
use crate::paypal::{protocol, PaypalClient, PaypalError, UserInfo};
use crate::signing::PageSigner;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use hyper::{HeaderMap, Method, Response, StatusCode};
use paypal_auth_evidence::binding::{self, Purpose, ServiceIdentity};
use paypal_auth_evidence::bundle::{Attestation, Bundle, ReportBinding, BUNDLE_FORMAT, NO_ATTESTATION};
use paypal_auth_evidence::claims::{AttestationClaims, Claims, UserClaims, STATEMENT_FORMAT};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Longest request target (path and query) accepted.
pub const MAX_TARGET: usize = 4096;

/// How long a page waits for a fresh report before it falls back to the boot report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// The `format` member of `/attestation` answers.
pub const ATTESTATION_FORMAT: &str = "paypal-auth-vm/attestation/v1";

/// The response type of every route.
pub type WebResponse = Response<Full<Bytes>>;

/// Everything the application needs, assembled at boot.
pub struct AppParts {
    /// Parsed configuration.
    pub config: Config,
    /// PayPal API client (holds the client secret).
    pub paypal: PaypalClient,
    /// The page-signing key.
    pub signer: PageSigner,
    /// The attestation provider.
    pub attester: Box<dyn Attester>,
    /// SHA-256 of the TLS key's SubjectPublicKeyInfo.
    pub tls_key_sha256: [u8; 32],
    /// True when the TLS certificate is self-signed (local runs).
    pub self_signed_tls: bool,
}

/// The application state shared by all connections.
pub struct App {
    config: Config,
    paypal: PaypalClient,
    signer: PageSigner,
    attester: Box<dyn Attester>,
    identity: ServiceIdentity,
    boot_report: Option<Report>,
    accounts: Arc<OneUseSet>,
    logins: LoginStates,
    login_limit: RateLimiter,
    attestation_limit: RateLimiter,
    banner: Banner,
}

/// A route's decision before it is turned into a response.
struct Page {
    status: StatusCode,
    body: String,
}

impl App {
    /// Builds the application and takes the boot report (which binds the signing and TLS keys).
    pub async fn new(parts: AppParts) -> Arc<App> {
        let identity = ServiceIdentity {
            client_id: parts.config.client_id.clone(),
            environment: parts.config.environment,
            domain: parts.config.domain.clone(),
            signing_key_thumbprint: parts.signer.thumbprint(),
            tls_key_sha256: parts.tls_key_sha256,
        };
        let boot_report = match binding::report_data(&identity, Purpose::Boot) {
            Ok(data) => match tokio::time::timeout(REPORT_TIMEOUT, parts.attester.report(data)).await {
                Ok(Ok(report)) => {
                    crate::info!("attest", "boot report taken ({} bytes)", report.raw.len());
                    Some(report)
                }
                Ok(Err(AttestError::Unavailable)) => None,
                Ok(Err(e)) => {
                    crate::error!("attest", "boot report failed: {e}");
                    None
                }
                Err(_) => {
                    crate::error!("attest", "boot report timed out");
                    None
                }
            },
            Err(e) => {
                crate::error!("attest", "boot binding: {e}");
                None
            }
        };
        let banner = Banner {
            environment: parts.config.environment.as_str(),
            paypal_override: parts.config.paypal.overridden.then(|| parts.config.paypal.api_base.clone()),
            self_signed_tls: parts.self_signed_tls,
            platform: parts.attester.platform(),
        };
        Arc::new(App {
            accounts: OneUseSet::new(parts.config.account_capacity),
            logins: LoginStates::new(100_000),
            login_limit: RateLimiter::new(parts.config.login_rate_limit, f64::from(parts.config.login_rate_limit) / 60.0, 100_000),
            attestation_limit: RateLimiter::new(10, 0.5, 100_000),
            config: parts.config,
            paypal: parts.paypal,
            signer: parts.signer,
            attester: parts.attester,
            identity,
            boot_report,
            banner,
        })
    }

    /// The identity every report of this boot binds.
    pub fn identity(&self) -> &ServiceIdentity {
        &self.identity
    }

    /// The one-use set (for metrics and tests of the running service).
    pub fn accounts(&self) -> &OneUseSet {
        &self.accounts
    }

    /// Answers one request. `target` is the request's path and query. A `HEAD` gets the `GET`
    /// answer's status and headers with no body (HTTP/2, unlike hyper's HTTP/1, does not drop a
    /// body sent in reply to HEAD).
    pub async fn handle(&self, method: &Method, target: &str, headers: &HeaderMap, client: IpAddr) -> WebResponse {
        let response = self.route(method, target, headers, client).await;
        if method == Method::HEAD {
            let (parts, _body) = response.into_parts();
            return Response::from_parts(parts, Full::new(Bytes::new()));
        }
        response
    }

    async fn route(&self, method: &Method, target: &str, headers: &HeaderMap, client: IpAddr) -> WebResponse {
        if target.len() > MAX_TARGET {
            return self.page(Page { status: StatusCode::URI_TOO_LONG, body: self.message("Request too long", "That address is too long.", true) });
        }
        if method != Method::GET && method != Method::HEAD {
            let mut response = self.page(Page { status: StatusCode::METHOD_NOT_ALLOWED, body: self.message("Method not allowed", "Only GET is served here.", true) });
            response.headers_mut().insert("allow", HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match path {
            "/" => self.page(Page { status: StatusCode::OK, body: html::index(&self.banner, self.accounts.len(), self.accounts.capacity()) }),
            "/healthz" => text(StatusCode::OK, "ok\n"),
            "/login" => self.login(client),
            "/callback" => self.callback(query, headers).await,
            "/attestation" => self.attestation(query, client).await,
            _ => self.page(Page { status: StatusCode::NOT_FOUND, body: self.message("Not found", "There is nothing at this address.", true) }),
        }
    }

    fn message(&self, title: &str, detail: &str, again: bool) -> String {
        html::message(&self.banner, title, detail, again)
    }

    fn page(&self, page: Page) -> WebResponse {
        let mut response = Response::new(Full::new(Bytes::from(page.body)));
        *response.status_mut() = page.status;
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        security_headers(headers);
        response
    }

    fn login(&self, client: IpAddr) -> WebResponse {
        if !self.login_limit.allow(client, Instant::now()) {
            return self.too_many();
        }
        if self.accounts.len() >= self.accounts.capacity() {
            return self.page(Page { status: StatusCode::SERVICE_UNAVAILABLE, body: self.message("Service full", "This service has reached the number of accounts it admits in this boot.", false) });
        }
        let Ok(login) = self.logins.begin(SystemTime::now()) else {
            return self.busy("Too many logins are in progress right now.");
        };
        let url = protocol::authorize_url(&self.config.paypal.auth_base, &self.config.client_id, &self.config.redirect_uri(), &login.state, &login.nonce);
        let cookie = format!("{COOKIE_NAME}={}; Path=/; Max-Age={}; HttpOnly; Secure; SameSite=Lax", login.cookie, LOGIN_WINDOW.as_secs());
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::FOUND;
        let headers = response.headers_mut();
        match (HeaderValue::from_str(&url), HeaderValue::from_str(&cookie)) {
            (Ok(location), Ok(cookie)) => {
                headers.insert(LOCATION, location);
                headers.insert(SET_COOKIE, cookie);
            }
            // Both are built from base64url and a validated configuration; this cannot happen,
            // but if it did the user gets a page rather than a broken redirect.
            _ => return self.page(Page { status: StatusCode::INTERNAL_SERVER_ERROR, body: self.message("Configuration error", "The login URL could not be built.", false) }),
        }
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        security_headers(headers);
        response
    }

    /// The callback needs no rate limit of its own: only a state issued by `/login` (which is
    /// limited) leads to a PayPal call, and every other callback is refused without one.
    async fn callback(&self, query: &str, headers: &HeaderMap) -> WebResponse {
        let params = CallbackParams::parse(query);
        let cookie = login_cookie(headers);
        let mut response = match params {
            Err(why) => self.page(Page { status: StatusCode::BAD_REQUEST, body: self.message("Bad request", why, true) }),
            Ok(CallbackParams::Error { code }) => {
                self.logins.abandon(cookie.as_deref());
                if code == "access_denied" {
                    crate::info!("login", "user cancelled at PayPal");
                    self.page(Page { status: StatusCode::OK, body: self.message("Login cancelled", "You cancelled the login at PayPal. Nothing was stored.", true) })
                } else {
                    crate::warn!("login", "PayPal returned error={code} to the callback");
                    self.page(Page {
                        status: StatusCode::BAD_REQUEST,
                        body: self.message("PayPal reported an error", &format!("PayPal ended the login with the error \u{201c}{code}\u{201d}. Nothing was stored."), true),
                    })
                }
            }
            Ok(CallbackParams::Code { code, state }) => match self.logins.finish(cookie.as_deref(), state.as_deref(), SystemTime::now()) {
                Err(e) => {
                    crate::warn!("login", "callback refused before any PayPal call: {e}");
                    let detail = match e {
                        StateError::Expired => "This login took too long. Please start again.",
                        StateError::NotPending => "This login link was already used. Please start again.",
                        StateError::MissingCookie => "Your browser did not send the login cookie. Please allow cookies for this site and start again.",
                        _ => "This login could not be matched to one started here. Please start again.",
                    };
                    self.page(Page { status: StatusCode::BAD_REQUEST, body: self.message("Login not recognised", detail, true) })
                }
                Ok(login) => self.complete_login(&code, &login.state).await,
            },
        };
        // Whatever happened, the login cookie has done its job.
        response.headers_mut().append(
            SET_COOKIE,
            HeaderValue::from_static("__Host-pav_login=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"),
        );
        response
    }

    async fn complete_login(&self, code: &str, state: &str) -> WebResponse {
        let user = match self.fetch_user(code).await {
            Ok(user) => user,
            Err(e) => return self.paypal_failure(&e),
        };
        let account = self.accounts.account_key(self.config.environment, &self.config.client_id, &user.user_id);
        let reservation = match self.accounts.reserve(account) {
            Ok(r) => r,
            Err(Refusal::AlreadyUsed) => {
                crate::info!("login", "refused: account already used in this boot");
                return self.page(Page {
                    status: StatusCode::CONFLICT,
                    body: self.message("Already used", "This PayPal account has already used the service. Each account can use it once while this VM is running.", false),
                });
            }
            Err(Refusal::Full) => {
                crate::warn!("login", "refused: one-use set is full ({} accounts)", self.accounts.capacity());
                return self.page(Page { status: StatusCode::SERVICE_UNAVAILABLE, body: self.message("Service full", "This service has reached the number of accounts it admits in this boot.", false) });
            }
        };
        // From here on, any early return drops `reservation` and so releases the account.
        let Some(page) = self.signed_page(&user, state).await else {
            return self.busy("The attestation device is not answering. Your account was not used; please try again shortly.");
        };
        reservation.commit();
        crate::info!("login", "signed page issued ({} accounts used)", self.accounts.len());
        page
    }

    async fn fetch_user(&self, code: &str) -> Result<UserInfo, PaypalError> {
        let token = self.paypal.exchange_code(code).await?;
        self.paypal.userinfo(&token).await
    }

    fn paypal_failure(&self, error: &PaypalError) -> WebResponse {
        let (status, title, detail) = match error {
            PaypalError::InvalidCode => (StatusCode::BAD_REQUEST, "Login expired", "PayPal no longer accepts this login (it expired or was already used). Nothing was stored; please start again."),
            PaypalError::ClientRejected => (StatusCode::BAD_GATEWAY, "Configuration error", "PayPal rejected this service's credentials. The operator has been told; nothing was stored."),
            PaypalError::RateLimited | PaypalError::Unavailable(_) | PaypalError::TokenRejected => (StatusCode::SERVICE_UNAVAILABLE, "Try again later", "PayPal is not answering properly right now. Nothing was stored; please try again in a minute."),
            PaypalError::BadResponse(_) => (StatusCode::BAD_GATEWAY, "PayPal answer not usable", "PayPal's answer did not identify your account. Nothing was stored; please try again later."),
            PaypalError::Refused(_) => (StatusCode::BAD_GATEWAY, "PayPal refused the login", "PayPal refused to complete this login. Nothing was stored; please start again."),
        };
        crate::warn!("login", "PayPal step failed: {error}");
        let mut response = self.page(Page { status, body: self.message(title, detail, true) });
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("60"));
        }
        response
    }

    /// Builds, signs and attests the result page; `None` when the platform has SNP but no
    /// report at all could be had.
    async fn signed_page(&self, user: &UserInfo, state: &str) -> Option<WebResponse> {
        let claims = Claims {
            format: STATEMENT_FORMAT.into(),
            iss: format!("https://{}", self.config.domain),
            iat: SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0),
            jti: crate::crypto::b64url(&crate::crypto::random::<16>()),
            domain: self.config.domain.clone(),
            client_id: self.config.client_id.clone(),
            environment: self.config.environment,
            user: UserClaims {
                user_id: user.user_id.clone(),
                name: user.name.clone(),
                given_name: user.given_name.clone(),
                family_name: user.family_name.clone(),
                email: user.email.clone(),
                email_verified: user.email_verified,
                verified_account: user.verified_account,
                payer_id: user.payer_id.clone(),
            },
            login: crate::crypto::b64url(&binding::page_digest(state.as_bytes())),
            attestation: AttestationClaims {
                platform: self.attester.platform().into(),
                tls_key_sha256: crate::crypto::hex(&self.identity.tls_key_sha256),
                signing_key_ephemeral: self.signer.is_ephemeral(),
            },
        };
        // Serialising plain strings, numbers and bools cannot fail.
        let payload = serde_json::to_vec(&claims).ok()?;
        let jws = self.signer.sign(&payload);
        let (attestation, summary) = self.attest_page(&payload).await?;
        let bundle = Bundle { format: BUNDLE_FORMAT.into(), jws: jws.clone(), jwk: self.signer.jwk().clone(), attestation };
        let bundle_json = serde_json::to_string_pretty(&bundle).ok()?;
        let jwk_json = serde_json::to_string(self.signer.jwk()).ok()?;
        let body = html::result(
            &self.banner,
            &ResultPage { claims: &claims, jws: &jws, bundle_json: &bundle_json, jwk_json: &jwk_json, ephemeral_key: self.signer.is_ephemeral(), attestation_summary: summary },
        );
        Some(self.page(Page { status: StatusCode::OK, body }))
    }

    async fn attest_page(&self, payload: &[u8]) -> Option<(Attestation, String)> {
        if self.attester.platform() == "none" {
            return Some((
                Attestation::None { statement: NO_ATTESTATION.into() },
                format!("{NO_ATTESTATION}. The page is signed, but no hardware report vouches for the key; a verifier will report the verdict NONE."),
            ));
        }
        let data = binding::report_data(&self.identity, Purpose::Page(binding::page_digest(payload))).ok()?;
        let fallback_reason = match tokio::time::timeout(REPORT_TIMEOUT, self.attester.report(data)).await {
            Ok(Ok(report)) => {
                return Some((snp_attestation(&report, ReportBinding::Page, None), "A fresh AMD SEV-SNP report binds this exact page (its REPORT_DATA covers the statement's digest, the signing key and the TLS key).".into()));
            }
            Ok(Err(e)) => e.to_string(),
            Err(_) => "attestation device timed out".to_string(),
        };
        crate::warn!("attest", "fresh report failed ({fallback_reason}); attaching the boot report");
        let report = self.boot_report.as_ref()?;
        Some((
            snp_attestation(report, ReportBinding::Boot, Some(fallback_reason)),
            "The attestation device was busy, so this page carries the boot-time AMD SEV-SNP report, which binds the signing and TLS keys but not this page.".into(),
        ))
    }

    async fn attestation(&self, query: &str, client: IpAddr) -> WebResponse {
        if !self.attestation_limit.allow(client, Instant::now()) {
            return json(StatusCode::TOO_MANY_REQUESTS, &serde_json::json!({"error": "rate_limited"}));
        }
        let mut nonces = form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "nonce").map(|(_, v)| v.into_owned());
        let (nonce, repeated) = (nonces.next(), nonces.next().is_some());
        if repeated {
            return json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": "nonce appears more than once"}));
        }
        let Some(nonce) = nonce.and_then(|n| decode_hex(&n)).filter(|n| !n.is_empty() && n.len() <= binding::MAX_NONCE_LEN) else {
            return json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": "nonce must be 1 to 64 bytes of hex"}));
        };
        let identity = serde_json::json!({
            "client_id": self.identity.client_id,
            "environment": self.identity.environment,
            "domain": self.identity.domain,
            "signing_key_thumbprint": crate::crypto::b64url(&self.identity.signing_key_thumbprint),
            "tls_key_sha256": crate::crypto::hex(&self.identity.tls_key_sha256),
            "signing_jwk": self.signer.jwk(),
        });
        let nonce_hex = crate::crypto::hex(&nonce);
        if self.attester.platform() == "none" {
            return json(StatusCode::OK, &serde_json::json!({"format": ATTESTATION_FORMAT, "nonce": nonce_hex, "platform": "none", "statement": NO_ATTESTATION, "identity": identity}));
        }
        let Ok(data) = binding::report_data(&self.identity, Purpose::Nonce(&nonce)) else {
            return json(StatusCode::BAD_REQUEST, &serde_json::json!({"error": "bad nonce"}));
        };
        match tokio::time::timeout(REPORT_TIMEOUT, self.attester.report(data)).await {
            Ok(Ok(report)) => {
                use base64::Engine;
                let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
                json(
                    StatusCode::OK,
                    &serde_json::json!({
                        "format": ATTESTATION_FORMAT,
                        "nonce": nonce_hex,
                        "platform": "sev-snp",
                        "report": b64(&report.raw),
                        "certificates": report.certificates.iter().map(|c| b64(c)).collect::<Vec<_>>(),
                        "kds_url": report.kds_url,
                        "identity": identity,
                    }),
                )
            }
            Ok(Err(e)) => {
                crate::warn!("attest", "/attestation report failed: {e}");
                json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({"error": "attestation device failed"}))
            }
            Err(_) => json(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({"error": "attestation device timed out"})),
        }
    }

    fn too_many(&self) -> WebResponse {
        let mut response = self.page(Page { status: StatusCode::TOO_MANY_REQUESTS, body: self.message("Slow down", "Too many requests from your address. Please wait a moment.", true) });
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("10"));
        response
    }

    fn busy(&self, detail: &str) -> WebResponse {
        let mut response = self.page(Page { status: StatusCode::SERVICE_UNAVAILABLE, body: self.message("Busy", detail, true) });
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("30"));
        response
    }
}

fn snp_attestation(report: &Report, binds: ReportBinding, fallback_reason: Option<String>) -> Attestation {
    use base64::Engine;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    Attestation::SevSnp {
        report: b64(&report.raw),
        binds,
        fallback_reason,
        certificates: report.certificates.iter().map(|c| b64(c)).collect(),
        kds_url: report.kds_url.clone(),
    }
}

/// The callback's query, classified.
enum CallbackParams {
    /// PayPal sent the user back with a code.
    Code { code: String, state: Option<String> },
    /// PayPal sent the user back with an error (deny, invalid scope, …).
    Error { code: String },
}

impl CallbackParams {
    /// Parses the query. Only `code`, `state` and `error` matter; anything else (including an
    /// injected `access_token`) is ignored. Repeated parameters are refused.
    fn parse(query: &str) -> Result<Self, &'static str> {
        let (mut code, mut state, mut error) = (None, None, None);
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match key.as_ref() {
                "code" => &mut code,
                "state" => &mut state,
                "error" => &mut error,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err("A login parameter appears twice.");
            }
        }
        if let Some(error) = error {
            let code: String = error.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            let code = if code.is_empty() { "unspecified".to_string() } else { code };
            return Ok(CallbackParams::Error { code });
        }
        let code = code.ok_or("PayPal did not send an authorization code.")?;
        if code.is_empty() || code.len() > 1024 || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.~+/=".contains(&b)) {
            return Err("The authorization code is malformed.");
        }
        if state.as_ref().is_some_and(|s| s.len() > 256) {
            return Err("The state parameter is too long.");
        }
        Ok(CallbackParams::Code { code, state })
    }
}

/// The login cookie's value, from any `Cookie` header.
fn login_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.to_string())
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || text.len() > 2 * binding::MAX_NONCE_LEN {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| text.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("strict-transport-security", HeaderValue::from_static("max-age=31536000"));
}

fn text(status: StatusCode, body: &'static str) -> WebResponse {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn json(status: StatusCode, value: &serde_json::Value) -> WebResponse {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    security_headers(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_params() {
        assert!(matches!(CallbackParams::parse("code=C21AA-x_y&state=s"), Ok(CallbackParams::Code { .. })));
        assert!(matches!(CallbackParams::parse("error=access_denied&error_description=Consent%20denied"), Ok(CallbackParams::Error { code }) if code == "access_denied"));
        assert!(CallbackParams::parse("state=s").is_err());
        assert!(CallbackParams::parse("code=a&code=b&state=s").is_err());
        assert!(CallbackParams::parse("code=%3Cscript%3E&state=s").is_err());
        assert!(CallbackParams::parse("access_token=A23&state=s").is_err(), "an injected token is not a code");
        assert!(matches!(CallbackParams::parse("error=%3Cb%3E"), Ok(CallbackParams::Error { code }) if code == "b"));
        assert!(CallbackParams::parse("%ff%fe=1&code=ok&state=s").is_ok());
    }

    #[test]
    fn cookie_extraction() {
        let mut h = HeaderMap::new();
        h.append(COOKIE, HeaderValue::from_static("a=1; __Host-pav_login=abc.def; b=2"));
        assert_eq!(login_cookie(&h).as_deref(), Some("abc.def"));
        assert_eq!(login_cookie(&HeaderMap::new()), None);
    }

    #[test]
    fn hex_nonce() {
        assert_eq!(decode_hex("00ff"), Some(vec![0, 255]));
        assert_eq!(decode_hex("0"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_hex("é1"), None);
    }
}
