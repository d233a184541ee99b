//! The Gemini API inbound (`/v1beta/models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:countTokens`) as the google-genai SDK calls it, against every provider protocol: a Gemini
//! provider gets the client's bytes at its own `models/{target}:…` path with its own key, every
//! other provider (OpenAI-compatible, Anthropic, Azure) gets the request translated through chat
//! completions, and the answer comes back as a `GenerateContentResponse` or `data:` chunks. Also
//! the client's keys (`?key=` and `x-goog-api-key`), Google's error shape, countTokens, model
//! mapping, the request record and fallback.
//!
//! This file holds the setup and the readers the tests in `gemini/` share.

#[path = "gemini/answers.rs"]
mod answers;
#[path = "gemini/gateway.rs"]
mod gateway;

use std::ops::Deref;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::fixtures::{exact, route};
use switchyard_tests::providers::conformance::ANTHROPIC_DEFAULT_MAX_TOKENS;
use switchyard_tests::providers::{
    AzureMock, Kind, MockServer, OpenAiMock, Tokens, anthropic, gemini, openai_api,
};
use switchyard_tests::{ApiResponse, Gateway, RecordedRequest, SseEvent, SseReader};

/// The model the SDK asks for; the route sends it upstream as [`Kind::upstream_model`].
pub const MODEL: &str = "gemini-house";

/// What google-genai sends for `client.models.generate_content(model=…, contents="hi")`.
pub const SDK_BODY: &str = r#"{"contents":[{"parts":[{"text":"hi"}],"role":"user"}]}"#;

/// A Google API key the client holds; with client auth off it is no Switchyard key and is
/// ignored, and it must never reach a provider.
pub const CLIENT_KEY: &str = "AIzaSy-client-credential-must-not-leak";

/// Every provider kind, in the order the tests go through them.
pub const KINDS: [Kind; 4] = [Kind::OpenAi, Kind::Anthropic, Kind::Gemini, Kind::Azure];

/// The Azure deployment serving [`Kind::upstream_model`] for Azure.
const AZURE_DEPLOYMENT: &str = "prod-4o";

/// A provider's mock, whatever its protocol.
pub enum Mock {
    Provider(OpenAiMock),
    Azure(AzureMock),
}

impl Mock {
    /// The provider's own key, the only credential it may receive.
    pub fn key(&self) -> &str {
        match self {
            Mock::Provider(mock) => mock.key(),
            Mock::Azure(mock) => mock.key(),
        }
    }
}

impl Deref for Mock {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        match self {
            Mock::Provider(mock) => mock,
            Mock::Azure(mock) => mock,
        }
    }
}

/// Starts the mock of a provider of `kind` named `name`, and its spec to register.
pub async fn start_mock(kind: Kind, name: &str) -> (Mock, Value) {
    match kind {
        Kind::OpenAi => {
            let mock = openai_api::chat_only(name, "openai-compatible").await;
            let spec = mock.spec();
            (Mock::Provider(mock), spec)
        }
        Kind::Anthropic => {
            let mock = anthropic::mock(name).await;
            let mut spec = mock.spec();
            spec["default_max_tokens"] = json!(ANTHROPIC_DEFAULT_MAX_TOKENS);
            (Mock::Provider(mock), spec)
        }
        Kind::Gemini => {
            let mock = gemini::mock(name).await;
            let spec = mock.spec();
            (Mock::Provider(mock), spec)
        }
        Kind::Azure => {
            let mock = AzureMock::start(name, &[AZURE_DEPLOYMENT]).await;
            let mut deployments = serde_json::Map::new();
            deployments.insert(Kind::Azure.upstream_model().into(), AZURE_DEPLOYMENT.into());
            let spec = mock.spec(Value::Object(deployments));
            (Mock::Azure(mock), spec)
        }
        other => unreachable!(
            "the Gemini API tests run against OpenAI, Anthropic, Gemini and Azure, not {other:?}"
        ),
    }
}

/// A gateway with one provider of `kind` and the route `house` sending [`MODEL`] to it.
pub struct Setup {
    pub kind: Kind,
    pub gateway: Gateway,
    pub mock: Mock,
}

impl Setup {
    pub async fn start(kind: Kind) -> Setup {
        let gateway = Gateway::start().await;
        let (mock, spec) = start_mock(kind, kind.provider_name()).await;
        gateway.add_provider(&spec).await;
        let target = json!({"provider": kind.provider_name(), "model": kind.upstream_model()});
        gateway
            .add_route(&route("house", vec![exact(MODEL)], vec![target]))
            .await;
        Setup {
            kind,
            gateway,
            mock,
        }
    }

