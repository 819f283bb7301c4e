//! HTML rendering: every page of the service, with all dynamic text escaped.
//!
//! Pages work without JavaScript. The result page embeds its evidence bundle twice: as a
//! download link (a `data:` URL) and as `<script type="application/json"
//! id="paypal-auth-evidence">`, which browsers never execute and the verifier reads from a saved
//! page.

use paypal_auth_evidence::bundle::NO_ATTESTATION;

/// Escapes text for HTML element content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Facts about this instance that every page states.
pub struct Banner {
    /// PayPal environment name.
    pub environment: &'static str,
    /// Set when the PayPal endpoints are not PayPal's (local runs): the API base shown.
    pub paypal_override: Option<String>,
    /// True when the TLS certificate is self-signed (local runs).
    pub self_signed_tls: bool,
    /// The attestation platform (`none` or `sev-snp`).
    pub platform: &'static str,
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;line-height:1.5;color:#1a1a1a}\
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem}\
.notice{background:#fff4d6;border:1px solid #e0b84c;padding:.5rem .8rem;border-radius:6px;margin:.4rem 0}\
.ok{background:#e6f6ea;border:1px solid #6cbf84;padding:.5rem .8rem;border-radius:6px}\
.paypal{display:inline-block;background:#ffc439;color:#111;font-weight:600;padding:.7rem 1.4rem;border-radius:24px;text-decoration:none;font-size:1.1rem}\
table{border-collapse:collapse}td,th{text-align:left;padding:.25rem .8rem .25rem 0;vertical-align:top}\
pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.6rem;border-radius:6px;font-size:.8rem}";

fn layout(title: &str, banner: &Banner, body: &str) -> String {
    let mut notices = String::new();
    if let Some(api) = &banner.paypal_override {
        notices.push_str(&format!(
            "<p class=\"notice\" id=\"notice-standin\">This instance does not talk to PayPal: its PayPal endpoints are overridden (API at <code>{}</code>). Logins here are local tests.</p>",
            escape(api)
        ));
    }
    if banner.self_signed_tls {
        notices.push_str("<p class=\"notice\" id=\"notice-tls\">This local run uses a self-signed TLS certificate, not one from a public CA.</p>");
    }
    if banner.platform == "none" {
        notices.push_str(&format!("<p class=\"notice\" id=\"notice-attestation\"><strong>{NO_ATTESTATION}</strong>: pages are signed, but no hardware report vouches for the signing key.</p>"));
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{title} · PayPal Auth VM</title><style>{STYLE}</style></head><body>{notices}{body}\
<footer><p><small>PayPal Auth VM · PayPal environment: {env} · attestation platform: {platform}</small></p></footer></body></html>",
        title = escape(title),
        env = banner.environment,
        platform = banner.platform,
    )
}

/// The landing page with the login button.
pub fn index(banner: &Banner, used: usize, capacity: usize) -> String {
    let body = format!(
        "<h1>PayPal Auth VM</h1>\
<p>Log in with PayPal once, and get a page signed inside a confidential VM whose key is bound into a hardware attestation report. \
Each PayPal account can use this service once while this VM is running.</p>\
<p><a class=\"paypal\" id=\"login\" href=\"/login\">Log in with PayPal</a></p>\
<p><small>{used} of {capacity} places used in this boot.</small></p>"
    );
    layout("Log in", banner, &body)
}

/// A page that explains a failure; `detail` is shown escaped.
pub fn message(banner: &Banner, title: &str, detail: &str, again: bool) -> String {
    let link = if again { "<p><a href=\"/\">Start again</a></p>" } else { "" };
    let body = format!("<h1 id=\"title\">{}</h1><p id=\"detail\">{}</p>{link}", escape(title), escape(detail));
    layout(title, banner, &body)
}

/// What the result page shows.
pub struct ResultPage<'a> {
    /// The signed claims (already serialised into the JWS).
    pub claims: &'a paypal_auth_evidence::claims::Claims,
    /// The compact JWS.
    pub jws: &'a str,
    /// The evidence bundle as JSON.
    pub bundle_json: &'a str,
    /// Public JWK as JSON.
    pub jwk_json: &'a str,
    /// True when the signing key is generated per boot.
    pub ephemeral_key: bool,
    /// One paragraph about the attached attestation.
    pub attestation_summary: String,
}

/// The signed result page.
pub fn result(banner: &Banner, page: &ResultPage<'_>) -> String {
    use base64::Engine;
    let user = &page.claims.user;
    let mut rows = String::new();
    let mut row = |label: &str, value: Option<String>| {
        if let Some(value) = value {
            rows.push_str(&format!("<tr><th>{}</th><td>{}</td></tr>", escape(label), escape(&value)));
        }
    };
    row("Name", user.name.clone());
    row("Given name", user.given_name.clone());
    row("Family name", user.family_name.clone());
    row(
        "Email",
        user.email.clone().map(|e| match user.email_verified {
            Some(true) => format!("{e} (confirmed)"),
            Some(false) => format!("{e} (not confirmed)"),
            None => e,
        }),
    );
    row("Verified PayPal account", user.verified_account.map(|v| if v { "yes".into() } else { "no".into() }));
    row("PayPal payer id", user.payer_id.clone());
    row("PayPal user id (for this app)", Some(user.user_id.clone()));
    let display = user.name.clone().or_else(|| user.given_name.clone()).or_else(|| user.email.clone()).unwrap_or_else(|| "your PayPal account".into());
    let key_note = if page.ephemeral_key {
        "The signing key was generated inside this VM at boot and never leaves its memory."
    } else {
        "The signing key is a stable key loaded from a secret. Its operator could sign with it outside the VM; the attestation report bound to this page is what shows the page came from the VM."
    };
    // The JSON goes inside a <script> element: "<" must not appear literally.
    let embedded = page.bundle_json.replace('<', "\\u003c");
    let download = base64::engine::general_purpose::STANDARD.encode(page.bundle_json.as_bytes());
    let body = format!(
        "<h1 id=\"title\">Signed in as {display}</h1>\
<p class=\"ok\">This account has now used the service for this boot. The statement below is signed (JWS, ES256).</p>\
<h2>Your PayPal information</h2><table id=\"user\">{rows}</table>\
<h2>Signed statement</h2><p>{key_note}</p><pre id=\"jws\">{jws}</pre>\
<h2>Signing key (public JWK)</h2><pre id=\"jwk\">{jwk}</pre>\
<h2>Attestation</h2><p id=\"attestation\">{attestation}</p>\
<h2>Verify it yourself</h2>\
<p><a id=\"download\" download=\"paypal-auth-evidence.json\" href=\"data:application/json;base64,{download}\">Download the evidence (JSON)</a>, then run</p>\
<pre>paypal-auth-verify page paypal-auth-evidence.json --client-id {client_id} --domain {domain}</pre>\
<p>Any JOSE library can also check the JWS against the public key above.</p>\
<script type=\"application/json\" id=\"paypal-auth-evidence\">{embedded}</script>",
        display = escape(&display),
        jws = escape(page.jws),
        jwk = escape(page.jwk_json),
        attestation = escape(&page.attestation_summary),
        client_id = escape(&page.claims.client_id),
        domain = escape(&page.claims.domain),
    );
    layout("Signed in", banner, &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_html_metacharacters() {
        assert_eq!(escape(r#"<a href="x">'&'</a>"#), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }

    #[test]
    fn no_attestation_is_stated_plainly() {
        let banner = Banner { environment: "sandbox", paypal_override: None, self_signed_tls: false, platform: "none" };
        assert!(index(&banner, 0, 1).contains(NO_ATTESTATION));
        let banner = Banner { platform: "sev-snp", ..banner };
        assert!(!index(&banner, 0, 1).contains(NO_ATTESTATION));
    }
}
