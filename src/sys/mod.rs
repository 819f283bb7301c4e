//! The only module of the service with `unsafe` code: thin wrappers over the few Linux system
//! calls that PID 1 needs and the standard library does not offer (mount, reboot, setrlimit,
//! dup2, setsockopt(SO_BINDTODEVICE), netlink and signal masks).
//!
//! Each wrapper checks its inputs, converts strings to C strings itself, and turns the C error
//! convention (-1 and `errno`) into [`std::io::Error`]. Nothing here keeps state.
#![allow(unsafe_code)]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Mount flags the service uses (a subset of `MS_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MountFlags {
    /// Ignore set-user-id bits (`MS_NOSUID`).
    pub nosuid: bool,
    /// No device nodes (`MS_NODEV`).
    pub nodev: bool,
    /// No execution (`MS_NOEXEC`).
    pub noexec: bool,
}

impl MountFlags {
    fn bits(self) -> libc::c_ulong {
        let mut bits = 0;
        if self.nosuid {
            bits |= libc::MS_NOSUID;
        }
        if self.nodev {
            bits |= libc::MS_NODEV;
        }
        if self.noexec {
            bits |= libc::MS_NOEXEC;
        }
        bits
    }
}

fn cstring(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "string contains a NUL byte"))
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `mount(2)` of a kernel file system (`source` is usually the fs type, `data` its options).
pub fn mount(source: &str, target: &str, fstype: &str, flags: MountFlags, data: Option<&str>) -> io::Result<()> {
    let source = cstring(source)?;
    let target = cstring(target)?;
    let fstype = cstring(fstype)?;
    let data = data.map(cstring).transpose()?;
    let data_ptr = data.as_ref().map_or(std::ptr::null(), |d| d.as_ptr().cast::<libc::c_void>());
    // SAFETY: every pointer is either null (data, allowed by mount(2)) or points to a
    // NUL-terminated CString that lives until the call returns; mount does not keep them.
    check(unsafe { libc::mount(source.as_ptr(), target.as_ptr(), fstype.as_ptr(), flags.bits(), data_ptr) })?;
    Ok(())
}

/// What [`halt`] does after flushing file systems.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Halt {
    /// Power the machine off (`RB_POWER_OFF`).
    PowerOff,
    /// Restart the machine (`RB_AUTOBOOT`).
    Restart,
}

/// Flushes and powers off or restarts the machine. Only PID 1 (with `CAP_SYS_BOOT`) can do this;
/// if the kernel refuses, the caller still never gets control back: PID 1 must not exit, or
/// the kernel panics, so it parks the thread forever.
pub fn halt(how: Halt) -> ! {
    let cmd = match how {
        Halt::PowerOff => libc::RB_POWER_OFF,
        Halt::Restart => libc::RB_AUTOBOOT,
    };
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    // SAFETY: reboot(2) with a valid command takes no pointers; on success it does not return.
    let _ = unsafe { libc::reboot(cmd) };
    let err = io::Error::last_os_error();
    eprintln!("init: reboot({how:?}) failed: {err}; parking");
    loop {
        std::thread::park();
    }
}

/// Registers `handler` to run when the process calls `exit` (for PID 1, `std::process::exit`
/// would otherwise make the kernel panic with "Attempted to kill init").
pub fn at_exit(handler: extern "C" fn()) -> io::Result<()> {
    // SAFETY: atexit stores a plain function pointer with a 'static lifetime; the handler is
    // an `extern "C" fn()` as the C library expects.
    if unsafe { libc::atexit(handler) } != 0 {
        return Err(io::Error::other("atexit: too many handlers"));
    }
    Ok(())
}

/// Sets both the soft and the hard limit of open file descriptors.
pub fn set_nofile_limit(limit: u64) -> io::Result<()> {
    let rlim = libc::rlimit { rlim_cur: limit as libc::rlim_t, rlim_max: limit as libc::rlim_t };
    // SAFETY: `rlim` is a valid, initialised rlimit that outlives the call; the kernel only reads it.
    check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rlim) })?;
    Ok(())
}

/// Makes `console` the process's stdin, stdout and stderr (the kernel may start PID 1 without
/// them when the initramfs has no `/dev/console`).
pub fn redirect_stdio(console: &File) -> io::Result<()> {
    for target in 0..=2 {
        // SAFETY: dup2 only takes integers; `console` is an open descriptor for the duration of
        // the call and 0..=2 are the standard descriptors, which nothing else in the process
        // holds as an owned handle at this early point of boot.
        check(unsafe { libc::dup2(console.as_raw_fd(), target) })?;
    }
    Ok(())
}