    /// The one request the provider received.
    pub fn only_request(&self) -> RecordedRequest {
        let requests = self.mock.requests();
        assert_eq!(requests.len(), 1, "{:?}: {requests:?}", self.kind);
        requests.into_iter().next().expect("one request")
    }

    /// Asserts where a request reached the provider and with which credentials: the protocol's
    /// path for [`MODEL`]'s target, the provider's own key in the protocol's one auth header,
    /// and nothing of the client's key anywhere.
    pub fn assert_addressed(&self, sent: &RecordedRequest, stream: bool) {
        let kind = self.kind;
        let (path, auth_header, auth_value) = match kind {
            Kind::OpenAi => (
                "/v1/chat/completions".to_owned(),
                "authorization",
                format!("Bearer {}", self.mock.key()),
            ),
            Kind::Anthropic => {
                let version = sent.header("anthropic-version");
                assert_eq!(version, Some(anthropic::DEFAULT_VERSION));
                (
                    "/v1/messages".to_owned(),
                    "x-api-key",
                    self.mock.key().to_owned(),
                )
            }
            Kind::Gemini => {
                let method = gemini_method(stream);
                let path = format!("/v1beta/models/{}:{method}", kind.upstream_model());
                (path, "x-goog-api-key", self.mock.key().to_owned())
            }
            Kind::Azure => {
                let version = switchyard_tests::providers::azure::DEFAULT_API_VERSION;
                let path = format!(
                    "/openai/deployments/{AZURE_DEPLOYMENT}/chat/completions?api-version={version}"
                );
                (path, "api-key", self.mock.key().to_owned())
            }
            other => unreachable!(
                "the Gemini API tests run against OpenAI, Anthropic, Gemini and Azure, not {other:?}"
            ),
        };
        assert_eq!(sent.method, Method::POST);
        assert_eq!(sent.path, path, "{kind:?} request path");
        assert_eq!(
            sent.header(auth_header),
            Some(auth_value.as_str()),
            "{kind:?}"
        );
        for other in ["authorization", "x-api-key", "api-key", "x-goog-api-key"] {
            if other != auth_header {
                assert_eq!(sent.header(other), None, "{kind:?} got a stray {other}");
            }
        }
        assert_no_client_key(sent, CLIENT_KEY);
        if kind != Kind::Gemini {
            let body = sent.json();
            assert_eq!(body["model"], kind.upstream_model(), "{kind:?} body model");
            let streams = body.get("stream").is_some_and(|s| s == true);
            assert_eq!(streams, stream, "{kind:?} stream flag in {body}");
        }
    }
}

/// Gemini's method for a generation, as it appears after the `:` of the path.
pub fn gemini_method(stream: bool) -> &'static str {
    if stream {
        "streamGenerateContent?alt=sse"
    } else {
        "generateContent"
    }
}

/// Asserts that `key` appears nowhere in what the provider received: path, headers or body.
pub fn assert_no_client_key(sent: &RecordedRequest, key: &str) {
    assert!(!sent.path.contains(key), "the client key in {}", sent.path);
    for (name, value) in &sent.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(!value.contains(key), "the client key in the {name} header");
    }
    let body = String::from_utf8_lossy(&sent.body);
    assert!(!body.contains(key), "the client key in the body: {body}");
}

/// A `POST` to `path` on the proxy with google-genai's headers and its key in `x-goog-api-key`.
pub fn sdk_request(
    gateway: &Gateway,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    sdk_request_without_key(gateway, path, body).header("x-goog-api-key", CLIENT_KEY)
}

/// [`sdk_request`] without any key.
pub fn sdk_request_without_key(
    gateway: &Gateway,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    let agent = "google-genai-sdk/1.33.0 gl-python/3.12.3";
    gateway
        .proxy_request(Method::POST, path)
        .header("content-type", "application/json")
        .header("user-agent", agent)
        .header("x-goog-api-client", agent)
        .body(body)
}

/// The proxy path of `method` (`generateContent`, `streamGenerateContent?alt=sse`, …) for `model`.
pub fn path_of(model: &str, method: &str) -> String {
    format!("/v1beta/models/{model}:{method}")
}

/// `generateContent` for [`MODEL`] with `body`, read completely.
pub async fn generate(gateway: &Gateway, body: &str) -> ApiResponse {
    let path = path_of(MODEL, "generateContent");
    ApiResponse::send(sdk_request(gateway, &path, body.to_owned())).await
}

/// A streamed answer: its status, headers and every event, read to the end; or, when the answer
/// is no event stream (an error refused before the stream started), its body.
pub struct GeminiStream {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub events: Vec<SseEvent>,
    pub body: String,
}

