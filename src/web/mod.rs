//! The web application: routes, pages, login state and rate limits. Transport (TCP, TLS,
//! timeouts) lives in [`crate::serve`].

pub mod app;
pub mod html;
pub mod login_state;
pub mod ratelimit;

pub use app::{App, AppParts};
