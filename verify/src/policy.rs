//! The guest-policy and TCB rules a report must meet.
//!
//! Rules come from a versioned JSON policy file shipped with each release
//! (`verify/policy/snp-policy-v<N>.json`, compiled in as the default); a user may pass another
//! file with `--policy`. Command-line flags can only relax what the user explicitly names
//! (`--allow-debug`, `--max-vmpl`).

use crate::report::{GuestPolicy, Product, Report, Tcb};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// The `format` member every policy file carries.
pub const POLICY_FORMAT: &str = "paypal-auth-vm/snp-policy";

/// The policy shipped with this release.
pub const DEFAULT_POLICY_JSON: &str = include_str!("../policy/snp-policy-v1.json");

/// A minimum TCB for one product; compared component by component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct MinTcb {
    /// Minimum FMC SPL (Turin).
    #[serde(default)]
    pub fmc: u8,
    /// Minimum boot loader SPL.
    pub bootloader: u8,
    /// Minimum TEE SPL.
    pub tee: u8,
    /// Minimum SNP firmware SPL.
    pub snp: u8,
    /// Minimum microcode SPL.
    pub microcode: u8,
}

/// A parsed policy file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Always [`POLICY_FORMAT`].
    pub format: String,
    /// The policy version (bumped whenever a rule or floor changes).
    pub version: u32,
    /// Whether a report with POLICY.DEBUG set may pass.
    pub allow_debug: bool,
    /// Whether a report with POLICY.MIGRATE_MA set may pass.
    pub allow_migration_agent: bool,
    /// Highest VMPL the report may name (our guest requests 0).
    pub max_vmpl: u32,
    /// Minimum REPORTED_TCB per product (`milan`, `genoa`, `turin`).
    pub min_reported_tcb: BTreeMap<Product, MinTcb>,
    /// Free-text provenance of the values.
    #[serde(default)]
    pub note: String,
}

/// Why a policy file could not be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyFileError {
    /// Not JSON of the expected shape (the text says where).
    Json(String),
    /// `format` is not [`POLICY_FORMAT`].
    Format(String),
}

impl fmt::Display for PolicyFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyFileError::Json(e) => write!(f, "policy file is not valid: {e}"),
            PolicyFileError::Format(s) => write!(f, "policy file format {s:?} is not {POLICY_FORMAT:?}"),
        }
    }
}

impl std::error::Error for PolicyFileError {}

impl Policy {
    /// Parses a policy file.
    pub fn from_json(text: &str) -> Result<Policy, PolicyFileError> {
        let p: Policy = serde_json::from_str(text).map_err(|e| PolicyFileError::Json(e.to_string()))?;
        if p.format != POLICY_FORMAT {
            return Err(PolicyFileError::Format(p.format));
        }
        Ok(p)
    }

    /// The policy compiled into this release.
    pub fn shipped() -> Policy {
        // Covered by a unit test; falling back to the strictest rules keeps this total.
        Policy::from_json(DEFAULT_POLICY_JSON).unwrap_or(Policy {
            format: POLICY_FORMAT.into(),
            version: 0,
            allow_debug: false,
            allow_migration_agent: false,
            max_vmpl: 0,
            min_reported_tcb: BTreeMap::new(),
            note: String::new(),
        })
    }
}

/// A rule the report breaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// POLICY bit 19: the host may debug (read and write) the guest.
    DebugAllowed,
    /// POLICY bit 18: a migration agent may be associated.
    MigrationAgentAllowed,
    /// `REPORT_ID_MA` is not all 0xFF: a migration agent is associated.
    MigrationAgentAssociated,
    /// POLICY bit 17 (reserved, must be one) is zero.
    ReservedBit17Clear,
    /// POLICY has bits set that no known ABI revision defines.
    UnknownPolicyBits(u64),
    /// The report's VMPL is above the allowed maximum.
    Vmpl {
        /// From the report.
        vmpl: u32,
        /// Allowed maximum.
        max: u32,
    },
    /// The policy file has no minimum TCB for this product.
    NoMinimumTcb(Product),
    /// A REPORTED_TCB component is below the minimum.
    TcbBelowMinimum {
        /// `fmc`, `bootloader`, `tee`, `snp` or `microcode`.
        component: &'static str,
        /// Reported value.
        reported: u8,
        /// Minimum.
        minimum: u8,
        /// Policy version that set it.
        policy_version: u32,
    },
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::DebugAllowed => f.write_str(
                "POLICY.DEBUG (bit 19) is set: the host can read and write guest memory (pass --allow-debug to accept)",
            ),
            Violation::MigrationAgentAllowed => {
                f.write_str("POLICY.MIGRATE_MA (bit 18) is set: a migration agent may be associated")
            }
            Violation::MigrationAgentAssociated => f.write_str("REPORT_ID_MA is set: a migration agent is associated"),
            Violation::ReservedBit17Clear => f.write_str("POLICY bit 17 (reserved, must be one) is zero"),
            Violation::UnknownPolicyBits(b) => write!(f, "POLICY has undefined bits set: {b:#x}"),
            Violation::Vmpl { vmpl, max } => write!(f, "report VMPL {vmpl} is above the allowed {max}"),
            Violation::NoMinimumTcb(p) => write!(f, "policy file has no minimum TCB for {p}"),
            Violation::TcbBelowMinimum { component, reported, minimum, policy_version } => {
                write!(f, "REPORTED_TCB {component} SPL {reported} is below the minimum {minimum} (policy v{policy_version})")
            }
        }
    }
}