impl GeminiStream {
    /// Reads a stream to its end.
    pub async fn read(response: reqwest::Response) -> GeminiStream {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let is_stream = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let (events, body) = if is_stream {
            (SseReader::new(response).collect_all().await, String::new())
        } else {
            let body = response.text().await.expect("the answer's body arrives");
            (Vec::new(), body)
        };
        GeminiStream {
            status,
            headers,
            events,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Each event's data as JSON; panics on an event that is not a JSON object (`[DONE]`).
    pub fn chunks(&self) -> Vec<Value> {
        self.events
            .iter()
            .map(|event| {
                let chunk = event.json();
                assert!(
                    chunk.is_object(),
                    "a chunk that is no object: {}",
                    event.raw
                );
                chunk
            })
            .collect()
    }

    /// Every part of the first candidate, in order, across all chunks.
    pub fn parts(&self) -> Vec<Value> {
        self.chunks()
            .iter()
            .flat_map(|chunk| {
                chunk["candidates"][0]["content"]["parts"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The answer's text: the non-thought text parts concatenated.
    pub fn text(&self) -> String {
        self.parts()
            .iter()
            .filter(|part| part["thought"] != true)
            .filter_map(|part| part["text"].as_str().map(str::to_owned))
            .collect()
    }

    /// The last chunk, which must end the answer.
    pub fn last(&self) -> Value {
        self.chunks()
            .pop()
            .unwrap_or_else(|| panic!("a stream without events: {:?}", self.events))
    }

    /// Asserts a complete, well-framed Gemini stream: `200`, `text/event-stream`, only `data:`
    /// lines holding JSON objects, no `[DONE]`, no error, and the last chunk with a
    /// `finishReason` and `usageMetadata` (the only one with a `finishReason`).
    pub fn assert_complete(&self, context: &str) {
        assert_eq!(
            self.status, 200,
            "{context}: {} {:?}",
            self.body, self.events
        );
        let content_type = self.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{context}: {content_type}"
        );
        assert!(!self.events.is_empty(), "{context}: no events");
        for event in &self.events {
            assert!(!event.is_done(), "{context}: Gemini streams have no [DONE]");
            for line in event.raw.lines() {
                assert!(line.starts_with("data: "), "{context}: a line {line:?}");
            }
        }
        let chunks = self.chunks();
        for chunk in &chunks {
            assert!(
                chunk.get("error").is_none(),
                "{context}: an error event {chunk}"
            );
        }
        let finished = chunks
            .iter()
            .filter(|chunk| chunk["candidates"][0].get("finishReason").is_some())
            .count();
        assert_eq!(finished, 1, "{context}: one chunk with a finishReason");
        let last = self.last();
        assert_eq!(
            last["candidates"][0]["finishReason"], "STOP",
            "{context}: {last}"
        );
        assert!(last["usageMetadata"].is_object(), "{context}: {last}");
    }
}

/// A streaming request for `model` with `body` and the SDK's headers, read to its end.
pub async fn stream_of(request: reqwest::RequestBuilder) -> GeminiStream {
    let response = request.send().await.expect("the stream's headers arrive");
    GeminiStream::read(response).await
}

/// `streamGenerateContent?alt=sse` for [`MODEL`] with `body`, read to its end.
pub async fn stream(gateway: &Gateway, body: &str) -> GeminiStream {
    let path = path_of(MODEL, gemini_method(true));
    stream_of(sdk_request(gateway, &path, body.to_owned())).await
}

/// Gemini's `usageMetadata` for `tokens` (no cached or thought tokens).
pub fn usage_metadata(tokens: Tokens) -> Value {
    json!({
        "promptTokenCount": tokens.prompt,
        "candidatesTokenCount": tokens.completion,
        "totalTokenCount": tokens.prompt + tokens.completion,
    })
}

/// Asserts an error in Google's shape, exactly `{"error": {"code", "message", "status"}}` with
/// the HTTP status as `code`; returns the message.
pub fn google_error(response: &ApiResponse, status: u16, google_status: &str) -> String {
    response.expect_status(status, google_status);
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body = response.json();
    let error = &body["error"];
    assert_eq!(
        (&error["code"], &error["status"]),
        (&json!(status), &json!(google_status)),
        "{body}"
    );
    let sizes = [&body, error].map(|v| v.as_object().map(|o| o.len()));
    assert_eq!(
        sizes,
        [Some(1), Some(3)],
        "nothing but error and its three fields: {body}"
    );
    let message = error["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "an empty message: {body}");
    message.to_owned()
}

/// The answer's `x-request-id`, asserted present.
pub fn request_id(headers: &reqwest::header::HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("an answer without x-request-id: {headers:?}"))
        .to_owned()
}
