//! The protocol-neutral stream between a provider's events and a client's: a *decoder* turns each
//! upstream event into [`StreamItem`]s (OpenAI chunks, usage, the end, an error), an *encoder*
//! writes those as the client's protocol. Any provider protocol pairs with any client protocol.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use crate::sse::SseEvent;
use crate::usage::Usage;

/// The protocol a client reads answers in: what a replayed or rewritten answer must speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientApi {
    /// OpenAI's chat completions (or embeddings): a JSON object, or `data:` chunks and `[DONE]`.
    OpenAi,
    /// Anthropic's Messages API: a `message` object, or its named stream events.
    Anthropic,
}

/// One step of a chat completion stream, in OpenAI's terms.
#[derive(Debug, PartialEq)]
pub enum StreamItem {
    /// A `chat.completion.chunk` object (without usage).
    Chunk(Value),
    Usage(Usage),
    /// The stream ended as it should.
    Done,
    /// The stream failed: OpenAI's error object (`{"message","type","code"}`).
    Error(Value),
}

/// Turns a provider's events into stream items.
pub trait Decoder: Send {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<StreamItem>);
    /// Whether the provider's final event has been seen.
    fn finished(&self) -> bool;
}

/// Writes stream items as a client's events.
pub trait Encoder: Send {
    fn item(&mut self, item: StreamItem, out: &mut BytesMut);
}

/// The error object for a stream that stopped early.
pub fn stream_error(message: &str, kind: &str, code: &str) -> Value {
    json!({"message": message, "type": kind, "param": null, "code": code})
}

/// The error for an upstream stream that ended without its final event.
pub fn truncated() -> Value {
    stream_error(
        "The upstream stream ended before its final event; the answer is incomplete.",
        "api_error",
        "stream_truncated",
    )
}

/// The error for an upstream stream event that is not what its protocol promises.
pub fn malformed() -> Value {
    stream_error(
        "The upstream sent a malformed stream event; the answer is incomplete.",
        "api_error",
        "malformed_chunk",
    )
}

/// Builds `chat.completion.chunk` objects that share an id, model and creation time.
#[derive(Debug, Default)]
pub struct ChunkBuilder {
    pub id: String,
    pub model: String,
    pub created: u64,
}

impl ChunkBuilder {
    pub fn chunk(&self, delta: Value, finish_reason: Option<&str>) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        })
    }

    pub fn usage_chunk(&self, usage: Usage) -> Value {
        json!({
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage.to_openai(),
        })
    }
}

/// Seconds since the epoch, for `created`.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes one `data: {json}` event.
pub fn write_data(out: &mut BytesMut, value: &Value) {
    out.put_slice(b"data: ");
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), value);
    out.put_slice(b"\n\n");
}

/// Reads OpenAI chunks from an OpenAI-compatible provider (used when the client speaks another
/// protocol).
#[derive(Default)]
pub struct OpenAiDecoder {
    done: bool,
}

impl Decoder for OpenAiDecoder {
    fn event(&mut self, event: &SseEvent, out: &mut Vec<StreamItem>) {
        let data = event.data();
        let data = data.trim();
        if data.is_empty() {
            return;
        }
        if data == "[DONE]" {
            self.done = true;
            out.push(StreamItem::Done);
            return;
        }
        let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
            self.done = true;
            out.push(StreamItem::Error(malformed()));
            return;
        };
        if let Some(error) = chunk.get("error") {
            self.done = true;
            out.push(StreamItem::Error(error.clone()));
            return;
        }
        if let Some(usage) = chunk
            .as_object_mut()
            .and_then(|o| o.remove("usage"))
            .as_ref()
            .and_then(Usage::from_openai)
        {
            out.push(StreamItem::Usage(usage));
        }
        let has_choices = chunk
            .get("choices")
            .and_then(Value::as_array)
            .is_some_and(|c| !c.is_empty());
        if has_choices {
            out.push(StreamItem::Chunk(chunk));
        }
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Writes OpenAI's `data: {chunk}` events, the usage chunk only when the client asked for it
/// (`stream_options.include_usage`), and `data: [DONE]`.
pub struct OpenAiEncoder {
    include_usage: bool,
    last: ChunkBuilder,
}

impl OpenAiEncoder {
    pub fn new(include_usage: bool) -> OpenAiEncoder {
        OpenAiEncoder {
            include_usage,
            last: ChunkBuilder::default(),
        }
    }
}

impl Encoder for OpenAiEncoder {
    fn item(&mut self, item: StreamItem, out: &mut BytesMut) {
        match item {
            StreamItem::Chunk(chunk) => {
                if self.last.id.is_empty() {
                    let text = |key: &str| {
                        chunk
                            .get(key)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    self.last = ChunkBuilder {
                        id: text("id"),
                        model: text("model"),
                        created: chunk
                            .get("created")
                            .and_then(Value::as_u64)
                            .unwrap_or_else(now_secs),
                    };
                }
                write_data(out, &chunk);
            }
            StreamItem::Usage(usage) if self.include_usage => {
                write_data(out, &self.last.usage_chunk(usage));
            }
            StreamItem::Usage(_) => {}
            StreamItem::Done => out.put_slice(b"data: [DONE]\n\n"),
            StreamItem::Error(error) => write_data(out, &json!({"error": error})),
        }
    }
}