impl std::error::Error for Violation {}

/// Command-line relaxations, each named explicitly by the user.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--allow-debug`.
    pub allow_debug: bool,
    /// `--max-vmpl N`.
    pub max_vmpl: Option<u32>,
}

/// The debug rule.
pub fn check_debug(policy: &Policy, o: Overrides, p: GuestPolicy) -> Result<(), Violation> {
    if p.debug() && !(policy.allow_debug || o.allow_debug) {
        return Err(Violation::DebugAllowed);
    }
    Ok(())
}

/// The migration-agent rule (POLICY bit 18 and REPORT_ID_MA).
pub fn check_migration_agent(policy: &Policy, report: &Report) -> Result<(), Violation> {
    if policy.allow_migration_agent {
        return Ok(());
    }
    if report.policy.migrate_ma() {
        return Err(Violation::MigrationAgentAllowed);
    }
    if report.report_id_ma.iter().any(|&b| b != 0xFF) {
        return Err(Violation::MigrationAgentAssociated);
    }
    Ok(())
}

/// Bit 17 and undefined bits.
pub fn check_policy_bits(p: GuestPolicy) -> Result<(), Violation> {
    if !p.reserved_one() {
        return Err(Violation::ReservedBit17Clear);
    }
    if p.unknown_bits() != 0 {
        return Err(Violation::UnknownPolicyBits(p.unknown_bits()));
    }
    Ok(())
}

/// The VMPL rule.
pub fn check_vmpl(policy: &Policy, o: Overrides, vmpl: u32) -> Result<(), Violation> {
    let max = o.max_vmpl.unwrap_or(policy.max_vmpl);
    if vmpl > max {
        return Err(Violation::Vmpl { vmpl, max });
    }
    Ok(())
}

/// The minimum-TCB rule for REPORTED_TCB, component by component.
pub fn check_min_tcb(policy: &Policy, product: Product, reported: Tcb) -> Result<(), Violation> {
    let min = policy.min_reported_tcb.get(&product).ok_or(Violation::NoMinimumTcb(product))?;
    let pairs = [
        ("fmc", reported.fmc.unwrap_or(0), if reported.fmc.is_some() { min.fmc } else { 0 }),
        ("bootloader", reported.bootloader, min.bootloader),
        ("tee", reported.tee, min.tee),
        ("snp", reported.snp, min.snp),
        ("microcode", reported.microcode, min.microcode),
    ];
    for (component, reported, minimum) in pairs {
        if reported < minimum {
            return Err(Violation::TcbBelowMinimum { component, reported, minimum, policy_version: policy.version });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policy_parses() {
        let p = Policy::from_json(DEFAULT_POLICY_JSON).unwrap();
        assert_eq!(p.version, 1);
        assert!(!p.allow_debug);
        assert_eq!(p.min_reported_tcb.len(), 3);
    }

    #[test]
    fn rules() {
        let p = Policy::shipped();
        assert_eq!(check_debug(&p, Overrides::default(), GuestPolicy(0xb0000)), Err(Violation::DebugAllowed));
        assert_eq!(check_debug(&p, Overrides { allow_debug: true, max_vmpl: None }, GuestPolicy(0xb0000)), Ok(()));
        assert_eq!(check_policy_bits(GuestPolicy(0x10000)), Err(Violation::ReservedBit17Clear));
        assert_eq!(check_policy_bits(GuestPolicy(0x30000 | 1 << 40)), Err(Violation::UnknownPolicyBits(1 << 40)));
        assert_eq!(check_vmpl(&p, Overrides::default(), 1), Err(Violation::Vmpl { vmpl: 1, max: 0 }));
        let low = Tcb { fmc: None, bootloader: 3, tee: 0, snp: 8, microcode: 1 };
        assert!(matches!(check_min_tcb(&p, Product::Milan, low), Err(Violation::TcbBelowMinimum { component: "microcode", .. })));
    }
}
