//! The inbound APIs beyond chat and Messages, end to end: OpenAI's Responses API against every
//! provider protocol (passed through to OpenAI, which serves it; translated through chat
//! completions for Anthropic, Gemini and chat-only OpenAI-compatible servers), Codex CLI's way of
//! calling it, its errors and fallback; and OpenAI's other endpoints (completions, images, audio,
//! moderations, rerank) passed through by model, with keys and limits applied to all of them.
//!
//! Each mock speaks its provider's exact wire format, streams included, and records what it
//! received, so every test asserts both sides: what the provider got and what the client got.
//! The tests live in the `inbound_apis/` modules; this file holds what they share.

#[path = "inbound_apis/access.rs"]
mod access;
#[path = "inbound_apis/codex.rs"]
mod codex;
#[path = "inbound_apis/endpoints.rs"]
mod endpoints;
#[path = "inbound_apis/failures.rs"]
mod failures;
#[path = "inbound_apis/gemini.rs"]
mod gemini_api;
#[path = "inbound_apis/responses.rs"]
mod responses;
#[path = "inbound_apis/transcriptions.rs"]
mod transcriptions;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::fixtures::{exact, route};
pub use switchyard_tests::providers::conformance::ANTHROPIC_DEFAULT_MAX_TOKENS;
use switchyard_tests::providers::{OpenAiMock, ResponsesStream, anthropic, gemini, openai_api};
use switchyard_tests::{ApiResponse, Gateway};

/// The model clients ask for; each setup's route sends it upstream as [`Upstream::model`].
pub const MODEL: &str = "house-model";

/// A provider behind the gateway, by the protocol it speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    /// Type `openai`: serves the Responses API and every endpoint natively.
    OpenAi,
    Anthropic,
    Gemini,
    /// Type `deepseek`: OpenAI's chat completions and nothing else.
    ChatOnly,
}

impl Upstream {
    pub fn provider(self) -> &'static str {
        match self {
            Upstream::OpenAi => "openai-up",
            Upstream::Anthropic => "anthropic-up",
            Upstream::Gemini => "gemini-up",
            Upstream::ChatOnly => "deepseek-up",
        }
    }

    /// The model the route sends upstream for [`MODEL`].
    pub fn model(self) -> &'static str {
        match self {
            Upstream::OpenAi => "gpt-4.1-mini",
            Upstream::Anthropic => "claude-sonnet-4-5",
            Upstream::Gemini => "gemini-2.5-flash",
            Upstream::ChatOnly => "deepseek-chat",
        }
    }

    /// Starts the provider's mock and its spec to register.
    pub async fn start(self) -> (OpenAiMock, Value) {
        let name = self.provider();
        let mock = match self {
            Upstream::OpenAi => openai_api::mock(name).await,
            Upstream::Anthropic => anthropic::mock(name).await,
            Upstream::Gemini => gemini::mock(name).await,
            Upstream::ChatOnly => openai_api::chat_only(name, "deepseek").await,
        };
        let mut spec = mock.spec();
        if self == Upstream::Anthropic {
            spec["default_max_tokens"] = json!(ANTHROPIC_DEFAULT_MAX_TOKENS);
        }
        (mock, spec)
    }
}

/// A gateway with one provider and the route `house` sending [`MODEL`] to it.
pub struct Setup {
    pub gateway: Gateway,
    pub mock: OpenAiMock,
    pub upstream: Upstream,
}

impl Setup {
    pub async fn start(upstream: Upstream) -> Setup {
        let gateway = Gateway::start().await;
        let (mock, spec) = upstream.start().await;
        gateway.add_provider(&spec).await;
        let target = json!({"provider": upstream.provider(), "model": upstream.model()});
        gateway
            .add_route(&route("house", vec![exact(MODEL)], vec![target]))
            .await;
        Setup {
            gateway,
            mock,
            upstream,
        }
    }
}

/// A `POST` of raw JSON bytes to `path` on the proxy, as an OpenAI SDK sends it.
pub fn post(
    gateway: &Gateway,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    post_typed(gateway, path, "application/json", body)
}

/// A `POST` of `body` as `content_type` with the OpenAI Python SDK's headers (which ask for
/// JSON even when they stream).
pub fn post_typed(
    gateway: &Gateway,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    gateway
        .proxy_request(Method::POST, path)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .header("user-agent", "OpenAI/Python 1.99.9")
        .header("x-stainless-lang", "python")
        .body(body)
}

/// `POST /v1/responses` with `body`, read completely.
pub async fn responses(gateway: &Gateway, body: &Value) -> ApiResponse {
    ApiResponse::send(post(gateway, "/v1/responses", body.to_string())).await
}

/// A streaming `POST /v1/responses`, read to its end and checked event by event.
pub async fn responses_stream(gateway: &Gateway, body: &Value) -> ResponsesStream {
    let response = post(gateway, "/v1/responses", body.to_string())
        .send()
        .await
        .expect("the stream's headers arrive");
    ResponsesStream::read(response).await
}

/// The answer's `x-request-id`, asserted present.
pub fn request_id(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("an answer without x-request-id: {headers:?}"))
        .to_owned()
}

/// Asserts an OpenAI-shaped error with `status` and `code`; returns its message.
pub fn openai_error(response: &ApiResponse, status: u16, code: &str) -> String {
    response.expect_status(status, &format!("expected {status} {code}"));
    let error = response.openai_error();
    assert_eq!(error["code"], code, "wrong error code: {}", response.text());
    error["message"]
        .as_str()
        .expect("openai_error checked the message")
        .to_owned()
}

/// A Responses API `usage` object's token counts: input, cached input, output, total.
pub fn usage_counts(usage: &Value) -> [Value; 4] {
    [
        usage["input_tokens"].clone(),
        usage["input_tokens_details"]["cached_tokens"].clone(),
        usage["output_tokens"].clone(),
        usage["total_tokens"].clone(),
    ]
}
