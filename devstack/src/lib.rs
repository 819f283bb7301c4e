//! Local stand-ins for PayPal and OCI, and the demo launcher.
//!
//! This crate is never a (normal) dependency of the service: the measured binary contains no
//! test doubles. The service's integration tests use it as a dev-dependency.
#![forbid(unsafe_code)]

pub mod browser;
pub mod demo;
pub mod oci;
pub mod paypal;
pub mod pebble;
pub mod service;
