//! Shared QEMU harness of the boot tests: builds the image once per test process with
//! `nix/build-local.sh` (kernel from the cache) and boots it under TCG with the network flags of
//! research/image.md §4.1. Success is judged from serial-log markers and HTTP answers, never from
//! QEMU's exit status (a panicking init also ends QEMU with status 0 under `panic=-1 -no-reboot`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const REPO: &str = env!("CARGO_MANIFEST_DIR");
pub const TMP: &str = env!("CARGO_TARGET_TMPDIR");
pub const OVMF_CODE: &str = "/usr/share/OVMF/OVMF_CODE_4M.fd";
pub const OVMF_VARS: &str = "/usr/share/OVMF/OVMF_VARS_4M.fd";
/// The epoch every artifact timestamp is pinned to (nix/steps/env.sh).
pub const SOURCE_DATE_EPOCH: u64 = 315_532_800;

pub fn have(tool: &str) -> bool {
    Command::new("sh").arg("-c").arg(format!("command -v {tool}")).stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Why the image cannot be built here, if it cannot.
pub fn build_skip_reason() -> Option<String> {
    let tools = ["objcopy", "mkfs.vfat", "mmd", "mcopy", "sgdisk", "qemu-img", "python3", "make", "gcc", "flex", "bison", "bc"];
    let missing: Vec<&str> = tools.into_iter().filter(|t| !have(t)).collect();
    if !missing.is_empty() {
        return Some(format!("missing build tools: {}", missing.join(" ")));
    }
    for file in ["/usr/src/linux-source-6.12.tar.xz", "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"] {
        if !Path::new(file).exists() {
            return Some(format!("missing {file} (Debian packages linux-source-6.12, systemd-boot-efi)"));
        }
    }
    None
}

pub fn boot_skip_reason() -> Option<String> {
    build_skip_reason().or_else(|| {
        let missing: Vec<&str> = ["qemu-system-x86_64", "socat", "curl"].into_iter().filter(|t| !have(t)).collect();
        (!missing.is_empty()).then(|| format!("missing boot-test tools: {}", missing.join(" ")))
    })
}

#[macro_export]
macro_rules! skip_if {
    ($reason:expr) => {
        if let Some(reason) = $reason {
            eprintln!("SKIPPED: {reason}");
            return;
        }
    };
}

/// The kernel command line of the test image: the measured base line plus the environment the
/// service reads (the kernel hands unknown `KEY=value` parameters to /init as environment).
pub fn test_cmdline() -> String {
    let base = std::fs::read_to_string(Path::new(REPO).join("nix/cmdline")).expect("nix/cmdline");
    // Keep the kernel's own parameters of the measured line; replace its service environment
    // (CONFIG_SOURCE=oci) with the test's (the kernel gives init the first of duplicate keys).
    let base: Vec<&str> = base.split_whitespace().filter(|w| !w.contains('=') || w.starts_with("console=") || w.starts_with("panic=")).collect();
    let base = base.join(" ");
    let env = [
        "CONFIG_SOURCE=env",
        "PAYPAL_CLIENT_ID=boot-test-client",
        "PAYPAL_SECRET=boot-test-secret",
        "DOMAIN=localhost",
        "PUBLIC_URL=https://localhost:8443",
        "TLS_SOURCE=self-signed",
        "HTTP_ADDR=0.0.0.0:80",
        "HTTPS_ADDR=0.0.0.0:443",
    ];
    let line = format!("{base} {}", env.join(" "));
    assert!(line.len() < 2048, "x86 command lines are limited to 2048 bytes");
    line
}

/// Builds the test image once per test process (kernel from the cache).
pub fn image() -> &'static Path {
    static IMAGE: OnceLock<PathBuf> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let out = Path::new(TMP).join("boot-image");
        std::fs::create_dir_all(&out).expect("create image dir");
        let cmdline = out.join("test-cmdline");
        std::fs::write(&cmdline, test_cmdline()).expect("write cmdline");
        let started = Instant::now();
        let mut build = Command::new(Path::new(REPO).join("nix/build-local.sh"));
        // Run the build as a shell would: cargo's per-test variables (CARGO_PKG_*, ...) would
        // otherwise reach the nested cargo and its build scripts and defeat its cache.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy().to_string();
            if key.starts_with("CARGO_") && key != "CARGO_HOME" && key != "CARGO_TARGET_DIR" {
                build.env_remove(&key);
            }
        }
        let status = build
            .env("OUT", &out)
            .env("CMDLINE_FILE", &cmdline)
            .status()
            .expect("run nix/build-local.sh");
        assert!(status.success(), "nix/build-local.sh failed: {status}");
        eprintln!("image built in {:.1} s", started.elapsed().as_secs_f64());
        out
    })
}

/// One QEMU at a time: TCG on a 2-core machine is slow enough without two guests competing.
pub static QEMU_LOCK: Mutex<()> = Mutex::new(());

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

/// A host stand-in for the instance metadata service at 169.254.169.254:80 (reached through
/// guestfwd + socat): answers every request with 404, so the guest sees a real HTTP peer.
pub fn start_metadata_stub() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind metadata stub");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    port
}

pub struct Vm {
    child: Child,
    pub serial: PathBuf,
    monitor: PathBuf,
    pub http_port: u16,
    pub https_port: u16,
}

pub enum Boot<'a> {
    Direct { kernel: &'a Path, initrd: &'a Path, cmdline: &'a str },
    Uefi { disk: &'a Path, vars: &'a Path },
}

impl Vm {
    /// Starts QEMU; the guest's 169.254.169.254:80 reaches 127.0.0.1:`imds_port` on the host.
    pub fn start(name: &str, boot: Boot<'_>, imds_port: u16) -> Vm {
        Vm::start_with_ports(name, boot, imds_port, free_port(), free_port())
    }

