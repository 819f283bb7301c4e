//! Boot as a list of named steps, each logged with its duration and the time since the kernel
//! started (from `/proc/uptime`), so the serial log alone shows where boot time goes.

use std::fmt::Display;
use std::time::Instant;

/// Seconds since the kernel started, when `/proc` is mounted.
pub fn uptime() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/uptime").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

fn uptime_text() -> String {
    uptime().map_or_else(|| "?".to_string(), |u| format!("{u:.3}"))
}

/// Runs one named boot step and logs `boot step <name> ok|failed in <ms> ms (uptime <s> s)`.
/// The log line format is what the boot tests and `docs/image.md` read; keep it stable.
pub fn step<T, E: Display>(name: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let start = Instant::now();
    let result = f();
    let ms = start.elapsed().as_millis();
    match &result {
        Ok(_) => crate::info!("boot", "step {name} ok in {ms} ms (uptime {} s)", uptime_text()),
        Err(e) => crate::error!("boot", "step {name} failed in {ms} ms (uptime {} s): {e}", uptime_text()),
    }
    result
}

/// Logs a boot milestone that is not a step of its own (e.g. "listening on :443"), with the
/// uptime, in the same format family as [`step`].
pub fn milestone(name: &str) {
    crate::info!("boot", "milestone {name} (uptime {} s)", uptime_text());
}
