//! The login flow end to end: the real service binary, the PayPal stand-in, a scripted browser
//! with a cookie jar, over HTTPS. Case numbers refer to research/paypal.md §6.8.

mod common;

use common::{client_id, Options, Stack};
use devstack::browser::{embedded_bundle, Browser};
use devstack::paypal::{Fault, Toggles};
use paypal_auth_evidence::bundle::{Attestation, NO_ATTESTATION};
use paypal_auth_evidence::claims::Claims;

fn fault(endpoint: &str, kind: &str, status: Option<u16>, delay_ms: Option<u64>) -> Fault {
    Fault { endpoint: endpoint.into(), kind: kind.into(), status, delay_ms, count: 1 }
}

fn verified_claims(body: &str) -> Claims {
    let bundle = embedded_bundle(body).expect("evidence bundle embedded in the page");
    let key = bundle.jwk.to_key().expect("page JWK is a P-256 key");
    let verified = paypal_auth_evidence::jws::verify(&bundle.jws, &key).expect("JWS verifies under the published key");
    assert_eq!(verified.kid.as_deref(), Some(bundle.jwk.thumbprint_b64().as_str()));
    assert_eq!(bundle.attestation, Attestation::None { statement: NO_ATTESTATION.into() });
    serde_json::from_slice(&verified.payload).expect("claims JSON")
}

#[tokio::test]
async fn happy_path_signed_page_then_second_login_refused() {
    let stack = Stack::start().await;
    let browser = stack.browser();
    let page = browser.login(&stack.url, "alice").await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Signed in as Alice Example"));
    assert!(page.body.contains("alice@example.com (confirmed)"));
    assert!(page.body.contains(NO_ATTESTATION), "the page says plainly that there is no hardware attestation");
    assert!(page.body.contains("self-signed TLS certificate"));
    assert!(page.body.contains("does not talk to PayPal"));
    let claims = verified_claims(&page.body);
    assert_eq!(claims.user.name.as_deref(), Some("Alice Example"));
    assert_eq!(claims.user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(claims.user.user_id, stack.paypal.user_id(client_id(), "alice"));
    assert_eq!(claims.client_id, client_id());
    assert_eq!(claims.domain, "localhost");
    assert_eq!(claims.environment.as_str(), "sandbox");
    assert_eq!(claims.attestation.platform, "none");
    assert!(claims.attestation.signing_key_ephemeral);

    // Case 1: the same account again, in a fresh browser, is refused with 409 and no statement.
    let again = Browser::new(None).login(&stack.url, "alice").await.unwrap();
    assert_eq!(again.status, 409);
    assert!(again.body.contains("already used the service"));
    assert!(embedded_bundle(&again.body).is_none());
    stack.assert_clean_logs();
}

#[tokio::test]
async fn two_accounts_both_succeed_and_user_text_is_escaped() {
    let stack = Stack::start().await;
    let alice = stack.browser().login(&stack.url, "alice").await.unwrap();
    let bob = stack.browser().login(&stack.url, "bob").await.unwrap();
    assert_eq!(alice.status, 200);
    assert_eq!(bob.status, 200);
    assert!(bob.body.contains("Bob &lt;b&gt;Tester&lt;/b&gt;"), "names are HTML-escaped");
    assert!(!bob.body.contains("<b>Tester</b>"));
    // Bob's primary email is the second one and is unconfirmed.
    assert!(bob.body.contains("bob@example.com (not confirmed)"));
}

#[tokio::test]
async fn fifty_concurrent_callbacks_for_one_account_yield_exactly_one_page() {
    let stack = Stack::start().await;
    let mut callbacks = Vec::new();
    for _ in 0..50 {
        let browser = stack.browser();
        let callback = browser.consent(&stack.url, "dave", "approve").await.unwrap();
        callbacks.push((browser, callback));
    }
    let tasks: Vec<_> = callbacks.into_iter().map(|(browser, url)| tokio::spawn(async move { browser.get(&url).await.map(|p| p.status.as_u16()) })).collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap().unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 49, "{statuses:?}");
    stack.assert_clean_logs();
}

