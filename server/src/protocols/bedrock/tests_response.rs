//! Tests of Converse answers translated into chat completions, and of Bedrock's errors.

use serde_json::{Value, json};

use super::BedrockProvider;
use crate::protocols::{Cause, ProviderProtocol};
use crate::usage::Usage;

fn answer(converse: Value) -> (Value, Usage) {
    BedrockProvider.chat_answer(&converse, "anthropic.claude-3-haiku-20240307-v1:0")
}

#[test]
fn a_text_answer_with_cached_usage() {
    let (completion, usage) = answer(json!({
        "output": {"message": {"role": "assistant", "content": [
            {"reasoningContent": {"reasoningText": {"text": "Two and two.", "signature": "c2ln"}}},
            {"text": "It is "}, {"text": "4."},
        ]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 45,
            "cacheReadInputTokens": 20, "cacheWriteInputTokens": 10},
        "metrics": {"latencyMs": 321},
    }));
    assert_eq!(
        usage,
        Usage {
            prompt_tokens: 40,
            completion_tokens: 5,
            cached_prompt_tokens: 20,
            reasoning_tokens: 0,
            cache_write_tokens: 10,
        }
    );
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(
        completion["model"],
        "anthropic.claude-3-haiku-20240307-v1:0"
    );
    assert!(
        completion["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("chatcmpl-"))
    );
    assert_eq!(
        completion["choices"][0],
        json!({"index": 0, "finish_reason": "stop", "message": {"role": "assistant",
            "content": "It is 4.", "reasoning_content": "Two and two."}})
    );
    assert_eq!(completion["usage"]["prompt_tokens"], 40);
    assert_eq!(completion["usage"]["total_tokens"], 45);
    assert_eq!(
        completion["usage"]["prompt_tokens_details"]["cached_tokens"],
        20
    );
}

#[test]
fn a_tool_use_answer() {
    let (completion, usage) = answer(json!({
        "output": {"message": {"role": "assistant", "content": [
            {"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
            {"toolUse": {"toolUseId": "tooluse_2", "name": "get_time", "input": {}}},
        ]}},
        "stopReason": "tool_use",
        "usage": {"inputTokens": 50, "outputTokens": 30, "totalTokens": 80},
    }));
    assert_eq!(usage.prompt_tokens, 50);
    assert_eq!(
        completion["choices"][0],
        json!({"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
        "content": null, "tool_calls": [
            {"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "tooluse_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}},
        ]}})
    );
}

#[test]
fn stop_reasons() {
    for (reason, finish) in [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("tool_use", "tool_calls"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("guardrail_intervened", "content_filter"),
        ("content_filtered", "content_filter"),
        ("malformed_model_output", "stop"),
        ("something_new", "stop"),
    ] {
        let (completion, _) = answer(json!({"output": {"message": {"role": "assistant",
            "content": [{"text": "x"}]}}, "stopReason": reason}));
        assert_eq!(
            completion["choices"][0]["finish_reason"], finish,
            "{reason}"
        );
    }
    let (empty, usage) = answer(json!({}));
    assert_eq!(empty["choices"][0]["message"]["content"], "");
    assert_eq!(usage, Usage::default());
}

/// A body, and the status, OpenAI error type and cause read from it.
type ErrorCase = (&'static [u8], Option<u16>, Option<&'static str>, Cause);

#[test]
fn errors_by_class() {
    let cases: [ErrorCase; 12] = [
        (
            br#"{"message":"Input is too long for requested model."}"#,
            None,
            None,
            Cause::ContextLength,
        ),
        (
            br#"{"__type":"ValidationException","message":"Input is too long for requested model."}"#,
            Some(400),
            Some("invalid_request_error"),
            Cause::ContextLength,
        ),
        (
            br#"{"__type":"com.amazon.coral.validate#ValidationException","message":"The model returned the following errors: prompt is too long: 210000 tokens > 200000 maximum"}"#,
            Some(400),
            Some("invalid_request_error"),
            Cause::ContextLength,
        ),
        (
            br#"{"__type":"ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/","message":"too many input tokens"}"#,
            Some(400),
            Some("invalid_request_error"),
            Cause::ContextLength,
        ),
        (
            br#"{"__type":"ThrottlingException","message":"Too many requests, please wait before trying again."}"#,
            Some(429),
            Some("rate_limit_exceeded"),
            Cause::Unspecified,
        ),
        (
            br#"{"__type":"ThrottlingException","message":"Too many tokens per day, please wait before trying again."}"#,
            Some(429),
            Some("rate_limit_exceeded"),
            Cause::Quota,
        ),
        (
            br#"{"__type":"ServiceQuotaExceededException","message":"Your request exceeds the service limit."}"#,
            Some(400),
            Some("insufficient_quota"),
            Cause::Quota,
        ),
        (
            br#"{"__type":"AccessDeniedException","Message":"You don't have access to the model with the specified model ID."}"#,
            Some(403),
            Some("permission_error"),
            Cause::Unspecified,
        ),
        (
            br#"{"__type":"ResourceNotFoundException","message":"Model not found"}"#,
            Some(404),
            Some("not_found_error"),
            Cause::Unspecified,
        ),
        (
            br#"{"__type":"ModelTimeoutException","message":"Model timed out"}"#,
            Some(408),
            Some("timeout_error"),
            Cause::Unspecified,
        ),
        (
            br#"{"__type":"serviceUnavailableException","message":"Service unavailable"}"#,
            Some(503),
            Some("api_error"),
            Cause::Unspecified,
        ),
        (
            br#"{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}"#,
            Some(403),
            Some("authentication_error"),
            Cause::Unspecified,
        ),
    ];
    for (body, status, kind, cause) in cases {
        let parsed = BedrockProvider.error(body);
        let text = String::from_utf8_lossy(body);
        assert_eq!(parsed.status, status, "{text}");
        assert_eq!(parsed.kind.as_deref(), kind, "{text}");
        assert_eq!(parsed.cause, cause, "{text}");
        assert!(!parsed.message.is_empty(), "{text}");
    }
    let throttled =
        BedrockProvider.error(br#"{"__type":"throttlingException","message":"slow down"}"#);
    assert_eq!(throttled.code, Some(json!("ThrottlingException")));
    assert_eq!(throttled.message, "slow down");
    for (class, status) in [
        ("InternalServerException", 500),
        ("ModelNotReadyException", 429),
        ("ModelErrorException", 424),
        ("ModelStreamErrorException", 424),
    ] {
        let body = json!({"__type": class, "message": "m"}).to_string();
        assert_eq!(BedrockProvider.error(body.as_bytes()).status, Some(status));
    }
}

#[test]
fn other_bodies_are_read_loosely() {
    let plain = BedrockProvider.error(b"<html>Bad Gateway</html>");
    assert_eq!(plain.message, "<html>Bad Gateway</html>");
    let openai_like =
        BedrockProvider.error(br#"{"error":{"message":"nope","type":"invalid_request_error"}}"#);
    assert_eq!(openai_like.message, "nope");
    assert_eq!(openai_like.status, Some(400));
}
