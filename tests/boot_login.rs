//! The whole login through the booted image: the guest (direct kernel boot under QEMU TCG) boots
//! in OCI mode, reads its configuration from the OCI metadata stand-in (reached at its real
//! address 169.254.169.254 through guestfwd), gets an instance-principal session and the PayPal
//! secret from the Vault stand-in, serves HTTPS through hostfwd, and a scripted browser on the
//! host logs in against the PayPal stand-in; the same account is then refused.
//!
//! The guest reaches host services at 169.254.169.2 (slirp's gateway). The browser-facing PayPal
//! URL stays 127.0.0.1 because the browser runs on the host.

mod qemu;

use devstack::browser::{embedded_bundle, Browser};
use devstack::demo::{demo_client, DEMO_CLIENT_ID};
use devstack::oci::{demo_options, OciStandIn, Service};
use devstack::paypal::PaypalStandIn;
use qemu::*;
use std::time::Duration;

const GUEST_HOST: &str = "169.254.169.2";

fn port_of(base: &str) -> &str {
    base.rsplit(':').next().unwrap_or("0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_the_booted_image() {
    skip_if!(boot_skip_reason());
    let image = tokio::task::block_in_place(|| image().to_path_buf());
    let (http_port, https_port) = (free_port(), free_port());
    let public_url = format!("https://127.0.0.1:{https_port}");
    let secret = format!("boot-login-secret-{}", devstack::paypal::state::random_text(20));
    let paypal = PaypalStandIn::start(demo_client(&public_url, &secret), 0, 0).await.expect("PayPal stand-in");
    let oci = OciStandIn::start(demo_options(DEMO_CLIENT_ID, &secret, "localhost")).await.expect("OCI stand-ins");

    let mut env: Vec<(String, String)> = oci.guest_env(GUEST_HOST);
    env.extend(
        [
            ("PAYPAL_AUTH_BASE", paypal.auth_base.clone()),
            ("PAYPAL_API_BASE", format!("http://{GUEST_HOST}:{}", port_of(&paypal.api_base))),
            ("PUBLIC_URL", public_url.clone()),
            ("TLS_SOURCE", "self-signed".to_string()),
            ("HTTP_ADDR", "0.0.0.0:80".to_string()),
            ("HTTPS_ADDR", "0.0.0.0:443".to_string()),
            ("LOGIN_RATE_LIMIT", "100000".to_string()),
            ("PAYPAL_TIMEOUT_MS", "20000".to_string()),
        ]
        .map(|(k, v)| (k.to_string(), v)),
    );
    let base = std::fs::read_to_string(image.join("cmdline")).expect("cmdline");
    let base: Vec<&str> = base.split_whitespace().filter(|w| !w.contains('=') || w.starts_with("console=") || w.starts_with("panic=")).collect();
    let cmdline = format!("{} {}", base.join(" "), env.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
    assert!(cmdline.len() < 2048 && !env.iter().any(|(_, v)| v.contains(' ')), "{cmdline}");

    let mut vm = Vm::start_with_ports(
        "login",
        Boot::Direct { kernel: &image.join("bzImage"), initrd: &image.join("initrd.cpio"), cmdline: &cmdline },
        oci.imds_addr.port(),
        http_port,
        https_port,
    );
    tokio::task::block_in_place(|| {
        vm.wait_for("boot: step dhcp ok", Duration::from_secs(180));
        vm.wait_for("boot: serving ", Duration::from_secs(300));
    });
    assert!(!oci.log_of(Service::Imds).is_empty(), "the guest never asked the metadata service");
    assert!(!oci.log_of(Service::Secrets).is_empty(), "the guest never fetched its secret from Vault");

    let page = Browser::new(None).login(&public_url, "alice").await.expect("login through the guest");
    assert_eq!(page.status, 200, "{}\nserial log:\n{}", page.body, vm.log());
    assert!(page.body.contains("Signed in as Alice Example"), "{}", page.body);
    let bundle = embedded_bundle(&page.body).expect("evidence bundle in the page");
    let key = bundle.jwk.to_key().expect("P-256 JWK");
    paypal_auth_evidence::jws::verify(&bundle.jws, &key).expect("JWS signed in the guest verifies");

    let again = Browser::new(None).login(&public_url, "alice").await.expect("second login");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(embedded_bundle(&again.body).is_none());
    let log = vm.log();
    assert!(!log.contains(&secret), "the PayPal secret reached the serial console");
    eprintln!("login through the booted image: ok ({} serial lines)", log.lines().count());
}
