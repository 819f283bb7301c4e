//! `live` against a local TLS server that answers `/attestation` the way the service does
//! (platform none here: no SNP hardware can sign our nonce), checking the TLS-key binding.

use paypal_auth_verify::check::{Failure, Status};
use paypal_auth_verify::live::{self, LiveError, LiveOptions};
use paypal_auth_verify::verdict::Level;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

/// Serves one HTTPS request with `body(nonce_hex)` and returns the port.
fn serve_once(body: impl Fn(&str) -> String + Send + 'static) -> (u16, String, [u8; 32]) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let spki = Sha256::digest(rcgen::PublicKeyData::subject_public_key_info(&ck.signing_key)).into();
    let cert_pem = ck.cert.pem();
    let cert_der = ck.cert.der().clone();
    let key_der = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der], key_der)
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
        let mut tls = rustls::Stream::new(&mut conn, &mut tcp);
        let mut req = Vec::new();
        let mut buf = [0u8; 4096];
        while !req.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tls.read(&mut buf).unwrap();
            if n == 0 {
                return;
            }
            req.extend_from_slice(&buf[..n]);
        }
        let line = String::from_utf8_lossy(&req).lines().next().unwrap_or("").to_string();
        let nonce = line.split("nonce=").nth(1).and_then(|r| r.split(' ').next()).unwrap_or("").to_string();
        let b = body(&nonce);
        let resp = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{b}",
            b.len()
        );
        tls.write_all(resp.as_bytes()).unwrap();
        tls.flush().unwrap();
        conn.send_close_notify();
        let _ = conn.write_tls(&mut tcp);
    });
    (port, cert_pem, spki)
}

fn identity(tls: &str) -> serde_json::Value {
    serde_json::json!({
        "client_id": "client-123",
        "environment": "sandbox",
        "domain": "localhost",
        "signing_key_thumbprint": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "tls_key_sha256": tls,
    })
}

fn options(ca: String) -> LiveOptions {
    LiveOptions { ca_pem: Some(ca.into_bytes()), ..Default::default() }
}

#[test]
fn platform_none_with_the_bound_tls_key() {
    // The server's key is only known after generation: the answer reads it from a cell set below,
    // before the request is sent. The shape is exactly what the service answers today.
    let cell = Arc::new(std::sync::Mutex::new(String::new()));
    let c = Arc::clone(&cell);
    let (port, ca, spki) = serve_once(move |_nonce| {
        serde_json::json!({"platform": "none", "statement": "no hardware attestation on this host", "identity": identity(&c.lock().unwrap())})
            .to_string()
    });
    *cell.lock().unwrap() = paypal_auth_verify::hex(&spki);
    let r = live::run(&format!("https://localhost:{port}"), &options(ca)).unwrap();
    assert!(r.ok(), "{:#?}", r.checks);
    assert_eq!(r.verdict.level, Level::None);
    let tls = r.checks.iter().find(|c| c.name == "live.tls_key").unwrap();
    assert_eq!(tls.status, Status::Pass);
}

#[test]
fn a_different_tls_key_is_named() {
    let (port, ca, _) = serve_once(|nonce| {
        serde_json::json!({
            "format": "paypal-auth-vm/attestation/v1", "nonce": nonce,
            "platform": "none", "statement": "no hardware attestation on this host",
            "identity": identity(&"ab".repeat(32)),
        })
        .to_string()
    });
    let r = live::run(&format!("https://localhost:{port}"), &options(ca)).unwrap();
    assert!(!r.ok());
    let c = r.checks.iter().find(|c| c.name == "live.tls_key").unwrap();
    assert!(matches!(c.failure, Some(Failure::Live(LiveError::TlsKey { .. }))), "{c:?}");
}

#[test]
fn a_wrong_nonce_echo_is_named() {
    let (port, ca, _) = serve_once(|_| {
        serde_json::json!({
            "nonce": "00", "platform": "none", "statement": "no hardware attestation on this host",
            "identity": identity(&"ab".repeat(32)),
        })
        .to_string()
    });
    let r = live::run(&format!("https://localhost:{port}"), &options(ca)).unwrap();
    let c = r.checks.iter().find(|c| c.name == "live.answer").unwrap();
    assert_eq!(c.failure, Some(Failure::Live(LiveError::Nonce)));
}

#[test]
fn untrusted_certificate_fails_the_connection() {
    let (port, _, _) = serve_once(|_| String::new());
    let r = live::run(&format!("https://localhost:{port}"), &LiveOptions::default());
    assert!(matches!(r, Err(LiveError::Connection(_))), "{r:?}");
}
