//! The service's OCI boot path (`CONFIG_SOURCE=oci`) against the strict OCI stand-ins of
//! `devstack::oci`: the whole sequence, each failure with its defined outcome, token refresh,
//! the Python SDK as a reference, and no secret in any log line, page or notification.

use devstack::browser::{embedded_bundle, Browser};
use devstack::oci::{Fault, FaultKind, OciOptions, OciStandIn, SecretContent, Service};
use devstack::paypal::{Client, PaypalStandIn};
use devstack::service::{free_port, ServiceProcess};
use paypal_auth_vm::net::http::{HttpClient, Resolver};
use paypal_auth_vm::oci::{federation::Federation, imds::Imds, secrets, Clock};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The service binary. `PAV_SERVICE_BIN` may name a copy: several worktrees sharing one
/// `CARGO_TARGET_DIR` overwrite each other's `target/debug/paypal-auth-vm`.
fn binary() -> String {
    std::env::var("PAV_SERVICE_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_paypal-auth-vm").to_string())
}
const PAYPAL_SECRET_OCID: &str = "ocid1.vaultsecret.oc1.iad.paypalsecret";
const SIGNING_KEY_OCID: &str = "ocid1.vaultsecret.oc1.iad.signingkey";
const TOPIC_OCID: &str = "ocid1.onstopic.oc1.iad.alerts";
const CLIENT_ID: &str = "oci-test-client-id";
/// A known secret value that must never appear anywhere.
const PAYPAL_SECRET: &str = "EHt0pSecret-KNOWN-VALUE-9f8e7d6c5b4a3210zzyyxxww";

fn options(paypal_secret: &str) -> OciOptions {
    let mut o = OciOptions::default();
    for (k, v) in [
        ("paypal_client_id", CLIENT_ID),
        ("domain", "localhost"),
        ("paypal_environment", "sandbox"),
        ("paypal_secret_ocid", PAYPAL_SECRET_OCID),
        ("notification_topic_ocid", TOPIC_OCID),
    ] {
        o.metadata.insert(k.into(), v.into());
    }
    o.secrets.insert(PAYPAL_SECRET_OCID.into(), SecretContent::Bytes(paypal_secret.as_bytes().to_vec()));
    o.topics.push(TOPIC_OCID.into());
    o
}

struct Running {
    service: ServiceProcess,
    https: String,
}

/// Starts the real binary against `oci` (plus `extra` environment).
fn start_service(oci: &OciStandIn, extra: &[(&str, &str)]) -> Running {
    let (https_port, http_port) = (free_port(), free_port());
    let https = format!("https://127.0.0.1:{https_port}");
    let mut env = oci.service_env();
    for (k, v) in [
        ("TLS_SOURCE", "self-signed".to_string()),
        ("PUBLIC_URL", https.clone()),
        ("HTTPS_ADDR", format!("127.0.0.1:{https_port}")),
        ("HTTP_ADDR", format!("127.0.0.1:{http_port}")),
        ("OCI_RETRY_MAX_MS", "400".to_string()),
    ] {
        env.push((k.to_string(), v));
    }
    for (k, v) in extra {
        env.push((k.to_string(), v.to_string()));
    }
    let service = ServiceProcess::start(&binary(), &env, false).expect("service starts");
    Running { service, https }
}

