//! Shared fixture: a PayPal stand-in and the real service binary on free ports.
#![allow(dead_code)]

use devstack::browser::Browser;
use devstack::demo::{demo_client, service_env, DEMO_CLIENT_ID};
use devstack::paypal::{Client, PaypalStandIn};
use devstack::service::{free_port, ServiceProcess};
use std::time::Duration;

pub const SERVICE_BIN: &str = env!("CARGO_BIN_EXE_paypal-auth-vm");

pub struct Stack {
    pub paypal: PaypalStandIn,
    pub service: ServiceProcess,
    pub url: String,
    pub secret: String,
}

pub struct Options {
    /// Changes the registered PayPal app before the stand-in starts.
    pub client: Box<dyn Fn(&mut Client) + Send>,
    /// Extra or replaced service environment.
    pub env: Vec<(&'static str, String)>,
}

impl Default for Options {
    fn default() -> Self {
        Options { client: Box::new(|_| {}), env: Vec::new() }
    }
}

impl Stack {
    pub async fn start() -> Stack {
        Stack::start_with(Options::default()).await
    }

    pub async fn start_with(options: Options) -> Stack {
        let (https_port, http_port) = (free_port(), free_port());
        let url = format!("https://127.0.0.1:{https_port}");
        let secret = format!("test-secret-{}", devstack::paypal::state::random_text(24));
        let mut client = demo_client(&url, &secret);
        (options.client)(&mut client);
        let paypal = PaypalStandIn::start(client, 0, 0).await.expect("stand-in starts");
        let mut env = service_env(&paypal, &secret, &url, http_port, https_port);
        env.push(("PAYPAL_TIMEOUT_MS".into(), "2000".into()));
        for (k, v) in options.env {
            env.retain(|(key, _)| key != k);
            env.push((k.to_string(), v));
        }
        let mut service = ServiceProcess::start(SERVICE_BIN, &env, false).expect("service starts");
        service.wait_for_log("serving", Duration::from_secs(30)).expect("service ready");
        Stack { paypal, service, url, secret }
    }

    pub fn browser(&self) -> Browser {
        Browser::new(None)
    }

    /// A plain client without cookies or redirects, for raw requests.
    pub fn raw(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client")
    }

    pub fn token_calls(&self) -> usize {
        self.paypal.count("/v1/oauth2/token")
    }

    pub fn userinfo_calls(&self) -> usize {
        self.paypal.count("/v1/identity/oauth2/userinfo")
    }

    /// Checks that no log line holds a secret or a PayPal credential, and nothing panicked.
    pub fn assert_clean_logs(&self) {
        for line in self.service.logs() {
            assert!(!line.contains(&self.secret), "secret in log: {line}");
            assert!(!line.contains("A23AA") && !line.contains("C21AA") && !line.contains("A21AA"), "PayPal token or code in log: {line}");
            assert!(!line.contains("panicked"), "panic: {line}");
        }
    }
}

pub fn client_id() -> &'static str {
    DEMO_CLIENT_ID
}
