//! `devstack oci`: runs the OCI stand-ins on fixed or ephemeral ports for a person or a VM test,
//! prints the environment that points the service at them, and logs each request.
//!
//! ```text
//! devstack oci [--imds-port N] [--auth-port N] [--secrets-port N] [--notification-port N]
//!              [--client-id ID] [--paypal-secret TEXT] [--domain NAME] [--guest-host 10.0.2.2]
//! ```

use super::{demo_options, OciStandIn};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: devstack oci [--imds-port N] [--auth-port N] [--secrets-port N] [--notification-port N] \
[--client-id ID] [--paypal-secret TEXT] [--domain NAME] [--guest-host ADDR]";

/// Runs the subcommand with its arguments (after `oci`).
pub async fn run(args: &[String]) -> ExitCode {
    let mut ports = [0u16; 4];
    let mut client_id = crate::demo::DEMO_CLIENT_ID.to_string();
    let mut secret = crate::paypal::state::random_text(40);
    let mut domain = "localhost".to_string();
    let mut guest_host = "10.0.2.2".to_string();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let Some(value) = it.next() else {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        };
        let port = |i: usize, ports: &mut [u16; 4]| value.parse().map(|p| ports[i] = p).is_ok();
        let ok = match arg.as_str() {
            "--imds-port" => port(0, &mut ports),
            "--auth-port" => port(1, &mut ports),
            "--secrets-port" => port(2, &mut ports),
            "--notification-port" => port(3, &mut ports),
            "--client-id" => { client_id = value.clone(); true },
            "--paypal-secret" => { secret = value.clone(); true },
            "--domain" => { domain = value.clone(); true },
            "--guest-host" => { guest_host = value.clone(); true },
            _ => false,
        };
        if !ok {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    let mut options = demo_options(&client_id, &secret, &domain);
    options.imds_port = ports[0];
    options.service_ports = [ports[1], ports[2], ports[3]];
    let oci = match OciStandIn::start(options).await {
        Ok(oci) => oci,
        Err(e) => {
            eprintln!("devstack oci: cannot start the stand-ins: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("OCI stand-ins: IMDS {}, auth {}, Secrets {}, Notifications {}", oci.imds_base, oci.auth_base, oci.secrets_base, oci.notification_base);
    println!("\nService environment on this host:");
    for (k, v) in oci.service_env() {
        println!("  {k}={v}");
    }
    println!("\nIn a QEMU guest (user networking): -netdev user,...,guestfwd=tcp:169.254.169.254:80-tcp:{} and on the kernel command line:", oci.imds_addr);
    for (k, v) in oci.guest_env(&guest_host) {
        println!("  {k}={v}");
    }
    println!("\nInstance metadata keys served: paypal_client_id={client_id} domain={domain} paypal_environment=sandbox paypal_secret_ocid notification_topic_ocid. Ctrl-C to stop.\n");
    let mut seen = 0;
    let mut published = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let log = oci.log();
                for r in &log[seen.min(log.len())..] {
                    let why = r.refusal.as_deref().map(|w| format!(" — {w}")).unwrap_or_default();
                    println!("  oci {:?} {} {} → {}{why}", r.service, r.method, r.path, r.status);
                }
                seen = log.len();
                let messages = oci.published();
                for m in &messages[published.min(messages.len())..] {
                    println!("  notification: {}", m.title);
                }
                published = messages.len();
            }
        }
    }
    ExitCode::SUCCESS
}
