//! OCI stand-ins, strict about what they accept (research/oci.md, checklist at the end):
//!
//! * **IMDS v2** (`/opc/v2/...`): 401 without `Authorization: Bearer Oracle`, 403 with
//!   `Forwarded`/`X-Forwarded-*`, JSON for directories, plain text for leaves, 404 for unknown
//!   paths (and for `/opc/v1`), `region` = short code `iad`; identity PEMs from a stand-in PKI.
//! * **auth** (`POST /v1/x509`): checks the Authorization parameters, that exactly
//!   `date (request-target) content-length content-type x-content-sha256` are signed (no host),
//!   `x-content-sha256` and `content-length` against the body, the `date` within ±5 min of its own
//!   clock (401 `NotAuthenticated` with a skew message and its own `Date` otherwise), the leaf
//!   and intermediate against its CA, the keyId (`<tenancy>/fed-x509/<SHA-1>` or
//!   `<tenancy>/fed-x509-sha256/<SHA-256>`), the signature against the leaf key, and a ≥2048-bit
//!   session key; answers `{"token": <RS256 JWT with iat/exp, signed by itself>}`.
//! * **Secrets** (`GET /20190301/secretbundles/<ocid>`) and **Notifications**
//!   (`POST /20181201/topics/<ocid>/messages`): check the `ST$` token's signature, expiry and
//!   registration, the request signature against the session key registered at federation, the
//!   signed header set (with host) and the date window; unknown or not-granted OCIDs → 404
//!   `NotAuthorizedOrNotFound`.
//!
//! Every request is logged ([`OciStandIn::log`]); faults can be injected ([`Fault`]).
//! Listeners are on 127.0.0.1, ephemeral ports by default; [`OciStandIn::service_env`] gives the
//! environment that points the service at them.

pub mod cli;
mod httpsig;
pub mod pki;

use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rsa::pkcs8::DecodePublicKey as _;
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::traits::PublicKeyParts as _;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::net::TcpListener;

/// Which stand-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    /// Instance metadata.
    Imds,
    /// Federation (`auth.<region>...`).
    Auth,
    /// Vault secrets data plane.
    Secrets,
    /// Notifications data plane.
    Notifications,
}

/// What an injected fault does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status and an OCI error body.
    Status(u16),
    /// Wait this long before answering normally.
    Delay(Duration),
    /// Close the connection without an answer.
    Reset,
}

/// A fault applied to the next `times` requests of a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// Which stand-in.
    pub service: Service,
    /// What happens.
    pub kind: FaultKind,
    /// How many requests it applies to.
    pub times: u32,
}

/// One request as the stand-ins saw it.
#[derive(Clone, Debug)]
pub struct LoggedRequest {
    /// Which stand-in.
    pub service: Service,
    /// Method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Status answered (0 = connection reset).
    pub status: u16,
    /// Why it was refused, when it was.
    pub refusal: Option<String>,
    /// The keyId of a signed request.
    pub key_id: Option<String>,
}

/// A message published to a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// Topic OCID.
    pub topic: String,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
}

/// The content a secret bundle answers with.
#[derive(Clone, Debug)]
pub enum SecretContent {
    /// Bytes, served base64-encoded (normal).
    Bytes(Vec<u8>),
    /// This exact `content` string (e.g. invalid base64, for fault tests).
    Raw(String),
}

/// Start-up options.
#[derive(Clone, Debug)]
pub struct OciOptions {
    /// Canonical region name.
    pub region: String,
    /// Tenancy OCID (put into the leaf certificate).
    pub tenancy: String,
    /// Instance OCID.
    pub instance_id: String,
    /// Custom instance metadata.
    pub metadata: BTreeMap<String, String>,
    /// Secrets the instance may read: OCID → content.
    pub secrets: BTreeMap<String, SecretContent>,
    /// Topics the instance may publish to.
    pub topics: Vec<String>,
    /// Lifetime of issued tokens, seconds.
    pub token_lifetime_secs: i64,
    /// Port of the IMDS listener (0 = ephemeral; QEMU's guestfwd targets it).
    pub imds_port: u16,
    /// Ports of the auth, Secrets and Notifications listeners (0 = ephemeral).
    pub service_ports: [u16; 3],
}

