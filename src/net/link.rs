//! Network links in the VM: bring up loopback and the NIC, and apply a DHCP lease (address,
//! routes, MTU) through rtnetlink. Requests are built by [`crate::net::netlink`].
//!
//! Interfaces are discovered through sysfs (`/sys/class/net/<name>/{ifindex,type,address}`),
//! which PID 1 mounts before this runs; that avoids parsing netlink link dumps.

use crate::net::netlink::{self, AddressSpec, Answer, RouteSpec};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};

/// `ARPHRD_ETHER`, the sysfs `type` of an Ethernet-like NIC (virtio-net included).
const ARPHRD_ETHER: u32 = 1;

/// A network interface found in sysfs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name (`eth0`).
    pub name: String,
    /// Interface index.
    pub index: u32,
    /// Hardware (MAC) address.
    pub mac: [u8; 6],
}

/// What went wrong while configuring links.
#[derive(Debug)]
pub enum LinkError {
    /// sysfs could not be read.
    Sysfs(io::Error),
    /// No Ethernet interface exists (no virtio-net device, or its driver is missing).
    NoNic,
    /// The netlink socket failed.
    Socket(io::Error),
    /// The kernel rejected a request (what, errno).
    Rejected(&'static str, i32),
    /// The kernel sent something unparsable.
    Malformed,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Sysfs(e) => write!(f, "reading /sys/class/net: {e}"),
            LinkError::NoNic => f.write_str("no Ethernet interface found"),
            LinkError::Socket(e) => write!(f, "netlink socket: {e}"),
            LinkError::Rejected(what, errno) => {
                write!(f, "kernel rejected {what}: {}", io::Error::from_raw_os_error(*errno))
            }
            LinkError::Malformed => f.write_str("malformed netlink answer"),
        }
    }
}

impl std::error::Error for LinkError {}

fn read_sys(name: &str, file: &str) -> io::Result<String> {
    Ok(std::fs::read_to_string(format!("/sys/class/net/{name}/{file}"))?.trim().to_string())
}

/// Parses `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

/// Index of the loopback interface (always 1 on Linux, read anyway).
fn loopback_index() -> Result<u32, LinkError> {
    read_sys("lo", "ifindex").map_err(LinkError::Sysfs)?.parse().map_err(|_| LinkError::Malformed)
}

/// The first Ethernet interface by name order (the VM has exactly one NIC).
pub fn find_nic() -> Result<Interface, LinkError> {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .map_err(LinkError::Sysfs)?
        .filter_map(|e| e.ok().and_then(|e| e.file_name().into_string().ok()))
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    for name in names {
        let kind: Option<u32> = read_sys(&name, "type").ok().and_then(|t| t.parse().ok());
        if kind != Some(ARPHRD_ETHER) {
            continue;
        }
        let index = read_sys(&name, "ifindex").map_err(LinkError::Sysfs)?.parse().map_err(|_| LinkError::Malformed)?;
        let mac = read_sys(&name, "address").ok().and_then(|a| parse_mac(&a)).ok_or(LinkError::Malformed)?;
        return Ok(Interface { name, index, mac });
    }
    Err(LinkError::NoNic)
}

static SEQ: AtomicU32 = AtomicU32::new(1);

/// Sends one request and waits for its acknowledgement.
fn request(what: &'static str, build: impl FnOnce(u32) -> Vec<u8>) -> Result<(), LinkError> {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let mut socket: File = crate::sys::netlink_route_socket().map_err(LinkError::Socket)?;
    socket.write_all(&build(seq)).map_err(LinkError::Socket)?;
    let mut buf = vec![0u8; 8192];
    loop {
        let n = socket.read(&mut buf).map_err(LinkError::Socket)?;
        for answer in netlink::parse_answers(&buf[..n]).map_err(|_| LinkError::Malformed)? {
            match answer {
                Answer::Ack(s) if s == seq => return Ok(()),
                Answer::Error(s, errno) if s == seq => return Err(LinkError::Rejected(what, errno)),
                _ => {}
            }
        }
    }
}

/// Brings the loopback interface up (the kernel gives it 127.0.0.1 and ::1 once it is up).
pub fn loopback_up() -> Result<(), LinkError> {
    let index = loopback_index()?;
    request("loopback up", |seq| netlink::link_up(seq, index, None))
}

/// Brings a NIC up, optionally setting its MTU.
pub fn nic_up(nic: &Interface, mtu: Option<u32>) -> Result<(), LinkError> {
    request("link up", |seq| netlink::link_up(seq, nic.index, mtu))
}

/// What a DHCP lease asks to configure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Our address.
    pub address: Ipv4Addr,
    /// Subnet prefix length.
    pub prefix_len: u8,
    /// Lease time in seconds (the address's valid lifetime).
    pub lease_secs: u32,
    /// Static routes (destination, prefix, gateway); a 0.0.0.0/0 entry is the default route.
    pub routes: Vec<(Ipv4Addr, u8, Ipv4Addr)>,
    /// Interface MTU, when the server sets one.
    pub mtu: Option<u32>,
}

/// Applies a lease: MTU, address (with the lease as its lifetime), then routes. Re-applying the
/// same lease on renewal refreshes the lifetimes.
pub fn apply(nic: &Interface, config: &LinkConfig) -> Result<(), LinkError> {
    if config.mtu.is_some() {
        nic_up(nic, config.mtu)?;
    }
    let spec = AddressSpec {
        index: nic.index,
        address: config.address,
        prefix_len: config.prefix_len,
        valid_secs: config.lease_secs,
        preferred_secs: config.lease_secs,
    };
    request("address", |seq| netlink::add_address(seq, &spec))?;
    let subnet = crate::net::dhcp::network_of(config.address, config.prefix_len);
    for &(destination, prefix_len, gateway) in &config.routes {
        // A gateway outside our subnet (e.g. a /32 lease) is reachable only through an
        // on-link host route, which must exist before the route through it.
        if crate::net::dhcp::network_of(gateway, config.prefix_len) != subnet {
            let onlink = RouteSpec { index: nic.index, destination: gateway, prefix_len: 32, gateway: None, source: Some(config.address) };
            request("on-link route to gateway", |seq| netlink::add_route(seq, &onlink))?;
        }
        let route = RouteSpec { index: nic.index, destination, prefix_len, gateway: Some(gateway), source: Some(config.address) };
        request("route", |seq| netlink::add_route(seq, &route))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mac() {
        assert_eq!(parse_mac("52:54:00:12:34:56"), Some([0x52, 0x54, 0, 0x12, 0x34, 0x56]));
        assert_eq!(parse_mac("52:54:00:12:34"), None);
        assert_eq!(parse_mac("52:54:00:12:34:56:78"), None);
        assert_eq!(parse_mac("zz:54:00:12:34:56"), None);
    }
}
