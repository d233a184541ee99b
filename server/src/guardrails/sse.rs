//! Stream events rewritten through a delta filter (the restorer, the answer checker): which
//! strings of an Anthropic event are the answer's text, per-index held-back text, and where
//! held-back text is written when its index ends. OpenAI chunks, the Responses API's events and
//! Gemini's chunks have a module each (`sse_openai.rs`, `sse_responses.rs`, `sse_gemini.rs`).

use std::fmt;

use serde_json::{Map, Value, json};

use super::{Blocked, ClientApi, sse_gemini, sse_openai, sse_responses};

/// An answer's text stream: (OpenAI choice, Anthropic content block, Responses output item or
/// Gemini candidate; which of its texts). The second number is 0 for an OpenAI choice's text
/// and 1 + the tool call's index for its arguments; the Responses and Gemini modules number
/// their own.
pub(super) type Slot = (usize, usize);

/// Something that rewrites a text stream in pieces and may hold back its end.
pub(super) trait DeltaFilter {
    /// The text of `slot` safe to send now, after `delta` (JSON text when `json`).
    fn push(&mut self, slot: Slot, delta: &str, json: bool) -> Result<String, Blocked>;
    /// Everything `slot` still holds.
    fn flush(&mut self, slot: Slot) -> Result<String, Blocked>;
    /// Rewrites a text that arrives whole (a Gemini function call's argument), or that repeats
    /// a streamed one whole (a Responses `.done` event, a finished item): the same rewrite as
    /// its deltas get, so a client never sees a placeholder or a value there either. `count`
    /// says whether its findings count as hits: not when the text repeats deltas already
    /// counted. Says whether the text changed.
    fn whole(&mut self, text: &mut String, json: bool, count: bool) -> Result<bool, Blocked>;
    fn holds(&self) -> &Holds;
    /// Whether an event with `data` can pass without being parsed.
    fn can_skip(&self, data: &str) -> bool;
}

struct Held {
    slot: Slot,
    json: bool,
    text: String,
}

/// Held-back text per slot (a stream has a handful of slots at most).
#[derive(Default)]
pub(super) struct Holds {
    entries: Vec<Held>,
}

impl Holds {
    /// Removes and returns what `slot` holds (empty when nothing).
    pub(super) fn take(&mut self, slot: Slot) -> String {
        match self.entries.iter().position(|h| h.slot == slot) {
            Some(i) => self.entries.swap_remove(i).text,
            None => String::new(),
        }
    }

    pub(super) fn put(&mut self, slot: Slot, json: bool, text: String) {
        if !text.is_empty() {
            self.entries.push(Held { slot, json, text });
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub(super) fn bytes(&self) -> usize {
        self.entries.iter().map(|h| h.text.len()).sum()
    }

    /// The slots holding text, of one choice or block (or all), in order.
    pub(super) fn slots(&self, index: Option<usize>) -> Vec<(Slot, bool)> {
        let mut slots: Vec<(Slot, bool)> = self
            .entries
            .iter()
            .filter(|h| index.is_none_or(|i| h.slot.0 == i))
            .map(|h| (h.slot, h.json))
            .collect();
        slots.sort_unstable();
        slots
    }
}

/// An extra event to write: `event:` name (none for OpenAI) and data.
#[derive(Clone, PartialEq, Eq)]
pub struct ExtraEvent {
    pub event: Option<&'static str>,
    pub data: String,
}

/// What to write in place of one upstream event: first `before`, each as its own event, then
/// the event itself: its new `data` (under its own `event:` name), or its bytes as they came
/// when `data` is `None`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SseRewrite {
    pub before: Vec<ExtraEvent>,
    pub data: Option<String>,
}

impl SseRewrite {
    /// Whether the event goes as it came, with nothing before it.
    pub fn is_unchanged(&self) -> bool {
        self.before.is_empty() && self.data.is_none()
    }
}

/// Sizes only: the data is the client's answer, restored values included.
impl fmt::Debug for SseRewrite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SseRewrite")
            .field("before", &self.before.len())
            .field("data_bytes", &self.data.as_ref().map(String::len))
            .finish()
    }
}

impl fmt::Debug for ExtraEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExtraEvent")
            .field("event", &self.event)
            .field("data_bytes", &self.data.len())
            .finish()
    }
}

