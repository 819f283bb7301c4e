//! The launch digest against `sev-snp-measure` 0.0.13 (PyPI), the reference implementation.
//!
//! Inputs (each test prints why it is skipped when one is absent):
//! * `SEV_SNP_MEASURE`: path of the `sev-snp-measure` CLI (default `/opt/pav-venv/bin/sev-snp-measure`)
//!   (`python3 -m venv /opt/pav-venv && /opt/pav-venv/bin/pip install sev-snp-measure==0.0.13`);
//! * `PAV_OVMF` (default `/usr/share/ovmf/OVMF.fd`, Debian package `ovmf`): a real 2 MiB firmware,
//!   measurable without a kernel only;
//! * `PAV_AMDSEV_OVMF` (default: found in the cargo registry as
//!   `sev-8.0.0/tests/measurement/ovmf_AmdSev_suffix.bin`): the last 4 KiB of an edk2 AmdSevX64
//!   build, which has the SNP_KERNEL_HASHES section needed for kernel/initrd/cmdline.
//!
//! Fixed reference digests (computed with sev-snp-measure 0.0.13, `shared/research/snp.md` §5)
//! are checked even when the CLI is absent.

use paypal_auth_verify::measure::{self, DirectBoot, Inputs, MeasureError, VmmType};
use std::path::{Path, PathBuf};
use std::process::Command;

fn debian_ovmf() -> Option<PathBuf> {
    let p = PathBuf::from(std::env::var("PAV_OVMF").unwrap_or_else(|_| "/usr/share/ovmf/OVMF.fd".into()));
    p.is_file().then_some(p)
}

fn amdsev_ovmf() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("PAV_AMDSEV_OVMF") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let cargo_home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|_| std::env::var("HOME").map(|h| Path::new(&h).join(".cargo")))
        .ok()?;
    let src = cargo_home.join("registry/src");
    for index in std::fs::read_dir(src).ok()?.flatten() {
        let p = index.path().join("sev-8.0.0/tests/measurement/ovmf_AmdSev_suffix.bin");
        if p.is_file() {
            return Some(p);
        }
    }
    None
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    paypal_auth_verify::hex(&Sha256::digest(data))
}

const DEBIAN_OVMF_SHA256: &str = "7b456907dd0786d415999e801a1ac4637b8ed4d7cf5378cfc6edbe5e574dd773";
const AMDSEV_SUFFIX_SHA256: &str = "8f765dfabc127fc0a938a0744a3103ec15864d7d794eb4c398aa976b6d6ab16c";

struct Case {
    vcpus: u32,
    vcpu_type: Option<&'static str>,
    guest_features: u64,
    vmm: &'static str,
    kernel: Option<&'static [u8]>,
    initrd: Option<&'static [u8]>,
    append: Option<&'static str>,
}

fn ours(ovmf: &[u8], c: &Case) -> Result<String, MeasureError> {
    let vmm = VmmType::parse(c.vmm).unwrap();
    let sig = c.vcpu_type.map(|t| measure::vcpu_sig(t).unwrap()).unwrap_or(0);
    let direct_boot = c.kernel.map(|kernel| DirectBoot { kernel, initrd: c.initrd, append: c.append });
    measure::launch_digest(&Inputs {
        ovmf,
        direct_boot,
        vcpus: c.vcpus,
        vcpu_sig: sig,
        guest_features: c.guest_features,
        vmm,
        ovmf_hash: None,
    })
    .map(|d| paypal_auth_verify::hex(&d))
}

