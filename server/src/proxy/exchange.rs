//! One attempt's exchange with its provider. The client's API (`ClientProtocol`) and the
//! provider's protocol (`ProviderProtocol`) are asked once each: a provider that speaks the
//! client's API natively gets the client's bytes; any other is sent the common form (OpenAI
//! chat) translated into its protocol, and its answer is translated back.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::body::{PlainBody, SseBody, UsageReader, UsageTap};
use super::error::{ProxyError, UpstreamError};
use super::forward::{self, UpstreamResponse};
use super::request::{self, Peeked};
use crate::protocols::anthropic::inbound as messages_api;
use crate::protocols::{
    ClientProtocol, Endpoint, Operation, ProviderProtocol, RequestSettings, gemini,
};
use crate::providers::{ApiKey, Provider};
use crate::sse::SseEvent;
use crate::stream::{SseStage, Translated};
use crate::upstream::UpstreamClient;
use crate::usage::{self, UsageContext};

pub use crate::protocols::Inbound;

/// The largest translated (non-streaming) provider answer the gateway reads.
const MAX_TRANSLATED_BODY: usize = 32 * 1024 * 1024;

/// Everything about one request that the exchange needs.
pub struct Exchange<'a> {
    pub client: &'a UpstreamClient,
    pub inbound: Inbound,
    pub provider: &'a Provider,
    pub key: Option<&'a ApiKey>,
    /// The model name sent upstream.
    pub target: &'a str,
    pub body: &'a Bytes,
    pub peeked: &'a Peeked<'a>,
    /// Client headers worth forwarding to an Anthropic provider (`anthropic-beta`, `-version`).
    pub anthropic_headers: Vec<(HeaderName, HeaderValue)>,
    /// The body's content type when it is not JSON (a multipart form).
    pub body_type: Option<&'a HeaderValue>,
    pub usage: UsageContext,
}

impl Exchange<'_> {
    /// One attempt: the client's API and the provider's protocol are each asked once what to
    /// do, and the request passes through when the provider speaks the client's API natively.
    pub async fn run(self) -> Result<Response, ProxyError> {
        let wire = self.provider.wire();
        let native = self.provider.native(self.inbound);
        match (self.inbound, self.inbound.client_protocol()) {
            (_, Some(client)) if native => self.native(client).await,
            (_, Some(client)) => {
                let original = parse_json(self.body)?;
                let request = client.to_chat(&original, self.peeked)?;
                self.translated(wire, client, original, request).await
            }
            (Inbound::Embeddings, None) => self.embeddings(wire).await,
            (Inbound::CountTokens | Inbound::GeminiCountTokens, None) if native => {
                let uri = self.uri(Operation::CountTokens)?;
                let upstream = self.send(uri, self.rewritten_body(), false).await?;
                Ok(plain_response(upstream, None))
            }
            (Inbound::CountTokens, None) => {
                let tokens = messages_api::estimate_tokens(&parse_json(self.body)?);
                Ok(json_response(&serde_json::json!({"input_tokens": tokens})))
            }
            (Inbound::GeminiCountTokens, None) => {
                let tokens = gemini::inbound::estimate_tokens(&parse_json(self.body)?);
                Ok(json_response(&gemini::inbound::count_tokens_answer(tokens)))
            }
            (Inbound::Endpoint(endpoint), None) if native => self.endpoint(endpoint).await,
            (Inbound::Endpoint(endpoint), None) => Err(ProxyError::Unsupported(format!(
                "provider '{}' ({}) does not offer {}",
                self.provider.name,
                self.provider.kind,
                Operation::Endpoint(endpoint).describe()
            ))),
            (inbound, None) => Err(ProxyError::Unsupported(format!(
                "the {} API has no exchange",
                inbound.as_str()
            ))),
        }
    }

    /// One of OpenAI's other endpoints, passed through: completions like chat (usage asked for
    /// and read, the stream checked for its end), the rest (images, audio, moderations, rerank)
    /// byte for byte whatever their answer's type.
    async fn endpoint(self, endpoint: Endpoint) -> Result<Response, ProxyError> {
        if endpoint == Endpoint::Completions {
            return self.native(&crate::protocols::openai::ChatClient).await;
        }
        let uri = self.uri(Operation::Endpoint(endpoint))?;
        let upstream = self
            .send(uri, self.rewritten_body(), self.peeked.stream)
            .await?;
        let tap = crate::protocols::openai::endpoint_usage(endpoint)
            .map(|read| UsageTap::new(UsageReader::Body(read), self.usage.clone()));
        Ok(plain_response(upstream, tap))
    }

    fn uri(&self, operation: Operation) -> Result<http::Uri, ProxyError> {
        self.provider
            .uri(operation, self.target)
            .map_err(ProxyError::Unsupported)
    }

    async fn send(
        &self,
        uri: http::Uri,
        body: Bytes,
        stream: bool,
    ) -> Result<UpstreamResponse, ProxyError> {
        let outgoing = forward::Outgoing {
            stream,
            content_type: self.body_type,
            extra: &self.anthropic_headers,
        };
        forward::send(self.client, self.provider, self.key, uri, body, outgoing).await
    }

    /// The client's body with the model name rewritten when it changes; otherwise the same bytes.
    fn rewritten_body(&self) -> Bytes {
        if self.target == self.peeked.model {
            self.body.clone()
        } else {
            request::with_model(self.body, self.peeked, self.target)
        }
    }

    /// The provider speaks the client's API: bytes pass through, and the answer is only read
    /// on the way (usage, the end of a stream).
    async fn native(self, client: &'static dyn ClientProtocol) -> Result<Response, ProxyError> {
        let stream = self.peeked.stream;
        let operation = match self.inbound {
            Inbound::Endpoint(endpoint) => Operation::Endpoint(endpoint),
            _ => client.operation(self.peeked),
        };
        let body = if self.provider.wire().body_names_deployment(operation) {
            let deployment = self.provider.deployment(self.target);
            request::with_model(self.body, self.peeked, deployment)
        } else {
            self.rewritten_body()
        };
        let body = client.native_body(body, self.peeked);
        let uri = self.uri(operation)?;
        let upstream = self.send(uri, body, stream).await?;
        if stream && upstream.is_event_stream() {
            let stage = client.native_stage(self.peeked);
            sse_response(self.provider, upstream, stage, self.usage).await
        } else {
            let tap = UsageTap::new(UsageReader::Client(client), self.usage.clone());
            Ok(plain_response(upstream, Some(tap)))
        }
    }

    /// Sends the common form to any provider, translated to the provider's protocol, and the
    /// answer back to the client's.
    async fn translated(
        self,
        wire: &'static dyn ProviderProtocol,
        client: &'static dyn ClientProtocol,
        original: Value,
        mut request: Value,
    ) -> Result<Response, ProxyError> {
        let stream = self.peeked.stream;
        request["model"] = Value::from(self.target);
        let settings = RequestSettings {
            target: self.target,
            default_max_tokens: self.provider.default_max_tokens,
        };
        let body = wire
            .chat_request(request, &settings)
            .map_err(ProxyError::Untranslatable)?;
        let uri = self.uri(Operation::Chat { stream })?;
        let upstream = self
            .send(uri, Bytes::from(body.to_string()), stream)
            .await?;
        if stream {
            let mut upstream = upstream;
            upstream.body.transcode(wire.stream_transcoder());
            let decoder = wire.chat_decoder(self.target);
            let encoder = client.encoder(&original, self.peeked);
            let stage = Box::new(Translated::new(decoder, encoder));
            return sse_response(self.provider, upstream, stage, self.usage).await;
        }
        let raw = parse_json(&upstream.body.collect(MAX_TRANSLATED_BODY).await?)
            .map_err(|_| ProxyError::BadUpstreamResponse("the body is not JSON".into()))?;
        let (completion, usage) = wire.chat_answer(&raw, self.target);
        usage::report(&self.usage, usage);
        Ok(json_response(&client.answer(
            &completion,
            &original,
            self.peeked,
        )))
    }

    /// Embeddings: OpenAI's body as it is to providers that take it, translated otherwise.
    async fn embeddings(self, wire: &'static dyn ProviderProtocol) -> Result<Response, ProxyError> {
        let uri = self.uri(Operation::Embeddings)?;
        if wire.native(Inbound::Embeddings) {
            let upstream = self.send(uri, self.rewritten_body(), false).await?;
            let tap = UsageTap::new(
                UsageReader::Body(crate::protocols::openai::read_usage),
                self.usage.clone(),
            );
            return Ok(plain_response(upstream, Some(tap)));
        }
        let request = wire
            .embeddings_request(&parse_json(self.body)?, self.target)
            .map_err(ProxyError::Untranslatable)?;
        let upstream = self
            .send(uri, Bytes::from(request.to_string()), false)
            .await?;
        let raw = parse_json(&upstream.body.collect(MAX_TRANSLATED_BODY).await?)
            .map_err(|_| ProxyError::BadUpstreamResponse("the body is not JSON".into()))?;
        let answer = wire.embeddings_answer(&raw, &self.peeked.model);
        if let Some(usage) = answer.get("usage").and_then(usage::Usage::from_openai) {
            usage::report(&self.usage, usage);
        }
        Ok(json_response(&answer))
    }
}

