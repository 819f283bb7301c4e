//! The checklist every command prints, and the report pipeline (`report` command, and the report
//! part of `page` and `live`).
//!
//! Every check runs even after another failed, so a user sees all named reasons at once; a
//! check that cannot run because an earlier input is missing is `skip` with the reason.

use crate::certs::{self, Cert, ChainError, LeafBindingError, LeafExtensions, Role, Roots};
use crate::policy::{self, Overrides, Policy, Violation};
use crate::report::{Product, Report, SigningKey, Tcb};
use serde::Serialize;
use std::fmt;

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The check holds.
    Pass,
    /// The check failed; the whole verification fails.
    Fail,
    /// The check could not run or was not requested; the detail says why.
    Skip,
}

/// Why the product (and so the roots and TCB layout) could not be settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProductError {
    /// v2 report, no `--product`, and the certificate names none.
    Unknown,
    /// Two sources disagree.
    Conflict {
        /// What `--product` or the first source said.
        chosen: Product,
        /// The source that disagrees (`cpuid`, `certificate`).
        source: &'static str,
        /// What it said.
        other: Product,
    },
}

impl fmt::Display for ProductError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProductError::Unknown => f.write_str("cannot tell Milan/Genoa/Turin from this v2 report: pass --product"),
            ProductError::Conflict { chosen, source, other } => {
                write!(f, "product {chosen} conflicts with the {source}, which says {other}")
            }
        }
    }
}

/// Every named reason a verification can fail for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The report bytes are not a report.
    Parse(crate::report::ParseError),
    /// Product selection.
    Product(ProductError),
    /// Certificate chain or report signature.
    Chain(ChainError),
    /// VCEK/VLEK extensions vs the report.
    Leaf(LeafBindingError),
    /// No VCEK/VLEK was supplied; the text is where to fetch it.
    MissingCertificate(String),
    /// Guest policy or TCB rule.
    Policy(Violation),
    /// Page, JWS, claims or binding.
    Page(crate::page::PageError),
    /// Launch measurement.
    Measurement(crate::measure::MeasurementMismatch),
    /// The live endpoint.
    Live(crate::live::LiveError),
}

impl Failure {
    /// A stable machine-readable code: the failure class and variant, e.g. `Chain.Expired`,
    /// `Policy.DebugAllowed`, `Page.Binding` (the `code` member of `--json` output).
    pub fn code(&self) -> String {
        let debug = format!("{self:?}");
        let mut parts = debug.splitn(2, '(');
        let outer = parts.next().unwrap_or("").to_owned();
        let inner: String = parts.next().unwrap_or("").chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if inner.is_empty() || inner.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            outer
        } else {
            format!("{outer}.{inner}")
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Parse(e) => e.fmt(f),
            Failure::Product(e) => e.fmt(f),
            Failure::Chain(e) => e.fmt(f),
            Failure::Leaf(e) => e.fmt(f),
            Failure::MissingCertificate(url) => {
                write!(f, "no VCEK/VLEK certificate supplied; fetch it from {url} and pass --cert")
            }
            Failure::Policy(e) => e.fmt(f),
            Failure::Page(e) => e.fmt(f),
            Failure::Measurement(e) => e.fmt(f),
            Failure::Live(e) => e.fmt(f),
        }
    }
}

/// One line of the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable dotted name, e.g. `chain.leaf` or `policy.debug`.
    pub name: &'static str,
    /// Outcome.
    pub status: Status,
    /// What was checked, or the named reason it failed or was skipped.
    pub detail: String,
    /// The typed reason, for failures.
    #[serde(skip)]
    pub failure: Option<Failure>,
    /// [`Failure::code`] of the reason, for failures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

impl Check {
    /// A passing check.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Check {
        Check { name, status: Status::Pass, detail: detail.into(), failure: None, code: None }
    }
    /// A failed check with its typed reason.
    pub fn fail(name: &'static str, failure: Failure) -> Check {
        Check { name, status: Status::Fail, detail: failure.to_string(), code: Some(failure.code()), failure: Some(failure) }
    }
    /// A skipped check.
    pub fn skip(name: &'static str, why: impl Into<String>) -> Check {
        Check { name, status: Status::Skip, detail: why.into(), failure: None, code: None }
    }
    /// `pass` or `fail` from a result.
    pub fn from_result<E: Into<Failure>>(name: &'static str, r: Result<String, E>) -> Check {
        match r {
            Ok(d) => Check::pass(name, d),
            Err(e) => Check::fail(name, e.into()),
        }
    }
}

