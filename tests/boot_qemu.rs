//! Boot tests of the real image under QEMU (TCG): direct kernel boot and UEFI boot of the GPT
//! disk, each up to the HTTPS listener; the initramfs contents. Each test prints why it skipped
//! when a tool is missing; CI installs them (see docs/image.md).

mod qemu;

use qemu::*;
use std::path::Path;
use std::time::Duration;

#[test]
fn direct_boot_reaches_https_listener() {
    skip_if!(boot_skip_reason());
    let image = image();
    let _one = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let cmdline = std::fs::read_to_string(image.join("cmdline")).expect("cmdline");
    let mut vm = Vm::start(
        "direct",
        Boot::Direct { kernel: &image.join("bzImage"), initrd: &image.join("initrd.cpio"), cmdline: &cmdline },
        start_metadata_stub(),
    );
    check_boot_to_listener(&mut vm, Duration::from_secs(180));
    // Graceful stop: ACPI power button -> kernel's tiny power button driver -> SIGPWR to /init
    // -> the service stops -> PID 1 powers off -> QEMU exits.
    vm.power_button();
    vm.wait_for("init: Pwr received; shutting down", Duration::from_secs(30));
    vm.wait_for("init: service stopped; powering off", Duration::from_secs(30));
    vm.wait_exit(Duration::from_secs(30));
    assert!(vm.log().contains("reboot: Power down"), "no clean power-off; serial log:\n{}", vm.log());
}

#[test]
fn uefi_boot_of_disk_image_reaches_https_listener() {
    skip_if!(boot_skip_reason());
    if !Path::new(OVMF_CODE).exists() {
        eprintln!("SKIPPED: missing {OVMF_CODE} (Debian package ovmf)");
        return;
    }
    let image = image();
    let _one = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let vars = Path::new(TMP).join("OVMF_VARS_4M.fd");
    std::fs::copy(OVMF_VARS, &vars).expect("copy OVMF vars");
    let mut vm = Vm::start("uefi", Boot::Uefi { disk: &image.join("disk.raw"), vars: &vars }, start_metadata_stub());
    vm.wait_for("EFI stub: ", Duration::from_secs(240));
    check_boot_to_listener(&mut vm, Duration::from_secs(240));
}

/// One newc cpio entry: name, mode, uid, gid, mtime, rdev (major, minor), size.
#[derive(Debug)]
struct Entry {
    name: String,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    rdev: (u32, u32),
    size: usize,
}

fn parse_newc(data: &[u8]) -> Vec<Entry> {
    let mut entries = Vec::new();
    let mut at = 0;
    let align = |n: usize| (n + 3) & !3;
    loop {
        let header = &data[at..at + 110];
        assert_eq!(&header[..6], b"070701", "not a newc cpio header at {at}");
        let field = |i: usize| {
            let text = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i]).expect("hex");
            u32::from_str_radix(text, 16).expect("hex field")
        };
        let (mode, uid, gid, mtime, size, rmaj, rmin, namesize) =
            (field(1), field(2), field(3), field(5), field(6) as usize, field(9), field(10), field(11) as usize);
        let name = String::from_utf8(data[at + 110..at + 110 + namesize - 1].to_vec()).expect("utf-8 name");
        at = align(at + 110 + namesize);
        if name == "TRAILER!!!" {
            return entries;
        }
        entries.push(Entry { name, mode, uid, gid, mtime: u64::from(mtime), rdev: (rmaj, rmin), size });
        at = align(at + size);
    }
}

#[test]
fn initramfs_holds_exactly_init_and_console() {
    skip_if!(build_skip_reason());
    let image = image();
    let cpio = std::fs::read(image.join("initrd.cpio")).expect("read initrd.cpio");
    let init = std::fs::read(image.join("init")).expect("read init");
    let entries = parse_newc(&cpio);
    let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["dev", "dev/console", "init"], "{entries:#?}");
    let (dev, console, init_entry) = (&entries[0], &entries[1], &entries[2]);
    assert_eq!(dev.mode, 0o040755);
    assert_eq!((console.mode, console.rdev), (0o020600, (5, 1)));
    assert_eq!((init_entry.mode, init_entry.size), (0o100755, init.len()));
    for e in &entries {
        assert_eq!((e.uid, e.gid, e.mtime), (0, 0, SOURCE_DATE_EPOCH), "{e:?}");
    }
    // The archive's /init is byte for byte the binary that was built.
    let at = cpio.windows(init.len().min(4096)).position(|w| w == &init[..init.len().min(4096)]).expect("init data in archive");
    assert_eq!(&cpio[at..at + init.len()], &init[..]);
    eprintln!("figures: init {} bytes, initrd.cpio {} bytes", init.len(), cpio.len());
}

#[test]
fn fatal_service_error_restarts_the_vm_cleanly() {
    skip_if!(boot_skip_reason());
    let image = image();
    let _one = QEMU_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    // An invalid configuration source makes the service exit with an error: PID 1 must turn
    // that into a logged, clean restart (here: QEMU exits because of -no-reboot), never into
    // "Kernel panic - not syncing: Attempted to kill init".
    let cmdline = "console=ttyS0,115200 panic=-1 CONFIG_SOURCE=bogus";
    let mut vm = Vm::start(
        "fatal",
        Boot::Direct { kernel: &image.join("bzImage"), initrd: &image.join("initrd.cpio"), cmdline },
        start_metadata_stub(),
    );
    vm.wait_for("boot: step dhcp ok", Duration::from_secs(180));
    vm.wait_for("init: service exited; restarting", Duration::from_secs(60));
    vm.wait_exit(Duration::from_secs(60));
    let log = vm.log();
    assert!(log.contains("reboot: Restarting system"), "no clean restart; serial log:\n{log}");
    assert!(!log.contains("Kernel panic"), "init died instead of restarting; serial log:\n{log}");
}
