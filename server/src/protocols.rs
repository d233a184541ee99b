//! The wire protocols, one module per protocol, each owning both directions: what a provider that
//! speaks it is sent and answers (a [`ProviderProtocol`]), and, for the APIs clients call the
//! gateway in, what a client sends and is answered (a [`ClientProtocol`]). OpenAI chat completions
//! is the common form every translation goes through. The exchange asks these two traits, once
//! each, instead of matching on pairs of protocols.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod cohere;
pub mod gemini;
pub mod openai;
pub mod responses;
pub mod vertex;

use bytes::Bytes;
use serde_json::Value;
use switchyard_shared::Protocol;

use crate::proxy::ProxyError;
use crate::proxy::request::Peeked;
use crate::stream::{ClientApi, Decoder, Encoder, SseStage};
use crate::usage::Usage;

/// The client-facing APIs, each answered in one protocol's format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inbound {
    /// OpenAI chat completions.
    Chat,
    /// OpenAI embeddings.
    Embeddings,
    /// Anthropic's Messages API.
    Messages,
    /// Anthropic's token counting.
    CountTokens,
    /// OpenAI's Responses API.
    Responses,
    /// Gemini's `generateContent` and `streamGenerateContent`.
    Gemini,
    /// Gemini's `countTokens`.
    GeminiCountTokens,
    /// One of OpenAI's other endpoints, passed through to providers that offer it.
    Endpoint(Endpoint),
}

/// OpenAI's endpoints beyond chat and embeddings, passed through as they are, routed by `model`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Completions,
    Images,
    AudioSpeech,
    AudioTranscriptions,
    Moderations,
    Rerank,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::Completions,
        Endpoint::Images,
        Endpoint::AudioSpeech,
        Endpoint::AudioTranscriptions,
        Endpoint::Moderations,
        Endpoint::Rerank,
    ];

    /// The path under the API's version root (`/v1` for clients, the base URL for providers).
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Completions => "/completions",
            Endpoint::Images => "/images/generations",
            Endpoint::AudioSpeech => "/audio/speech",
            Endpoint::AudioTranscriptions => "/audio/transcriptions",
            Endpoint::Moderations => "/moderations",
            Endpoint::Rerank => "/rerank",
        }
    }

    /// The name records and messages use.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Completions => "completions",
            Endpoint::Images => "images",
            Endpoint::AudioSpeech => "audio_speech",
            Endpoint::AudioTranscriptions => "audio_transcriptions",
            Endpoint::Moderations => "moderations",
            Endpoint::Rerank => "rerank",
        }
    }

    /// Whether the request body is `multipart/form-data` (an uploaded file) rather than JSON.
    pub fn multipart(self) -> bool {
        self == Endpoint::AudioTranscriptions
    }
}

impl Inbound {
    /// The name request records use (`endpoint`).
    pub fn as_str(self) -> &'static str {
        match self {
            Inbound::Chat => "chat",
            Inbound::Embeddings => "embeddings",
            Inbound::Messages => "messages",
            Inbound::CountTokens => "count_tokens",
            Inbound::Responses => "responses",
            Inbound::Gemini => "gemini",
            Inbound::GeminiCountTokens => "gemini_count_tokens",
            Inbound::Endpoint(endpoint) => endpoint.as_str(),
        }
    }

    /// The protocol the client is answered in.
    pub fn client_api(self) -> ClientApi {
        match self {
            Inbound::Chat | Inbound::Embeddings | Inbound::Endpoint(_) => ClientApi::OpenAi,
            Inbound::Messages | Inbound::CountTokens => ClientApi::Anthropic,
            Inbound::Responses => ClientApi::Responses,
            Inbound::Gemini | Inbound::GeminiCountTokens => ClientApi::Gemini,
        }
    }

    /// Where the guardrails find the text in this API's bodies.
    pub fn guardrails_api(self) -> crate::guardrails::Api {
        use crate::guardrails::Api;
        match self {
            Inbound::Chat => Api::Chat,
            Inbound::Embeddings => Api::Embeddings,
            Inbound::Messages | Inbound::CountTokens => Api::Messages,
            Inbound::Responses => Api::Responses,
            Inbound::Gemini | Inbound::GeminiCountTokens => Api::Gemini,
            Inbound::Endpoint(endpoint) => Api::Endpoint(endpoint),
        }
    }

    /// Whether the API generates text (and so reserves completion tokens and money).
    pub fn generates(self) -> bool {
        matches!(
            self,
            Inbound::Chat
                | Inbound::Messages
                | Inbound::Responses
                | Inbound::Gemini
                | Inbound::Endpoint(Endpoint::Completions)
        )
    }

    /// Whether the API only counts tokens (nothing is generated or charged).
    pub fn counts_tokens(self) -> bool {
        matches!(self, Inbound::CountTokens | Inbound::GeminiCountTokens)
    }

    /// The conversational API behind this one: how its requests become the common form and
    /// its answers come back. `None` for the APIs that are not a conversation.
    pub fn client_protocol(self) -> Option<&'static dyn ClientProtocol> {
        match self {
            Inbound::Chat => Some(&openai::ChatClient),
            Inbound::Messages => Some(&anthropic::MessagesClient),
            Inbound::Responses => Some(&responses::ResponsesClient),
            Inbound::Gemini => Some(&gemini::GeminiClient),
            Inbound::Embeddings
            | Inbound::CountTokens
            | Inbound::GeminiCountTokens
            | Inbound::Endpoint(_) => None,
        }
    }
}