impl From<ChainError> for Failure {
    fn from(e: ChainError) -> Self {
        Failure::Chain(e)
    }
}
impl From<LeafBindingError> for Failure {
    fn from(e: LeafBindingError) -> Self {
        Failure::Leaf(e)
    }
}
impl From<Violation> for Failure {
    fn from(e: Violation) -> Self {
        Failure::Policy(e)
    }
}
impl From<ProductError> for Failure {
    fn from(e: ProductError) -> Self {
        Failure::Product(e)
    }
}
impl From<crate::page::PageError> for Failure {
    fn from(e: crate::page::PageError) -> Self {
        Failure::Page(e)
    }
}
impl From<crate::live::LiveError> for Failure {
    fn from(e: crate::live::LiveError) -> Self {
        Failure::Live(e)
    }
}

/// Whether every check in `checks` passed or was skipped.
pub fn all_hold(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Fail)
}

/// Options of the report pipeline.
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// `--product`.
    pub product: Option<Product>,
    /// Verification time, seconds since the epoch (`--at`, default now).
    pub at: i64,
    /// The policy file in force.
    pub policy: Policy,
    /// Command-line relaxations.
    pub overrides: Overrides,
}

impl ReportOptions {
    /// The shipped policy, checked now, product from the report.
    pub fn new() -> ReportOptions {
        ReportOptions { product: None, at: crate::time::now(), policy: Policy::shipped(), overrides: Overrides::default() }
    }
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self::new()
    }
}

/// Facts read from a verified (or partly verified) report, for output.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReportSummary {
    /// VERSION.
    pub version: u32,
    /// Product used for roots and TCB layout.
    pub product: Option<Product>,
    /// Signing key kind.
    pub signing_key: SigningKey,
    /// POLICY, hex.
    pub policy: String,
    /// VMPL.
    pub vmpl: u32,
    /// MEASUREMENT, hex.
    pub measurement: String,
    /// REPORT_DATA, hex.
    pub report_data: String,
    /// HOST_DATA, hex.
    pub host_data: String,
    /// REPORTED_TCB decoded under the product's layout.
    pub reported_tcb: Option<Tcb>,
    /// CURRENT firmware version.
    pub firmware: String,
    /// PLATFORM_INFO, hex (unknown bits are kept and do not fail).
    pub platform_info: String,
    /// KDS URL of this report's VCEK (VCEK-signed reports with a chip id only).
    pub kds_url: Option<String>,
}

/// The report pipeline's result.
#[derive(Clone, Debug)]
pub struct ReportResult {
    /// What the report says.
    pub summary: ReportSummary,
    /// The checklist.
    pub checks: Vec<Check>,
}

impl ReportResult {
    /// Whether the hardware evidence is genuine: chain, signature, leaf binding all pass.
    /// (Policy is separate: a debug guest is genuine but not acceptable.)
    pub fn genuine(&self) -> bool {
        let needed = [
            "report.product",
            "chain.ark",
            "chain.intermediate",
            "chain.leaf",
            "chain.validity",
            "report.signature",
            "binding.tcb",
        ];
        needed.iter().all(|n| self.checks.iter().any(|c| c.name == *n && c.status == Status::Pass))
            && self
                .checks
                .iter()
                .filter(|c| c.name.starts_with("chain.") || c.name.starts_with("binding."))
                .all(|c| c.status != Status::Fail)
    }
}

fn choose_product(
    report: &Report,
    ext: Option<&LeafExtensions>,
    cli: Option<Product>,
) -> Result<Product, (Option<Product>, ProductError)> {
    let sources = [
        ("--product", cli),
        ("report CPUID", report.cpuid_product()),
        ("certificate productName", ext.and_then(LeafExtensions::product)),
    ];
    let chosen = match sources.iter().find_map(|(_, p)| *p) {
        Some(p) => p,
        None if report.chip_id_suggests_turin() => Product::Turin,
        None => return Err((None, ProductError::Unknown)),
    };
    for (source, other) in sources {
        if let Some(other) = other {
            if other != chosen {
                return Err((Some(chosen), ProductError::Conflict { chosen, source, other }));
            }
        }
    }
    Ok(chosen)
}

