//! The VM's DHCP client, rtnetlink configuration and DNS resolver against a real DHCP/DNS server
//! (dnsmasq), over a veth pair between two network namespaces: the client side runs this test
//! binary again inside its namespace (`ip netns exec`), so the code under test is exactly the
//! one PID 1 runs, on a real kernel, with no stand-in.
//!
//! Needs root (or CAP_NET_ADMIN + CAP_SYS_ADMIN), `ip` and `dnsmasq`; skips with a printed reason
//! otherwise. Takes about 70 s because it waits for one lease renewal (T1 of dnsmasq's minimum
//! 120 s lease).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INNER_ENV: &str = "PAA_DHCP_INNER";
const SERVER_IP: &str = "10.77.0.1";

fn run(args: &[&str]) -> Result<String, String> {
    let out = Command::new(args[0]).args(&args[1..]).output().map_err(|e| format!("{}: {e}", args[0]))?;
    if !out.status.success() {
        return Err(format!("{}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}

struct Namespaces {
    server: String,
    client: String,
    dnsmasq: Option<Child>,
}

impl Namespaces {
    fn create() -> Result<Namespaces, String> {
        let id = std::process::id();
        let ns = Namespaces { server: format!("paa-srv-{id}"), client: format!("paa-cli-{id}"), dnsmasq: None };
        run(&["ip", "netns", "add", &ns.server])?;
        run(&["ip", "netns", "add", &ns.client])?;
        run(&["ip", "link", "add", "paa-s", "netns", &ns.server, "type", "veth", "peer", "name", "eth0", "netns", &ns.client])?;
        run(&["ip", "-n", &ns.server, "addr", "add", &format!("{SERVER_IP}/24"), "dev", "paa-s"])?;
        run(&["ip", "-n", &ns.server, "link", "set", "paa-s", "up"])?;
        Ok(ns)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        if let Some(mut d) = self.dnsmasq.take() {
            let _ = d.kill();
            let _ = d.wait();
        }
        let _ = run(&["ip", "netns", "del", &self.client]);
        let _ = run(&["ip", "netns", "del", &self.server]);
    }
}

fn skip_reason() -> Option<String> {
    for tool in ["ip", "dnsmasq"] {
        let found = Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status();
        if !found.is_ok_and(|s| s.success()) {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

#[test]
fn dhcp_client_against_dnsmasq() {
    if std::env::var_os(INNER_ENV).is_some() {
        return; // this process is the inner client run
    }
    if let Some(reason) = skip_reason() {
        eprintln!("SKIPPED: {reason}");
        return;
    }
    let mut ns = match Namespaces::create() {
        Ok(ns) => ns,
        Err(e) => {
            eprintln!("SKIPPED: cannot create network namespaces (needs root/CAP_NET_ADMIN): {e}");
            return;
        }
    };
    let dnsmasq = Command::new("ip")
        .args(["netns", "exec", &ns.server, "dnsmasq", "--keep-in-foreground", "--log-facility=-", "--conf-file=/dev/null"])
        .args(["--no-resolv", "--no-hosts", "--leasefile-ro", "--pid-file", "--interface=paa-s", "--bind-interfaces"])
        .args(["--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,120", "--log-dhcp"])
        .args(["--dhcp-option=option:router,10.77.0.1", "--dhcp-option=option:dns-server,10.77.0.1", "--dhcp-option=option:mtu,1400"])
        .arg("--address=/vm-test.example/10.77.0.99")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start dnsmasq");
    ns.dnsmasq = Some(dnsmasq);
    std::thread::sleep(Duration::from_millis(500));

    let exe = std::env::current_exe().expect("test binary path");
    let started = Instant::now();
    let inner = Command::new("ip")
        .args(["netns", "exec", &ns.client])
        .arg(&exe)
        .args(["--exact", "inner_client", "--ignored", "--nocapture", "--test-threads=1"])
        .env(INNER_ENV, "1")
        .output()
        .expect("run inner client");
    let log = format!("{}{}", String::from_utf8_lossy(&inner.stdout), String::from_utf8_lossy(&inner.stderr));
    assert!(inner.status.success(), "inner client failed:\n{log}");
    eprintln!("inner client ran {:.1} s; its log:\n{log}", started.elapsed().as_secs_f64());

    let lease = log.lines().find(|l| l.contains("dhcp: eth0: lease")).unwrap_or_else(|| panic!("no lease line:\n{log}"));
    assert!(lease.contains("/24 from 10.77.0.1 for 120 s"), "{lease}");
    assert!(lease.contains("routes [0.0.0.0/0 via 10.77.0.1]"), "{lease}");
    assert!(lease.contains("dns [10.77.0.1]") && lease.contains("mtu 1400"), "{lease}");
    // The leased address is any of the range 10.77.0.50–60; it must be the one on the interface.
    let address = lease.split("lease ").nth(1).and_then(|r| r.split('/').next()).unwrap_or_else(|| panic!("no address in {lease}"));
    let last: u8 = address.strip_prefix("10.77.0.").and_then(|o| o.parse().ok()).unwrap_or_else(|| panic!("lease outside 10.77.0.0/24: {lease}"));
    assert!((50..=60).contains(&last), "lease outside the dnsmasq range: {lease}");
    assert!(log.contains(&format!("configured: inet {address}/24")), "address not on the interface:\n{log}");
    assert!(log.contains("default via 10.77.0.1 dev eth0 proto dhcp"), "no default route:\n{log}");
    assert!(log.contains("mtu 1400"), "MTU not applied:\n{log}");
    assert!(log.contains("resolved vm-test.example: [10.77.0.99]"), "DNS through the DHCP-provided server failed:\n{log}");
    assert!(log.contains(&format!("dhcp: renewed: {address}/24")), "lease not renewed:\n{log}");
}

/// The client side, run by [`dhcp_client_against_dnsmasq`] inside the client namespace.
#[test]
#[ignore = "run by dhcp_client_against_dnsmasq inside a network namespace"]
fn inner_client() {
    if std::env::var_os(INNER_ENV).is_none() {
        eprintln!("SKIPPED: only meaningful inside dhcp_client_against_dnsmasq");
        return;
    }
    let dhcp = paypal_auth_vm::pid1::network::dhcp().expect("DHCP");
    dhcp.spawn_renewal().expect("renewal thread");
    let addr = run(&["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).expect("ip addr");
    let inet = addr.split_whitespace().skip_while(|w| *w != "inet").take(2).collect::<Vec<_>>().join(" ");
    println!("configured: {inet}");
    println!("{}", run(&["ip", "-4", "route"]).expect("ip route"));
    println!("{}", run(&["ip", "-o", "link", "show", "dev", "eth0"]).expect("ip link"));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let addrs = runtime.block_on(paypal_auth_vm::net::dns::resolve_via_dhcp_servers("vm-test.example")).expect("resolve");
    println!("resolved vm-test.example: {addrs:?}");
    // T1 is half of dnsmasq's 120 s lease; give the renewal a little slack.
    std::thread::sleep(Duration::from_secs(66));
}
