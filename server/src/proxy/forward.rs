//! Sending one request to a provider: building it from scratch (the client's headers never reach
//! the provider), bounding the wait for response headers, and translating error answers.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::time::Instant;

use super::body::UpstreamBody;
use super::error::{ProxyError, UpstreamError};
use crate::providers::{ApiKey, Provider};
use crate::upstream::{ConnectTimeout, UpstreamClient};

/// The most of an upstream error body the gateway reads to translate it.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// A successful upstream answer whose body has not been read yet.
pub struct UpstreamResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: UpstreamBody,
}

impl UpstreamResponse {
    pub fn is_event_stream(&self) -> bool {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"))
    }
}

/// How one upstream request is sent, beyond its URI and body.
pub struct Outgoing<'a> {
    /// Whether the answer is asked for as a stream.
    pub stream: bool,
    /// The body's content type when it is not JSON (a client's multipart form, boundary
    /// included).
    pub content_type: Option<&'a HeaderValue>,
    /// The client's own protocol headers that reach the provider.
    pub extra: &'a [(HeaderName, HeaderValue)],
}

/// Sends `body` to `uri` with the provider's key and headers, plus `extra` headers.
pub async fn send(
    client: &UpstreamClient,
    provider: &Provider,
    key: Option<&ApiKey>,
    uri: Uri,
    body: Bytes,
    outgoing: Outgoing<'_>,
) -> Result<UpstreamResponse, ProxyError> {
    let Outgoing {
        stream,
        content_type,
        extra,
    } = outgoing;
    let timeouts = provider.timeouts;
    let started = Instant::now();
    let deadline = started + timeouts.total;

    // The URL tried, without its query, for a 404's message (a query may carry a key).
    let tried = format!(
        "{}://{}{}",
        uri.scheme_str().unwrap_or("http"),
        uri.authority().map_or("", |a| a.as_str()),
        uri.path()
    );
    // Kept (by reference count) for a signature over the body.
    let signed_body = body.clone();
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        content_type
            .cloned()
            .unwrap_or(HeaderValue::from_static("application/json")),
    );
    headers.insert(
        header::ACCEPT,
        HeaderValue::from_static(match (stream, content_type.is_some()) {
            (true, _) => "text/event-stream",
            // A form's answer may be text, JSON or audio, as the client asked.
            (false, true) => "*/*",
            (false, false) => "application/json",
        }),
    );
    provider.apply_headers(headers, key);
    // The client's own protocol headers (Anthropic's version and betas on pass-through) come last:
    // the client knows which version of the API it speaks.
    for (name, value) in extra {
        headers.insert(name.clone(), value.clone());
    }
    // Signing covers the final headers, so it comes last.
    provider
        .authorize(&mut request, &signed_body, key, client)
        .await
        .map_err(|error| {
            ProxyError::UpstreamUnreachable(format!(
                "the gateway could not authenticate to the provider '{}': {error}",
                provider.name
            ))
        })?;

    // The connector bounds connecting by `connect_ms`; the response headers are due
    // `first_byte_ms` after sending (connecting included when no pooled connection was free),
    // and the whole exchange never outlives the total deadline.
    let headers_due = (started + timeouts.first_byte).min(deadline);
    let response = match tokio::time::timeout_at(headers_due, client.request(request)).await {
        Ok(Ok(response)) => response,
        Ok(Err(error)) => return Err(classify_client_error(&error)),
        Err(_) => return Err(ProxyError::UpstreamTimeout("no response headers")),
    };
    let (parts, incoming) = response.into_parts();
    if !parts.status.is_success() {
        return Err(upstream_error(
            provider,
            &tried,
            parts.status,
            &parts.headers,
            incoming,
            timeouts.idle,
        )
        .await);
    }
    Ok(UpstreamResponse {
        status: parts.status,
        headers: parts.headers,
        body: UpstreamBody::new(incoming, timeouts.idle, deadline),
    })
}

/// Whether an upstream response header reaches the client. Only end-to-end headers that
/// describe the answer are kept: no hop-by-hop headers, no cookies, no upstream server details.
fn forwards_header(name: &str) -> bool {
    matches!(
        name,
        "content-type" | "retry-after" | "x-request-id" | "openai-processing-ms" | "request-id"
    ) || name.starts_with("x-ratelimit-")
        || name.starts_with("anthropic-ratelimit-")
}

pub fn copy_response_headers(from: &HeaderMap, to: &mut HeaderMap) {
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
    tried: &str,
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
    let mut parsed = provider.wire().error_answer(headers, &bytes);
    // A bare "Not Found" (no error of the protocol's own) or one about the model is the
    // configuration's doing; an API error about something else the client sent (an unknown
    // `previous_response_id`) is the client's, and keeps the upstream's words.
    let about_a_field = parsed
        .param
        .as_ref()
        .and_then(|param| param.as_str())
        .is_some_and(|param| param != "model")
        || (parsed.kind.is_some() && !parsed.message.to_ascii_lowercase().contains("model"));
    if matches!(
        status,
        StatusCode::NOT_FOUND | StatusCode::METHOD_NOT_ALLOWED
    ) && !about_a_field
    {
        // No such endpoint (or model) upstream: the gateway's configuration sent the request
        // somewhere wrong, so say where it went and what to check, not just "Not Found".
        tracing::warn!(provider = %provider.name, url = tried, %status, "the upstream has no such endpoint or model; check the provider's base_url and model");
        let said = if parsed.message.is_empty() {
            String::new()
        } else {
            format!(" The upstream said: {}", parsed.message)
        };
        parsed.message = format!(
            "The provider '{}' answered {status} for POST {tried}: it has no such endpoint or \
             model. Check the provider's base_url ({}) and the model name sent upstream.{said}",
            provider.name,
            provider.base()
        );
        if parsed.code.is_none() {
            parsed.code = Some(serde_json::Value::from("upstream_not_found"));
        }
    }
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
        cause: parsed.cause,
        retry_after: headers.get(header::RETRY_AFTER).cloned(),
    }))
}
