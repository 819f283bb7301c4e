//! Checks of a result page: the evidence bundle, the JWS, the claims, the `REPORT_DATA`
//! binding, the report (via [`crate::check`]) and the measurement, ending in a [`Verdict`].

use crate::certs::{Cert, Role};
use crate::check::{self, Check, Failure, ReportOptions, ReportSummary, Status};
use crate::report::Report;
use crate::verdict::{self, Coverage, Evidence, Verdict};
use paypal_auth_evidence::binding::{self, Environment, Purpose, ServiceIdentity};
use paypal_auth_evidence::bundle::{Attestation, Bundle, ReportBinding, BUNDLE_FORMAT, MAX_BUNDLE_LEN, NO_ATTESTATION};
use paypal_auth_evidence::claims::{Claims, STATEMENT_FORMAT};
use paypal_auth_evidence::jwk::JwkError;
use paypal_auth_evidence::jws::{self, JwsError};
use serde::Serialize;
use std::fmt;

/// The `id` of the `<script type="application/json">` element a page embeds its bundle in.
pub const EVIDENCE_ELEMENT_ID: &str = "paypal-auth-evidence";

/// Why the input is not an evidence bundle at all (exit code 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputError {
    /// Larger than [`MAX_BUNDLE_LEN`] (JSON) or 16 MiB (HTML).
    TooLarge(usize),
    /// HTML without the evidence `<script>` element.
    NoEvidenceElement,
    /// Not JSON of the bundle shape; the text says where.
    Json(String),
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InputError::TooLarge(n) => write!(f, "input of {n} bytes is too large"),
            InputError::NoEvidenceElement => {
                write!(f, "no <script type=\"application/json\" id=\"{EVIDENCE_ELEMENT_ID}\"> element in the page")
            }
            InputError::Json(e) => write!(f, "evidence is not a bundle: {e}"),
        }
    }
}

impl std::error::Error for InputError {}

/// A named failure of a page check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageError {
    /// The bundle's `format` is not [`BUNDLE_FORMAT`].
    BundleFormat(String),
    /// The JWK is unusable.
    Jwk(JwkError),
    /// The JWS does not verify.
    Jws(JwsError),
    /// The JWS `kid` is not the JWK thumbprint.
    Kid {
        /// The `kid` header.
        kid: String,
        /// The JWK's thumbprint.
        thumbprint: String,
    },
    /// The payload is not the claims JSON.
    Claims(String),
    /// The claims `format` is not [`STATEMENT_FORMAT`].
    StatementFormat(String),
    /// `iss` is not `https://<domain>`.
    Issuer(String),
    /// A claim differs from what the user expects.
    Unexpected {
        /// `client_id`, `domain` or `environment`.
        field: &'static str,
        /// Expected.
        expected: String,
        /// Found.
        found: String,
    },
    /// The claims' platform differs from the bundle's.
    Platform {
        /// In the signed claims.
        claims: String,
        /// In the bundle.
        bundle: String,
    },
    /// A `none` bundle without the exact statement.
    Statement(String),
    /// `tls_key_sha256` is not 64 hex digits.
    TlsKeyHash,
    /// The report is not valid base64.
    ReportEncoding,
    /// A certificate is not valid base64 or DER.
    CertificateEncoding,
    /// `REPORT_DATA` differs from the binding computed from the claims and keys.
    Binding {
        /// The purpose checked: `page`, `boot` or `nonce`.
        purpose: &'static str,
        /// Expected hex.
        expected: String,
        /// Reported hex.
        reported: String,
    },
}

impl fmt::Display for PageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PageError::BundleFormat(s) => write!(f, "bundle format {s:?} is not {BUNDLE_FORMAT:?}"),
            PageError::Jwk(e) => write!(f, "{e}"),
            PageError::Jws(e) => write!(f, "{e}"),
            PageError::Kid { kid, thumbprint } => write!(f, "JWS kid {kid:?} is not the JWK thumbprint {thumbprint:?}"),
            PageError::Claims(e) => write!(f, "JWS payload is not the statement claims: {e}"),
            PageError::StatementFormat(s) => write!(f, "statement format {s:?} is not {STATEMENT_FORMAT:?}"),
            PageError::Issuer(s) => write!(f, "statement iss {s:?} is not https://<domain>"),
            PageError::Unexpected { field, expected, found } => {
                write!(f, "statement {field} is {found:?}, expected {expected:?}")
            }
            PageError::Platform { claims, bundle } => {
                write!(f, "signed statement says platform {claims:?} but the bundle carries {bundle:?}")
            }
            PageError::Statement(s) => write!(f, "platform none with statement {s:?} instead of {NO_ATTESTATION:?}"),
            PageError::TlsKeyHash => f.write_str("tls_key_sha256 is not 64 hex digits"),
            PageError::ReportEncoding => f.write_str("attestation report is not base64"),
            PageError::CertificateEncoding => f.write_str("a bundled certificate is not base64 DER"),
            PageError::Binding { purpose, expected, reported } => write!(
                f,
                "REPORT_DATA {reported} does not match the {purpose} binding {expected} of this statement's keys and claims"
            ),
        }
    }
}

