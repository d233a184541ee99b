//! A Responses API stream from a provider that speaks it, forwarded untouched to a Responses API
//! client, with usage read from the final event on the way.

use bytes::BytesMut;
use serde_json::Value;

use super::{error_event, usage, write_event};
use crate::proxy::ProxyError;
use crate::sse::SseEvent;
use crate::stream::{SseStage, Verdict, is_json_or_empty, malformed, stream_error, truncated};
use crate::usage::Usage;

/// The events that end a Responses API stream.
fn is_final(kind: &str) -> bool {
    matches!(
        kind,
        "response.completed" | "response.incomplete" | "response.failed"
    )
}

/// Responses API events to a Responses API client, untouched. The stream ends with
/// `response.completed` (the only complete answer), `response.incomplete` or `response.failed`;
/// an `error` event fails it, and then only the `response.failed` OpenAI sends after it still
/// passes (Codex reads the failure from it).
#[derive(Default)]
pub struct ResponsesPassthrough {
    /// The final event has been seen (or written); later events are dropped.
    ended: bool,
    errored: bool,
    completed: bool,
    usage: Option<Usage>,
    /// The last `sequence_number` seen, so that an error written here continues the numbering.
    sequence_number: Option<u64>,
}

impl ResponsesPassthrough {
    fn next_sequence_number(&self) -> u64 {
        self.sequence_number.map_or(0, |n| n.saturating_add(1))
    }

    fn write_error(&mut self, out: &mut BytesMut, error: &Value) {
        let event = error_event(error, self.next_sequence_number());
        self.sequence_number = Some(self.next_sequence_number());
        write_event(out, &event);
    }

    /// Reads `sequence_number` from the raw event without parsing it: every event has one.
    fn note_sequence_number(&mut self, raw: &[u8]) {
        let key = b"\"sequence_number\"";
        let Some(at) = memchr::memmem::find(raw, key) else {
            return;
        };
        let rest = &raw[at + key.len()..];
        let rest = rest.trim_ascii_start();
        let Some(rest) = rest.strip_prefix(b":") else {
            return;
        };
        let rest = rest.trim_ascii_start();
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        if let Some(number) = std::str::from_utf8(&rest[..digits])
            .ok()
            .and_then(|d| d.parse().ok())
        {
            self.sequence_number = Some(number);
        }
    }
}

impl SseStage for ResponsesPassthrough {
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) -> Verdict {
        if self.ended {
            return Verdict::Replace;
        }
        let data = event.data();
        // Some compatible servers end with chat's `[DONE]`: not JSON, but not broken either.
        if data.trim() == "[DONE]" {
            return Verdict::Forward;
        }
        if !is_json_or_empty(&data) {
            // Forwarding it would hand the client garbage; the answer is broken from here on.
            self.ended = true;
            self.errored = true;
            self.write_error(out, &malformed());
            return Verdict::Replace;
        }
        self.note_sequence_number(&event.raw);
        // OpenAI names every event; a server that does not still types its data.
        let parsed;
        let kind = match event.name() {
            Some(name) => name,
            None => {
                parsed = serde_json::from_str::<Value>(&data).ok();
                parsed
                    .as_ref()
                    .and_then(|d| d.get("type"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
            }
        };
        if self.errored && kind != "response.failed" {
            // After an `error` event only its `response.failed` still belongs to the answer.
            return Verdict::Replace;
        }
        if is_final(kind) {
            self.ended = true;
            self.completed = kind == "response.completed" && !self.errored;
            self.errored |= kind != "response.completed";
            if let Some(read) = serde_json::from_str::<Value>(&data)
                .ok()
                .and_then(|d| d.pointer("/response/usage").and_then(usage))
            {
                self.usage = Some(read);
            }
        } else if kind == "error" {
            self.errored = true;
        }
        Verdict::Forward
    }

    fn end(&mut self, error: Option<ProxyError>, out: &mut BytesMut) {
        // After the final event the client has the whole answer, and after an `error` event it
        // knows the answer failed: one more error would only contradict or repeat it.
        if self.ended || self.errored {
            return;
        }
        let error = match error {
            Some(error) => {
                let object = error.error_object();
                let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or_default();
                let message = format!(
                    "{}; the answer is incomplete.",
                    error.to_string().trim_end_matches('.')
                );
                let code = match text("code") {
                    "" => text("type"),
                    code => code,
                };
                stream_error(&message, text("type"), code)
            }
            None => truncated(),
        };
        self.errored = true;
        self.ended = true;
        self.write_error(out, &error);
    }

    fn usage(&self) -> Option<Usage> {
        self.usage
    }

    fn completed(&self) -> bool {
        self.completed
    }
}
