//! A small stub DNS resolver for the VM, which has no `/etc/resolv.conf`: A (then AAAA) queries
//! over UDP to the servers DHCP named, with a timeout and a retry. The message codec
//! ([`query`], [`parse_answer`]) is I/O-free; [`resolve`] does the sockets.
//!
//! Outside the VM (not PID 1) [`resolve`] uses the system resolver, so local runs behave as
//! usual.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::RwLock;
use std::time::Duration;

/// Record types we ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// IPv4 address.
    A = 1,
    /// IPv6 address.
    Aaaa = 28,
}

const CLASS_IN: u16 = 1;
const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_RD: u16 = 0x0100;
const HEADER_LEN: usize = 12;
/// Compression pointers followed per name at most (real names need a handful; this bounds loops).
const MAX_POINTERS: usize = 16;

/// Why a lookup failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name is not a valid host name.
    InvalidName,
    /// The answer does not parse or does not answer our question.
    Malformed,
    /// The server says the name does not exist (NXDOMAIN).
    NoSuchName,
    /// The server failed (RCODE).
    Server(u8),
    /// The answer was truncated (would need TCP; our names have few addresses).
    Truncated,
}

impl std::fmt::Display for DnsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnsError::InvalidName => f.write_str("invalid host name"),
            DnsError::Malformed => f.write_str("malformed DNS answer"),
            DnsError::NoSuchName => f.write_str("no such name"),
            DnsError::Server(rcode) => write!(f, "DNS server error (rcode {rcode})"),
            DnsError::Truncated => f.write_str("truncated DNS answer"),
        }
    }
}

impl std::error::Error for DnsError {}

