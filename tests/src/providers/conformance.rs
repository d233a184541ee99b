//! The conformance harness: one gateway in front of one mock of a given provider type, scripted in
//! protocol-neutral terms, plus a reader that reassembles and checks an OpenAI client's stream.
//! How each request must reach its provider is checked in `conformance/address.rs`.

mod address;

use std::collections::VecDeque;
use std::sync::Mutex;

use serde_json::{Value, json};

use super::StreamSummary;
use super::bedrock::{self, BedrockMock};
use super::cohere::{self, CohereMock};
use super::vertex::VertexMock;
use super::{AnthropicMock, AzureMock, GeminiMock, Script, anthropic, gemini, openai};
use crate::fixtures::{provider, test_key};
use crate::mock::{RecordedRequest, Reply};
use crate::{ApiResponse, Gateway, MockUpstream};

/// The chat model clients ask for; the route sends it to the provider as [`Kind::upstream_model`].
pub const MODEL: &str = "conf-model";
/// The embedding model clients ask for; it is sent as [`Kind::embedding_model`].
pub const EMBED_MODEL: &str = "conf-embed";
/// The name of the route serving [`MODEL`].
pub const ROUTE: &str = "conf";
/// The Anthropic provider's `default_max_tokens`.
pub const ANTHROPIC_DEFAULT_MAX_TOKENS: u64 = 1000;
/// The region of the Bedrock provider (its `aws_region`), which its requests are signed for.
pub const BEDROCK_REGION: &str = "eu-west-3";

/// A provider type under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `openai-compatible`, served by [`MockUpstream`].
    OpenAi,
    Anthropic,
    Gemini,
    Azure,
    /// Amazon Bedrock's Converse API, with SigV4-signed requests.
    Bedrock,
    /// Gemini on Vertex AI, with a service account's access tokens.
    Vertex,
    /// Cohere's v2 API.
    Cohere,
}

impl Kind {
    pub fn provider_name(self) -> &'static str {
        match self {
            Kind::OpenAi => "openai-mock",
            Kind::Anthropic => "anthropic-mock",
            Kind::Gemini => "gemini-mock",
            Kind::Azure => "azure-mock",
            Kind::Bedrock => "bedrock-mock",
            Kind::Vertex => "vertex-mock",
            Kind::Cohere => "cohere-mock",
        }
    }

    /// The model name the route sends upstream for [`MODEL`].
    pub fn upstream_model(self) -> &'static str {
        match self {
            Kind::OpenAi => "gpt-4o-mini",
            Kind::Anthropic => "claude-sonnet-4-5",
            Kind::Gemini => "gemini-2.5-flash",
            Kind::Azure => "gpt-4o",
            // A model id with a `:`, which the path carries as `%3A` and the signature as `%253A`.
            Kind::Bedrock => "anthropic.claude-3-5-haiku-20241022-v1:0",
            Kind::Vertex => "gemini-2.5-flash",
            Kind::Cohere => "command-a-03-2025",
        }
    }

    /// The model name the route sends upstream for [`EMBED_MODEL`].
    pub fn embedding_model(self) -> &'static str {
        match self {
            Kind::Gemini => "text-embedding-004",
            Kind::Vertex => "text-embedding-005",
            Kind::Cohere => "embed-v4.0",
            // Never sent: Bedrock's embeddings are not behind Converse.
            Kind::Bedrock => "amazon.titan-embed-text-v2:0",
            Kind::OpenAi | Kind::Anthropic | Kind::Azure => "text-embedding-3-small",
        }
    }

    /// Whether the provider speaks OpenAI's bodies, so that the gateway forwards them untouched.
    pub fn speaks_openai(self) -> bool {
        matches!(self, Kind::OpenAi | Kind::Azure)
    }
}

/// What a request to the provider was for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Chat,
    Stream,
    Embeddings,
}

enum Fake {
    OpenAi(MockUpstream),
    Anthropic(AnthropicMock),
    Gemini(GeminiMock),
    Azure(AzureMock),
    Bedrock(BedrockMock),
    Vertex(VertexMock),
    Cohere(CohereMock),
}

/// A gateway with one provider of `kind` and the routes [`MODEL`] and [`EMBED_MODEL`] to it.
pub struct Harness {
    pub kind: Kind,
    pub gateway: Gateway,
    fake: Fake,
    /// Scripts for the OpenAI mock, rendered once the request shows whether it streams.
    pending: Mutex<VecDeque<Script>>,
    always: Mutex<Option<Script>>,
}

