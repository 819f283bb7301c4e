//! Pebble (Let's Encrypt's test CA, Debian package `pebble`) for the demo: a real ACME exchange
//! on this machine. `pebble-challtestsrv` answers every DNS name with 127.0.0.1, so Pebble's
//! HTTP-01 validation reaches the service's port-80 listener.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running Pebble and its DNS server; both stopped on drop.
pub struct Pebble {
    pebble: Child,
    dns: Child,
    dir: PathBuf,
    /// The ACME directory URL.
    pub directory_url: String,
    /// PEM file of the CA that signed Pebble's own HTTPS listener (for the service's client).
    pub listener_ca: PathBuf,
    mgmt_port: u16,
}

/// True when both Pebble binaries are on the PATH.
pub fn installed() -> bool {
    let found = |name: &str| std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    found("pebble") && found("pebble-challtestsrv")
}

fn wait_tcp(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

impl Pebble {
    /// Starts Pebble validating HTTP-01 on `http_port` of 127.0.0.1.
    pub fn start(http_port: u16) -> Result<Pebble, String> {
        Pebble::start_with(http_port, &[])
    }

    /// As [`Pebble::start`], with extra subject alternative names (DNS names or IP addresses) on
    /// the certificate of Pebble's own HTTPS listener, for clients that reach the listener under
    /// another address than 127.0.0.1 (a QEMU guest reaches the host at slirp's gateway).
    pub fn start_with(http_port: u16, extra_sans: &[&str]) -> Result<Pebble, String> {
        let port = crate::service::free_port;
        let dir = std::env::temp_dir().join(format!("devstack-pebble-{}-{}", std::process::id(), crate::paypal::state::random_text(6)));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let err = |e: rcgen::Error| e.to_string();
        let ca_key = rcgen::KeyPair::generate().map_err(err)?;
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(rcgen::DnType::CommonName, "devstack Pebble listener CA");
        ca_params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let leaf_key = rcgen::KeyPair::generate().map_err(err)?;
        let mut sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        sans.extend(extra_sans.iter().map(|s| s.to_string()));
        let leaf = rcgen::CertificateParams::new(sans).map_err(err)?.signed_by(&leaf_key, &issuer).map_err(err)?;
        let listener_ca = dir.join("ca.pem");
        let write = |name: &str, text: String| std::fs::write(dir.join(name), text).map_err(|e| e.to_string());
        write("ca.pem", ca_cert.pem())?;
        write("cert.pem", leaf.pem())?;
        write("key.pem", leaf_key.serialize_pem())?;
        let (acme_port, mgmt_port, dns_port, dns_mgmt_port) = (port(), port(), port(), port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt_port}"),
            "certificate": dir.join("cert.pem"),
            "privateKey": dir.join("key.pem"),
            "httpPort": http_port,
            "tlsPort": port(),
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        write("pebble.json", config.to_string())?;
        let log = |name: &str| std::fs::File::create(dir.join(name)).map(Stdio::from).unwrap_or_else(|_| Stdio::null());
        let dns = Command::new("pebble-challtestsrv")
            .args(["-management", &format!("127.0.0.1:{dns_mgmt_port}"), "-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", "", "-defaultIPv6", "", "-defaultIPv4", "127.0.0.1"])
            .stdout(log("challtestsrv.log"))
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("pebble-challtestsrv: {e}"))?;
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(dir.join("pebble.json"))
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .stdout(log("pebble.log"))
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("pebble: {e}"))?;
        let started = Pebble { pebble, dns, dir, directory_url: format!("https://127.0.0.1:{acme_port}/dir"), listener_ca, mgmt_port };
        if !(wait_tcp(dns_mgmt_port) && wait_tcp(acme_port) && wait_tcp(mgmt_port)) {
            return Err("Pebble did not start".into());
        }
        Ok(started)
    }

    /// The root Pebble issues under, as PEM (it is regenerated at every start).
    pub async fn root_pem(&self) -> Result<Vec<u8>, String> {
        let ca = std::fs::read(&self.listener_ca).map_err(|e| e.to_string())?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).map_err(|e| e.to_string())?)
            .build()
            .map_err(|e| e.to_string())?;
        let response = client.get(format!("https://127.0.0.1:{}/roots/0", self.mgmt_port)).send().await.map_err(|e| e.to_string())?;
        Ok(response.bytes().await.map_err(|e| e.to_string())?.to_vec())
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = self.pebble.kill();
        let _ = self.pebble.wait();
        let _ = self.dns.kill();
        let _ = self.dns.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