/// Runs every report check: product, chain, validity, signature, leaf binding, policy.
pub fn verify_report(report: &Report, leaf: Option<&Cert>, opts: &ReportOptions) -> ReportResult {
    let mut checks = Vec::new();
    let ext = leaf.map(LeafExtensions::read);
    let ext_ok = ext.as_ref().and_then(|e| e.as_ref().ok());
    let product = match choose_product(report, ext_ok, opts.product) {
        Ok(p) => {
            let how = if opts.product.is_some() {
                "from --product"
            } else if report.cpuid.is_some() {
                "from CPUID"
            } else {
                "from the certificate"
            };
            checks.push(Check::pass("report.product", format!("{p} ({how}); report v{}", report.version)));
            Some(p)
        }
        Err((p, e)) => {
            checks.push(Check::fail("report.product", e.into()));
            p
        }
    };
    let signing_key = report.key_info.signing_key();
    let kds_url = match (product, signing_key) {
        (Some(p), SigningKey::Vcek) if !report.chip_id_masked() => Some(report.kds_vcek_url(p)),
        _ => None,
    };
    let summary = ReportSummary {
        version: report.version,
        product,
        signing_key,
        policy: format!("{:#x}", report.policy.0),
        vmpl: report.vmpl,
        measurement: crate::hex(&report.measurement),
        report_data: crate::hex(&report.report_data),
        host_data: crate::hex(&report.host_data),
        reported_tcb: product.map(|p| report.reported_tcb.decode(p.tcb_layout())),
        firmware: report.current_version.to_string(),
        platform_info: format!("{:#x}", report.platform_info),
        kds_url: kds_url.clone(),
    };

    chain_checks(report, leaf, ext.as_ref(), product, signing_key, kds_url, opts, &mut checks);
    policy_checks(report, product, opts, &mut checks);
    ReportResult { summary, checks }
}

