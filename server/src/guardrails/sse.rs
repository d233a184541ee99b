//! Stream events rewritten through a delta filter (the restorer, the answer checker): which
//! strings of an OpenAI chunk or an Anthropic event are the answer's text, per-index held-back
//! text, and where held-back text is written when its index ends.

use std::fmt;

use serde_json::{Map, Value, json};

use super::{Blocked, ClientApi};

/// An answer's text stream: (OpenAI choice or Anthropic content block, 0 for the text or
/// 1 + the tool call's index for its arguments).
pub(super) type Slot = (usize, usize);

/// Something that rewrites a text stream in pieces and may hold back its end.
pub(super) trait DeltaFilter {
    /// The text of `slot` safe to send now, after `delta` (JSON text when `json`).
    fn push(&mut self, slot: Slot, delta: &str, json: bool) -> Result<String, Blocked>;
    /// Everything `slot` still holds.
    fn flush(&mut self, slot: Slot) -> Result<String, Blocked>;
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
    fn slots(&self, index: Option<usize>) -> Vec<(Slot, bool)> {
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

/// The fields of the last OpenAI chunk that a chunk made up to carry held-back text repeats.
#[derive(Default)]
pub(super) struct Envelope {
    fields: Map<String, Value>,
}

impl Envelope {
    fn remember(&mut self, chunk: &Value) {
        if !self.fields.is_empty() {
            return;
        }
        for key in ["id", "object", "created", "model", "system_fingerprint"] {
            if let Some(value) = chunk.get(key) {
                self.fields.insert(key.to_owned(), value.clone());
            }
        }
    }
}

/// Rewrites one event's `data` through `filter`.
pub(super) fn rewrite(
    filter: &mut impl DeltaFilter,
    envelope: &mut Envelope,
    data: &str,
    client: ClientApi,
) -> Result<SseRewrite, Blocked> {
    match client {
        ClientApi::OpenAi => openai(filter, envelope, data),
        ClientApi::Anthropic => anthropic(filter, data),
        // GUARDRAILS-TODO(helper): the Responses and Gemini stream events.
        ClientApi::Responses | ClientApi::Gemini => Ok(SseRewrite::default()),
    }
}

fn openai(
    filter: &mut impl DeltaFilter,
    envelope: &mut Envelope,
    data: &str,
) -> Result<SseRewrite, Blocked> {
    let mut out = SseRewrite::default();
    if data.trim() == "[DONE]" {
        // A stream that ends without a finish_reason still gets its held-back text, in made-up
        // chunks ahead of the end marker.
        for (slot, json) in filter.holds().slots(None) {
            let rest = filter.flush(slot)?;
            let mut chunk = envelope.fields.clone();
            chunk.insert(
                "choices".into(),
                json!([{"index": slot.0, "delta": openai_delta(slot, json, rest), "finish_reason": null}]),
            );
            out.before.push(ExtraEvent {
                event: None,
                data: Value::Object(chunk).to_string(),
            });
        }
        return Ok(out);
    }
    if filter.can_skip(data) {
        return Ok(out);
    }
    let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
        return Ok(out);
    };
    envelope.remember(&chunk);
    let mut changed = false;
    let choices = chunk.get_mut("choices").and_then(Value::as_array_mut);
    for (position, choice) in choices.into_iter().flatten().enumerate() {
        let i = index_of(choice, position);
        let finished = choice.get("finish_reason").is_some_and(|r| !r.is_null());
        if let Some(delta) = choice.get_mut("delta") {
            if let Some(Value::String(content)) = delta.get_mut("content") {
                changed |= push(filter, (i, 0), content, false)?;
            }
            let calls = delta.get_mut("tool_calls").and_then(Value::as_array_mut);
            for (k, call) in calls.into_iter().flatten().enumerate() {
                let k = index_of(call, k);
                if let Some(Value::String(args)) = call.pointer_mut("/function/arguments") {
                    changed |= push(filter, (i, k + 1), args, true)?;
                }
            }
        }
        if finished {
            for (slot, json) in filter.holds().slots(Some(i)) {
                let rest = filter.flush(slot)?;
                append_openai(choice, slot, json, rest);
                changed = true;
            }
        }
    }
    if changed {
        out.data = Some(chunk.to_string());
    }
    Ok(out)
}

fn index_of(value: &Value, position: usize) -> usize {
    value
        .get("index")
        .and_then(Value::as_u64)
        .and_then(|i| usize::try_from(i).ok())
        .unwrap_or(position)
}

/// Pushes one string through the filter in place; says whether it changed.
fn push(
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

fn openai_delta(slot: Slot, json: bool, text: String) -> Value {
    if slot.1 == 0 && !json {
        json!({"content": text})
    } else {
        json!({"tool_calls": [{"index": slot.1.saturating_sub(1), "function": {"arguments": text}}]})
    }
}

/// Appends a slot's held-back text to a finishing choice's delta.
fn append_openai(choice: &mut Value, slot: Slot, json: bool, rest: String) {
    let Some(choice) = choice.as_object_mut() else {
        return;
    };
    let delta = choice
        .entry("delta")
        .or_insert_with(|| Value::Object(Map::new()));
    if !delta.is_object() {
        *delta = Value::Object(Map::new());
    }
    let Some(delta) = delta.as_object_mut() else {
        return;
    };
    if slot.1 == 0 {
        match delta.get_mut("content") {
            Some(Value::String(content)) => content.push_str(&rest),
            _ => {
                delta.insert("content".into(), Value::String(rest));
            }
        }
        return;
    }
    let k = slot.1 - 1;
    let calls = delta.get_mut("tool_calls").and_then(Value::as_array_mut);
    let existing = calls.and_then(|calls| {
        calls
            .iter_mut()
            .enumerate()
            .find(|(p, c)| index_of(c, *p) == k)
            .and_then(|(_, c)| c.pointer_mut("/function/arguments"))
    });
    match existing {
        Some(Value::String(args)) => args.push_str(&rest),
        _ => {
            let added = openai_delta(slot, json, rest);
            let calls = delta.entry("tool_calls").or_insert_with(|| json!([]));
            if let Value::Array(calls) = calls
                && let Some(Value::Array(new)) = added.get("tool_calls")
            {
                calls.extend(new.iter().cloned());
            }
        }
    }
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
