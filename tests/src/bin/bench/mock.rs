//! The benchmark's own upstream: a minimal hyper server that answers as fast as it can.
//!
//! Its behaviour comes from the URL path, so one port serves every arm and a provider's
//! `base_url` selects it: `/v1/chat/completions` answers a ~600-byte `chat.completion`;
//! `/sse/{chunks}/{interval_ms}/v1/…` streams that many SSE chunks, the first at once and then one
//! every interval, then `data: [DONE]`; `/delay/{ms}/v1/…` waits first; `/key/{key}/v1/…` answers
//! 401 unless the request carries `Authorization: Bearer {key}`. Segments combine. Each chunk
//! carries `bench_sent_ns` (the shared monotonic clock) so the client can time its transit.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream;
use http::{HeaderValue, Request, Response, StatusCode, header};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;
use tokio::time::Instant;

use crate::stats::mono_ns;

type MockBody = UnsyncBoxBody<Bytes, Infallible>;

/// Size of the non-streaming completion body; real short answers are about this big.
pub const COMPLETION_BYTES: usize = 600;

/// Counters the arms read to know what the mock has seen.
#[derive(Default)]
pub struct MockStats {
    /// Requests received and not yet answered (headers not yet sent).
    pub in_flight: AtomicUsize,
    pub served: AtomicU64,
    /// Connections accepted: tells whether the gateway reuses its upstream connections.
    pub connections: AtomicU64,
    pub unauthorized: AtomicU64,
}

pub struct Mock {
    pub addr: SocketAddr,
    pub stats: Arc<MockStats>,
}

/// What one request asked for through its path.
#[derive(Debug, Default, PartialEq)]
struct Behaviour {
    delay: Option<Duration>,
    sse: Option<(u32, Duration)>,
    key: Option<String>,
}

impl Mock {
    /// Binds and starts serving on the current runtime.
    pub async fn start(listen: SocketAddr) -> anyhow::Result<Mock> {
        let socket = if listen.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket
            .bind(listen)
            .with_context(|| format!("the mock cannot listen on {listen}"))?;
        // A deep backlog, because the gateway opens up to a thousand connections at once.
        let listener = socket.listen(4096)?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(MockStats::default());
        let completion = Bytes::from(completion_body());
        let shared = Arc::clone(&stats);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                shared.connections.fetch_add(1, Ordering::Relaxed);
                let stats = Arc::clone(&shared);
                let completion = completion.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        handle(request, Arc::clone(&stats), completion.clone())
                    });
                    let _ = http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        Ok(Mock { addr, stats })
    }

    pub fn base_url(&self, prefix: &str) -> String {
        format!("http://{}{prefix}/v1", self.addr)
    }
}

/// Decrements the in-flight count however the handler ends.
struct InFlight(Arc<MockStats>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

async fn handle(
    request: Request<Incoming>,
    stats: Arc<MockStats>,
    completion: Bytes,
) -> Result<Response<MockBody>, Infallible> {
    stats.in_flight.fetch_add(1, Ordering::Relaxed);
    let _guard = InFlight(Arc::clone(&stats));
    let Some(behaviour) = parse_path(request.uri().path()) else {
        return Ok(plain(StatusCode::NOT_FOUND, "no such mock path"));
    };
    let authorized = match &behaviour.key {
        None => true,
        Some(key) => request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| given == key),
    };
    // The body must be read whole so that the kept-alive connection can take the next request.
    if request.into_body().collect().await.is_err() {
        return Ok(plain(StatusCode::BAD_REQUEST, "unreadable body"));
    }
    if !authorized {
        stats.unauthorized.fetch_add(1, Ordering::Relaxed);
        let body = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
        return Ok(json(
            StatusCode::UNAUTHORIZED,
            Bytes::from_static(body.as_bytes()),
        ));
    }
    if let Some(delay) = behaviour.delay {
        tokio::time::sleep(delay).await;
    }
    stats.served.fetch_add(1, Ordering::Relaxed);
    Ok(match behaviour.sse {
        None => json(StatusCode::OK, completion),
        Some((chunks, interval)) => sse(chunks, interval),
    })
}