#[allow(clippy::too_many_arguments)]
fn chain_checks(
    report: &Report,
    leaf: Option<&Cert>,
    ext: Option<&Result<LeafExtensions, ChainError>>,
    product: Option<Product>,
    signing_key: SigningKey,
    kds_url: Option<String>,
    opts: &ReportOptions,
    checks: &mut Vec<Check>,
) {
    const CHAIN: [&str; 7] =
        ["chain.ark", "chain.intermediate", "chain.leaf", "chain.validity", "report.signature", "binding.tcb", "binding.chip_id"];
    let skip_all = |checks: &mut Vec<Check>, why: &str| {
        for name in CHAIN {
            if !checks.iter().any(|c| c.name == name) {
                checks.push(Check::skip(name, why));
            }
        }
    };
    let (inter_role, leaf_role, leaf_cn) = match certs::expected_chain(signing_key) {
        Ok(x) => x,
        Err(e) => {
            checks.push(Check::fail("chain.signing_key", e.into()));
            return skip_all(checks, "the report is not signed");
        }
    };
    let Some(product) = product else {
        if leaf.is_none() {
            checks.push(Check::fail(
                "chain.leaf",
                Failure::MissingCertificate("AMD KDS (pass --product to get the exact URL)".into()),
            ));
        }
        return skip_all(checks, "product unknown");
    };
    let roots = match Roots::pinned(product) {
        Ok(r) => r,
        Err(e) => {
            checks.push(Check::fail("chain.ark", e.into()));
            return;
        }
    };
    checks.push(Check::from_result(
        "chain.ark",
        roots
            .ark
            .check_signed_by(Role::Ark, &roots.ark, Role::Ark, product)
            .map(|_| format!("pinned ARK-{product}, self-signed")),
    ));
    let inter = if inter_role == Role::Asvk { &roots.asvk } else { &roots.ask };
    checks.push(Check::from_result(
        "chain.intermediate",
        inter
            .check_signed_by(inter_role, &roots.ark, Role::Ark, product)
            .map(|_| format!("pinned {inter_role} ({}) signed by ARK-{product}", inter.subject_cn().unwrap_or_default())),
    ));
    let Some(leaf) = leaf else {
        let where_ = kds_url.unwrap_or_else(|| {
            format!("the host (extended report/auxblob); VLEK chain {}", crate::kds::cert_chain_url(product, true))
        });
        checks.push(Check::fail("chain.leaf", Failure::MissingCertificate(where_)));
        for name in &CHAIN[3..] {
            checks.push(Check::skip(name, "no VCEK/VLEK"));
        }
        return;
    };
    let cn = leaf.subject_cn().unwrap_or_default();
    let leaf_result = if cn != leaf_cn {
        Err(ChainError::LeafKind { expected: leaf_cn, found: cn })
    } else {
        leaf.check_signed_by(leaf_role, inter, inter_role, product)
            .map(|_| format!("{leaf_role} signed by {inter_role}-{product}"))
    };
    checks.push(Check::from_result("chain.leaf", leaf_result));
    let validity = roots
        .ark
        .check_validity(Role::Ark, opts.at)
        .and_then(|_| inter.check_validity(inter_role, opts.at))
        .and_then(|_| leaf.check_validity(leaf_role, opts.at))
        .map(|_| format!("ARK, {inter_role} and {leaf_role} valid at {}", crate::time::format_rfc3339(opts.at)));
    checks.push(Check::from_result("chain.validity", validity));
    checks.push(Check::from_result(
        "report.signature",
        certs::check_report_signature(leaf, report).map(|_| "ECDSA P-384 over bytes 0x000-0x29F as received".to_string()),
    ));
    match ext {
        Some(Ok(ext)) => {
            checks.push(Check::from_result(
                "binding.tcb",
                certs::check_tcb(ext, report.reported_tcb, product).map(|t| format!("certificate TCB = REPORTED_TCB ({t})")),
            ));
            if leaf_role == Role::Vcek {
                checks.push(Check::from_result(
                    "binding.chip_id",
                    certs::check_chip_id(ext, report, product)
                        .map(|_| format!("VCEK hwID = CHIP_ID ({} bytes)", product.chip_id_len())),
                ));
            } else {
                checks.push(Check::skip(
                    "binding.chip_id",
                    format!("VLEK: no hwID (CSP {})", ext.csp_id.as_deref().unwrap_or("unnamed")),
                ));
            }
        }
        Some(Err(e)) => {
            checks.push(Check::fail("binding.tcb", e.clone().into()));
            checks.push(Check::skip("binding.chip_id", "certificate extensions unreadable"));
        }
        None => {}
    }
}

fn policy_checks(report: &Report, product: Option<Product>, opts: &ReportOptions, checks: &mut Vec<Check>) {
    let p = &opts.policy;
    let o = opts.overrides;
    let debug = policy::check_debug(p, o, report.policy).map(|_| {
        if report.policy.debug() {
            "POLICY.DEBUG set, accepted by --allow-debug".to_string()
        } else {
            "POLICY.DEBUG clear".to_string()
        }
    });
    checks.push(Check::from_result("policy.debug", debug));
    checks.push(Check::from_result(
        "policy.migration_agent",
        policy::check_migration_agent(p, report).map(|_| "no migration agent allowed or associated".to_string()),
    ));
    checks.push(Check::from_result(
        "policy.bits",
        policy::check_policy_bits(report.policy).map(|_| {
            format!(
                "POLICY {:#x}: ABI >= {}.{}, SMT {}",
                report.policy.0,
                report.policy.abi_major(),
                report.policy.abi_minor(),
                if report.policy.smt() { "allowed" } else { "off" }
            )
        }),
    ));
    checks
        .push(Check::from_result("policy.vmpl", policy::check_vmpl(p, o, report.vmpl).map(|_| format!("VMPL {}", report.vmpl))));
    match product {
        Some(prod) => {
            let tcb = report.reported_tcb.decode(prod.tcb_layout());
            checks.push(Check::from_result(
                "policy.min_tcb",
                policy::check_min_tcb(p, prod, tcb)
                    .map(|_| format!("REPORTED_TCB ({tcb}) meets policy v{} for {prod}", p.version)),
            ));
        }
        None => checks.push(Check::skip("policy.min_tcb", "product unknown")),
    }
}