/// What a stream's rewriting remembers from event to event.
#[derive(Default)]
pub(super) struct StreamState {
    /// The identifying fields of the first OpenAI or Gemini chunk, which a chunk made up to
    /// carry held-back text repeats.
    pub envelope: Map<String, Value>,
    /// The OpenAI stream is legacy completions (`choices[].text`, no `delta`).
    pub completions: bool,
    pub responses: sse_responses::Numbering,
}

impl StreamState {
    /// Keeps `keys` of the first chunk that has any of them.
    pub(super) fn remember(&mut self, chunk: &Value, keys: &[&str]) {
        if !self.envelope.is_empty() {
            return;
        }
        for key in keys {
            if let Some(value) = chunk.get(*key) {
                self.envelope.insert((*key).to_owned(), value.clone());
            }
        }
    }
}

/// Rewrites one event's `data` through `filter`.
pub(super) fn rewrite(
    filter: &mut impl DeltaFilter,
    state: &mut StreamState,
    data: &str,
    client: ClientApi,
) -> Result<SseRewrite, Blocked> {
    match client {
        ClientApi::OpenAi => sse_openai::rewrite(filter, state, data),
        ClientApi::Anthropic => anthropic(filter, data),
        ClientApi::Responses => sse_responses::rewrite(filter, &mut state.responses, data),
        ClientApi::Gemini => sse_gemini::rewrite(filter, state, data),
    }
}

/// The events that carry what every slot still holds, for a stream that ended without the
/// event that would have carried it (`[DONE]`, `message_stop`, `response.completed`, a Gemini
/// `finishReason`).
pub(super) fn end(
    filter: &mut impl DeltaFilter,
    state: &mut StreamState,
    client: ClientApi,
) -> Result<Vec<ExtraEvent>, Blocked> {
    match client {
        ClientApi::OpenAi => sse_openai::flush_all(filter, state),
        ClientApi::Anthropic => {
            let mut events = Vec::new();
            for (slot, json) in filter.holds().slots(None) {
                let rest = filter.flush(slot)?;
                events.push(anthropic_delta(slot.0, json, rest));
            }
            Ok(events)
        }
        ClientApi::Responses => sse_responses::end(filter, &mut state.responses),
        ClientApi::Gemini => sse_gemini::end(filter, state),
    }
}

/// The `index` of a choice, block or candidate, or its position when it has none.
pub(super) fn index_of(value: &Value, position: usize) -> usize {
    value
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(position)
}

/// Pushes one string through the filter in place; says whether it changed.
pub(super) fn push(
    filter: &mut impl DeltaFilter,
    slot: Slot,
    text: &mut String,
    json: bool,
) -> Result<bool, Blocked> {
    let new = filter.push(slot, text, json)?;
    if new == *text {
        return Ok(false);
    }
    *text = new;
    Ok(true)
}

fn anthropic(filter: &mut impl DeltaFilter, data: &str) -> Result<SseRewrite, Blocked> {
    let mut out = SseRewrite::default();
    if filter.can_skip(data) {
        return Ok(out);
    }
    let Ok(mut event) = serde_json::from_str::<Value>(data) else {
        return Ok(out);
    };
    let index = index_of(&event, 0);
    match event.get("type").and_then(Value::as_str) {
        Some("content_block_delta") => {
            let delta = event.get_mut("delta");
            let (field, json) = match delta.as_ref().and_then(|d| d.get("type")) {
                Some(Value::String(t)) if t == "text_delta" => ("text", false),
                Some(Value::String(t)) if t == "input_json_delta" => ("partial_json", true),
                _ => return Ok(out),
            };
            if let Some(Value::String(text)) = delta.and_then(|d| d.get_mut(field))
                && push(filter, (index, 0), text, json)?
            {
                out.data = Some(event.to_string());
            }
        }
        Some("content_block_stop") => {
            for (slot, json) in filter.holds().slots(Some(index)) {
                let rest = filter.flush(slot)?;
                out.before.push(anthropic_delta(slot.0, json, rest));
            }
        }
        Some("message_delta" | "message_stop") => {
            for (slot, json) in filter.holds().slots(None) {
                let rest = filter.flush(slot)?;
                out.before.push(anthropic_delta(slot.0, json, rest));
            }
        }
        _ => {}
    }
    Ok(out)
}

fn anthropic_delta(index: usize, json: bool, text: String) -> ExtraEvent {
    let delta = if json {
        json!({"type": "input_json_delta", "partial_json": text})
    } else {
        json!({"type": "text_delta", "text": text})
    };
    let data = json!({"type": "content_block_delta", "index": index, "delta": delta});
    ExtraEvent {
        event: Some("content_block_delta"),
        data: data.to_string(),
    }
}
