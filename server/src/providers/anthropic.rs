//! Anthropic's Messages API behind the OpenAI API: requests, responses and errors translated both
//! ways. The stream decoder is in `anthropic/stream.rs`.

mod stream;

use serde_json::{Map, Value, json};

pub use stream::AnthropicDecoder;

use super::{ImageSource, UpstreamErrorBody, content_text, image_source, push_turn};
use crate::stream::now_secs;
use crate::usage::Usage;

/// Sent as `anthropic-version` unless the provider sets `api_version`.
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// `max_tokens` for requests without one, unless the provider sets `default_max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// `finish_reason` for an Anthropic `stop_reason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        _ => "stop",
    }
}

/// An OpenAI message `content` (string, parts or null) as Anthropic content blocks.
fn content_blocks(content: Option<&Value>) -> Result<Vec<Value>, String> {
    match content {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(text)) if text.is_empty() => Ok(Vec::new()),
        Some(Value::String(text)) => Ok(vec![json!({"type": "text", "text": text})]),
        Some(Value::Array(parts)) => parts.iter().map(part_block).collect(),
        Some(_) => Err("message content must be a string or an array of parts".into()),
    }
}

fn part_block(part: &Value) -> Result<Value, String> {
    match part.get("type").and_then(Value::as_str) {
        Some("text") => Ok(
            json!({"type": "text", "text": part.get("text").cloned().unwrap_or(Value::from(""))}),
        ),
        Some("image_url") => {
            let url = part
                .pointer("/image_url/url")
                .or_else(|| part.get("image_url"))
                .and_then(Value::as_str)
                .ok_or("image_url parts need image_url.url")?;
            image_block(url)
        }
        Some(other) => Err(format!(
            "content parts of type '{other}' cannot be sent to Anthropic"
        )),
        None => Err("content parts need a type".into()),
    }
}

/// An image URL as an Anthropic image block: data URLs inline, http(s) URLs by reference.
pub fn image_block(url: &str) -> Result<Value, String> {
    Ok(match image_source(url)? {
        ImageSource::Inline { media_type, data } => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
        ImageSource::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
    })
}

fn tool_use_blocks(tool_calls: Option<&Value>) -> Result<Vec<Value>, String> {
    let Some(calls) = tool_calls.and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    calls
        .iter()
        .map(|call| {
            let arguments = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .unwrap_or("{}");
            let input: Value = if arguments.trim().is_empty() {
                json!({})
            } else {
                serde_json::from_str(arguments)
                    .map_err(|_| "tool call arguments must be a JSON object".to_owned())?
            };
            Ok(json!({
                "type": "tool_use",
                "id": call.get("id").cloned().unwrap_or(Value::from("")),
                "name": call.pointer("/function/name").cloned().unwrap_or(Value::from("")),
                "input": input,
            }))
        })
        .collect()
}

