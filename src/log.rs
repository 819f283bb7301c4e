//! Console logging: one line per event on stderr (the serial console in the VM).
//!
//! Lines never carry secrets: the types that hold secrets ([`crate::secret::Secret`]) print as
//! `[redacted]`, and callers log error kinds and PayPal's debug ids, not bodies or tokens.

use std::fmt::Arguments;
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Severity of a log line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Normal progress.
    Info,
    /// Something failed but the service carries on.
    Warn,
    /// Something failed that an operator must look at.
    Error,
}

/// Writes one log line. Use the [`info!`](crate::info), [`warn!`](crate::warn) and
/// [`error!`](crate::error) macros rather than calling this.
pub fn write(level: Level, component: &str, args: Arguments<'_>) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let level = match level {
        Level::Info => "INFO",
        Level::Warn => "WARN",
        Level::Error => "ERROR",
    };
    let line = format!("{}.{:03} {level} {component}: {args}\n", now.as_secs(), now.subsec_millis());
    // A console that cannot be written to must not take the service down.
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// Logs at [`Level::Info`]: `info!("component", "format", args…)`.
#[macro_export]
macro_rules! info {
    ($component:expr, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Info, $component, format_args!($($arg)+)) };
}

/// Logs at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($component:expr, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Warn, $component, format_args!($($arg)+)) };
}

/// Logs at [`Level::Error`].
#[macro_export]
macro_rules! error {
    ($component:expr, $($arg:tt)+) => { $crate::log::write($crate::log::Level::Error, $component, format_args!($($arg)+)) };
}
