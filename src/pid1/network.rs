//! The VM's network bring-up: loopback and NIC up, a DHCP lease applied with rtnetlink, DNS
//! servers handed to the resolver, and a thread that renews the lease for as long as the VM runs.
//!
//! The DHCP socket is an ordinary UDP socket on port 68 bound to the NIC (`SO_BINDTODEVICE`):
//! broadcasts leave through the NIC before it has an address, and the server's replies are
//! broadcast because our messages set the BROADCAST flag. Blocking I/O on a dedicated thread
//! keeps this independent of the service's async runtime.

use crate::net::dhcp::{self, Lease, Reply, RequestKind};
use crate::net::link::{self, Interface, LinkConfig, LinkError};
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// What failed while bringing the network up.
#[derive(Debug)]
pub enum NetError {
    /// Link or address configuration.
    Link(LinkError),
    /// The DHCP socket.
    Socket(io::Error),
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetError::Link(e) => write!(f, "{e}"),
            NetError::Socket(e) => write!(f, "DHCP socket: {e}"),
        }
    }
}

impl std::error::Error for NetError {}

impl From<LinkError> for NetError {
    fn from(e: LinkError) -> Self {
        NetError::Link(e)
    }
}

const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;

/// A transaction id that differs between boots and transactions. Not from getrandom(): that
/// blocks until the kernel's CRNG is initialised, which under TCG (no RDRAND) takes seconds, and
/// an xid only has to tell our transactions apart, not resist guessing.
fn new_xid(mac: [u8; 6]) -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mac_bits = u32::from_be_bytes([mac[2], mac[3], mac[4], mac[5]]);
    nanos ^ mac_bits.rotate_left(7) ^ COUNTER.fetch_add(0x9e37_79b9, Ordering::Relaxed)
}

struct Client {
    socket: UdpSocket,
    nic: Interface,
}

impl Client {
    fn open(nic: &Interface) -> Result<Client, NetError> {
        let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, CLIENT_PORT)).map_err(NetError::Socket)?;
        socket.set_broadcast(true).map_err(NetError::Socket)?;
        crate::sys::bind_to_device(socket.as_raw_fd(), &nic.name).map_err(NetError::Socket)?;
        Ok(Client { socket, nic: nic.clone() })
    }

    fn send(&self, message: &[u8], to: Ipv4Addr) -> io::Result<()> {
        self.socket.send_to(message, SocketAddr::from((to, SERVER_PORT))).map(|_| ())
    }

    /// Waits until `until` for a reply to `xid` that `wanted` accepts.
    fn wait(&self, xid: u32, until: Instant, wanted: impl Fn(&Reply) -> bool) -> Option<Reply> {
        let mut buf = [0u8; 1500];
        loop {
            let left = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())?;
            self.socket.set_read_timeout(Some(left)).ok()?;
            let Ok((n, _)) = self.socket.recv_from(&mut buf) else { continue };
            let Ok(msg) = dhcp::parse(&buf[..n]) else { continue };
            match dhcp::classify(&msg, self.nic.mac, xid) {
                Ok(reply) if wanted(&reply) => return Some(reply),
                Ok(_) => {}
                Err(e) => crate::warn!("dhcp", "ignoring server message: {e}"),
            }
        }
    }

    /// DISCOVER → OFFER → REQUEST → ACK, retrying until a lease is granted.
    fn acquire(&self) -> Lease {
        let mut attempt = 0;
        loop {
            let xid = new_xid(self.nic.mac);
            let delay = dhcp::retransmit_delay(attempt);
            attempt += 1;
            if let Err(e) = self.send(&dhcp::discover(self.nic.mac, xid), Ipv4Addr::BROADCAST) {
                crate::warn!("dhcp", "sending DISCOVER: {e}");
                std::thread::sleep(delay);
                continue;
            }
            let Some(Reply::Offer(offer)) = self.wait(xid, Instant::now() + delay, |r| matches!(r, Reply::Offer(_))) else {
                crate::warn!("dhcp", "no offer within {} s, retrying", delay.as_secs());
                continue;
            };
            let request = dhcp::request(self.nic.mac, xid, RequestKind::Selecting { address: offer.address, server: offer.server });
            for _ in 0..3 {
                if self.send(&request, Ipv4Addr::BROADCAST).is_err() {
                    break;
                }
                match self.wait(xid, Instant::now() + delay, |r| matches!(r, Reply::Ack(_) | Reply::Nak)) {
                    Some(Reply::Ack(lease)) => return lease,
                    Some(_) => {
                        crate::warn!("dhcp", "server {} refused the request", offer.server);
                        break;
                    }
                    None => {}
                }
            }
        }
    }

    /// Tries to extend `lease` until `until`: unicast to its server when `renewing`, broadcast
    /// to any server when rebinding. `None` on timeout; `Some(None)` on NAK.
    fn extend(&self, lease: &Lease, until: Instant, renewing: bool) -> Option<Option<Lease>> {
        let mut attempt = 0;
        while Instant::now() < until {
            let xid = new_xid(self.nic.mac);
            let to = if renewing { lease.server } else { Ipv4Addr::BROADCAST };
            let request = dhcp::request(self.nic.mac, xid, RequestKind::Extending { address: lease.address });
            if let Err(e) = self.send(&request, to) {
                crate::warn!("dhcp", "sending renewal to {to}: {e}");
            }
            // Retransmit at growing intervals, at least every minute near the deadline.
            let wait = dhcp::retransmit_delay(attempt + 2).min(Duration::from_secs(60));
            attempt += 1;
            match self.wait(xid, (Instant::now() + wait).min(until), |r| matches!(r, Reply::Ack(_) | Reply::Nak)) {
                Some(Reply::Ack(new)) => return Some(Some(new)),
                Some(_) => return Some(None),
                None => {}
            }
        }
        None
    }
}

