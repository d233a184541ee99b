//! OpenAI's Responses API wire format for scripted answers (the `response` object and its typed
//! event stream, as `POST /v1/responses` answers), and a client-side reader of such a stream that
//! checks what every SDK relies on: each event named by its `type`, sequence numbers counting up
//! from 0, and one final event last.

use bytes::Bytes;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::{Answer, Finish, fragments, words};
use crate::SseReader;

/// When every scripted response was created.
pub const CREATED_AT: u64 = 1_700_000_000;

/// The events after which a Responses API stream has ended.
pub const FINAL_EVENTS: [&str; 3] = [
    "response.completed",
    "response.incomplete",
    "response.failed",
];

/// The Responses API `usage` object for an answer.
pub fn usage(answer: &Answer) -> Value {
    let t = answer.tokens;
    json!({
        "input_tokens": t.prompt,
        "input_tokens_details": {"cached_tokens": t.cached},
        "output_tokens": t.completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": t.prompt + t.completion,
    })
}

/// The response id of an answer (`resp_…`); the item ids derive from it.
pub fn response_id(answer: &Answer) -> String {
    let id = answer.id.trim_start_matches("resp_");
    format!("resp_{id}")
}

fn item_id(answer: &Answer, prefix: &str, index: usize) -> String {
    let id = answer.id.trim_start_matches("resp_");
    format!("{prefix}_{id}_{index}")
}

/// The output items of an answer, each with `status` (reasoning items have none).
fn output_items(answer: &Answer, status: &str) -> Vec<Value> {
    let mut items = Vec::new();
    if !answer.reasoning.is_empty() {
        items.push(json!({"id": item_id(answer, "rs", 0), "type": "reasoning",
            "summary": [{"type": "summary_text", "text": answer.reasoning}]}));
    }
    if !answer.text.is_empty() {
        items.push(json!({
            "id": item_id(answer, "msg", 0), "type": "message", "status": status,
            "role": "assistant",
            "content": [{"type": "output_text", "text": answer.text, "annotations": [], "logprobs": []}],
        }));
    }
    for (index, call) in answer.tool_calls.iter().enumerate() {
        items.push(json!({
            "id": item_id(answer, "fc", index), "type": "function_call", "status": status,
            "call_id": call.id, "name": call.name, "arguments": call.arguments.to_string(),
        }));
    }
    items
}

/// A whole `response` object answering `request` (the client's body, whose settings it echoes).
fn response_object(answer: &Answer, model: &str, request: &Value, status: &str) -> Value {
    let given = |key: &str, default: Value| {
        request
            .get(key)
            .filter(|v| !v.is_null())
            .cloned()
            .unwrap_or(default)
    };
    let (output, usage, incomplete) = match status {
        "in_progress" => (Vec::new(), Value::Null, Value::Null),
        "incomplete" => (
            output_items(answer, "incomplete"),
            usage(answer),
            json!({"reason": "max_output_tokens"}),
        ),
        _ => (
            output_items(answer, "completed"),
            usage(answer),
            Value::Null,
        ),
    };
    json!({
        "id": response_id(answer),
        "object": "response",
        "created_at": CREATED_AT,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": incomplete,
        "instructions": given("instructions", Value::Null),
        "max_output_tokens": given("max_output_tokens", Value::Null),
        "model": model,
        "output": output,
        "parallel_tool_calls": given("parallel_tool_calls", json!(true)),
        "previous_response_id": given("previous_response_id", Value::Null),
        "reasoning": {"effort": null, "summary": null},
        "store": given("store", json!(true)),
        "temperature": given("temperature", json!(1.0)),
        "text": given("text", json!({"format": {"type": "text"}})),
        "tool_choice": given("tool_choice", json!("auto")),
        "tools": given("tools", json!([])),
        "top_p": given("top_p", json!(1.0)),
        "truncation": "disabled",
        "usage": usage,
        "user": null,
        "metadata": given("metadata", json!({})),
    })
}

/// The final status of an answer.
fn final_status(answer: &Answer) -> &'static str {
    match answer.finish {
        Finish::Length => "incomplete",
        Finish::Stop | Finish::ToolCalls => "completed",
    }
}

/// A complete non-streaming answer to `request`.
pub fn response(answer: &Answer, model: &str, request: &Value) -> Value {
    response_object(answer, model, request, final_status(answer))
}

/// Numbers events as they are written, in OpenAI's framing: `event: <type>`, then the data.
#[derive(Default)]
struct Events {
    out: Vec<Bytes>,
}

impl Events {
    fn push(&mut self, mut data: Value) {
        let name = data["type"].as_str().unwrap_or_default().to_owned();
        data["sequence_number"] = json!(self.out.len());
        self.out
            .push(Bytes::from(format!("event: {name}\ndata: {data}\n\n")));
    }
}

