//! OpenAI's stream both ways: the pass-through stage for OpenAI clients (usage read on the way,
//! the gateway's own usage chunk removed), the decoder of an OpenAI-compatible provider's chunks,
//! and the encoder that writes stream items as OpenAI chunks.

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use crate::proxy::ProxyError;
use crate::sse::SseEvent;
use crate::stream::{
    ChunkBuilder, Decoder, Encoder, SseStage, StreamItem, Verdict, is_json_or_empty, malformed,
    now_secs, truncated, write_data,
};
use crate::usage::Usage;

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
