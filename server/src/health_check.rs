//! Background health checks: probes ejected API keys back into their pools (a one-token chat to
//! `token_failover.health_check_model`), and runs the providers' active checks (`health_check`:
//! a GET of `path` or a one-token chat to `model`). One task reads the current snapshot every tick,
//! so checks follow reloads without being restarted; each probe runs in its own task.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, header};
use http_body_util::{BodyExt, Full};
use serde_json::json;
use tokio::time::{Instant, MissedTickBehavior};

use crate::protocols::RequestSettings;
use crate::providers::{ApiKey, Operation, Provider};
use crate::reload::CurrentSnapshot;
use crate::upstream::UpstreamClient;

/// How often the prober looks for due checks; intervals are at least 100 ms.
const TICK: Duration = Duration::from_millis(100);

pub fn spawn(snapshot: Arc<CurrentSnapshot>, client: UpstreamClient) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Skip);
        loop {
            ticks.tick().await;
            let current = snapshot.load_full();
            let now = Instant::now();
            for provider in current.providers() {
                schedule_checks(&client, provider, now);
            }
        }
    });
}

fn schedule_checks(client: &UpstreamClient, provider: &Arc<Provider>, now: Instant) {
    if let Some(check) = &provider.circuit.active
        && provider
            .health
            .active_check_due(now, Duration::from_millis(check.interval_ms))
    {
        let (client, provider) = (client.clone(), Arc::clone(provider));
        tokio::spawn(async move { active_check(&client, &provider).await });
    }
    let policy = &provider.key_policy;
    if !policy.enabled || policy.probe_model.is_none() {
        return;
    }
    for (index, key) in provider.keys.iter().enumerate() {
        if key.health.probe_due(now, policy) {
            let (client, provider) = (client.clone(), Arc::clone(provider));
            tokio::spawn(async move { probe_key(&client, &provider, index).await });
        }
    }
}

async fn probe_key(client: &UpstreamClient, provider: &Provider, index: usize) {
    let Some(key) = provider.keys.get(index) else {
        return;
    };
    let Some(model) = provider.key_policy.probe_model.as_deref() else {
        return;
    };
    let result = chat_probe(
        client,
        provider,
        Some(key),
        model,
        provider.key_policy.probe_timeout,
    )
    .await;
    let message = result
        .as_ref()
        .err()
        .map(String::as_str)
        .unwrap_or_default();
    tracing::debug!(provider = %provider.name, key = %key.masked, ok = result.is_ok(), message, "key health check");
    key.health
        .record_probe(result.is_ok(), message, &provider.key_policy);
}

async fn active_check(client: &UpstreamClient, provider: &Provider) {
    let Some(check) = &provider.circuit.active else {
        return;
    };
    let timeout = Duration::from_millis(check.timeout_ms);
    let key = provider.choose_key(Instant::now(), &[]).ok().flatten();
    let result = match (&check.path, &check.model) {
        (Some(path), _) => get_probe(client, provider, key, path, timeout).await,
        (None, Some(model)) => chat_probe(client, provider, key, model, timeout).await,
        (None, None) => return,
    };
    let message = result
        .as_ref()
        .err()
        .map(String::as_str)
        .unwrap_or_default();
    tracing::debug!(provider = %provider.name, ok = result.is_ok(), message, "provider health check");
    provider
        .health
        .record_active_check(result.is_ok(), message, &provider.circuit);
}

/// The smallest chat request in the provider's own protocol.
fn probe_body(provider: &Provider, model: &str) -> Result<Bytes, String> {
    let openai =
        json!({"model": model, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1});
    let settings = RequestSettings {
        target: model,
        default_max_tokens: 1,
    };
    let body = provider.wire().chat_request(openai, &settings)?;
    Ok(Bytes::from(body.to_string()))
}

async fn chat_probe(
    client: &UpstreamClient,
    provider: &Provider,
    key: Option<&ApiKey>,
    model: &str,
    timeout: Duration,
) -> Result<(), String> {
    let uri = provider.uri(Operation::Chat { stream: false }, model)?;
    let body = probe_body(provider, model)?;
    let mut request = Request::new(Full::new(body.clone()));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    provider.apply_headers(request.headers_mut(), key);
    provider.authorize(&mut request, &body, key, client).await?;
    exchange(client, request, timeout).await
}

async fn get_probe(
    client: &UpstreamClient,
    provider: &Provider,
    key: Option<&ApiKey>,
    path: &str,
    timeout: Duration,
) -> Result<(), String> {
    let uri = format!("{}{path}", provider.base())
        .parse()
        .map_err(|e| format!("bad health check URL: {e}"))?;
    let mut request = Request::new(Full::new(Bytes::new()));
    *request.method_mut() = Method::GET;
    *request.uri_mut() = uri;
    provider.apply_headers(request.headers_mut(), key);
    provider.authorize(&mut request, &[], key, client).await?;
    exchange(client, request, timeout).await
}

/// The most of a probe's answer that is read (and thrown away), like error bodies on the proxy.
const MAX_PROBE_BODY: usize = 64 * 1024;

/// Reads and discards a body so its connection can be reused, stopping after `limit` bytes (the
/// connection is then closed): a check only needs the status, and must not read an endless
/// answer until its timeout. Whether the body ended within the limit.
async fn drain<B: http_body::Body + Unpin>(mut body: B, limit: usize) -> bool {
    let mut read = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        if let Some(data) = frame.data_ref() {
            read = read.saturating_add(bytes::Buf::remaining(data));
            if read > limit {
                return false;
            }
        }
    }
    true
}

/// Sends a probe and reads its answer (bounded, so the connection can be reused); success is a
/// 2xx.
async fn exchange(
    client: &UpstreamClient,
    request: Request<Full<Bytes>>,
    timeout: Duration,
) -> Result<(), String> {
    let attempt = async {
        let response = client
            .request(request)
            .await
            .map_err(|e| format!("unreachable: {e}"))?;
        let status = response.status();
        drain(response.into_body(), MAX_PROBE_BODY).await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("answered {status}"))
        }
    };
    tokio::time::timeout(timeout, attempt)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {timeout:?}")))
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use http_body::Frame;

    use super::*;

    /// A body that never ends, counting the chunks it was asked for.
    struct Endless {
        polled: usize,
    }

    impl http_body::Body for Endless {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.polled += 1;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(&[b'x'; 1024])))))
        }
    }

    #[tokio::test]
    async fn a_probe_answer_is_read_only_up_to_the_limit() {
        let mut endless = Endless { polled: 0 };
        assert!(!drain(&mut endless, MAX_PROBE_BODY).await);
        assert_eq!(endless.polled, MAX_PROBE_BODY / 1024 + 1);

        let small = Full::new(Bytes::from_static(b"{\"ok\":true}"));
        assert!(drain(small, MAX_PROBE_BODY).await);
        let exact = Full::new(Bytes::from(vec![b'x'; MAX_PROBE_BODY]));
        assert!(drain(exact, MAX_PROBE_BODY).await);
    }
}