/// What the gateway asks a provider to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Chat {
        stream: bool,
    },
    Embeddings,
    CountTokens,
    /// OpenAI's Responses API, natively.
    Responses,
    Endpoint(Endpoint),
}

impl Operation {
    /// Every operation, for building the URIs that do not depend on the model.
    pub const ALL: [Operation; 11] = [
        Operation::Chat { stream: false },
        Operation::Chat { stream: true },
        Operation::Embeddings,
        Operation::CountTokens,
        Operation::Responses,
        Operation::Endpoint(Endpoint::Completions),
        Operation::Endpoint(Endpoint::Images),
        Operation::Endpoint(Endpoint::AudioSpeech),
        Operation::Endpoint(Endpoint::AudioTranscriptions),
        Operation::Endpoint(Endpoint::Moderations),
        Operation::Endpoint(Endpoint::Rerank),
    ];
    pub const SLOTS: usize = Operation::ALL.len();

    /// The operation's index in `ALL`.
    pub fn slot(self) -> usize {
        match self {
            Operation::Chat { stream: false } => 0,
            Operation::Chat { stream: true } => 1,
            Operation::Embeddings => 2,
            Operation::CountTokens => 3,
            Operation::Responses => 4,
            Operation::Endpoint(endpoint) => match endpoint {
                Endpoint::Completions => 5,
                Endpoint::Images => 6,
                Endpoint::AudioSpeech => 7,
                Endpoint::AudioTranscriptions => 8,
                Endpoint::Moderations => 9,
                Endpoint::Rerank => 10,
            },
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Operation::Chat { .. } => "chat completions",
            Operation::Embeddings => "embeddings",
            Operation::CountTokens => "token counting",
            Operation::Responses => "the Responses API",
            Operation::Endpoint(Endpoint::Completions) => "completions",
            Operation::Endpoint(Endpoint::Images) => "image generation",
            Operation::Endpoint(Endpoint::AudioSpeech) => "text to speech",
            Operation::Endpoint(Endpoint::AudioTranscriptions) => "audio transcription",
            Operation::Endpoint(Endpoint::Moderations) => "moderations",
            Operation::Endpoint(Endpoint::Rerank) => "rerank",
        }
    }
}

/// Why an upstream error happened, as its protocol's parser read it from the body. It is set
/// when the error is created, so deciding what to try next never searches message text.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Cause {
    #[default]
    Unspecified,
    /// The prompt is longer than the model's context: an upstream with a larger one may serve it.
    ContextLength,
    /// The key's quota or credit is used up: another key may still have some.
    Quota,
}

/// An upstream error reduced to the fields of OpenAI's error shape.
#[derive(Debug, Default, PartialEq)]
pub struct UpstreamErrorBody {
    pub message: String,
    pub kind: Option<String>,
    pub code: Option<Value>,
    pub param: Option<Value>,
    pub cause: Cause,
    /// The HTTP status the body stands for, when it names one (an error sent as a stream event
    /// has no status line of its own).
    pub status: Option<u16>,
}

/// A provider's wire protocol, as one attempt's exchange uses it.
pub trait ProviderProtocol: Sync {
    /// Whether requests of a client API reach this protocol as they are, byte for byte.
    fn native(&self, inbound: Inbound) -> bool;

