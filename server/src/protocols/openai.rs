//! The OpenAI wire protocol, spoken natively by most providers and the common form every
//! translation goes through: its error bodies, and its stream (`openai/stream.rs`).

mod stream;

pub use stream::{OpenAiDecoder, OpenAiEncoder, OpenAiPassthrough};

use bytes::Bytes;
use serde_json::Value;

use super::{
    Cause, ClientProtocol, Endpoint, Inbound, Operation, ProviderProtocol, RequestSettings,
    UpstreamErrorBody,
};
use crate::proxy::ProxyError;
use crate::proxy::request::{self, Peeked};
use crate::stream::{ClientApi, Decoder, Encoder, SseStage};
use crate::usage::{OpenAiUsageJson, Usage};

/// OpenAI's API as providers speak it: its bodies are the common form, so nothing translates.
pub struct OpenAiProvider;

impl ProviderProtocol for OpenAiProvider {
    fn native(&self, inbound: Inbound) -> bool {
        // The Responses API is native only on providers that serve it (`Provider::native`).
        matches!(
            inbound,
            Inbound::Chat | Inbound::Embeddings | Inbound::Responses | Inbound::Endpoint(_)
        )
    }

    fn path(&self, operation: Operation, _segment: &str, _api_version: &str) -> Option<String> {
        match operation {
            Operation::Chat { .. } => Some("/chat/completions".to_owned()),
            Operation::Embeddings => Some("/embeddings".to_owned()),
            Operation::Responses => Some("/responses".to_owned()),
            Operation::Endpoint(endpoint) => Some(endpoint.path().to_owned()),
            Operation::CountTokens => None,
        }
    }

    fn per_model(&self, _operation: Operation) -> bool {
        false
    }

    fn chat_request(&self, chat: Value, _settings: &RequestSettings) -> Result<Value, String> {
        Ok(chat)
    }

    fn chat_answer(&self, raw: &Value, _target: &str) -> (Value, Usage) {
        let usage = raw
            .get("usage")
            .and_then(Usage::from_openai)
            .unwrap_or_default();
        (raw.clone(), usage)
    }

    fn chat_decoder(&self, _target: &str) -> Box<dyn Decoder> {
        Box::new(OpenAiDecoder::default())
    }

    fn embeddings_request(&self, openai: &Value, _target: &str) -> Result<Value, String> {
        Ok(openai.clone())
    }

    fn embeddings_answer(&self, raw: &Value, _model: &str) -> Value {
        raw.clone()
    }

    fn error(&self, body: &[u8]) -> UpstreamErrorBody {
        parse_error_body(body)
    }
}

/// OpenAI's chat completions as clients call it.
pub struct ChatClient;

impl ClientProtocol for ChatClient {
    fn answer_api(&self) -> ClientApi {
        ClientApi::OpenAi
    }

    fn to_chat(&self, request: &Value, _peeked: &Peeked<'_>) -> Result<Value, ProxyError> {
        Ok(request.clone())
    }

    fn answer(&self, completion: &Value, _request: &Value, _peeked: &Peeked<'_>) -> Value {
        completion.clone()
    }

    fn encoder(&self, _request: &Value, peeked: &Peeked<'_>) -> Box<dyn Encoder> {
        Box::new(OpenAiEncoder::new(peeked.include_usage))
    }

    fn native_stage(&self, peeked: &Peeked<'_>) -> Box<dyn SseStage> {
        Box::new(OpenAiPassthrough::new(!peeked.include_usage))
    }

    fn native_body(&self, body: Bytes, peeked: &Peeked<'_>) -> Bytes {
        // The gateway meters every stream, so it asks for the usage chunk the client may not
        // want; `OpenAiPassthrough` removes it again.
        if peeked.stream && !peeked.include_usage {
            request::with_include_usage(&body, peeked.has_stream_options)
        } else {
            body
        }
    }

    fn native_usage(&self, body: &[u8]) -> Option<Usage> {
        read_usage(body)
    }
}

/// The `usage` of an OpenAI answer body (chat, embeddings, and their look-alikes).
pub fn read_usage(body: &[u8]) -> Option<Usage> {
    #[derive(serde::Deserialize)]
    struct WithUsage {
        usage: Option<OpenAiUsageJson>,
    }
    serde_json::from_slice::<WithUsage>(body)
        .ok()?
        .usage
        .map(Usage::from)
}

/// Reads the usage of an answer body.
pub type UsageReaderFn = fn(&[u8]) -> Option<Usage>;

