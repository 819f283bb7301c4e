//! `paypal-auth-verify`: the command-line verifier. Exit 0 = all checks hold, 1 = a check
//! failed, 2 = bad input (unreadable file, not a report/bundle, bad arguments).
#![forbid(unsafe_code)]

use paypal_auth_verify::certs::{Cert, Role};
use paypal_auth_verify::check::{self, Check, ReportOptions, Status};
use paypal_auth_verify::evidence::binding::Environment;
use paypal_auth_verify::live::{self, LiveOptions};
use paypal_auth_verify::measure::{self, DirectBoot, Inputs, VmmType};
use paypal_auth_verify::page::{self, Expected, ExpectedMeasurement, PageOptions};
use paypal_auth_verify::policy::{Overrides, Policy};
use paypal_auth_verify::report::{Product, Report};
use paypal_auth_verify::verdict::{Coverage, Verdict};
use paypal_auth_verify::{hex, time, unhex};
use std::collections::HashMap;
use std::process::ExitCode;

const USAGE: &str = "\
usage:
  paypal-auth-verify report <report.bin> [--cert <vcek|vlek .der|.pem>] [--product milan|genoa|turin]
                            [--at <RFC 3339>] [--policy FILE] [--allow-debug] [--max-vmpl N] [--json]
  paypal-auth-verify page <evidence.json | page.html> [--client-id ID] [--domain D] [--environment live|sandbox]
                          [--cert FILE] [--measurement HEX [--measurement-covers image|firmware]
                           | --image DIR --ovmf FILE --vcpus N --vcpu-type T [--guest-features X] [--vmm-type T]]
                          [report options] [--json]
  paypal-auth-verify measure --ovmf FILE [--kernel F [--initrd F] [--append S]] --vcpus N
                             (--vcpu-type T | --vcpu-sig N) [--guest-features X] [--vmm-type qemu|ec2|gce]
                             [--snp-ovmf-hash HEX] [--output-format hex|base64] [--json]
  paypal-auth-verify live https://host[:port] [page options] [--ca FILE] [--connect ADDR:PORT] [--json]

exit status: 0 all checks hold, 1 a check failed, 2 bad input";

/// Bad input: printed, exit 2.
struct BadInput(String);

type Args = (Vec<String>, HashMap<String, String>);

const FLAGS: &[&str] = &["--json", "--allow-debug"];

fn parse_args(argv: &[String]) -> Result<Args, BadInput> {
    let mut positional = Vec::new();
    let mut named = HashMap::new();
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if let Some(stripped) = a.strip_prefix("--") {
            if let Some((k, v)) = stripped.split_once('=') {
                named.insert(format!("--{k}"), v.to_owned());
            } else if FLAGS.contains(&a.as_str()) {
                named.insert(a.clone(), String::new());
            } else {
                let v = argv.get(i + 1).ok_or_else(|| BadInput(format!("{a} needs a value")))?;
                named.insert(a.clone(), v.clone());
                i += 1;
            }
        } else {
            positional.push(a.clone());
        }
        i += 1;
    }
    Ok((positional, named))
}

fn read(path: &str) -> Result<Vec<u8>, BadInput> {
    std::fs::read(path).map_err(|e| BadInput(format!("cannot read {path}: {e}")))
}

fn check_known(named: &HashMap<String, String>, known: &[&str]) -> Result<(), BadInput> {
    for k in named.keys() {
        if !known.contains(&k.as_str()) {
            return Err(BadInput(format!("unknown option {k}")));
        }
    }
    Ok(())
}

const REPORT_OPTS: &[&str] = &["--cert", "--product", "--at", "--policy", "--allow-debug", "--max-vmpl", "--json"];
const PAGE_OPTS: &[&str] = &[
    "--client-id",
    "--domain",
    "--environment",
    "--measurement",
    "--measurement-covers",
    "--image",
    "--ovmf",
    "--kernel",
    "--initrd",
    "--append",
    "--vcpus",
    "--vcpu-type",
    "--vcpu-sig",
    "--guest-features",
    "--vmm-type",
    "--snp-ovmf-hash",
];

