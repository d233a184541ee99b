//! Cohere v2's chat stream decoded into OpenAI chunks. Each event is `event: <type>` with a JSON
//! `data:` that repeats the type (`message-start`, `content-start`, `content-delta`,
//! `content-end`, `tool-plan-delta`, `tool-call-start`, `tool-call-delta`, `tool-call-end`,
//! `citation-start`, `citation-end`, `debug`, `message-end`); the data's `type` is read first and
//! the event name only when it has none. `message-end` is the final event; Cohere may send
//! `data: [DONE]` after it.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{failed, finish_reason, read_usage};
use crate::sse::SseEvent;
use crate::stream::{ChunkBuilder, Decoder, StreamItem, malformed, now_secs, stream_error};
use crate::usage::Usage;

pub struct CohereDecoder {
    chunks: ChunkBuilder,
    started: bool,
    /// Cohere's event index of a tool call → its OpenAI tool call index.
    tool_calls: HashMap<u64, usize>,
    /// The OpenAI index of the latest tool call, for deltas that carry no index.
    last_tool_call: Option<usize>,
    usage: Usage,
    done: bool,
}

impl CohereDecoder {
    /// A decoder for a stream from `model` (Cohere's events do not name it).
    pub fn new(model: &str) -> CohereDecoder {
        CohereDecoder {
            chunks: ChunkBuilder {
                id: String::new(),
                model: model.to_owned(),
                created: now_secs(),
            },
            started: false,
            tool_calls: HashMap::new(),
            last_tool_call: None,
            usage: Usage::default(),
            done: false,
        }
    }

    /// The first chunk (the assistant's role), once, before anything else is written.
    fn start(&mut self, out: &mut Vec<StreamItem>) {
        if !self.started {
            self.started = true;
            out.push(StreamItem::Chunk(
                self.chunks
                    .chunk(json!({"role": "assistant", "content": ""}), None),
            ));
        }
    }

    fn delta(&mut self, delta: Value, out: &mut Vec<StreamItem>) {
        self.start(out);
        out.push(StreamItem::Chunk(self.chunks.chunk(delta, None)));
    }

    fn fail(&mut self, error: Value, out: &mut Vec<StreamItem>) {
        self.done = true;
        out.push(StreamItem::Error(error));
    }

    /// Text or thinking of a `content-start` or `content-delta` event.
    fn content(&mut self, data: &Value, out: &mut Vec<StreamItem>) {
        let Some(content) = data.pointer("/delta/message/content") else {
            return;
        };
        let piece = |key: &str| {
            content
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
        };
        if let Some(thinking) = piece("thinking") {
            self.delta(json!({"reasoning_content": thinking}), out);
        }
        if let Some(text) = piece("text") {
            self.delta(json!({"content": text}), out);
        }
    }

    fn tool_call_start(&mut self, data: &Value, out: &mut Vec<StreamItem>) {
        let Some(call) = tool_call_of(data) else {
            return self.fail(malformed(), out);
        };
        let index = self.tool_calls.len();
        if let Some(cohere_index) = data.get("index").and_then(Value::as_u64) {
            self.tool_calls.insert(cohere_index, index);
        }
        self.last_tool_call = Some(index);
        let arguments = call
            .pointer("/function/arguments")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let delta = json!({"tool_calls": [{
            "index": index,
            "id": call.get("id").cloned().unwrap_or(Value::Null),
            "type": "function",
            "function": {
                "name": call.pointer("/function/name").cloned().unwrap_or(Value::Null),
                "arguments": arguments,
            },
        }]});
        self.delta(delta, out);
    }

