//! instant-acme's [`instant_acme::HttpClient`] on top of the service's one outbound client,
//! so ACME uses the same resolver, compiled-in roots and deadlines as everything else — and so
//! the `Retry-After` of error responses (which instant-acme drops) is kept for the scheduler.

use crate::net::http::{HttpClient, HttpError};
use bytes::Bytes;
use http_body_util::BodyExt;
use instant_acme::{BodyWrapper, BytesResponse};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Largest ACME response accepted (directories, orders and PEM chains are a few KiB).
pub const MAX_RESPONSE: usize = 1024 * 1024;

/// What the transport remembers of the last error response that carried `Retry-After`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryHint {
    /// HTTP status of that response.
    pub status: u16,
    /// The time the server asked us to wait until.
    pub until: SystemTime,
}

/// The ACME transport: every request through [`HttpClient::send`] with `timeout`.
#[derive(Clone)]
pub struct AcmeHttp {
    client: HttpClient,
    timeout: Duration,
    hint: Arc<Mutex<Option<RetryHint>>>,
}

impl AcmeHttp {
    /// Wraps `client`; each ACME request (connect, send, whole body) must finish within `timeout`.
    pub fn new(client: HttpClient, timeout: Duration) -> Self {
        AcmeHttp { client, timeout, hint: Arc::new(Mutex::new(None)) }
    }

    /// Takes the `Retry-After` of the most recent error response (4xx/5xx), if it had one.
    pub fn take_hint(&self) -> Option<RetryHint> {
        self.hint.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
    }

    /// Forgets any remembered hint (before a new operation starts).
    pub fn clear_hint(&self) {
        *self.hint.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }
}

/// The transport failure, as an error instant-acme passes through in `Error::Other`.
#[derive(Debug)]
pub struct TransportError(pub HttpError);

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ACME transport: {}", self.0)
    }
}

impl std::error::Error for TransportError {}

impl instant_acme::HttpClient for AcmeHttp {
    fn request(&self, req: hyper::Request<BodyWrapper<Bytes>>) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let this = self.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            // The body is in memory already; collecting it cannot fail (its error type is Infallible).
            let body = match body.collect().await {
                Ok(collected) => collected.to_bytes().to_vec(),
                Err(never) => match never {},
            };
            let url = parts.uri.to_string();
            let headers: Vec<(String, String)> = parts
                .headers
                .iter()
                // Our client sets its own User-Agent; instant-acme's is replaced by it.
                .filter(|(name, _)| *name != hyper::header::USER_AGENT)
                .filter_map(|(name, value)| Some((name.as_str().to_string(), value.to_str().ok()?.to_string())))
                .collect();
            let header_refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let response = this
                .client
                .send(parts.method, &url, &header_refs, body, this.timeout, MAX_RESPONSE)
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(TransportError(e))))?;
            let status = response.status;
            if status.is_client_error() || status.is_server_error() {
                let value = response.headers.get(hyper::header::RETRY_AFTER).and_then(|v| v.to_str().ok());
                if let Some(wait) = value.and_then(|v| super::policy::parse_retry_after(v, SystemTime::now())) {
                    *this.hint.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                        Some(RetryHint { status: status.as_u16(), until: SystemTime::now() + wait });
                }
            }
            let mut builder = hyper::Response::builder().status(status);
            if let Some(headers) = builder.headers_mut() {
                *headers = response.headers;
            }
            let rebuilt = builder.body(http_body_util::Full::new(response.body)).map_err(instant_acme::Error::Http)?;
            Ok(BytesResponse::from(rebuilt))
        })
    }
}
