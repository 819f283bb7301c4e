//! The Linux configfs-tsm report interface (`Documentation/ABI/testing/configfs-tsm-report`).
//!
//! One request: `mkdir <root>/<name>`, write `privlevel`, write the 64-byte `inblob`, read
//! `generation`, read `outblob` (this triggers the request to the firmware), read `auxblob`
//! (certificates the host supplied, possibly empty), read `generation` again — a change means
//! another writer touched the directory and the blobs may not belong to our `inblob` — and
//! `rmdir`. All access goes through [`ConfigFs`], so the protocol can be tested against a
//! temporary directory that follows the same rules.

use std::io;
use std::path::{Path, PathBuf};

/// Where the kernel exposes report directories (configfs mounted at `/sys/kernel/config`).
pub const DEFAULT_ROOT: &str = "/sys/kernel/config/tsm/report";

/// The `provider` value of the SEV-SNP guest driver.
pub const SEV_GUEST_PROVIDER: &str = "sev_guest";

/// Largest blob read (the kernel caps outblob/auxblob well below this).
pub const MAX_BLOB: u64 = 64 * 1024;

/// The file operations the protocol needs; [`RealFs`] is the kernel's configfs.
pub trait ConfigFs: Send + Sync {
    /// `mkdir`.
    fn mkdir(&self, dir: &Path) -> io::Result<()>;
    /// `rmdir`.
    fn rmdir(&self, dir: &Path) -> io::Result<()>;
    /// Writes one attribute in a single `write(2)`.
    fn write(&self, file: &Path, data: &[u8]) -> io::Result<()>;
    /// Reads one attribute (at most [`MAX_BLOB`] bytes).
    fn read(&self, file: &Path) -> io::Result<Vec<u8>>;
}

/// Plain file I/O on the real configfs.
#[derive(Clone, Copy, Debug, Default)]
pub struct RealFs;

impl ConfigFs for RealFs {
    fn mkdir(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir(dir)
    }
    fn rmdir(&self, dir: &Path) -> io::Result<()> {
        std::fs::remove_dir(dir)
    }
    fn write(&self, file: &Path, data: &[u8]) -> io::Result<()> {
        use std::io::Write;
        // configfs binary attributes take the whole value in one write; no truncation or append.
        let mut f = std::fs::OpenOptions::new().write(true).open(file)?;
        let n = f.write(data)?;
        if n != data.len() {
            return Err(io::Error::new(io::ErrorKind::WriteZero, format!("short write of {n} bytes")));
        }
        Ok(())
    }
    fn read(&self, file: &Path) -> io::Result<Vec<u8>> {
        use std::io::Read;
        let mut out = Vec::new();
        std::fs::File::open(file)?.take(MAX_BLOB + 1).read_to_end(&mut out)?;
        if out.len() as u64 > MAX_BLOB {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "attribute larger than expected"));
        }
        Ok(out)
    }
}

/// Why a configfs-tsm request failed; each variant names the step.
#[derive(Debug)]
pub enum TsmError {
    /// `mkdir` of the request directory.
    Mkdir(io::Error),
    /// Reading `provider`.
    Provider(io::Error),
    /// The provider is not `sev_guest`.
    WrongProvider(String),
    /// Writing `privlevel`.
    Privlevel(io::Error),
    /// Writing `inblob`.
    Inblob(io::Error),
    /// Reading `generation`, or it is not a number.
    Generation(String),
    /// Reading `outblob` (the firmware request itself).
    Outblob(io::Error),
    /// Reading `auxblob`.
    Auxblob(io::Error),
    /// `generation` changed during the request: another writer used the directory.
    Raced {
        /// Before.
        before: u64,
        /// After.
        after: u64,
    },
}

impl std::fmt::Display for TsmError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TsmError::Mkdir(e) => write!(f, "configfs-tsm mkdir: {e}"),
            TsmError::Provider(e) => write!(f, "configfs-tsm provider: {e}"),
            TsmError::WrongProvider(p) => write!(f, "configfs-tsm provider is {p:?}, not {SEV_GUEST_PROVIDER}"),
            TsmError::Privlevel(e) => write!(f, "configfs-tsm privlevel: {e}"),
            TsmError::Inblob(e) => write!(f, "configfs-tsm inblob: {e}"),
            TsmError::Generation(e) => write!(f, "configfs-tsm generation: {e}"),
            TsmError::Outblob(e) => write!(f, "configfs-tsm outblob (firmware request): {e}"),
            TsmError::Auxblob(e) => write!(f, "configfs-tsm auxblob: {e}"),
            TsmError::Raced { before, after } => {
                write!(f, "configfs-tsm generation moved from {before} to {after}: concurrent writer")
            }
        }
    }
}

