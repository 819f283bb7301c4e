//! DHCPv4 client protocol (RFC 2131/2132, classless routes RFC 3442), I/O-free: functions build
//! the client's messages as bytes and turn the server's bytes into decisions ([`Reply`],
//! [`Lease`]). The socket loop lives in [`crate::pid1::network`].

use std::net::Ipv4Addr;
use std::time::Duration;

const OP_REQUEST: u8 = 1;
const OP_REPLY: u8 = 2;
const HTYPE_ETHER: u8 = 1;
const MAGIC: [u8; 4] = [99, 130, 83, 99];
/// Fixed BOOTP part (236 bytes) plus the magic cookie.
const FIXED_LEN: usize = 240;
/// Ask servers to broadcast their replies: before we have an address, the kernel would drop a
/// unicast to the offered address (RFC 2131 §4.1).
const FLAG_BROADCAST: u16 = 0x8000;
/// Smallest message BOOTP relays and some servers accept (RFC 1542 §2.1).
const MIN_MESSAGE: usize = 300;

const OPT_PAD: u8 = 0;
const OPT_SUBNET_MASK: u8 = 1;
const OPT_ROUTER: u8 = 3;
const OPT_DNS: u8 = 6;
const OPT_MTU: u8 = 26;
const OPT_REQUESTED_IP: u8 = 50;
const OPT_LEASE_TIME: u8 = 51;
const OPT_MESSAGE_TYPE: u8 = 53;
const OPT_SERVER_ID: u8 = 54;
const OPT_PARAMS: u8 = 55;
const OPT_MAX_SIZE: u8 = 57;
const OPT_T1: u8 = 58;
const OPT_T2: u8 = 59;
const OPT_CLIENT_ID: u8 = 61;
const OPT_CLASSLESS_ROUTES: u8 = 121;
const OPT_END: u8 = 255;

/// DHCP message types (option 53).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageType {
    /// DHCPDISCOVER
    Discover = 1,
    /// DHCPOFFER
    Offer = 2,
    /// DHCPREQUEST
    Request = 3,
    /// DHCPDECLINE
    Decline = 4,
    /// DHCPACK
    Ack = 5,
    /// DHCPNAK
    Nak = 6,
    /// DHCPRELEASE
    Release = 7,
}

impl MessageType {
    fn from_u8(v: u8) -> Option<MessageType> {
        Some(match v {
            1 => MessageType::Discover,
            2 => MessageType::Offer,
            3 => MessageType::Request,
            4 => MessageType::Decline,
            5 => MessageType::Ack,
            6 => MessageType::Nak,
            7 => MessageType::Release,
            _ => return None,
        })
    }
}

/// Why a server message was not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DhcpError {
    /// Shorter than the fixed header, or an option runs past the end.
    Truncated,
    /// Not a BOOTP reply for Ethernet, or the magic cookie is wrong.
    NotDhcpReply,
    /// No or unknown message type option.
    NoMessageType,
    /// An ACK without a usable address / subnet mask / server id / lease time.
    Incomplete(&'static str),
}

impl std::fmt::Display for DhcpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DhcpError::Truncated => f.write_str("truncated DHCP message"),
            DhcpError::NotDhcpReply => f.write_str("not a DHCP reply"),
            DhcpError::NoMessageType => f.write_str("DHCP message without a valid type"),
            DhcpError::Incomplete(what) => write!(f, "DHCP lease without a usable {what}"),
        }
    }
}

impl std::error::Error for DhcpError {}

/// A parsed server message: the fields a client uses, options kept raw by code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Transaction id.
    pub xid: u32,
    /// Client hardware address the reply is for.
    pub chaddr: [u8; 6],
    /// "Your" address: what the server offers/assigns.
    pub yiaddr: Ipv4Addr,
    /// Message type.
    pub kind: MessageType,
    /// Options (code, value), in order; the last one of a code wins when looked up.
    pub options: Vec<(u8, Vec<u8>)>,
}

