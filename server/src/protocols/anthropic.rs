//! Anthropic's Messages API, both ways. To Anthropic providers: OpenAI chat requests translated
//! here, answers and errors read back, the stream decoded in `anthropic/decode.rs`, and the
//! allow-list of the `anthropic-beta` names a client may switch on. From Anthropic clients:
//! `anthropic/inbound.rs` (requests to the common form, answers back), `anthropic/encode.rs`
//! (stream items as Anthropic events) and `anthropic/passthrough.rs` (Anthropic to Anthropic).
//! `anthropic/protocol.rs` is what the exchange sees of all this.

mod decode;
mod encode;
pub mod inbound;
mod passthrough;
mod protocol;

use http::{HeaderName, HeaderValue};
use serde_json::{Map, Value, json};
use switchyard_shared::config::DEFAULT_ANTHROPIC_BETAS;

pub use decode::AnthropicDecoder;
pub use encode::{AnthropicEncoder, write_event};
pub use passthrough::AnthropicPassthrough;
pub use protocol::{AnthropicProvider, MessagesClient, read_usage};

use super::{Cause, UpstreamErrorBody};
use super::{ImageSource, content_text, image_source, push_turn};
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
    let message = crate::protocols::assistant_message(text, reasoning, tool_calls);
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
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
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
            // Anthropic names no code for an over-long prompt; its message is the only sign.
            let cause = if message.contains("prompt is too long")
                || message.contains("context window")
                || message.contains("context length")
            {
                Cause::ContextLength
            } else if message.contains("credit balance") {
                Cause::Quota
            } else {
                Cause::Unspecified
            };
            UpstreamErrorBody {
                message: message.to_owned(),
                code: kind.clone().map(Value::from),
                status: kind.as_deref().and_then(status_of_kind),
                kind,
                param: None,
                cause,
            }
        }
        None => super::openai::parse_error_body(body),
    }
}

/// The status an Anthropic error `type` stands for.
pub fn status_of_kind(kind: &str) -> Option<u16> {
    Some(match kind {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "billing_error" => 402,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_error" => 429,
        "api_error" => 500,
        "timeout_error" => 504,
        "overloaded_error" => 529,
        other => return super::openai::status_of_kind(other),
    })
}

/// The `anthropic-beta` names a provider forwards from its clients. A beta can switch on a tool
/// billed to the operator's key (web search, code execution, …), so only the listed names pass.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BetaAllowList {
    /// `"*"`: every name passes.
    All,
    /// Only these names (compared ignoring ASCII case).
    Only(Box<[Box<str>]>),
}

impl BetaAllowList {
    /// The provider's `anthropic_betas`, or [`DEFAULT_ANTHROPIC_BETAS`] when it sets none.
    pub fn new(configured: Option<&[String]>) -> BetaAllowList {
        match configured {
            Some(names) if names.iter().any(|name| name == "*") => BetaAllowList::All,
            Some(names) => BetaAllowList::Only(names.iter().map(|n| n.as_str().into()).collect()),
            None => {
                BetaAllowList::Only(DEFAULT_ANTHROPIC_BETAS.iter().map(|&n| n.into()).collect())
            }
        }
    }

    pub fn allows(&self, name: &str) -> bool {
        match self {
            BetaAllowList::All => true,
            BetaAllowList::Only(names) => names.iter().any(|n| n.eq_ignore_ascii_case(name)),
        }
    }

    /// An `anthropic-beta` value (a comma-separated list) with only the allowed names, or `None`
    /// when none is left. A value that keeps every name is returned as it came.
    pub fn filter(&self, value: &HeaderValue) -> Option<HeaderValue> {
        if *self == BetaAllowList::All {
            return Some(value.clone());
        }
        let text = value.to_str().ok()?;
        let names = || text.split(',').map(str::trim).filter(|n| !n.is_empty());
        let allowed = names().filter(|n| self.allows(n)).count();
        if allowed == 0 {
            tracing::debug!(
                betas = text,
                "anthropic-beta names not allowed for this provider removed"
            );
            return None;
        }
        if allowed == names().count() {
            return Some(value.clone());
        }
        let kept: Vec<&str> = names().filter(|n| self.allows(n)).collect();
        tracing::debug!(betas = text, kept = ?kept, "anthropic-beta names not allowed for this provider removed");
        HeaderValue::try_from(kept.join(",")).ok()
    }
}

/// The client's Anthropic headers as forwarded to a provider: `anthropic-beta` reduced to the
/// names `allowed` (and left out when none is), every other header as it is.
pub fn forwarded_headers(
    allowed: &BetaAllowList,
    headers: &[(HeaderName, HeaderValue)],
) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            if name.as_str() == "anthropic-beta" {
                allowed.filter(value).map(|value| (name.clone(), value))
            } else {
                Some((name.clone(), value.clone()))
            }
        })
        .collect()
}

#[cfg(test)]
mod beta_tests {
    use super::*;

    fn beta(value: &str) -> Vec<(HeaderName, HeaderValue)> {
        vec![
            (
                HeaderName::from_static("anthropic-version"),
                HeaderValue::from_static("2023-06-01"),
            ),
            (
                HeaderName::from_static("anthropic-beta"),
                HeaderValue::try_from(value).expect("a header value"),
            ),
        ]
    }

    fn forwarded(allowed: &BetaAllowList, value: &str) -> Option<String> {
        let headers = forwarded_headers(allowed, &beta(value));
        assert_eq!(headers[0].0, "anthropic-version", "other headers pass");
        headers
            .iter()
            .find(|(name, _)| name == "anthropic-beta")
            .map(|(_, v)| v.to_str().expect("ASCII").to_owned())
    }

    #[test]
    fn the_default_passes_claude_codes_betas_only() {
        let default = BetaAllowList::new(None);
        let claude_code = "claude-code-20250219,interleaved-thinking-2025-05-14,fine-grained-tool-streaming-2025-05-14";
        assert_eq!(
            forwarded(&default, claude_code).as_deref(),
            Some(claude_code)
        );
        assert_eq!(
            forwarded(
                &default,
                "claude-code-20250219, web-search-2025-03-05 ,code-execution-2025-08-25,context-management-2025-06-27"
            )
            .as_deref(),
            Some("claude-code-20250219,context-management-2025-06-27")
        );
        assert_eq!(forwarded(&default, "web-fetch-2025-09-10"), None);
        assert_eq!(forwarded(&default, " , "), None);
        assert!(!default.allows("context-1m-2025-08-07"));
        assert!(!default.allows("fast-mode-2026-02-01"));
    }

    #[test]
    fn a_provider_list_replaces_the_default_and_star_allows_all() {
        let listed = BetaAllowList::new(Some(&["Web-Search-2025-03-05".to_owned()]));
        assert_eq!(
            forwarded(&listed, "claude-code-20250219,web-search-2025-03-05").as_deref(),
            Some("web-search-2025-03-05")
        );
        let none = BetaAllowList::new(Some(&[]));
        assert_eq!(forwarded(&none, "claude-code-20250219"), None);
        let all = BetaAllowList::new(Some(&["*".to_owned()]));
        assert_eq!(
            forwarded(&all, "anything-2030-01-01, x").as_deref(),
            Some("anything-2030-01-01, x")
        );
    }
}
