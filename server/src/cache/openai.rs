//! OpenAI chat completions in both shapes: a stored stream's chunks assembled into the
//! `chat.completion` a plain request gets, a stored completion written out as the chunks a stream
//! gets, and a stored stream replayed with the usage chunk the new client asked for (or not).
//!
//! Assembly follows what OpenAI's own SDKs do with a stream: strings concatenate, arrays extend,
//! tool calls merge by their `index`, later non-null values win for the rest.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value, json};

use crate::sse::SseEvent;
use crate::stream::{ChunkBuilder, now_secs, write_data};
use crate::usage::Usage;

/// Merges one delta field into what has accumulated so far.
fn merge(into: &mut Map<String, Value>, key: &str, value: &Value) {
    match (into.get_mut(key), value) {
        (Some(Value::String(acc)), Value::String(more)) => acc.push_str(more),
        (Some(Value::Array(acc)), Value::Array(more)) => acc.extend(more.iter().cloned()),
        (Some(_), Value::Null) => {}
        _ => {
            into.insert(key.to_owned(), value.clone());
        }
    }
}

#[derive(Default)]
struct Choice {
    message: Map<String, Value>,
    /// Tool calls by their stream `index`: id, type, name, and the arguments as they grow.
    tool_calls: BTreeMap<u64, (Value, Value, String, String)>,
    logprobs: Option<Map<String, Value>>,
    finish_reason: Value,
}

impl Choice {
    fn delta(&mut self, delta: &Map<String, Value>) {
        for (key, value) in delta {
            match key.as_str() {
                // Some servers repeat the role in every chunk; it must not concatenate.
                "role" => {
                    self.message.insert(key.clone(), value.clone());
                }
                "tool_calls" => self.tool_calls(value),
                _ => merge(&mut self.message, key, value),
            }
        }
    }

    fn tool_calls(&mut self, calls: &Value) {
        for (position, call) in calls.as_array().into_iter().flatten().enumerate() {
            let index = call
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(position as u64);
            let entry = self.tool_calls.entry(index).or_default();
            let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
            if entry.0.is_null() {
                entry.0 = call.get("id").cloned().unwrap_or(Value::Null);
            }
            if entry.1.is_null() {
                entry.1 = call.get("type").cloned().unwrap_or(Value::Null);
            }
            if entry.2.is_empty() {
                entry.2 = text("/function/name").unwrap_or_default().to_owned();
            }
            entry
                .3
                .push_str(text("/function/arguments").unwrap_or_default());
        }
    }

    fn finish(mut self, index: u64) -> Value {
        let calls: Vec<Value> = std::mem::take(&mut self.tool_calls)
            .into_values()
            .map(|(id, kind, name, arguments)| {
                let kind = if kind.is_null() {
                    json!("function")
                } else {
                    kind
                };
                json!({"id": id, "type": kind, "function": {"name": name, "arguments": arguments}})
            })
            .collect();
        self.message
            .entry("role")
            .or_insert_with(|| json!("assistant"));
        // A tool-call answer has no text: OpenAI says `null`, not the empty string a stream's
        // first chunk carries.
        let empty = self
            .message
            .get("content")
            .is_none_or(|content| content.as_str() == Some(""));
        if (empty && !calls.is_empty()) || !self.message.contains_key("content") {
            self.message.insert("content".into(), Value::Null);
        }
        if !calls.is_empty() {
            self.message
                .insert("tool_calls".into(), Value::Array(calls));
        }
        json!({
            "index": index,
            "message": self.message,
            "logprobs": self.logprobs.map_or(Value::Null, Value::Object),
            "finish_reason": self.finish_reason,
        })
    }
}