/// Translates an OpenAI chat completion request into a Messages API request.
pub fn request(openai: &Value, model: &str, default_max_tokens: u32) -> Result<Value, String> {
    let messages_in = openai
        .get("messages")
        .and_then(Value::as_array)
        .ok_or("messages must be an array")?;
    let mut system: Vec<Value> = Vec::new();
    let mut messages: Vec<(String, Vec<Value>)> = Vec::new();
    for message in messages_in {
        let content = message.get("content");
        match message.get("role").and_then(Value::as_str) {
            Some("system" | "developer") => {
                let text = content_text(content);
                if !text.is_empty() {
                    system.push(json!({"type": "text", "text": text}));
                }
            }
            Some("user") => push_turn(&mut messages, "user", content_blocks(content)?),
            Some("assistant") => {
                let mut blocks = content_blocks(content)?;
                blocks.extend(tool_use_blocks(message.get("tool_calls"))?);
                push_turn(&mut messages, "assistant", blocks);
            }
            Some("tool") => {
                let block = json!({
                    "type": "tool_result",
                    "tool_use_id": message.get("tool_call_id").cloned().unwrap_or(Value::from("")),
                    "content": content_text(content),
                });
                push_turn(&mut messages, "user", vec![block]);
            }
            Some(other) => {
                return Err(format!(
                    "messages with role '{other}' cannot be sent to Anthropic"
                ));
            }
            None => return Err("every message needs a role".into()),
        }
    }

    let mut out = Map::new();
    out.insert("model".into(), Value::from(model));
    out.insert(
        "messages".into(),
        Value::Array(
            messages
                .into_iter()
                .map(|(role, content)| json!({"role": role, "content": content}))
                .collect(),
        ),
    );
    if !system.is_empty() {
        out.insert("system".into(), Value::Array(system));
    }
    let max_tokens = openai
        .get("max_completion_tokens")
        .or_else(|| openai.get("max_tokens"))
        .and_then(Value::as_u64)
        .unwrap_or(u64::from(default_max_tokens));
    out.insert("max_tokens".into(), Value::from(max_tokens));
    for key in ["temperature", "top_p", "top_k", "stream", "thinking"] {
        if let Some(value) = openai.get(key).filter(|v| !v.is_null()) {
            out.insert(key.into(), value.clone());
        }
    }
    match openai.get("stop") {
        Some(Value::String(stop)) => {
            out.insert("stop_sequences".into(), json!([stop]));
        }
        Some(Value::Array(stops)) if !stops.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(stops.clone()));
        }
        _ => {}
    }
    if let Some(user) = openai.get("user").and_then(Value::as_str) {
        out.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(tools) = openai.get("tools").and_then(Value::as_array) {
        let tools: Vec<Value> = tools
            .iter()
            .filter_map(|tool| tool.get("function"))
            .map(|function| {
                let mut tool = Map::new();
                tool.insert(
                    "name".into(),
                    function.get("name").cloned().unwrap_or(Value::from("")),
                );
                if let Some(description) = function.get("description") {
                    tool.insert("description".into(), description.clone());
                }
                tool.insert(
                    "input_schema".into(),
                    function
                        .get("parameters")
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                );
                Value::Object(tool)
            })
            .collect();
        if !tools.is_empty() {
            out.insert("tools".into(), Value::Array(tools));
        }
    }
    let parallel = openai.get("parallel_tool_calls").and_then(Value::as_bool);
    let mut choice = match openai.get("tool_choice") {
        Some(Value::String(mode)) => match mode.as_str() {
            "none" => Some(json!({"type": "none"})),
            "required" => Some(json!({"type": "any"})),
            _ => Some(json!({"type": "auto"})),
        },
        Some(Value::Object(choice)) => choice
            .get("function")
            .and_then(|f| f.get("name"))
            .map(|name| json!({"type": "tool", "name": name})),
        _ => None,
    };
    if parallel == Some(false) && out.contains_key("tools") {
        let choice = choice.get_or_insert_with(|| json!({"type": "auto"}));
        choice["disable_parallel_tool_use"] = Value::Bool(true);
    }
    if let Some(choice) = choice.filter(|_| out.contains_key("tools")) {
        out.insert("tool_choice".into(), choice);
    }
    Ok(Value::Object(out))
}

/// Translates a Messages API response into a chat completion, and reads its usage.
pub fn response(anthropic: &Value) -> (Value, Usage) {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in anthropic
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        match block.get("type").and_then(Value::as_str) {
            Some("text") => text.push_str(block.get("text").and_then(Value::as_str).unwrap_or_default()),
            Some("thinking") => reasoning.push_str(block.get("thinking").and_then(Value::as_str).unwrap_or_default()),
            Some("tool_use") => tool_calls.push(json!({
                "id": block.get("id").cloned().unwrap_or(Value::Null),
                "type": "function",
                "function": {
                    "name": block.get("name").cloned().unwrap_or(Value::Null),
                    "arguments": block.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
                },
            })),
            _ => {}
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), Value::from("assistant"));
    message.insert(
        "content".into(),
        if text.is_empty() && !tool_calls.is_empty() {
            Value::Null
        } else {
            Value::from(text)
        },
    );
    if !reasoning.is_empty() {
        message.insert("reasoning_content".into(), Value::from(reasoning));
    }
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    let usage = anthropic
        .get("usage")
        .map(Usage::from_anthropic)
        .unwrap_or_default();
    let finish = anthropic
        .get("stop_reason")
        .and_then(Value::as_str)
        .map(finish_reason)
        .unwrap_or("stop");
    let completion = json!({
        "id": anthropic.get("id").cloned().unwrap_or(Value::from("")),
        "object": "chat.completion",
        "created": now_secs(),
        "model": anthropic.get("model").cloned().unwrap_or(Value::from("")),
        "choices": [{"index": 0, "message": Value::Object(message), "finish_reason": finish}],
        "usage": usage.to_openai(),
    });
    (completion, usage)
}

/// Reads `{"type":"error","error":{"type","message"}}`. The Anthropic type (`overloaded_error`,
/// `rate_limit_error` …) becomes both the OpenAI `type` and `code`, so it survives translation.
pub fn parse_error_body(body: &[u8]) -> UpstreamErrorBody {
    let parsed = serde_json::from_slice::<Value>(body).ok();
    let error = parsed.as_ref().and_then(|v| v.get("error"));
    match error.and_then(|e| e.get("message")).and_then(Value::as_str) {
        Some(message) => {
            let kind = error
                .and_then(|e| e.get("type"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            UpstreamErrorBody {
                message: message.to_owned(),
                code: kind.clone().map(Value::from),
                kind,
                param: None,
            }
        }
        None => super::openai::parse_error_body(body),
    }
}
