//! The one outbound HTTP(S) client every module uses (PayPal, OCI, ACME).
//!
//! Trust roots are compiled in (Mozilla's, via `webpki-roots`) because the image has no system
//! store; `OUTBOUND_CA_FILE` adds roots for tests, and in the image it can only come from the
//! measured command line. Every request has a deadline and every response body a size cap.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{HeaderMap, Method, StatusCode};
use hyper_util::client::legacy::connect::dns::{GaiResolver, Name};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// A host-name lookup function (the VM's own DNS client, fed from DHCP).
pub type LookupFn = Arc<dyn Fn(String) -> Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send>> + Send + Sync>;

/// How host names are resolved.
#[derive(Clone)]
pub enum Resolver {
    /// The C library's `getaddrinfo` (local runs, where `/etc/resolv.conf` exists).
    System(GaiResolver),
    /// A custom lookup (the VM, which has no `/etc/resolv.conf`).
    Custom(LookupFn),
}

impl tower_service::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Resolver::System(gai) => gai.poll_ready(cx).map_err(io::Error::other),
            Resolver::Custom(_) => Poll::Ready(Ok(())),
        }
    }

    fn call(&mut self, name: Name) -> Self::Future {
        match self {
            Resolver::System(gai) => {
                let fut = gai.call(name);
                Box::pin(async move { Ok(fut.await?.collect::<Vec<_>>().into_iter()) })
            }
            Resolver::Custom(lookup) => {
                let fut = lookup(name.as_str().to_string());
                Box::pin(async move {
                    // The port is filled in by the connector.
                    Ok(fut.await?.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect::<Vec<_>>().into_iter())
                })
            }
        }
    }
}

/// Why an outbound request failed.
#[derive(Debug)]
pub enum HttpError {
    /// The URL or a header could not be used to build a request.
    BadRequest(String),
    /// The request (connect, send, or reading the body) took longer than its deadline.
    Timeout,
    /// The response body exceeded its size cap.
    TooLarge(usize),
    /// Connecting, TLS or HTTP failed; the text says where.
    Transport(String),
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadRequest(what) => write!(f, "could not build request: {what}"),
            HttpError::Timeout => f.write_str("timed out"),
            HttpError::TooLarge(cap) => write!(f, "response body larger than {cap} bytes"),
            HttpError::Transport(what) => write!(f, "transport error: {what}"),
        }
    }
}

impl std::error::Error for HttpError {}

/// A fully read response.
#[derive(Debug)]
pub struct Response {
    /// Status code.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body, at most the cap given to [`HttpClient::send`].
    pub body: Bytes,
}

/// Why the client could not be built.
#[derive(Debug)]
pub enum ClientError {
    /// `OUTBOUND_CA_FILE` could not be read or holds no certificate.
    ExtraRoots(String),
    /// rustls rejected the configuration.
    Tls(String),
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::ExtraRoots(what) => write!(f, "extra outbound roots: {what}"),
            ClientError::Tls(what) => write!(f, "outbound TLS configuration: {what}"),
        }
    }
}

impl std::error::Error for ClientError {}

type Inner = Client<hyper_rustls::HttpsConnector<HttpConnector<Resolver>>, Full<Bytes>>;

/// The outbound client. Cheap to clone.
#[derive(Clone)]
pub struct HttpClient {
    inner: Inner,
}

/// The `User-Agent` of every outbound request.
pub const USER_AGENT: &str = concat!("paypal-auth-vm/", env!("CARGO_PKG_VERSION"));

impl HttpClient {
    /// Builds the client: compiled-in roots plus the PEM certificates in `extra_roots_file`.
    pub fn new(extra_roots_file: Option<&str>, resolver: Resolver) -> Result<Self, ClientError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        if let Some(path) = extra_roots_file {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .map_err(|e| ClientError::ExtraRoots(format!("{path}: {e}")))?
                .collect::<Result<_, _>>()
                .map_err(|e| ClientError::ExtraRoots(format!("{path}: {e}")))?;
            if certs.is_empty() {
                return Err(ClientError::ExtraRoots(format!("{path}: no certificate")));
            }
            for cert in certs {
                roots.add(cert).map_err(|e| ClientError::ExtraRoots(format!("{path}: {e}")))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Tls(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let mut http = HttpConnector::new_with_resolver(resolver);
        http.enforce_http(false);
        http.set_connect_timeout(Some(Duration::from_secs(10)));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let inner = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(8)
            .build(https);
        Ok(HttpClient { inner })
    }

    /// Sends a request and reads the whole response, all within `timeout`; bodies over
    /// `max_body` bytes are refused.
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Response, HttpError> {
        let mut builder = hyper::Request::builder().method(method).uri(url).header("user-agent", USER_AGENT);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        let request = builder.body(Full::new(Bytes::from(body))).map_err(|e| HttpError::BadRequest(e.to_string()))?;
        let exchange = async {
            let response = self.inner.request(request).await.map_err(|e| HttpError::Transport(describe(&e)))?;
            let (parts, body) = response.into_parts();
            let body = Limited::new(body, max_body)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        HttpError::TooLarge(max_body)
                    } else {
                        HttpError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Response { status: parts.status, headers: parts.headers, body })
        };
        tokio::time::timeout(timeout, exchange).await.map_err(|_| HttpError::Timeout)?
    }
}

/// The error chain of a hyper client error in one line (hyper's own Display is terse).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
