//! `devstack`: local stand-ins and the demo launcher.
//!
//! ```text
//! devstack demo [--https-port 8443] [--http-port 8080] [--exit]
//! devstack oci [--imds-port N] ...   (OCI stand-ins only; see devstack::oci::cli)
//! ```
#![forbid(unsafe_code)]

use devstack::demo::{self, DemoOptions};
use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: devstack demo [--https-port N] [--http-port N] [--exit] [--service-binary PATH]");
    ExitCode::from(2)
}

/// The service binary next to this one (same cargo profile), built if missing.
fn service_binary() -> Result<String, String> {
    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let dir = me.parent().ok_or("no directory for devstack")?;
    let candidate = dir.join("paypal-auth-vm");
    let release = dir.ends_with("release");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut build = std::process::Command::new(cargo);
    build.args(["build", "--quiet", "-p", "paypal-auth-vm", "--bin", "paypal-auth-vm"]);
    if release {
        build.arg("--release");
    }
    // Always rebuild (a no-op when up to date) so the demo never runs a stale service.
    let status = build.status().map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() || !candidate.exists() {
        return Err(format!("could not build the service binary at {}", candidate.display()));
    }
    Ok(candidate.display().to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("oci") {
        return devstack::oci::cli::run(&args[1..]).await;
    }
    if args.first().map(String::as_str) != Some("demo") {
        return usage();
    }
    let mut options = DemoOptions { service_binary: String::new(), https_port: 8443, http_port: 8080, stay: true };
    let mut it = args.iter().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--exit" => options.stay = false,
            "--https-port" => match it.next().and_then(|v| v.parse().ok()) {
                Some(p) => options.https_port = p,
                None => return usage(),
            },
            "--http-port" => match it.next().and_then(|v| v.parse().ok()) {
                Some(p) => options.http_port = p,
                None => return usage(),
            },
            "--service-binary" => match it.next() {
                Some(p) => options.service_binary = p.clone(),
                None => return usage(),
            },
            _ => return usage(),
        }
    }
    if options.service_binary.is_empty() {
        match service_binary() {
            Ok(path) => options.service_binary = path,
            Err(e) => {
                eprintln!("devstack: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    match demo::run(options).await {
        Ok(()) => {
            println!("demo: OK");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo: FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}
