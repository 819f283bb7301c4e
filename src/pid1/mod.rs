//! PID-1 duties, for when the binary is `/init` in the VM: kernel file systems, console, limits,
//! network (loopback, DHCP, DNS), clock sanity, shutdown on SIGTERM/SIGINT/SIGPWR, and a panic
//! hook that reboots. PID 1 must never return or exit (the kernel would panic), so every way
//! out ends in a clean power-off or restart.
//!
//! Use: call [`Init::start_if_pid1`] first thing in `main` and keep the guard until `main`
//! ends. When the process is not PID 1 (local runs, tests) nothing here happens.

pub mod clock;
pub mod network;
pub mod steps;

use crate::sys::{self, Halt, MountFlags};
use std::io;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::watch;

/// True when this process is the VM's init.
pub fn is_pid1() -> bool {
    std::process::id() == 1
}

/// How long the service gets after a shutdown signal before the VM powers off regardless.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Pause before restarting after a fatal error, so a persistent fault does not become a hot
/// reboot loop and the console line stays readable.
const FATAL_PAUSE: Duration = Duration::from_secs(10);

/// Set once a shutdown signal arrived (PID 1 only).
static SHUTDOWN: OnceLock<watch::Sender<bool>> = OnceLock::new();

fn shutdown_sender() -> &'static watch::Sender<bool> {
    SHUTDOWN.get_or_init(|| watch::channel(false).0)
}

