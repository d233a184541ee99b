//! Anthropic's stream events (`message_start`, `content_block_*`, `message_delta`,
//! `message_stop`, `ping`, `error`) decoded into OpenAI chunks.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::finish_reason;
use crate::sse::SseEvent;
use crate::stream::{ChunkBuilder, Decoder, StreamItem, malformed, now_secs, stream_error};
use crate::usage::Usage;

#[derive(Default)]
pub struct AnthropicDecoder {
    chunks: ChunkBuilder,
    /// Content block index → OpenAI tool call index, for tool_use blocks.
    tool_calls: HashMap<u64, usize>,
    usage: Usage,
    done: bool,
}

impl Decoder for AnthropicDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<StreamItem>) {
        let data = event.data();
        let Ok(data) = serde_json::from_str::<Value>(&data) else {
            if event.name().is_some_and(|n| n != "ping") {
                self.done = true;
                out.push(StreamItem::Error(malformed()));
            }
            return;
        };
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .or(event.name())
            .unwrap_or_default();
        match kind {
            "message_start" => {
                let message = data.get("message").cloned().unwrap_or_default();
                let text = |key: &str| {
                    message
                        .get(key)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                self.chunks = ChunkBuilder {
                    id: text("id"),
                    model: text("model"),
                    created: now_secs(),
                };
                if let Some(usage) = message.get("usage") {
                    self.usage.merge(Usage::from_anthropic(usage));
                }
                out.push(StreamItem::Chunk(
                    self.chunks
                        .chunk(json!({"role": "assistant", "content": ""}), None),
                ));
            }
            "content_block_start" => {
                let block = data.get("content_block").cloned().unwrap_or_default();
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                match block.get("type").and_then(Value::as_str) {
                    Some("tool_use") => {
                        let tool_index = self.tool_calls.len();
                        self.tool_calls.insert(index, tool_index);
                        let delta = json!({"tool_calls": [{
                            "index": tool_index,
                            "id": block.get("id").cloned().unwrap_or(Value::Null),
                            "type": "function",
                            "function": {"name": block.get("name").cloned().unwrap_or(Value::Null), "arguments": ""},
                        }]});
                        out.push(StreamItem::Chunk(self.chunks.chunk(delta, None)));
                    }
                    Some("text") => {
                        if let Some(text) = block
                            .get("text")
                            .and_then(Value::as_str)
                            .filter(|t| !t.is_empty())
                        {
                            out.push(StreamItem::Chunk(
                                self.chunks.chunk(json!({"content": text}), None),
                            ));
                        }
                    }
                    _ => {}
                }
            }
            "content_block_delta" => {
                let delta = data.get("delta").cloned().unwrap_or_default();
                let index = data.get("index").and_then(Value::as_u64).unwrap_or(0);
                let field = |key: &str| delta.get(key).cloned().unwrap_or(Value::from(""));
                let openai_delta = match delta.get("type").and_then(Value::as_str) {
                    Some("text_delta") => json!({"content": field("text")}),
                    Some("thinking_delta") => json!({"reasoning_content": field("thinking")}),
                    Some("input_json_delta") if field("partial_json") == "" => return,
                    Some("input_json_delta") => {
                        let tool_index = self.tool_calls.get(&index).copied().unwrap_or(0);
                        json!({"tool_calls": [{"index": tool_index, "function": {"arguments": field("partial_json")}}]})
                    }
                    _ => return,
                };
                out.push(StreamItem::Chunk(self.chunks.chunk(openai_delta, None)));
            }
            "message_delta" => {
                if let Some(usage) = data.get("usage") {
                    self.usage.merge(Usage::from_anthropic(usage));
                }
                if let Some(reason) = data.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    out.push(StreamItem::Chunk(
                        self.chunks.chunk(json!({}), Some(finish_reason(reason))),
                    ));
                }
            }
            "message_stop" => {
                self.done = true;
                out.push(StreamItem::Usage(self.usage));
                out.push(StreamItem::Done);
            }
            "error" => {
                self.done = true;
                let error = data.get("error").cloned().unwrap_or_default();
                let kind = error
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("api_error");
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                out.push(StreamItem::Error(stream_error(message, kind, kind)));
            }
            _ => {}
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}
