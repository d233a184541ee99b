//! ConverseStream's events, as the event-stream transcoder writes them (`event: <type>` with the
//! frame's JSON payload), decoded into OpenAI chunks. A stream runs `messageStart`, per content
//! block an optional `contentBlockStart` (tool use only), `contentBlockDelta`s and a
//! `contentBlockStop`, then `messageStop` (the stop reason) and last `metadata` (the usage): the
//! answer is complete once both of the last two have arrived.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::error::stream_error;
use super::response::{completion_id, finish_reason, usage};
use crate::sse::SseEvent;
use crate::stream::{ChunkBuilder, Decoder, StreamItem, malformed, now_secs};
use crate::usage::Usage;

pub struct BedrockDecoder {
    chunks: ChunkBuilder,
    /// Content block index → OpenAI tool call index, for toolUse blocks.
    tool_calls: HashMap<u64, usize>,
    started: bool,
    stopped: bool,
    usage: Option<Usage>,
    done: bool,
}

impl BedrockDecoder {
    pub fn new(model: &str) -> BedrockDecoder {
        BedrockDecoder {
            chunks: ChunkBuilder {
                id: completion_id(),
                model: model.to_owned(),
                created: now_secs(),
            },
            tool_calls: HashMap::new(),
            started: false,
            stopped: false,
            usage: None,
            done: false,
        }
    }

    fn push(&self, out: &mut Vec<StreamItem>, delta: Value) {
        out.push(StreamItem::Chunk(self.chunks.chunk(delta, None)));
    }

    fn push_finish(&self, out: &mut Vec<StreamItem>, finish: &str) {
        out.push(StreamItem::Chunk(
            self.chunks.chunk(json!({}), Some(finish)),
        ));
    }

    /// The role chunk OpenAI streams open with, sent once whatever event comes first.
    fn start(&mut self, out: &mut Vec<StreamItem>) {
        if !self.started {
            self.started = true;
            self.push(out, json!({"role": "assistant", "content": ""}));
        }
    }

    fn fail(&mut self, out: &mut Vec<StreamItem>, error: Value) {
        self.done = true;
        out.push(StreamItem::Error(error));
    }

    /// Ends the stream once both the stop reason and the usage have come, in whichever order.
    fn end_if_complete(&mut self, out: &mut Vec<StreamItem>) {
        if let (true, Some(usage)) = (self.stopped, self.usage) {
            self.done = true;
            out.push(StreamItem::Usage(usage));
            out.push(StreamItem::Done);
        }
    }

    fn delta(&mut self, data: &Value, out: &mut Vec<StreamItem>) -> Result<(), ()> {
        let delta = data.get("delta").ok_or(())?;
        let index = data.get("contentBlockIndex").and_then(Value::as_u64);
        if let Some(text) = delta.get("text") {
            let text = text.as_str().ok_or(())?;
            if !text.is_empty() {
                self.push(out, json!({"content": text}));
            }
        } else if let Some(reasoning) = delta.get("reasoningContent") {
            // The signature and redacted reasoning have no place in OpenAI's chunks.
            if let Some(text) = reasoning.get("text").and_then(Value::as_str)
                && !text.is_empty()
            {
                self.push(out, json!({"reasoning_content": text}));
            }
        } else if let Some(tool_use) = delta.get("toolUse") {
            let input = tool_use.get("input").and_then(Value::as_str).ok_or(())?;
            // Arguments for a block that never started as a tool call have no call to join.
            let tool_index = *index.and_then(|i| self.tool_calls.get(&i)).ok_or(())?;
            if !input.is_empty() {
                let call = json!({"index": tool_index, "function": {"arguments": input}});
                self.push(out, json!({"tool_calls": [call]}));
            }
        }
        Ok(())
    }

    fn block_start(&mut self, data: &Value, out: &mut Vec<StreamItem>) -> Result<(), ()> {
        let Some(tool_use) = data.pointer("/start/toolUse") else {
            return Ok(());
        };
        let index = data
            .get("contentBlockIndex")
            .and_then(Value::as_u64)
            .ok_or(())?;
        let tool_index = self.tool_calls.len();
        self.tool_calls.insert(index, tool_index);
        let call = json!({
            "index": tool_index,
            "id": tool_use.get("toolUseId").and_then(Value::as_str).ok_or(())?,
            "type": "function",
            "function": {"name": tool_use.get("name").and_then(Value::as_str).ok_or(())?, "arguments": ""},
        });
        self.push(out, json!({"tool_calls": [call]}));
        Ok(())
    }
}

impl Decoder for BedrockDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<StreamItem>) {
        if self.done {
            return;
        }
        let name = event.name().unwrap_or_default();
        let data = event.data();
        if name == "exception" {
            self.fail(out, stream_error(data.as_bytes()));
            return;
        }
        let data = if data.trim().is_empty() {
            json!({})
        } else {
            match serde_json::from_str::<Value>(&data) {
                Ok(data) => data,
                Err(_) => return self.fail(out, malformed()),
            }
        };
        let handled = match name {
            "messageStart" => {
                self.start(out);
                Ok(())
            }
            "contentBlockStart" => {
                self.start(out);
                self.block_start(&data, out)
            }
            "contentBlockDelta" => {
                self.start(out);
                self.delta(&data, out)
            }
            "messageStop" => {
                self.start(out);
                let reason = data.get("stopReason").and_then(Value::as_str).unwrap_or("");
                self.push_finish(out, finish_reason(reason));
                self.stopped = true;
                self.end_if_complete(out);
                Ok(())
            }
            "metadata" => {
                let read = data.get("usage").map(usage).unwrap_or_default();
                self.usage.get_or_insert_default().merge(read);
                self.end_if_complete(out);
                Ok(())
            }
            // contentBlockStop, and events added after this was written.
            _ => Ok(()),
        };
        if handled.is_err() {
            self.fail(out, malformed());
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}
