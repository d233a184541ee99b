//! The protocol-neutral stream between a provider's events and a client's: a *decoder* turns each
//! upstream event into [`StreamItem`]s (OpenAI chunks, usage, the end, an error), an *encoder*
//! writes those as the client's protocol. Any provider protocol pairs with any client protocol.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use crate::proxy::ProxyError;
use crate::sse::SseEvent;
use crate::usage::Usage;

/// The protocol a client reads answers in: what a replayed or rewritten answer must speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientApi {
    /// OpenAI's chat completions (or embeddings): a JSON object, or `data:` chunks and `[DONE]`.
    OpenAi,
    /// Anthropic's Messages API: a `message` object, or its named stream events.
    Anthropic,
    /// OpenAI's Responses API: a `response` object, or its typed stream events.
    Responses,
    /// Gemini's API: a `GenerateContentResponse`, or a stream of them as `data:` events.
    Gemini,
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

/// Whether an event's data is JSON (checked without building a value) or absent.
pub fn is_json_or_empty(data: &str) -> bool {
    let data = data.trim();
    data.is_empty() || serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
}

/// Turns a provider's stream framing that is not server-sent events (AWS's binary event stream)
/// into SSE text, so every stream goes through the same parser, first-event check and stages.
pub trait Transcoder: Send {
    /// Writes the SSE text of every frame `chunk` completes.
    fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String>;
    /// The body ended: an error if it ended inside a frame.
    fn finish(&mut self) -> Result<(), String>;
}

/// Writes one `data: {json}` event.
pub fn write_data(out: &mut BytesMut, value: &Value) {
    out.put_slice(b"data: ");
    // Writing JSON into a Vec cannot fail.
    let _ = serde_json::to_writer((&mut *out).writer(), value);
    out.put_slice(b"\n\n");
}

/// What a stage did with one upstream event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send the event to the client exactly as it came (the caller may do so without copying).
    Forward,
    /// The event is replaced by what the stage wrote to `out` (possibly nothing).
    Replace,
}

pub trait SseStage: Send {
    /// Handles one upstream event; a replacement, if any, is written to `out`.
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) -> Verdict;
    /// The upstream ended (`None`) or failed; writes what the client must see last.
    fn end(&mut self, error: Option<ProxyError>, out: &mut BytesMut);
    fn usage(&self) -> Option<Usage>;
    /// Whether the stream came to its proper end: its final event arrived and no error did. A
    /// stream that stops before it, or carried an error, is not a complete answer (the cache must
    /// not keep it).
    fn completed(&self) -> bool;
}

/// A provider's events decoded into stream items and encoded for the client's protocol.
pub struct Translated {
    decoder: Box<dyn Decoder>,
    encoder: Box<dyn Encoder>,
    items: Vec<StreamItem>,
    usage: Option<Usage>,
    errored: bool,
}

impl Translated {
    pub fn new(decoder: Box<dyn Decoder>, encoder: Box<dyn Encoder>) -> Translated {
        Translated {
            decoder,
            encoder,
            items: Vec::new(),
            usage: None,
            errored: false,
        }
    }

    fn emit(&mut self, out: &mut BytesMut) {
        for item in self.items.drain(..) {
            match &item {
                StreamItem::Usage(usage) => self.usage.get_or_insert_default().merge(*usage),
                StreamItem::Error(_) => self.errored = true,
                _ => {}
            }
            self.encoder.item(item, out);
        }
    }
}

impl SseStage for Translated {
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) -> Verdict {
        if !self.decoder.finished() {
            self.decoder.event(event, &mut self.items);
            self.emit(out);
        }
        Verdict::Replace
    }

    fn end(&mut self, error: Option<ProxyError>, out: &mut BytesMut) {
        match error {
            Some(error) => self.items.push(StreamItem::Error(error.error_object())),
            None if !self.decoder.finished() => self.items.push(StreamItem::Error(truncated())),
            None => {}
        }
        self.emit(out);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn completed(&self) -> bool {
        self.decoder.finished() && !self.errored
    }
}
