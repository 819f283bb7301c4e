//! Oracle Cloud (OCI) platform client: instance metadata (IMDS v2), instance-principal
//! federation, Vault secrets and Notifications, and the boot steps that use them.
//!
//! Protocol cores are I/O-free ([`signer`], the parsers in each module); the I/O goes through the
//! one outbound client, [`crate::net::http::HttpClient`]. See `docs/oci.md`.

pub mod signer;
