//! A mock of Anthropic's Messages API (`POST /v1/messages`, `POST /v1/messages/count_tokens`) that
//! checks `x-api-key` and `anthropic-version` and answers in Anthropic's exact wire format.

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::fake::{ProviderMock, json_body, json_reply, sse_reply};
use super::{Answer, Finish, Script, fragments, words};
use crate::ApiResponse;
use crate::mock::RecordedRequest;

/// The `anthropic-version` the gateway sends unless the provider sets another.
pub const DEFAULT_VERSION: &str = "2023-06-01";
/// What the mock's `count_tokens` answers, a number the gateway could not have estimated.
pub const COUNTED_TOKENS: u64 = 1187;

/// A mock Anthropic server; its key is the `test_key` of its name.
pub type AnthropicMock = ProviderMock;

/// Starts a mock Anthropic server named `name`.
pub async fn mock(name: &str) -> AnthropicMock {
    ProviderMock::start(name, "anthropic", "/v1", respond).await
}

/// Anthropic's error body.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_mock_01"})
}

/// Asserts that a client's answer is exactly Anthropic's error body, with `status` and `kind`.
pub fn assert_error(response: &ApiResponse, status: u16, kind: &str) {
    response.expect_status(status, kind);
    let body = response.json();
    let error = &body["error"];
    assert_eq!(
        (&body["type"], &error["type"]),
        (&json!("error"), &json!(kind)),
        "{body}"
    );
    assert!(error["message"].is_string(), "{body}");
    let sizes = [&body, error].map(|v| v.as_object().map(|o| o.len()));
    assert_eq!(
        sizes,
        [Some(2), Some(2)],
        "nothing but type and error: {body}"
    );
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    json_reply(status, &error_body(kind, message))
}

fn respond(name: &str, key: &str, request: &RecordedRequest, script: Option<Script>) -> Response {
    if request.method != http::Method::POST {
        return error(405, "invalid_request_error", "Method not allowed");
    }
    if request.header("x-api-key") != Some(key) {
        return error(401, "authentication_error", "invalid x-api-key");
    }
    if request.header("anthropic-version").is_none() {
        return error(
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        );
    }
    let Some(body) = json_body(request) else {
        return error(400, "invalid_request_error", "The request body is not JSON");
    };
    let Some(model) = body["model"].as_str() else {
        return error(400, "invalid_request_error", "model: Field required");
    };
    if !body["messages"].is_array() {
        return error(400, "invalid_request_error", "messages: Field required");
    }
    match request.path.as_str() {
        "/v1/messages/count_tokens" => json_reply(200, &json!({"input_tokens": COUNTED_TOKENS})),
        "/v1/messages" if body["max_tokens"].as_u64().is_none() => {
            error(400, "invalid_request_error", "max_tokens: Field required")
        }
        "/v1/messages" => {
            let stream = body["stream"] == true;
            let script = script
                .unwrap_or_else(|| Script::Answer(Answer::text(&format!("hello from {name}"))));
            match script {
                Script::Answer(answer) if stream => sse_reply(stream_events(&answer, model)),
                Script::Answer(answer) => json_reply(200, &message(&answer, model)),
                Script::Truncated(answer) => {
                    let mut events = stream_events(&answer, model);
                    // Cut after the last delta: no content_block_stop, message_delta or
                    // message_stop.
                    events.truncate(events.len() - 3);
                    sse_reply(events)
                }
                Script::Error {
                    status,
                    kind,
                    message,
                } => error(status, &kind, &message),
                Script::StreamError { kind, message, .. } => {
                    sse_reply(vec![event("error", &error_body(&kind, &message))])
                }
            }
        }
        other => error(404, "not_found_error", &format!("Not found: {other}")),
    }
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

/// Anthropic's `usage`: cache reads and writes are counted apart from `input_tokens`.
fn usage(answer: &Answer, output_tokens: u64) -> Value {
    let t = answer.tokens;
    json!({
        "input_tokens": t.prompt - t.cached - t.cache_write,
        "cache_creation_input_tokens": t.cache_write,
        "cache_read_input_tokens": t.cached,
        "output_tokens": output_tokens,
    })
}

/// A complete non-streaming Messages API response.
pub fn message(answer: &Answer, model: &str) -> Value {
    let mut content = Vec::new();
    if !answer.reasoning.is_empty() {
        content.push(
            json!({"type": "thinking", "thinking": answer.reasoning, "signature": "EqQBCkYIAxgC"}),
        );
    }
    if !answer.text.is_empty() {
        content.push(json!({"type": "text", "text": answer.text}));
    }
    for call in &answer.tool_calls {
        content.push(
            json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}),
        );
    }
    json!({
        "id": answer.id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason(answer.finish),
        "stop_sequence": null,
        "usage": usage(answer, answer.tokens.completion),
    })
}

/// One SSE event in Anthropic's framing: an `event:` line naming the type, then the data.
pub fn event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The complete event sequence of a streamed answer: `message_start`, one content block per
/// thinking, text and tool call (with a `ping` after the first block starts), `message_delta`
/// with the stop reason and output tokens, `message_stop`.
pub fn stream_events(answer: &Answer, model: &str) -> Vec<Bytes> {
    let mut start = message(answer, model);
    start["content"] = json!([]);
    start["stop_reason"] = Value::Null;
    start["usage"] = usage(answer, 1);
    let mut events = vec![event(
        "message_start",
        &json!({"type": "message_start", "message": start}),
    )];
    let mut blocks: Vec<(Value, Vec<Value>)> = Vec::new();
    if !answer.reasoning.is_empty() {
        let mut deltas: Vec<Value> = words(&answer.reasoning)
            .iter()
            .map(|w| json!({"type": "thinking_delta", "thinking": w}))
            .collect();
        deltas.push(json!({"type": "signature_delta", "signature": "EqQBCkYIAxgC"}));
        blocks.push((json!({"type": "thinking", "thinking": ""}), deltas));
    }
    if !answer.text.is_empty() {
        let deltas = words(&answer.text)
            .iter()
            .map(|w| json!({"type": "text_delta", "text": w}))
            .collect();
        blocks.push((json!({"type": "text", "text": ""}), deltas));
    }
    for call in &answer.tool_calls {
        let mut deltas = vec![json!({"type": "input_json_delta", "partial_json": ""})];
        deltas.extend(
            fragments(&call.arguments.to_string(), 3)
                .iter()
                .map(|f| json!({"type": "input_json_delta", "partial_json": f})),
        );
        let start = json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
        blocks.push((start, deltas));
    }
    for (index, (block, deltas)) in blocks.into_iter().enumerate() {
        events.push(event(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        if index == 0 {
            events.push(event("ping", &json!({"type": "ping"})));
        }
        for delta in deltas {
            events.push(event(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        events.push(event(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(event(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(answer.finish), "stop_sequence": null},
            "usage": {"output_tokens": answer.tokens.completion},
        }),
    ));
    events.push(event("message_stop", &json!({"type": "message_stop"})));
    events
}