/// The `chat.completion` a stream's events add up to. `usage` is the stored answer's, for when
/// the client was not sent a usage chunk (it did not ask for one).
pub fn assemble(events: &[SseEvent], usage: Usage) -> Result<Value, String> {
    let mut top = Map::new();
    let mut choices: BTreeMap<u64, Choice> = BTreeMap::new();
    let mut sent_usage = None;
    for event in events {
        let data = event.data();
        let data = data.trim();
        if data.is_empty() || data == "[DONE]" {
            continue;
        }
        let chunk: Map<String, Value> = serde_json::from_str(data)
            .map_err(|error| format!("a stored chunk is not a JSON object: {error}"))?;
        if chunk.contains_key("error") {
            return Err("the stored stream carries an error".into());
        }
        for (key, value) in &chunk {
            match key.as_str() {
                "choices" | "object" => {}
                "usage" if value.is_object() => sent_usage = Some(value.clone()),
                _ if !value.is_null() => {
                    top.entry(key.clone()).or_insert_with(|| value.clone());
                }
                _ => {}
            }
        }
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let acc = choices.entry(index).or_default();
            if let Some(delta) = choice.get("delta").and_then(Value::as_object) {
                acc.delta(delta);
            }
            if let Some(logprobs) = choice.get("logprobs").and_then(Value::as_object) {
                let into = acc.logprobs.get_or_insert_with(Map::new);
                for (key, value) in logprobs {
                    merge(into, key, value);
                }
            }
            if let Some(reason) = choice.get("finish_reason").filter(|r| !r.is_null()) {
                acc.finish_reason = reason.clone();
            }
        }
    }
    if choices.is_empty() {
        return Err("the stored stream has no choices".into());
    }
    top.insert("object".into(), json!("chat.completion"));
    let choices: Vec<Value> = choices
        .into_iter()
        .map(|(index, choice)| choice.finish(index))
        .collect();
    top.insert("choices".into(), Value::Array(choices));
    top.insert(
        "usage".into(),
        sent_usage.unwrap_or_else(|| usage.to_openai()),
    );
    Ok(Value::Object(top))
}

fn frame(value: &Value) -> Bytes {
    let mut out = BytesMut::new();
    write_data(&mut out, value);
    out.freeze()
}

const DONE: &[u8] = b"data: [DONE]\n\n";