fn report_options(named: &HashMap<String, String>) -> Result<ReportOptions, BadInput> {
    let mut o = ReportOptions::new();
    if let Some(p) = named.get("--product") {
        o.product = Some(Product::parse(p).ok_or_else(|| BadInput(format!("--product {p:?} is not milan, genoa or turin")))?);
    }
    if let Some(t) = named.get("--at") {
        o.at = time::parse_rfc3339(t).ok_or_else(|| BadInput(format!("--at {t:?} is not an RFC 3339 time")))?;
    }
    if let Some(path) = named.get("--policy") {
        let text = String::from_utf8(read(path)?).map_err(|_| BadInput(format!("{path} is not UTF-8")))?;
        o.policy = Policy::from_json(&text).map_err(|e| BadInput(format!("{path}: {e}")))?;
    }
    let max_vmpl = match named.get("--max-vmpl") {
        Some(v) => Some(v.parse().map_err(|_| BadInput(format!("--max-vmpl {v:?} is not a number")))?),
        None => None,
    };
    o.overrides = Overrides { allow_debug: named.contains_key("--allow-debug"), max_vmpl };
    Ok(o)
}

fn cert_option(named: &HashMap<String, String>) -> Result<Option<Cert>, BadInput> {
    match named.get("--cert") {
        None => Ok(None),
        Some(path) => Cert::parse(&read(path)?, Role::Vcek)
            .map(Some)
            .map_err(|_| BadInput(format!("{path} is not a DER or PEM certificate"))),
    }
}

fn parse_int(text: &str, what: &str) -> Result<u64, BadInput> {
    let t = text.trim();
    let r = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16),
        None => t.parse(),
    };
    r.map_err(|_| BadInput(format!("{what} {text:?} is not a number")))
}

/// Files read for `measure`/`--image`.
struct MeasureFiles {
    ovmf: Vec<u8>,
    kernel: Option<Vec<u8>>,
    initrd: Option<Vec<u8>>,
    append: Option<String>,
    vcpus: u32,
    vcpu_sig: u32,
    guest_features: u64,
    vmm: VmmType,
    ovmf_hash: Option<[u8; 48]>,
}

impl MeasureFiles {
    fn digest(&self) -> Result<[u8; 48], measure::MeasureError> {
        let direct_boot = self.kernel.as_deref().map(|kernel| DirectBoot {
            kernel,
            initrd: self.initrd.as_deref(),
            append: self.append.as_deref(),
        });
        measure::launch_digest(&Inputs {
            ovmf: &self.ovmf,
            direct_boot,
            vcpus: self.vcpus,
            vcpu_sig: self.vcpu_sig,
            guest_features: self.guest_features,
            vmm: self.vmm,
            ovmf_hash: self.ovmf_hash,
        })
    }
}

fn first_existing(dir: &str, names: &[&str]) -> Option<String> {
    names.iter().map(|n| format!("{dir}/{n}")).find(|p| std::path::Path::new(p).is_file())
}