impl std::error::Error for PageError {}

/// What the user expects the page to say (each optional; unchecked ones are listed as skipped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expected {
    /// `--client-id`.
    pub client_id: Option<String>,
    /// `--domain`.
    pub domain: Option<String>,
    /// `--environment`.
    pub environment: Option<Environment>,
}

/// The launch digest the user expects, and what it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectedMeasurement {
    /// The 48-byte digest.
    pub digest: [u8; 48],
    /// What it covers.
    pub coverage: Coverage,
}

/// Options of the `page` command.
#[derive(Clone, Debug, Default)]
pub struct PageOptions {
    /// Report options (product, time, policy).
    pub report: ReportOptions,
    /// Expected claims.
    pub expected: Expected,
    /// Expected measurement.
    pub measurement: Option<ExpectedMeasurement>,
    /// A VCEK/VLEK given with `--cert`, used when the bundle carries none.
    pub cert: Option<Cert>,
}

/// Result of a page verification.
#[derive(Clone, Debug, Serialize)]
pub struct PageResult {
    /// The checklist.
    pub checks: Vec<Check>,
    /// What the report says, when there is one.
    pub report: Option<ReportSummary>,
    /// The verdict.
    pub verdict: Verdict,
}

impl PageResult {
    /// Whether all checks hold (exit 0).
    pub fn ok(&self) -> bool {
        check::all_hold(&self.checks)
    }
}

/// Reads a bundle from its JSON or from a saved HTML page.
pub fn read_bundle(input: &[u8]) -> Result<Bundle, InputError> {
    if input.len() > 16 * 1024 * 1024 {
        return Err(InputError::TooLarge(input.len()));
    }
    let text = String::from_utf8_lossy(input);
    let trimmed = text.trim_start();
    let json = if trimmed.starts_with('{') { trimmed } else { extract_from_html(&text).ok_or(InputError::NoEvidenceElement)? };
    if json.len() > MAX_BUNDLE_LEN {
        return Err(InputError::TooLarge(json.len()));
    }
    serde_json::from_str(json).map_err(|e| InputError::Json(e.to_string()))
}

/// The text content of `<script … id="paypal-auth-evidence" …>…</script>`.
pub fn extract_from_html(html: &str) -> Option<&str> {
    let marker = format!("id=\"{EVIDENCE_ELEMENT_ID}\"");
    let at = html.find(&marker)?;
    let open = html[..at].rfind('<')?;
    if !html[open..].get(..7)?.eq_ignore_ascii_case("<script") {
        return None;
    }
    let body_start = at + html[at..].find('>')? + 1;
    let body_len = html[body_start..].find("</script")?;
    Some(&html[body_start..body_start + body_len])
}

fn decode_b64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
}

/// Parses 64 hex digits.
pub fn parse_hex32(text: &str) -> Option<[u8; 32]> {
    crate::unhex(text).and_then(|v| v.try_into().ok())
}

/// Checks the measurement against the expectation and returns what it proves.
pub fn measurement_check(report: &Report, expected: Option<&ExpectedMeasurement>) -> (Check, Option<Coverage>) {
    match expected {
        None => (Check::skip("measurement", "no expected measurement given (--measurement or --image)"), None),
        Some(e) if e.digest == report.measurement => {
            let what = match e.coverage {
                Coverage::Image => "firmware + kernel + initramfs + cmdline",
                Coverage::Firmware => "firmware only",
            };
            (Check::pass("measurement", format!("MEASUREMENT equals the expected digest ({what})")), Some(e.coverage))
        }
        Some(e) => (
            Check::fail(
                "measurement",
                Failure::Measurement(crate::measure::MeasurementMismatch {
                    expected: crate::hex(&e.digest),
                    reported: crate::hex(&report.measurement),
                }),
            ),
            None,
        ),
    }
}

