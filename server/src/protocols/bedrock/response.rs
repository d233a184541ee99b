//! Converse answers as OpenAI chat completions: the output message's text, reasoning and
//! `toolUse` blocks, the stop reason and the token usage.

use serde_json::{Value, json};

use crate::stream::now_secs;
use crate::usage::Usage;

/// `finish_reason` for a Converse `stopReason`.
pub fn finish_reason(stop_reason: &str) -> &'static str {
    match stop_reason {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "guardrail_intervened" | "content_filtered" => "content_filter",
        // end_turn, stop_sequence, and the malformed-output reasons: the model stopped by itself.
        _ => "stop",
    }
}

/// Reads Converse's `usage`. Like Anthropic's (Bedrock passes Claude's counts through),
/// `inputTokens` leaves out the tokens read from and written to the prompt cache, which OpenAI
/// counts in the prompt.
pub fn usage(usage: &Value) -> Usage {
    let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
    let cache_read = count("cacheReadInputTokens");
    let cache_write = count("cacheWriteInputTokens");
    Usage {
        prompt_tokens: count("inputTokens")
            .saturating_add(cache_read)
            .saturating_add(cache_write),
        completion_tokens: count("outputTokens"),
        cached_prompt_tokens: cache_read,
        reasoning_tokens: 0,
        cache_write_tokens: cache_write,
    }
}

/// A chat completion id: Converse answers carry none in their body.
pub fn completion_id() -> String {
    format!("chatcmpl-bedrock-{:016x}", fastrand::u64(..))
}

/// A `toolUse` block as an OpenAI tool call.
pub fn tool_call(tool_use: &Value) -> Value {
    json!({
        "id": tool_use.get("toolUseId").cloned().unwrap_or(Value::from("")),
        "type": "function",
        "function": {
            "name": tool_use.get("name").cloned().unwrap_or(Value::from("")),
            "arguments": tool_use.get("input").map(Value::to_string).unwrap_or_else(|| "{}".into()),
        },
    })
}

/// Translates a Converse response into a chat completion, and reads its usage.
pub fn response(converse: &Value, model: &str) -> (Value, Usage) {
    let mut text = String::new();
    let mut reasoning = String::new();
    let mut tool_calls = Vec::new();
    for block in converse
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(part) = block.get("text").and_then(Value::as_str) {
            text.push_str(part);
        } else if let Some(part) = block
            .pointer("/reasoningContent/reasoningText/text")
            .and_then(Value::as_str)
        {
            reasoning.push_str(part);
        } else if let Some(tool_use) = block.get("toolUse") {
            tool_calls.push(tool_call(tool_use));
        }
    }
    let message = crate::protocols::assistant_message(text, reasoning, tool_calls);
    let usage = converse.get("usage").map(usage).unwrap_or_default();
    let finish = converse
        .get("stopReason")
        .and_then(Value::as_str)
        .map(finish_reason)
        .unwrap_or("stop");
    let completion = json!({
        "id": completion_id(),
        "object": "chat.completion",
        "created": now_secs(),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": usage.to_openai(),
    });
    (completion, usage)
}
