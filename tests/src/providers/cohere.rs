//! A mock of Cohere's v2 API (`POST /v2/chat`, `/v2/embed`, `/v2/rerank`) with bearer keys:
//! chat answers as JSON or, with `"stream": true`, as SSE events named on an `event:` line and
//! repeated in the data's `type` (`message-start`, `content-*`, `tool-call-*`, `message-end` with
//! the usage); embeddings by type (`embeddings.float`); errors as `{"id", "message"}`.

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::fake::{ProviderMock, json_body, json_reply, sse_reply};
use super::gemini::embedding_for;
use super::{Answer, Finish, Script, fragments, words};
use crate::mock::RecordedRequest;

/// A mock Cohere server; its key is the `test_key` of its name.
pub type CohereMock = ProviderMock;

/// Starts a mock Cohere server named `name`, serving the v2 API under `/v2`.
pub async fn mock(name: &str) -> CohereMock {
    ProviderMock::start(name, "cohere", "/v2", respond).await
}

const REQUEST_ID: &str = "c7a8e3f2-5b1d-4e9a-8c6f-2d3b4a5e6f70";

/// Cohere's error body: an id and a message, nothing that names a type.
pub fn error_body(message: &str) -> Value {
    json!({"id": REQUEST_ID, "message": message})
}

fn error(status: u16, message: &str) -> Response {
    json_reply(status, &error_body(message))
}

/// The fields of a v2 chat request.
const CHAT_FIELDS: [&str; 21] = [
    "model",
    "messages",
    "stream",
    "tools",
    "strict_tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "logprobs",
    "tool_choice",
    "thinking",
    "priority",
];

fn respond(name: &str, key: &str, request: &RecordedRequest, script: Option<Script>) -> Response {
    match request.header("authorization") {
        None => return error(401, "no api key supplied"),
        Some(value) if value != format!("Bearer {key}") => {
            return error(401, "invalid api token");
        }
        Some(_) => {}
    }
    if request.method != http::Method::POST {
        return error(405, "method not allowed");
    }
    let Some(body) = json_body(request).filter(Value::is_object) else {
        return error(400, "invalid request: the body must be a JSON object");
    };
    if !body["model"].is_string() {
        return error(400, "invalid request: model must be specified");
    }
    match request.path.as_str() {
        "/v2/chat" => chat(name, &body, script),
        "/v2/embed" => embed(&body),
        "/v2/rerank" => rerank(&body),
        _ => error(404, "Not Found"),
    }
}

fn chat(name: &str, body: &Value, script: Option<Script>) -> Response {
    if let Err(problem) = check_chat(body) {
        return error(400, &format!("invalid request: {problem}"));
    }
    let stream = body["stream"] == true;
    let script =
        script.unwrap_or_else(|| Script::Answer(Answer::text(&format!("hello from {name}"))));
    match script {
        Script::Answer(answer) if stream => sse_reply(stream_events(&answer)),
        Script::Answer(answer) => json_reply(200, &response(&answer)),
        Script::Truncated(answer) => {
            let mut events = stream_events(&answer);
            // Cut after the last delta: no content-end (or tool-call-end), no message-end.
            events.truncate(events.len() - 2);
            sse_reply(events)
        }
        Script::Error {
            status, message, ..
        } => error(status, &message),
        // Cohere reports an error during generation in the stream's last event.
        Script::StreamError { message, .. } => sse_reply(vec![event(&json!({
            "type": "message-end",
            "delta": {"error": message, "finish_reason": "ERROR", "usage": {
                "billed_units": {"input_tokens": 0, "output_tokens": 0},
                "tokens": {"input_tokens": 0, "output_tokens": 0}}},
        }))]),
    }
}

/// What Cohere's v2 chat refuses: unknown fields, unknown roles, a message without what its
/// role needs, text next to tool calls, and tool choices other than its two.
fn check_chat(body: &Value) -> Result<(), String> {
    let object = body.as_object().ok_or("the body must be an object")?;
    if let Some(extra) = object.keys().find(|k| !CHAT_FIELDS.contains(&k.as_str())) {
        return Err(format!(
            "unknown field: parameter {extra} is not a valid field"
        ));
    }
    if body.get("stream").is_some_and(|s| !s.is_boolean()) {
        return Err("stream must be a boolean".into());
    }
    let messages = body["messages"].as_array().filter(|m| !m.is_empty());
    let messages = messages.ok_or("messages must be a non-empty list")?;
    for (i, message) in messages.iter().enumerate() {
        let content = &message["content"];
        let has_content = content.as_str().is_some_and(|t| !t.is_empty())
            || content.as_array().is_some_and(|parts| !parts.is_empty());
        match message["role"].as_str() {
            Some("system" | "user") if !has_content => {
                return Err(format!("messages[{i}]: content is required"));
            }
            Some("system" | "user") => {}
            Some("assistant") => {
                let calls = message["tool_calls"]
                    .as_array()
                    .is_some_and(|c| !c.is_empty());
                if calls && !content.is_null() {
                    return Err(format!(
                        "messages[{i}]: text content is not allowed when tool_calls are provided, use tool_plan instead"
                    ));
                }
                if !calls && !has_content {
                    return Err(format!("messages[{i}]: content or tool_calls is required"));
                }
            }
            Some("tool") if !message["tool_call_id"].is_string() => {
                return Err(format!("messages[{i}]: tool_call_id is required"));
            }
            Some("tool") => {}
            _ => {
                return Err(format!(
                    "messages[{i}]: role must be one of system, user, assistant, tool"
                ));
            }
        }
    }
    if let Some(choice) = body.get("tool_choice")
        && !matches!(choice.as_str(), Some("REQUIRED" | "NONE"))
    {
        return Err("tool_choice must be one of REQUIRED, NONE".into());
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        if tool["type"] != "function" || !tool["function"]["name"].is_string() {
            return Err("tools must be functions with a name".into());
        }
    }
    Ok(())
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "COMPLETE",
        Finish::Length => "MAX_TOKENS",
        Finish::ToolCalls => "TOOL_CALL",
    }
}