/// Compares claims with what the user expects.
pub fn expected_checks(expected: &Expected, client_id: &str, domain: &str, environment: Environment, checks: &mut Vec<Check>) {
    let mut one = |name: &'static str, field: &'static str, want: Option<String>, found: String, flag: &str| match want {
        None => checks.push(Check::skip(name, format!("{field} {found:?} not compared (pass {flag})"))),
        Some(w) if w == found => checks.push(Check::pass(name, format!("{field} is {found:?}"))),
        Some(w) => checks.push(Check::fail(name, PageError::Unexpected { field, expected: w, found }.into())),
    };
    one("expected.client_id", "client_id", expected.client_id.clone(), client_id.to_owned(), "--client-id");
    one("expected.domain", "domain", expected.domain.clone(), domain.to_owned(), "--domain");
    one(
        "expected.environment",
        "environment",
        expected.environment.map(|e| e.as_str().to_owned()),
        environment.as_str().to_owned(),
        "--environment",
    );
}

/// Verifies a bundle.
pub fn verify_bundle(bundle: &Bundle, opts: &PageOptions) -> PageResult {
    let mut checks = Vec::new();
    if bundle.format == BUNDLE_FORMAT {
        checks.push(Check::pass("page.format", BUNDLE_FORMAT));
    } else {
        checks.push(Check::fail("page.format", PageError::BundleFormat(bundle.format.clone()).into()));
    }
    let thumbprint = bundle.jwk.thumbprint();
    let verified = match bundle.jwk.to_key() {
        Err(e) => {
            checks.push(Check::fail("page.jws", PageError::Jwk(e).into()));
            None
        }
        Ok(key) => match jws::verify(&bundle.jws, &key) {
            Err(e) => {
                checks.push(Check::fail("page.jws", PageError::Jws(e).into()));
                None
            }
            Ok(v) => {
                let tp = bundle.jwk.thumbprint_b64();
                match &v.kid {
                    Some(kid) if *kid != tp => {
                        checks.push(Check::fail("page.jws", PageError::Kid { kid: kid.clone(), thumbprint: tp }.into()))
                    }
                    _ => {
                        checks.push(Check::pass("page.jws", format!("ES256 signature verifies under the JWK (thumbprint {tp})")))
                    }
                }
                Some(v)
            }
        },
    };
    let claims = verified.as_ref().map(|v| serde_json::from_slice::<Claims>(&v.payload));
    let claims = match claims {
        None => {
            checks.push(Check::skip("page.claims", "JWS did not verify"));
            None
        }
        Some(Err(e)) => {
            checks.push(Check::fail("page.claims", PageError::Claims(e.to_string()).into()));
            None
        }
        Some(Ok(c)) => {
            let r = if c.format != STATEMENT_FORMAT {
                Err(PageError::StatementFormat(c.format.clone()))
            } else if c.iss != format!("https://{}", c.domain) {
                Err(PageError::Issuer(c.iss.clone()))
            } else {
                Ok(format!("statement for user {:?} at {} ({}, client {})", c.user.user_id, c.domain, c.environment, c.client_id))
            };
            checks.push(Check::from_result("page.claims", r));
            Some(c)
        }
    };
    if let Some(c) = &claims {
        expected_checks(&opts.expected, &c.client_id, &c.domain, c.environment, &mut checks);
        let bundle_platform = match &bundle.attestation {
            Attestation::None { .. } => "none",
            Attestation::SevSnp { .. } => "sev-snp",
        };
        if c.attestation.platform == bundle_platform {
            checks.push(Check::pass("page.platform", format!("platform {bundle_platform}")));
        } else {
            checks.push(Check::fail(
                "page.platform",
                PageError::Platform { claims: c.attestation.platform.clone(), bundle: bundle_platform.into() }.into(),
            ));
        }
    }

    match &bundle.attestation {
        Attestation::None { statement } => {
            if statement == NO_ATTESTATION {
                checks.push(Check::pass("attestation", format!("platform none: {statement:?}")));
            } else {
                checks.push(Check::fail("attestation", PageError::Statement(statement.clone()).into()));
            }
            let verdict = verdict::decide(Evidence::default(), None);
            PageResult { checks, report: None, verdict }
        }
        Attestation::SevSnp { report, binds, fallback_reason, certificates, kds_url: _ } => {
            let binds_name = match binds {
                ReportBinding::Page => "page",
                ReportBinding::Boot => "boot",
            };
            if let Some(reason) = fallback_reason {
                checks.push(Check::pass("attestation.fallback", format!("boot-time report attached: {reason}")));
            }
            let raw = match decode_b64(report) {
                Some(r) => r,
                None => {
                    checks.push(Check::fail("report.parse", PageError::ReportEncoding.into()));
                    let verdict = verdict::decide(Evidence { has_report: true, ..Evidence::default() }, Some(binds_name));
                    return PageResult { checks, report: None, verdict };
                }
            };
            let parsed = match Report::parse(&raw) {
                Ok(r) => r,
                Err(e) => {
                    checks.push(Check::fail("report.parse", Failure::Parse(e)));
                    let verdict = verdict::decide(Evidence { has_report: true, ..Evidence::default() }, Some(binds_name));
                    return PageResult { checks, report: None, verdict };
                }
            };
            checks.push(Check::pass("report.parse", format!("{} bytes, version {}", raw.len(), parsed.version)));
            let bundled = certificates
                .first()
                .map(|c| decode_b64(c).ok_or(()).and_then(|der| Cert::parse(&der, Role::Vcek).map_err(|_| ())));
            let leaf = match bundled {
                Some(Ok(c)) => Some(c),
                Some(Err(())) => {
                    checks.push(Check::fail("page.certificates", PageError::CertificateEncoding.into()));
                    opts.cert.clone()
                }
                None => opts.cert.clone(),
            };
            let rr = check::verify_report(&parsed, leaf.as_ref(), &opts.report);
            let genuine = rr.genuine();
            let policy_ok = rr.checks.iter().filter(|c| c.name.starts_with("policy.")).all(|c| c.status != Status::Fail);
            checks.extend(rr.checks);

            let bound = match (&claims, &verified) {
                (Some(c), Some(v)) => {
                    let purpose = match binds {
                        ReportBinding::Page => Purpose::Page(binding::page_digest(&v.payload)),
                        ReportBinding::Boot => Purpose::Boot,
                    };
                    binding_check(c, thumbprint, purpose, binds_name, &parsed, &mut checks)
                }
                _ => {
                    checks.push(Check::skip("binding.report_data", "no verified statement to bind"));
                    false
                }
            };
            let (m, coverage) = measurement_check(&parsed, opts.measurement.as_ref());
            checks.push(m);
            let verdict = verdict::decide(
                Evidence { has_report: true, genuine, bound, policy_ok, measurement: coverage },
                Some(binds_name),
            );
            PageResult { checks, report: Some(rr.summary), verdict }
        }
    }
}

