//! What happens to each event of a provider's stream before the client sees it: forwarded as is
//! (same protocol on both sides, with usage read on the way), or translated through a decoder and
//! an encoder. Every stage ends a stream that failed or stopped short with an error event and no
//! end marker, so a truncated answer never looks complete.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::error::ProxyError;
use crate::messages_api;
use crate::sse::SseEvent;
use crate::stream::{Decoder, Encoder, StreamItem, malformed, truncated, write_data};
use crate::usage::Usage;

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

/// OpenAI events to an OpenAI client. The gateway asks every OpenAI-compatible stream for usage;
/// when the client did not ask, the usage-only chunk is removed here.
pub struct OpenAiPassthrough {
    strip_usage: bool,
    done: bool,
    errored: bool,
    usage: Option<Usage>,
}

impl OpenAiPassthrough {
    pub fn new(strip_usage: bool) -> OpenAiPassthrough {
        OpenAiPassthrough {
            strip_usage,
            done: false,
            errored: false,
            usage: None,
        }
    }
}

impl SseStage for OpenAiPassthrough {
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) -> Verdict {
        // Only events that mention usage or an error are parsed; the rest pass untouched.
        let mentions = |needle: &[u8]| memchr::memmem::find(&event.raw, needle).is_some();
        if self.done {
            return Verdict::Replace;
        }
        if mentions(b"[DONE]") && event.data().trim() == "[DONE]" {
            self.done = true;
        } else if !is_json_or_empty(&event.data()) {
            // A malformed chunk means the stream is broken; forwarding it would hand the client
            // garbage that a later [DONE] would make look complete.
            self.done = true;
            self.errored = true;
            write_data(out, &json!({"error": malformed()}));
            return Verdict::Replace;
        } else if (mentions(b"\"usage\"") || mentions(b"\"error\""))
            && let Ok(mut chunk) = serde_json::from_str::<Value>(&event.data())
        {
            if chunk.get("error").is_some() {
                self.done = true;
                self.errored = true;
            }
            if let Some(usage) = chunk.get("usage").and_then(Usage::from_openai) {
                self.usage = Some(usage);
                if self.strip_usage {
                    let has_choices = chunk
                        .get("choices")
                        .and_then(Value::as_array)
                        .is_some_and(|c| !c.is_empty());
                    if has_choices && let Some(object) = chunk.as_object_mut() {
                        object.remove("usage");
                        write_data(out, &chunk);
                    }
                    return Verdict::Replace;
                }
            }
        }
        Verdict::Forward
    }

    fn end(&mut self, error: Option<ProxyError>, out: &mut BytesMut) {
        let error = match error {
            Some(error) => error.error_object(),
            None if !self.done => truncated(),
            None => return,
        };
        write_data(out, &json!({"error": error}));
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn completed(&self) -> bool {
        self.done && !self.errored
    }
}

/// Whether an event's data is JSON (checked without building a value) or absent.
fn is_json_or_empty(data: &str) -> bool {
    let data = data.trim();
    data.is_empty() || serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok()
}

/// Anthropic events to an Anthropic client, untouched; usage is read from `message_start` and
/// `message_delta`.
#[derive(Default)]
pub struct AnthropicPassthrough {
    done: bool,
    errored: bool,
    usage: Option<Usage>,
}

impl SseStage for AnthropicPassthrough {
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) -> Verdict {
        if self.done {
            return Verdict::Replace;
        }
        if !is_json_or_empty(&event.data()) {
            self.done = true;
            self.errored = true;
            write_anthropic_error(
                out,
                "The upstream sent a malformed stream event; the answer is incomplete.",
            );
            return Verdict::Replace;
        }
        match event.name() {
            Some("message_start" | "message_delta") => {
                if let Ok(data) = serde_json::from_str::<Value>(&event.data()) {
                    let usage = data.pointer("/message/usage").or_else(|| data.get("usage"));
                    if let Some(usage) = usage {
                        self.usage
                            .get_or_insert_default()
                            .merge(Usage::from_anthropic(usage));
                    }
                }
            }
            Some("message_stop") => self.done = true,
            Some("error") => {
                self.done = true;
                self.errored = true;
            }
            _ => {}
        }
        Verdict::Forward
    }

    fn end(&mut self, error: Option<ProxyError>, out: &mut BytesMut) {
        let message = match error {
            Some(error) => error.to_string(),
            None if !self.done => {
                "The upstream stream ended before its final event; the answer is incomplete."
                    .to_owned()
            }
            None => return,
        };
        out.put_slice(b"event: error\ndata: ");
        let _ = serde_json::to_writer(
            (&mut *out).writer(),
            &messages_api::error_body("api_error", &message),
        );
        out.put_slice(b"\n\n");
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn completed(&self) -> bool {
        self.done && !self.errored
    }
}

fn write_anthropic_error(out: &mut BytesMut, message: &str) {
    messages_api::write_event(
        out,
        "error",
        &messages_api::error_body("api_error", message),
    );
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
