//! Headless Chromium renders the landing page (over the service's HTTPS) and a real result page
//! (saved by the scripted browser after a full login), and writes screenshots to
//! `target/screenshots/`. Skips with a message where Chromium is not installed.

mod common;

use common::Stack;
use std::path::PathBuf;
use std::process::Command;

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().find(|p| std::path::Path::new(p).exists())
}

fn screenshot(browser: &str, url: &str, out: &PathBuf) {
    let profile = tempdir();
    let status = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--ignore-certificate-errors",
            "--hide-scrollbars",
            "--window-size=1000,1400",
            &format!("--user-data-dir={}", profile.display()),
            &format!("--screenshot={}", out.display()),
            url,
        ])
        .output()
        .expect("chromium runs");
    assert!(status.status.success(), "chromium failed: {}", String::from_utf8_lossy(&status.stderr));
    let bytes = std::fs::read(out).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    assert!(bytes.len() > 10_000, "suspiciously small screenshot ({} bytes)", bytes.len());
    let _ = std::fs::remove_dir_all(profile);
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pav-chromium-{}-{}", std::process::id(), devstack::paypal::state::random_text(8)));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[tokio::test]
async fn chromium_renders_the_landing_and_result_pages() {
    let Some(browser) = chromium() else {
        eprintln!("SKIPPED: chromium is not installed (apt-get install chromium)");
        return;
    };
    let stack = Stack::start().await;
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    screenshot(browser, &format!("{}/", stack.url), &dir.join("landing.png"));
    let page = stack.browser().login(&stack.url, "alice").await.unwrap();
    assert_eq!(page.status, 200);
    let saved = dir.join("result.html");
    std::fs::write(&saved, &page.body).expect("save page");
    screenshot(browser, &format!("file://{}", saved.display()), &dir.join("result.png"));
    eprintln!("screenshots in {}", dir.display());
}
