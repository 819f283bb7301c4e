//! The whole login through the booted image: the guest (direct kernel boot under QEMU TCG) boots
//! in OCI mode, reads its configuration from the OCI metadata stand-in (reached at its real
//! address 169.254.169.254 through guestfwd), gets an instance-principal session and the PayPal
//! secret from the Vault stand-in, serves HTTPS through hostfwd, and a scripted browser on the
//! host logs in against the PayPal stand-in; the same account is then refused.
//!
//! The certificate comes from a real ACME exchange (`TLS_SOURCE=acme`) with Pebble on the host:
//! the guest reaches Pebble's directory at https://169.254.169.2:<port>/dir (the listener
//! certificate carries that IP address; the guest trusts its CA through `OUTBOUND_CA_FILE`, a
//! file in a second cpio archive appended to a copy of the measured initrd, for this test only),
//! and Pebble validates HTTP-01 for `paypal-auth-vm.localhost` (challtestsrv answers 127.0.0.1)
//! on the host port that hostfwd forwards to the guest's port 80. The browser trusts only
//! Pebble's issuing root and resolves the name to the forwarded HTTPS port, so the served chain
//! is checked. Skipped when `pebble`/`pebble-challtestsrv` are not installed.
//!
//! The guest reaches host services at 169.254.169.2 (slirp's gateway, which slirp maps to the
//! host's 127.0.0.1). The browser-facing PayPal URL stays 127.0.0.1 because the browser runs on
//! the host.

mod qemu;

use devstack::browser::{embedded_bundle, Browser};
use devstack::demo::{demo_client, DEMO_ACME_DOMAIN, DEMO_CLIENT_ID};
use devstack::oci::{demo_options, OciStandIn, Service};
use devstack::paypal::PaypalStandIn;
use qemu::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const GUEST_HOST: &str = "169.254.169.2";
/// Where the appended archive puts the CA of Pebble's HTTPS listener in the guest.
const GUEST_CA_FILE: &str = "/etc/pebble-listener-ca.pem";

/// A copy of the measured `initrd` with a second newc archive appended holding `/etc` and the
/// file `GUEST_CA_FILE` (the kernel unpacks concatenated archives into the same rootfs). The
/// measured initramfs itself is unchanged.
fn initrd_with_ca(initrd: &Path, ca_pem: &Path, dir: &Path) -> PathBuf {
    let tree = dir.join("extra");
    std::fs::create_dir_all(tree.join("etc")).expect("extra tree");
    let name = GUEST_CA_FILE.trim_start_matches('/');
    std::fs::copy(ca_pem, tree.join(name)).expect("copy listener CA");
    let mut cpio = Command::new("cpio")
        .args(["-o", "-H", "newc", "-R", "0:0", "--quiet"])
        .current_dir(&tree)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("cpio (GNU cpio)");
    {
        use std::io::Write;
        let mut stdin = cpio.stdin.take().unwrap();
        stdin.write_all(format!("etc\n{name}\n").as_bytes()).unwrap();
    }
    let out = cpio.wait_with_output().expect("cpio");
    assert!(out.status.success(), "cpio failed");
    let mut bytes = std::fs::read(initrd).expect("initrd");
    // Archives start on a 4-byte boundary; zero padding between them is skipped by the kernel.
    bytes.resize(bytes.len().div_ceil(512) * 512, 0);
    bytes.extend_from_slice(&out.stdout);
    let path = dir.join("initrd-with-pebble-ca.cpio");
    std::fs::write(&path, bytes).expect("write initrd copy");
    path
}