/// Waits (without blocking the runtime the stand-ins run on) for a log line containing `needle`.
async fn wait_log(svc: &mut ServiceProcess, needle: &str, secs: u64) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let logs = svc.logs();
        if logs.iter().any(|l| l.contains(needle)) {
            return logs;
        }
        if let Some(status) = svc.try_wait() {
            panic!("service exited ({status}) before logging {needle:?}:\n{}", logs.join("\n"));
        }
        if Instant::now() > deadline {
            panic!("service did not log {needle:?} within {secs} s:\n{}", logs.join("\n"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn count(logs: &[String], needle: &str) -> usize {
    logs.iter().filter(|l| l.contains(needle)).count()
}

fn http() -> HttpClient {
    HttpClient::new(None, Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_boot_sequence_from_metadata_vault_and_notifications() {
    use p256::pkcs8::EncodePrivateKey as _;
    let signing_pem = p256::SecretKey::random(&mut rand_core::OsRng).to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap().to_string();
    let mut o = options(PAYPAL_SECRET);
    o.metadata.insert("signing_key_secret_ocid".into(), SIGNING_KEY_OCID.into());
    o.secrets.insert(SIGNING_KEY_OCID.into(), SecretContent::Bytes(signing_pem.as_bytes().to_vec()));
    let oci = OciStandIn::start(o).await.unwrap();
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "serving", 60).await;

    // Boot order and what each step used.
    for step in ["step instance-metadata ok", "step instance-principal ok", "step vault-paypal-secret ok", "step vault-signing-key ok"] {
        assert_eq!(count(&logs, step), 1, "{step}:\n{}", logs.join("\n"));
    }
    assert!(logs.iter().any(|l| l.contains("instance ocid1.instance.oc1.iad.standininstance in us-ashburn-1 (oraclecloud.com)")), "{}", logs.join("\n"));
    assert!(logs.iter().any(|l| l.contains("loaded from a secret")), "{}", logs.join("\n"));

    // Every stand-in request was accepted; federation used the leaf key with the SHA-256 keyId.
    for r in oci.log() {
        assert_eq!(r.status, 200, "{r:?}");
    }
    let auth = oci.log_of(Service::Auth);
    assert_eq!(auth.len(), 1);
    assert!(auth[0].key_id.as_deref().unwrap().starts_with("ocid1.tenancy.oc1..aaaaaaaastandintenancy/fed-x509-sha256/"));
    let secrets_log = oci.log_of(Service::Secrets);
    assert_eq!(secrets_log.iter().map(|r| r.path.as_str()).collect::<Vec<_>>(), [
        format!("/20190301/secretbundles/{PAYPAL_SECRET_OCID}?stage=CURRENT"),
        format!("/20190301/secretbundles/{SIGNING_KEY_OCID}?stage=CURRENT"),
    ]);
    let imds_paths: Vec<String> = oci.log_of(Service::Imds).into_iter().map(|r| r.path).collect();
    assert!(imds_paths.contains(&"/opc/v2/instance/".to_string()) && imds_paths.contains(&"/opc/v2/identity/key.pem".to_string()), "{imds_paths:?}");

    // The boot notification carries the public signing key and nothing secret.
    let deadline = Instant::now() + Duration::from_secs(10);
    while oci.published().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let published = oci.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].title, "paypal-auth-vm localhost: boot complete");
    assert!(published[0].body.contains("\"kty\":\"EC\"") && published[0].body.contains("loaded from Vault"), "{}", published[0].body);
    assert!(!published[0].body.contains("\"d\""), "private part in notification");

    // It serves.
    let page = Browser::new(None).get(&format!("{}/healthz", run.https)).await.unwrap();
    assert_eq!(page.status, 200);
    let _ = &mut run;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_absent_slow_throttled_or_refusing_is_retried_with_one_line_each() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    for kind in [FaultKind::Reset, FaultKind::Delay(Duration::from_secs(11)), FaultKind::Status(503), FaultKind::Status(429), FaultKind::Status(401), FaultKind::Status(404)] {
        oci.inject(Fault { service: Service::Imds, kind, times: 1 });
    }
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "serving", 90).await;
    let fails: Vec<&String> = logs.iter().filter(|l| l.contains("instance-metadata failed")).collect();
    assert_eq!(fails.len(), 6, "{}", logs.join("\n"));
    assert!(fails[0].contains("instance metadata service unreachable: transport error"), "{}", fails[0]);
    assert!(fails[1].contains("unreachable: timed out"), "{}", fails[1]);
    assert!(fails[2].contains("busy or in maintenance (HTTP 503)"));
    assert!(fails[3].contains("busy or in maintenance (HTTP 429)"));
    assert!(fails[4].contains("refused instance/ with 401"));
    assert!(fails[5].contains("has no instance/ (404)"));
    assert!(logs.iter().any(|l| l.contains("step instance-metadata ok") && l.contains("7 attempts")), "{}", logs.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_stand_in_is_strict() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    let client = http();
    let get = |path: &str, headers: Vec<(&'static str, &'static str)>| {
        let url = format!("{}/{path}", oci.imds_base);
        let client = client.clone();
        async move { client.send(hyper::Method::GET, &url, &headers, Vec::new(), Duration::from_secs(5), 65536).await.unwrap() }
    };
    assert_eq!(get("instance/", vec![]).await.status, 401);
    assert_eq!(get("instance/", vec![("authorization", "Bearer Oracle"), ("x-forwarded-for", "1.2.3.4")]).await.status, 403);
    assert_eq!(get("instance/", vec![("authorization", "Bearer Oracle"), ("forwarded", "for=1.2.3.4")]).await.status, 403);
    let region = get("instance/region", vec![("authorization", "Bearer Oracle")]).await;
    assert_eq!((region.status.as_u16(), &region.body[..]), (200, &b"iad"[..]));
    let doc = get("instance/", vec![("authorization", "Bearer Oracle")]).await;
    assert!(doc.headers["content-type"].to_str().unwrap().contains("json"));
    assert_eq!(get("instance/metadata/domain", vec![("authorization", "Bearer Oracle")]).await.body, "localhost");
    assert_eq!(get("instance/nothing", vec![("authorization", "Bearer Oracle")]).await.status, 404);
    let v1 = client.send(hyper::Method::GET, &oci.imds_base.replace("/opc/v2", "/opc/v1/instance/"), &[("authorization", "Bearer Oracle")], Vec::new(), Duration::from_secs(5), 65536).await.unwrap();
    assert_eq!(v1.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_401_is_retried_until_federation_succeeds() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    oci.inject(Fault { service: Service::Auth, kind: FaultKind::Status(401), times: 2 });
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "serving", 60).await;
    assert_eq!(count(&logs, "instance-principal failed"), 2, "{}", logs.join("\n"));
    assert!(logs.iter().any(|l| l.contains("auth service refused federation: HTTP 401 NotAuthenticated")), "{}", logs.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_over_five_minutes_is_reported_and_corrected() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    oci.set_clock_offset(900); // OCI's clock is 15 minutes ahead of the VM's.
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "serving", 60).await;
    let skew: Vec<&String> = logs.iter().filter(|l| l.contains("clock skew")).collect();
    assert_eq!(skew.len(), 1, "{}", logs.join("\n"));
    assert!(skew[0].contains("instance-principal failed (attempt 1)") && (skew[0].contains(" 900 s") || skew[0].contains(" 899 s") || skew[0].contains(" 901 s")), "{}", skew[0]);
    // The stand-in refused the first federation for its date, then accepted everything.
    let auth = oci.log_of(Service::Auth);
    assert_eq!(auth.iter().map(|r| r.status).collect::<Vec<_>>(), [401, 200]);
    assert!(auth[0].refusal.as_deref().unwrap().contains("not within allowed clock skew"));
    assert!(oci.log_of(Service::Secrets).iter().all(|r| r.status == 200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_not_authorized_waits_without_serving_until_granted() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    oci.deny_secret(PAYPAL_SECRET_OCID);
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "vault-paypal-secret failed (attempt 3)", 30).await;
    assert!(logs.iter().any(|l| l.contains("404 NotAuthorizedOrNotFound")), "{}", logs.join("\n"));
    // Still alive, and no login (no listener at all) without the secret.
    assert!(run.service.try_wait().is_none());
    assert!(Browser::new(None).get(&format!("{}/", run.https)).await.is_err(), "served without the PayPal secret");
    assert!(!run.service.logs().iter().any(|l| l.contains("serving")));
    oci.set_secret(PAYPAL_SECRET_OCID, SecretContent::Bytes(PAYPAL_SECRET.as_bytes().to_vec()));
    wait_log(&mut run.service, "serving", 30).await;
    assert_eq!(Browser::new(None).get(&format!("{}/healthz", run.https)).await.unwrap().status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_base64_secret_is_named_and_retried() {
    let mut o = options(PAYPAL_SECRET);
    o.secrets.insert(PAYPAL_SECRET_OCID.into(), SecretContent::Raw("%%not-base64 KNOWN-RAW-CONTENT%%".into()));
    let oci = OciStandIn::start(o).await.unwrap();
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "vault-paypal-secret failed (attempt 2)", 30).await;
    assert!(logs.iter().any(|l| l.contains("secret bundle content is not valid base64")), "{}", logs.join("\n"));
    assert!(!logs.iter().any(|l| l.contains("KNOWN-RAW-CONTENT")));
    oci.set_secret(PAYPAL_SECRET_OCID, SecretContent::Bytes(PAYPAL_SECRET.as_bytes().to_vec()));
    wait_log(&mut run.service, "serving", 30).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_metadata_is_retried_and_urls_cannot_come_from_metadata() {
    let mut o = options(PAYPAL_SECRET);
    o.metadata.remove("paypal_secret_ocid");
    o.metadata.insert("paypal_api_base".into(), "https://evil.example".into());
    let oci = OciStandIn::start(o).await.unwrap();
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "instance-metadata failed (attempt 2)", 30).await;
    assert!(logs.iter().any(|l| l.contains("instance metadata key paypal_secret_ocid is not set")), "{}", logs.join("\n"));
    oci.set_metadata("paypal_secret_ocid", PAYPAL_SECRET_OCID);
    let logs = wait_log(&mut run.service, "serving", 30).await;
    assert!(!logs.iter().any(|l| l.contains("evil.example")));
}

/// Library-level: token expiry → a new federation with a new session key; a revoked token (401)
/// → one refresh and a retry; a rotated leaf is re-read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_expiry_and_401_trigger_refresh() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    oci.set_token_lifetime(4);
    let http = http();
    let imds = Imds::new(http.clone(), &oci.imds_base);
    let fed = Federation::new(http, imds, &oci.auth_base, Arc::new(Clock::default()));
    let first = fed.session().await.unwrap();
    assert_eq!(first.refresh_at, first.exp - 2, "short tokens refresh at half their life");
    assert_eq!(secrets::fetch(&fed, &oci.secrets_base, PAYPAL_SECRET_OCID).await.unwrap().expose(), PAYPAL_SECRET.as_bytes());
    assert_eq!(oci.tokens_issued(), 1);

    oci.rotate_leaf().unwrap();
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(secrets::fetch(&fed, &oci.secrets_base, PAYPAL_SECRET_OCID).await.unwrap().expose(), PAYPAL_SECRET.as_bytes());
    assert_eq!(oci.tokens_issued(), 2, "refreshed before exp");
    let second = fed.session().await.unwrap();
    assert!(!Arc::ptr_eq(&first, &second));

    oci.set_token_lifetime(3600);
    oci.revoke_sessions();
    assert_eq!(secrets::fetch(&fed, &oci.secrets_base, PAYPAL_SECRET_OCID).await.unwrap().expose(), PAYPAL_SECRET.as_bytes());
    assert_eq!(oci.tokens_issued(), 3, "401 → federate again → retry");
    let statuses: Vec<u16> = oci.log_of(Service::Secrets).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200, 401, 200]);

    // Unknown secret: 404 NotAuthorizedOrNotFound, a named error.
    let e = secrets::fetch(&fed, &oci.secrets_base, "ocid1.vaultsecret.oc1.iad.unknown").await.unwrap_err();
    assert!(matches!(e, secrets::SecretError::NotAuthorizedOrNotFound), "{e}");
}

/// The full e2e login with known secret values: none appears in any log line, page or
/// notification.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_secrets_never_appear_in_logs_pages_or_notifications() {
    use base64::Engine as _;
    use p256::pkcs8::EncodePrivateKey as _;
    let signing_pem = p256::SecretKey::random(&mut rand_core::OsRng).to_pkcs8_pem(p256::pkcs8::LineEnding::LF).unwrap().to_string();
    let mut o = options(PAYPAL_SECRET);
    o.metadata.insert("signing_key_secret_ocid".into(), SIGNING_KEY_OCID.into());
    o.secrets.insert(SIGNING_KEY_OCID.into(), SecretContent::Bytes(signing_pem.as_bytes().to_vec()));
    let oci = OciStandIn::start(o).await.unwrap();

    let https_port = free_port();
    let public_url = format!("https://127.0.0.1:{https_port}");
    let client = Client {
        client_id: CLIENT_ID.into(),
        secret: PAYPAL_SECRET.into(),
        env: "sandbox".into(),
        app_id: "APP-80W284485P519543T".into(),
        return_urls: vec![format!("{public_url}/callback")],
        enabled_scopes: ["openid", "profile", "email"].map(String::from).to_vec(),
    };
    let paypal = PaypalStandIn::start(client, 0, 0).await.unwrap();
    let mut env = oci.service_env();
    for (k, v) in [
        ("TLS_SOURCE", "self-signed".to_string()),
        ("PUBLIC_URL", public_url.clone()),
        ("HTTPS_ADDR", format!("127.0.0.1:{https_port}")),
        ("HTTP_ADDR", format!("127.0.0.1:{}", free_port())),
        ("PAYPAL_AUTH_BASE", paypal.auth_base.clone()),
        ("PAYPAL_API_BASE", paypal.api_base.clone()),
        ("OCI_RETRY_MAX_MS", "400".to_string()),
    ] {
        env.push((k.to_string(), v));
    }
    let mut service = ServiceProcess::start(&binary(), &env, false).unwrap();
    wait_log(&mut service, "serving", 60).await;

    let browser = Browser::new(None);
    let mut bodies = Vec::new();
    let page = browser.login(&public_url, "alice").await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(embedded_bundle(&page.body).is_some(), "the login worked with the Vault secret");
    bodies.push(page.body);
    bodies.push(browser.login(&public_url, "alice").await.unwrap().body); // refused second use
    for path in ["/", "/healthz", "/login", "/callback?code=x&state=y", "/attestation?nonce=00", "/nope"] {
        if let Ok(p) = browser.get(&format!("{public_url}{path}")).await {
            bodies.push(p.body);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut haystack = service.logs();
    haystack.extend(bodies);
    haystack.extend(oci.published().into_iter().flat_map(|m| [m.title, m.body]));

    let b64 = base64::engine::general_purpose::STANDARD;
    let key_body: String = signing_pem.lines().filter(|l| !l.starts_with("-----")).collect();
    let mut needles = vec![PAYPAL_SECRET.to_string(), b64.encode(PAYPAL_SECRET), b64.encode(&signing_pem), key_body];
    needles.extend(signing_pem.lines().filter(|l| !l.starts_with("-----") && l.len() > 16).map(String::from));
    needles.push(b64.encode(format!("{CLIENT_ID}:{PAYPAL_SECRET}"))); // the Basic credential
    for needle in &needles {
        for line in &haystack {
            assert!(!line.contains(needle.as_str()), "secret material {needle:?} leaked in: {line}");
        }
    }
    assert!(haystack.len() > 10);
}

/// The Python `oci` SDK as the reference: it signs random requests exactly as our signer does,
/// and federates and reads a secret against our stand-ins (so they accept the real client).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_sdk_is_the_reference() {
    const PY: &str = "/opt/pav-venv/bin/python3";
    if std::process::Command::new(PY).args(["-c", "import oci"]).output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("SKIPPED python_sdk_is_the_reference: {PY} with the `oci` package is absent (pip install oci)");
        return;
    }
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oci_sdk_reference.py");
    let (imds_base, auth_base, secrets_base, leaf_key) = (oci.imds_base.clone(), oci.auth_base.clone(), oci.secrets_base.clone(), oci.leaf_key_pem());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(PY)
            .arg(&script)
            .env("OCI_METADATA_BASE_URL", &imds_base)
            .env("FEDERATION_ENDPOINT", format!("{auth_base}/v1/x509"))
            .env("SECRETS_ENDPOINT", &secrets_base)
            .env("SECRET_OCID", PAYPAL_SECRET_OCID)
            .env("LEAF_KEY_PEM", leaf_key)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "SDK script failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    // 1. Signing: each line is `method \t url \t date \t body_b64 \t authorization` from the SDK.
    let key = paypal_auth_vm::oci::signer::RsaKey::from_pem(&oci.leaf_key_pem()).unwrap();
    let mut compared = 0;
    for line in stdout.lines().filter_map(|l| l.strip_prefix("SIGNED\t")) {
        let f: Vec<&str> = line.split('\t').collect();
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.decode(f[3]).unwrap();
        let req = paypal_auth_vm::oci::signer::RequestParts { method: f[0], url: f[1], date: f[2], body: &body, content_type: "application/json" };
        let ours = paypal_auth_vm::oci::signer::sign(&key, "ST$sdk-reference-token", &req, paypal_auth_vm::oci::signer::HostHeader::Signed).unwrap();
        assert_eq!(ours.get("authorization").unwrap(), f[4], "{} {}", f[0], f[1]);
        compared += 1;
    }
    assert!(compared >= 4, "{stdout}");
    // 2. The SDK's own instance-principal flow against the stand-ins.
    assert!(stdout.contains(&format!("SECRET_OK {}", PAYPAL_SECRET.len())), "{stdout}");
    let auth = oci.log_of(Service::Auth);
    assert!(auth.iter().any(|r| r.status == 200 && r.key_id.as_deref().is_some_and(|k| k.contains("/fed-x509/"))), "{auth:?}");
}

