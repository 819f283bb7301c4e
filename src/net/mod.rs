//! Networking: the outbound HTTP client (and, in the VM, link setup, DHCP and DNS).

pub mod dhcp;
pub mod dns;
pub mod http;
pub mod link;
pub mod netlink;