/// Completes when the service should shut down gracefully: in the VM when PID 1 got
/// SIGTERM/SIGINT/SIGPWR, elsewhere on SIGTERM or Ctrl-C. Pass it to the servers' graceful
/// shutdown; after [`SHUTDOWN_GRACE`] the VM powers off anyway.
pub async fn shutdown_signal() {
    if is_pid1() {
        let mut rx = shutdown_sender().subscribe();
        // An error means the sender is gone, which cannot happen for a static; treat as shutdown.
        let _ = rx.wait_for(|&down| down).await;
        return;
    }
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Logs a fatal boot error and restarts the VM.
pub fn fatal(what: &str, error: &dyn std::fmt::Display) -> ! {
    crate::error!("init", "fatal: {what}: {error}; restarting in {} s", FATAL_PAUSE.as_secs());
    std::thread::sleep(FATAL_PAUSE);
    sys::halt(Halt::Restart)
}

/// The PID-1 guard: while it lives the VM runs; dropping it (the service's `main` returned)
/// powers the VM off.
#[must_use = "dropping the guard powers the VM off"]
pub struct Init {
    _private: (),
}

impl Init {
    /// Does the PID-1 boot steps when this process is PID 1; returns `None` otherwise.
    /// Must be called before any thread or async runtime is started (signal masks are
    /// inherited by threads).
    pub fn start_if_pid1() -> Option<Init> {
        if !is_pid1() {
            return None;
        }
        crate::info!("boot", "paypal-auth-vm {} starting as PID 1", env!("CARGO_PKG_VERSION"));
        install_exit_paths();
        if let Err(e) = steps::step("mounts", mount_kernel_filesystems) {
            fatal("mounting kernel file systems", &e);
        }
        if let Err(e) = steps::step("console", attach_console) {
            // Logging goes to whatever the kernel gave us; not fatal.
            crate::warn!("init", "console: {e}");
        }
        if let Err(e) = steps::step("limits", || sys::set_nofile_limit(65_536)) {
            crate::warn!("init", "raising the open-file limit: {e}");
        }
        if let Err(e) = steps::step("signals", start_signal_thread) {
            fatal("installing the shutdown signal handler", &e);
        }
        if let Err(e) = steps::step("loopback", network::loopback) {
            fatal("bringing up loopback", &e);
        }
        match steps::step("dhcp", network::dhcp) {
            Ok(dhcp) => {
                if let Err(e) = dhcp.spawn_renewal() {
                    fatal("starting the DHCP renewal thread", &e);
                }
            }
            Err(e) => fatal("network", &e),
        }
        if let Err(e) = steps::step("clock", wait_for_sane_clock) {
            fatal("clock", &e);
        }
        Some(Init { _private: () })
    }
}

impl Drop for Init {
    fn drop(&mut self) {
        crate::info!("init", "service stopped; powering off");
        sys::halt(Halt::PowerOff)
    }
}

extern "C" fn on_exit() {
    // `std::process::exit` from the service: a fatal error it already logged.
    crate::error!("init", "service exited; restarting in {} s", FATAL_PAUSE.as_secs());
    std::thread::sleep(FATAL_PAUSE);
    sys::halt(Halt::Restart)
}

fn install_exit_paths() {
    std::panic::set_hook(Box::new(|info| {
        // One line, whatever the payload holds, so the reason is greppable on the console.
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic payload".to_string());
        let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        crate::error!("init", "panic: {}{location}; restarting", payload.replace('\n', " "));
        sys::halt(Halt::Restart)
    }));
    if let Err(e) = sys::at_exit(on_exit) {
        crate::warn!("init", "registering the exit handler: {e}");
    }
}

/// Kernel file systems: devtmpfs (device nodes, `/dev/sev-guest`), proc, sysfs, tmpfs on /run
/// and configfs (the TSM attestation report interface at /sys/kernel/config/tsm/report).
fn mount_kernel_filesystems() -> io::Result<()> {
    let strict = MountFlags { nosuid: true, nodev: true, noexec: true };
    let table: [(&str, &str, &str, MountFlags, Option<&str>); 5] = [
        ("devtmpfs", "/dev", "devtmpfs", MountFlags { nosuid: true, noexec: true, nodev: false }, Some("mode=0755")),
        ("proc", "/proc", "proc", strict, None),
        ("sysfs", "/sys", "sysfs", strict, None),
        ("tmpfs", "/run", "tmpfs", strict, Some("mode=0755,size=16m")),
        ("configfs", "/sys/kernel/config", "configfs", strict, None),
    ];
    for (source, target, fstype, flags, data) in table {
        std::fs::create_dir_all(target)?;
        match sys::mount(source, target, fstype, flags, data) {
            Ok(()) => {}
            // Already mounted (e.g. CONFIG_DEVTMPFS_MOUNT on a future kernel): fine.
            Err(e) if e.raw_os_error() == Some(16) => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("mounting {fstype} on {target}: {e}"))),
        }
    }
    Ok(())
}

/// Re-opens stdio on /dev/console (now from devtmpfs), in case the kernel started us without it.
fn attach_console() -> io::Result<()> {
    let console = std::fs::OpenOptions::new().read(true).write(true).open("/dev/console")?;
    sys::redirect_stdio(&console)
}

fn start_signal_thread() -> io::Result<()> {
    sys::block_shutdown_signals()?;
    std::thread::Builder::new().name("signals".into()).spawn(|| {
        let signal = match sys::wait_shutdown_signal() {
            Ok(s) => s,
            Err(e) => {
                crate::error!("init", "waiting for signals failed: {e}; shutdown signals are lost");
                return;
            }
        };
        crate::info!("init", "{signal:?} received; shutting down (power off in at most {} s)", SHUTDOWN_GRACE.as_secs());
        shutdown_sender().send_replace(true);
        std::thread::sleep(SHUTDOWN_GRACE);
        crate::warn!("init", "service did not stop within {} s; powering off", SHUTDOWN_GRACE.as_secs());
        sys::halt(Halt::PowerOff)
    })?;
    Ok(())
}

/// Waits up to 10 s for the clock to look sane (a hypervisor may set it a moment late).
fn wait_for_sane_clock() -> Result<(), clock::ClockError> {
    let mut last = clock::check();
    for _ in 0..10 {
        if last.is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
        last = clock::check();
    }
    last.map(|_| ())
}