impl Default for OciOptions {
    fn default() -> Self {
        OciOptions {
            region: "us-ashburn-1".into(),
            tenancy: "ocid1.tenancy.oc1..aaaaaaaastandintenancy".into(),
            instance_id: "ocid1.instance.oc1.iad.standininstance".into(),
            metadata: BTreeMap::new(),
            secrets: BTreeMap::new(),
            topics: Vec::new(),
            token_lifetime_secs: 3600,
            imds_port: 0,
            service_ports: [0; 3],
        }
    }
}

struct SessionInfo {
    public: rsa::RsaPublicKey,
    exp: i64,
    revoked: bool,
}

struct State {
    options: OciOptions,
    pki: pki::Pki,
    token_key: rsa::RsaPrivateKey,
    sessions: HashMap<String, SessionInfo>,
    denied: Vec<String>,
    messages: Vec<Published>,
    clock_offset: i64,
    faults: Vec<Fault>,
    log: Vec<LoggedRequest>,
}

impl State {
    fn now(&self) -> i64 {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0) + self.clock_offset
    }

    fn take_fault(&mut self, service: Service) -> Option<FaultKind> {
        let i = self.faults.iter().position(|f| f.service == service && f.times > 0)?;
        self.faults[i].times -= 1;
        let kind = self.faults[i].kind.clone();
        if self.faults[i].times == 0 {
            self.faults.remove(i);
        }
        Some(kind)
    }
}

type Shared = Arc<Mutex<State>>;
type Reply = Response<Full<Bytes>>;

fn lock(state: &Shared) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The running OCI stand-ins.
pub struct OciStandIn {
    state: Shared,
    /// Address of the IMDS listener (QEMU: `guestfwd=tcp:169.254.169.254:80-tcp:<this>`).
    pub imds_addr: SocketAddr,
    /// `http://127.0.0.1:<port>/opc/v2` → `OCI_IMDS_BASE`.
    pub imds_base: String,
    /// `http://127.0.0.1:<port>` → `OCI_AUTH_BASE`.
    pub auth_base: String,
    /// `http://127.0.0.1:<port>` → `OCI_SECRETS_BASE`.
    pub secrets_base: String,
    /// `http://127.0.0.1:<port>` → `OCI_NOTIFICATION_BASE`.
    pub notification_base: String,
}