/// Binds a socket to one network interface (`SO_BINDTODEVICE`), so broadcasts (DHCP) leave
/// through it even before it has an address or a route.
pub fn bind_to_device(socket: RawFd, interface: &str) -> io::Result<()> {
    let name = cstring(interface)?;
    let bytes = name.as_bytes_with_nul();
    // SAFETY: `bytes` is a valid buffer of the given length for the duration of the call; the
    // kernel copies it. An invalid `socket` makes the call fail with EBADF, not misbehave.
    check(unsafe {
        libc::setsockopt(
            socket,
            libc::SOL_SOCKET,
            libc::SO_BINDTODEVICE,
            bytes.as_ptr().cast::<libc::c_void>(),
            bytes.len() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// Opens a `NETLINK_ROUTE` socket; the returned file reads and writes whole netlink datagrams
/// to and from the kernel (an unconnected netlink socket sends to the kernel, port 0).
pub fn netlink_route_socket() -> io::Result<File> {
    // SAFETY: socket(2) takes only integers and returns a new descriptor or -1.
    let fd = check(unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) })?;
    // SAFETY: `fd` was just returned by socket(2), is open, and is owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let timeout = libc::timeval { tv_sec: 5, tv_usec: 0 };
    // SAFETY: `timeout` is a valid timeval that outlives the call; the kernel copies it.
    check(unsafe {
        libc::setsockopt(
            owned.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&timeout as *const libc::timeval).cast::<libc::c_void>(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    Ok(File::from(owned))
}

/// Signals PID 1 turns into a shutdown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShutdownSignal {
    /// SIGTERM (what a hypervisor's ACPI power button handler or a supervisor sends).
    Term,
    /// SIGINT (Ctrl-Alt-Del is delivered to init as SIGINT when `C_A_D` is off).
    Int,
    /// SIGPWR (power failure / the ACPI power button via the kernel's orderly_poweroff path).
    Pwr,
}

fn shutdown_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is a plain bit array; all-zero is a valid (empty) value that sigemptyset
    // then initialises properly.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, exclusively borrowed sigset_t; these calls cannot fail for
    // valid signal numbers.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGPWR);
    }
    set
}

/// Blocks SIGTERM, SIGINT and SIGPWR in the calling thread, so that threads spawned afterwards
/// inherit the mask and only [`wait_shutdown_signal`] receives them. Call before any thread
/// (and before the async runtime) starts.
pub fn block_shutdown_signals() -> io::Result<()> {
    let set = shutdown_sigset();
    // SAFETY: `set` is a valid, initialised sigset_t; a null old-set pointer is allowed.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok(())
}

/// Waits (blocking) until one of the signals blocked by [`block_shutdown_signals`] arrives.
pub fn wait_shutdown_signal() -> io::Result<ShutdownSignal> {
    let set = shutdown_sigset();
    loop {
        let mut sig: libc::c_int = 0;
        // SAFETY: `set` is a valid sigset_t and `sig` a valid out-pointer, both live for the call.
        let ret = unsafe { libc::sigwait(&set, &mut sig) };
        if ret != 0 {
            return Err(io::Error::from_raw_os_error(ret));
        }
        match sig {
            libc::SIGTERM => return Ok(ShutdownSignal::Term),
            libc::SIGINT => return Ok(ShutdownSignal::Int),
            libc::SIGPWR => return Ok(ShutdownSignal::Pwr),
            _ => continue,
        }
    }
}

/// `SNP_GET_REPORT` of `/dev/sev-guest` (uapi `linux/sev-guest.h`): `_IOWR('S', 0, struct
/// snp_guest_request_ioctl)`, whose argument is 32 bytes.
pub const SNP_GET_REPORT: libc::c_ulong = (3 << 30) | ((std::mem::size_of::<SnpGuestRequest>() as libc::c_ulong) << 16) | ((b'S' as libc::c_ulong) << 8);

/// `struct snp_guest_request_ioctl`.
#[repr(C)]
struct SnpGuestRequest {
    msg_version: u8,
    req_data: u64,
    resp_data: u64,
    exitinfo2: u64,
}

/// `struct snp_report_req`: REPORT_DATA, the VMPL to report at, reserved.
#[repr(C)]
struct SnpReportRequest {
    user_data: [u8; 64],
    vmpl: u32,
    rsvd: [u8; 28],
}

/// Size of `struct snp_report_resp` (the firmware's MSG_REPORT_RSP, padded).
pub const SNP_REPORT_RESPONSE_LEN: usize = 4000;

/// Asks the SEV-SNP firmware for a report through `/dev/sev-guest` (opened by the caller).
/// Returns the raw response buffer; on an ioctl failure the error carries the firmware's
/// `exitinfo2` in its text.
pub fn snp_get_report(device: &File, report_data: &[u8; 64], vmpl: u32) -> io::Result<Box<[u8; SNP_REPORT_RESPONSE_LEN]>> {
    let request = SnpReportRequest { user_data: *report_data, vmpl, rsvd: [0; 28] };
    let mut response = Box::new([0u8; SNP_REPORT_RESPONSE_LEN]);
    let mut ioctl = SnpGuestRequest {
        msg_version: 1,
        req_data: &request as *const SnpReportRequest as u64,
        resp_data: response.as_mut_ptr() as u64,
        exitinfo2: 0,
    };
    // SAFETY: the fd is open for the duration of the call; `ioctl` points at a live, correctly
    // laid out `snp_guest_request_ioctl` whose two pointers reference a live request and a
    // 4000-byte response buffer that the kernel writes at most `sizeof(snp_report_resp)` into.
    let ret = unsafe { libc::ioctl(device.as_raw_fd(), SNP_GET_REPORT as _, &mut ioctl as *mut SnpGuestRequest) };
    if ret < 0 {
        let os = io::Error::last_os_error();
        return Err(io::Error::new(os.kind(), format!("SNP_GET_REPORT: {os} (exitinfo2 {:#x})", ioctl.exitinfo2)));
    }
    Ok(response)
}

#[cfg(test)]
mod sev_guest_tests {
    use super::*;

    #[test]
    fn ioctl_layout_matches_the_uapi() {
        assert_eq!(std::mem::size_of::<SnpGuestRequest>(), 32);
        assert_eq!(std::mem::size_of::<SnpReportRequest>(), 96);
        assert_eq!(SNP_GET_REPORT, 0xC020_5300);
    }
}
