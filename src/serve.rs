//! The listeners: HTTPS for the application, plain HTTP for ACME challenges and redirects.
//!
//! Hardening: a cap on concurrent connections per listener, a TLS handshake deadline, a header
//! read deadline (hyper only enforces it when a timer is configured, so one is), a maximum
//! connection lifetime, and no request bodies (every route is GET).

use crate::web::App;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, LOCATION};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Listener limits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Concurrent connections per listener.
    pub max_connections: usize,
    /// Deadline for the TLS handshake.
    pub handshake_timeout: Duration,
    /// Deadline for reading a request's headers.
    pub header_timeout: Duration,
    /// Longest a connection may live.
    pub connection_lifetime: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            connection_lifetime: Duration::from_secs(300),
        }
    }
}

/// File descriptors kept free for everything that is not an inbound connection (outbound
/// clients, ACME, logging, the runtime).
const RESERVED_FDS: u64 = 128;

impl Limits {
    /// Connection caps that fit in `fd_limit` open files: after [`RESERVED_FDS`], three quarters
    /// go to HTTPS and one quarter to port 80, each between 16 and the default 1024. Returns
    /// `(https, http)`. `None` (limit unknown) gives the defaults.
    ///
    /// Raising `RLIMIT_NOFILE` (soft to hard) needs a system call, which is the PID-1 code's
    /// job (`src/sys`, the only place allowed `unsafe`): it must run before the listeners are
    /// sized, and [`nofile_soft_limit`] then reads the raised value.
    pub fn for_fd_limit(fd_limit: Option<u64>) -> (Limits, Limits) {
        let default = Limits::default();
        let Some(limit) = fd_limit else { return (default, default) };
        let usable = limit.saturating_sub(RESERVED_FDS);
        let cap = |share: u64| usize::try_from(share).unwrap_or(usize::MAX).clamp(16, default.max_connections);
        (Limits { max_connections: cap(usable / 4 * 3), ..default }, Limits { max_connections: cap(usable / 4), ..default })
    }
}

/// The soft `Max open files` limit from the text of `/proc/self/limits`.
pub fn parse_nofile_soft_limit(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line.trim_start_matches("Max open files").split_whitespace().next()?;
    match soft {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

/// This process's soft open-files limit, read from `/proc/self/limits` (`None` without /proc).
pub fn nofile_soft_limit() -> Option<u64> {
    parse_nofile_soft_limit(&std::fs::read_to_string("/proc/self/limits").ok()?)
}

/// Tokens and key authorizations of pending HTTP-01 challenges, served on port 80.
#[derive(Debug, Default)]
pub struct Challenges {
    map: RwLock<HashMap<String, String>>,
}

impl Challenges {
    /// An empty table.
    pub fn new() -> Arc<Self> {
        Arc::new(Challenges::default())
    }

    /// Publishes a challenge response.
    pub fn insert(&self, token: String, key_authorization: String) {
        self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(token, key_authorization);
    }

    /// Withdraws a challenge response.
    pub fn remove(&self, token: &str) {
        self.map.write().unwrap_or_else(std::sync::PoisonError::into_inner).remove(token);
    }

    /// The key authorization for a token whose characters are all base64url.
    pub fn get(&self, token: &str) -> Option<String> {
        if token.is_empty() || token.len() > 256 || !token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return None;
        }
        self.map.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(token).cloned()
    }
}

/// Serves the application over TLS on `listener` until the process ends.
pub async fn serve_https(listener: TcpListener, tls: Arc<rustls::ServerConfig>, app: Arc<App>, limits: Limits) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                crate::warn!("https", "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            // At the cap: close at once rather than queue.
            drop(stream);
            continue;
        };
        let acceptor = acceptor.clone();
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            let _permit = permit;
            let tls = match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => tls,
                // Failed or slow handshakes are routine on the internet; not worth a log line each.
                _ => return,
            };
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let app = Arc::clone(&app);
                async move {
                    let target = request.uri().path_and_query().map(|pq| pq.as_str().to_string()).unwrap_or_else(|| "/".into());
                    let response = app.handle(request.method(), &target, request.headers(), peer.ip()).await;
                    Ok::<_, Infallible>(response)
                }
            });
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(64 * 1024);
            builder.http2().timer(TokioTimer::new()).max_concurrent_streams(32).max_header_list_size(64 * 1024);
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            let _ = tokio::time::timeout(limits.connection_lifetime, connection).await;
        });
    }
}