/// The auth and Secrets stand-ins refuse what the real services refuse: a signature over the
/// wrong header set, by the wrong key, over a changed body, with an old date, a wrong keyId, a
/// forged token; unknown secrets are 404 NotAuthorizedOrNotFound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_and_secrets_stand_ins_are_strict() {
    use paypal_auth_vm::oci::federation::{federation_key_id, parse_leaf, pem_stripped, request_body};
    use paypal_auth_vm::oci::signer::{http_date, sign, HostHeader, RequestParts, RsaKey};
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    let client = http();
    let identity = Imds::new(client.clone(), &oci.imds_base).identity().await.unwrap();
    let leaf = parse_leaf(&identity.cert_pem).unwrap();
    let leaf_key = RsaKey::from_pem(identity.key_pem.expose_str().unwrap()).unwrap();
    let session_key = RsaKey::generate_session_key().unwrap();
    let body = request_body(&leaf, &session_key.public_spki_der().unwrap(), &pem_stripped(&identity.intermediate_pem).unwrap());
    let auth_url = format!("{}/v1/x509", oci.auth_base);
    let now = Clock::default().now();

    struct Try<'a> {
        key: &'a RsaKey,
        key_id: String,
        date: i64,
        host: HostHeader,
        method: &'a str,
        url: &'a str,
        signed_body: &'a [u8],
        sent_body: &'a [u8],
    }
    let send = |t: Try<'_>| {
        let client = client.clone();
        let date = http_date(t.date);
        let req = RequestParts { method: t.method, url: t.url, date: &date, body: t.signed_body, content_type: "application/json" };
        let signed = sign(t.key, &t.key_id, &req, t.host).unwrap();
        let headers: Vec<(String, String)> = signed.headers.iter().filter(|(n, _)| *n != "host").map(|(n, v)| (n.to_string(), v.clone())).collect();
        let (method, url, body) = (hyper::Method::from_bytes(t.method.as_bytes()).unwrap(), t.url.to_string(), t.sent_body.to_vec());
        async move {
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            client.send(method, &url, &headers, body, Duration::from_secs(10), 65536).await.unwrap()
        }
    };
    let fed = |key, key_id: String, date, host, sent_body| Try { key, key_id, date, host, method: "POST", url: &auth_url, signed_body: &body, sent_body };
    let good_id = federation_key_id(&leaf);
    assert_eq!(send(fed(&leaf_key, good_id.clone(), now, HostHeader::Signed, &body)).await.status, 401, "host must not be signed");
    assert_eq!(send(fed(&session_key, good_id.clone(), now, HostHeader::Omitted, &body)).await.status, 401, "wrong key");
    let mut tampered = body.clone();
    tampered[12] ^= 1;
    assert_eq!(send(fed(&leaf_key, good_id.clone(), now, HostHeader::Omitted, &tampered)).await.status, 400, "body changed");
    assert_eq!(send(fed(&leaf_key, good_id.clone(), now - 600, HostHeader::Omitted, &body)).await.status, 401, "old date");
    let wrong_fp = format!("{}/fed-x509-sha256/{}", leaf.tenancy, "00:".repeat(31) + "00");
    assert_eq!(send(fed(&leaf_key, wrong_fp, now, HostHeader::Omitted, &body)).await.status, 401, "wrong fingerprint");
    let ok = send(fed(&leaf_key, good_id, now, HostHeader::Omitted, &body)).await;
    assert_eq!(ok.status, 200);
    let token = serde_json::from_slice::<serde_json::Value>(&ok.body).unwrap()["token"].as_str().unwrap().to_string();
    assert_eq!(oci.log_of(Service::Auth).iter().filter(|r| r.status != 200).count(), 5);

    let secret_url = format!("{}/20190301/secretbundles/{PAYPAL_SECRET_OCID}?stage=CURRENT", oci.secrets_base);
    let get = |key, key_id: String, url| Try { key, key_id, date: now, host: HostHeader::Signed, method: "GET", url, signed_body: b"", sent_body: b"" };
    assert_eq!(send(get(&leaf_key, format!("ST${token}"), &secret_url)).await.status, 401, "not the session key");
    use base64::Engine as _;
    let parts: Vec<&str> = token.split('.').collect();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"sub":"other","exp":9999999999}"#);
    let forged = format!("{}.{claims}.{}", parts[0], parts[2]);
    assert_eq!(send(get(&session_key, format!("ST${forged}"), &secret_url)).await.status, 401, "forged token");
    assert_eq!(send(get(&session_key, "ocid1.tenancy.oc1..x/u/f".into(), &secret_url)).await.status, 401, "not ST$");
    let good = send(get(&session_key, format!("ST${token}"), &secret_url)).await;
    assert_eq!(good.status, 200);
    let unknown = format!("{}/20190301/secretbundles/ocid1.vaultsecret.oc1.iad.nope?stage=CURRENT", oci.secrets_base);
    let nf = send(get(&session_key, format!("ST${token}"), &unknown)).await;
    assert_eq!(nf.status, 404);
    assert!(String::from_utf8_lossy(&nf.body).contains("NotAuthorizedOrNotFound"));
}