#[tokio::test]
async fn another_client_id_is_another_account() {
    // Case 2: user_id is pairwise per app, so the same person through another app is new.
    let stack = Stack::start().await;
    assert_eq!(stack.browser().login(&stack.url, "alice").await.unwrap().status, 200);
    let second = Stack::start_with(Options { client: Box::new(|c| c.client_id = "second-app-client".into()), env: vec![("PAYPAL_CLIENT_ID", "second-app-client".into())] }).await;
    assert_ne!(second.paypal.user_id("second-app-client", "alice"), stack.paypal.user_id(client_id(), "alice"));
    assert_eq!(second.browser().login(&second.url, "alice").await.unwrap().status, 200);
}

#[tokio::test]
async fn missing_user_id_is_an_error_and_burns_nothing() {
    // Case 3.
    let stack = Stack::start().await;
    stack.paypal.set_toggles(Toggles { omit_user_id: true, omit_sub: true, ..Toggles::default() });
    let page = stack.browser().login(&stack.url, "alice").await.unwrap();
    assert_eq!(page.status, 502, "{}", page.body);
    assert!(page.body.contains("did not identify your account"));
    // `sub` alone is enough (fallback), and the failed attempt did not burn the account.
    stack.paypal.set_toggles(Toggles { omit_user_id: true, ..Toggles::default() });
    let page = stack.browser().login(&stack.url, "alice").await.unwrap();
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(verified_claims(&page.body).user.user_id, stack.paypal.user_id(client_id(), "alice"));
}

#[tokio::test]
async fn deny_shows_cancelled_and_calls_nothing() {
    // Case 4.
    let stack = Stack::start().await;
    let browser = stack.browser();
    let callback = browser.consent(&stack.url, "alice", "deny").await.unwrap();
    assert!(!callback.contains("state="), "PayPal sends no state on deny");
    let page = browser.get(&callback).await.unwrap();
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Login cancelled"));
    assert_eq!(stack.token_calls(), 0);
    assert_eq!(stack.browser().login(&stack.url, "alice").await.unwrap().status, 200, "nothing was stored");
}

#[tokio::test]
async fn invalid_scope_redirect_is_an_error_page() {
    // Case 5: the app has no email scope enabled, so PayPal refuses the request.
    let stack = Stack::start_with(Options { client: Box::new(|c| c.enabled_scopes = vec!["openid".into(), "profile".into()]), env: vec![] }).await;
    let browser = stack.browser();
    let callback = browser.consent(&stack.url, "alice", "approve").await.unwrap_err();
    assert!(callback.contains("no consent form"), "{callback}");
    // The stand-in redirected straight back with error=invalid_scope; follow it as a browser would.
    let page = browser.get(&format!("{}/login", stack.url)).await.unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("invalid_scope"));
    assert_eq!(stack.token_calls(), 0);
}

