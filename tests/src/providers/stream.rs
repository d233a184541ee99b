//! Client-side readers of streams: an OpenAI chat completion stream, whose event order is checked
//! and whose content, reasoning and tool calls are reassembled from their deltas; and an Anthropic
//! Messages stream as named events.

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::{SseEvent, SseReader};

/// One tool call reassembled from a stream's deltas.
#[derive(Clone, Debug, Default)]
pub struct StreamedCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
    /// How many non-empty argument fragments made up `arguments`.
    pub fragments: usize,
}

impl StreamedCall {
    /// The reassembled arguments as JSON; panics if the fragments do not make valid JSON.
    pub fn arguments_json(&self) -> Value {
        serde_json::from_str(&self.arguments).unwrap_or_else(|e| {
            panic!(
                "reassembled arguments are not JSON ({e}): {}",
                self.arguments
            )
        })
    }
}

/// An OpenAI client's stream, read to its end, with the order of its events checked: the role
/// first, then deltas, one finish chunk, the usage chunk if any, then `[DONE]` or an error last.
#[derive(Debug, Default)]
pub struct StreamSummary {
    pub headers: HeaderMap,
    pub events: Vec<SseEvent>,
    pub model: String,
    pub content: String,
    pub content_deltas: usize,
    pub reasoning: String,
    pub tool_calls: Vec<StreamedCall>,
    pub finish_reason: Option<String>,
    pub usage: Option<Value>,
    pub error: Option<Value>,
    pub done: bool,
}

impl StreamSummary {
    pub async fn read(response: reqwest::Response) -> StreamSummary {
        assert_eq!(response.status(), 200, "a stream answers 200");
        let headers = response.headers().clone();
        let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
        assert!(
            content_type.is_some_and(|t| t.starts_with("text/event-stream")),
            "stream content-type {content_type:?}"
        );
        let events = SseReader::new(response).collect_all().await;
        let mut summary = StreamSummary {
            headers,
            ..StreamSummary::default()
        };
        for event in &events {
            summary.take(event);
        }
        summary.events = events;
        summary
    }

    fn take(&mut self, event: &SseEvent) {
        assert!(
            !self.done && self.error.is_none(),
            "an event after the end of the stream: {event:?}"
        );
        if event.is_done() {
            self.done = true;
            return;
        }
        let chunk = event.json();
        if let Some(error) = chunk.get("error") {
            self.error = Some(error.clone());
            return;
        }
        assert_eq!(chunk["object"], "chat.completion.chunk", "{chunk}");
        let model = chunk["model"].as_str().unwrap_or_default();
        if self.model.is_empty() {
            assert!(
                chunk["choices"][0]["delta"]["role"] == "assistant",
                "the first chunk carries the role: {chunk}"
            );
            self.model = model.to_owned();
        }
        assert_eq!(model, self.model, "every chunk names the same model");
        assert!(
            self.usage.is_none(),
            "a chunk after the usage chunk: {chunk}"
        );
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            assert_eq!(
                chunk["choices"],
                json!([]),
                "the usage chunk has no choices"
            );
            assert!(
                self.finish_reason.is_some(),
                "usage before the finish chunk"
            );
            self.usage = Some(usage.clone());
            return;
        }
        assert!(
            self.finish_reason.is_none(),
            "a chunk after the finish chunk: {chunk}"
        );
        let choice = &chunk["choices"][0];
        let delta = &choice["delta"];
        if let Some(text) = delta["content"].as_str().filter(|t| !t.is_empty()) {
            self.content.push_str(text);
            self.content_deltas += 1;
        }
        if let Some(text) = delta["reasoning_content"].as_str() {
            self.reasoning.push_str(text);
        }
        for call in delta["tool_calls"].as_array().into_iter().flatten() {
            let index = call["index"]
                .as_u64()
                .expect("tool call deltas have an index") as usize;
            if index == self.tool_calls.len() {
                self.tool_calls.push(StreamedCall::default());
            }
            let entry = self
                .tool_calls
                .get_mut(index)
                .expect("tool call indexes are dense");
            if let Some(id) = call["id"].as_str() {
                assert!(entry.id.is_empty(), "call {index} got a second id");
                entry.id = id.to_owned();
            }
            if let Some(name) = call["function"]["name"].as_str() {
                assert!(entry.name.is_empty(), "call {index} got a second name");
                entry.name = name.to_owned();
            }
            if let Some(fragment) = call["function"]["arguments"]
                .as_str()
                .filter(|a| !a.is_empty())
            {
                entry.arguments.push_str(fragment);
                entry.fragments += 1;
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
        }
    }

    /// Asserts the stream ended as it should: a finish reason, no error, `[DONE]` last.
    pub fn assert_complete(&self) {
        assert!(self.error.is_none(), "stream error: {:?}", self.error);
        assert!(
            self.finish_reason.is_some(),
            "no finish chunk: {:?}",
            self.events
        );
        assert!(self.done, "no [DONE]: {:?}", self.events);
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// An Anthropic client's stream read to its end: each event's name (from its `event:` line) and
/// data, checking that the two agree.
pub async fn anthropic_events(response: reqwest::Response) -> Vec<(String, Value)> {
    assert_eq!(response.status(), 200, "a stream answers 200");
    let events = SseReader::new(response).collect_all().await;
    events
        .iter()
        .map(|event| {
            let name = event
                .raw
                .lines()
                .find_map(|line| line.strip_prefix("event:"))
                .unwrap_or_else(|| panic!("an event without an event: line: {event:?}"))
                .trim()
                .to_owned();
            let data = event.json();
            assert_eq!(data["type"], name.as_str(), "event line and data disagree");
            (name, data)
        })
        .collect()
}
