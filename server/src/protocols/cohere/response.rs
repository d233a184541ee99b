//! Cohere v2 chat answers as OpenAI chat completions.

use serde_json::{Value, json};

use super::{failed, finish_reason, read_usage};
use crate::protocols::{Cause, UpstreamErrorBody};
use crate::stream::now_secs;
use crate::usage::Usage;

/// Translates a Cohere v2 chat response into a chat completion, and reads its usage. Cohere
/// names no model in its answers, so the completion names `model`, the one asked for. Text goes
/// to `content`, thinking to `reasoning_content`; the tool plan, the model's words before its
/// tool calls, is the content of a message that has no text, as it would be in OpenAI's answer
/// (and as `request` sends it back).
pub fn response(cohere: &Value, model: &str) -> (Value, Usage) {
    let message = cohere.get("message").cloned().unwrap_or_default();
    let mut text = String::new();
    let mut reasoning = String::new();
    for item in message
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let field = |key: &str| item.get(key).and_then(Value::as_str).unwrap_or_default();
        match item.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(field("text")),
            Some("thinking") => reasoning.push_str(field("thinking")),
            _ => {}
        }
    }
    let tool_calls: Vec<Value> = message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(tool_call)
        .collect();
    if text.is_empty()
        && let Some(plan) = message.get("tool_plan").and_then(Value::as_str)
    {
        text.push_str(plan);
    }

    let out = crate::protocols::assistant_message(text, reasoning, tool_calls);
    let usage = cohere.get("usage").map(read_usage).unwrap_or_default();
    let finish = cohere
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(finish_reason)
        .unwrap_or("stop");
    let completion = json!({
        "id": cohere.get("id").cloned().unwrap_or(Value::from("")),
        "object": "chat.completion",
        "created": now_secs(),
        "model": model,
        "choices": [{"index": 0, "message": out, "finish_reason": finish}],
        "usage": usage.to_openai(),
    });
    (completion, usage)
}

/// A Cohere tool call as OpenAI's. Arguments are a JSON string in both; a model that calls a
/// function without arguments may send none (or `null`), which OpenAI writes as `{}`.
fn tool_call(call: &Value) -> Value {
    let arguments = match call.pointer("/function/arguments") {
        Some(Value::String(arguments)) if !arguments.trim().is_empty() => arguments.clone(),
        None | Some(Value::Null | Value::String(_)) => "{}".to_owned(),
        Some(other) => other.to_string(),
    };
    json!({
        "id": call.get("id").cloned().unwrap_or(Value::from("")),
        "type": "function",
        "function": {
            "name": call.pointer("/function/name").cloned().unwrap_or(Value::from("")),
            "arguments": arguments,
        },
    })
}

/// The error a whole (non-streaming) answer stands for when Cohere ended it with `ERROR` or
/// `TIMEOUT`: such an answer arrives with status 200 but is not a complete answer, and
/// `finish_reason` can say so only in Cohere's words. `None` for every other answer.
pub fn answer_failure(cohere: &Value) -> Option<UpstreamErrorBody> {
    let reason = cohere.get("finish_reason").and_then(Value::as_str)?;
    if !failed(reason) {
        return None;
    }
    let (message, status) = if reason == "TIMEOUT" {
        ("Cohere stopped generating: the request timed out.", 504)
    } else {
        ("Cohere stopped generating with an error.", 500)
    };
    Some(UpstreamErrorBody {
        message: message.to_owned(),
        kind: Some("api_error".to_owned()),
        code: Some(Value::from(reason.to_ascii_lowercase())),
        param: None,
        cause: Cause::Unspecified,
        status: Some(status),
    })
}