    /// [`Vm::start`] with the host ports that forward to the guest's 80 and 443 chosen by the
    /// caller (who needs them before boot, e.g. for the public URL on the command line).
    pub fn start_with_ports(name: &str, boot: Boot<'_>, imds_port: u16, http_port: u16, https_port: u16) -> Vm {
        let dir = Path::new(TMP).join(name);
        std::fs::create_dir_all(&dir).expect("vm dir");
        let serial = dir.join("serial.log");
        let monitor = dir.join("monitor.sock");
        let _ = std::fs::remove_file(&serial);
        let _ = std::fs::remove_file(&monitor);
        let netdev = format!(
            "user,id=n0,net=169.254.169.0/24,guestfwd=tcp:169.254.169.254:80-cmd:socat STDIO TCP:127.0.0.1:{imds_port},\
             hostfwd=tcp:127.0.0.1:{http_port}-:80,hostfwd=tcp:127.0.0.1:{https_port}-:443"
        );
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.args(["-nodefaults", "-machine", "q35", "-accel", "tcg", "-m", "512M", "-smp", "2", "-display", "none", "-no-reboot"])
            .arg("-serial")
            .arg(format!("file:{}", serial.display()))
            .args(["-netdev", &netdev, "-device", "virtio-net-pci,netdev=n0"])
            .arg("-monitor")
            .arg(format!("unix:{},server=on,wait=off", monitor.display()));
        match boot {
            Boot::Direct { kernel, initrd, cmdline } => {
                cmd.arg("-kernel").arg(kernel).arg("-initrd").arg(initrd).arg("-append").arg(cmdline);
            }
            Boot::Uefi { disk, vars } => {
                cmd.arg("-drive")
                    .arg(format!("if=pflash,format=raw,readonly=on,file={OVMF_CODE}"))
                    .arg("-drive")
                    .arg(format!("if=pflash,format=raw,file={}", vars.display()))
                    .arg("-drive")
                    .arg(format!("if=virtio,format=raw,readonly=on,file={}", disk.display()));
            }
        }
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().expect("start qemu");
        Vm { child, serial, monitor, http_port, https_port }
    }

    /// Presses the virtual ACPI power button (what OCI's "stop" does).
    pub fn power_button(&self) {
        let mut mon = std::os::unix::net::UnixStream::connect(&self.monitor).expect("connect QEMU monitor");
        mon.write_all(b"system_powerdown\n").expect("send system_powerdown");
        std::thread::sleep(Duration::from_millis(300));
    }

    /// Waits for QEMU to exit on its own (the guest powered off).
    pub fn wait_exit(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("guest did not power off within {timeout:?}; serial log:\n{}", self.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.serial).unwrap_or_default()
    }

    /// Waits until the serial log contains `marker`; fails with the log on timeout or exit.
    pub fn wait_for(&mut self, marker: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(marker)) {
                return line.to_string();
            }
            for fatal in ["Kernel panic", "fatal:", "panic:"] {
                assert!(!log.contains(fatal), "guest failed ({fatal}) while waiting for {marker:?}; serial log:\n{log}");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("QEMU exited ({status}) before {marker:?}; serial log:\n{log}");
            }
            assert!(Instant::now() < deadline, "no {marker:?} within {timeout:?}; serial log:\n{log}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Vm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `curl -k` (the guest serves a self-signed certificate in the test image): status and body.
pub fn curl(url: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-k", "-s", "--max-time", "20", "-o", "-", "-w", "\n%{http_code}", url])
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// Seconds since the epoch at the start of a log line (`<secs>.<ms> LEVEL ...`).
pub fn wall(line: &str) -> Option<f64> {
    line.split_whitespace().next()?.parse().ok()
}

/// Uptime printed by a PID-1 boot-step line (`... (uptime 1.234 s)`).
pub fn uptime(line: &str) -> Option<f64> {
    line.split("(uptime ").nth(1)?.split(' ').next()?.parse().ok()
}

/// Checks the boot of a running VM up to the HTTPS listener, and prints the timing figures.
pub fn check_boot_to_listener(vm: &mut Vm, timeout: Duration) {
    let first = vm.wait_for("boot: step mounts ok", timeout);
    let dhcp = vm.wait_for("boot: step dhcp ok", timeout);
    let lease = vm.wait_for("dhcp: ", timeout);
    assert!(lease.contains("169.254.169.15/24 from 169.254.169.2"), "unexpected lease: {lease}");
    assert!(lease.contains("dns [169.254.169.3]"), "slirp's DNS server not learned: {lease}");
    vm.wait_for("boot: step clock ok", timeout);
    let serving = vm.wait_for("boot: serving ", timeout);
    // Kernel start in wall-clock time = wall time of the first step line minus its uptime.
    if let (Some(w0), Some(u0), Some(ws), Some(ud)) = (wall(&first), uptime(&first), wall(&serving), uptime(&dhcp)) {
        eprintln!("figures: /init first step at uptime {u0:.3} s, DHCP lease at uptime {ud:.3} s, HTTPS listener at uptime {:.3} s", ws - (w0 - u0));
    }
    let (code, body) = curl(&format!("https://127.0.0.1:{}/healthz", vm.https_port));
    assert_eq!(code, 200, "GET /healthz over HTTPS through hostfwd: {body}\nserial log:\n{}", vm.log());
    let (code, _) = curl(&format!("http://127.0.0.1:{}/healthz", vm.http_port));
    assert!(code != 0, "plain HTTP listener through hostfwd did not answer\nserial log:\n{}", vm.log());
}

