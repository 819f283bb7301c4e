//! The command line: exit codes (0 holds, 1 a check failed, 2 bad input), `--json`, and the
//! checklist naming each failure.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_paypal-auth-verify");
const V: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/vectors");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[test]
fn report_exit_codes() {
    let r = format!("{V}/genoa-v5-attestation-rs/report.bin");
    let c = format!("{V}/genoa-v5-attestation-rs/vcek.der");
    let (code, out, _) = run(&["report", &r, "--cert", &c]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("[PASS] report.signature"));

    // Expired VLEK: fails now, holds at a time inside its validity.
    let r = format!("{V}/milan-v3-vlek-aws-trustee/report.bin");
    let c = format!("{V}/milan-v3-vlek-aws-trustee/vlek.der");
    let (code, out, _) = run(&["report", &r, "--cert", &c, "--max-vmpl", "1", "--at", "2025-06-01T00:00:00Z"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = run(&["report", &r, "--cert", &c, "--max-vmpl", "1"]);
    assert_eq!(code, 1);
    assert!(out.contains("[FAIL] chain.validity") && out.contains("expired"), "{out}");

    // Debug vector: rejected by default with the reason, accepted with --allow-debug.
    let r = format!("{V}/milan-v2-gosevguest/report.bin");
    let c = format!("{V}/milan-v2-gosevguest/vcek.der");
    let (code, out, _) = run(&["report", &r, "--cert", &c, "--product", "milan"]);
    assert_eq!(code, 1);
    assert!(out.contains("[FAIL] policy.debug") && out.contains("POLICY.DEBUG (bit 19)"), "{out}");
    let (code, out, _) = run(&["report", &r, "--cert", &c, "--product", "milan", "--allow-debug"]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn report_json() {
    let r = format!("{V}/genoa-v3-msft/report.bin");
    let c = format!("{V}/genoa-v3-msft/vcek.pem");
    let (code, out, _) = run(&["report", &r, "--cert", &c, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["report"]["product"], "genoa");
    assert_eq!(v["report"]["version"], 3);
    assert!(v["checks"].as_array().unwrap().iter().all(|c| c["status"] != "fail"));
    // Failures carry a machine-readable code.
    let r = format!("{V}/milan-v2-gosevguest/report.bin");
    let c = format!("{V}/milan-v2-gosevguest/vcek.der");
    let (code, out, _) = run(&["report", &r, "--cert", &c, "--product", "milan", "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let debug = v["checks"].as_array().unwrap().iter().find(|c| c["name"] == "policy.debug").unwrap();
    assert_eq!(debug["code"], "Policy.DebugAllowed");
    assert_eq!(debug["status"], "fail");
}

#[test]
fn bad_input_is_exit_2() {
    let (code, _, err) = run(&["report", "/nonexistent"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"));
    let c = format!("{V}/genoa-v3-msft/vcek.pem");
    let (code, _, err) = run(&["report", &c]);
    assert_eq!(code, 2, "a certificate is not a report");
    assert!(err.contains("bytes, expected 1184"), "{err}");
    let r = format!("{V}/genoa-v3-msft/report.bin");
    assert_eq!(run(&["report", &r, "--cert", &r]).0, 2, "a report is not a certificate");
    assert_eq!(run(&["report", &r, "--at", "yesterday"]).0, 2);
    assert_eq!(run(&["report", &r, "--product", "rome"]).0, 2);
    assert_eq!(run(&["report", &r, "--bogus", "1"]).0, 2);
    assert_eq!(run(&["page", &r]).0, 2, "a report is not an evidence bundle");
    assert_eq!(run(&["nonsense"]).0, 2);
    assert_eq!(run(&[]).0, 2);
    assert_eq!(run(&["measure", "--ovmf", "/nonexistent", "--vcpus", "1", "--vcpu-type", "EPYC-v4"]).0, 2);
    assert_eq!(run(&["live", "http://insecure.example"]).0, 2);
}

#[test]
fn measure_debian_ovmf() {
    let ovmf = "/usr/share/ovmf/OVMF.fd";
    if !std::path::Path::new(ovmf).is_file() {
        println!("SKIP: no {ovmf}");
        return;
    }
    let (code, out, _) = run(&["measure", "--ovmf", ovmf, "--vcpus", "1", "--vcpu-type", "EPYC-v4"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim().len(), 96);
    let (code, _, err) = run(&["measure", "--ovmf", ovmf, "--vcpus", "1", "--vcpu-type", "EPYC-v4", "--kernel", ovmf]);
    assert_eq!(code, 2);
    assert!(err.contains("SNP_KERNEL_HASHES"), "{err}");
}