fn parse_json(body: &[u8]) -> Result<Value, ProxyError> {
    serde_json::from_slice(body).map_err(|e| ProxyError::MalformedJson(e.to_string()))
}

fn json_response(value: &Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        Bytes::from(value.to_string()),
    )
        .into_response()
}

fn plain_response(upstream: UpstreamResponse, tap: Option<UsageTap>) -> Response {
    let mut response = Response::new(Body::new(PlainBody::new(upstream.body, tap)));
    *response.status_mut() = upstream.status;
    forward::copy_response_headers(&upstream.headers, response.headers_mut());
    response
}

/// Starts a streamed answer once the provider's first event has arrived: a stream whose first
/// event is an error fails the attempt like an error status would.
async fn sse_response(
    provider: &Provider,
    mut upstream: UpstreamResponse,
    stage: Box<dyn SseStage>,
    usage: UsageContext,
) -> Result<Response, ProxyError> {
    let (preread, first) = upstream
        .body
        .stream_start(provider.timeouts.first_byte)
        .await?;
    if let Some(error) = stream_start_error(&first, provider) {
        return Err(error);
    }
    let body = SseBody::new(upstream.body, preread, stage, usage);
    let mut response = Response::new(Body::new(body));
    *response.status_mut() = upstream.status;
    forward::copy_response_headers(&upstream.headers, response.headers_mut());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(response)
}

/// An error event as a stream's first event (Anthropic's `event: error`, or a `data:` object with
/// an `error` field), read with the provider protocol's own error parser so it ends up exactly like
/// the same error sent as a status, with the status the body names.
fn stream_start_error(event: &SseEvent, provider: &Provider) -> Option<ProxyError> {
    let parsed = provider.wire().stream_start_error(event)?;
    let status = parsed.status.unwrap_or(502);
    Some(ProxyError::Upstream(Box::new(UpstreamError {
        status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        message: if parsed.message.is_empty() {
            "the upstream stream started with an error".to_owned()
        } else {
            parsed.message
        },
        kind: parsed.kind,
        code: parsed.code,
        param: parsed.param,
        cause: parsed.cause,
        retry_after: None,
    })))
}
