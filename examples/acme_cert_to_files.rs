//! Benchmark helper (not part of the service): obtains a certificate from a local ACME server
//! (Pebble) with the service's own ACME client and writes `chain.pem` and `key.pem`, so a
//! reference server (nginx) can serve a certificate of the same profile as the service.
//!
//! Usage: `acme_cert_to_files <directory-url> <listener-ca.pem> <http-port> <domain> <out-dir>`
//! (the key file is written because this is a benchmark fixture; the service never does that).
#![forbid(unsafe_code)]

use paypal_auth_vm::acme::{self, AcmeSettings, CaEndpoint, Issuer, Timing};
use paypal_auth_vm::net::http::{HttpClient, Resolver};
use paypal_auth_vm::serve::{self, Challenges, Limits};
use paypal_auth_vm::tls::TlsKey;
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, directory, ca, port, domain, out] = args.as_slice() else {
        return Err("usage: acme_cert_to_files <directory-url> <listener-ca.pem> <http-port> <domain> <out-dir>".into());
    };
    let port: u16 = port.parse()?;
    let challenges = Challenges::new();
    let listener = serve::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    tokio::spawn(serve::serve_http(listener, Arc::clone(&challenges), "https://x".into(), Arc::new(AtomicBool::new(false)), Limits::default()));
    let http = HttpClient::new(Some(ca), Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new()))?;
    let key = Arc::new(TlsKey::generate()?);
    let settings = AcmeSettings {
        domain: domain.clone(),
        cas: vec![CaEndpoint { name: "bench".into(), directory_url: directory.clone(), eab: None }],
        email: None,
        account_key: None,
        timing: Timing::with_retry_base(Duration::from_millis(100)),
    };
    let mut issuer = Issuer::new(settings, http, challenges, Arc::clone(&key), Arc::new(acme::LogNotifier))?;
    let issued = issuer.obtain(None).await?;
    let mut chain = String::new();
    for cert in &issued.chain {
        chain.push_str(&pem("CERTIFICATE", cert));
    }
    std::fs::write(format!("{out}/chain.pem"), chain)?;
    std::fs::write(format!("{out}/key.pem"), key.key_pair().serialize_pem())?;
    println!("{}", issued.serial);
    Ok(())
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
