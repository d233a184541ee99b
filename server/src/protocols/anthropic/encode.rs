//! OpenAI stream items encoded as Anthropic's stream events: `message_start`, one content block
//! per text, thinking or tool call (`content_block_start`/`_delta`/`_stop`), `message_delta` with
//! the stop reason and usage, `message_stop`; failures as an `error` event.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::inbound::{error_body, stop_reason};
use crate::stream::{Encoder, StreamItem};
use crate::usage::Usage;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool_use block for the OpenAI tool call with this index.
    Tool(u64),
}

pub struct AnthropicEncoder {
    model: String,
    started: bool,
    open: Option<Block>,
    next_index: u64,
    stop_reason: Option<&'static str>,
    usage: Usage,
}

impl AnthropicEncoder {
    pub fn new(model: &str) -> AnthropicEncoder {
        AnthropicEncoder {
            model: model.to_owned(),
            started: false,
            open: None,
            next_index: 0,
            stop_reason: None,
            usage: Usage::default(),
        }
    }

    fn start(&mut self, id: &str, out: &mut BytesMut) {
        if self.started {
            return;
        }
        self.started = true;
        let id = if id.starts_with("msg_") {
            id.to_owned()
        } else {
            format!("msg_{id}")
        };
        write_event(
            out,
            "message_start",
            &json!({"type": "message_start", "message": {
                "id": id, "type": "message", "role": "assistant", "model": self.model, "content": [],
                "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 0, "output_tokens": 0},
            }}),
        );
    }

    fn close_block(&mut self, out: &mut BytesMut) {
        if self.open.take().is_some() {
            let index = self.next_index - 1;
            write_event(
                out,
                "content_block_stop",
                &json!({"type": "content_block_stop", "index": index}),
            );
        }
    }

    /// Makes `block` the open block, closing another first; returns its index.
    fn open_block(&mut self, block: Block, start: Value, out: &mut BytesMut) -> u64 {
        if self.open == Some(block) {
            return self.next_index - 1;
        }
        self.close_block(out);
        let index = self.next_index;
        self.next_index += 1;
        self.open = Some(block);
        write_event(
            out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": index, "content_block": start}),
        );
        index
    }

    fn delta(out: &mut BytesMut, index: u64, delta: Value) {
        write_event(
            out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": index, "delta": delta}),
        );
    }

    fn chunk(&mut self, chunk: &Value, out: &mut BytesMut) {
        self.start(
            chunk.get("id").and_then(Value::as_str).unwrap_or_default(),
            out,
        );
        let Some(choice) = chunk.pointer("/choices/0") else {
            return;
        };
        let delta = choice.get("delta").cloned().unwrap_or_default();
        if let Some(thinking) = delta
            .get("reasoning_content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = self.open_block(
                Block::Thinking,
                json!({"type": "thinking", "thinking": ""}),
                out,
            );
            Self::delta(
                out,
                index,
                json!({"type": "thinking_delta", "thinking": thinking}),
            );
        }
        if let Some(text) = delta
            .get("content")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        {
            let index = self.open_block(Block::Text, json!({"type": "text", "text": ""}), out);
            Self::delta(out, index, json!({"type": "text_delta", "text": text}));
        }
        for call in delta
            .get("tool_calls")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let call_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
            let start = json!({
                "type": "tool_use",
                "id": call.get("id").cloned().unwrap_or(Value::from("")),
                "name": call.pointer("/function/name").cloned().unwrap_or(Value::from("")),
                "input": {},
            });
            let index = self.open_block(Block::Tool(call_index), start, out);
            if let Some(arguments) = call
                .pointer("/function/arguments")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                Self::delta(
                    out,
                    index,
                    json!({"type": "input_json_delta", "partial_json": arguments}),
                );
            }
        }
        if let Some(finish) = choice.get("finish_reason").and_then(Value::as_str) {
            self.stop_reason = Some(stop_reason(finish));
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.start("", out);
        self.close_block(out);
        write_event(
            out,
            "message_delta",
            &json!({
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason.unwrap_or("end_turn"), "stop_sequence": null},
                "usage": {"output_tokens": self.usage.completion_tokens, "input_tokens": self.usage.prompt_tokens},
            }),
        );
        write_event(out, "message_stop", &json!({"type": "message_stop"}));
    }
}

/// Writes one `event: name` / `data: {json}` event in Anthropic's stream format.
pub fn write_event(out: &mut BytesMut, name: &str, data: &Value) {
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    // Writing JSON into a buffer cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), data);
    out.put_slice(b"\n\n");
}

impl Encoder for AnthropicEncoder {
    fn item(&mut self, item: StreamItem, out: &mut BytesMut) {
        match item {
            StreamItem::Chunk(chunk) => self.chunk(&chunk, out),
            StreamItem::Usage(usage) => self.usage.merge(usage),
            StreamItem::Done => self.finish(out),
            StreamItem::Error(error) => {
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                let kind = error
                    .get("type")
                    .and_then(Value::as_str)
                    .filter(|kind| {
                        matches!(
                            *kind,
                            "overloaded_error" | "rate_limit_error" | "invalid_request_error"
                        )
                    })
                    .unwrap_or("api_error");
                write_event(out, "error", &error_body(kind, message));
            }
        }
    }
}
