//! `devstack demo`: the whole login flow on this machine, against the stand-ins.

use crate::browser::{embedded_bundle, Browser};
use crate::paypal::{Client, PaypalStandIn};
use crate::service::ServiceProcess;
use std::time::Duration;

/// The name the demo's certificate is issued for when Pebble is installed.
pub const DEMO_ACME_DOMAIN: &str = "paypal-auth-vm.localhost";

/// The demo's PayPal app.
pub const DEMO_CLIENT_ID: &str = "demo-client-id-AYSq3RDGsmBLJE";

/// Options of `devstack demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Path of the service binary.
    pub service_binary: String,
    /// HTTPS port on 127.0.0.1.
    pub https_port: u16,
    /// HTTP port on 127.0.0.1.
    pub http_port: u16,
    /// Leave the stack running for a person after the scripted login.
    pub stay: bool,
}

/// The PayPal app the demo registers with the stand-in.
pub fn demo_client(public_url: &str, secret: &str) -> Client {
    Client {
        client_id: DEMO_CLIENT_ID.into(),
        secret: secret.into(),
        env: "sandbox".into(),
        app_id: "APP-80W284485P519543T".into(),
        return_urls: vec![format!("{public_url}/callback")],
        enabled_scopes: ["openid", "profile", "email", "address", "https://uri.paypal.com/services/paypalattributes"].map(String::from).to_vec(),
    }
}

/// The service environment for a local run against `paypal`.
pub fn service_env(paypal: &PaypalStandIn, secret: &str, public_url: &str, http_port: u16, https_port: u16) -> Vec<(String, String)> {
    [
        ("PAYPAL_CLIENT_ID", DEMO_CLIENT_ID.to_string()),
        ("PAYPAL_SECRET", secret.to_string()),
        ("PAYPAL_ENVIRONMENT", "sandbox".to_string()),
        ("PAYPAL_AUTH_BASE", paypal.auth_base.clone()),
        ("PAYPAL_API_BASE", paypal.api_base.clone()),
        ("DOMAIN", "localhost".to_string()),
        ("PUBLIC_URL", public_url.to_string()),
        ("HTTP_ADDR", format!("127.0.0.1:{http_port}")),
        ("HTTPS_ADDR", format!("127.0.0.1:{https_port}")),
        ("TLS_SOURCE", "self-signed".to_string()),
        // Every scripted browser comes from 127.0.0.1; the default (60/min) is for the internet.
        ("LOGIN_RATE_LIMIT", "100000".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// Runs the demo; returns an error text on failure.
pub async fn run(options: DemoOptions) -> Result<(), String> {
    // With Pebble installed the certificate comes from a real ACME exchange (HTTP-01 on the HTTP
    // port) for a *.localhost name, which browsers resolve to this machine by themselves.
    let pebble = if crate::pebble::installed() {
        let pebble = crate::pebble::Pebble::start(options.http_port)?;
        println!("Pebble (ACME test CA): directory {}", pebble.directory_url);
        Some(pebble)
    } else {
        println!("Pebble is not installed (apt-get install pebble): using a self-signed certificate");
        None
    };
    let domain = if pebble.is_some() { DEMO_ACME_DOMAIN } else { "localhost" };
    let host = if pebble.is_some() { DEMO_ACME_DOMAIN } else { "127.0.0.1" };
    let public_url = format!("https://{host}:{}", options.https_port);
    let secret = crate::paypal::state::random_text(40);
    let paypal = PaypalStandIn::start(demo_client(&public_url, &secret), 0, 0).await.map_err(|e| format!("PayPal stand-in: {e}"))?;
    println!("PayPal stand-in: authorize at {}, API at {}", paypal.auth_base, paypal.api_base);
    let mut env = service_env(&paypal, &secret, &public_url, options.http_port, options.https_port);
    let root_pem = match &pebble {
        Some(pebble) => {
            env.retain(|(k, _)| k != "TLS_SOURCE");
            env.push(("TLS_SOURCE".into(), "acme".into()));
            env.push(("ACME_DIRECTORY_URL".into(), pebble.directory_url.clone()));
            env.push(("ACME_EMAIL".into(), "ops@example.com".into()));
            env.push(("OUTBOUND_CA_FILE".into(), pebble.listener_ca.display().to_string()));
            None
        }
        None => None::<Vec<u8>>,
    };
    // The same boot path as the VM: configuration from (stand-in) instance metadata, the PayPal
    // secret from (stand-in) Vault through instance principals.
    let oci = crate::oci::for_demo(&mut env, DEMO_CLIENT_ID, &secret, domain).await?;
    println!("OCI stand-ins: IMDS, auth, Vault secrets and Notifications on 127.0.0.1 (CONFIG_SOURCE=oci)");
    let mut service = ServiceProcess::start(&options.service_binary, &env, true).map_err(|e| format!("cannot start {}: {e}", options.service_binary))?;
    service.wait_for_log("serving", Duration::from_secs(120))?;
    let root_pem = match &pebble {
        Some(pebble) => Some(pebble.root_pem().await?),
        None => root_pem,
    };

    println!("\nScripted login as alice@example.com through the whole flow:");
    let browser = match &root_pem {
        Some(root) => {
            println!("  (the browser trusts only Pebble's root: the certificate chain is checked)");
            Browser::with_resolve(root, DEMO_ACME_DOMAIN, options.https_port)
        }
        None => Browser::new(None),
    };
    let page = browser.login(&public_url, "alice").await?;
    let bundle = embedded_bundle(&page.body).ok_or_else(|| format!("no evidence on the result page (HTTP {}):\n{}", page.status, page.body))?;
    let key = bundle.jwk.to_key().map_err(|e| e.to_string())?;
    let verified = paypal_auth_evidence::jws::verify(&bundle.jws, &key).map_err(|e| e.to_string())?;
    let claims: paypal_auth_evidence::claims::Claims = serde_json::from_slice(&verified.payload).map_err(|e| e.to_string())?;
    println!("  result page: HTTP {} — signed statement for {:?} <{}>", page.status, claims.user.name.as_deref().unwrap_or("?"), claims.user.email.as_deref().unwrap_or("?"));
    println!("  JWS (ES256) verifies under the page's key {}", verified.kid.as_deref().unwrap_or("?"));
    println!("  attestation: {:?}", bundle.attestation);
    let again = browser.login(&public_url, "alice").await?;
    println!("  second login of the same account: HTTP {} (refused, as it must be)", again.status);
    if page.status != 200 || again.status != 409 {
        return Err("the scripted login did not behave as expected".into());
    }
    if options.stay {
        println!("\nOpen {public_url}/ in a browser (accept the certificate warning: it is from a local test CA) and click \"Log in with PayPal\".");
        println!("Users on the stand-in's consent page: alice (used above), bob, carol, dave. Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
    }
    drop(service);
    drop(oci);
    drop(pebble);
    Ok(())
}
