//! The one pooled upstream HTTP client: keep-alive, rustls, HTTP/2 where offered, TCP_NODELAY.
//!
//! Connect timeouts differ per provider, but a connector only sees the URI it must reach, so it
//! looks the timeout up by `host:port` in the current snapshot. That keeps one shared pool while
//! still honouring each provider's `connect_ms`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::Uri;
use http_body_util::Full;
use hyper_rustls::{HttpsConnector, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tower_service::Service;

use crate::providers::authority;
use crate::reload::CurrentSnapshot;

pub type UpstreamClient = Client<TimeoutConnector, Full<Bytes>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The connect timeout for an authority no provider names (which only happens between a
/// reload and the requests that still hold the previous snapshot).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Builds the shared client.
pub fn client(snapshot: Arc<CurrentSnapshot>) -> UpstreamClient {
    // Installing the process-wide crypto provider fails only if one is installed already,
    // which is the state we want either way.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_keepalive(Some(Duration::from_secs(60)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .build(TimeoutConnector {
            inner: https,
            snapshot,
        })
}

/// An HTTPS-or-HTTP connector that gives up after the provider's connect timeout.
#[derive(Clone)]
pub struct TimeoutConnector {
    inner: HttpsConnector<HttpConnector>,
    snapshot: Arc<CurrentSnapshot>,
}

/// Marks a connect attempt that ran out of time, so the proxy can report a timeout.
#[derive(Debug, thiserror::Error)]
#[error("connecting to the upstream timed out after {0:?}")]
pub struct ConnectTimeout(pub Duration);

impl Service<Uri> for TimeoutConnector {
    type Response = MaybeHttpsStream<TokioIo<TcpStream>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let timeout = authority(&uri)
            .and_then(|key| self.snapshot.load().connect_timeout(&key))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT);
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(result) => result,
                Err(_) => Err(Box::new(ConnectTimeout(timeout)) as BoxError),
            }
        })
    }
}