fn encode_name(name: &str, out: &mut Vec<u8>) -> Result<(), DnsError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(DnsError::InvalidName);
    }
    for label in name.split('.') {
        let ok_chars = label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if label.is_empty() || label.len() > 63 || !ok_chars {
            return Err(DnsError::InvalidName);
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    Ok(())
}

/// Builds a recursive query for one name and record type.
pub fn query(id: u16, name: &str, kind: RecordType) -> Result<Vec<u8>, DnsError> {
    let mut m = Vec::with_capacity(HEADER_LEN + name.len() + 6);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&FLAG_RD.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question, no other records
    encode_name(name, &mut m)?;
    m.extend_from_slice(&(kind as u16).to_be_bytes());
    m.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(m)
}

fn u16_at(m: &[u8], at: usize) -> Result<u16, DnsError> {
    m.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or(DnsError::Malformed)
}

/// Reads a (possibly compressed) name at `at`; returns it lowercased with dots, and the offset
/// just past it in the original position.
fn read_name(m: &[u8], mut at: usize) -> Result<(String, usize), DnsError> {
    let mut name = String::new();
    let mut end = None;
    let mut pointers = 0;
    loop {
        let len = *m.get(at).ok_or(DnsError::Malformed)?;
        match len {
            0 => {
                return Ok((name, end.unwrap_or(at + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let target = usize::from(u16_at(m, at)? & 0x3fff);
                end.get_or_insert(at + 2);
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(DnsError::Malformed);
                }
                at = target;
            }
            l if l & 0xc0 == 0 => {
                let label = m.get(at + 1..at + 1 + usize::from(l)).ok_or(DnsError::Malformed)?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.extend(label.iter().map(|b| b.to_ascii_lowercase() as char));
                if name.len() > 255 {
                    return Err(DnsError::Malformed);
                }
                at += 1 + usize::from(l);
            }
            _ => return Err(DnsError::Malformed),
        }
    }
}

/// Parses the answer to `query(id, name, kind)`: the addresses of that type it carries (CNAME
/// chains are resolved by the recursive server, which returns the final records too).
pub fn parse_answer(m: &[u8], id: u16, name: &str, kind: RecordType) -> Result<Vec<IpAddr>, DnsError> {
    if m.len() < HEADER_LEN || u16_at(m, 0)? != id {
        return Err(DnsError::Malformed);
    }
    let flags = u16_at(m, 2)?;
    if flags & FLAG_QR == 0 {
        return Err(DnsError::Malformed);
    }
    if flags & FLAG_TC != 0 {
        return Err(DnsError::Truncated);
    }
    match (flags & 0x000f) as u8 {
        0 => {}
        3 => return Err(DnsError::NoSuchName),
        rcode => return Err(DnsError::Server(rcode)),
    }
    if u16_at(m, 4)? != 1 {
        return Err(DnsError::Malformed);
    }
    let answers = u16_at(m, 6)?;
    // The question must be ours: a stray answer for another name must not be taken.
    let (qname, mut at) = read_name(m, HEADER_LEN)?;
    let wanted = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if qname != wanted || u16_at(m, at)? != kind as u16 || u16_at(m, at + 2)? != CLASS_IN {
        return Err(DnsError::Malformed);
    }
    at += 4;
    let mut out = Vec::new();
    for _ in 0..answers {
        let (_, next) = read_name(m, at)?;
        let rtype = u16_at(m, next)?;
        let class = u16_at(m, next + 2)?;
        let rdlen = usize::from(u16_at(m, next + 8)?);
        let rdata = m.get(next + 10..next + 10 + rdlen).ok_or(DnsError::Malformed)?;
        if class == CLASS_IN && rtype == kind as u16 {
            match (kind, rdata.len()) {
                (RecordType::A, 4) => out.push(IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))),
                (RecordType::Aaaa, 16) => {
                    let octets: [u8; 16] = rdata.try_into().map_err(|_| DnsError::Malformed)?;
                    out.push(IpAddr::V6(Ipv6Addr::from(octets)));
                }
                _ => return Err(DnsError::Malformed),
            }
        }
        at = next + 10 + rdlen;
    }
    Ok(out)
}

/// DNS servers learned from DHCP (empty until the first lease).
static SERVERS: RwLock<Vec<IpAddr>> = RwLock::new(Vec::new());

/// Replaces the DNS servers (called by the DHCP client on every lease).
pub fn set_servers(servers: Vec<IpAddr>) {
    match SERVERS.write() {
        Ok(mut s) => *s = servers,
        Err(poisoned) => *poisoned.into_inner() = servers,
    }
}

/// The current DNS servers.
pub fn servers() -> Vec<IpAddr> {
    match SERVERS.read() {
        Ok(s) => s.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Time to wait for one answer.
const TIMEOUT: Duration = Duration::from_secs(2);
/// Rounds over all servers.
const ATTEMPTS: usize = 2;

async fn ask(server: IpAddr, name: &str, kind: RecordType) -> io::Result<Result<Vec<IpAddr>, DnsError>> {
    let mut id = [0u8; 2];
    getrandom::getrandom(&mut id).map_err(io::Error::other)?;
    let id = u16::from_ne_bytes(id);
    let message = match query(id, name, kind) {
        Ok(m) => m,
        Err(e) => return Ok(Err(e)),
    };
    let local: SocketAddr = if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = tokio::net::UdpSocket::bind(local).await?;
    socket.connect((server, 53)).await?;
    socket.send(&message).await?;
    let mut buf = vec![0u8; 1500];
    let deadline = tokio::time::Instant::now() + TIMEOUT;
    loop {
        let n = match tokio::time::timeout_at(deadline, socket.recv(&mut buf)).await {
            Ok(r) => r?,
            Err(_) => return Err(io::Error::new(io::ErrorKind::TimedOut, format!("no DNS answer from {server}"))),
        };
        match parse_answer(&buf[..n], id, name, kind) {
            // A reply with another id or question is stale or forged: keep waiting for ours.
            Err(DnsError::Malformed) => continue,
            other => return Ok(other),
        }
    }
}

fn to_io(e: DnsError, name: &str) -> io::Error {
    let kind = match e {
        DnsError::InvalidName => io::ErrorKind::InvalidInput,
        DnsError::NoSuchName => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, format!("resolving {name}: {e}"))
}

async fn resolve_with(servers: &[IpAddr], name: &str) -> io::Result<Vec<IpAddr>> {
    if servers.is_empty() {
        return Err(io::Error::new(io::ErrorKind::NotConnected, format!("resolving {name}: no DNS server known yet")));
    }
    let mut last = io::Error::new(io::ErrorKind::TimedOut, format!("resolving {name}: no answer"));
    for kind in [RecordType::A, RecordType::Aaaa] {
        for _ in 0..ATTEMPTS {
            for &server in servers {
                match ask(server, name, kind).await {
                    Ok(Ok(addrs)) if !addrs.is_empty() => return Ok(addrs),
                    Ok(Ok(_)) => break, // the name exists but has no record of this type
                    Ok(Err(e @ (DnsError::NoSuchName | DnsError::InvalidName))) => return Err(to_io(e, name)),
                    Ok(Err(e)) => last = to_io(e, name),
                    Err(e) => last = e,
                }
            }
        }
    }
    Err(last)
}

/// Resolves through the servers DHCP named, whether or not this process is PID 1 (what
/// [`resolve`] does in the VM; tests of the DHCP client use it directly).
pub async fn resolve_via_dhcp_servers(name: &str) -> io::Result<Vec<IpAddr>> {
    resolve_with(&servers(), name).await
}

/// Resolves a host name to addresses (IPv4 first: the VM's network is IPv4).
///
/// In the VM (PID 1) this asks the DHCP-provided servers; elsewhere it uses the system
/// resolver. IP literals and `localhost` are answered without a query.
pub async fn resolve(name: &str) -> io::Result<Vec<IpAddr>> {
    if let Ok(ip) = name.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(vec![ip]);
    }
    if name.eq_ignore_ascii_case("localhost") {
        return Ok(vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
    }
    if !crate::pid1::is_pid1() {
        let addrs = tokio::net::lookup_host((name, 0)).await?;
        return Ok(addrs.map(|a| a.ip()).collect());
    }
    resolve_via_dhcp_servers(name).await
}

/// [`resolve`] in the shape the outbound HTTP client takes ([`crate::net::http::Resolver::Custom`]).
pub fn lookup_fn() -> crate::net::http::LookupFn {
    std::sync::Arc::new(|name: String| Box::pin(async move { resolve(&name).await }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_for(q: &[u8], records: &[(u16, &[u8])], rcode: u8) -> Vec<u8> {
        let mut m = q.to_vec();
        m[2] = 0x81; // QR + RD
        m[3] = 0x80 | rcode; // RA + rcode
        m[7] = records.len() as u8;
        for (rtype, rdata) in records {
            m.extend_from_slice(&[0xc0, 12]); // pointer to the question name
            m.extend_from_slice(&rtype.to_be_bytes());
            m.extend_from_slice(&CLASS_IN.to_be_bytes());
            m.extend_from_slice(&300u32.to_be_bytes());
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    #[test]
    fn query_layout() {
        let q = query(0x1234, "api.paypal.com", RecordType::A).unwrap();
        assert_eq!(&q[..4], &[0x12, 0x34, 0x01, 0x00]);
        assert_eq!(&q[12..], b"\x03api\x06paypal\x03com\x00\x00\x01\x00\x01");
        assert_eq!(query(1, "a..b", RecordType::A), Err(DnsError::InvalidName));
        assert_eq!(query(1, "", RecordType::A), Err(DnsError::InvalidName));
        assert_eq!(query(1, "bad name", RecordType::A), Err(DnsError::InvalidName));
        assert_eq!(query(1, &"a".repeat(64), RecordType::A), Err(DnsError::InvalidName));
    }

    #[test]
    fn parses_a_records_following_a_cname() {
        let q = query(7, "Example.COM", RecordType::A).unwrap();
        let cname: &[u8] = b"\x03www\xc0\x0c";
        let m = answer_for(&q, &[(5, cname), (1, &[93, 184, 216, 34]), (1, &[93, 184, 216, 35])], 0);
        let got = parse_answer(&m, 7, "example.com.", RecordType::A).unwrap();
        assert_eq!(got, vec![IpAddr::from([93, 184, 216, 34]), IpAddr::from([93, 184, 216, 35])]);
    }

    #[test]
    fn parses_aaaa() {
        let q = query(9, "v6.example", RecordType::Aaaa).unwrap();
        let addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
        let m = answer_for(&q, &[(28, &addr.octets())], 0);
        assert_eq!(parse_answer(&m, 9, "v6.example", RecordType::Aaaa).unwrap(), vec![IpAddr::V6(addr)]);
    }

    #[test]
    fn rejects_errors_and_foreign_answers() {
        let q = query(7, "example.com", RecordType::A).unwrap();
        assert_eq!(parse_answer(&answer_for(&q, &[], 3), 7, "example.com", RecordType::A), Err(DnsError::NoSuchName));
        assert_eq!(parse_answer(&answer_for(&q, &[], 2), 7, "example.com", RecordType::A), Err(DnsError::Server(2)));
        let ok = answer_for(&q, &[(1, &[1, 2, 3, 4])], 0);
        assert_eq!(parse_answer(&ok, 8, "example.com", RecordType::A), Err(DnsError::Malformed));
        assert_eq!(parse_answer(&ok, 7, "other.com", RecordType::A), Err(DnsError::Malformed));
        assert_eq!(parse_answer(&q, 7, "example.com", RecordType::A), Err(DnsError::Malformed)); // not a response
        let mut tc = ok.clone();
        tc[2] |= 0x02;
        assert_eq!(parse_answer(&tc, 7, "example.com", RecordType::A), Err(DnsError::Truncated));
        let bad_len = answer_for(&q, &[(1, &[1, 2, 3])], 0);
        assert_eq!(parse_answer(&bad_len, 7, "example.com", RecordType::A), Err(DnsError::Malformed));
        for n in 0..ok.len() {
            assert!(parse_answer(&ok[..n], 7, "example.com", RecordType::A).is_err());
        }
    }

    #[test]
    fn pointer_loops_terminate() {
        let mut m = query(7, "a.b", RecordType::A).unwrap();
        m[2] = 0x81;
        m[7] = 1;
        let at = m.len();
        m.extend_from_slice(&[0xc0, at as u8]); // points at itself
        assert_eq!(parse_answer(&m, 7, "a.b", RecordType::A), Err(DnsError::Malformed));
    }

    #[tokio::test]
    async fn literals_need_no_server() {
        assert_eq!(resolve("127.0.0.1").await.unwrap(), vec![IpAddr::from([127, 0, 0, 1])]);
        assert_eq!(resolve("[::1]").await.unwrap(), vec![IpAddr::V6(Ipv6Addr::LOCALHOST)]);
        assert!(resolve_with(&[], "example.com").await.is_err());
    }
}