impl Harness {
    pub async fn start(kind: Kind) -> Harness {
        let name = kind.provider_name();
        let gateway = Gateway::start().await;
        let (fake, spec) = match kind {
            Kind::OpenAi => {
                let mock = MockUpstream::start(name).await;
                let spec = provider(name, &mock, &test_key(name));
                (Fake::OpenAi(mock), spec)
            }
            Kind::Anthropic => {
                let mock = anthropic::mock(name).await;
                let mut spec = mock.spec();
                spec["default_max_tokens"] = json!(ANTHROPIC_DEFAULT_MAX_TOKENS);
                (Fake::Anthropic(mock), spec)
            }
            Kind::Gemini => {
                let mock = gemini::mock(name).await;
                let spec = mock.spec();
                (Fake::Gemini(mock), spec)
            }
            Kind::Azure => {
                let mock = AzureMock::start(name, &["prod-4o", "embed-prod"]).await;
                let spec =
                    mock.spec(json!({"gpt-4o": "prod-4o", "text-embedding-3-small": "embed-prod"}));
                (Fake::Azure(mock), spec)
            }
            Kind::Bedrock => {
                let key = bedrock::test_key(name, None);
                let mock = BedrockMock::start(name, key, BEDROCK_REGION).await;
                let spec = mock.spec(Some(BEDROCK_REGION));
                (Fake::Bedrock(mock), spec)
            }
            Kind::Vertex => {
                let mock = VertexMock::start(name).await;
                let spec = mock.spec();
                (Fake::Vertex(mock), spec)
            }
            Kind::Cohere => {
                let mock = cohere::mock(name).await;
                let spec = mock.spec();
                (Fake::Cohere(mock), spec)
            }
        };
        gateway.add_provider(&spec).await;
        for (route, model, target) in [
            (ROUTE, MODEL, kind.upstream_model()),
            ("conf-embed", EMBED_MODEL, kind.embedding_model()),
        ] {
            gateway
                .add_route(&json!({
                    "name": route,
                    "match": [{"type": "exact", "value": model}],
                    "upstreams": [{"provider": name, "model": target}],
                }))
                .await;
        }
        Harness {
            kind,
            gateway,
            fake,
            pending: Mutex::new(VecDeque::new()),
            always: Mutex::new(None),
        }
    }

    /// Scripts the provider's answer to the next request.
    pub fn script(&self, script: Script) {
        match &self.fake {
            Fake::OpenAi(_) => lock(&self.pending).push_back(script),
            Fake::Anthropic(mock) => mock.enqueue(script),
            Fake::Gemini(mock) => mock.enqueue(script),
            Fake::Azure(mock) => mock.enqueue(script),
            Fake::Bedrock(mock) => mock.enqueue(script),
            Fake::Vertex(mock) => mock.enqueue(script),
            Fake::Cohere(mock) => mock.enqueue(script),
        }
    }

    /// Scripts a successful answer to the next request.
    pub fn answer(&self, answer: super::Answer) {
        self.script(Script::Answer(answer));
    }

    /// Scripts the provider's answer to every request, retries included.
    pub fn script_always(&self, script: Script) {
        match &self.fake {
            Fake::OpenAi(_) => *lock(&self.always) = Some(script),
            Fake::Anthropic(mock) => mock.set_default(script),
            Fake::Gemini(mock) => mock.set_default(script),
            Fake::Azure(mock) => mock.set_default(script),
            Fake::Bedrock(mock) => mock.set_default(script),
            Fake::Vertex(mock) => mock.set_default(script),
            Fake::Cohere(mock) => mock.set_default(script),
        }
    }

    /// Hands the OpenAI mock its scripts, rendered for a streaming request or not.
    fn prepare(&self, stream: bool) {
        if let Fake::OpenAi(mock) = &self.fake {
            let model = self.kind.upstream_model();
            for script in lock(&self.pending).drain(..) {
                mock.enqueue(openai::reply(&script, model, stream));
            }
            if let Some(script) = lock(&self.always).as_ref() {
                mock.set_default(openai::reply(script, model, stream));
            }
        }
    }

    /// `POST /v1/chat/completions` without streaming.
    pub async fn chat(&self, body: &Value) -> ApiResponse {
        self.prepare(false);
        self.gateway.chat(body).await
    }

    /// A streaming `POST /v1/chat/completions`, answered with any status.
    pub async fn stream_response(&self, body: &Value) -> reqwest::Response {
        self.prepare(true);
        self.gateway.chat_stream(body).await
    }

    /// A streaming chat request, read to its end and checked event by event.
    pub async fn stream(&self, body: &Value) -> StreamSummary {
        StreamSummary::read(self.stream_response(body).await).await
    }