/// The demo's environment switched to the OCI path with `devstack::oci::for_demo` (the one call
/// the demo launcher needs): a whole login works with configuration from metadata and the
/// secret from Vault.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_environment_switched_to_oci_logs_in() {
    use devstack::demo::{demo_client, service_env, DEMO_CLIENT_ID};
    let (https_port, http_port) = (free_port(), free_port());
    let public_url = format!("https://127.0.0.1:{https_port}");
    let secret = "demo-secret-from-vault-0123456789abcdef";
    let paypal = PaypalStandIn::start(demo_client(&public_url, secret), 0, 0).await.unwrap();
    let mut env = service_env(&paypal, secret, &public_url, http_port, https_port);
    let oci = devstack::oci::for_demo(&mut env, DEMO_CLIENT_ID, secret, "localhost").await.unwrap();
    assert!(!env.iter().any(|(k, _)| k == "PAYPAL_SECRET" || k == "PAYPAL_CLIENT_ID"));
    env.push(("OCI_RETRY_MAX_MS".into(), "400".into()));
    let mut service = ServiceProcess::start(&binary(), &env, false).unwrap();
    wait_log(&mut service, "serving", 60).await;
    let page = Browser::new(None).login(&public_url, "alice").await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(embedded_bundle(&page.body).is_some());
    assert_eq!(oci.log_of(Service::Secrets).len(), 1);
}

