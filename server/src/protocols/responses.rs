//! OpenAI's Responses API (`POST /v1/responses`) served to clients (the OpenAI SDKs' `responses`,
//! Codex CLI, the Agents SDK): requests translated into chat completions for providers that do not
//! speak it (`responses/request.rs`), answers translated back (`responses/response.rs`), the stream
//! encoder (`responses/encode.rs`), and the pass-through stage for providers that speak it
//! natively (`responses/passthrough.rs`); `responses/client.rs` is what the exchange sees.

mod client;
mod content;
mod encode;
mod items;
mod passthrough;
mod request;
mod response;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_passthrough;
#[cfg(test)]
mod tests_response;
#[cfg(test)]
mod tests_stream;
mod tools;

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

pub use client::ResponsesClient;
pub use encode::ResponsesEncoder;
pub use passthrough::ResponsesPassthrough;
pub use request::to_chat;
pub use response::{RequestEcho, from_chat, from_chat_with};

use crate::usage::Usage;

/// Reads a Responses API `usage` object (`input_tokens`, `output_tokens` and their details).
pub fn usage(value: &Value) -> Option<Usage> {
    if !value.is_object() {
        return None;
    }
    let count = |path: &str| value.pointer(path).and_then(Value::as_u64).unwrap_or(0);
    Some(Usage {
        prompt_tokens: count("/input_tokens"),
        completion_tokens: count("/output_tokens"),
        cached_prompt_tokens: count("/input_tokens_details/cached_tokens"),
        reasoning_tokens: count("/output_tokens_details/reasoning_tokens"),
        cache_write_tokens: count("/input_tokens_details/cache_write_tokens"),
    })
}

/// A Responses API `usage` object; the details are required by the SDKs' models.
pub fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.prompt_tokens,
        "input_tokens_details": {
            "cached_tokens": usage.cached_prompt_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
        },
        "output_tokens": usage.completion_tokens,
        "output_tokens_details": {"reasoning_tokens": usage.reasoning_tokens},
        "total_tokens": usage.prompt_tokens.saturating_add(usage.completion_tokens),
    })
}

/// A fresh id with a Responses API prefix (`resp`, `msg`, `fc`, `rs`, `call`).
fn new_id(prefix: &str) -> String {
    format!("{prefix}_{:032x}", fastrand::u128(..))
}

/// Writes one Responses API stream event: `event: <type>` and the JSON, whose `type` names it.
fn write_event(out: &mut BytesMut, data: &Value) {
    let name = data.get("type").and_then(Value::as_str).unwrap_or("error");
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    // Writing JSON into a buffer cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), data);
    out.put_slice(b"\n\n");
}

/// A string field of an OpenAI error object, if it is one.
fn error_field<'a>(error: &'a Value, key: &str) -> Option<&'a str> {
    error.get(key).and_then(Value::as_str)
}

/// The `error` stream event for an OpenAI error object (`{"message","type","param","code"}`):
/// the documented flat shape, whose `code` falls back to the error's type.
fn error_event(error: &Value, sequence_number: u64) -> Value {
    json!({
        "type": "error",
        "code": error_field(error, "code").or_else(|| error_field(error, "type")),
        "message": error_field(error, "message").unwrap_or("The upstream stream failed; the answer is incomplete."),
        "param": error_field(error, "param"),
        "sequence_number": sequence_number,
    })
}