impl OciStandIn {
    /// Generates the PKI and starts the four listeners on 127.0.0.1.
    pub async fn start(options: OciOptions) -> std::io::Result<OciStandIn> {
        let (pki, token_key) = tokio::task::spawn_blocking({
            let (t, i) = (options.tenancy.clone(), options.instance_id.clone());
            move || -> Result<_, String> {
                let pki = pki::Pki::generate(&t, &i)?;
                let token_key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048).map_err(|e| e.to_string())?;
                Ok((pki, token_key))
            }
        })
        .await
        .map_err(std::io::Error::other)?
        .map_err(std::io::Error::other)?;
        let imds = TcpListener::bind(("127.0.0.1", options.imds_port)).await?;
        let [auth_port, secrets_port, notification_port] = options.service_ports;
        let listeners = [
            (Service::Imds, imds),
            (Service::Auth, TcpListener::bind(("127.0.0.1", auth_port)).await?),
            (Service::Secrets, TcpListener::bind(("127.0.0.1", secrets_port)).await?),
            (Service::Notifications, TcpListener::bind(("127.0.0.1", notification_port)).await?),
        ];
        let mut bases = Vec::new();
        for (_, l) in &listeners {
            bases.push(l.local_addr()?);
        }
        let state = Arc::new(Mutex::new(State {
            options,
            pki,
            token_key,
            sessions: HashMap::new(),
            denied: Vec::new(),
            messages: Vec::new(),
            clock_offset: 0,
            faults: Vec::new(),
            log: Vec::new(),
        }));
        for (service, listener) in listeners {
            tokio::spawn(accept_loop(listener, service, Arc::clone(&state)));
        }
        Ok(OciStandIn {
            state,
            imds_addr: bases[0],
            imds_base: format!("http://{}/opc/v2", bases[0]),
            auth_base: format!("http://{}", bases[1]),
            secrets_base: format!("http://{}", bases[2]),
            notification_base: format!("http://{}", bases[3]),
        })
    }

    /// The environment that makes the service boot from these stand-ins
    /// (`CONFIG_SOURCE=oci` and the four `OCI_*_BASE` overrides).
    pub fn service_env(&self) -> Vec<(String, String)> {
        [
            ("CONFIG_SOURCE", "oci".to_string()),
            ("OCI_IMDS_BASE", self.imds_base.clone()),
            ("OCI_AUTH_BASE", self.auth_base.clone()),
            ("OCI_SECRETS_BASE", self.secrets_base.clone()),
            ("OCI_NOTIFICATION_BASE", self.notification_base.clone()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The environment for a QEMU guest: the guest reaches IMDS at its real address
    /// (`169.254.169.254:80`, forwarded by `guestfwd` to [`OciStandIn::imds_addr`]) and the other
    /// stand-ins through the host address `guest_host` (10.0.2.2 under QEMU user networking).
    pub fn guest_env(&self, guest_host: &str) -> Vec<(String, String)> {
        let port = |base: &str| base.rsplit(':').next().unwrap_or("0").to_string();
        [
            ("CONFIG_SOURCE", "oci".to_string()),
            ("OCI_AUTH_BASE", format!("http://{guest_host}:{}", port(&self.auth_base))),
            ("OCI_SECRETS_BASE", format!("http://{guest_host}:{}", port(&self.secrets_base))),
            ("OCI_NOTIFICATION_BASE", format!("http://{guest_host}:{}", port(&self.notification_base))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// Requests seen so far.
    pub fn log(&self) -> Vec<LoggedRequest> {
        lock(&self.state).log.clone()
    }

    /// Requests seen so far by one stand-in.
    pub fn log_of(&self, service: Service) -> Vec<LoggedRequest> {
        self.log().into_iter().filter(|r| r.service == service).collect()
    }

    /// Messages published so far.
    pub fn published(&self) -> Vec<Published> {
        lock(&self.state).messages.clone()
    }

    /// Injects a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.state).faults.push(fault);
    }

    /// Sets or replaces a secret the instance may read.
    pub fn set_secret(&self, ocid: &str, content: SecretContent) {
        let mut s = lock(&self.state);
        s.options.secrets.insert(ocid.to_string(), content);
        s.denied.retain(|d| d != ocid);
    }

    /// Makes a secret exist but not be readable by the instance (missing policy).
    pub fn deny_secret(&self, ocid: &str) {
        lock(&self.state).denied.push(ocid.to_string());
    }

    /// Sets a custom metadata key.
    pub fn set_metadata(&self, key: &str, value: &str) {
        lock(&self.state).options.metadata.insert(key.to_string(), value.to_string());
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: i64) {
        lock(&self.state).options.token_lifetime_secs = secs;
    }

    /// Offsets the stand-ins' clock (OCI's time) from the real clock, e.g. to simulate a VM
    /// whose clock is behind by that much.
    pub fn set_clock_offset(&self, secs: i64) {
        lock(&self.state).clock_offset = secs;
    }

    /// Revokes every session token (the next service call gets 401).
    pub fn revoke_sessions(&self) {
        for s in lock(&self.state).sessions.values_mut() {
            s.revoked = true;
        }
    }

    /// How many tokens were issued.
    pub fn tokens_issued(&self) -> usize {
        lock(&self.state).sessions.len()
    }

    /// Issues a new leaf certificate and key (rotation).
    pub fn rotate_leaf(&self) -> Result<(), String> {
        let mut s = lock(&self.state);
        let (t, i) = (s.options.tenancy.clone(), s.options.instance_id.clone());
        s.pki.rotate_leaf(&t, &i)
    }

    /// The stand-in root CA (PEM).
    pub fn ca_pem(&self) -> String {
        lock(&self.state).pki.ca_pem.clone()
    }

    /// The current leaf key PEM (for reference clients such as the Python SDK in tests).
    pub fn leaf_key_pem(&self) -> String {
        lock(&self.state).pki.leaf_key_pem.clone()
    }
}

/// The OCID of the demo's PayPal secret in the Vault stand-in.
pub const DEMO_PAYPAL_SECRET_OCID: &str = "ocid1.vaultsecret.oc1.iad.demopaypalsecret";
/// The OCID of the demo's notification topic.
pub const DEMO_TOPIC_OCID: &str = "ocid1.onstopic.oc1.iad.demoalerts";

/// Options for a demo: instance metadata naming `client_id`, `domain` and the sandbox, the
/// PayPal secret in the Vault stand-in, and a notification topic.
pub fn demo_options(client_id: &str, paypal_secret: &str, domain: &str) -> OciOptions {
    let mut o = OciOptions::default();
    for (k, v) in [
        ("paypal_client_id", client_id),
        ("domain", domain),
        ("paypal_environment", "sandbox"),
        ("paypal_secret_ocid", DEMO_PAYPAL_SECRET_OCID),
        ("notification_topic_ocid", DEMO_TOPIC_OCID),
    ] {
        o.metadata.insert(k.to_string(), v.to_string());
    }
    o.secrets.insert(DEMO_PAYPAL_SECRET_OCID.to_string(), SecretContent::Bytes(paypal_secret.as_bytes().to_vec()));
    o.topics.push(DEMO_TOPIC_OCID.to_string());
    o
}

/// Switches a local service environment to the OCI boot path: starts the stand-ins with
/// [`demo_options`], removes what metadata and Vault now provide (`PAYPAL_SECRET`,
/// `PAYPAL_CLIENT_ID`, `DOMAIN`, `PAYPAL_ENVIRONMENT`) and adds [`OciStandIn::service_env`].
/// Keep the returned stand-ins alive as long as the service runs.
pub async fn for_demo(env: &mut Vec<(String, String)>, client_id: &str, paypal_secret: &str, domain: &str) -> Result<OciStandIn, String> {
    let oci = OciStandIn::start(demo_options(client_id, paypal_secret, domain)).await.map_err(|e| format!("OCI stand-ins: {e}"))?;
    env.retain(|(k, _)| !matches!(k.as_str(), "PAYPAL_SECRET" | "PAYPAL_CLIENT_ID" | "DOMAIN" | "PAYPAL_ENVIRONMENT"));
    env.extend(oci.service_env());
    Ok(oci)
}

#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("reset")
    }
}

impl std::error::Error for Reset {}

async fn accept_loop(listener: TcpListener, service: Service, state: Shared) {
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                let state = Arc::clone(&state);
                async move { handle(req, service, state).await.ok_or(Reset) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), svc).await;
        });
    }
}