    fn tool_call_delta(&mut self, data: &Value, out: &mut Vec<StreamItem>) {
        let index = data
            .get("index")
            .and_then(Value::as_u64)
            .and_then(|cohere_index| self.tool_calls.get(&cohere_index).copied())
            .or(self.last_tool_call);
        let Some(index) = index else {
            // Arguments for a call that never started cannot be placed.
            return self.fail(malformed(), out);
        };
        let Some(arguments) = tool_call_of(data)
            .and_then(|call| call.pointer("/function/arguments"))
            .and_then(Value::as_str)
            .filter(|arguments| !arguments.is_empty())
        else {
            return;
        };
        let delta = json!({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]});
        self.delta(delta, out);
    }

    fn message_end(&mut self, data: &Value, out: &mut Vec<StreamItem>) {
        self.done = true;
        let delta = data.get("delta").cloned().unwrap_or_default();
        if let Some(usage) = delta.get("usage") {
            self.usage.merge(read_usage(usage));
        }
        let reason = delta
            .get("finish_reason")
            .and_then(Value::as_str)
            .unwrap_or("COMPLETE");
        let error = delta
            .get("error")
            .and_then(Value::as_str)
            .filter(|error| !error.is_empty());
        if error.is_some() || failed(reason) {
            // What was generated is billed, so the usage is reported before the error.
            out.push(StreamItem::Usage(self.usage));
            let message = error.unwrap_or(if reason == "TIMEOUT" {
                "Cohere stopped generating: the request timed out."
            } else {
                "Cohere stopped generating with an error."
            });
            // Classified like the same message sent as a status (a rate limit stays one).
            let classified = super::classified_error(message);
            let kind = classified.kind.as_deref().unwrap_or("api_error");
            let code = match classified.code.as_ref().and_then(Value::as_str) {
                Some(code) => code.to_owned(),
                None => reason.to_ascii_lowercase(),
            };
            out.push(StreamItem::Error(stream_error(message, kind, &code)));
            return;
        }
        self.start(out);
        out.push(StreamItem::Chunk(
            self.chunks.chunk(json!({}), Some(finish_reason(reason))),
        ));
        out.push(StreamItem::Usage(self.usage));
        out.push(StreamItem::Done);
    }
}

/// The tool call of a `tool-call-*` event: one object (as Cohere sends it), or the first of an
/// array (as its documentation's prose describes it).
fn tool_call_of(data: &Value) -> Option<&Value> {
    match data.pointer("/delta/message/tool_calls")? {
        Value::Array(calls) => calls.first(),
        call @ Value::Object(_) => Some(call),
        _ => None,
    }
}

impl Decoder for CohereDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<StreamItem>) {
        if self.done {
            return;
        }
        let data = event.data();
        let trimmed = data.trim();
        if trimmed.is_empty() || trimmed == "[DONE]" {
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(trimmed) else {
            return self.fail(malformed(), out);
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.name())
            .unwrap_or_default();
        match kind {
            "message-start" => {
                if let Some(id) = data.get("id").and_then(Value::as_str) {
                    self.chunks.id = id.to_owned();
                }
                self.start(out);
            }
            "content-start" | "content-delta" => self.content(&data, out),
            "tool-plan-delta" => {
                if let Some(plan) = data
                    .pointer("/delta/message/tool_plan")
                    .and_then(Value::as_str)
                    .filter(|plan| !plan.is_empty())
                {
                    self.delta(json!({"content": plan}), out);
                }
            }
            "tool-call-start" => self.tool_call_start(&data, out),
            "tool-call-delta" => self.tool_call_delta(&data, out),
            "message-end" => self.message_end(&data, out),
            // An untyped body with a message is an error body sent down the stream.
            "" if data.get("message").is_some_and(Value::is_string) => {
                let parsed = super::parse_error_body(trimmed.as_bytes());
                let kind = parsed.kind.as_deref().unwrap_or("api_error");
                let code = parsed
                    .code
                    .as_ref()
                    .and_then(Value::as_str)
                    .unwrap_or("upstream_error");
                let error = stream_error(&parsed.message, kind, code);
                self.fail(error, out);
            }
            // content-end, tool-call-end, citation-start, citation-end, debug, and types to come
            // carry nothing an OpenAI chunk has.
            _ => {}
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}