impl Message {
    fn option(&self, code: u8) -> Option<&[u8]> {
        self.options.iter().rev().find(|(c, _)| *c == code).map(|(_, v)| v.as_slice())
    }

    fn addr(&self, code: u8) -> Option<Ipv4Addr> {
        let v: [u8; 4] = self.option(code)?.get(..4)?.try_into().ok()?;
        Some(Ipv4Addr::from(v))
    }

    fn addrs(&self, code: u8) -> Vec<Ipv4Addr> {
        self.option(code).map_or_else(Vec::new, |v| v.chunks_exact(4).map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3])).collect())
    }

    fn secs(&self, code: u8) -> Option<u32> {
        Some(u32::from_be_bytes(self.option(code)?.get(..4)?.try_into().ok()?))
    }
}

/// Parses a server message (anything arriving on port 68).
pub fn parse(bytes: &[u8]) -> Result<Message, DhcpError> {
    if bytes.len() < FIXED_LEN {
        return Err(DhcpError::Truncated);
    }
    if bytes[0] != OP_REPLY || bytes[1] != HTYPE_ETHER || bytes[2] != 6 || bytes[236..240] != MAGIC {
        return Err(DhcpError::NotDhcpReply);
    }
    let xid = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    let yiaddr = Ipv4Addr::new(bytes[16], bytes[17], bytes[18], bytes[19]);
    let mut chaddr = [0u8; 6];
    chaddr.copy_from_slice(&bytes[28..34]);
    let mut options = Vec::new();
    let mut at = FIXED_LEN;
    while at < bytes.len() {
        let code = bytes[at];
        match code {
            OPT_PAD => at += 1,
            OPT_END => break,
            _ => {
                let len = *bytes.get(at + 1).ok_or(DhcpError::Truncated)? as usize;
                let value = bytes.get(at + 2..at + 2 + len).ok_or(DhcpError::Truncated)?;
                options.push((code, value.to_vec()));
                at += 2 + len;
            }
        }
    }
    let kind = options
        .iter()
        .rev()
        .find(|(c, _)| *c == OPT_MESSAGE_TYPE)
        .and_then(|(_, v)| v.first().copied())
        .and_then(MessageType::from_u8)
        .ok_or(DhcpError::NoMessageType)?;
    Ok(Message { xid, chaddr, yiaddr, kind, options })
}

/// How a request is addressed and what it carries, per RFC 2131 table 5.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Answering an offer: requested address + server id, broadcast.
    Selecting {
        /// The offered address.
        address: Ipv4Addr,
        /// The offering server.
        server: Ipv4Addr,
    },
    /// Renewing (T1) with the leasing server (unicast) or rebinding (T2) with any (broadcast):
    /// our address goes in `ciaddr`.
    Extending {
        /// Our current address.
        address: Ipv4Addr,
    },
}

fn message(kind: MessageType, mac: [u8; 6], xid: u32, ciaddr: Ipv4Addr, broadcast: bool) -> Vec<u8> {
    let mut m = vec![0u8; FIXED_LEN];
    m[0] = OP_REQUEST;
    m[1] = HTYPE_ETHER;
    m[2] = 6;
    m[4..8].copy_from_slice(&xid.to_be_bytes());
    if broadcast {
        m[10..12].copy_from_slice(&FLAG_BROADCAST.to_be_bytes());
    }
    m[12..16].copy_from_slice(&ciaddr.octets());
    m[28..34].copy_from_slice(&mac);
    m[236..240].copy_from_slice(&MAGIC);
    m.extend_from_slice(&[OPT_MESSAGE_TYPE, 1, kind as u8]);
    let mut client_id = vec![OPT_CLIENT_ID, 7, HTYPE_ETHER];
    client_id.extend_from_slice(&mac);
    m.extend_from_slice(&client_id);
    m.extend_from_slice(&[OPT_MAX_SIZE, 2, 0x05, 0xdc]); // 1500
    m.extend_from_slice(&[
        OPT_PARAMS, 8, OPT_SUBNET_MASK, OPT_ROUTER, OPT_DNS, OPT_MTU, OPT_LEASE_TIME, OPT_T1, OPT_T2, OPT_CLASSLESS_ROUTES,
    ]);
    m
}

