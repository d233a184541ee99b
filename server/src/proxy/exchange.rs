//! One request's exchange with its provider, for every pairing of the client's protocol (OpenAI
//! chat, OpenAI embeddings, Anthropic messages) with the provider's. Same protocol on both sides
//! passes bytes through; anything else is translated, through OpenAI chat as the common form.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode, header};
use serde_json::Value;
use switchyard_shared::Protocol;

use super::body::{PlainBody, SseBody, UsageFormat, UsageTap};
use super::error::{ProxyError, UpstreamError};
use super::forward::{self, UpstreamResponse};
use super::request::{self, Peeked};
use crate::protocols::anthropic::inbound as messages_api;
use crate::protocols::anthropic::{AnthropicEncoder, AnthropicPassthrough};
use crate::protocols::openai::{OpenAiDecoder, OpenAiEncoder, OpenAiPassthrough};
use crate::protocols::{anthropic, gemini};
use crate::providers::{ApiKey, Operation, Provider, parse_error_body};
use crate::sse::SseEvent;
use crate::stream::{Decoder, Encoder, SseStage, Translated};
use crate::upstream::UpstreamClient;
use crate::usage::{self, UsageContext};

/// The client-facing API a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound {
    Chat,
    Embeddings,
    Messages,
    CountTokens,
}

impl Inbound {
    /// The name request records use (`endpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            Inbound::Chat => "chat",
            Inbound::Embeddings => "embeddings",
            Inbound::Messages => "messages",
            Inbound::CountTokens => "count_tokens",
        }
    }

    /// The protocol the client is answered in.
    pub fn client_api(self) -> crate::stream::ClientApi {
        match self {
            Inbound::Chat | Inbound::Embeddings => crate::stream::ClientApi::OpenAi,
            Inbound::Messages | Inbound::CountTokens => crate::stream::ClientApi::Anthropic,
        }
    }

    /// Where the guardrails find the text in this API's bodies.
    pub fn guardrails_api(self) -> crate::guardrails::Api {
        match self {
            Inbound::Chat => crate::guardrails::Api::Chat,
            Inbound::Embeddings => crate::guardrails::Api::Embeddings,
            Inbound::Messages | Inbound::CountTokens => crate::guardrails::Api::Messages,
        }
    }
}

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
    pub usage: UsageContext,
}

/// How the client wants its answer written.
enum ClientFormat {
    OpenAi { include_usage: bool },
    Anthropic { model: String },
}