fn oci_error(status: u16, message: &str, now: i64) -> Reply {
    let code = match status {
        400 => "InvalidParameter",
        401 => "NotAuthenticated",
        403 => "Forbidden",
        404 => "NotAuthorizedOrNotFound",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        _ => "InternalServerError",
    };
    let mut r = json_reply(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), json!({"code": code, "message": message}));
    set_date(&mut r, now);
    r
}

fn json_reply(status: StatusCode, value: serde_json::Value) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    r.headers_mut().insert("opc-request-id", hyper::header::HeaderValue::from_static("standin"));
    r
}

fn text_reply(status: StatusCode, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("text/plain"));
    r
}

fn set_date(r: &mut Reply, now: i64) {
    let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now.max(0) as u64));
    if let Ok(v) = date.parse() {
        r.headers_mut().insert("date", v);
    }
}

async fn handle(req: Request<Incoming>, service: Service, state: Shared) -> Option<Reply> {
    let (parts, body) = req.into_parts();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let body = match Limited::new(body, 256 * 1024).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let fault = lock(&state).take_fault(service);
    let mut key_id = None;
    let reply = match fault {
        Some(FaultKind::Reset) => None,
        Some(FaultKind::Status(code)) => {
            let now = lock(&state).now();
            Some(Err((code, "injected fault".to_string(), now)))
        }
        Some(FaultKind::Delay(d)) => {
            tokio::time::sleep(d).await;
            Some(route(&state, service, &method, &path, &parts.headers, &body, &mut key_id))
        }
        None => Some(route(&state, service, &method, &path, &parts.headers, &body, &mut key_id)),
    };
    let (status, refusal, reply) = match reply {
        None => (0, Some("connection reset (fault)".to_string()), None),
        Some(Ok(r)) => (r.status().as_u16(), None, Some(r)),
        Some(Err((code, why, now))) => (code, Some(why.clone()), Some(oci_error(code, &why, now))),
    };
    lock(&state).log.push(LoggedRequest { service, method, path, status, refusal, key_id });
    reply
}

