//! The `paypal-auth-vm` binary: `/init` in the image, an ordinary process in local runs.
#![forbid(unsafe_code)]

fn main() {
    match paypal_auth_vm::config::Config::from_env() {
        Ok(config) => paypal_auth_vm::info!("boot", "configuration read for {}", config.domain),
        Err(e) => {
            paypal_auth_vm::error!("boot", "configuration: {e}");
            std::process::exit(2);
        }
    }
}
