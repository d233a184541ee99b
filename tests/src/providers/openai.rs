//! OpenAI's chat completion wire format for scripted answers: JSON bodies, `chat.completion.chunk`
//! streams and error bodies, shared by the Azure mock and the scripted replies of [`MockUpstream`].
//!
//! [`MockUpstream`]: crate::MockUpstream

use bytes::Bytes;
use serde_json::{Map, Value, json};

use super::{Answer, Script, fragments, words};
use crate::mock::Reply;

/// OpenAI's `usage` object for an answer.
pub fn usage(answer: &Answer) -> Value {
    let t = answer.tokens;
    json!({
        "prompt_tokens": t.prompt,
        "completion_tokens": t.completion,
        "total_tokens": t.prompt + t.completion,
        "prompt_tokens_details": {"cached_tokens": t.cached},
    })
}

fn call_json(call: &super::ToolCall) -> Value {
    json!({
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments.to_string()},
    })
}

/// A complete `chat.completion` body.
pub fn completion(answer: &Answer, model: &str) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if answer.text.is_empty() && !answer.tool_calls.is_empty() {
        Value::Null
    } else {
        json!(answer.text)
    };
    message.insert("content".into(), content);
    if !answer.reasoning.is_empty() {
        message.insert("reasoning_content".into(), json!(answer.reasoning));
    }
    if !answer.tool_calls.is_empty() {
        let calls = answer.tool_calls.iter().map(call_json).collect();
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    json!({
        "id": answer.id,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish.openai()}],
        "usage": usage(answer),
    })
}

fn chunk(answer: &Answer, model: &str, choices: Value) -> Bytes {
    let chunk = json!({
        "id": answer.id,
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": choices,
    });
    Bytes::from(format!("data: {chunk}\n\n"))
}

fn delta(answer: &Answer, model: &str, delta: Value) -> Bytes {
    chunk(
        answer,
        model,
        json!([{"index": 0, "delta": delta, "finish_reason": null}]),
    )
}

/// The content events of a stream: the role, reasoning and text word by word, and each tool call
/// as a header delta followed by its arguments in three fragments.
fn content_events(answer: &Answer, model: &str) -> Vec<Bytes> {
    let mut events = vec![delta(
        answer,
        model,
        json!({"role": "assistant", "content": ""}),
    )];
    for word in words(&answer.reasoning) {
        events.push(delta(answer, model, json!({"reasoning_content": word})));
    }
    for word in words(&answer.text) {
        events.push(delta(answer, model, json!({"content": word})));
    }
    for (index, call) in answer.tool_calls.iter().enumerate() {
        let header = json!({"index": index, "id": call.id, "type": "function",
            "function": {"name": call.name, "arguments": ""}});
        events.push(delta(answer, model, json!({"tool_calls": [header]})));
        for fragment in fragments(&call.arguments.to_string(), 3) {
            let piece = json!({"index": index, "function": {"arguments": fragment}});
            events.push(delta(answer, model, json!({"tool_calls": [piece]})));
        }
    }
    events
}

/// A complete stream: content, the finish chunk, the usage chunk when `include_usage`, `[DONE]`.
pub fn stream_events(answer: &Answer, model: &str, include_usage: bool) -> Vec<Bytes> {
    let mut events = content_events(answer, model);
    let finish = json!([{"index": 0, "delta": {}, "finish_reason": answer.finish.openai()}]);
    events.push(chunk(answer, model, finish));
    if include_usage {
        let usage = json!({
            "id": answer.id, "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "choices": [], "usage": usage(answer),
        });
        events.push(Bytes::from(format!("data: {usage}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// A stream cut after its content: no finish chunk, no usage, no `[DONE]`.
pub fn truncated_events(answer: &Answer, model: &str) -> Vec<Bytes> {
    content_events(answer, model)
}

/// OpenAI's error body; the error type doubles as the code.
pub fn error_body(kind: &str, message: &str) -> Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})
}

/// An error as a stream event, the way OpenAI-style servers such as vLLM send it: the status
/// as a numeric `code`.
pub fn stream_error_event(status: u16, kind: &str, message: &str) -> Bytes {
    let error = json!({"error": {"message": message, "type": kind, "param": null, "code": status}});
    Bytes::from(format!("data: {error}\n\n"))
}

/// A `[MockUpstream]` reply for a script, for a request that streams or not (the mock cannot tell,
/// so the caller says). Streams carry the usage chunk, which the gateway always asks for.
pub fn reply(script: &Script, model: &str, stream: bool) -> Reply {
    let json = |status: u16, body: &Value| Reply::Raw {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body.to_string()),
    };
    let sse = |events: Vec<Bytes>| Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "text/event-stream".into())],
        body: Bytes::from(events.concat()),
    };
    match script {
        Script::Answer(answer) if stream => sse(stream_events(answer, model, true)),
        Script::Answer(answer) => json(200, &completion(answer, model)),
        Script::Truncated(answer) => sse(truncated_events(answer, model)),
        Script::Error {
            status,
            kind,
            message,
        } => json(*status, &error_body(kind, message)),
        Script::StreamError {
            status,
            kind,
            message,
        } => sse(vec![stream_error_event(*status, kind, message)]),
    }
}

/// An OpenAI embeddings list for `inputs`, with [`super::gemini::embedding_for`]'s values.
pub fn embeddings(inputs: &[&str], model: &str) -> Value {
    let data: Vec<Value> = inputs
        .iter()
        .enumerate()
        .map(|(i, text)| json!({"object": "embedding", "index": i, "embedding": super::gemini::embedding_for(i, text)}))
        .collect();
    json!({"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 4, "total_tokens": 4}})
}
