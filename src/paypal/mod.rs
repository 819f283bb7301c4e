//! Log in with PayPal: the authorization-code flow against PayPal's real endpoints.
//!
//! [`protocol`] is the I/O-free core (URLs, request bodies, response classification) and is
//! what the fuzz targets and unit tests exercise; [`client`] sends the two server-side calls.

pub mod client;
pub mod protocol;

pub use client::PaypalClient;
pub use protocol::{PaypalError, UserInfo};
