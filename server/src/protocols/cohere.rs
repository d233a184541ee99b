//! Cohere's v2 API (`/v2/chat`, `/v2/embed`, `/v2/rerank`) behind the OpenAI API. Requests are
//! translated in `cohere/request.rs`, answers read back in `cohere/response.rs`, the chat stream
//! decoded in `cohere/decode.rs`, embeddings in `cohere/embed.rs`; `cohere/protocol.rs` is what
//! the exchange sees of all this. Rerank passes through: Cohere's is the shape `/v1/rerank`
//! clients send. Usage and error bodies, shared by all of them, are read here.

mod decode;
mod embed;
mod protocol;
mod request;
mod response;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_answer;
#[cfg(test)]
mod tests_stream;

use serde_json::Value;

pub use decode::CohereDecoder;
pub use embed::{embeddings_request, embeddings_response};
pub use protocol::CohereProvider;
pub use request::request;
pub use response::{answer_failure, response};

use super::{Cause, UpstreamErrorBody};
use crate::usage::Usage;

/// The base URL of Cohere's v2 API, for providers that set none.
pub const DEFAULT_BASE_URL: &str = "https://api.cohere.com/v2";

/// `finish_reason` for a Cohere `finish_reason`. `ERROR` and `TIMEOUT` have no OpenAI
/// counterpart; the stream decoder reports them as errors and [`answer_failure`] finds them in a
/// whole answer, so here they only need a harmless name.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "MAX_TOKENS" => "length",
        "TOOL_CALL" => "tool_calls",
        _ => "stop",
    }
}

/// Whether a Cohere `finish_reason` means the answer did not come to its end.
fn failed(reason: &str) -> bool {
    matches!(reason, "ERROR" | "TIMEOUT")
}

/// A count Cohere sends; its schema types counts as numbers, so a float is read too.
fn count(value: Option<&Value>) -> Option<u64> {
    let value = value?;
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|count| count.is_finite() && *count >= 0.0)
            // A float count is whole in practice; the cast saturates at u64::MAX.
            .map(|count| count as u64)
    })
}

/// Reads Cohere's `usage` (chat) or `meta` (embed) object: `tokens` are the tokens the model
/// saw and wrote, `billed_units` what was charged (fewer: Cohere does not bill its own prompt
/// template). The model's counts are preferred, as every other protocol reports those; a count
/// missing from them is taken from the billed units. `cached_tokens` are part of the input.
pub fn read_usage(usage: &Value) -> Usage {
    let field = |name: &str| {
        count(usage.get("tokens").and_then(|tokens| tokens.get(name)))
            .or_else(|| {
                count(
                    usage
                        .get("billed_units")
                        .and_then(|billed| billed.get(name)),
                )
            })
            .unwrap_or(0)
    };
    Usage {
        prompt_tokens: field("input_tokens"),
        completion_tokens: field("output_tokens"),
        cached_prompt_tokens: count(usage.get("cached_tokens")).unwrap_or(0),
        reasoning_tokens: 0,
        cache_write_tokens: 0,
    }
}

/// Reads Cohere's error body, `{"id"?, "message"}`. It names neither a type nor a status, so
/// the few causes the gateway acts on are read from the message, here where its wording is
/// known. Bodies of another shape (a proxy in front of Cohere) are read as OpenAI's.
pub fn parse_error_body(body: &[u8]) -> UpstreamErrorBody {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let Some(message) = parsed
        .as_ref()
        .filter(|value| value.get("error").is_none())
        .and_then(|value| value.get("message"))
        .and_then(Value::as_str)
    else {
        return super::openai::parse_error_body(body);
    };
    classified_error(message)
}

/// An error whose only description is Cohere's message, classified by it.
pub fn classified_error(message: &str) -> UpstreamErrorBody {
    let (kind, code, cause, status) = classify(message);
    UpstreamErrorBody {
        message: message.to_owned(),
        kind: kind.map(str::to_owned),
        code: code.map(Value::from),
        param: None,
        cause,
        status,
    }
}

/// The OpenAI type, code, cause and status a Cohere error message stands for.
fn classify(
    message: &str,
) -> (
    Option<&'static str>,
    Option<&'static str>,
    Cause,
    Option<u16>,
) {
    let lower = message.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    // "Too many tokens per minute" is a rate limit; only a prompt over the model's window is a
    // context-length error.
    let per_period = has("per minute") || has("per hour") || has("per day") || has("/ minute");
    if (has("too many tokens") && !per_period)
        || has("context length")
        || has("context window")
        || has("maximum number of tokens")
    {
        return (
            Some("invalid_request_error"),
            Some("context_length_exceeded"),
            Cause::ContextLength,
            Some(400),
        );
    }
    // A trial key's monthly allowance ("limited to 1000 API calls / month") or an account that
    // cannot pay is used up until someone acts; a per-minute limit passes by itself.
    if has("/ month") || has("per month") || has("monthly") {
        return (
            Some("insufficient_quota"),
            Some("insufficient_quota"),
            Cause::Quota,
            Some(429),
        );
    }
    if has("payment") || has("billing") || has("spending limit") || has("credit") {
        return (
            Some("insufficient_quota"),
            Some("insufficient_quota"),
            Cause::Quota,
            Some(402),
        );
    }
    if has("trial key") || has("rate limit") || has("too many requests") || per_period {
        return (
            Some("rate_limit_exceeded"),
            Some("rate_limit_exceeded"),
            Cause::Unspecified,
            Some(429),
        );
    }
    (None, None, Cause::Unspecified, None)
}
