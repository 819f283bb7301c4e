//! Benchmark (not a test): latency of `/callback` on the real service binary against the local
//! PayPal stand-in, at a fixed arrival rate, each login a distinct account. The peer measured in
//! the same run is the bare PayPal exchange the callback has to make (token + userinfo against the
//! same stand-in), so the ratio is the service's own cost on top of PayPal's.
//!
//! Run: `cargo bench --bench callback_latency`

#[path = "../tests/common/mod.rs"]
mod common;

use devstack::paypal::state::{Email, User};
use std::time::{Duration, Instant};

const RATE_PER_SEC: u64 = 20;
const LOGINS: usize = 200;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main]
async fn main() {
    let stack = common::Stack::start().await;
    for i in 0..LOGINS {
        stack.paypal.add_user(User {
            account_id: format!("bench{i}"),
            payer_id: format!("BENCH{i:08}"),
            name: Some(format!("Bench User {i}")),
            given_name: None,
            family_name: None,
            emails: vec![Email { value: format!("bench{i}@example.com"), primary: true, confirmed: true }],
            verified_account: true,
        });
    }
    // Prepare every login up to the callback (not timed).
    let mut pending = Vec::new();
    for i in 0..LOGINS {
        let browser = stack.browser();
        let callback = browser.consent(&stack.url, &format!("bench{i}"), "approve").await.expect("consent");
        pending.push((browser, callback));
    }
    // Open loop: one callback every 1/RATE s, whatever the previous ones are doing.
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (n, (browser, callback)) in pending.into_iter().enumerate() {
        let due = start + Duration::from_millis(n as u64 * 1000 / RATE_PER_SEC);
        tokio::time::sleep_until(due.into()).await;
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let page = browser.get(&callback).await.expect("callback");
            assert_eq!(page.status, 200);
            t.elapsed().as_secs_f64() * 1000.0
        }));
    }
    let mut ours = Vec::new();
    for t in tasks {
        ours.push(t.await.expect("task"));
    }
    ours.sort_by(|a, b| a.total_cmp(b));

    // Peer: the two PayPal calls alone, same stand-in, same client library family, same rate.
    let http = reqwest::Client::new();
    let mut peer = Vec::new();
    for i in 0..LOGINS {
        let browser = stack.browser();
        let callback = browser.consent(&stack.url, "dave", "approve").await.expect("consent");
        let code = callback.split(['?', '&']).find_map(|p| p.strip_prefix("code=")).expect("code").to_string();
        let code = form_urlencoded::parse(format!("c={code}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default();
        let _ = i;
        let t = Instant::now();
        let token: serde_json::Value = serde_json::from_str(
            &http.post(format!("{}/v1/oauth2/token", stack.paypal.api_base))
                .basic_auth(common::client_id(), Some(&stack.secret))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("grant_type=authorization_code&code={}", form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()))
                .send().await.expect("token").text().await.expect("body"),
        ).expect("json");
        let access = token["access_token"].as_str().expect("access token");
        let info = http.get(format!("{}/v1/identity/oauth2/userinfo?schema=paypalv1.1", stack.paypal.api_base)).bearer_auth(access).send().await.expect("userinfo");
        assert_eq!(info.status(), 200);
        peer.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(1000 / RATE_PER_SEC)).await;
    }
    peer.sort_by(|a, b| a.total_cmp(b));

    println!("/callback latency, {LOGINS} distinct accounts at {RATE_PER_SEC}/s (HTTPS, self-signed, debug-free release build if run via cargo bench):");
    println!("  service /callback: p50 {:.2} ms, p99 {:.2} ms", percentile(&ours, 0.5), percentile(&ours, 0.99));
    println!("  peer (bare token+userinfo to the stand-in): p50 {:.2} ms, p99 {:.2} ms", percentile(&peer, 0.5), percentile(&peer, 0.99));
    println!("  ratio service/peer: p50 {:.2}x, p99 {:.2}x", percentile(&ours, 0.5) / percentile(&peer, 0.5), percentile(&ours, 0.99) / percentile(&peer, 0.99));
}
