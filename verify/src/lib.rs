//! The PayPal Auth VM verifier: offline checks of pages and SEV-SNP reports.
#![forbid(unsafe_code)]

pub use paypal_auth_evidence as evidence;
