//! Anthropic's stream events to an Anthropic client, untouched, with usage read on the way.

use bytes::{BufMut, BytesMut};
use serde_json::Value;

use super::inbound as messages_api;
use crate::proxy::ProxyError;
use crate::sse::SseEvent;
use crate::stream::{SseStage, Verdict, is_json_or_empty};
use crate::usage::Usage;

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