/// Reads the behaviour segments in front of `/v1/`; `None` for any other path.
fn parse_path(path: &str) -> Option<Behaviour> {
    let (prefix, rest) = path.split_once("/v1/")?;
    if rest != "chat/completions" {
        return None;
    }
    let mut behaviour = Behaviour::default();
    let mut segments = prefix.split('/').filter(|s| !s.is_empty());
    while let Some(segment) = segments.next() {
        match segment {
            "delay" => {
                behaviour.delay = Some(Duration::from_millis(segments.next()?.parse().ok()?));
            }
            "sse" => {
                let chunks = segments.next()?.parse().ok()?;
                let interval = Duration::from_millis(segments.next()?.parse().ok()?);
                behaviour.sse = Some((chunks, interval));
            }
            "key" => behaviour.key = Some(segments.next()?.to_owned()),
            _ => return None,
        }
    }
    Some(behaviour)
}

fn json(status: StatusCode, body: Bytes) -> Response<MockBody> {
    let mut response = Response::new(Full::new(body).boxed_unsync());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn plain(status: StatusCode, message: &'static str) -> Response<MockBody> {
    let mut response =
        Response::new(Full::new(Bytes::from_static(message.as_bytes())).boxed_unsync());
    *response.status_mut() = status;
    response
}

/// An SSE response whose chunks leave on a fixed schedule (not "interval after the previous
/// write"), so a slow consumer cannot stretch the upstream's own timing.
fn sse(chunks: u32, interval: Duration) -> Response<MockBody> {
    let start = Instant::now();
    // Step k is sent at start + k * interval; steps 0..chunks are chunks, the last is [DONE].
    let frames = stream::unfold(0u32, move |step| async move {
        if step > chunks {
            return None;
        }
        if step > 0 {
            tokio::time::sleep_until(start + interval * step).await;
        }
        let event = if step == chunks {
            Bytes::from_static(b"data: [DONE]\n\n")
        } else {
            Bytes::from(chunk_event(step, mono_ns()))
        };
        Some((Ok::<_, Infallible>(Frame::data(event)), step + 1))
    });
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// One `chat.completion.chunk` event stamped with the time it leaves the mock.
fn chunk_event(index: u32, sent_ns: u64) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-bench0000000000000000000001\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,\"model\":\"bench-mock\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"token{index} \"}},\"finish_reason\":null}}],\"bench_sent_ns\":{sent_ns}}}\n\n"
    )
}

/// A realistic `chat.completion` of exactly [`COMPLETION_BYTES`] bytes.
fn completion_body() -> String {
    let head = r#"{"id":"chatcmpl-bench0000000000000000000001","object":"chat.completion","created":1700000000,"model":"bench-mock","system_fingerprint":"fp_bench00001","choices":[{"index":0,"message":{"role":"assistant","content":""#;
    let tail = r#""},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":24,"completion_tokens":96,"total_tokens":120,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#;
    let filler = "The quick brown fox jumps over the lazy dog. ";
    let room = COMPLETION_BYTES.saturating_sub(head.len() + tail.len());
    let content: String = filler.chars().cycle().take(room).collect();
    format!("{head}{content}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_select_behaviour() {
        assert_eq!(
            parse_path("/v1/chat/completions"),
            Some(Behaviour::default())
        );
        let combined = parse_path("/delay/5/sse/3/2/key/sk-x/v1/chat/completions");
        assert_eq!(
            combined,
            Some(Behaviour {
                delay: Some(Duration::from_millis(5)),
                sse: Some((3, Duration::from_millis(2))),
                key: Some("sk-x".into()),
            })
        );
        assert_eq!(parse_path("/v1/embeddings"), None);
        assert_eq!(parse_path("/sse/x/1/v1/chat/completions"), None);
    }

    #[test]
    fn completion_is_valid_json_of_the_promised_size() {
        let body = completion_body();
        assert_eq!(body.len(), COMPLETION_BYTES);
        let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(parsed["object"], "chat.completion");
    }
}
