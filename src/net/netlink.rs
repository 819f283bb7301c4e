//! The few rtnetlink requests PID 1 sends (link up/MTU, IPv4 address, IPv4 route) and the
//! parsing of the kernel's acknowledgement. I/O-free: requests are built as bytes and
//! answers parsed from bytes; [`crate::net::link`] does the socket part.
//!
//! Layouts follow `linux/netlink.h` and `linux/rtnetlink.h` (native byte order, 4-byte
//! alignment of headers and attributes).

use std::net::Ipv4Addr;

const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWLINK: u16 = 16;
const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_REPLACE: u16 = 0x100;
const NLM_F_CREATE: u16 = 0x400;
const AF_INET: u8 = 2;
const IFF_UP: u32 = 0x1;
const IFLA_MTU: u16 = 4;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_BROADCAST: u16 = 4;
const IFA_CACHEINFO: u16 = 6;
const RTA_DST: u16 = 1;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_PREFSRC: u16 = 7;
const RT_TABLE_MAIN: u8 = 254;
/// `RTPROT_DHCP`: marks routes as installed by a DHCP client (visible in `ip route`).
const RTPROT_DHCP: u8 = 16;
const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RTN_UNICAST: u8 = 1;

/// Address lifetime meaning "forever" (`INFINITY_LIFE_TIME`).
pub const FOREVER: u32 = u32::MAX;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Builds one netlink request: header, fixed family header, then attributes.
struct Request {
    buf: Vec<u8>,
}

impl Request {
    fn new(kind: u16, flags: u16, seq: u32) -> Request {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // length, patched in finish()
        buf.extend_from_slice(&kind.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&seq.to_ne_bytes());
        buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: 0 lets the kernel fill it in
        Request { buf }
    }

    fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(b);
        self
    }

    fn attr(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = 4 + payload.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.buf.resize(align4(self.buf.len()), 0);
        self
    }

    fn finish(&mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&len.to_ne_bytes());
        std::mem::take(&mut self.buf)
    }
}

fn ifinfomsg(index: u32, flags: u32, change: u32) -> [u8; 16] {
    let mut m = [0u8; 16];
    // family (AF_UNSPEC), pad, type: zero
    m[4..8].copy_from_slice(&index.to_ne_bytes());
    m[8..12].copy_from_slice(&flags.to_ne_bytes());
    m[12..16].copy_from_slice(&change.to_ne_bytes());
    m
}

/// `RTM_NEWLINK`: set the interface administratively up, and optionally its MTU.
pub fn link_up(seq: u32, index: u32, mtu: Option<u32>) -> Vec<u8> {
    let mut r = Request::new(RTM_NEWLINK, 0, seq);
    r.bytes(&ifinfomsg(index, IFF_UP, IFF_UP));
    if let Some(mtu) = mtu {
        r.attr(IFLA_MTU, &mtu.to_ne_bytes());
    }
    r.finish()
}

/// An IPv4 address assignment with lifetimes (seconds; the kernel deletes the address, and the
/// routes through it, when the valid lifetime runs out, so an unrenewed lease cannot linger).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddressSpec {
    /// Interface index.
    pub index: u32,
    /// The address.
    pub address: Ipv4Addr,
    /// Prefix length of the subnet.
    pub prefix_len: u8,
    /// Valid lifetime in seconds ([`FOREVER`] for none).
    pub valid_secs: u32,
    /// Preferred lifetime in seconds.
    pub preferred_secs: u32,
}

/// `RTM_NEWADDR` with create+replace, so a renewal refreshes the lifetimes in place.
pub fn add_address(seq: u32, spec: &AddressSpec) -> Vec<u8> {
    let mut r = Request::new(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, seq);
    let mut ifa = [0u8; 8];
    ifa[0] = AF_INET;
    ifa[1] = spec.prefix_len;
    ifa[3] = RT_SCOPE_UNIVERSE;
    ifa[4..8].copy_from_slice(&spec.index.to_ne_bytes());
    r.bytes(&ifa);
    r.attr(IFA_LOCAL, &spec.address.octets());
    r.attr(IFA_ADDRESS, &spec.address.octets());
    if spec.prefix_len < 31 {
        let host_bits = 32 - u32::from(spec.prefix_len);
        let broadcast = u32::from(spec.address) | ((1u32 << host_bits) - 1);
        r.attr(IFA_BROADCAST, &broadcast.to_be_bytes());
    }
    let mut cache = [0u8; 16];
    cache[0..4].copy_from_slice(&spec.preferred_secs.to_ne_bytes());
    cache[4..8].copy_from_slice(&spec.valid_secs.to_ne_bytes());
    r.attr(IFA_CACHEINFO, &cache);
    r.finish()
}

/// An IPv4 route in the main table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// Output interface index.
    pub index: u32,
    /// Destination network (0.0.0.0/0 for the default route).
    pub destination: Ipv4Addr,
    /// Destination prefix length.
    pub prefix_len: u8,
    /// Next hop; `None` for a route straight onto the link.
    pub gateway: Option<Ipv4Addr>,
    /// Preferred source address (our leased address).
    pub source: Option<Ipv4Addr>,
}

