//! Anthropic Messages answers in both shapes: a stored stream's events assembled into the
//! `message` a plain request gets, and a stored `message` written out as the events a stream
//! gets (`message_start`, each content block's start, deltas and stop, `message_delta`,
//! `message_stop`).
//!
//! Assembly is what Anthropic's SDKs do with a stream: the message from `message_start`, each
//! block from its `content_block_start`, text and thinking appended from their deltas, a tool's
//! input parsed from its accumulated `partial_json` when the block stops, and `message_delta`'s
//! fields and usage laid over the message.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use serde_json::{Map, Value, json};

use crate::protocols::anthropic::write_event;
use crate::sse::SseEvent;
use crate::usage::Usage;

fn append(block: &mut Value, key: &str, more: &Value) {
    let more = more.as_str().unwrap_or_default();
    if let Some(block) = block.as_object_mut() {
        match block.get_mut(key) {
            Some(Value::String(text)) => text.push_str(more),
            _ => {
                block.insert(key.to_owned(), Value::from(more));
            }
        }
    }
}

/// The `message` a stream's events add up to.
pub fn assemble(events: &[SseEvent]) -> Result<Value, String> {
    let mut message: Option<Map<String, Value>> = None;
    let mut blocks: BTreeMap<u64, Value> = BTreeMap::new();
    let mut inputs: BTreeMap<u64, String> = BTreeMap::new();
    for event in events {
        let data = event.data();
        if data.trim().is_empty() {
            continue;
        }
        let data: Value = serde_json::from_str(&data)
            .map_err(|error| format!("a stored event is not JSON: {error}"))?;
        let kind = data.get("type").and_then(Value::as_str).or(event.name());
        let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
        match kind.unwrap_or_default() {
            "message_start" => {
                let start = data.get("message").and_then(Value::as_object);
                message = Some(start.cloned().ok_or("message_start without a message")?);
            }
            "content_block_start" => {
                let block = data.get("content_block").cloned().unwrap_or_default();
                blocks.insert(index, block);
            }
            "content_block_delta" => {
                let delta = data.get("delta").cloned().unwrap_or_default();
                let block = blocks.entry(index).or_insert_with(|| json!({}));
                let field = |key: &str| delta.get(key).cloned().unwrap_or_default();
                match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => append(block, "text", &field("text")),
                    Some("thinking_delta") => append(block, "thinking", &field("thinking")),
                    Some("signature_delta") => append(block, "signature", &field("signature")),
                    Some("input_json_delta") => inputs
                        .entry(index)
                        .or_default()
                        .push_str(field("partial_json").as_str().unwrap_or_default()),
                    Some("citations_delta") => {
                        if let Some(block) = block.as_object_mut() {
                            let citations = block.entry("citations").or_insert_with(|| json!([]));
                            if let Some(citations) = citations.as_array_mut() {
                                citations.push(field("citation"));
                            }
                        }
                    }
                    _ => {}
                }
            }
            "message_delta" => {
                let message = message
                    .as_mut()
                    .ok_or("message_delta before message_start")?;
                for (key, value) in data
                    .get("delta")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    message.insert(key.clone(), value.clone());
                }
                let usage = message.entry("usage").or_insert_with(|| json!({}));
                if let (Some(usage), Some(more)) = (
                    usage.as_object_mut(),
                    data.get("usage").and_then(Value::as_object),
                ) {
                    for (key, value) in more.iter().filter(|(_, value)| !value.is_null()) {
                        usage.insert(key.clone(), value.clone());
                    }
                }
            }
            "error" => return Err("the stored stream carries an error".into()),
            _ => {}
        }
    }
    let mut message = message.ok_or("the stored stream has no message_start")?;
    for (index, json) in inputs {
        let input = if json.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(&json)
                .map_err(|error| format!("a stored tool input is not JSON: {error}"))?
        };
        if let Some(block) = blocks.get_mut(&index).and_then(Value::as_object_mut) {
            block.insert("input".into(), input);
        }
    }
    for block in blocks.values_mut().filter_map(Value::as_object_mut) {
        // A complete thinking block always has a signature; a translated stream never sends one.
        if block.get("type").and_then(Value::as_str) == Some("thinking") {
            block.entry("signature").or_insert_with(|| json!(""));
        }
    }
    message.insert(
        "content".into(),
        Value::Array(blocks.into_values().collect()),
    );
    // The usage in the shape a plain answer has (all four counts), keeping any extra fields.
    if let Some(usage) = message.get_mut("usage").and_then(Value::as_object_mut) {
        let counts = Usage::from_anthropic(&Value::Object(usage.clone())).to_anthropic();
        for (key, value) in counts.as_object().into_iter().flatten() {
            usage.insert(key.clone(), value.clone());
        }
    }
    Ok(Value::Object(message))
}