    /// The path after the base URL of an operation; `segment` is the model (or deployment) as
    /// it is, which a protocol that puts it in the path percent-encodes as one segment
    /// (`providers::encode_path_segment`). `None` when the protocol has no such operation.
    fn path(&self, operation: Operation, segment: &str, api_version: &str) -> Option<String>;

    /// Whether an operation's path names the model (and so is built per request).
    fn per_model(&self, operation: Operation) -> bool;

    /// The common form (an OpenAI chat request, `model` already the upstream's) in this
    /// protocol.
    fn chat_request(&self, chat: Value, settings: &RequestSettings) -> Result<Value, String>;

    /// This protocol's (non-streaming) answer as an OpenAI chat completion, with its usage.
    fn chat_answer(&self, raw: &Value, target: &str) -> (Value, Usage);

    /// Reads this protocol's chat stream into stream items.
    fn chat_decoder(&self, target: &str) -> Box<dyn Decoder>;

    /// An OpenAI embeddings request in this protocol; `Err` when it has no embeddings.
    fn embeddings_request(&self, openai: &Value, target: &str) -> Result<Value, String>;

    /// This protocol's embeddings answer as OpenAI's list.
    fn embeddings_answer(&self, raw: &Value, model: &str) -> Value;

    /// Reads an error body (or a stream's error event) in this protocol's shape.
    fn error(&self, body: &[u8]) -> UpstreamErrorBody;

    /// The error a stream's first event stands for, if it is one: then the attempt fails as the
    /// same error sent as a status would (and may fall back), instead of a 200 stream that ends at
    /// once. By default, a `data:` object with an `error` object, read by [`Self::error`].
    fn stream_start_error(&self, event: &crate::sse::SseEvent) -> Option<UpstreamErrorBody> {
        let data = event.data();
        let value: Value = serde_json::from_str(&data).ok()?;
        value.get("error").filter(|e| e.is_object())?;
        Some(self.error(data.as_bytes()))
    }

    /// Whether an operation's body names the model by its deployment (Azure's Responses API,
    /// at one path for every deployment).
    fn body_names_deployment(&self, _operation: Operation) -> bool {
        false
    }

    /// Reads an error answer, for a protocol that names the error in a header.
    fn error_answer(&self, _headers: &http::HeaderMap, body: &[u8]) -> UpstreamErrorBody {
        self.error(body)
    }

    /// For a protocol whose streams are not server-sent events: what turns them into SSE text.
    fn stream_transcoder(&self) -> Option<Box<dyn crate::stream::Transcoder>> {
        None
    }
}

/// What translating a request needs to know about the provider it goes to.
pub struct RequestSettings<'a> {
    /// The model name sent upstream.
    pub target: &'a str,
    /// Anthropic's `max_tokens` for requests without one.
    pub default_max_tokens: u32,
}

/// The protocol module of a provider protocol: the one place the closed list is matched.
pub fn provider_protocol(protocol: Protocol) -> &'static dyn ProviderProtocol {
    match protocol {
        Protocol::OpenAi => &openai::OpenAiProvider,
        Protocol::AzureOpenAi => &azure::AzureProvider,
        Protocol::Anthropic => &anthropic::AnthropicProvider,
        Protocol::Gemini => &gemini::GeminiProvider,
        Protocol::Bedrock => &bedrock::BedrockProvider,
        Protocol::Vertex => &vertex::VertexProvider,
        Protocol::Cohere => &cohere::CohereProvider,
    }
}

/// A conversational API clients call the gateway in.
pub trait ClientProtocol: Sync {
    /// The format answers are written in (for the cache's replay and the answer checks).
    fn answer_api(&self) -> ClientApi;

    /// The operation a provider that speaks this API natively is asked for.
    fn operation(&self, peeked: &Peeked<'_>) -> Operation {
        Operation::Chat {
            stream: peeked.stream,
        }
    }

