//! The `paypal-auth-vm` binary: `/init` in the image, an ordinary process in local runs.
#![forbid(unsafe_code)]

fn main() {
    // In the VM this is /init: mounts, console, network, signals; a no-op elsewhere. The guard
    // powers the VM off when main returns.
    let _init = paypal_auth_vm::pid1::Init::start_if_pid1();
    match paypal_auth_vm::config::Config::from_env() {
        Ok(config) => paypal_auth_vm::info!("boot", "configuration read for {}", config.domain),
        Err(e) => {
            paypal_auth_vm::error!("boot", "configuration: {e}");
            std::process::exit(2);
        }
    }
}