fn binding_check(
    c: &Claims,
    thumbprint: [u8; 32],
    purpose: Purpose<'_>,
    purpose_name: &'static str,
    report: &Report,
    checks: &mut Vec<Check>,
) -> bool {
    let Some(tls) = parse_hex32(&c.attestation.tls_key_sha256) else {
        checks.push(Check::fail("binding.report_data", PageError::TlsKeyHash.into()));
        return false;
    };
    let identity = ServiceIdentity {
        client_id: c.client_id.clone(),
        environment: c.environment,
        domain: c.domain.clone(),
        signing_key_thumbprint: thumbprint,
        tls_key_sha256: tls,
    };
    match binding::report_data(&identity, purpose) {
        Ok(expected) if crate::ct_eq(&expected, &report.report_data) => {
            checks.push(Check::pass(
                "binding.report_data",
                format!("REPORT_DATA binds client id, environment, domain, signing key, TLS key and the {purpose_name}"),
            ));
            true
        }
        Ok(expected) => {
            checks.push(Check::fail(
                "binding.report_data",
                PageError::Binding {
                    purpose: purpose_name,
                    expected: crate::hex(&expected),
                    reported: crate::hex(&report.report_data),
                }
                .into(),
            ));
            false
        }
        Err(_) => {
            checks.push(Check::fail(
                "binding.report_data",
                PageError::Binding { purpose: purpose_name, expected: String::new(), reported: crate::hex(&report.report_data) }
                    .into(),
            ));
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_from_html() {
        let html = r#"<html><body><p>x</p><script type="application/json" id="paypal-auth-evidence">{"a":"\u003c/script>"}</script></body></html>"#;
        assert_eq!(extract_from_html(html), Some(r#"{"a":"\u003c/script>"}"#));
        assert_eq!(extract_from_html("<div id=\"paypal-auth-evidence\">{}</div>"), None);
        assert_eq!(extract_from_html("nothing"), None);
        assert!(matches!(read_bundle(b"<html></html>"), Err(InputError::NoEvidenceElement)));
        assert!(matches!(read_bundle(b"{}"), Err(InputError::Json(_))));
    }
}
