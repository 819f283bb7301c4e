//! HTTP front of the PayPal stand-in: two listeners (the browser-facing "www" host and the
//! "api-m" host) sharing one [`State`].

use super::state::{debug_id, random_text, Client, Code, Fault, LoggedRequest, PendingConsent, State, Toggles, Token, CODE_LIFETIME_SECS, TOKEN_LIFETIME_SECS};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

type Shared = Arc<Mutex<State>>;
type Reply = Response<Full<Bytes>>;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Host {
    Auth,
    Api,
}

/// A running stand-in.
pub struct PaypalStandIn {
    state: Shared,
    /// `http://127.0.0.1:<port>`: set as `PAYPAL_AUTH_BASE`.
    pub auth_base: String,
    /// `http://127.0.0.1:<port>`: set as `PAYPAL_API_BASE`.
    pub api_base: String,
}

impl PaypalStandIn {
    /// Starts both listeners on 127.0.0.1 (port 0 = any free port).
    pub async fn start(client: Client, auth_port: u16, api_port: u16) -> std::io::Result<Self> {
        let state = Arc::new(Mutex::new(State::new(client)));
        let auth = TcpListener::bind(("127.0.0.1", auth_port)).await?;
        let api = TcpListener::bind(("127.0.0.1", api_port)).await?;
        let auth_base = format!("http://{}", auth.local_addr()?);
        let api_base = format!("http://{}", api.local_addr()?);
        tokio::spawn(accept_loop(auth, Host::Auth, Arc::clone(&state)));
        tokio::spawn(accept_loop(api, Host::Api, Arc::clone(&state)));
        Ok(PaypalStandIn { state, auth_base, api_base })
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// The requests seen so far.
    pub fn log(&self) -> Vec<LoggedRequest> {
        self.with(|s| s.log.clone())
    }

    /// How many requests hit `path` so far.
    pub fn count(&self, path: &str) -> usize {
        self.with(|s| s.log.iter().filter(|r| r.path == path).count())
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        self.with(|s| s.faults.push(fault));
    }

    /// Replaces the response-shape toggles.
    pub fn set_toggles(&self, toggles: Toggles) {
        self.with(|s| s.toggles = toggles);
    }

    /// Moves the stand-in's clock forward.
    pub fn advance_clock(&self, seconds: u64) {
        self.with(|s| s.clock_offset += seconds);
    }

    /// The pairwise user id of an account for a client.
    pub fn user_id(&self, client_id: &str, account_id: &str) -> String {
        self.with(|s| s.user_id(client_id, account_id))
    }

    /// Adds a PayPal account to the consent page.
    pub fn add_user(&self, user: super::state::User) {
        self.with(|s| s.users.push(user));
    }

    /// Registers another client (a second app).
    pub fn add_client(&self, client: Client) {
        self.with(|s| {
            s.clients.insert(client.client_id.clone(), client);
        });
    }

    /// Issues an app token with `client_credentials` directly (for tests that inject one).
    pub fn app_token(&self, client_id: &str) -> String {
        self.with(|s| {
            let token = format!("A21AA{}", random_text(92));
            let expires_at = s.now() + 32400;
            s.tokens.insert(token.clone(), Token { client_id: client_id.into(), account_id: None, scopes: vec!["openid".into()], expires_at });
            token
        })
    }
}

async fn accept_loop(listener: TcpListener, host: Host, state: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = Arc::clone(&state);
                // `None` means "reset": hyper drops the connection without an answer.
                async move { handle(req, host, state).await.ok_or(Reset) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", content_type.parse().expect("static header"));
    r
}

fn api_json(status: StatusCode, value: serde_json::Value) -> Reply {
    let mut r = reply(status, "application/json", value.to_string());
    r.headers_mut().insert("paypal-debug-id", debug_id().parse().expect("hex header"));
    r.headers_mut().insert("cache-control", "no-store".parse().expect("static header"));
    r
}

fn html(body: String) -> Reply {
    reply(StatusCode::OK, "text/html; charset=utf-8", format!("<!doctype html><html><head><title>PayPal stand-in</title></head><body>{body}</body></html>"))
}

fn redirect(location: &str) -> Reply {
    let mut r = reply(StatusCode::FOUND, "text/plain", String::new());
    if let Ok(v) = location.parse() {
        r.headers_mut().insert("location", v);
    }
    r
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn query_map(query: &str) -> HashMap<String, String> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

fn correlated(error: &str, description: &str) -> serde_json::Value {
    json!({"error": error, "error_description": description, "correlation_id": debug_id(), "information_link": "https://developer.paypal.com/docs/api/#errors"})
}

/// The error that makes hyper drop a connection (fault kind `reset`).
#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for Reset {}

async fn handle(req: Request<Incoming>, host: Host, state: Shared) -> Option<Reply> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let headers = req.headers().clone();
    let body = match Limited::new(req.into_body(), 16 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Some(reply(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", "too large".into())),
    };
    let endpoint = {
        let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = s.now();
        s.log.push(LoggedRequest { host: if host == Host::Auth { "auth" } else { "api" }.into(), method: method.to_string(), path: path.clone(), at });
        match (host, path.as_str()) {
            (Host::Auth, p) if is_authorize_path(p) => "authorize",
            (Host::Api, "/v1/oauth2/token" | "/v1/identity/openidconnect/tokenservice") => "token",
            (Host::Api, "/v1/identity/oauth2/userinfo" | "/v1/identity/openidconnect/userinfo" | "/v1/oauth2/token/userinfo") => "userinfo",
            _ => "",
        }
    };
    let fault = if endpoint.is_empty() { None } else { state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take_fault(endpoint) };
    if let Some(fault) = fault {
        match fault.kind.as_str() {
            "delay" => tokio::time::sleep(Duration::from_millis(fault.delay_ms.unwrap_or(30_000))).await,
            "status" => {
                let status = StatusCode::from_u16(fault.status.unwrap_or(500)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let body = match status.as_u16() {
                    429 => json!({"name": "RATE_LIMIT_REACHED", "message": "Too many requests. Blocked due to rate limiting.", "debug_id": debug_id()}),
                    401 => json!({"error": "invalid_token", "error_description": "Access Token not found in cache"}),
                    _ => json!({"name": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred.", "debug_id": debug_id()}),
                };
                return Some(api_json(status, body));
            }
            "bad_json" => return Some(reply(StatusCode::OK, "application/json", "{\"access_token\": ".into())),
            _ => return None,
        }
    }
    let mut s = state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    Some(match (host, method.as_str(), endpoint) {
        (Host::Auth, "GET", "authorize") => authorize(&mut s, &query),
        (Host::Auth, "POST", _) if path == "/signin/authorize/decision" => decision(&mut s, &body),
        (Host::Api, "POST", "token") => token(&mut s, &path, &headers, &body),
        (Host::Api, "GET", "userinfo") => userinfo(&s, &path, &query, &headers),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found".into()),
    })
}

fn is_authorize_path(path: &str) -> bool {
    match path {
        "/signin/authorize" | "/connect" | "/connect/" | "/webapps/auth/protocol/openidconnect/v1/authorize" => true,
        p => p.strip_suffix("/signin/authorize").is_some_and(|cc| cc.len() == 3 && cc[1..].bytes().all(|b| b.is_ascii_lowercase())),
    }
}

/// `GET /signin/authorize`, checked in the order of research §6.2.
fn authorize(s: &mut State, query: &str) -> Reply {
    let q = query_map(query);
    let Some(client) = q.get("client_id").and_then(|id| s.clients.get(id)).cloned() else {
        return html("<h1>Sorry</h1><p>This action is not supported (invalid client_id or redirect_uri).</p>".into());
    };
    let redirect_uri = match q.get("redirect_uri") {
        Some(uri) if client.return_urls.iter().any(|u| u == uri) => uri.clone(),
        _ => return html("<h1>Error</h1><p>Relying Party Validation error: redirect_uri provided in the request does not match with the registered redirect_uri</p>".into()),
    };
    let state = q.get("state").cloned();
    let sep = if redirect_uri.contains('?') { '&' } else { '?' };
    let state_suffix = state.as_ref().map(|st| format!("&state={}", enc(st))).unwrap_or_default();
    if let Some(rt) = q.get("response_type") {
        if rt != "code" {
            return redirect(&format!("{redirect_uri}{sep}error=unsupported_response_type&error_description=response_type%20not%20supported{state_suffix}"));
        }
    }
    let scopes: Vec<String> = q.get("scope").map(|sc| sc.split(' ').filter(|x| !x.is_empty()).map(String::from).collect()).unwrap_or_default();
    if !scopes.iter().any(|x| x == "openid") || scopes.iter().any(|x| !client.enabled_scopes.contains(x)) {
        let state_prefix = state.as_ref().map(|st| format!("state={}&", enc(st))).unwrap_or_default();
        return redirect(&format!(
            "{redirect_uri}{sep}{state_prefix}error_uri={}&error_description=Client+Validation+Error%3A+Invalid+scope.&error=invalid_scope",
            enc(&redirect_uri)
        ));
    }
    let request_id = random_text(24);
    s.consents.insert(request_id.clone(), PendingConsent { client_id: client.client_id.clone(), redirect_uri, scopes: scopes.clone(), state });
    let options: String = s
        .users
        .iter()
        .map(|u| format!("<option value=\"{id}\">{label}</option>", id = escape(&u.account_id), label = escape(u.name.as_deref().unwrap_or(&u.account_id))))
        .collect();
    html(format!(
        "<h1>PayPal stand-in</h1><p>This is a local stand-in for PayPal, not PayPal.</p>\
<p>The app <b>{app}</b> asks for: {scopes}.</p>\
<form method=\"post\" action=\"/signin/authorize/decision\">\
<input type=\"hidden\" name=\"request\" value=\"{request_id}\">\
<label>Log in as <select name=\"user\" id=\"user\">{options}</select></label> \
<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve\">Agree and continue</button> \
<button type=\"submit\" name=\"decision\" value=\"deny\" id=\"deny\">Cancel</button></form>",
        app = escape(&client.app_id),
        scopes = escape(&scopes.join(", ")),
    ))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// `POST /signin/authorize/decision` (internal to the stand-in).
fn decision(s: &mut State, body: &[u8]) -> Reply {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let Some(consent) = form.get("request").and_then(|id| s.consents.remove(id)) else {
        return html("<h1>Error</h1><p>This consent request is unknown or was already answered.</p>".into());
    };
    let sep = if consent.redirect_uri.contains('?') { '&' } else { '?' };
    if form.get("decision").map(String::as_str) != Some("approve") {
        let state = if s.toggles.deny_includes_state { consent.state.as_ref().map(|st| format!("&state={}", enc(st))).unwrap_or_default() } else { String::new() };
        return redirect(&format!("{}{sep}error_uri={}&error_description=Consent%20denied&error=access_denied{state}", consent.redirect_uri, enc(&consent.redirect_uri)));
    }
    let Some(user) = form.get("user").and_then(|id| s.users.iter().find(|u| &u.account_id == id)).cloned() else {
        return html("<h1>Error</h1><p>Unknown user.</p>".into());
    };
    let code = format!("C21AA{}", random_text(80));
    let issued_at = s.now();
    s.codes.insert(code.clone(), Code { client_id: consent.client_id, redirect_uri: consent.redirect_uri.clone(), scopes: consent.scopes.clone(), account_id: user.account_id, issued_at, used: false });
    let state = consent.state.as_ref().map(|st| format!("&state={}", enc(st))).unwrap_or_default();
    redirect(&format!("{}{sep}code={}&scope={}{state}", consent.redirect_uri, enc(&code), consent.scopes.join("+")))
}

fn basic_client(s: &State, headers: &hyper::HeaderMap) -> Option<Client> {
    use base64::Engine;
    let value = headers.get("authorization")?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    s.clients.get(id).filter(|c| c.secret == secret).cloned()
}

/// `POST /v1/oauth2/token` (research §6.3).
fn token(s: &mut State, path: &str, headers: &hyper::HeaderMap, body: &[u8]) -> Reply {
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let client = basic_client(s, headers).or_else(|| {
        // The legacy tokenservice path also takes credentials in the body.
        (path == "/v1/identity/openidconnect/tokenservice")
            .then(|| form.get("client_id").and_then(|id| s.clients.get(id)).filter(|c| form.get("client_secret") == Some(&c.secret)).cloned())
            .flatten()
    });
    let Some(client) = client else {
        return api_json(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client", "error_description": "Client Authentication failed"}));
    };
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return api_json(StatusCode::BAD_REQUEST, json!({"error": "invalid_request", "error_description": "Content-Type must be application/x-www-form-urlencoded"}));
    }
    match form.get("grant_type").map(String::as_str) {
        None => api_json(StatusCode::BAD_REQUEST, json!({"error": "unsupported_grant_type", "error_description": "Grant Type is NULL"})),
        Some("authorization_code") => {
            let Some(code_text) = form.get("code") else {
                return api_json(StatusCode::BAD_REQUEST, correlated("unauthorized_client", "authorization code is null"));
            };
            let invalid = |s: &State| {
                let error = if s.toggles.invalid_grant { "invalid_grant" } else { "access_denied" };
                api_json(StatusCode::BAD_REQUEST, correlated(error, "Invalid authorization code"))
            };
            let now = s.now();
            let Some(code) = s.codes.get_mut(code_text) else { return invalid(s) };
            // Marked used on first presentation, even if this exchange fails afterwards.
            let was_used = std::mem::replace(&mut code.used, true);
            if was_used || code.client_id != client.client_id || now > code.issued_at + CODE_LIFETIME_SECS {
                return invalid(s);
            }
            if let Some(sent) = form.get("redirect_uri") {
                let once: String = form_urlencoded::parse(format!("x={sent}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
                if sent != &code.redirect_uri && once != code.redirect_uri {
                    return api_json(StatusCode::BAD_REQUEST, json!({"error": "invalid_client", "error_description": "Redirect uri does not match for this client"}));
                }
            }
            let (account_id, scopes) = (code.account_id.clone(), code.scopes.clone());
            let access = format!("A23AA{}", random_text(92));
            s.tokens.insert(access.clone(), Token { client_id: client.client_id.clone(), account_id: Some(account_id), scopes, expires_at: now + TOKEN_LIFETIME_SECS });
            let mut body = json!({
                "scope": client.enabled_scopes.join(" "),
                "access_token": access,
                "token_type": "Bearer",
                "app_id": client.app_id,
                "expires_in": TOKEN_LIFETIME_SECS,
                "refresh_token": format!("R23AA{}", random_text(130)),
                "nonce": format!("{}{}", iso_now(now), random_text(43)),
            });
            if s.toggles.expires_in_string {
                body["expires_in"] = json!(TOKEN_LIFETIME_SECS.to_string());
            }
            if s.toggles.extra_token_fields {
                body["unexpected"] = json!({"nested": [1, 2, 3]});
            }
            api_json(StatusCode::OK, body)
        }
        Some("client_credentials") => {
            let access = format!("A21AA{}", random_text(92));
            let expires_at = s.now() + 32400;
            s.tokens.insert(access.clone(), Token { client_id: client.client_id.clone(), account_id: None, scopes: vec!["openid".into()], expires_at });
            api_json(StatusCode::OK, json!({"scope": client.enabled_scopes.join(" "), "access_token": access, "token_type": "Bearer", "app_id": client.app_id, "expires_in": 32400, "nonce": format!("{}{}", iso_now(s.now()), random_text(43))}))
        }
        Some(_) => api_json(StatusCode::BAD_REQUEST, json!({"error": "unsupported_grant_type", "error_description": "unsupported grant_type"})),
    }
}

fn iso_now(secs: u64) -> String {
    // Civil date from days since the epoch (Howard Hinnant's algorithm).
    let days = (secs / 86400) as i64;
    let rem = secs % 86400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, (rem % 3600) / 60, rem % 60)
}

/// `GET /v1/identity/oauth2/userinfo` and its OIDC variants (research §6.4–6.5).
fn userinfo(s: &State, path: &str, query: &str, headers: &hyper::HeaderMap) -> Reply {
    let Some(bearer) = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")) else {
        return api_json(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token", "error_description": "Authorization header does not have valid access token"}));
    };
    let Some(token) = s.tokens.get(bearer).filter(|t| t.expires_at > s.now()) else {
        return api_json(StatusCode::UNAUTHORIZED, json!({"error": "invalid_token", "error_description": "Access Token not found in cache"}));
    };
    let oidc = path != "/v1/identity/oauth2/userinfo";
    let wanted = if oidc { "openid" } else { "paypalv1.1" };
    if query_map(query).get("schema").map(String::as_str) != Some(wanted) {
        return api_json(StatusCode::BAD_REQUEST, json!({"name": "INVALID_REQUEST", "message": "Request is not well-formed, syntactically incorrect, or violates schema.", "debug_id": debug_id()}));
    }
    // An app token answers with the app owner's profile, as PayPal does: the first user.
    let account = token.account_id.clone().unwrap_or_else(|| s.users.first().map(|u| u.account_id.clone()).unwrap_or_default());
    let Some(user) = s.users.iter().find(|u| u.account_id == account) else {
        return api_json(StatusCode::INTERNAL_SERVER_ERROR, json!({"name": "INTERNAL_SERVER_ERROR", "message": "An internal server error occurred.", "debug_id": debug_id()}));
    };
    let has = |scope: &str| token.scopes.iter().any(|x| x == scope);
    let user_id = s.user_id(&token.client_id, &user.account_id);
    let mut body = serde_json::Map::new();
    if !s.toggles.omit_user_id {
        body.insert("user_id".into(), json!(user_id));
    }
    if !s.toggles.omit_sub {
        body.insert("sub".into(), json!(user_id));
    }
    if has("profile") {
        if let Some(name) = user.name.as_ref().filter(|_| !s.toggles.omit_name) {
            body.insert("name".into(), json!(name));
        }
        if let Some(v) = &user.given_name {
            body.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.family_name {
            body.insert("family_name".into(), json!(v));
        }
    }
    if has("email") {
        if oidc {
            if let Some(primary) = user.emails.iter().find(|e| e.primary) {
                body.insert("email".into(), json!(primary.value));
                body.insert("email_verified".into(), json!(primary.confirmed));
            }
        } else {
            body.insert("emails".into(), json!(user.emails.iter().map(|e| json!({"value": e.value, "primary": e.primary, "confirmed": e.confirmed})).collect::<Vec<_>>()));
        }
    }
    if has("https://uri.paypal.com/services/paypalattributes") {
        body.insert("payer_id".into(), json!(user.payer_id));
        let verified = if s.toggles.verified_as_string { json!(user.verified_account.to_string()) } else { json!(user.verified_account) };
        body.insert("verified_account".into(), verified);
    }
    api_json(StatusCode::OK, serde_json::Value::Object(body))
}
