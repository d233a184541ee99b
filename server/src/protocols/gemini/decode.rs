//! Gemini's streamGenerateContent (`alt=sse`) events decoded into OpenAI chunks. Each event is a
//! partial GenerateContentResponse; the stream has no end marker, so the last event's
//! `finishReason` is what marks a complete answer.

use serde_json::{Value, json};

use super::{candidate_message, finish_reason};
use crate::sse::SseEvent;
use crate::stream::{ChunkBuilder, Decoder, StreamItem, malformed, now_secs, stream_error};
use crate::usage::Usage;

pub struct GeminiDecoder {
    chunks: ChunkBuilder,
    started: bool,
    next_call: usize,
    saw_tool_call: bool,
    usage: Usage,
    done: bool,
}

impl GeminiDecoder {
    pub fn new(model: &str) -> GeminiDecoder {
        GeminiDecoder {
            chunks: ChunkBuilder {
                id: String::new(),
                model: model.to_owned(),
                created: now_secs(),
            },
            started: false,
            next_call: 0,
            saw_tool_call: false,
            usage: Usage::default(),
            done: false,
        }
    }
}

impl Decoder for GeminiDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<StreamItem>) {
        let data = event.data();
        // Anything after the final candidate (a trailing usage-only event) adds nothing new.
        if self.done || data.trim().is_empty() {
            return;
        }
        let Ok(data) = serde_json::from_str::<Value>(&data) else {
            self.done = true;
            out.push(StreamItem::Error(malformed()));
            return;
        };
        if let Some(error) = data.get("error") {
            self.done = true;
            let message = error
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("upstream error");
            out.push(StreamItem::Error(stream_error(
                message,
                "api_error",
                "upstream_error",
            )));
            return;
        }
        if !self.started {
            self.started = true;
            if let Some(id) = data.get("responseId").and_then(Value::as_str) {
                self.chunks.id = id.to_owned();
            }
            if let Some(model) = data.get("modelVersion").and_then(Value::as_str) {
                self.chunks.model = model.to_owned();
            }
            out.push(StreamItem::Chunk(
                self.chunks
                    .chunk(json!({"role": "assistant", "content": ""}), None),
            ));
        }
        if let Some(meta) = data.get("usageMetadata") {
            self.usage.merge(Usage::from_gemini(meta));
        }
        let Some(candidate) = data.get("candidates").and_then(|c| c.get(0)) else {
            return;
        };
        let first_call = self.next_call;
        let (text, reasoning, calls) = candidate_message(candidate, &mut self.next_call);
        if !reasoning.is_empty() {
            out.push(StreamItem::Chunk(
                self.chunks
                    .chunk(json!({"reasoning_content": reasoning}), None),
            ));
        }
        if !text.is_empty() {
            out.push(StreamItem::Chunk(
                self.chunks.chunk(json!({"content": text}), None),
            ));
        }
        if !calls.is_empty() {
            self.saw_tool_call = true;
            let deltas: Vec<Value> = calls
                .into_iter()
                .enumerate()
                .map(|(i, mut call)| {
                    call["index"] = Value::from(first_call + i);
                    call
                })
                .collect();
            out.push(StreamItem::Chunk(
                self.chunks.chunk(json!({"tool_calls": deltas}), None),
            ));
        }
        if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
            let finish = finish_reason(reason, self.saw_tool_call);
            out.push(StreamItem::Chunk(
                self.chunks.chunk(json!({}), Some(finish)),
            ));
            self.done = true;
            out.push(StreamItem::Usage(self.usage));
            out.push(StreamItem::Done);
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}
