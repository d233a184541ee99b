//! Sending one request upstream and turning the answer into the client's response: success bodies
//! stream through frame by frame (never buffered), error bodies are read and translated.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::error::{ProxyError, UpstreamError};
use crate::providers::{Endpoint, Provider, parse_error_body};
use crate::upstream::{ConnectTimeout, UpstreamClient};

/// The most of an upstream error body the gateway reads to translate it.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// One upstream attempt, fully described.
pub struct Attempt<'a> {
    pub provider: &'a Provider,
    pub endpoint: Endpoint,
    pub body: Bytes,
    pub stream: bool,
}

/// Sends the attempt and returns the client's response, or the error to answer with.
pub async fn send(client: &UpstreamClient, attempt: Attempt<'_>) -> Result<Response, ProxyError> {
    let provider = attempt.provider;
    let timeouts = provider.timeouts;
    let started = Instant::now();
    let deadline = started + timeouts.total;

    let mut request = Request::new(Full::new(attempt.body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = provider.uri(attempt.endpoint).clone();
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(if attempt.stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    );
    provider.apply_headers(headers, provider.pick_key());

    // Connecting is bounded by the connector; the wait for response headers adds the first-byte
    // budget on top, and the whole exchange never outlives the total deadline.
    let headers_due = (started + timeouts.connect + timeouts.first_byte).min(deadline);
    let response = match tokio::time::timeout_at(headers_due, client.request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Err(classify_client_error(&error)),
        Err(_) => return Err(ProxyError::UpstreamTimeout("no response headers")),
    };

    let (parts, incoming) = response.into_parts();
    if !parts.status.is_success() {
        return Err(upstream_error(
            provider,
            parts.status,
            &parts.headers,
            incoming,
            timeouts.idle,
        )
        .await);
    }
    let sse = attempt.stream
        && parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = GuardedBody::new(incoming, timeouts.idle, deadline, sse);
    let mut response = Response::new(Body::new(body));
    *response.status_mut() = parts.status;
    copy_response_headers(&parts.headers, response.headers_mut());
    Ok(response)
}

/// Whether an upstream response header reaches the client. Only end-to-end headers that
/// describe the answer are kept: no hop-by-hop headers, no cookies, no upstream server details.
fn forwards_header(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "retry-after" | "x-request-id" | "openai-processing-ms"
    ) || name.starts_with("x-ratelimit-")
}

fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if forwards_header(name.as_str()) {
            to.append(name.clone(), value.clone());
        }
    }
}

fn classify_client_error(error: &hyper_util::client::legacy::Error) -> ProxyError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if current.is::<ConnectTimeout>() {
            return ProxyError::UpstreamTimeout("connect");
        }
        source = current.source();
    }
    // The chain's innermost message names the cause (refused, reset, TLS) without the noise.
    let mut cause: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    ProxyError::UpstreamUnreachable(cause.to_string())
}

/// Reads (a bounded part of) an error body and carries its message over into OpenAI's shape.
async fn upstream_error(
    provider: &Provider,
    status: StatusCode,
    headers: &HeaderMap,
    body: Incoming,
    idle: Duration,
) -> ProxyError {
    let read = tokio::time::timeout(idle, Limited::new(body, MAX_ERROR_BODY).collect()).await;
    let bytes = match read {
        Ok(Ok(collected)) => collected.to_bytes(),
        _ => Bytes::new(),
    };
    let parsed = parse_error_body(provider.protocol, &bytes);
    let message = if parsed.message.is_empty() {
        format!(
            "The upstream provider '{}' answered {status}.",
            provider.name
        )
    } else {
        parsed.message
    };
    ProxyError::Upstream(Box::new(UpstreamError {
        status,
        message,
        kind: parsed.kind,
        code: parsed.code,
        param: parsed.param,
        retry_after: headers.get(header::RETRY_AFTER).cloned(),
    }))
}

/// The upstream's response body on its way to the client, with the idle and total timeouts
/// enforced between frames. When a server-sent-event stream fails after it started, the client
/// gets a final `data: {"error":…}` event and no `[DONE]`, so a truncated answer never looks
/// complete; other bodies end with an error, which aborts the response.
struct GuardedBody {
    inner: Incoming,
    idle: Duration,
    deadline: Instant,
    timer: Pin<Box<Sleep>>,
    sse: bool,
    finished: bool,
}

impl GuardedBody {
    fn new(inner: Incoming, idle: Duration, deadline: Instant, sse: bool) -> GuardedBody {
        GuardedBody {
            inner,
            idle,
            deadline,
            timer: Box::pin(tokio::time::sleep_until(
                (Instant::now() + idle).min(deadline),
            )),
            sse,
            finished: false,
        }
    }

    fn fail(&mut self, error: ProxyError) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.finished = true;
        tracing::warn!(error = %error, "upstream response body failed");
        if self.sse {
            let event = format!("data: {}\n\n", error.body());
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(event)))))
        } else {
            Poll::Ready(Some(Err(BodyError(error.to_string()))))
        }
    }
}

/// A failure in the middle of a response body.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(String);

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.finished {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = (Instant::now() + this.idle).min(this.deadline);
                this.timer.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => this.fail(ProxyError::UpstreamUnreachable(format!(
                "the upstream connection failed mid-response: {error}"
            ))),
            Poll::Ready(None) => {
                this.finished = true;
                Poll::Ready(None)
            }
            Poll::Pending => {
                ready!(this.timer.as_mut().poll(cx));
                let what = if Instant::now() >= this.deadline {
                    "total time exceeded"
                } else {
                    "no data within the idle timeout"
                };
                this.fail(ProxyError::UpstreamTimeout(what))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
