//! A scripted browser for the login flow: a cookie jar, manual redirects (so a test can stop
//! just before the callback), and the stand-in's consent form.

use reqwest::{Method, StatusCode};

/// A page the browser ended on.
#[derive(Debug, Clone)]
pub struct Page {
    /// Final status.
    pub status: StatusCode,
    /// Final URL.
    pub url: String,
    /// Body text.
    pub body: String,
    /// `Location` of a redirect the browser was told not to follow.
    pub location: Option<String>,
}

/// A browser with its own cookie jar.
pub struct Browser {
    client: reqwest::Client,
}

impl Browser {
    /// A browser that accepts the service's certificate. `root_pem`: trust only this root
    /// (ACME runs); `None`: accept any certificate (self-signed local runs).
    pub fn new(root_pem: Option<&[u8]>) -> Self {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30));
        builder = match root_pem.and_then(|pem| reqwest::Certificate::from_pem(pem).ok()) {
            Some(root) => builder.add_root_certificate(root).tls_built_in_root_certs(false),
            None => builder.danger_accept_invalid_certs(true),
        };
        Browser { client: builder.build().expect("reqwest client") }
    }

    /// A browser that trusts only `root_pem` and resolves `host` to 127.0.0.1:`port`.
    pub fn with_resolve(root_pem: &[u8], host: &str, port: u16) -> Self {
        let mut builder = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .resolve(host, std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .tls_built_in_root_certs(false);
        if let Ok(root) = reqwest::Certificate::from_pem(root_pem) {
            builder = builder.add_root_certificate(root);
        }
        Browser { client: builder.build().expect("reqwest client") }
    }

    async fn fetch(&self, method: Method, url: &str, form: Option<&[(&str, &str)]>) -> reqwest::Result<reqwest::Response> {
        let mut request = self.client.request(method, url);
        if let Some(form) = form {
            let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
            request = request.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        request.send().await
    }

    /// Requests `url` and follows redirects (at most 10), except to a URL for which
    /// `stop_at(url)` is true, which is returned as `location` instead.
    pub async fn navigate(&self, method: Method, url: &str, form: Option<&[(&str, &str)]>, stop_at: &(dyn Fn(&str) -> bool + Sync)) -> reqwest::Result<Page> {
        let mut response = self.fetch(method, url, form).await?;
        for _ in 0..10 {
            if !response.status().is_redirection() {
                break;
            }
            let Some(location) = response.headers().get("location").and_then(|v| v.to_str().ok()).map(String::from) else { break };
            let next = response.url().join(&location).map(|u| u.to_string()).unwrap_or(location);
            if stop_at(&next) {
                let status = response.status();
                let url = response.url().to_string();
                return Ok(Page { status, url, body: String::new(), location: Some(next) });
            }
            response = self.fetch(Method::GET, &next, None).await?;
        }
        let status = response.status();
        let url = response.url().to_string();
        let body = response.text().await?;
        Ok(Page { status, url, body, location: None })
    }

    /// GET, following every redirect.
    pub async fn get(&self, url: &str) -> reqwest::Result<Page> {
        self.navigate(Method::GET, url, None, &|_| false).await
    }

    /// Starts a login at `service` and answers the stand-in's consent page with `decision`
    /// (`approve` or `deny`) as `user`. Stops before the service's callback and returns its URL.
    pub async fn consent(&self, service: &str, user: &str, decision: &str) -> Result<String, String> {
        let consent = self.navigate(Method::GET, &format!("{service}/login"), None, &|_| false).await.map_err(|e| e.to_string())?;
        let request_id = extract_value(&consent.body, "name=\"request\" value=\"").ok_or_else(|| format!("no consent form at {} (HTTP {}): {}", consent.url, consent.status, consent.body))?;
        let action = url::Url::parse(&consent.url).and_then(|u| u.join("/signin/authorize/decision")).map_err(|e| e.to_string())?;
        let callback_prefix = format!("{service}/callback");
        let page = self
            .navigate(Method::POST, action.as_str(), Some(&[("request", &request_id), ("user", user), ("decision", decision)]), &|u| u.starts_with(&callback_prefix))
            .await
            .map_err(|e| e.to_string())?;
        page.location.ok_or_else(|| format!("the stand-in did not redirect to the callback: HTTP {} {}", page.status, page.body))
    }

    /// The whole login: consent as `user`, then follow the callback.
    pub async fn login(&self, service: &str, user: &str) -> Result<Page, String> {
        let callback = self.consent(service, user, "approve").await?;
        self.get(&callback).await.map_err(|e| e.to_string())
    }
}

/// The text after `marker` up to the next `"`.
pub fn extract_value(body: &str, marker: &str) -> Option<String> {
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')? + start;
    Some(body[start..end].to_string())
}

/// The evidence bundle embedded in a result page.
pub fn embedded_bundle(body: &str) -> Option<paypal_auth_evidence::bundle::Bundle> {
    let marker = "<script type=\"application/json\" id=\"paypal-auth-evidence\">";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find("</script>")? + start;
    serde_json::from_str(&body[start..end]).ok()
}