/// `RTM_NEWROUTE` with create+replace (renewals re-send the same routes).
pub fn add_route(seq: u32, spec: &RouteSpec) -> Vec<u8> {
    let mut r = Request::new(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, seq);
    let scope = if spec.gateway.is_some() { RT_SCOPE_UNIVERSE } else { RT_SCOPE_LINK };
    let rtm = [AF_INET, spec.prefix_len, 0, 0, RT_TABLE_MAIN, RTPROT_DHCP, scope, RTN_UNICAST];
    r.bytes(&rtm).bytes(&0u32.to_ne_bytes());
    if spec.prefix_len > 0 {
        r.attr(RTA_DST, &spec.destination.octets());
    }
    if let Some(gw) = spec.gateway {
        r.attr(RTA_GATEWAY, &gw.octets());
    }
    if let Some(src) = spec.source {
        r.attr(RTA_PREFSRC, &src.octets());
    }
    r.attr(RTA_OIF, &spec.index.to_ne_bytes());
    r.finish()
}

/// What the kernel answered to a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The request with this sequence number succeeded.
    Ack(u32),
    /// The request with this sequence number failed with this (positive) errno.
    Error(u32, i32),
    /// A message that is not an answer to a request (ignore it).
    Other,
}

/// A datagram from the kernel that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed;

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("malformed netlink message from the kernel")
    }
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, Malformed> {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map(u32::from_ne_bytes).ok_or(Malformed)
}

/// Parses every message of one received datagram.
pub fn parse_answers(datagram: &[u8]) -> Result<Vec<Answer>, Malformed> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDRLEN <= datagram.len() {
        let len = u32_at(datagram, at)? as usize;
        if len < NLMSG_HDRLEN || at + len > datagram.len() {
            return Err(Malformed);
        }
        let kind = u16::from_ne_bytes([datagram[at + 4], datagram[at + 5]]);
        let seq = u32_at(datagram, at + 8)?;
        out.push(match kind {
            NLMSG_ERROR => {
                let code = u32_at(datagram, at + NLMSG_HDRLEN)? as i32;
                if code == 0 {
                    Answer::Ack(seq)
                } else {
                    Answer::Error(seq, code.saturating_neg())
                }
            }
            NLMSG_DONE => Answer::Ack(seq),
            _ => Answer::Other,
        });
        at += align4(len);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_up_layout() {
        let m = link_up(7, 2, Some(9000));
        assert_eq!(m.len(), 16 + 16 + 8);
        assert_eq!(u32::from_ne_bytes(m[0..4].try_into().unwrap()) as usize, m.len());
        assert_eq!(u16::from_ne_bytes([m[4], m[5]]), RTM_NEWLINK);
        assert_eq!(u16::from_ne_bytes([m[6], m[7]]), NLM_F_REQUEST | NLM_F_ACK);
        assert_eq!(u32::from_ne_bytes(m[8..12].try_into().unwrap()), 7);
        assert_eq!(u32::from_ne_bytes(m[20..24].try_into().unwrap()), 2); // ifi_index
        assert_eq!(u32::from_ne_bytes(m[24..28].try_into().unwrap()), IFF_UP);
        assert_eq!(u16::from_ne_bytes([m[34], m[35]]), IFLA_MTU);
        assert_eq!(u32::from_ne_bytes(m[36..40].try_into().unwrap()), 9000);
    }

    #[test]
    fn address_has_broadcast_and_lifetimes() {
        let spec = AddressSpec {
            index: 2,
            address: Ipv4Addr::new(10, 0, 1, 50),
            prefix_len: 24,
            valid_secs: 3600,
            preferred_secs: 3600,
        };
        let m = add_address(1, &spec);
        // header 16 + ifaddrmsg 8 + 3 address attrs of 8 + cacheinfo 20
        assert_eq!(m.len(), 16 + 8 + 24 + 20);
        assert_eq!(m[17], 24);
        let brd = &m[16 + 8 + 16 + 4..16 + 8 + 16 + 8];
        assert_eq!(brd, &[10, 0, 1, 255]);
    }

    #[test]
    fn default_route_has_no_destination() {
        let spec = RouteSpec {
            index: 2,
            destination: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            gateway: Some(Ipv4Addr::new(10, 0, 1, 1)),
            source: None,
        };
        let m = add_route(3, &spec);
        assert_eq!(m.len(), 16 + 12 + 8 + 8);
        assert_eq!(&m[16..24], &[AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_DHCP, RT_SCOPE_UNIVERSE, RTN_UNICAST]);
    }

    #[test]
    fn parses_ack_and_error() {
        let mut d = Vec::new();
        for (seq, code) in [(5u32, 0i32), (6, -17)] {
            d.extend_from_slice(&36u32.to_ne_bytes());
            d.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
            d.extend_from_slice(&0u16.to_ne_bytes());
            d.extend_from_slice(&seq.to_ne_bytes());
            d.extend_from_slice(&0u32.to_ne_bytes());
            d.extend_from_slice(&code.to_ne_bytes());
            d.extend_from_slice(&[0u8; 16]);
        }
        assert_eq!(parse_answers(&d), Ok(vec![Answer::Ack(5), Answer::Error(6, 17)]));
        assert_eq!(parse_answers(&d[..30]), Err(Malformed));
    }
}