fn measure_files(named: &HashMap<String, String>) -> Result<MeasureFiles, BadInput> {
    let ovmf_path = named.get("--ovmf").ok_or_else(|| BadInput("--ovmf FILE is required".into()))?;
    let vmm = match named.get("--vmm-type") {
        Some(v) => VmmType::parse(v).ok_or_else(|| BadInput(format!("--vmm-type {v:?} is not qemu, ec2 or gce")))?,
        None => VmmType::Qemu,
    };
    let vcpus = named.get("--vcpus").ok_or_else(|| BadInput("--vcpus N is required".into()))?;
    let vcpus = u32::try_from(parse_int(vcpus, "--vcpus")?).map_err(|_| BadInput("--vcpus is too large".into()))?;
    let vcpu_sig = match (named.get("--vcpu-type"), named.get("--vcpu-sig")) {
        (Some(t), None) => measure::vcpu_sig(t).ok_or_else(|| {
            let names: Vec<&str> = measure::VCPU_TYPES.iter().map(|(n, _)| *n).collect();
            BadInput(format!("--vcpu-type {t:?} is not one of {}", names.join(", ")))
        })?,
        (None, Some(s)) => u32::try_from(parse_int(s, "--vcpu-sig")?).map_err(|_| BadInput("--vcpu-sig is too large".into()))?,
        (None, None) if vmm != VmmType::Qemu => 0,
        (None, None) => return Err(BadInput("--vcpu-type T or --vcpu-sig N is required".into())),
        (Some(_), Some(_)) => return Err(BadInput("give --vcpu-type or --vcpu-sig, not both".into())),
    };
    let guest_features = match named.get("--guest-features") {
        Some(g) => parse_int(g, "--guest-features")?,
        None => 0x1,
    };
    let ovmf_hash = match named.get("--snp-ovmf-hash") {
        Some(h) => Some(
            unhex(h)
                .and_then(|v| <[u8; 48]>::try_from(v).ok())
                .ok_or_else(|| BadInput("--snp-ovmf-hash is not 96 hex digits".into()))?,
        ),
        None => None,
    };
    let (mut kernel, mut initrd, mut append) =
        (named.get("--kernel").cloned(), named.get("--initrd").cloned(), named.get("--append").cloned());
    if let Some(dir) = named.get("--image") {
        kernel = Some(
            first_existing(dir, &["kernel", "bzImage", "vmlinuz"])
                .ok_or_else(|| BadInput(format!("{dir} has no kernel, bzImage or vmlinuz")))?,
        );
        initrd = first_existing(dir, &["initrd", "initramfs.cpio", "initramfs.cpio.gz", "initrd.img"]);
        if let Some(c) = first_existing(dir, &["cmdline", "cmdline.txt"]) {
            let text = String::from_utf8(read(&c)?).map_err(|_| BadInput(format!("{c} is not UTF-8")))?;
            append = Some(text.trim_end_matches(['\n', '\r']).to_owned());
        }
    }
    if kernel.is_none() && (initrd.is_some() || append.is_some()) {
        return Err(BadInput(measure::MeasureError::KernelRequired.to_string()));
    }
    Ok(MeasureFiles {
        ovmf: read(ovmf_path)?,
        kernel: kernel.map(|k| read(&k)).transpose()?,
        initrd: initrd.map(|i| read(&i)).transpose()?,
        append,
        vcpus,
        vcpu_sig,
        guest_features,
        vmm,
        ovmf_hash,
    })
}

fn page_options(named: &HashMap<String, String>) -> Result<PageOptions, BadInput> {
    let environment = match named.get("--environment") {
        Some(e) => Some(Environment::parse(e).ok_or_else(|| BadInput(format!("--environment {e:?} is not live or sandbox")))?),
        None => None,
    };
    let measurement = if let Some(m) = named.get("--measurement") {
        let digest = unhex(m)
            .and_then(|v| <[u8; 48]>::try_from(v).ok())
            .ok_or_else(|| BadInput("--measurement is not 96 hex digits".into()))?;
        let coverage = match named.get("--measurement-covers").map(String::as_str) {
            None | Some("image") => Coverage::Image,
            Some("firmware") => Coverage::Firmware,
            Some(o) => return Err(BadInput(format!("--measurement-covers {o:?} is not image or firmware"))),
        };
        Some(ExpectedMeasurement { digest, coverage })
    } else if named.contains_key("--ovmf") {
        let files = measure_files(named)?;
        let coverage = if files.kernel.is_some() { Coverage::Image } else { Coverage::Firmware };
        let digest = files.digest().map_err(|e| BadInput(format!("cannot compute the expected measurement: {e}")))?;
        Some(ExpectedMeasurement { digest, coverage })
    } else {
        None
    };
    Ok(PageOptions {
        report: report_options(named)?,
        expected: Expected {
            client_id: named.get("--client-id").cloned(),
            domain: named.get("--domain").map(|d| d.to_ascii_lowercase()),
            environment,
        },
        measurement,
        cert: cert_option(named)?,
    })
}

fn print_checks(checks: &[Check]) {
    for c in checks {
        let tag = match c.status {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        };
        println!("[{tag}] {:<24} {}", c.name, c.detail);
    }
}

fn print_verdict(v: &Verdict) {
    println!();
    println!("VERDICT: {} — {}", v.level, v.meaning);
    if let Some(b) = &v.report_binds {
        println!("  report binds: {b}");
    }
    println!("  not covered by the launch digest (or not attested at all):");
    for f in &v.not_covered {
        println!("    - {f}");
    }
}

