//! ACME against a real Pebble (Debian's `pebble` 2.4), plus a small in-process ACME stand-in for
//! what Pebble 2.4 cannot do (rateLimited with Retry-After, ARI).
//!
//! Every test starts its own Pebble and `pebble-challtestsrv` (as DNS: every name → 127.0.0.1,
//! no AAAA) on its own free ports, with its own listener certificate in its own temp dir.
//! Tests that need Pebble print a reason and pass when it is not installed; CI installs it.

use paypal_auth_vm::acme::{self, AcmeEvent, AcmeSettings, CaEndpoint, Issuer, Notifier, Timing};
use paypal_auth_vm::net::http::{HttpClient, Resolver};
use paypal_auth_vm::serve::{self, Challenges, Limits};
use paypal_auth_vm::tls::TlsKey;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DOMAIN: &str = "auth.example.com";

// ---------------------------------------------------------------------------------------------
// Harness

fn have_pebble() -> bool {
    let found = |name: &str| std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if found("pebble") && found("pebble-challtestsrv") {
        true
    } else {
        eprintln!("SKIPPED: `pebble` / `pebble-challtestsrv` not installed (apt-get install pebble)");
        false
    }
}

fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!("acme-pebble-{}-{}-{}", std::process::id(), tag, N.fetch_add(1, Ordering::Relaxed)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn wait_tcp(port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if StdStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Knobs of one Pebble instance.
#[derive(Clone)]
struct PebbleOptions {
    /// Where Pebble sends HTTP-01 validation requests.
    http_port: u16,
    /// `certificateValidityPeriod` in seconds.
    validity: u64,
    /// `PEBBLE_WFE_NONCEREJECT` percentage.
    nonce_reject: u32,
    /// ACME port (chosen when `None`).
    acme_port: Option<u16>,
    /// External Account Binding required, with this (kid, base64url HMAC key).
    eab: Option<(&'static str, &'static str)>,
}

impl PebbleOptions {
    fn new(http_port: u16) -> Self {
        PebbleOptions { http_port, validity: 3600, nonce_reject: 0, acme_port: None, eab: None }
    }
}

/// A running Pebble + challtestsrv, stopped (by PID) on drop.
struct Pebble {
    pebble: Child,
    dns: Child,
    dir: PathBuf,
    acme_port: u16,
    mgmt_port: u16,
    /// The listener CA (what our client must trust to talk to Pebble).
    listener_ca: PathBuf,
}

impl Pebble {
    fn start(opts: PebbleOptions) -> Pebble {
        let dir = temp_dir("pebble");
        // Listener identity: a CA and a leaf for 127.0.0.1/localhost.
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "pebble listener test CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf_params = rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
        let listener_ca = dir.join("ca.pem");
        std::fs::write(&listener_ca, ca_cert.pem()).unwrap();
        std::fs::write(dir.join("cert.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("key.pem"), leaf_key.serialize_pem()).unwrap();

        let acme_port = opts.acme_port.unwrap_or_else(free_port);
        let mgmt_port = free_port();
        let dns_port = free_port();
        let dns_mgmt_port = free_port();
        let mac_keys: serde_json::Map<String, serde_json::Value> = opts.eab.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": dir.join("cert.pem"),
            "privateKey": dir.join("key.pem"),
            "httpPort": opts.http_port,
            "tlsPort": free_port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": opts.eab.is_some(),
            "externalAccountMACKeys": mac_keys,
            "certificateValidityPeriod": opts.validity,
        }});
        std::fs::write(dir.join("pebble.json"), config.to_string()).unwrap();
        let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
        let dns = Command::new("pebble-challtestsrv")
            .args(["-management", &format!("127.0.0.1:{dns_mgmt_port}"), "-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble-challtestsrv");
        assert!(wait_tcp(dns_mgmt_port, Duration::from_secs(10)), "challtestsrv did not start");
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", opts.nonce_reject.to_string())
            .env("PEBBLE_AUTHZREUSE", "0")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .expect("start pebble");
        let started = Pebble { pebble, dns, dir, acme_port, mgmt_port, listener_ca };
        assert!(wait_tcp(acme_port, Duration::from_secs(10)), "pebble did not start");
        assert!(wait_tcp(mgmt_port, Duration::from_secs(10)), "pebble management did not start");
        started
    }

    fn directory_url(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    fn client(&self) -> HttpClient {
        HttpClient::new(self.listener_ca.to_str(), Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new())).unwrap()
    }

    /// The root Pebble issues under (regenerated at every start).
    async fn root(&self) -> CertificateDer<'static> {
        let url = format!("https://127.0.0.1:{}/roots/0", self.mgmt_port);
        let response = self.client().send(hyper::Method::GET, &url, &[], Vec::new(), Duration::from_secs(10), 1 << 20).await.unwrap();
        assert_eq!(response.status, 200);
        CertificateDer::from_pem_slice(&response.body).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.pebble.kill();
        let _ = self.pebble.wait();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("pebble logs kept in {}", self.dir.display());
        }
    }
}

