//! Runs the real service binary as a child process: environment in, log lines captured,
//! killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A running service process.
pub struct ServiceProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
}

impl ServiceProcess {
    /// Starts `binary` with exactly `env` (plus PATH) and captures its stderr. With `echo`, log
    /// lines are also printed.
    pub fn start(binary: &str, env: &[(String, String)], echo: bool) -> std::io::Result<Self> {
        let mut command = Command::new(binary);
        command.env_clear().stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn()?;
        let logs = Arc::new(Mutex::new(Vec::new()));
        for stream in [child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>), child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>)].into_iter().flatten() {
            let logs = Arc::clone(&logs);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if echo {
                        eprintln!("  service | {line}");
                    }
                    logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(line);
                }
            });
        }
        Ok(ServiceProcess { child, logs })
    }

    /// All log lines so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Waits until a log line contains `needle`; `Err` with the logs on timeout or exit.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.logs().iter().any(|l| l.contains(needle)) {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                return Err(format!("service exited ({status}) before logging {needle:?}:\n{}", self.logs().join("\n")));
            }
            if Instant::now() > deadline {
                return Err(format!("service did not log {needle:?} within {timeout:?}:\n{}", self.logs().join("\n")));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The exit status, if the process ended.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 (racy in principle; fine for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}