impl std::error::Error for TsmError {}

/// What one request returns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsmReport {
    /// `outblob`: the raw report.
    pub outblob: Vec<u8>,
    /// `auxblob`: the host's certificate table (empty when the host supplies none).
    pub auxblob: Vec<u8>,
}

/// A configfs-tsm report interface rooted at a directory.
#[derive(Clone, Debug)]
pub struct Tsm<F: ConfigFs = RealFs> {
    root: PathBuf,
    fs: F,
}

impl Tsm<RealFs> {
    /// The kernel interface at `root` (normally [`DEFAULT_ROOT`]).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Tsm { root: root.into(), fs: RealFs }
    }
}

fn parse_generation(bytes: &[u8]) -> Result<u64, TsmError> {
    let text = std::str::from_utf8(bytes).map_err(|_| TsmError::Generation("not UTF-8".into()))?;
    text.trim().parse().map_err(|_| TsmError::Generation(format!("{:?} is not a number", text.trim())))
}

impl<F: ConfigFs> Tsm<F> {
    /// An interface over another [`ConfigFs`] (tests).
    pub fn with_fs(root: impl Into<PathBuf>, fs: F) -> Self {
        Tsm { root: root.into(), fs }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads `provider` in a fresh directory `name` and removes it again.
    pub fn provider(&self, name: &str) -> Result<String, TsmError> {
        let dir = self.root.join(name);
        self.fs.mkdir(&dir).map_err(TsmError::Mkdir)?;
        let result = self.fs.read(&dir.join("provider")).map_err(TsmError::Provider);
        let _ = self.fs.rmdir(&dir);
        Ok(String::from_utf8_lossy(&result?).trim().to_owned())
    }

    /// One request in a fresh directory `name` (unique per request), removed afterwards
    /// whatever happens.
    pub fn request(&self, name: &str, privlevel: u8, inblob: &[u8; 64]) -> Result<TsmReport, TsmError> {
        let dir = self.root.join(name);
        self.fs.mkdir(&dir).map_err(TsmError::Mkdir)?;
        let result = self.request_in(&dir, privlevel, inblob);
        // Best effort: configfs removes the attributes with the directory.
        let _ = self.fs.rmdir(&dir);
        result
    }

    fn request_in(&self, dir: &Path, privlevel: u8, inblob: &[u8; 64]) -> Result<TsmReport, TsmError> {
        let provider = self.fs.read(&dir.join("provider")).map_err(TsmError::Provider)?;
        let provider = String::from_utf8_lossy(&provider).trim().to_owned();
        if provider != SEV_GUEST_PROVIDER {
            return Err(TsmError::WrongProvider(provider));
        }
        self.fs.write(&dir.join("privlevel"), privlevel.to_string().as_bytes()).map_err(TsmError::Privlevel)?;
        // sev_guest accepts exactly 64 bytes.
        self.fs.write(&dir.join("inblob"), inblob).map_err(TsmError::Inblob)?;
        let read_generation = || {
            self.fs
                .read(&dir.join("generation"))
                .map_err(|e| TsmError::Generation(e.to_string()))
                .and_then(|b| parse_generation(&b))
        };
        let before = read_generation()?;
        let outblob = self.fs.read(&dir.join("outblob")).map_err(TsmError::Outblob)?;
        let auxblob = self.fs.read(&dir.join("auxblob")).map_err(TsmError::Auxblob)?;
        let after = read_generation()?;
        if before != after {
            return Err(TsmError::Raced { before, after });
        }
        Ok(TsmReport { outblob, auxblob })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A temporary directory that behaves like the kernel's configfs-tsm: `mkdir` creates the
    /// attribute files, writes bump `generation`, `outblob` answers with a report-shaped blob
    /// that echoes the `inblob` at offset 0x50, and `rmdir` removes the directory with them.
    pub(crate) struct FakeKernel {
        pub provider: &'static str,
        pub auxblob: Vec<u8>,
        /// Bump `generation` while `outblob` is read (a concurrent writer).
        pub race: bool,
        /// Answer `outblob` only after this long (a slow or throttling PSP).
        pub delay: Option<std::time::Duration>,
        pub log: Mutex<Vec<String>>,
    }

    impl FakeKernel {
        pub(crate) fn new(provider: &'static str) -> Self {
            FakeKernel { provider, auxblob: Vec::new(), race: false, delay: None, log: Mutex::new(Vec::new()) }
        }
        fn note(&self, s: String) {
            self.log.lock().unwrap().push(s);
        }
        fn bump(dir: &Path) -> io::Result<()> {
            let g: u64 = std::fs::read_to_string(dir.join("generation"))?.trim().parse().unwrap_or(0);
            std::fs::write(dir.join("generation"), format!("{}\n", g + 1))
        }
    }

    impl ConfigFs for FakeKernel {
        fn mkdir(&self, dir: &Path) -> io::Result<()> {
            std::fs::create_dir(dir)?;
            std::fs::write(dir.join("provider"), format!("{}\n", self.provider))?;
            std::fs::write(dir.join("generation"), "0\n")?;
            self.note(format!("mkdir {}", dir.file_name().unwrap().to_string_lossy()));
            Ok(())
        }
        fn rmdir(&self, dir: &Path) -> io::Result<()> {
            self.note("rmdir".into());
            std::fs::remove_dir_all(dir)
        }
        fn write(&self, file: &Path, data: &[u8]) -> io::Result<()> {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            if name == "inblob" && data.len() != 64 {
                return Err(io::Error::from_raw_os_error(22)); // EINVAL, as sev_guest does
            }
            if name == "privlevel" && std::str::from_utf8(data).ok().and_then(|s| s.parse::<u8>().ok()).is_none_or(|v| v > 3) {
                return Err(io::Error::from_raw_os_error(22));
            }
            std::fs::write(file, data)?;
            Self::bump(file.parent().unwrap())?;
            self.note(format!("write {name} {}", data.len()));
            Ok(())
        }
        fn read(&self, file: &Path) -> io::Result<Vec<u8>> {
            let name = file.file_name().unwrap().to_string_lossy().to_string();
            let dir = file.parent().unwrap();
            self.note(format!("read {name}"));
            match name.as_str() {
                "outblob" => {
                    if let Some(d) = self.delay {
                        std::thread::sleep(d);
                    }
                    let inblob = std::fs::read(dir.join("inblob"))?;
                    let mut report = vec![0u8; 0x4A0];
                    report[0] = 3;
                    report[0x34] = 1;
                    report[0x50..0x90].copy_from_slice(&inblob);
                    if self.race {
                        Self::bump(dir)?;
                    }
                    Ok(report)
                }
                "auxblob" => Ok(self.auxblob.clone()),
                _ => std::fs::read(file),
            }
        }
    }

    pub(crate) fn temp_root(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("pav-tsm-{tag}-{}-{:?}", std::process::id(), std::thread::current().id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        root
    }

    #[test]
    fn protocol_order_and_cleanup() {
        let root = temp_root("order");
        let tsm = Tsm::with_fs(&root, FakeKernel::new("sev_guest"));
        let inblob = [0x5A; 64];
        let r = tsm.request("pav-1", 0, &inblob).unwrap();
        assert_eq!(r.outblob.len(), 0x4A0);
        assert_eq!(&r.outblob[0x50..0x90], &inblob);
        assert!(r.auxblob.is_empty());
        let log = tsm.fs.log.lock().unwrap().clone();
        assert_eq!(
            log,
            [
                "mkdir pav-1",
                "read provider",
                "write privlevel 1",
                "write inblob 64",
                "read generation",
                "read outblob",
                "read auxblob",
                "read generation",
                "rmdir"
            ]
        );
        assert!(!root.join("pav-1").exists(), "request directory removed");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn wrong_provider_and_races_are_named() {
        let root = temp_root("provider");
        let tsm = Tsm::with_fs(&root, FakeKernel::new("tdx_guest"));
        assert!(matches!(tsm.request("a", 0, &[0; 64]), Err(TsmError::WrongProvider(p)) if p == "tdx_guest"));
        assert!(!root.join("a").exists());
        assert_eq!(tsm.provider("probe").unwrap(), "tdx_guest");
        let mut k = FakeKernel::new("sev_guest");
        k.race = true;
        let tsm = Tsm::with_fs(&root, k);
        assert!(matches!(tsm.request("b", 0, &[0; 64]), Err(TsmError::Raced { before: 2, after: 3 })));
        assert!(!root.join("b").exists());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn missing_interface_fails_at_mkdir() {
        let tsm = Tsm::new("/nonexistent/pav/tsm/report");
        assert!(matches!(tsm.request("x", 0, &[0; 64]), Err(TsmError::Mkdir(_))));
    }

    #[test]
    fn real_fs_reads_and_writes_files() {
        let root = temp_root("realfs");
        let f = root.join("attr");
        std::fs::write(&f, b"").unwrap();
        RealFs.write(&f, b"0").unwrap();
        assert_eq!(RealFs.read(&f).unwrap(), b"0");
        let _ = std::fs::remove_dir_all(&root);
    }
}