/// A private copy of the service binary, taken once: a target directory shared with other
/// checkouts may replace `CARGO_BIN_EXE_…` with another build while the tests run.
fn service_binary() -> PathBuf {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let dir = temp_dir("bin");
        let copy = dir.join("paypal-auth-vm");
        // A hard link keeps this build's inode (cargo replaces the file by unlink + link); it
        // costs no space. A copy when linking is impossible.
        let original = env!("CARGO_BIN_EXE_paypal-auth-vm");
        match std::fs::hard_link(original, &copy).or_else(|_| std::fs::copy(original, &copy).map(|_| ())) {
            Ok(()) => copy,
            Err(_) => PathBuf::from(env!("CARGO_BIN_EXE_paypal-auth-vm")),
        }
    })
    .clone()
}

/// The service binary, stopped (by PID) on drop.
struct Service {
    child: Child,
    log: PathBuf,
    http_port: u16,
    https_port: u16,
}

impl Service {
    fn start(http_port: u16, directory_url: &str, listener_ca: &Path, extra: &[(&str, &str)]) -> Service {
        let https_port = free_port();
        let dir = temp_dir("service");
        let log = dir.join("service.log");
        let child = Command::new(service_binary())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("PAYPAL_CLIENT_ID", "test-client")
            .env("PAYPAL_SECRET", "test-secret")
            .env("PAYPAL_ENVIRONMENT", "sandbox")
            .env("DOMAIN", DOMAIN)
            .env("HTTP_ADDR", format!("127.0.0.1:{http_port}"))
            .env("HTTPS_ADDR", format!("127.0.0.1:{https_port}"))
            .env("PUBLIC_URL", format!("https://{DOMAIN}:{https_port}"))
            .env("TLS_SOURCE", "acme")
            .env("ACME_DIRECTORY_URL", directory_url)
            .env("ACME_EMAIL", "ops@example.com")
            .env("ACME_RETRY_BASE_MS", "100")
            .env("OUTBOUND_CA_FILE", listener_ca)
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the service");
        Service { child, log, http_port, https_port }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    fn wait_log(&self, needle: &str, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn wait_serving(&self, within: Duration) {
        assert!(self.wait_log("boot: serving", within), "service never served; log:\n{}", self.log());
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("service log ({}):\n{}", self.log.display(), self.log());
        } else if let Some(dir) = self.log.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// A TLS connection to the service that validates the chain against `root` for [`DOMAIN`].
struct TlsConn {
    stream: tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
}

impl TlsConn {
    async fn open(port: u16, root: &CertificateDer<'static>) -> Result<TlsConn, String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.clone()).map_err(|e| e.to_string())?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.map_err(|e| e.to_string())?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = connector.connect(ServerName::try_from(DOMAIN).unwrap(), tcp).await.map_err(|e| e.to_string())?;
        Ok(TlsConn { stream })
    }

    fn serial(&self) -> String {
        let leaf = &self.stream.get_ref().1.peer_certificates().expect("a certificate")[0];
        acme::leaf_facts(leaf).unwrap().serial
    }

    /// GET /healthz on this (kept-alive) connection; returns the status line.
    async fn healthz(&mut self) -> String {
        let request = format!("GET /healthz HTTP/1.1\r\nHost: {DOMAIN}\r\n\r\n");
        self.stream.write_all(request.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let deadline = Instant::now() + Duration::from_secs(10);
        while !buf.ends_with(b"ok\n") && Instant::now() < deadline {
            let n = tokio::time::timeout(Duration::from_secs(10), self.stream.read(&mut chunk)).await.unwrap().unwrap();
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf).lines().next().unwrap_or_default().to_string()
    }
}

/// One plain HTTP/1.1 request to 127.0.0.1:`port`; returns the status line.
fn http_status(port: u16, path: &str) -> String {
    let mut stream = StdStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.lines().next().unwrap_or_default().to_string()
}

// ---------------------------------------------------------------------------------------------
// The service binary against Pebble

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_certificate_end_to_end_and_https_validates_against_pebble_root() {
    if !have_pebble() {
        return;
    }
    let http_port = free_port();
    let pebble = Pebble::start(PebbleOptions::new(http_port));
    let started = Instant::now();
    let service = Service::start(http_port, &pebble.directory_url(), &pebble.listener_ca, &[]);
    service.wait_serving(Duration::from_secs(60));
    eprintln!("start → first certificate served: {} ms", started.elapsed().as_millis());
    let root = pebble.root().await;
    let mut conn = TlsConn::open(service.https_port, &root).await.expect("TLS validates against Pebble's root");
    assert_eq!(conn.healthz().await, "HTTP/1.1 200 OK");
    // Port 80 after the certificate: redirect, health, and the challenge path is never redirected.
    assert!(http_status(service.http_port, "/x").starts_with("HTTP/1.1 301"));
    assert!(http_status(service.http_port, "/healthz").starts_with("HTTP/1.1 200"));
    assert!(http_status(service.http_port, "/.well-known/acme-challenge/unknownToken").starts_with("HTTP/1.1 404"));
    // The account was created with a per-boot key and the log never shows key material.
    let log = service.log();
    assert!(log.contains("per-boot account"), "{log}");
    assert!(!log.contains("PRIVATE KEY"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenge_tokens_with_bad_characters_are_404() {
    if !have_pebble() {
        return;
    }
    // Before any certificate: the challenge path still answers (404) rather than "starting".
    let http_port = free_port();
    // Point the service at a directory nothing listens on: it stays in the "starting" state.
    let service = Service::start(http_port, &format!("https://127.0.0.1:{}/dir", free_port()), Path::new("/dev/null"), &[("OUTBOUND_CA_FILE", "")]);
    assert!(wait_tcp(http_port, Duration::from_secs(10)));
    for path in [
        "/.well-known/acme-challenge/..%2F..%2Fetc%2Fpasswd",
        "/.well-known/acme-challenge/a.b",
        "/.well-known/acme-challenge/a%20b",
        "/.well-known/acme-challenge/%2e%2e",
        "/.well-known/acme-challenge/a/b",
        "/.well-known/acme-challenge/",
        &format!("/.well-known/acme-challenge/{}", "A".repeat(300)),
    ] {
        assert!(http_status(service.http_port, path).starts_with("HTTP/1.1 404"), "{path}");
    }
    assert!(http_status(service.http_port, "/").starts_with("HTTP/1.1 503"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_swaps_certificate_while_old_connection_stays_open() {
    if !have_pebble() {
        return;
    }
    let http_port = free_port();
    // 16 s certificates renew at half their lifetime (short-lifetime rule): about 8 s in.
    let pebble = Pebble::start(PebbleOptions { validity: 16, ..PebbleOptions::new(http_port) });
    let service = Service::start(http_port, &pebble.directory_url(), &pebble.listener_ca, &[]);
    service.wait_serving(Duration::from_secs(60));
    let root = pebble.root().await;
    let mut old = TlsConn::open(service.https_port, &root).await.unwrap();
    let first = old.serial();
    assert_eq!(old.healthz().await, "HTTP/1.1 200 OK");

    let deadline = Instant::now() + Duration::from_secs(40);
    let second = loop {
        assert!(Instant::now() < deadline, "no renewal observed; log:\n{}", service.log());
        tokio::time::sleep(Duration::from_millis(500)).await;
        let fresh = TlsConn::open(service.https_port, &root).await.unwrap();
        if fresh.serial() != first {
            break fresh.serial();
        }
    };
    assert_ne!(first, second);
    // The connection opened before the renewal still works, with the certificate it started with.
    assert_eq!(old.serial(), first);
    assert_eq!(old.healthz().await, "HTTP/1.1 200 OK");
    assert!(service.log().contains(&format!("renewed: now serving {second}")), "{}", service.log());
}

/// Forwards 127.0.0.1:`listen` to 127.0.0.1:`target`, except while `fail` is set: then every
/// request gets a wrong body (a validation failure at the CA). The first failed request clears
/// `fail` after a short grace period, so the next order validates.
fn flaky_forwarder(listen: u16, target: u16, fail: Arc<AtomicBool>, failures: Arc<AtomicUsize>) {
    let listener = StdListener::bind(("127.0.0.1", listen)).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut inbound) = stream else { continue };
            let fail = Arc::clone(&fail);
            let failures = Arc::clone(&failures);
            std::thread::spawn(move || {
                if fail.load(Ordering::SeqCst) {
                    let mut buf = [0u8; 2048];
                    let _ = inbound.read(&mut buf);
                    let _ = inbound.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nwrong");
                    if failures.fetch_add(1, Ordering::SeqCst) == 0 {
                        std::thread::sleep(Duration::from_millis(500));
                        fail.store(false, Ordering::SeqCst);
                    }
                    return;
                }
                let Ok(mut outbound) = StdStream::connect(("127.0.0.1", target)) else { return };
                let (mut in2, mut out2) = (inbound.try_clone().unwrap(), outbound.try_clone().unwrap());
                let t = std::thread::spawn(move || {
                    let _ = std::io::copy(&mut in2, &mut out2);
                    let _ = out2.shutdown(std::net::Shutdown::Write);
                });
                let _ = std::io::copy(&mut outbound, &mut inbound);
                let _ = t.join();
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_failure_then_retry_succeeds() {
    if !have_pebble() {
        return;
    }
    let (front, back) = (free_port(), free_port());
    let fail = Arc::new(AtomicBool::new(true));
    let failures = Arc::new(AtomicUsize::new(0));
    flaky_forwarder(front, back, Arc::clone(&fail), Arc::clone(&failures));
    let pebble = Pebble::start(PebbleOptions::new(front));
    let service = Service::start(back, &pebble.directory_url(), &pebble.listener_ca, &[]);
    service.wait_serving(Duration::from_secs(60));
    assert!(failures.load(Ordering::SeqCst) >= 1);
    let log = service.log();
    assert!(log.contains("urn:ietf:params:acme:error:unauthorized"), "{log}");
    // Validation failures back off slowly (base × 30 = 3 s here), never in a tight loop.
    assert_eq!(log.matches("no certificate yet").count(), 1, "{log}");
    let root = pebble.root().await;
    let mut conn = TlsConn::open(service.https_port, &root).await.unwrap();
    assert_eq!(conn.healthz().await, "HTTP/1.1 200 OK");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pebble_unreachable_at_start_then_reachable() {
    if !have_pebble() {
        return;
    }
    let http_port = free_port();
    let acme_port = free_port();
    let dir = temp_dir("ca-placeholder");
    // The listener CA does not exist yet; give the service a placeholder root it can load.
    let placeholder = dir.join("ca.pem");
    {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        std::fs::write(&placeholder, params.self_signed(&key).unwrap().pem()).unwrap();
    }
    // Start Pebble first only to learn its listener CA, then stop it, so the CA file is right.
    let opts = PebbleOptions { acme_port: Some(acme_port), ..PebbleOptions::new(http_port) };
    let pebble = Pebble::start(opts.clone());
    std::fs::copy(&pebble.listener_ca, &placeholder).unwrap();
    let keep_dir = pebble.dir.clone();
    // Keep its certificate files for the restart.
    let saved = temp_dir("listener");
    for f in ["cert.pem", "key.pem", "pebble.json"] {
        std::fs::copy(keep_dir.join(f), saved.join(f)).unwrap();
    }
    drop(pebble);

    let service = Service::start(http_port, &format!("https://127.0.0.1:{acme_port}/dir"), &placeholder, &[]);
    assert!(service.wait_log("no certificate yet", Duration::from_secs(10)), "{}", service.log());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!service.log().contains("boot: serving"));

    // Now bring Pebble up on the same port with the same listener identity.
    std::fs::create_dir_all(&keep_dir).unwrap();
    for f in ["cert.pem", "key.pem", "pebble.json"] {
        std::fs::copy(saved.join(f), keep_dir.join(f)).unwrap();
    }
    let dns_port = free_port();
    let dns_mgmt = free_port();
    let dns = Command::new("pebble-challtestsrv")
        .args(["-management", &format!("127.0.0.1:{dns_mgmt}"), "-dns01", &format!("127.0.0.1:{dns_port}")])
        .args(["-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(wait_tcp(dns_mgmt, Duration::from_secs(10)));
    let child = Command::new("pebble")
        .arg("-config")
        .arg(keep_dir.join("pebble.json"))
        .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mgmt_port = serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(keep_dir.join("pebble.json")).unwrap()).unwrap()["pebble"]
        ["managementListenAddress"]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    let pebble = Pebble { pebble: child, dns, dir: keep_dir, acme_port, mgmt_port, listener_ca: placeholder.clone() };
    assert!(wait_tcp(acme_port, Duration::from_secs(10)));
    // Transient backoff is capped at base × 300 = 30 s here; it doubles from 100 ms.
    service.wait_serving(Duration::from_secs(60));
    let root = pebble.root().await;
    let mut conn = TlsConn::open(service.https_port, &root).await.unwrap();
    assert_eq!(conn.healthz().await, "HTTP/1.1 200 OK");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&saved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_nonce_injection_is_survived() {
    if !have_pebble() {
        return;
    }
    let http_port = free_port();
    let pebble = Pebble::start(PebbleOptions { nonce_reject: 70, ..PebbleOptions::new(http_port) });
    let service = Service::start(http_port, &pebble.directory_url(), &pebble.listener_ca, &[]);
    service.wait_serving(Duration::from_secs(90));
    let root = pebble.root().await;
    let mut conn = TlsConn::open(service.https_port, &root).await.unwrap();
    assert_eq!(conn.healthz().await, "HTTP/1.1 200 OK");
    // Pebble does not log rejections; a request repeated back to back is one.
    let log = pebble.log();
    let posts: Vec<&str> = log.lines().filter_map(|l| l.split_once("POST ").map(|(_, rest)| rest)).collect();
    let once = ["/sign-me-up", "/order-plz", "/chalZ/", "/finalize-order/"];
    let rejected = posts.windows(2).filter(|w| w[0] == w[1] && once.iter().any(|p| w[0].starts_with(p))).count();
    eprintln!("Pebble rejected {rejected} nonces; {} reached our layer", service.log().matches("badNonce at").count());
    assert!(rejected > 0, "Pebble rejected no nonce; the test proves nothing:\n{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stable_account_key_is_reused() {
    if !have_pebble() {
        return;
    }
    let http_port = free_port();
    let pebble = Pebble::start(PebbleOptions::new(http_port));
    let key = rcgen::KeyPair::generate().unwrap().serialize_pem();
    let mut account_urls = Vec::new();
    for _ in 0..2 {
        let service = Service::start(http_port, &pebble.directory_url(), &pebble.listener_ca, &[("ACME_ACCOUNT_KEY", &key)]);
        service.wait_serving(Duration::from_secs(60));
        let log = service.log();
        assert!(!log.contains("BEGIN PRIVATE KEY") && !log.contains(key.lines().nth(1).unwrap()), "key material in the log");
        let line = log.lines().find(|l| l.contains("configured account key")).expect("stable account used").to_string();
        account_urls.push(line.rsplit("account ").next().unwrap().to_string());
    }
    assert_eq!(account_urls[0], account_urls[1], "a reboot with the same key must get the same account");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_account_binding() {
    if !have_pebble() {
        return;
    }
    const KID: &str = "kid-1";
    const HMAC: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";
    let http_port = free_port();
    let pebble = Pebble::start(PebbleOptions { eab: Some((KID, HMAC)), ..PebbleOptions::new(http_port) });
    // Without EAB the CA refuses the account (a configuration problem: slow retries).
    let refused = Service::start(http_port, &pebble.directory_url(), &pebble.listener_ca, &[]);
    assert!(refused.wait_log("externalAccountRequired", Duration::from_secs(20)), "{}", refused.log());
    drop(refused);
    let service = Service::start(http_port, &pebble.directory_url(), &pebble.listener_ca, &[("ACME_EAB_KID", KID), ("ACME_EAB_HMAC", HMAC)]);
    service.wait_serving(Duration::from_secs(60));
    assert!(!service.log().contains(HMAC), "EAB key in the log");
    let root = pebble.root().await;
    let mut conn = TlsConn::open(service.https_port, &root).await.unwrap();
    assert_eq!(conn.healthz().await, "HTTP/1.1 200 OK");
}

// ---------------------------------------------------------------------------------------------
// An in-process ACME stand-in for what Pebble 2.4 lacks

#[derive(Default)]
struct StandIn {
    /// newOrder requests seen.
    orders: AtomicUsize,
    /// renewalInfo paths seen.
    ari_paths: Mutex<Vec<String>>,
    /// `Retry-After` header on the 429 (None: only the detail's "retry after …" text).
    retry_after_header: Option<String>,
    /// Detail text of the 429.
    detail: String,
    /// ARI window (RFC 3339 start, end), when renewalInfo is offered.
    ari: Option<(String, String)>,
}

async fn start_stand_in(state: Arc<StandIn>) -> String {
    use http_body_util::Full;
    use hyper::body::Bytes;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let base_for_loop = base.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let state = Arc::clone(&state);
            let base = base_for_loop.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let state = Arc::clone(&state);
                    let base = base.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let mut builder = hyper::Response::builder().header("replay-nonce", format!("nonce{}", rand_nonce()));
                        let body: String = match path.as_str() {
                            "/dir" => {
                                let mut dir = serde_json::json!({
                                    "newNonce": format!("{base}/nonce"),
                                    "newAccount": format!("{base}/account"),
                                    "newOrder": format!("{base}/order"),
                                    "revokeCert": format!("{base}/revoke"),
                                    "keyChange": format!("{base}/key-change"),
                                });
                                if state.ari.is_some() {
                                    dir["renewalInfo"] = serde_json::json!(format!("{base}/ari"));
                                }
                                dir.to_string()
                            }
                            "/nonce" => String::new(),
                            "/account" => {
                                builder = builder.status(201).header("location", format!("{base}/account/1"));
                                r#"{"status":"valid"}"#.to_string()
                            }
                            "/order" => {
                                state.orders.fetch_add(1, Ordering::SeqCst);
                                builder = builder.status(429).header("content-type", "application/problem+json");
                                if let Some(value) = &state.retry_after_header {
                                    builder = builder.header("retry-after", value.as_str());
                                }
                                serde_json::json!({"type": "urn:ietf:params:acme:error:rateLimited", "detail": state.detail, "status": 429}).to_string()
                            }
                            p if p.starts_with("/ari/") => {
                                state.ari_paths.lock().unwrap().push(p.to_string());
                                let (start, end) = state.ari.clone().unwrap_or_default();
                                builder = builder.header("retry-after", "21600");
                                serde_json::json!({"suggestedWindow": {"start": start, "end": end}}).to_string()
                            }
                            _ => {
                                builder = builder.status(404);
                                String::new()
                            }
                        };
                        Ok::<_, std::convert::Infallible>(builder.body(Full::new(Bytes::from(body))).unwrap())
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), service).await;
            });
        }
    });
    format!("{base}/dir")
}

fn rand_nonce() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed) as u64
}

#[derive(Default)]
struct Recorder(Mutex<Vec<AcmeEvent>>);

impl Notifier for Recorder {
    fn notify(&self, event: &AcmeEvent) {
        self.0.lock().unwrap().push(event.clone());
    }
}

fn settings(cas: Vec<CaEndpoint>) -> AcmeSettings {
    let mut timing = Timing::with_retry_base(Duration::from_millis(100));
    timing.request = Duration::from_secs(10);
    timing.operation = Duration::from_secs(60);
    AcmeSettings { domain: DOMAIN.into(), cas, email: Some("ops@example.com".into()), account_key: None, timing }
}

fn ca(name: &str, url: String) -> CaEndpoint {
    CaEndpoint { name: name.into(), directory_url: url, eab: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_moves_to_the_next_ca_and_honours_retry_after() {
    if !have_pebble() {
        return;
    }
    let stand_in = Arc::new(StandIn {
        retry_after_header: Some("3600".into()),
        detail: "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s".into(),
        ..StandIn::default()
    });
    let limited_url = start_stand_in(Arc::clone(&stand_in)).await;
    let http_port = free_port();
    let pebble = Pebble::start(PebbleOptions::new(http_port));
    let challenges = Challenges::new();
    let listener = serve::bind(SocketAddr::from(([127, 0, 0, 1], http_port))).await.unwrap();
    tokio::spawn(serve::serve_http(listener, Arc::clone(&challenges), "https://x".into(), Arc::new(AtomicBool::new(false)), Limits::default()));
    let recorder = Arc::new(Recorder::default());
    let key = Arc::new(TlsKey::generate().unwrap());
    let mut issuer = Issuer::new(
        settings(vec![ca("limited", limited_url), ca("pebble", pebble.directory_url())]),
        pebble.client(),
        challenges,
        Arc::clone(&key),
        Arc::clone(&recorder) as Arc<dyn Notifier>,
    )
    .unwrap();

    let issued = issuer.obtain(None).await.expect("the fallback CA issues");
    assert_eq!(issued.ca_index, 1);
    assert_eq!(stand_in.orders.load(Ordering::SeqCst), 1);
    {
        let events = recorder.0.lock().unwrap();
        let Some(AcmeEvent::RateLimited { ca, retry_after: Some(wait), detail }) = events.first() else { panic!("{events:?}") };
        assert_eq!(ca, "limited");
        assert!(detail.contains("too many certificates"));
        // Taken from the Retry-After header instant-acme drops.
        assert!(wait.as_secs() > 3590 && wait.as_secs() <= 3600, "{wait:?}");
        assert!(matches!(events.last(), Some(AcmeEvent::Issued { ca, .. }) if ca == "pebble"));
    }
    // The limited CA is not asked again before its Retry-After.
    let again = issuer.obtain(None).await.expect("still issues from the fallback");
    assert_eq!(again.ca_index, 1);
    assert_eq!(stand_in.orders.load(Ordering::SeqCst), 1);
    // The chain is for our key and validates against Pebble's root (checked by rustls).
    let root = pebble.root().await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root).unwrap();
    use rustls::client::danger::ServerCertVerifier;
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::new(rustls::crypto::ring::default_provider())).build().unwrap();
    verifier
        .verify_server_cert(&again.chain[0], &again.chain[1..], &ServerName::try_from(DOMAIN).unwrap(), &[], rustls::pki_types::UnixTime::now())
        .expect("chain validates against Pebble's root");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_cas_rate_limited_waits_for_the_detail_time() {
    // No Pebble needed: the only CA is the stand-in, whose 429 has no header, only LE's text.
    let until = SystemTime::now() + Duration::from_secs(7200);
    let secs = until.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
    let stamp = httpdate::fmt_http_date(until); // for the log only
    let (days, rem) = (secs / 86400, secs % 86400);
    let (y, m, d) = civil_from_days(days as i64);
    let detail = format!(
        "too many certificates (5) already issued for this exact set of identifiers in the last 168h0m0s, retry after {y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC: see https://letsencrypt.org/docs/rate-limits/",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let stand_in = Arc::new(StandIn { retry_after_header: None, detail, ..StandIn::default() });
    let url = start_stand_in(Arc::clone(&stand_in)).await;
    let recorder = Arc::new(Recorder::default());
    let http = HttpClient::new(None, Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new())).unwrap();
    let mut issuer = Issuer::new(settings(vec![ca("only", url)]), http, Challenges::new(), Arc::new(TlsKey::generate().unwrap()), recorder.clone()).unwrap();
    let error = issuer.obtain(None).await.unwrap_err();
    let wait = error.retry_after().expect("a wait");
    assert!(wait > Duration::from_secs(7100) && wait <= Duration::from_secs(7200), "{wait:?} ({stamp}) {error}");
    assert!(matches!(error, acme::AcmeError::AllRateLimited { .. }), "{error}");
    // Asking again before then sends nothing to the CA.
    let again = issuer.obtain(None).await.unwrap_err();
    assert!(matches!(again, acme::AcmeError::AllRateLimited { .. }));
    assert_eq!(stand_in.orders.load(Ordering::SeqCst), 1);
    // The scheduler will not retry before the CA's time.
    let delay = issuer.settings().timing.backoff.delay(again.failure_kind(), 0, again.retry_after(), 0.0);
    assert!(delay >= Duration::from_secs(7100));
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ari_window_is_fetched_and_drives_the_renewal_time() {
    let stand_in = Arc::new(StandIn { ari: Some(("2030-01-10T00:00:00Z".into(), "2030-01-12T00:00:00Z".into())), ..StandIn::default() });
    let url = start_stand_in(Arc::clone(&stand_in)).await;
    let http = HttpClient::new(None, Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new())).unwrap();
    let key = Arc::new(TlsKey::generate().unwrap());
    let mut issuer = Issuer::new(settings(vec![ca("ari", url)]), http, Challenges::new(), Arc::clone(&key), Arc::new(acme::LogNotifier)).unwrap();
    let issued = acme::Issued {
        certified: key.self_signed(DOMAIN).unwrap(),
        chain: Vec::new(),
        not_before: SystemTime::UNIX_EPOCH + Duration::from_secs(1_890_000_000),
        not_after: SystemTime::UNIX_EPOCH + Duration::from_secs(1_890_000_000 + 90 * 86400),
        serial: "0102".into(),
        cert_id: Some(instant_acme::CertificateIdentifier::new(rustls::pki_types::Der::from_slice(&[0xAA, 0xBB]), rustls::pki_types::Der::from_slice(&[0x01, 0x02]))),
        ca_index: 0,
    };
    let ((start, end), retry) = issuer.renewal_window(&issued).await.unwrap().expect("ARI offered");
    assert_eq!(stand_in.ari_paths.lock().unwrap().as_slice(), ["/ari/qrs.AQI"]);
    assert_eq!(start.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_894_233_600);
    assert_eq!(end.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs(), 1_894_406_400);
    assert!(retry > Duration::from_secs(21500) && retry <= Duration::from_secs(21600));
    assert_eq!(acme::policy::ari_recheck(retry), retry);
    let at = acme::policy::renewal_time(issued.not_before, issued.not_after, Some((start, end)), issued.not_before, 0.25);
    assert_eq!(at, start + Duration::from_secs(12 * 3600));
    // A CA without renewalInfo: no window, the lifetime rule applies.
    let plain = start_stand_in(Arc::new(StandIn::default())).await;
    let http = HttpClient::new(None, Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new())).unwrap();
    let mut issuer = Issuer::new(settings(vec![ca("plain", plain)]), http, Challenges::new(), key, Arc::new(acme::LogNotifier)).unwrap();
    assert!(issuer.renewal_window(&issued).await.unwrap().is_none());
}
