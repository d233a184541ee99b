//! The inbound Anthropic Messages API (`POST /v1/messages`): requests from Anthropic clients
//! (the SDKs, Claude Code) translated into OpenAI chat for providers that do not speak Anthropic,
//! and the answers translated back. The stream encoder is in `anthropic/encode.rs`.

use serde_json::{Map, Value, json};

pub use super::encode::{AnthropicEncoder, write_event};

use crate::usage::Usage;

/// `stop_reason` for an OpenAI `finish_reason`.
pub fn stop_reason(finish_reason: &str) -> &'static str {
    match finish_reason {
        "length" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" => "refusal",
        _ => "end_turn",
    }
}

fn text_of_blocks(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|b| b.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn image_part(block: &Value) -> Option<Value> {
    let source = block.get("source")?;
    let url = match source.get("type").and_then(Value::as_str)? {
        "base64" => format!(
            "data:{};base64,{}",
            source.get("media_type").and_then(Value::as_str)?,
            source.get("data").and_then(Value::as_str)?
        ),
        "url" => source.get("url").and_then(Value::as_str)?.to_owned(),
        _ => return None,
    };
    Some(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// Converts one Anthropic message into OpenAI messages: tool results become `tool` messages
/// (placed first, as OpenAI expects them right after the assistant's calls), the rest one message.
fn convert_message(message: &Value, out: &mut Vec<Value>) -> Result<(), String> {
    let role = message
        .get("role")
        .and_then(Value::as_str)
        .ok_or("every message needs a role")?;
    let content = message.get("content").cloned().unwrap_or(Value::Null);
    let blocks = match content {
        Value::String(text) => {
            out.push(json!({"role": role, "content": text}));
            return Ok(());
        }
        Value::Array(blocks) => blocks,
        _ => return Err("message content must be a string or an array of blocks".into()),
    };
    let mut parts = Vec::new();
    let mut tool_calls = Vec::new();
    for block in &blocks {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => parts.push(json!({"type": "text", "text": block.get("text").cloned().unwrap_or(Value::from(""))})),
            Some("image") => parts.extend(image_part(block)),
            Some("tool_use") => tool_calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(Value::from("")),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(Value::from("")),
                    "arguments": block.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                },
            })),
            Some("tool_result") => out.push(json!({
                "role": "tool",
                "tool_call_id": block.get("tool_use_id").cloned().unwrap_or(Value::from("")),
                "content": block.get("content").map(text_of_blocks).unwrap_or_default(),
            })),
            // Thinking blocks carry signatures only Anthropic can verify; other models ignore them.
            _ => {}
        }
    }
    if parts.is_empty() && tool_calls.is_empty() {
        return Ok(());
    }
    let only_text = parts
        .iter()
        .all(|p| p.get("type").and_then(Value::as_str) == Some("text"));
    let content = if only_text {
        Value::from(
            parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(""),
        )
    } else {
        Value::Array(parts)
    };
    let mut converted = Map::new();
    converted.insert("role".into(), Value::from(role));
    converted.insert("content".into(), content);
    if !tool_calls.is_empty() {
        converted.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    out.push(Value::Object(converted));
    Ok(())
}

