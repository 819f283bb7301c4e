//! The `paypal-auth-vm` binary: `/init` in the image, an ordinary process in local runs.
#![forbid(unsafe_code)]

use paypal_auth_vm::net::http::Resolver;

fn main() {
    // In the VM this is /init: mounts, console, network, signals; a no-op elsewhere. The guard
    // powers the VM off when main returns.
    let _init = paypal_auth_vm::pid1::Init::start_if_pid1();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            paypal_auth_vm::error!("boot", "cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    // The VM has no /etc/resolv.conf: as PID 1 use the DNS servers DHCP named.
    let resolver = if paypal_auth_vm::pid1::is_pid1() {
        Resolver::Custom(paypal_auth_vm::net::dns::lookup_fn())
    } else {
        Resolver::System(hyper_util::client::legacy::connect::dns::GaiResolver::new())
    };
    // SIGTERM/SIGINT (and SIGPWR as PID 1) end the service; as PID 1 the VM then powers off.
    let served = runtime.block_on(async {
        tokio::select! {
            result = paypal_auth_vm::boot::run(resolver) => result,
            () = paypal_auth_vm::pid1::shutdown_signal() => {
                paypal_auth_vm::info!("boot", "shutdown requested; stopping");
                Ok(())
            }
        }
    });
    match served {
        Ok(()) => {}
        Err(e) => {
            paypal_auth_vm::error!("boot", "{e}");
            std::process::exit(1);
        }
    }
}