type Outcome = Result<Reply, (u16, String, i64)>;

fn route(state: &Shared, service: Service, method: &str, path: &str, headers: &hyper::HeaderMap, body: &[u8], key_id: &mut Option<String>) -> Outcome {
    let mut s = lock(state);
    let now = s.now();
    let refuse = |code: u16, why: &str| Err((code, why.to_string(), now));
    match service {
        Service::Imds => imds(&s, method, path, headers).map_err(|(c, w)| (c, w, now)),
        Service::Auth => {
            if method != "POST" || path != "/v1/x509" {
                return refuse(404, "unknown auth path");
            }
            federate(&mut s, headers, body, key_id, now).map_err(|(c, w)| (c, w, now))
        }
        Service::Secrets => {
            let Some(rest) = path.strip_prefix("/20190301/secretbundles/") else { return refuse(404, "unknown path") };
            if method != "GET" {
                return refuse(405, "method not allowed");
            }
            if let Err(e) = check_session(&s, method, path, headers, body, key_id, now) {
                return Err((e.0, e.1, now));
            }
            let ocid = rest.split('?').next().unwrap_or("");
            let query = rest.split_once('?').map(|(_, q)| q).unwrap_or("");
            if !query.is_empty() && !query.split('&').all(|kv| matches!(kv, "stage=CURRENT" | "stage=LATEST")) {
                return refuse(400, "unsupported query");
            }
            let content = match s.options.secrets.get(ocid) {
                Some(c) if !s.denied.iter().any(|d| d == ocid) => c.clone(),
                _ => return refuse(404, "Authorization failed or requested resource not found."),
            };
            let content = match content {
                SecretContent::Bytes(b) => B64.encode(b),
                SecretContent::Raw(r) => r,
            };
            Ok(json_reply(
                StatusCode::OK,
                json!({
                    "secretId": ocid, "versionNumber": 1, "versionName": null, "stages": ["CURRENT", "LATEST"],
                    "timeCreated": "2026-01-01T00:00:00.000Z", "timeOfDeletion": null, "timeOfExpiry": null, "metadata": null,
                    "secretBundleContent": {"contentType": "BASE64", "content": content}
                }),
            ))
        }
        Service::Notifications => {
            let topic = path.strip_prefix("/20181201/topics/").and_then(|r| r.strip_suffix("/messages")).unwrap_or("").to_string();
            if topic.is_empty() || method != "POST" {
                return refuse(404, "unknown path");
            }
            if let Err(e) = check_session(&s, method, path, headers, body, key_id, now) {
                return Err((e.0, e.1, now));
            }
            if !s.options.topics.contains(&topic) {
                return refuse(404, "Authorization failed or requested resource not found.");
            }
            let msg: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let Some(text) = msg.get("body").and_then(|b| b.as_str()) else { return refuse(400, "body is required") };
            if body.len() > 64 * 1024 {
                return refuse(400, "message larger than 64 KB");
            }
            let title = msg.get("title").and_then(|t| t.as_str()).unwrap_or("").to_string();
            s.messages.push(Published { topic, title, body: text.to_string() });
            let id = format!("ocid1.onsmessage.oc1.iad.standin{}", s.messages.len());
            Ok(json_reply(StatusCode::OK, json!({"messageId": id, "timeStamp": "2026-01-01T00:00:00.000Z"})))
        }
    }
}