/// The complete event stream of an answer to `request`: `response.created` and
/// `response.in_progress`; per output item its `output_item.added`, deltas, `.done` events and
/// `output_item.done`; then `response.completed` (or `response.incomplete`).
pub fn stream_events(answer: &Answer, model: &str, request: &Value) -> Vec<Bytes> {
    let mut events = Events::default();
    let started = response_object(answer, model, request, "in_progress");
    events.push(json!({"type": "response.created", "response": started}));
    events.push(json!({"type": "response.in_progress", "response": started}));
    let status = final_status(answer);
    for (index, done) in output_items(answer, status).into_iter().enumerate() {
        let id = done["id"].clone();
        let mut added = done.clone();
        match done["type"].as_str() {
            Some("reasoning") => {
                added["summary"] = json!([]);
                events.push(
                    json!({"type": "response.output_item.added", "output_index": index, "item": added}),
                );
                let part = json!({"type": "summary_text", "text": ""});
                events.push(
                    json!({"type": "response.reasoning_summary_part.added", "item_id": id,
                    "output_index": index, "summary_index": 0, "part": part}),
                );
                for word in words(&answer.reasoning) {
                    events.push(json!({"type": "response.reasoning_summary_text.delta",
                        "item_id": id, "output_index": index, "summary_index": 0, "delta": word}));
                }
                let text = &answer.reasoning;
                events.push(
                    json!({"type": "response.reasoning_summary_text.done", "item_id": id,
                    "output_index": index, "summary_index": 0, "text": text}),
                );
                events.push(
                    json!({"type": "response.reasoning_summary_part.done", "item_id": id,
                    "output_index": index, "summary_index": 0,
                    "part": {"type": "summary_text", "text": text}}),
                );
            }
            Some("message") => {
                added["status"] = json!("in_progress");
                added["content"] = json!([]);
                events.push(
                    json!({"type": "response.output_item.added", "output_index": index, "item": added}),
                );
                let empty =
                    json!({"type": "output_text", "text": "", "annotations": [], "logprobs": []});
                events.push(json!({"type": "response.content_part.added", "item_id": id,
                    "output_index": index, "content_index": 0, "part": empty}));
                for word in words(&answer.text) {
                    events.push(json!({"type": "response.output_text.delta", "item_id": id,
                        "output_index": index, "content_index": 0, "delta": word, "logprobs": []}));
                }
                events.push(json!({"type": "response.output_text.done", "item_id": id,
                    "output_index": index, "content_index": 0, "text": answer.text, "logprobs": []}));
                events.push(json!({"type": "response.content_part.done", "item_id": id,
                    "output_index": index, "content_index": 0, "part": done["content"][0]}));
            }
            _ => {
                added["status"] = json!("in_progress");
                added["arguments"] = json!("");
                events.push(
                    json!({"type": "response.output_item.added", "output_index": index, "item": added}),
                );
                let arguments = done["arguments"].as_str().unwrap_or_default().to_owned();
                for fragment in fragments(&arguments, 3) {
                    events.push(json!({"type": "response.function_call_arguments.delta",
                        "item_id": id, "output_index": index, "delta": fragment}));
                }
                events.push(
                    json!({"type": "response.function_call_arguments.done", "item_id": id,
                    "output_index": index, "name": done["name"], "arguments": arguments}),
                );
            }
        }
        events.push(
            json!({"type": "response.output_item.done", "output_index": index, "item": done}),
        );
    }
    let last = match status {
        "incomplete" => "response.incomplete",
        _ => "response.completed",
    };
    let finished = response_object(answer, model, request, status);
    events.push(json!({"type": last, "response": finished}));
    events.out
}

/// A stream cut before its final event.
pub fn truncated_events(answer: &Answer, model: &str, request: &Value) -> Vec<Bytes> {
    let mut events = stream_events(answer, model, request);
    events.pop();
    events
}

/// A Responses API stream as a client read it, checked as it was read: a `200` event stream,
/// every event's `event:` line naming its data's `type`, `sequence_number`s 0, 1, 2, … and
/// nothing after a final event.
#[derive(Debug)]
pub struct ResponsesStream {
    pub headers: HeaderMap,
    /// Each event's data.
    pub events: Vec<Value>,
}

impl ResponsesStream {
    pub async fn read(response: reqwest::Response) -> ResponsesStream {
        assert_eq!(response.status(), 200, "a stream answers 200");
        let headers = response.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        assert!(
            content_type.is_some_and(|t| t.starts_with("text/event-stream")),
            "stream content-type {content_type:?}"
        );
        let raw = SseReader::new(response).collect_all().await;
        let mut events: Vec<Value> = Vec::new();
        for event in &raw {
            if let Some(last) = events.last() {
                let kind = last["type"].as_str().unwrap_or_default();
                assert!(
                    !FINAL_EVENTS.contains(&kind),
                    "an event after {kind}: {event:?}"
                );
            }
            let name = event
                .raw
                .lines()
                .find_map(|line| line.strip_prefix("event:"))
                .unwrap_or_else(|| panic!("an event without an event: line: {event:?}"))
                .trim();
            let data = event.json();
            assert_eq!(
                data["type"], name,
                "the event line and the data's type differ"
            );
            assert_eq!(
                data["sequence_number"],
                events.len(),
                "sequence numbers count up from 0: {data}"
            );
            events.push(data);
        }
        ResponsesStream { headers, events }
    }

    /// The events' types in order.
    pub fn names(&self) -> Vec<&str> {
        self.events
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect()
    }

    /// The events of one type.
    pub fn of_type(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["type"] == kind).collect()
    }

    /// The text of every `response.output_text.delta`, joined.
    pub fn text(&self) -> String {
        self.of_type("response.output_text.delta")
            .iter()
            .filter_map(|e| e["delta"].as_str())
            .collect()
    }

    /// The `response` of the final `response.completed` event; panics if the stream did not end
    /// with one.
    pub fn completed(&self) -> &Value {
        let last = self.events.last().expect("the stream has events");
        assert_eq!(last["type"], "response.completed", "{:?}", self.names());
        &last["response"]
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}