    /// The client's request as the common form (an OpenAI chat request).
    fn to_chat(&self, request: &Value, peeked: &Peeked<'_>) -> Result<Value, ProxyError>;

    /// An OpenAI chat completion as this API's answer to `request` (the client's own body).
    fn answer(&self, completion: &Value, request: &Value, peeked: &Peeked<'_>) -> Value;

    /// Writes stream items as this API's stream, answering `request` (the client's own body).
    fn encoder(&self, request: &Value, peeked: &Peeked<'_>) -> Box<dyn Encoder>;

    /// The stage a native stream goes through (forwarded, usage read on the way).
    fn native_stage(&self, peeked: &Peeked<'_>) -> Box<dyn SseStage>;

    /// The body a native provider is sent: the client's, or with what the gateway needs added
    /// (OpenAI streams are asked for their usage).
    fn native_body(&self, body: Bytes, _peeked: &Peeked<'_>) -> Bytes {
        body
    }

    /// Reads the usage of a native, non-streaming answer.
    fn native_usage(&self, body: &[u8]) -> Option<Usage>;
}

/// An OpenAI chat `message` of the assistant from what a provider answered: its text (null when
/// it only called tools, as OpenAI writes it), its reasoning as `reasoning_content`, its tool
/// calls. Every translated answer is built this way.
pub fn assistant_message(text: String, reasoning: String, tool_calls: Vec<Value>) -> Value {
    let mut message = serde_json::Map::new();
    message.insert("role".into(), Value::from("assistant"));
    let content = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        Value::from(text)
    };
    message.insert("content".into(), content);
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::from(reasoning));
    }
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    Value::Object(message)
}

/// Where an OpenAI `image_url` points: inline base64 data, or an http(s) URL.
pub enum ImageSource<'a> {
    Inline { media_type: &'a str, data: &'a str },
    Url(&'a str),
}

/// Reads an image URL the way every protocol that takes images needs it.
pub fn image_source(url: &str) -> Result<ImageSource<'_>, String> {
    if let Some(rest) = url.strip_prefix("data:") {
        let (meta, data) = rest.split_once(',').ok_or("a data URL needs a comma")?;
        let media_type = meta
            .strip_suffix(";base64")
            .ok_or("image data URLs must be base64")?;
        return Ok(ImageSource::Inline { media_type, data });
    }
    if url.starts_with("https://") || url.starts_with("http://") {
        return Ok(ImageSource::Url(url));
    }
    Err("image URLs must be data: or http(s): URLs".into())
}

/// Text of an OpenAI content value, for places that take only text (system prompts, tool results).
pub fn content_text(content: Option<&serde_json::Value>) -> String {
    match content {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(serde_json::Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Appends items to a conversation of `(role, items)` turns, merging into the previous turn when
/// the role repeats: Anthropic and Gemini both require alternating roles.
pub fn push_turn(
    turns: &mut Vec<(String, Vec<serde_json::Value>)>,
    role: &str,
    items: Vec<serde_json::Value>,
) {
    if items.is_empty() {
        return;
    }
    match turns.last_mut() {
        Some((last, existing)) if last == role => existing.extend(items),
        _ => turns.push((role.to_owned(), items)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each protocol's parser tags the cause and status when it reads an error, so the attempt
    /// logic never has to read message text.
    #[test]
    fn errors_are_tagged_by_the_protocol_that_reads_them() {
        let cases: [(Protocol, &[u8], Cause, Option<u16>); 7] = [
            (
                Protocol::OpenAi,
                br#"{"error":{"message":"too long","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
                Cause::ContextLength,
                Some(400),
            ),
            (
                Protocol::OpenAi,
                br#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
                Cause::Quota,
                Some(429),
            ),
            (
                Protocol::OpenAi,
                br#"{"detail":"This model's maximum context length is 8192 tokens"}"#,
                Cause::ContextLength,
                None,
            ),
            (
                Protocol::Anthropic,
                br#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
                Cause::ContextLength,
                Some(400),
            ),
            (
                Protocol::Anthropic,
                br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
                Cause::Unspecified,
                Some(529),
            ),
            (
                Protocol::Gemini,
                br#"{"error":{"code":429,"message":"You exceeded your current quota.","status":"RESOURCE_EXHAUSTED"}}"#,
                Cause::Quota,
                Some(429),
            ),
            (
                Protocol::AzureOpenAi,
                br#"{"error":{"message":"rate limited","type":"rate_limit_exceeded","code":"429"}}"#,
                Cause::Unspecified,
                Some(429),
            ),
        ];
        for (protocol, body, cause, status) in cases {
            let parsed = provider_protocol(protocol).error(body);
            assert_eq!(parsed.cause, cause, "{protocol:?}: {}", parsed.message);
            assert_eq!(parsed.status, status, "{protocol:?}: {}", parsed.message);
        }
    }

    #[test]
    fn operations_and_slots_line_up() {
        for (index, operation) in Operation::ALL.into_iter().enumerate() {
            assert_eq!(operation.slot(), index);
        }
    }
}