/// Cohere's `usage`: the tokens the model read and wrote, and the (fewer) billed units, which
/// leave out Cohere's own prompt template; cached tokens are part of the input.
fn usage(answer: &Answer) -> Value {
    let t = answer.tokens;
    let mut usage = json!({
        "billed_units": {"input_tokens": t.prompt.saturating_sub(3), "output_tokens": t.completion},
        "tokens": {"input_tokens": t.prompt, "output_tokens": t.completion},
    });
    if t.cached > 0 {
        usage["cached_tokens"] = json!(t.cached);
    }
    usage
}

fn call_json(call: &super::ToolCall) -> Value {
    json!({"id": call.id, "type": "function",
        "function": {"name": call.name, "arguments": call.arguments.to_string()}})
}

/// A complete v2 chat response.
pub fn response(answer: &Answer) -> Value {
    let mut content = Vec::new();
    if !answer.reasoning.is_empty() {
        content.push(json!({"type": "thinking", "thinking": answer.reasoning}));
    }
    if !answer.text.is_empty() {
        content.push(json!({"type": "text", "text": answer.text}));
    }
    let mut message = json!({"role": "assistant", "content": content});
    if !answer.tool_calls.is_empty() {
        message["tool_calls"] = answer.tool_calls.iter().map(call_json).collect();
    }
    json!({
        "id": answer.id,
        "message": message,
        "finish_reason": finish_reason(answer.finish),
        "usage": usage(answer),
    })
}

/// One event in Cohere's framing: the type on an `event:` line, and in the data.
pub fn event(data: &Value) -> Bytes {
    let name = data["type"].as_str().expect("every event has a type");
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// The events of a streamed answer: `message-start`; a `content-start`, word deltas and
/// `content-end` for the thinking and the text; `tool-call-start`, three argument fragments and
/// `tool-call-end` per call; `message-end` with the finish reason and the usage.
pub fn stream_events(answer: &Answer) -> Vec<Bytes> {
    let start = json!({"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [],
        "citations": []});
    let mut events = vec![event(&json!({"id": answer.id, "type": "message-start",
        "delta": {"message": start}}))];
    let blocks = [("thinking", &answer.reasoning), ("text", &answer.text)];
    let blocks = blocks.into_iter().filter(|(_, text)| !text.is_empty());
    for (index, (kind, text)) in blocks.enumerate() {
        events.push(event(&json!({"type": "content-start", "index": index,
            "delta": {"message": {"content": {"type": kind, kind: ""}}}})));
        for word in words(text) {
            events.push(event(&json!({"type": "content-delta", "index": index,
                "delta": {"message": {"content": {kind: word}}}})));
        }
        events.push(event(&json!({"type": "content-end", "index": index})));
    }
    for (index, call) in answer.tool_calls.iter().enumerate() {
        let mut header = call_json(call);
        header["function"]["arguments"] = json!("");
        events.push(event(&json!({"type": "tool-call-start", "index": index,
            "delta": {"message": {"tool_calls": header}}})));
        for fragment in fragments(&call.arguments.to_string(), 3) {
            events.push(event(&json!({"type": "tool-call-delta", "index": index,
                "delta": {"message": {"tool_calls": {"function": {"arguments": fragment}}}}})));
        }
        events.push(event(&json!({"type": "tool-call-end", "index": index})));
    }
    events.push(event(&json!({"type": "message-end", "delta": {
        "finish_reason": finish_reason(answer.finish), "usage": usage(answer)}})));
    events
}

/// `/v2/embed`: `texts` with an `input_type`, answered by type (`float` only is asked for).
fn embed(body: &Value) -> Response {
    let Some(texts) = body["texts"].as_array().filter(|t| !t.is_empty()) else {
        return error(400, "invalid request: texts must be a non-empty list");
    };
    if !body["input_type"].is_string() {
        return error(
            400,
            "invalid request: valid input_type must be provided with the provided model",
        );
    }
    if body["embedding_types"] != json!(["float"]) {
        return error(
            400,
            "invalid request: embedding_types must be [\"float\"] here",
        );
    }
    let texts: Vec<&str> = texts.iter().filter_map(Value::as_str).collect();
    let vectors: Vec<Vec<f64>> = texts
        .iter()
        .enumerate()
        .map(|(i, text)| embedding_for(i, text))
        .collect();
    let tokens: usize = texts.iter().map(|t| t.split_whitespace().count()).sum();
    json_reply(
        200,
        &json!({
            "id": REQUEST_ID,
            "texts": texts,
            "embeddings": {"float": vectors},
            "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": tokens}},
            "response_type": "embeddings_by_type",
        }),
    )
}

/// `/v2/rerank`: the documents ranked in reverse order of their position, `top_n` of them.
fn rerank(body: &Value) -> Response {
    if !body["query"].is_string() {
        return error(400, "invalid request: query must be a string");
    }
    let Some(documents) = body["documents"].as_array().filter(|d| !d.is_empty()) else {
        return error(400, "invalid request: documents must be a non-empty list");
    };
    let top_n = body["top_n"]
        .as_u64()
        .map_or(documents.len(), |n| n as usize);
    let results: Vec<Value> = (0..documents.len())
        .rev()
        .take(top_n)
        .enumerate()
        .map(|(rank, index)| json!({"index": index, "relevance_score": 0.9 - rank as f64 / 10.0}))
        .collect();
    json_reply(
        200,
        &json!({"id": REQUEST_ID, "results": results,
            "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}),
    )
}
