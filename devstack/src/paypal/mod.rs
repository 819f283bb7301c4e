//! A PayPal stand-in as strict as the real service (research/paypal.md §6): authorize with a
//! consent page, the token endpoint with Basic auth and single-use 180-second codes, userinfo
//! with Bearer tokens, the documented error bodies, fault injection and a request log.

mod server;
pub mod state;

pub use server::PaypalStandIn;
pub use state::{Client, Fault, LoggedRequest, Toggles, User};