/// A boot step failing after the secrets are loaded (here: the HTTPS port is taken) publishes a
/// "fatal error" notification before the error reaches `main` (which, as PID 1, reboots).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fatal_boot_error_is_notified_before_exit() {
    let oci = OciStandIn::start(options(PAYPAL_SECRET)).await.unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let mut run = start_service(&oci, &[("HTTPS_ADDR", addr.as_str())]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = run.service.try_wait() {
            break status;
        }
        assert!(Instant::now() < deadline, "service did not stop:\n{}", run.service.logs().join("\n"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success());
    let published = oci.published();
    assert_eq!(published.len(), 1, "{published:?}");
    assert_eq!(published[0].title, "paypal-auth-vm localhost: fatal error, rebooting");
    assert!(published[0].body.contains("listen-https"), "{}", published[0].body);
    drop(taken);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acme_account_key_and_eab_hmac_come_from_vault_when_configured() {
    const ACME_KEY_OCID: &str = "ocid1.vaultsecret.oc1.iad.acmeaccountkey";
    const EAB_OCID: &str = "ocid1.vaultsecret.oc1.iad.acmeeabhmac";
    let mut o = options(PAYPAL_SECRET);
    o.metadata.insert("acme_account_key_secret_ocid".into(), ACME_KEY_OCID.into());
    o.metadata.insert("acme_eab_hmac_secret_ocid".into(), EAB_OCID.into());
    o.secrets.insert(ACME_KEY_OCID.into(), SecretContent::Bytes(b"-----BEGIN PRIVATE KEY-----\nnot-used-with-self-signed\n-----END PRIVATE KEY-----\n".to_vec()));
    o.secrets.insert(EAB_OCID.into(), SecretContent::Bytes(b"c2VjcmV0LWVhYi1obWFjLWtleS1mb3ItdGVzdHM".to_vec()));
    let oci = OciStandIn::start(o).await.unwrap();
    let mut run = start_service(&oci, &[]);
    let logs = wait_log(&mut run.service, "serving", 60).await;
    for step in ["step vault-acme-account-key ok", "step vault-acme-eab-hmac ok"] {
        assert_eq!(count(&logs, step), 1, "{step}:\n{}", logs.join("\n"));
    }
    let paths: Vec<String> = oci.log_of(Service::Secrets).into_iter().map(|r| r.path).collect();
    assert!(paths.contains(&format!("/20190301/secretbundles/{ACME_KEY_OCID}?stage=CURRENT")), "{paths:?}");
    assert!(paths.contains(&format!("/20190301/secretbundles/{EAB_OCID}?stage=CURRENT")), "{paths:?}");
    for line in &logs {
        assert!(!line.contains("not-used-with-self-signed") && !line.contains("c2VjcmV0LWVhYi1obWFj"), "secret in log: {line}");
    }
}