fn finish(mut m: Vec<u8>) -> Vec<u8> {
    m.push(OPT_END);
    if m.len() < MIN_MESSAGE {
        m.resize(MIN_MESSAGE, OPT_PAD);
    }
    m
}

/// DHCPDISCOVER.
pub fn discover(mac: [u8; 6], xid: u32) -> Vec<u8> {
    finish(message(MessageType::Discover, mac, xid, Ipv4Addr::UNSPECIFIED, true))
}

/// DHCPREQUEST.
pub fn request(mac: [u8; 6], xid: u32, kind: RequestKind) -> Vec<u8> {
    match kind {
        RequestKind::Selecting { address, server } => {
            let mut m = message(MessageType::Request, mac, xid, Ipv4Addr::UNSPECIFIED, true);
            m.extend_from_slice(&[OPT_REQUESTED_IP, 4]);
            m.extend_from_slice(&address.octets());
            m.extend_from_slice(&[OPT_SERVER_ID, 4]);
            m.extend_from_slice(&server.octets());
            finish(m)
        }
        RequestKind::Extending { address } => finish(message(MessageType::Request, mac, xid, address, false)),
    }
}

/// An offer worth requesting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offer {
    /// Offered address.
    pub address: Ipv4Addr,
    /// The server that offered it (option 54).
    pub server: Ipv4Addr,
}

/// What a reply means for a client waiting on transaction `xid`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Not for us (other xid or MAC), or not the kind we wait for: keep waiting.
    Ignore,
    /// An offer (while selecting).
    Offer(Offer),
    /// The server assigned or extended a lease.
    Ack(Lease),
    /// The server refused: start over with DISCOVER.
    Nak,
}

/// Judges a parsed message for a client with this MAC waiting on `xid`.
pub fn classify(msg: &Message, mac: [u8; 6], xid: u32) -> Result<Reply, DhcpError> {
    if msg.xid != xid || msg.chaddr != mac {
        return Ok(Reply::Ignore);
    }
    match msg.kind {
        MessageType::Offer => {
            let server = msg.addr(OPT_SERVER_ID).ok_or(DhcpError::Incomplete("server id"))?;
            if msg.yiaddr.is_unspecified() {
                return Err(DhcpError::Incomplete("address"));
            }
            Ok(Reply::Offer(Offer { address: msg.yiaddr, server }))
        }
        MessageType::Ack => Lease::from_ack(msg).map(Reply::Ack),
        MessageType::Nak => Ok(Reply::Nak),
        _ => Ok(Reply::Ignore),
    }
}

/// A lease: everything the ACK told us to configure, plus the renewal schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// Our address.
    pub address: Ipv4Addr,
    /// Subnet prefix length (from the subnet mask).
    pub prefix_len: u8,
    /// Server that granted it (renewals go there).
    pub server: Ipv4Addr,
    /// Routes (destination, prefix length, gateway); classless routes if the server sent them,
    /// else a default route through the first router.
    pub routes: Vec<(Ipv4Addr, u8, Ipv4Addr)>,
    /// DNS servers.
    pub dns: Vec<Ipv4Addr>,
    /// Interface MTU, if sent and sane.
    pub mtu: Option<u32>,
    /// Lease duration.
    pub lease: Duration,
    /// When to start renewing (T1), from the ACK.
    pub renew_after: Duration,
    /// When to start rebinding (T2), from the ACK.
    pub rebind_after: Duration,
}