/// The events a stream would have carried for `completion`: per choice a role chunk, the
/// reasoning, the text, each tool call, and a finish chunk; then the usage chunk when the client
/// asked for it (`stream_options.include_usage`), and `[DONE]`. One event per frame.
pub fn explode(completion: &Value, include_usage: bool) -> Result<Vec<Bytes>, String> {
    let choices = completion
        .get("choices")
        .and_then(Value::as_array)
        .ok_or("the stored answer is not a chat completion")?;
    let mut base: Map<String, Value> = completion
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(key, _)| !matches!(key.as_str(), "object" | "choices" | "usage"))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    base.insert("object".into(), json!("chat.completion.chunk"));
    let chunk = |choices: Value| {
        let mut chunk = base.clone();
        chunk.insert("choices".into(), choices);
        frame(&Value::Object(chunk))
    };
    let mut frames = Vec::new();
    for (position, choice) in choices.iter().enumerate() {
        let index = choice
            .get("index")
            .and_then(Value::as_u64)
            .unwrap_or(position as u64);
        let one = |delta: Value, logprobs: &Value, finish: &Value| {
            chunk(
                json!([{"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}]),
            )
        };
        let message = choice.get("message").cloned().unwrap_or_default();
        let message = message.as_object().cloned().unwrap_or_default();
        // The first chunk carries the role and whatever the message has that is not streamed
        // piece by piece (annotations, refusal: null …), so assembly gives it back.
        let mut first = Map::new();
        first.insert(
            "role".into(),
            message.get("role").cloned().unwrap_or(json!("assistant")),
        );
        first.insert("content".into(), json!(""));
        for (key, value) in &message {
            let streamed = matches!(
                key.as_str(),
                "role" | "content" | "tool_calls" | "reasoning_content"
            );
            if !streamed && !value.is_string() {
                first.insert(key.clone(), value.clone());
            }
        }
        frames.push(one(Value::Object(first), &Value::Null, &Value::Null));
        let logprobs = choice.get("logprobs").cloned().unwrap_or(Value::Null);
        // Reasoning comes before the answer, as a model streams them; then any other text.
        let order = ["reasoning_content", "content"].into_iter().chain(
            message
                .keys()
                .map(String::as_str)
                .filter(|key| !matches!(*key, "role" | "reasoning_content" | "content")),
        );
        for key in order {
            let text = message.get(key).and_then(Value::as_str);
            if let Some(text) = text.filter(|text| !text.is_empty()) {
                let carries = if key == "content" {
                    &logprobs
                } else {
                    &Value::Null
                };
                frames.push(one(json!({ key: text }), carries, &Value::Null));
            }
        }
        for (position, call) in message
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let mut call = call.clone();
            if let Some(call) = call.as_object_mut() {
                call.insert("index".into(), json!(position));
            }
            frames.push(one(
                json!({"tool_calls": [call]}),
                &Value::Null,
                &Value::Null,
            ));
        }
        let finish = choice
            .get("finish_reason")
            .cloned()
            .unwrap_or(json!("stop"));
        frames.push(one(json!({}), &Value::Null, &finish));
    }
    if include_usage {
        let usage = completion
            .get("usage")
            .cloned()
            .unwrap_or_else(|| Usage::default().to_openai());
        let mut last = base.clone();
        last.insert("choices".into(), json!([]));
        last.insert("usage".into(), usage);
        frames.push(frame(&Value::Object(last)));
    }
    frames.push(Bytes::from_static(DONE));
    Ok(frames)
}

/// A stored stream replayed event by event, with the usage chunk matching what this client asked
/// for: removed when it did not ask (and usage taken off chunks that carry text too), added
/// before `[DONE]` from the stored usage when it asked and the stored stream has none.
pub fn restream(events: Vec<SseEvent>, include_usage: bool, usage: Usage) -> Vec<Bytes> {
    let mut frames = Vec::with_capacity(events.len() + 1);
    let mut first: Option<ChunkBuilder> = None;
    let mut has_usage = false;
    for event in events {
        let data = event.data();
        let data = data.trim();
        if data == "[DONE]" {
            if include_usage && !has_usage {
                let chunks = first.take().unwrap_or_else(|| ChunkBuilder {
                    created: now_secs(),
                    ..ChunkBuilder::default()
                });
                frames.push(frame(&chunks.usage_chunk(usage)));
                has_usage = true;
            }
            frames.push(event.raw);
            continue;
        }
        // Only the first chunk (for the ids a usage chunk repeats) and chunks that mention usage
        // are parsed; the rest pass as the stored bytes.
        let mentions_usage = memchr::memmem::find(data.as_bytes(), b"\"usage\"").is_some();
        if first.is_none() || mentions_usage {
            let Ok(Value::Object(mut chunk)) = serde_json::from_str::<Value>(data) else {
                frames.push(event.raw);
                continue;
            };
            if first.is_none() {
                let text = |key: &str| chunk.get(key).and_then(Value::as_str).map(str::to_owned);
                first = Some(ChunkBuilder {
                    id: text("id").unwrap_or_default(),
                    model: text("model").unwrap_or_default(),
                    created: chunk
                        .get("created")
                        .and_then(Value::as_u64)
                        .unwrap_or_else(now_secs),
                });
            }
            if chunk.get("usage").is_some_and(Value::is_object) {
                if include_usage {
                    has_usage = true;
                } else {
                    let has_choices = chunk
                        .get("choices")
                        .and_then(Value::as_array)
                        .is_some_and(|choices| !choices.is_empty());
                    if has_choices {
                        chunk.remove("usage");
                        frames.push(frame(&Value::Object(chunk)));
                    }
                    continue;
                }
            }
        }
        frames.push(event.raw);
    }
    frames
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sse::SseParser;

    #[test]
    fn reasoning_streams_before_the_answer_and_assembles_back() {
        let completion = json!({"id": "c1", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "logprobs": null, "finish_reason": "stop",
                "message": {"role": "assistant", "content": "42", "reasoning_content": "think"}}],
            "usage": Usage::default().to_openai()});
        let frames = explode(&completion, false).expect("a chat completion");
        let text = String::from_utf8(frames.concat()).expect("UTF-8");
        assert!(text.find("think") < text.find("42"), "{text}");
        let mut events = Vec::new();
        let mut parser = SseParser::default();
        for frame in frames {
            parser.push(frame, &mut events).expect("small events");
        }
        assert_eq!(assemble(&events, Usage::default()), Ok(completion));
    }
}