fn imds(s: &State, method: &str, path: &str, headers: &hyper::HeaderMap) -> Result<Reply, (u16, String)> {
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer Oracle") {
        return Err((401, "IMDS v2 requires 'Authorization: Bearer Oracle'".into()));
    }
    if ["forwarded", "x-forwarded-for", "x-forwarded-host"].iter().any(|h| headers.contains_key(*h)) {
        return Err((403, "requests with Forwarded/X-Forwarded-* headers are rejected".into()));
    }
    if method != "GET" {
        return Err((405, "method not allowed".into()));
    }
    let Some(rest) = path.strip_prefix("/opc/v2/") else { return Err((404, "not found (only /opc/v2)".into())) };
    let pki = &s.pki;
    match rest {
        "identity/cert.pem" => return Ok(text_reply(StatusCode::OK, pki.leaf_pem.clone())),
        "identity/key.pem" => return Ok(text_reply(StatusCode::OK, pki.leaf_key_pem.clone())),
        "identity/intermediate.pem" => return Ok(text_reply(StatusCode::OK, pki.intermediate_pem.clone())),
        _ => {}
    }
    let o = &s.options;
    let doc = json!({
        "instance": {
            "availabilityDomain": "EMIr:US-ASHBURN-AD-1", "faultDomain": "FAULT-DOMAIN-1",
            "compartmentId": "ocid1.compartment.oc1..standin", "displayName": "paypal-auth-vm",
            "hostname": "paypal-auth-vm", "id": o.instance_id, "image": "ocid1.image.oc1.iad.standin",
            "metadata": o.metadata, "region": "iad", "canonicalRegionName": o.region, "ociAdName": "iad-ad-1",
            "regionInfo": {"realmKey": "oc1", "realmDomainComponent": "oraclecloud.com", "regionKey": "IAD", "regionIdentifier": o.region},
            "shape": "VM.Standard.E5.Flex", "shapeConfig": {"ocpus": 1.0, "memoryInGBs": 4.0, "networkingBandwidthInGbps": 1.0, "maxVnicAttachments": 2},
            "state": "Running", "timeCreated": 1_767_225_600_000i64, "tenantId": o.tenancy,
            "agentConfig": {"monitoringDisabled": true, "managementDisabled": true, "allPluginsDisabled": true},
            "freeformTags": {}, "definedTags": {}
        },
        "vnics": [{"vnicId": "ocid1.vnic.oc1.iad.standin", "privateIp": "10.0.1.50", "vlanTag": 0, "macAddr": "02:00:17:00:00:01",
                   "virtualRouterIp": "10.0.1.1", "subnetCidrBlock": "10.0.1.0/24", "nicIndex": 0}]
    });
    let dir = rest.ends_with('/');
    let mut node = &doc;
    for seg in rest.trim_end_matches('/').split('/').filter(|s| !s.is_empty()) {
        node = match node {
            serde_json::Value::Object(m) => m.get(seg),
            serde_json::Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
            _ => None,
        }
        .ok_or((404, format!("no metadata at {path}")))?;
    }
    match node {
        serde_json::Value::String(text) if !dir => Ok(text_reply(StatusCode::OK, text.clone())),
        serde_json::Value::Object(_) | serde_json::Value::Array(_) => Ok(json_reply(StatusCode::OK, node.clone())),
        serde_json::Value::String(_) => Err((404, format!("{path} is not a directory"))),
        other if !dir => Ok(text_reply(StatusCode::OK, other.to_string())),
        _ => Err((404, format!("{path} is not a directory"))),
    }
}