fn port_of(base: &str) -> &str {
    base.rsplit(':').next().unwrap_or("0")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_through_the_booted_image() {
    skip_if!(boot_skip_reason());
    let image = tokio::task::block_in_place(|| image().to_path_buf());
    if !devstack::pebble::installed() {
        eprintln!("SKIPPED: pebble and pebble-challtestsrv are not installed (apt-get install pebble)");
        return;
    }
    let (http_port, https_port) = (free_port(), free_port());
    // Pebble validates HTTP-01 at DOMAIN:http_port = 127.0.0.1:http_port, hostfwd to guest port 80.
    let pebble = tokio::task::block_in_place(|| devstack::pebble::Pebble::start_with(http_port, &[GUEST_HOST])).expect("Pebble");
    let acme_port = port_of(pebble.directory_url.trim_end_matches("/dir")).to_string();
    let public_url = format!("https://{DEMO_ACME_DOMAIN}:{https_port}");
    let secret = format!("boot-login-secret-{}", devstack::paypal::state::random_text(20));
    let paypal = PaypalStandIn::start(demo_client(&public_url, &secret), 0, 0).await.expect("PayPal stand-in");
    let oci = OciStandIn::start(demo_options(DEMO_CLIENT_ID, &secret, DEMO_ACME_DOMAIN)).await.expect("OCI stand-ins");

    let mut env: Vec<(String, String)> = oci.guest_env(GUEST_HOST);
    env.extend(
        [
            ("PAYPAL_AUTH_BASE", paypal.auth_base.clone()),
            ("PAYPAL_API_BASE", format!("http://{GUEST_HOST}:{}", port_of(&paypal.api_base))),
            ("PUBLIC_URL", public_url.clone()),
            ("TLS_SOURCE", "acme".to_string()),
            ("ACME_DIRECTORY_URL", format!("https://{GUEST_HOST}:{acme_port}/dir")),
            ("ACME_RETRY_BASE_MS", "1000".to_string()),
            ("OUTBOUND_CA_FILE", GUEST_CA_FILE.to_string()),
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

    let dir = Path::new(TMP).join(format!("boot-login-{}", std::process::id()));
    let initrd = initrd_with_ca(&image.join("initrd.cpio"), &pebble.listener_ca, &dir);
    let mut vm = Vm::start_with_ports(
        "login",
        Boot::Direct { kernel: &image.join("bzImage"), initrd: &initrd, cmdline: &cmdline },
        oci.imds_addr.port(),
        http_port,
        https_port,
    );
    tokio::task::block_in_place(|| {
        vm.wait_for("boot: step dhcp ok", Duration::from_secs(180));
        // ACME under TCG: account, order, HTTP-01 validation through hostfwd, finalize, download.
        let started = Instant::now();
        vm.wait_for("boot: step certificate ok", Duration::from_secs(420));
        eprintln!("ACME certificate from Pebble in the guest after {:.0} s", started.elapsed().as_secs_f64());
        vm.wait_for("boot: serving ", Duration::from_secs(120));
    });
    assert!(!oci.log_of(Service::Imds).is_empty(), "the guest never asked the metadata service");
    assert!(!oci.log_of(Service::Secrets).is_empty(), "the guest never fetched its secret from Vault");

    // Only Pebble's issuing root is trusted, and the name resolves to the forwarded HTTPS port:
    // the login succeeds only if the guest serves the chain Pebble issued for the domain.
    let root = pebble.root_pem().await.expect("Pebble's root");
    let browser = || Browser::with_resolve(&root, DEMO_ACME_DOMAIN, https_port);
    let page = browser().login(&public_url, "alice").await.expect("login through the guest");
    assert_eq!(page.status, 200, "{}\nserial log:\n{}", page.body, vm.log());
    assert!(page.body.contains("Signed in as Alice Example"), "{}", page.body);
    let bundle = embedded_bundle(&page.body).expect("evidence bundle in the page");
    let key = bundle.jwk.to_key().expect("P-256 JWK");
    paypal_auth_evidence::jws::verify(&bundle.jws, &key).expect("JWS signed in the guest verifies");

    let again = browser().login(&public_url, "alice").await.expect("second login");
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(embedded_bundle(&again.body).is_none());
    let log = vm.log();
    assert!(!log.contains(&secret), "the PayPal secret reached the serial console");
    assert!(log.contains("step acme-client ok") && log.contains("step certificate ok"), "no ACME certificate step in the serial log:\n{log}");
    assert!(!log.contains("SELF-SIGNED"), "the guest fell back to a self-signed certificate");
    drop(vm);
    drop(pebble);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("login through the booted image: ok ({} serial lines)", log.lines().count());
}