/// Network address of `addr` under a prefix length.
pub fn network_of(addr: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let mask = if prefix_len == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix_len.min(32))) };
    Ipv4Addr::from(u32::from(addr) & mask)
}

fn prefix_of_mask(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let len = m.leading_ones();
    (m.checked_shl(len).unwrap_or(0) == 0).then_some(len as u8)
}

/// Decodes option 121 (RFC 3442): width byte, significant destination bytes, router.
fn classless_routes(v: &[u8]) -> Option<Vec<(Ipv4Addr, u8, Ipv4Addr)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < v.len() {
        let width = v[at];
        if width > 32 {
            return None;
        }
        let significant = usize::from(width).div_ceil(8);
        let dst = v.get(at + 1..at + 1 + significant)?;
        let gw = v.get(at + 1 + significant..at + 5 + significant)?;
        let mut d = [0u8; 4];
        d[..significant].copy_from_slice(dst);
        out.push((Ipv4Addr::from(d), width, Ipv4Addr::new(gw[0], gw[1], gw[2], gw[3])));
        at += 5 + significant;
    }
    Some(out)
}

impl Lease {
    /// Builds a lease from a DHCPACK.
    pub fn from_ack(msg: &Message) -> Result<Lease, DhcpError> {
        if msg.yiaddr.is_unspecified() || msg.yiaddr.is_broadcast() || msg.yiaddr.is_multicast() {
            return Err(DhcpError::Incomplete("address"));
        }
        let prefix_len = msg
            .addr(OPT_SUBNET_MASK)
            .and_then(prefix_of_mask)
            .filter(|&p| (1..=32).contains(&p))
            .ok_or(DhcpError::Incomplete("subnet mask"))?;
        let server = msg.addr(OPT_SERVER_ID).ok_or(DhcpError::Incomplete("server id"))?;
        let lease_secs = msg.secs(OPT_LEASE_TIME).ok_or(DhcpError::Incomplete("lease time"))?;
        // Bound the lease so that timers stay meaningful: at least a minute, at most a year
        // (0xffffffff means "infinite"; renewing yearly is harmless).
        let lease_secs = lease_secs.clamp(60, 365 * 86_400);
        let t1 = msg.secs(OPT_T1).filter(|&t| t < lease_secs).unwrap_or(lease_secs / 2);
        let t2 = msg.secs(OPT_T2).filter(|&t| t > t1 && t < lease_secs).unwrap_or(lease_secs / 8 * 7);
        let routes = match msg.option(OPT_CLASSLESS_ROUTES).and_then(classless_routes) {
            // RFC 3442: with classless routes present, the router option is ignored.
            Some(routes) if !routes.is_empty() => routes,
            _ => msg.addrs(OPT_ROUTER).first().map(|&gw| vec![(Ipv4Addr::UNSPECIFIED, 0, gw)]).unwrap_or_default(),
        };
        let mtu = msg
            .option(OPT_MTU)
            .and_then(|v| v.get(..2))
            .map(|v| u32::from(u16::from_be_bytes([v[0], v[1]])))
            .filter(|&m| (576..=9000).contains(&m));
        Ok(Lease {
            address: msg.yiaddr,
            prefix_len,
            server,
            routes,
            dns: msg.addrs(OPT_DNS).into_iter().filter(|a| !a.is_unspecified()).collect(),
            mtu,
            lease: Duration::from_secs(lease_secs.into()),
            renew_after: Duration::from_secs(t1.into()),
            rebind_after: Duration::from_secs(t2.into()),
        })
    }
}