fn check_date(headers: &hyper::HeaderMap, now: i64) -> Result<(), (u16, String)> {
    let date = headers.get("date").or_else(|| headers.get("x-date")).and_then(|v| v.to_str().ok()).ok_or((401, "no date header".to_string()))?;
    let t = httpdate::parse_http_date(date).map_err(|_| (401, "date header is not an HTTP date".to_string()))?;
    let t = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    if (t - now).abs() > 300 {
        let current = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(now.max(0) as u64));
        return Err((401, format!("Date '{date}' is not within allowed clock skew. Current '{current}', allowed skew 5 minutes")));
    }
    Ok(())
}

fn signature_of(headers: &hyper::HeaderMap) -> Result<httpsig::SignatureParams, (u16, String)> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).ok_or((401, "no Authorization header".to_string()))?;
    httpsig::parse_authorization(auth).map_err(|e| (401, e.to_string()))
}

fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

fn federate(s: &mut State, headers: &hyper::HeaderMap, body: &[u8], key_id_out: &mut Option<String>, now: i64) -> Result<Reply, (u16, String)> {
    let params = signature_of(headers)?;
    *key_id_out = Some(params.key_id.clone());
    check_date(headers, now)?;
    let want = httpsig::required_headers("POST", false);
    if params.headers != want {
        return Err((401, format!("federation must sign exactly '{}'", want.join(" "))));
    }
    httpsig::check_body(headers, body).map_err(|e| (400, e.to_string()))?;
    if headers.get("content-type").and_then(|v| v.to_str().ok()) != Some("application/json") {
        return Err((400, "content-type must be application/json".into()));
    }
    let req: serde_json::Value = serde_json::from_slice(body).map_err(|_| (400, "body is not JSON".to_string()))?;
    let leaf_b64 = req.get("certificate").and_then(|v| v.as_str()).ok_or((400, "no certificate".to_string()))?;
    let pub_b64 = req.get("publicKey").and_then(|v| v.as_str()).ok_or((400, "no publicKey".to_string()))?;
    let int_b64 = req
        .get("intermediateCertificates")
        .and_then(|v| v.as_array())
        .and_then(|a| a.first())
        .and_then(|v| v.as_str())
        .ok_or((400, "no intermediateCertificates".to_string()))?;
    let leaf_der = B64.decode(leaf_b64).map_err(|_| (400, "certificate is not base64 DER".to_string()))?;
    let int_der = B64.decode(int_b64).map_err(|_| (400, "intermediate is not base64 DER".to_string()))?;
    let (tenancy, leaf_key) = s.pki.check_chain(&leaf_der, &int_der).map_err(|e| (401, e))?;
    let fp_sha256 = colon_hex(&Sha256::digest(&leaf_der));
    let fp_sha1 = colon_hex(&sha1::Sha1::digest(&leaf_der)).to_ascii_uppercase();
    let fp_alg = req.get("fingerprintAlgorithm").and_then(|v| v.as_str());
    let key_ok = match params.key_id.split_once('/') {
        Some((t, rest)) if t == tenancy => match rest.split_once('/') {
            Some(("fed-x509-sha256", fp)) => fp.eq_ignore_ascii_case(&fp_sha256) && fp_alg == Some("SHA256"),
            Some(("fed-x509", fp)) => fp.eq_ignore_ascii_case(&fp_sha1) && fp_alg.is_none_or(|a| a == "SHA1"),
            _ => false,
        },
        _ => false,
    };
    if !key_ok {
        return Err((401, "keyId does not name this certificate's tenancy and fingerprint".into()));
    }
    httpsig::verify(&params, "POST", "/v1/x509", headers, &leaf_key).map_err(|e| (401, e.to_string()))?;
    let session_der = B64.decode(pub_b64).map_err(|_| (400, "publicKey is not base64".to_string()))?;
    let session_key = rsa::RsaPublicKey::from_public_key_der(&session_der).map_err(|_| (400, "publicKey is not an RSA SPKI".to_string()))?;
    if session_key.n().bits() < 2048 {
        return Err((400, "session key shorter than 2048 bits".into()));
    }
    let exp = now + s.options.token_lifetime_secs;
    let header = B64URL.encode(json!({"alg": "RS256", "typ": "JWT", "kid": "standin"}).to_string());
    let claims = json!({
        "sub": s.options.instance_id, "opc-instance": s.options.instance_id, "tenant": tenancy, "ptype": "instance",
        "iss": "authService.oracle.com", "aud": "oci", "iat": now, "exp": exp,
        "jwk": {"kty": "RSA", "kid": "standin-session", "n": B64URL.encode(session_key.n().to_bytes_be()), "e": B64URL.encode(session_key.e().to_bytes_be())}
    });
    let signing_input = format!("{header}.{}", B64URL.encode(claims.to_string()));
    let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new(s.token_key.clone());
    let token = format!("{signing_input}.{}", B64URL.encode(signer.sign(signing_input.as_bytes()).to_bytes()));
    s.sessions.insert(token.clone(), SessionInfo { public: session_key, exp, revoked: false });
    Ok(json_reply(StatusCode::OK, json!({ "token": token })))
}

