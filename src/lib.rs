//! PayPal Auth VM: the service that runs as `/init` inside an AMD SEV-SNP confidential VM.
//!
//! One module per concern; the protocol cores ([`paypal::protocol`], [`web::login_state`],
//! [`accounts`]) do no I/O. The binary (`main.rs`) runs [`boot`]'s named steps.
// `unsafe` is denied everywhere except `sys`, the one small module of system-call wrappers
// that opts back in (a `forbid` could not be relaxed there).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod log;

pub mod accounts;
pub mod acme;
pub mod attest;
pub mod boot;
pub mod config;
pub mod crypto;
pub mod net;
pub mod oci;
pub mod paypal;
pub mod pid1;
pub mod secret;
pub mod serve;
pub mod signing;
pub mod sys;
pub mod tls;
pub mod web;