    /// `POST /v1/embeddings`.
    pub async fn embeddings(&self, body: &Value) -> ApiResponse {
        if let Fake::OpenAi(mock) = &self.fake {
            let inputs: Vec<&str> = match &body["input"] {
                Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
                other => other.as_str().into_iter().collect(),
            };
            let reply = openai::embeddings(&inputs, self.kind.embedding_model());
            mock.enqueue(Reply::Raw {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: reply.to_string().into(),
            });
        }
        self.gateway.embeddings(body).await
    }

    /// Every request the provider received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        match &self.fake {
            Fake::OpenAi(mock) => mock.requests(),
            Fake::Anthropic(mock) => mock.requests(),
            Fake::Gemini(mock) => mock.requests(),
            Fake::Azure(mock) => mock.requests(),
            Fake::Bedrock(mock) => mock.requests(),
            Fake::Vertex(mock) => mock.requests(),
            Fake::Cohere(mock) => mock.requests(),
        }
    }

    pub fn last_request(&self) -> RecordedRequest {
        self.requests()
            .pop()
            .unwrap_or_else(|| panic!("{:?} provider received no request", self.kind))
    }
}

impl Harness {
    /// Asserts that an OpenAI-speaking provider received `client_body` with only the model
    /// changed (to the route's target).
    pub fn assert_forwarded(&self, request: &RecordedRequest, client_body: &Value) {
        assert!(self.kind.speaks_openai(), "only OpenAI bodies pass through");
        let mut expected = client_body.clone();
        expected["model"] = json!(self.kind.upstream_model());
        assert_eq!(
            request.json(),
            expected,
            "{:?} received a changed body",
            self.kind
        );
    }
}

impl Harness {
    /// A streaming chat request's answer read completely, whatever its status.
    pub async fn stream_answer(&self, body: &Value) -> ApiResponse {
        let response = self.stream_response(body).await;
        let (status, headers) = (response.status(), response.headers().clone());
        let body = response.bytes().await.expect("the answer's body arrives");
        ApiResponse {
            status,
            headers,
            body,
        }
    }

    /// Asserts a failed request's answer: the status, OpenAI's error shape with `kind` and
    /// `message`, one to three attempts at the provider, and the headers that report them.
    pub fn assert_failed(&self, response: &ApiResponse, status: u16, kind: &str, message: &str) {
        response.expect_status(status, "a failing provider");
        let error = response.openai_error();
        assert_eq!(error["type"], kind, "{error}");
        assert_eq!(error["message"], message, "{error}");
        let attempts = self.requests().len();
        assert!((1..=3).contains(&attempts), "{attempts} upstream attempts");
        let counted = attempts.to_string();
        assert_eq!(
            response.header("x-switchyard-attempts"),
            Some(counted.as_str())
        );
        let provider = self.kind.provider_name();
        assert_eq!(response.header("x-switchyard-provider"), Some(provider));
    }
}

/// A chat request for [`MODEL`] with `messages` and extra top-level fields.
pub fn chat(messages: Value, extra: &[(&str, Value)]) -> Value {
    let mut body = json!({"model": MODEL, "messages": messages});
    for (key, value) in extra {
        body[*key] = value.clone();
    }
    body
}

/// A conversation of one user message.
pub fn ask(text: &str) -> Value {
    json!([{"role": "user", "content": text}])
}

/// An OpenAI message with each tool call's `arguments` text parsed into JSON, to compare calls
/// without depending on how the text orders keys; panics if an argument text is not JSON.
pub fn with_parsed_arguments(message: &Value) -> Value {
    let mut message = message.clone();
    for call in message["tool_calls"].as_array_mut().into_iter().flatten() {
        let text = call["function"]["arguments"].take();
        let text = text.as_str().expect("tool call arguments are a string");
        call["function"]["arguments"] = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("tool call arguments are not JSON ({e}): {text}"));
    }
    message
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("harness lock is not poisoned")
}

/// Asserts an OpenAI `usage` object's counts.
pub fn assert_usage(usage: &Value, prompt: u64, completion: u64, cached: u64) {
    assert_eq!(usage["prompt_tokens"], prompt, "prompt_tokens in {usage}");
    assert_eq!(
        usage["completion_tokens"], completion,
        "completion_tokens in {usage}"
    );
    assert_eq!(
        usage["total_tokens"],
        prompt + completion,
        "total_tokens in {usage}"
    );
    assert_eq!(
        usage["prompt_tokens_details"]["cached_tokens"], cached,
        "cached_tokens in {usage}"
    );
}