#[tokio::test]
async fn missing_wrong_or_foreign_state_is_400_without_a_token_call() {
    // Case 6.
    let stack = Stack::start().await;
    let browser = stack.browser();
    let callback = browser.consent(&stack.url, "alice", "approve").await.unwrap();
    let (base, query) = callback.split_once('?').unwrap();
    let without_state: Vec<&str> = query.split('&').filter(|p| !p.starts_with("state=")).collect();
    let page = browser.get(&format!("{base}?{}", without_state.join("&"))).await.unwrap();
    assert_eq!(page.status, 400);
    let wrong: Vec<String> = query.split('&').map(|p| if p.starts_with("state=") { "state=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string() } else { p.to_string() }).collect();
    let page = browser.get(&format!("{base}?{}", wrong.join("&"))).await.unwrap();
    assert_eq!(page.status, 400);
    // The right state but from a browser that never started this login (no cookie).
    let page = Browser::new(None).get(&callback).await.unwrap();
    assert_eq!(page.status, 400);
    assert!(page.body.contains("cookie"));
    assert_eq!(stack.token_calls(), 0, "no token call for any of them");
}

#[tokio::test]
async fn replayed_callback_and_used_code_are_refused_without_burning() {
    // Case 7.
    let stack = Stack::start().await;
    let browser = stack.browser();
    let callback = browser.consent(&stack.url, "bob", "approve").await.unwrap();
    assert_eq!(browser.get(&callback).await.unwrap().status, 200);
    let calls = stack.token_calls();
    let replay = browser.get(&callback).await.unwrap();
    assert_eq!(replay.status, 400, "the state is single-use");
    assert_eq!(stack.token_calls(), calls, "a replay never reaches PayPal");

    // A fresh, valid login whose code was already used at PayPal: PayPal says invalid code.
    let used_code = callback.split('&').find_map(|p| p.strip_prefix(&format!("{}/callback?code=", stack.url)).or_else(|| p.strip_prefix("code="))).unwrap().to_string();
    let victim = stack.browser();
    let fresh = victim.consent(&stack.url, "alice", "approve").await.unwrap();
    let (base, query) = fresh.split_once('?').unwrap();
    let swapped: Vec<String> = query.split('&').map(|p| if p.starts_with("code=") { format!("code={used_code}") } else { p.to_string() }).collect();
    let page = victim.get(&format!("{base}?{}", swapped.join("&"))).await.unwrap();
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("Login expired"));
    assert_eq!(stack.browser().login(&stack.url, "alice").await.unwrap().status, 200, "alice was not burned");
}

#[tokio::test]
async fn code_used_after_181_seconds_is_expired() {
    // Case 8.
    let stack = Stack::start().await;
    let browser = stack.browser();
    let callback = browser.consent(&stack.url, "alice", "approve").await.unwrap();
    stack.paypal.advance_clock(181);
    let page = browser.get(&callback).await.unwrap();
    assert_eq!(page.status, 400);
    assert!(page.body.contains("Login expired"));
    assert_eq!(stack.browser().login(&stack.url, "alice").await.unwrap().status, 200);
}

#[tokio::test]
async fn wrong_client_secret_is_a_configuration_error() {
    // Case 9.
    let stack = Stack::start_with(Options { client: Box::new(|_| {}), env: vec![("PAYPAL_SECRET", "not-the-secret".into())] }).await;
    let page = stack.browser().login(&stack.url, "alice").await.unwrap();
    assert_eq!(page.status, 502);
    assert!(page.body.contains("Configuration error"));
    assert!(stack.service.logs().iter().all(|l| !l.contains("not-the-secret")));
}

#[tokio::test]
async fn paypal_failures_ask_to_try_later_and_store_nothing() {
    // Case 10, plus token-endpoint faults.
    let stack = Stack::start().await;
    let faults = [
        fault("userinfo", "status", Some(401), None),
        fault("userinfo", "status", Some(429), None),
        fault("userinfo", "status", Some(500), None),
        fault("userinfo", "delay", None, Some(4000)),
        fault("token", "status", Some(503), None),
        fault("token", "status", Some(429), None),
        fault("token", "reset", None, None),
        fault("token", "bad_json", None, None),
        fault("token", "delay", None, Some(4000)),
    ];
    for f in faults {
        let label = format!("{} {} {:?}", f.endpoint, f.kind, f.status);
        stack.paypal.inject(f);
        let page = stack.browser().login(&stack.url, "carol").await.unwrap();
        assert!(page.status == 503 || page.status == 502, "{label}: HTTP {}", page.status);
        assert!(page.body.contains("Nothing was stored"), "{label}");
    }
    let page = stack.browser().login(&stack.url, "carol").await.unwrap();
    assert_eq!(page.status, 200, "carol was never burned");
    stack.assert_clean_logs();
}

#[tokio::test]
async fn minimal_and_odd_userinfo_shapes_render() {
    // Cases 11 and 12.
    let stack = Stack::start().await;
    stack.paypal.set_toggles(Toggles { verified_as_string: true, expires_in_string: true, extra_token_fields: true, ..Toggles::default() });
    let carol = stack.browser().login(&stack.url, "carol").await.unwrap();
    assert_eq!(carol.status, 200, "{}", carol.body);
    assert!(carol.body.contains("Signed in as your PayPal account"));
    let claims = verified_claims(&carol.body);
    assert_eq!(claims.user.name, None);
    assert_eq!(claims.user.email, None);
    stack.paypal.set_toggles(Toggles { omit_name: true, ..Toggles::default() });
    let dave = stack.browser().login(&stack.url, "dave").await.unwrap();
    assert_eq!(dave.status, 200);
    assert!(dave.body.contains("Signed in as Dave"), "falls back to the given name");
}

#[tokio::test]
async fn injected_tokens_are_ignored() {
    // Case 13.
    let stack = Stack::start().await;
    let browser = stack.browser();
    let page = browser.get(&format!("{}/callback?access_token=A23AAforged&state=x", stack.url)).await.unwrap();
    assert_eq!(page.status, 400);
    let app_token = stack.paypal.app_token(client_id());
    let callback = browser.consent(&stack.url, "alice", "approve").await.unwrap();
    let (base, query) = callback.split_once('?').unwrap();
    let swapped: Vec<String> = query.split('&').map(|p| if p.starts_with("code=") { format!("code={app_token}") } else { p.to_string() }).collect();
    let page = browser.get(&format!("{base}?{}", swapped.join("&"))).await.unwrap();
    assert_eq!(page.status, 400, "an access token is not an authorization code");
    assert_eq!(stack.userinfo_calls(), 0);
}

#[tokio::test]
async fn malformed_and_oversized_inputs_get_4xx_never_5xx() {
    let stack = Stack::start().await;
    let raw = stack.raw();
    let long = "a".repeat(5000);
    let targets = [
        "/callback".to_string(),
        "/callback?".to_string(),
        "/callback?%".to_string(),
        "/callback?code=%ZZ&state=%".to_string(),
        "/callback?code=%00%01&state=%FF".to_string(),
        "/callback?code=a&code=b".to_string(),
        format!("/callback?code={long}&state=x"),
        format!("/callback?state={long}&code=x"),
        "/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_string(),
        "/callback?code=ok&state=%E2%98%83%E2%98%83".to_string(),
        "/attestation".to_string(),
        "/attestation?nonce=zz".to_string(),
        format!("/attestation?nonce={}", "ab".repeat(65)),
        format!("/{long}"),
        "/..%2F..%2Fetc%2Fpasswd".to_string(),
        "/login?x=%".to_string(),
    ];
    for target in &targets {
        let response = raw.get(format!("{}{target}", stack.url)).header("cookie", "__Host-pav_login=%%%.;;").send().await.unwrap();
        let status = response.status().as_u16();
        assert!(status < 500, "{target}: HTTP {status}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("<script>alert"), "{target}: reflected script");
    }
    let post = raw.post(format!("{}/callback", stack.url)).body("a=1").send().await.unwrap();
    assert_eq!(post.status(), 405);
    // A large body is never read: the service answers 405 and may close before the upload ends.
    if let Ok(response) = raw.post(format!("{}/callback", stack.url)).body(vec![b'x'; 1 << 20]).send().await {
        assert_eq!(response.status(), 405);
    }
    let huge_header = raw.get(format!("{}/", stack.url)).header("x-big", "b".repeat(200_000)).send().await;
    if let Ok(response) = huge_header {
        assert!(response.status().as_u16() < 500);
    }
    assert_eq!(raw.get(format!("{}/healthz", stack.url)).send().await.unwrap().status(), 200, "still alive");
    stack.assert_clean_logs();
}

#[tokio::test]
async fn port_80_redirects_to_https_and_answers_health() {
    let stack = Stack::start().await;
    let http = stack.service.logs().iter().find_map(|l| l.split("http on ").nth(1).map(|s| s.trim_end_matches(')').to_string())).unwrap();
    let raw = stack.raw();
    let moved = raw.get(format!("http://{http}/some/page?x=1")).send().await.unwrap();
    assert_eq!(moved.status(), 301);
    assert_eq!(moved.headers()["location"], format!("{}/some/page?x=1", stack.url));
    assert_eq!(raw.get(format!("http://{http}/.well-known/acme-challenge/bad%2Ftoken")).send().await.unwrap().status(), 404);
    assert_eq!(raw.get(format!("http://{http}/healthz")).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn attestation_endpoint_says_none_plainly() {
    let stack = Stack::start().await;
    let response = stack.raw().get(format!("{}/attestation?nonce=00112233", stack.url)).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(body["platform"], "none");
    assert_eq!(body["statement"], NO_ATTESTATION);
    assert_eq!(body["identity"]["client_id"], client_id());
}

#[tokio::test]
async fn logins_are_rate_limited_per_client() {
    let stack = Stack::start_with(Options { client: Box::new(|_| {}), env: vec![("LOGIN_RATE_LIMIT", "3".into())] }).await;
    let raw = stack.raw();
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(raw.get(format!("{}/login", stack.url)).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, [302, 302, 302, 429, 429]);
}

#[tokio::test]
async fn the_verifier_accepts_a_real_page_with_verdict_none() {
    let stack = Stack::start().await;
    let page = stack.browser().login(&stack.url, "alice").await.unwrap();
    assert_eq!(page.status, 200);
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let saved = dir.join(format!("page-{}.html", std::process::id()));
    std::fs::write(&saved, &page.body).unwrap();
    // The verifier binary is built by cargo for the workspace; find it next to the service.
    let verifier = std::path::Path::new(common::SERVICE_BIN).with_file_name("paypal-auth-verify");
    if !verifier.exists() {
        let status = std::process::Command::new(env!("CARGO")).args(["build", "-q", "-p", "paypal-auth-verify"]).status().unwrap();
        assert!(status.success());
    }
    let run = |args: &[&str]| std::process::Command::new(&verifier).args(args).output().unwrap();
    let ok = run(&["page", saved.to_str().unwrap(), "--client-id", client_id(), "--domain", "localhost", "--environment", "sandbox", "--json"]);
    let out = String::from_utf8_lossy(&ok.stdout);
    assert_eq!(ok.status.code(), Some(0), "{out}\n{}", String::from_utf8_lossy(&ok.stderr));
    assert!(out.contains("NONE"), "{out}");
    let wrong = run(&["page", saved.to_str().unwrap(), "--client-id", "someone-else", "--domain", "localhost"]);
    assert_eq!(wrong.status.code(), Some(1), "a wrong client id is a failed check");
    // Tampering with the saved statement breaks the signature.
    let tampered = page.body.replacen("Alice Example", "Mallory Example", 1);
    assert_ne!(tampered, page.body);
    let body = embedded_bundle(&page.body).unwrap();
    let mut forged = body.clone();
    let parts: Vec<&str> = forged.jws.split('.').collect();
    let payload = String::from_utf8(base64url_decode(parts[1])).unwrap().replace("Alice", "Malice");
    forged.jws = format!("{}.{}.{}", parts[0], base64url_encode(payload.as_bytes()), parts[2]);
    let forged_path = dir.join(format!("forged-{}.json", std::process::id()));
    std::fs::write(&forged_path, serde_json::to_string(&forged).unwrap()).unwrap();
    let bad = run(&["page", forged_path.to_str().unwrap(), "--client-id", client_id(), "--domain", "localhost"]);
    assert_eq!(bad.status.code(), Some(1), "{}", String::from_utf8_lossy(&bad.stdout));
}

fn base64url_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn base64url_encode(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

#[tokio::test]
async fn head_has_no_body_on_http1_and_http2() {
    let stack = Stack::start().await;
    let head = stack.raw().head(format!("{}/", stack.url)).send().await.unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.bytes().await.unwrap().is_empty());
    // HTTP/2 (what browsers negotiate): a body after HEAD is a protocol error for the client.
    if std::path::Path::new("/usr/bin/curl").exists() {
        for path in ["/", "/healthz", "/nope", "/attestation?nonce=00"] {
            let out = std::process::Command::new("curl")
                .args(["-sSk", "--http2", "-I", "-o", "/dev/null", "-w", "%{http_version} %{http_code}", &format!("{}{path}", stack.url)])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "curl -I --http2 {path}: {} {}", text, String::from_utf8_lossy(&out.stderr));
            assert!(text.starts_with("2 "), "{path}: negotiated {text}");
        }
    } else {
        eprintln!("SKIPPED the HTTP/2 half: curl is not installed");
    }
    let twice = stack.raw().get(format!("{}/attestation?nonce=00&nonce=11", stack.url)).send().await.unwrap();
    assert_eq!(twice.status(), 400, "a repeated nonce is refused, as repeated login parameters are");
}