impl Exchange<'_> {
    pub async fn run(self) -> Result<Response, ProxyError> {
        let protocol = self.provider.protocol;
        match (self.inbound, protocol) {
            (Inbound::Chat, Protocol::OpenAi | Protocol::AzureOpenAi) => {
                self.openai_chat_passthrough().await
            }
            (Inbound::Chat, Protocol::Anthropic | Protocol::Gemini) => {
                let request = parse_json(self.body)?;
                let format = ClientFormat::OpenAi {
                    include_usage: self.peeked.include_usage,
                };
                self.translated_chat(request, format).await
            }
            (Inbound::Embeddings, Protocol::OpenAi | Protocol::AzureOpenAi) => {
                let body = self.rewritten_body();
                let uri = self.uri(Operation::Embeddings)?;
                let upstream =
                    forward::send(self.client, self.provider, self.key, uri, body, false, &[])
                        .await?;
                let tap = UsageTap::new(UsageFormat::OpenAi, self.usage.clone());
                Ok(plain_response(upstream, Some(tap)))
            }
            (Inbound::Embeddings, Protocol::Gemini) => self.gemini_embeddings().await,
            (Inbound::Messages, Protocol::Anthropic) => {
                let uri = self.uri(Operation::Chat {
                    stream: self.peeked.stream,
                })?;
                let body = self.rewritten_body();
                let upstream = forward::send(
                    self.client,
                    self.provider,
                    self.key,
                    uri,
                    body,
                    self.peeked.stream,
                    &self.anthropic_headers,
                )
                .await?;
                if self.peeked.stream && upstream.is_event_stream() {
                    let stage = Box::new(AnthropicPassthrough::default());
                    sse_response(self.provider, upstream, stage, self.usage).await
                } else {
                    let tap = UsageTap::new(UsageFormat::Anthropic, self.usage.clone());
                    Ok(plain_response(upstream, Some(tap)))
                }
            }
            (Inbound::Messages, _) => {
                let request = messages_api::to_openai(&parse_json(self.body)?)
                    .map_err(ProxyError::Untranslatable)?;
                let format = ClientFormat::Anthropic {
                    model: self.peeked.model.clone().into_owned(),
                };
                self.translated_chat(request, format).await
            }
            (Inbound::CountTokens, Protocol::Anthropic) => {
                let uri = self.uri(Operation::CountTokens)?;
                let upstream = forward::send(
                    self.client,
                    self.provider,
                    self.key,
                    uri,
                    self.rewritten_body(),
                    false,
                    &self.anthropic_headers,
                )
                .await?;
                Ok(plain_response(upstream, None))
            }
            (Inbound::CountTokens, _) => {
                let tokens = messages_api::estimate_tokens(&parse_json(self.body)?);
                Ok(json_response(&serde_json::json!({"input_tokens": tokens})))
            }
            (Inbound::Embeddings, Protocol::Anthropic) => Err(ProxyError::Unsupported(format!(
                "provider '{}' ({}) does not support embeddings",
                self.provider.name, self.provider.kind
            ))),
        }
    }

    fn uri(&self, operation: Operation) -> Result<http::Uri, ProxyError> {
        self.provider
            .uri(operation, self.target)
            .map_err(ProxyError::Unsupported)
    }

    /// The client's body with the model name rewritten when it changes; otherwise the same bytes.
    fn rewritten_body(&self) -> Bytes {
        if self.target == self.peeked.model {
            self.body.clone()
        } else {
            request::rewrite_model(self.body, self.peeked.model_span.clone(), self.target)
        }
    }

    async fn openai_chat_passthrough(self) -> Result<Response, ProxyError> {
        let stream = self.peeked.stream;
        let mut body = self.rewritten_body();
        if stream && !self.peeked.include_usage {
            body = request::with_include_usage(&body, self.peeked.has_stream_options);
        }
        let uri = self.uri(Operation::Chat { stream })?;
        let upstream =
            forward::send(self.client, self.provider, self.key, uri, body, stream, &[]).await?;
        if stream && upstream.is_event_stream() {
            let stage = OpenAiPassthrough::new(!self.peeked.include_usage);
            sse_response(self.provider, upstream, Box::new(stage), self.usage).await
        } else {
            let tap = UsageTap::new(UsageFormat::OpenAi, self.usage.clone());
            Ok(plain_response(upstream, Some(tap)))
        }
    }

    /// Sends an OpenAI chat request to any provider, translating it to the provider's protocol
    /// and the answer to the client's.
    async fn translated_chat(
        self,
        mut request: Value,
        format: ClientFormat,
    ) -> Result<Response, ProxyError> {
        let stream = self.peeked.stream;
        request["model"] = Value::from(self.target);
        let (body, decoder): (Value, Box<dyn Decoder>) = match self.provider.protocol {
            Protocol::OpenAi | Protocol::AzureOpenAi => {
                (request, Box::new(OpenAiDecoder::default()))
            }
            Protocol::Anthropic => (
                anthropic::request(&request, self.target, self.provider.default_max_tokens)
                    .map_err(ProxyError::Untranslatable)?,
                Box::new(anthropic::AnthropicDecoder::default()),
            ),
            Protocol::Gemini => (
                gemini::request(&request).map_err(ProxyError::Untranslatable)?,
                Box::new(gemini::GeminiDecoder::new(self.target)),
            ),
        };
        let uri = self.uri(Operation::Chat { stream })?;
        let upstream = forward::send(
            self.client,
            self.provider,
            self.key,
            uri,
            Bytes::from(body.to_string()),
            stream,
            &[],
        )
        .await?;
        if stream {
            let encoder: Box<dyn Encoder> = match &format {
                ClientFormat::OpenAi { include_usage } => {
                    Box::new(OpenAiEncoder::new(*include_usage))
                }
                ClientFormat::Anthropic { model } => Box::new(AnthropicEncoder::new(model)),
            };
            let stage = Box::new(Translated::new(decoder, encoder));
            return sse_response(self.provider, upstream, stage, self.usage).await;
        }
        let raw = parse_json(&upstream.body.collect(MAX_TRANSLATED_BODY).await?)
            .map_err(|_| ProxyError::BadUpstreamResponse("the body is not JSON".into()))?;
        let (completion, usage) = match self.provider.protocol {
            Protocol::OpenAi | Protocol::AzureOpenAi => {
                let usage = raw
                    .get("usage")
                    .and_then(usage::Usage::from_openai)
                    .unwrap_or_default();
                (raw, usage)
            }
            Protocol::Anthropic => anthropic::response(&raw),
            Protocol::Gemini => gemini::response(&raw, self.target),
        };
        usage::report(&self.usage, usage);
        Ok(match format {
            ClientFormat::OpenAi { .. } => json_response(&completion),
            ClientFormat::Anthropic { model } => {
                json_response(&messages_api::from_openai_response(&completion, &model).0)
            }
        })
    }

    async fn gemini_embeddings(self) -> Result<Response, ProxyError> {
        let request = gemini::embeddings_request(&parse_json(self.body)?, self.target)
            .map_err(ProxyError::Untranslatable)?;
        let uri = self.uri(Operation::Embeddings)?;
        let upstream = forward::send(
            self.client,
            self.provider,
            self.key,
            uri,
            Bytes::from(request.to_string()),
            false,
            &[],
        )
        .await?;
        let raw = parse_json(&upstream.body.collect(MAX_TRANSLATED_BODY).await?)
            .map_err(|_| ProxyError::BadUpstreamResponse("the body is not JSON".into()))?;
        Ok(json_response(&gemini::embeddings_response(
            &raw,
            &self.peeked.model,
        )))
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
    if let Some(error) = stream_start_error(&first, provider.protocol) {
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
/// the same error sent as a status, and mapped to the status it stands for.
fn stream_start_error(event: &SseEvent, protocol: Protocol) -> Option<ProxyError> {
    let data = event.data();
    let value: Value = serde_json::from_str(&data).ok()?;
    let error = value.get("error").filter(|e| e.is_object())?;
    let parsed = parse_error_body(protocol, data.as_bytes());
    let numeric = error
        .get("code")
        .and_then(Value::as_u64)
        .filter(|code| (400..600).contains(code));
    let status = match (numeric, parsed.kind.as_deref()) {
        (Some(code), _) => code as u16,
        (None, Some("overloaded_error")) => 529,
        (None, Some("rate_limit_error" | "rate_limit_exceeded")) => 429,
        (None, Some("authentication_error")) => 401,
        (None, Some("permission_error")) => 403,
        (None, Some("not_found_error")) => 404,
        (None, Some("invalid_request_error")) => 400,
        _ => 502,
    };
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
        retry_after: None,
    })))
}