fn apply(nic: &Interface, lease: &Lease) -> Result<(), LinkError> {
    let config = LinkConfig {
        address: lease.address,
        prefix_len: lease.prefix_len,
        lease_secs: u32::try_from(lease.lease.as_secs()).unwrap_or(u32::MAX),
        routes: lease.routes.clone(),
        mtu: lease.mtu,
    };
    link::apply(nic, &config)?;
    crate::net::dns::set_servers(lease.dns.iter().copied().map(IpAddr::V4).collect());
    Ok(())
}

fn describe(lease: &Lease) -> String {
    let routes: Vec<String> = lease.routes.iter().map(|(d, p, g)| format!("{d}/{p} via {g}")).collect();
    let dns: Vec<String> = lease.dns.iter().map(|d| d.to_string()).collect();
    format!(
        "{}/{} from {} for {} s; routes [{}]; dns [{}]; mtu {}",
        lease.address,
        lease.prefix_len,
        lease.server,
        lease.lease.as_secs(),
        routes.join(", "),
        dns.join(", "),
        lease.mtu.map_or_else(|| "default".to_string(), |m| m.to_string())
    )
}

/// Brings up loopback (boot step "loopback").
pub fn loopback() -> Result<(), LinkError> {
    link::loopback_up()
}

/// A running DHCP client with its current lease.
pub struct Dhcp {
    client: Client,
    lease: Lease,
}

/// Finds the NIC, brings it up and obtains and applies a lease (boot step "dhcp").
pub fn dhcp() -> Result<Dhcp, NetError> {
    let nic = link::find_nic()?;
    link::nic_up(&nic, None)?;
    let client = Client::open(&nic)?;
    let lease = client.acquire();
    apply(&nic, &lease)?;
    crate::info!("dhcp", "{}: lease {}", nic.name, describe(&lease));
    Ok(Dhcp { client, lease })
}

impl Dhcp {
    /// Keeps the lease for as long as the VM runs, on a thread of its own.
    pub fn spawn_renewal(self) -> io::Result<()> {
        std::thread::Builder::new().name("dhcp".into()).spawn(move || self.run()).map(|_| ())
    }

    fn run(mut self) {
        loop {
            let granted = Instant::now();
            let t1 = granted + self.lease.renew_after;
            let t2 = granted + self.lease.rebind_after;
            let expiry = granted + self.lease.lease;
            std::thread::sleep(t1.saturating_duration_since(Instant::now()));
            let outcome = match self.client.extend(&self.lease, t2, true) {
                Some(outcome) => Some(outcome),
                None => self.client.extend(&self.lease, expiry, false),
            };
            self.lease = match outcome {
                Some(Some(lease)) => lease,
                Some(None) => {
                    crate::warn!("dhcp", "lease refused on renewal; starting over");
                    self.client.acquire()
                }
                None => {
                    crate::error!("dhcp", "lease expired without renewal; starting over");
                    self.client.acquire()
                }
            };
            match apply(&self.client.nic, &self.lease) {
                Ok(()) => crate::info!("dhcp", "renewed: {}", describe(&self.lease)),
                Err(e) => crate::error!("dhcp", "applying renewed lease: {e}"),
            }
        }
    }
}