/// Retransmission delay for attempt `n` (0-based): 1, 2, 4, … 64 s. RFC 2131 §4.1 starts at
/// 4 s; starting at 1 s keeps boot fast when the first DISCOVER goes out before the link is
/// ready, and one client per VM cannot cause a thundering herd (so no random jitter either).
pub fn retransmit_delay(attempt: u32) -> Duration {
    Duration::from_secs(1u64 << attempt.min(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x52, 0x54, 0, 0x12, 0x34, 0x56];

    /// A server reply as QEMU's slirp or dnsmasq would send it.
    fn reply(kind: MessageType, xid: u32, yiaddr: [u8; 4], options: &[(u8, &[u8])]) -> Vec<u8> {
        let mut m = vec![0u8; FIXED_LEN];
        m[0] = OP_REPLY;
        m[1] = HTYPE_ETHER;
        m[2] = 6;
        m[4..8].copy_from_slice(&xid.to_be_bytes());
        m[16..20].copy_from_slice(&yiaddr);
        m[28..34].copy_from_slice(&MAC);
        m[236..240].copy_from_slice(&MAGIC);
        m.extend_from_slice(&[OPT_MESSAGE_TYPE, 1, kind as u8]);
        for (code, value) in options {
            m.push(*code);
            m.push(value.len() as u8);
            m.extend_from_slice(value);
        }
        m.push(OPT_END);
        m
    }

    fn ack(xid: u32) -> Vec<u8> {
        reply(
            MessageType::Ack,
            xid,
            [169, 254, 169, 15],
            &[
                (OPT_SERVER_ID, &[169, 254, 169, 2]),
                (OPT_LEASE_TIME, &86_400u32.to_be_bytes()),
                (OPT_SUBNET_MASK, &[255, 255, 255, 0]),
                (OPT_ROUTER, &[169, 254, 169, 2]),
                (OPT_DNS, &[169, 254, 169, 3]),
                (OPT_MTU, &1500u16.to_be_bytes()),
            ],
        )
    }

    #[test]
    fn discover_is_a_broadcast_request_with_our_mac() {
        let d = discover(MAC, 0xdeadbeef);
        assert_eq!(d.len(), MIN_MESSAGE);
        assert_eq!(d[0], OP_REQUEST);
        assert_eq!(&d[4..8], &[0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(&d[10..12], &[0x80, 0]);
        assert_eq!(&d[28..34], &MAC);
        assert_eq!(&d[236..243], &[99, 130, 83, 99, OPT_MESSAGE_TYPE, 1, 1]);
    }

    #[test]
    fn selecting_request_names_address_and_server() {
        let r = request(MAC, 7, RequestKind::Selecting { address: Ipv4Addr::new(10, 0, 0, 9), server: Ipv4Addr::new(10, 0, 0, 1) });
        let w = r.windows(6);
        let mut found = (false, false);
        for win in w {
            found.0 |= win == [OPT_REQUESTED_IP, 4, 10, 0, 0, 9];
            found.1 |= win == [OPT_SERVER_ID, 4, 10, 0, 0, 1];
        }
        assert_eq!(found, (true, true));
        let renew = request(MAC, 8, RequestKind::Extending { address: Ipv4Addr::new(10, 0, 0, 9) });
        assert_eq!(&renew[12..16], &[10, 0, 0, 9]);
        assert_eq!(&renew[10..12], &[0, 0]);
    }

    #[test]
    fn offer_then_ack_gives_a_lease() {
        let offer = reply(MessageType::Offer, 1, [169, 254, 169, 15], &[(OPT_SERVER_ID, &[169, 254, 169, 2])]);
        let got = classify(&parse(&offer).unwrap(), MAC, 1).unwrap();
        assert_eq!(got, Reply::Offer(Offer { address: Ipv4Addr::new(169, 254, 169, 15), server: Ipv4Addr::new(169, 254, 169, 2) }));
        let Reply::Ack(lease) = classify(&parse(&ack(1)).unwrap(), MAC, 1).unwrap() else { panic!("not an ack") };
        assert_eq!(lease.address, Ipv4Addr::new(169, 254, 169, 15));
        assert_eq!(lease.prefix_len, 24);
        assert_eq!(lease.routes, vec![(Ipv4Addr::UNSPECIFIED, 0, Ipv4Addr::new(169, 254, 169, 2))]);
        assert_eq!(lease.dns, vec![Ipv4Addr::new(169, 254, 169, 3)]);
        assert_eq!(lease.mtu, Some(1500));
        assert_eq!(lease.renew_after, Duration::from_secs(43_200));
        assert_eq!(lease.rebind_after, Duration::from_secs(75_600));
    }

    #[test]
    fn other_transactions_are_ignored() {
        assert_eq!(classify(&parse(&ack(2)).unwrap(), MAC, 1).unwrap(), Reply::Ignore);
        let nak = reply(MessageType::Nak, 1, [0; 4], &[]);
        assert_eq!(classify(&parse(&nak).unwrap(), MAC, 1).unwrap(), Reply::Nak);
    }

    #[test]
    fn classless_routes_replace_the_router_option() {
        let routes: &[u8] = &[0, 10, 0, 0, 1, 24, 192, 168, 7, 10, 0, 0, 2];
        let m = reply(
            MessageType::Ack,
            3,
            [10, 0, 0, 50],
            &[
                (OPT_SERVER_ID, &[10, 0, 0, 1]),
                (OPT_LEASE_TIME, &[0xff, 0xff, 0xff, 0xff]),
                (OPT_SUBNET_MASK, &[255, 255, 255, 255]),
                (OPT_ROUTER, &[10, 0, 0, 99]),
                (OPT_CLASSLESS_ROUTES, routes),
            ],
        );
        let lease = Lease::from_ack(&parse(&m).unwrap()).unwrap();
        assert_eq!(lease.prefix_len, 32);
        assert_eq!(
            lease.routes,
            vec![(Ipv4Addr::UNSPECIFIED, 0, Ipv4Addr::new(10, 0, 0, 1)), (Ipv4Addr::new(192, 168, 7, 0), 24, Ipv4Addr::new(10, 0, 0, 2))]
        );
        assert_eq!(lease.lease, Duration::from_secs(365 * 86_400));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert_eq!(parse(&[2; 10]), Err(DhcpError::Truncated));
        let mut m = ack(1);
        m[0] = OP_REQUEST;
        assert_eq!(parse(&m), Err(DhcpError::NotDhcpReply));
        let mut m = ack(1);
        let end = m.len() - 1;
        m[end] = OPT_DNS; // option code without a length byte
        assert_eq!(parse(&m), Err(DhcpError::Truncated));
        let no_mask = reply(MessageType::Ack, 1, [10, 0, 0, 5], &[(OPT_SERVER_ID, &[10, 0, 0, 1]), (OPT_LEASE_TIME, &[0, 0, 1, 0])]);
        assert_eq!(Lease::from_ack(&parse(&no_mask).unwrap()), Err(DhcpError::Incomplete("subnet mask")));
        let holes = reply(MessageType::Ack, 1, [10, 0, 0, 5], &[(OPT_SUBNET_MASK, &[255, 0, 255, 0])]);
        assert_eq!(Lease::from_ack(&parse(&holes).unwrap()), Err(DhcpError::Incomplete("subnet mask")));
        // Every truncation of a valid message parses or fails cleanly.
        let full = ack(1);
        for n in 0..full.len() {
            let _ = parse(&full[..n]).map(|m| classify(&m, MAC, 1));
        }
    }

    #[test]
    fn network_and_prefix_helpers() {
        assert_eq!(network_of(Ipv4Addr::new(10, 0, 1, 50), 24), Ipv4Addr::new(10, 0, 1, 0));
        assert_eq!(network_of(Ipv4Addr::new(10, 0, 1, 50), 0), Ipv4Addr::UNSPECIFIED);
        assert_eq!(prefix_of_mask(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(prefix_of_mask(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(prefix_of_mask(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(prefix_of_mask(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(retransmit_delay(0), Duration::from_secs(1));
        assert_eq!(retransmit_delay(9), Duration::from_secs(64));
    }
}