/// Serves port 80: ACME HTTP-01 responses, `/healthz`, and a 301 to HTTPS for everything else.
/// Before the first certificate exists, non-challenge requests get a "starting" answer.
pub async fn serve_http(listener: TcpListener, challenges: Arc<Challenges>, https_base: String, ready: Arc<std::sync::atomic::AtomicBool>, limits: Limits) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    loop {
        let (stream, _peer) = match listener.accept().await {
            Ok(pair) => pair,
            Err(e) => {
                crate::warn!("http", "accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else { continue };
        let challenges = Arc::clone(&challenges);
        let https_base = https_base.clone();
        let ready = Arc::clone(&ready);
        tokio::spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = plain_http_response(&request, &challenges, &https_base, ready.load(std::sync::atomic::Ordering::Acquire));
                async move { Ok::<_, Infallible>(response) }
            });
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(16 * 1024);
            let _ = tokio::time::timeout(limits.connection_lifetime, builder.serve_connection(TokioIo::new(stream), service)).await;
        });
    }
}

fn plain_http_response<B>(request: &Request<B>, challenges: &Challenges, https_base: &str, ready: bool) -> Response<Full<Bytes>> {
    let path = request.uri().path();
    let reply = |status: StatusCode, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
        response
    };
    if let Some(token) = path.strip_prefix("/.well-known/acme-challenge/") {
        return match challenges.get(token) {
            Some(key_authorization) => reply(StatusCode::OK, key_authorization),
            None => reply(StatusCode::NOT_FOUND, "no such challenge\n".into()),
        };
    }
    if path == "/healthz" {
        return reply(StatusCode::OK, "ok\n".into());
    }
    if !ready {
        let mut response = reply(StatusCode::SERVICE_UNAVAILABLE, "The service is starting; HTTPS is not ready yet.\n".into());
        response.headers_mut().insert("retry-after", HeaderValue::from_static("10"));
        return response;
    }
    let target = request.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
    let mut response = reply(StatusCode::MOVED_PERMANENTLY, String::new());
    if let Ok(location) = HeaderValue::from_str(&format!("{https_base}{target}")) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// Binds a listener, with the address in the error.
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_tokens_are_checked() {
        let c = Challenges::new();
        c.insert("abc_-1".into(), "abc_-1.thumb".into());
        assert_eq!(c.get("abc_-1").as_deref(), Some("abc_-1.thumb"));
        assert_eq!(c.get("../etc"), None);
        assert_eq!(c.get("abc%2F"), None);
        assert_eq!(c.get(""), None);
        c.remove("abc_-1");
        assert_eq!(c.get("abc_-1"), None);
    }

    #[test]
    fn connection_caps_fit_the_fd_limit() {
        let text = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_nofile_soft_limit(text), Some(1024));
        assert_eq!(parse_nofile_soft_limit("Max open files  unlimited unlimited files"), Some(u64::MAX));
        assert_eq!(parse_nofile_soft_limit("nothing"), None);
        let (https, http) = Limits::for_fd_limit(Some(1024));
        assert_eq!((https.max_connections, http.max_connections), (672, 224));
        assert!(https.max_connections + http.max_connections + 128 <= 1024);
        let (https, http) = Limits::for_fd_limit(Some(1 << 20));
        assert_eq!((https.max_connections, http.max_connections), (1024, 1024));
        let (https, http) = Limits::for_fd_limit(Some(64));
        assert_eq!((https.max_connections, http.max_connections), (16, 16));
        assert_eq!(Limits::for_fd_limit(None).0.max_connections, 1024);
    }

    #[test]
    fn port_80_answers() {
        let c = Challenges::new();
        c.insert("tok".into(), "tok.kauth".into());
        let req = |uri: &str| Request::builder().uri(uri).body(()).unwrap();
        assert_eq!(plain_http_response(&req("/.well-known/acme-challenge/tok"), &c, "https://a.b", false).status(), StatusCode::OK);
        assert_eq!(plain_http_response(&req("/.well-known/acme-challenge/t%21k"), &c, "https://a.b", true).status(), StatusCode::NOT_FOUND);
        assert_eq!(plain_http_response(&req("/x"), &c, "https://a.b", false).status(), StatusCode::SERVICE_UNAVAILABLE);
        let moved = plain_http_response(&req("/x?y=1"), &c, "https://a.b", true);
        assert_eq!(moved.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(moved.headers()[LOCATION], "https://a.b/x?y=1");
        assert_eq!(plain_http_response(&req("/healthz"), &c, "https://a.b", false).status(), StatusCode::OK);
    }
}