fn finish(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn cmd_report(pos: &[String], named: &HashMap<String, String>) -> Result<ExitCode, BadInput> {
    check_known(named, REPORT_OPTS)?;
    let [path] = pos else { return Err(BadInput("report needs exactly one report file".into())) };
    let bytes = read(path)?;
    let report = Report::parse(&bytes).map_err(|e| BadInput(format!("{path}: {e}")))?;
    let opts = report_options(named)?;
    let cert = cert_option(named)?;
    let result = check::verify_report(&report, cert.as_ref(), &opts);
    let ok = check::all_hold(&result.checks);
    if named.contains_key("--json") {
        let out = serde_json::json!({ "command": "report", "ok": ok, "report": result.summary, "checks": result.checks });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_checks(&result.checks);
        println!();
        println!("{}", if ok { "all checks hold" } else { "a check FAILED" });
    }
    Ok(finish(ok))
}

fn cmd_page(pos: &[String], named: &HashMap<String, String>) -> Result<ExitCode, BadInput> {
    let known: Vec<&str> = REPORT_OPTS.iter().chain(PAGE_OPTS).copied().collect();
    check_known(named, &known)?;
    let [path] = pos else { return Err(BadInput("page needs exactly one evidence or HTML file".into())) };
    let bundle = page::read_bundle(&read(path)?).map_err(|e| BadInput(format!("{path}: {e}")))?;
    let opts = page_options(named)?;
    let result = page::verify_bundle(&bundle, &opts);
    output_result("page", &result.checks, result.report.as_ref(), &result.verdict, result.ok(), named)
}

fn output_result(
    command: &str,
    checks: &[Check],
    report: Option<&check::ReportSummary>,
    verdict: &Verdict,
    ok: bool,
    named: &HashMap<String, String>,
) -> Result<ExitCode, BadInput> {
    if named.contains_key("--json") {
        let out = serde_json::json!({ "command": command, "ok": ok, "verdict": verdict, "report": report, "checks": checks });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print_checks(checks);
        print_verdict(verdict);
        println!("{}", if ok { "all checks hold" } else { "a check FAILED" });
    }
    Ok(finish(ok))
}

fn cmd_measure(pos: &[String], named: &HashMap<String, String>) -> Result<ExitCode, BadInput> {
    let known = [
        "--ovmf",
        "--kernel",
        "--initrd",
        "--append",
        "--vcpus",
        "--vcpu-type",
        "--vcpu-sig",
        "--guest-features",
        "--vmm-type",
        "--snp-ovmf-hash",
        "--output-format",
        "--json",
    ];
    check_known(named, &known)?;
    if !pos.is_empty() {
        return Err(BadInput(format!("measure takes no positional arguments, got {pos:?}")));
    }
    let files = measure_files(named)?;
    let digest = files.digest().map_err(|e| BadInput(e.to_string()))?;
    let text = match named.get("--output-format").map(String::as_str) {
        None | Some("hex") => hex(&digest),
        Some("base64") => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.encode(digest)
        }
        Some(o) => return Err(BadInput(format!("--output-format {o:?} is not hex or base64"))),
    };
    if named.contains_key("--json") {
        let out = serde_json::json!({
            "command": "measure",
            "measurement": hex(&digest),
            "covers": if files.kernel.is_some() { "image" } else { "firmware" },
        });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("{text}");
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_live(pos: &[String], named: &HashMap<String, String>) -> Result<ExitCode, BadInput> {
    let known: Vec<&str> = REPORT_OPTS.iter().chain(PAGE_OPTS).chain(&["--ca", "--connect"]).copied().collect();
    check_known(named, &known)?;
    let [url] = pos else { return Err(BadInput("live needs exactly one https://host[:port]".into())) };
    live::parse_url(url).map_err(|e| BadInput(e.to_string()))?;
    let opts = LiveOptions {
        page: page_options(named)?,
        ca_pem: named.get("--ca").map(|p| read(p)).transpose()?,
        connect: named.get("--connect").cloned(),
        timeout: None,
    };
    match live::run(url, &opts) {
        Ok(result) => output_result("live", &result.checks, result.report.as_ref(), &result.verdict, result.ok(), named),
        Err(e) => {
            let checks = vec![Check::fail("live.fetch", e.into())];
            let verdict = paypal_auth_verify::verdict::decide(Default::default(), None);
            output_result("live", &checks, None, &verdict, false, named)
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = parse_args(rest).and_then(|(pos, named)| match command.as_str() {
        "report" => cmd_report(&pos, &named),
        "page" => cmd_page(&pos, &named),
        "measure" => cmd_measure(&pos, &named),
        "live" => cmd_live(&pos, &named),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        other => Err(BadInput(format!("unknown command {other:?}"))),
    });
    match result {
        Ok(code) => code,
        Err(BadInput(msg)) => {
            eprintln!("paypal-auth-verify: {msg}");
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