fn check_session(s: &State, method: &str, path: &str, headers: &hyper::HeaderMap, body: &[u8], key_id_out: &mut Option<String>, now: i64) -> Result<(), (u16, String)> {
    let params = signature_of(headers)?;
    let token = params.key_id.strip_prefix("ST$").ok_or((401, "keyId is not ST$<token>".to_string()))?;
    *key_id_out = Some("ST$…".to_string());
    // The token must carry our own signature…
    let (input, sig) = token.rsplit_once('.').ok_or((401, "token is not a JWT".to_string()))?;
    let sig = B64URL.decode(sig).map_err(|_| (401, "token signature is not base64url".to_string()))?;
    let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).map_err(|_| (401, "token signature malformed".to_string()))?;
    rsa::pkcs1v15::VerifyingKey::<Sha256>::new(s.token_key.to_public_key())
        .verify(input.as_bytes(), &sig)
        .map_err(|_| (401, "token not signed by the auth service".to_string()))?;
    // …and have been issued, not revoked, not expired.
    let session = s.sessions.get(token).ok_or((401, "token unknown".to_string()))?;
    if session.revoked {
        return Err((401, "token revoked".into()));
    }
    if now >= session.exp {
        return Err((401, "token expired".into()));
    }
    check_date(headers, now)?;
    let want = httpsig::required_headers(method, true);
    if want.iter().any(|h| !params.headers.iter().any(|p| p == h)) {
        return Err((401, format!("must sign at least '{}'", want.join(" "))));
    }
    if matches!(method, "POST" | "PUT" | "PATCH") {
        httpsig::check_body(headers, body).map_err(|e| (400, e.to_string()))?;
    }
    httpsig::verify(&params, method, path, headers, &session.public).map_err(|e| (401, e.to_string()))
}