fn theirs(tool: &str, ovmf: &Path, c: &Case, tmp: &Path) -> String {
    let mut cmd = Command::new(tool);
    cmd.args(["--mode", "snp", "--ovmf"]).arg(ovmf);
    cmd.args(["--vcpus", &c.vcpus.to_string(), "--guest-features", &format!("{:#x}", c.guest_features)]);
    cmd.args(["--vmm-type", if c.vmm == "qemu" { "QEMU" } else { c.vmm }]);
    if let Some(t) = c.vcpu_type {
        cmd.args(["--vcpu-type", t]);
    }
    // Two workers share `tmp`: write each input under a private name and rename it into place,
    // so the tool never reads a file another worker is rewriting.
    let place = |kind: &str, bytes: &[u8]| {
        let p = tmp.join(format!("{kind}-{}", sha256_hex(bytes)));
        let private = tmp.join(format!("{kind}-{:?}.tmp", std::thread::current().id()));
        std::fs::write(&private, bytes).unwrap();
        std::fs::rename(&private, &p).unwrap();
        p
    };
    if let Some(k) = c.kernel {
        cmd.arg("--kernel").arg(place("kernel", k));
    }
    if let Some(i) = c.initrd {
        cmd.arg("--initrd").arg(place("initrd", i));
    }
    if let Some(a) = c.append {
        cmd.args(["--append", a]);
    }
    let out = cmd.output().unwrap_or_else(|e| panic!("running {tool}: {e}"));
    assert!(out.status.success(), "{tool} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn grid(direct_boot: bool) -> Vec<Case> {
    const KERNEL: &[u8] = b"kernel";
    const INITRD: &[u8] = b"initrd";
    let mut cases = Vec::new();
    for (vcpus, vcpu_type) in
        [(1, "EPYC-v4"), (2, "EPYC-Milan"), (4, "EPYC-Genoa"), (3, "EPYC-Turin"), (8, "EPYC-Rome"), (64, "EPYC-Milan-v2")]
    {
        for gf in [0x1, 0x21, 0x0, 0x7f] {
            let (kernel, initrd, append) = if direct_boot {
                match vcpus % 3 {
                    0 => (Some(KERNEL), None, Some("console=ttyS0 rdinit=/init quiet")),
                    1 => (Some(KERNEL), Some(INITRD), Some("console=ttyS0")),
                    _ => (Some(&b""[..]), Some(&b""[..]), None),
                }
            } else {
                (None, None, None)
            };
            cases.push(Case { vcpus, vcpu_type: Some(vcpu_type), guest_features: gf, vmm: "qemu", kernel, initrd, append });
        }
    }
    for vmm in ["ec2", "gce"] {
        for vcpus in [1, 2] {
            let kernel = direct_boot.then_some(&b"kernel"[..]);
            cases.push(Case { vcpus, vcpu_type: None, guest_features: 0x1, vmm, kernel, initrd: None, append: None });
        }
    }
    cases
}

fn run_grid(name: &str, ovmf_path: &Path, direct_boot: bool) {
    // .ci/run installs the reference into /opt/pav-venv; SEV_SNP_MEASURE points elsewhere.
    let tool = std::env::var("SEV_SNP_MEASURE").unwrap_or_else(|_| "/opt/pav-venv/bin/sev-snp-measure".into());
    if !Path::new(&tool).is_file() {
        println!("SKIP {name}: {tool} does not exist (python3 -m venv /opt/pav-venv && /opt/pav-venv/bin/pip install sev-snp-measure==0.0.13, or set SEV_SNP_MEASURE)");
        return;
    }
    let ovmf = std::fs::read(ovmf_path).unwrap();
    let tmp = std::env::temp_dir().join(format!("pav-measure-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let cases = grid(direct_boot);
    // Two workers: the Python start-up dominates.
    let results: Vec<(usize, String, String)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<(usize, &Case)>> =
            (0..2).map(|w| cases.iter().enumerate().filter(|(i, _)| i % 2 == w).collect()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let (tool, tmp, ovmf) = (&tool, &tmp, &ovmf);
                s.spawn(move || {
                    chunk
                        .into_iter()
                        .map(|(i, c)| (i, ours(ovmf, c).unwrap(), theirs(tool, ovmf_path, c, tmp)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let _ = std::fs::remove_dir_all(&tmp);
    for (i, a, b) in &results {
        let c = &cases[*i];
        assert_eq!(
            a, b,
            "{name} case {i}: vcpus {} type {:?} gf {:#x} vmm {} kernel {:?} initrd {:?} append {:?}",
            c.vcpus, c.vcpu_type, c.guest_features, c.vmm, c.kernel, c.initrd, c.append
        );
    }
    println!("{name}: {} cases identical to sev-snp-measure", results.len());
}

#[test]
fn grid_debian_ovmf_firmware_only() {
    let Some(p) = debian_ovmf() else {
        println!("SKIP: no /usr/share/ovmf/OVMF.fd (apt-get install ovmf) and PAV_OVMF unset");
        return;
    };
    run_grid("debian-ovmf", &p, false);
}

#[test]
fn grid_amdsev_direct_boot() {
    let Some(p) = amdsev_ovmf() else {
        println!("SKIP: no AmdSev OVMF (set PAV_AMDSEV_OVMF, or fetch the sev 8.0.0 crate into the cargo registry)");
        return;
    };
    run_grid("amdsev-direct-boot", &p, true);
    run_grid("amdsev-firmware-only", &p, false);
}

#[test]
fn debian_ovmf_fixed_vectors_and_no_kernel_hashes() {
    let Some(p) = debian_ovmf() else {
        println!("SKIP: no Debian OVMF.fd");
        return;
    };
    let ovmf = std::fs::read(&p).unwrap();
    let one =
        Case { vcpus: 1, vcpu_type: Some("EPYC-v4"), guest_features: 0x1, vmm: "qemu", kernel: None, initrd: None, append: None };
    if sha256_hex(&ovmf) == DEBIAN_OVMF_SHA256 {
        assert_eq!(
            paypal_auth_verify::hex(&measure::ovmf_hash(&ovmf).unwrap()),
            "ba2c811512ef868474f239a21f7d7057d65a20de87a003c4f116e4fb1573183bfbcd75c3e99b2f558575a5d0094f73c6"
        );
        assert_eq!(
            ours(&ovmf, &one).unwrap(),
            "11570979c77a0adb515761a702527c8b9e11554e730552621d950988613a3a75c6ff1703f540bd22a9beede8fe7a97e3"
        );
        let four = Case { vcpus: 4, vcpu_type: Some("EPYC-Milan"), guest_features: 0x21, ..one };
        assert_eq!(
            ours(&ovmf, &four).unwrap(),
            "968824524f03c9ab191fbb02ac50d286a4aa1b5922ed74a422a806ce376a9e589d16c8dd8202c256834c0d4013e2584b"
        );
    } else {
        println!("SKIP fixed vectors: {} is not the bookworm OVMF.fd the vectors were computed from", p.display());
    }
    // Debian's build has no SNP_KERNEL_HASHES section: measured direct boot is impossible with it.
    let with_kernel = Case { kernel: Some(b"kernel"), ..one };
    assert_eq!(ours(&ovmf, &with_kernel), Err(MeasureError::NoKernelHashesSection));
}

#[test]
fn amdsev_fixed_vectors() {
    let Some(p) = amdsev_ovmf() else {
        println!("SKIP: no AmdSev OVMF suffix");
        return;
    };
    let ovmf = std::fs::read(&p).unwrap();
    if sha256_hex(&ovmf) != AMDSEV_SUFFIX_SHA256 {
        println!("SKIP: {} is not the sev 8.0.0 AmdSev suffix", p.display());
        return;
    }
    assert_eq!(
        paypal_auth_verify::hex(&measure::ovmf_hash(&ovmf).unwrap()),
        "086e2e9149ebf45abdc3445fba5b2da8270bdbb04094d7a2c37faaa4b24af3aa16aff8c374c2a55c467a50da6d466b74"
    );
    let base = Case {
        vcpus: 1,
        vcpu_type: Some("EPYC-v4"),
        guest_features: 0x1,
        vmm: "qemu",
        kernel: Some(b"kernel"),
        initrd: Some(b"initrd"),
        append: Some("console=ttyS0"),
    };
    let expect = [
        (Case { ..base }, "b7ce1adb57c2fbf244f50bdf73fe7ee172731f9e3a563f24277a55d8f64bf7894cec1ffa85458aca2c5e0062f999d82b"),
        (
            Case { vcpus: 2, vcpu_type: Some("EPYC-Milan"), ..base },
            "86c65b4a0633232b83979ec05ee1a9ffbf5b1cad5811b613f97f784f4c652e96ee1985233a9eca9c0d1fa68fcf504a46",
        ),
        (
            Case { vcpus: 4, vcpu_type: Some("EPYC-Genoa"), ..base },
            "e0b35a492d19e251075c8617337af95365f1e26ba744daf72321a4495ef13a61065abb4ebed051e2de384d2018bbd22d",
        ),
        (
            Case { initrd: None, ..base },
            "207160d9133f3294786b7d22d1e1b523073b0260f25b84b87efc5853614ad5cfbcedd8a004fea6cc74af7ae18d7edf22",
        ),
        (
            Case { append: None, ..base },
            "20606e3b996ba8975c9ea341fe60f309b2c8d1bac12bcd39bd8c4107c3b581d4d08a40370c2146a289abb625ae38ff4c",
        ),
        (
            Case { kernel: Some(b""), initrd: Some(b""), append: Some("console=ttyS0 loglevel=7"), ..base },
            "6d287813eb5222d770f75005c664e34c204f385ce832cc2ce7d0d6f354454362f390ef83a92046c042e706363b4b08fa",
        ),
        (
            Case { kernel: Some(b""), initrd: Some(b""), append: Some("console=ttyS0 loglevel=7"), guest_features: 0x21, ..base },
            "803f691094946e42068aaa3a8f9e26a5c89f36f7b73ecfb28c653360fe4b3aba7e534442e7e1e17895dfe778d0228977",
        ),
        (
            Case { kernel: None, initrd: None, append: None, guest_features: 0x21, ..base },
            "e1e1ca029dd7973ab9513295be68198472dcd4fc834bd9af9b63f6e8a1674dbf281a9278a4a2ebe0eed9f22adbcd0e2b",
        ),
        (
            Case { vcpus: 4, kernel: Some(b""), initrd: Some(b""), append: None, guest_features: 0x21, ..base },
            "4953b1fb416fa874980e8442b3706d345926d5f38879134e00813c5d7abcbe78eafe7b422907be0b4698e2414a631942",
        ),
        (
            Case { vcpus: 2, vcpu_type: Some("EPYC-Turin"), kernel: Some(b""), initrd: Some(b""), guest_features: 0x21, ..base },
            "1a07800af12ab12099c80586faca302a72de4a2bd8cd294289524695968b205255edfac166adbe1e104c35833a5086e2",
        ),
        (
            Case { vmm: "ec2", vcpu_type: None, kernel: Some(b""), initrd: Some(b""), append: None, ..base },
            "0883bd0eeb716e65b7b977a321c278d1e51b33b5c655fab985443bbcc65c086b9c15e8a0bd8811050dec7e24964e5056",
        ),
        (
            Case {
                vmm: "ec2",
                vcpu_type: None,
                kernel: Some(b""),
                initrd: Some(b""),
                append: None,
                guest_features: 0x21,
                ..base
            },
            "0ce9ccc06bab55eebe8abc234f3df6514883977a68a591b71052498ab52b2f1aa415db338033946ef93aa8278c0d67fb",
        ),
        (
            Case { vmm: "gce", vcpu_type: None, kernel: Some(b""), initrd: Some(b""), append: None, ..base },
            "5da7106cf14cf46b1725ebab123eb9e53bd46a1e9f400cd0c08e7827b04b688ea8b4e403c8404efed4397ea5d5d0722e",
        ),
    ];
    for (i, (c, want)) in expect.iter().enumerate() {
        assert_eq!(ours(&ovmf, c).unwrap(), *want, "fixed vector {i}");
    }
}