/// How an endpoint's answer reports usage, for those that report tokens: completions like chat;
/// images (gpt-image) and token-billed transcriptions with `input_tokens`/`output_tokens`;
/// rerank with `usage.total_tokens` (or `prompt_tokens`). Speech and moderations report none, and
/// a transcription billed by duration names no tokens: those are estimated.
pub fn endpoint_usage(endpoint: Endpoint) -> Option<UsageReaderFn> {
    fn usage_object(body: &[u8]) -> Option<Value> {
        let answer: Value = serde_json::from_slice(body).ok()?;
        answer.get("usage").filter(|u| u.is_object()).cloned()
    }
    fn io_tokens(body: &[u8]) -> Option<Usage> {
        let usage = usage_object(body)?;
        if usage.get("type").and_then(Value::as_str) == Some("duration") {
            return None;
        }
        let count = |key: &str| usage.get(key).and_then(Value::as_u64);
        Some(Usage {
            prompt_tokens: count("input_tokens")?,
            completion_tokens: count("output_tokens").unwrap_or(0),
            ..Usage::default()
        })
    }
    fn rerank_tokens(body: &[u8]) -> Option<Usage> {
        let usage = usage_object(body)?;
        let count = |key: &str| usage.get(key).and_then(Value::as_u64);
        Some(Usage {
            prompt_tokens: count("prompt_tokens").or_else(|| count("total_tokens"))?,
            ..Usage::default()
        })
    }
    match endpoint {
        Endpoint::Completions => Some(read_usage),
        Endpoint::Images | Endpoint::AudioTranscriptions => Some(io_tokens),
        Endpoint::Rerank => Some(rerank_tokens),
        Endpoint::AudioSpeech | Endpoint::Moderations => None,
    }
}

/// The cause OpenAI's (and look-alikes') error codes and messages name. OpenAI sends codes;
/// compatible servers (vLLM, Ollama, many hosted ones) often only a message, so the message is
/// read too — here, where the format is known, and nowhere else.
fn cause(code: Option<&str>, kind: Option<&str>, message: &str) -> Cause {
    let message = message.to_ascii_lowercase();
    let named = |needle: &str| {
        code.is_some_and(|c| c.contains(needle)) || kind.is_some_and(|k| k.contains(needle))
    };
    if named("context_length")
        || message.contains("context length")
        || message.contains("context_length")
        || message.contains("maximum context")
    {
        Cause::ContextLength
    } else if named("insufficient_quota")
        || named("quota")
        || message.contains("quota")
        || message.contains("insufficient balance")
        || message.contains("insufficient credit")
    {
        Cause::Quota
    } else {
        Cause::Unspecified
    }
}

/// The status an OpenAI error `type` stands for, for errors that arrive without one.
pub fn status_of_kind(kind: &str) -> Option<u16> {
    Some(match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "rate_limit_exceeded" | "rate_limit_error" | "insufficient_quota" => 429,
        "server_error" | "api_error" => 500,
        _ => return None,
    })
}

/// The longest error text carried over from a body that is not JSON.
const MAX_TEXT: usize = 1000;

/// Reads `{"error":{"message","type","code","param"}}`, and the looser shapes OpenAI-compatible
/// servers send (`{"error":"text"}`, `{"message":…}`, `{"detail":…}`, plain text).
pub fn parse_error_body(body: &[u8]) -> UpstreamErrorBody {
    let mut parsed = parse_fields(body);
    parsed.cause = cause(
        parsed.code.as_ref().and_then(Value::as_str),
        parsed.kind.as_deref(),
        &parsed.message,
    );
    parsed.status = parsed
        .code
        .as_ref()
        .and_then(Value::as_u64)
        .filter(|code| (400..600).contains(code))
        .map(|code| code as u16)
        .or_else(|| parsed.kind.as_deref().and_then(status_of_kind));
    parsed
}

fn parse_fields(body: &[u8]) -> UpstreamErrorBody {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return UpstreamErrorBody {
            message: plain_text(body),
            ..Default::default()
        };
    };
    let text = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_str()).map(str::to_owned);
    let present = |v: Option<&serde_json::Value>| v.filter(|v| !v.is_null()).cloned();
    match value.get("error") {
        Some(serde_json::Value::Object(error)) => UpstreamErrorBody {
            message: text(error.get("message")).unwrap_or_else(|| compact(&value)),
            kind: text(error.get("type")),
            code: present(error.get("code")),
            param: present(error.get("param")),
            ..Default::default()
        },
        Some(serde_json::Value::String(message)) => UpstreamErrorBody {
            message: message.clone(),
            ..Default::default()
        },
        _ => UpstreamErrorBody {
            message: text(value.get("message"))
                .or_else(|| text(value.get("detail")))
                .unwrap_or_else(|| compact(&value)),
            ..Default::default()
        },
    }
}

fn compact(value: &serde_json::Value) -> String {
    let mut text = value.to_string();
    truncate(&mut text);
    text
}

fn plain_text(body: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(body).trim().to_owned();
    truncate(&mut text);
    text
}

fn truncate(text: &mut String) {
    if text.len() > MAX_TEXT {
        let mut end = MAX_TEXT;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openai_errors() {
        let parsed = parse_error_body(
            br#"{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key","param":null}}"#,
        );
        assert_eq!(parsed.message, "bad key");
        assert_eq!(parsed.kind.as_deref(), Some("invalid_request_error"));
        assert_eq!(parsed.code, Some(serde_json::json!("invalid_api_key")));
        assert_eq!(parsed.param, None);
    }

    #[test]
    fn reads_loose_shapes() {
        assert_eq!(parse_error_body(br#"{"error":"nope"}"#).message, "nope");
        assert_eq!(parse_error_body(br#"{"detail":"gone"}"#).message, "gone");
        assert_eq!(
            parse_error_body(b"  upstream exploded \n").message,
            "upstream exploded"
        );
        let long = "x".repeat(5000);
        assert!(parse_error_body(long.as_bytes()).message.len() < 1100);
    }
}
