//! The `paypal-auth-vm` binary: `/init` in the image, an ordinary process in local runs.
#![forbid(unsafe_code)]

use paypal_auth_vm::net::http::Resolver;

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            paypal_auth_vm::error!("boot", "cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let resolver = Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new());
    match runtime.block_on(paypal_auth_vm::boot::run(resolver)) {
        Ok(()) => {}
        Err(e) => {
            paypal_auth_vm::error!("boot", "{e}");
            std::process::exit(1);
        }
    }
}