/// Translates a Messages API request into an OpenAI chat completion request. Streams ask for
/// usage, because Anthropic clients expect token counts in `message_delta`.
pub fn to_openai(request: &Value) -> Result<Value, String> {
    let mut messages = Vec::new();
    if let Some(system) = request.get("system") {
        let text = text_of_blocks(system);
        if !text.is_empty() {
            messages.push(json!({"role": "system", "content": text}));
        }
    }
    for message in request
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages must be an array")?
    {
        convert_message(message, &mut messages)?;
    }
    let mut out = Map::new();
    out.insert(
        "model".into(),
        request.get("model").cloned().unwrap_or(Value::Null),
    );
    out.insert("messages".into(), Value::Array(messages));
    for key in ["max_tokens", "temperature", "top_p"] {
        if let Some(value) = request.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    if let Some(stops) = request
        .get("stop_sequences")
        .filter(|s| s.as_array().is_some_and(|a| !a.is_empty()))
    {
        out.insert("stop".into(), stops.clone());
    }
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        out.insert("stream".into(), Value::Bool(true));
        out.insert("stream_options".into(), json!({"include_usage": true}));
    }
    if let Some(user) = request.pointer("/metadata/user_id") {
        out.insert("user".into(), user.clone());
    }
    if let Some(tools) = request.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .filter(|t| t.get("input_schema").is_some())
            .map(|tool| {
                json!({"type": "function", "function": {
                    "name": tool.get("name").cloned().unwrap_or(Value::from("")),
                    "description": tool.get("description").cloned().unwrap_or(Value::from("")),
                    "parameters": tool.get("input_schema").cloned().unwrap_or(json!({"type": "object"})),
                }})
            })
            .collect();
        if !tools.is_empty() {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    if let Some(choice) = request.get("tool_choice") {
        let converted = match choice.get("type").and_then(Value::as_str) {
            Some("any") => Value::from("required"),
            Some("none") => Value::from("none"),
            Some("tool") => {
                json!({"type": "function", "function": {"name": choice.get("name").cloned().unwrap_or(Value::Null)}})
            }
            _ => Value::from("auto"),
        };
        if out.contains_key("tools") {
            out.insert("tool_choice".into(), converted);
        }
        if choice
            .get("disable_parallel_tool_use")
            .and_then(Value::as_bool)
            == Some(true)
        {
            out.insert("parallel_tool_calls".into(), Value::Bool(false));
        }
    }
    Ok(Value::Object(out))
}

/// Translates an OpenAI chat completion into a Messages API response.
pub fn from_openai_response(completion: &Value, requested_model: &str) -> (Value, Usage) {
    let choice = completion
        .pointer("/choices/0")
        .cloned()
        .unwrap_or_default();
    let message = choice.get("message").cloned().unwrap_or_default();
    let mut content = Vec::new();
    if let Some(reasoning) = message
        .get("reasoning_content")
        .and_then(Value::as_str)
        .filter(|r| !r.is_empty())
    {
        content.push(json!({"type": "thinking", "thinking": reasoning, "signature": ""}));
    }
    if let Some(text) = message
        .get("content")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "text", "text": text}));
    }
    for call in message
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or("{}");
        content.push(json!({
            "type": "tool_use",
            "id": call.get("id").cloned().unwrap_or(Value::from("")),
            "name": call.pointer("/function/name").cloned().unwrap_or(Value::from("")),
            "input": serde_json::from_str::<Value>(arguments).unwrap_or_else(|_| json!({})),
        }));
    }
    let usage = completion
        .get("usage")
        .and_then(Usage::from_openai)
        .unwrap_or_default();
    let stop = choice
        .get("finish_reason")
        .and_then(Value::as_str)
        .map(stop_reason)
        .unwrap_or("end_turn");
    let id = completion
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let response = json!({
        "id": if id.starts_with("msg_") { id.to_owned() } else { format!("msg_{id}") },
        "type": "message",
        "role": "assistant",
        "model": completion.get("model").and_then(Value::as_str).unwrap_or(requested_model),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": usage.to_anthropic(),
    });
    (response, usage)
}

/// Anthropic's error type for an HTTP status.
pub fn error_type(status: u16) -> &'static str {
    match status {
        400 | 405 | 422 => "invalid_request_error",
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        529 => "overloaded_error",
        _ => "api_error",
    }
}

/// Anthropic's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}})
}

/// A rough token count for `count_tokens` when the provider cannot count: about four characters
/// per token over every text the request carries, which is the usual rule of thumb for English.
pub fn estimate_tokens(request: &Value) -> u64 {
    fn chars(value: &Value) -> usize {
        match value {
            Value::String(text) => text.chars().count(),
            Value::Array(items) => items.iter().map(chars).sum(),
            Value::Object(map) => map
                .iter()
                .filter(|(key, _)| {
                    !matches!(
                        key.as_str(),
                        "type" | "id" | "tool_use_id" | "media_type" | "data"
                    )
                })
                .map(|(_, v)| chars(v))
                .sum(),
            _ => 0,
        }
    }
    let total: usize = ["system", "messages", "tools"]
        .iter()
        .filter_map(|key| request.get(*key))
        .map(chars)
        .sum();
    (total as u64).div_ceil(4).max(1)
}