fn frame(name: &str, data: &Value) -> Bytes {
    let mut out = BytesMut::new();
    write_event(&mut out, name, data);
    out.freeze()
}

/// The events a stream would have carried for `message`, one per frame.
pub fn explode(message: &Value) -> Result<Vec<Bytes>, String> {
    let blocks = message
        .get("content")
        .and_then(Value::as_array)
        .ok_or("the stored answer is not a message")?;
    let usage = message.get("usage").cloned().unwrap_or_else(|| json!({}));
    let mut start = message.clone();
    if let Some(start) = start.as_object_mut() {
        start.insert("content".into(), json!([]));
        start.insert("stop_reason".into(), Value::Null);
        start.insert("stop_sequence".into(), Value::Null);
    }
    let mut frames = vec![frame(
        "message_start",
        &json!({"type": "message_start", "message": start}),
    )];
    for (index, block) in blocks.iter().enumerate() {
        let kind = block
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let mut deltas = Vec::new();
        let mut empty = block.clone();
        let text = |key: &str| {
            block
                .get(key)
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
        };
        if let Some(empty) = empty.as_object_mut() {
            match kind {
                "text" => {
                    empty.insert("text".into(), json!(""));
                    if let Some(text) = text("text") {
                        deltas.push(json!({"type": "text_delta", "text": text}));
                    }
                    if let Some(citations) = empty.remove("citations").and_then(|c| match c {
                        Value::Array(citations) => Some(citations),
                        _ => None,
                    }) {
                        deltas.extend(citations.into_iter().map(
                            |citation| json!({"type": "citations_delta", "citation": citation}),
                        ));
                    }
                }
                "thinking" => {
                    empty.insert("thinking".into(), json!(""));
                    empty.remove("signature");
                    if let Some(thinking) = text("thinking") {
                        deltas.push(json!({"type": "thinking_delta", "thinking": thinking}));
                    }
                    if let Some(signature) = block.get("signature").and_then(Value::as_str) {
                        deltas.push(json!({"type": "signature_delta", "signature": signature}));
                    }
                }
                _ if block.get("input").is_some() => {
                    empty.insert("input".into(), json!({}));
                    let input = block.get("input").cloned().unwrap_or_default();
                    if input.as_object().is_none_or(|input| !input.is_empty()) {
                        let partial = input.to_string();
                        deltas.push(json!({"type": "input_json_delta", "partial_json": partial}));
                    }
                }
                // Blocks that are not streamed piece by piece start complete.
                _ => {}
            }
        }
        frames.push(frame(
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": empty}),
        ));
        for delta in deltas {
            frames.push(frame(
                "content_block_delta",
                &json!({"type": "content_block_delta", "index": index, "delta": delta}),
            ));
        }
        frames.push(frame(
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": index}),
        ));
    }
    let field = |key: &str| message.get(key).cloned().unwrap_or(Value::Null);
    frames.push(frame(
        "message_delta",
        &json!({
            "type": "message_delta",
            "delta": {"stop_reason": field("stop_reason"), "stop_sequence": field("stop_sequence")},
            "usage": usage,
        }),
    ));
    frames.push(frame("message_stop", &json!({"type": "message_stop"})));
    Ok(frames)
}
