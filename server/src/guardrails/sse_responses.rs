//! The Responses API's typed stream events through a delta filter. Text, refusal, reasoning and
//! call-input deltas are pushed per (output item, part) and held back like any other stream's;
//! a part's `.done` event first gets what its deltas still hold, as one more delta event. The
//! events that repeat the whole text (`.done`, `content_part.*`, `reasoning_summary_part.*`,
//! `output_item.*` and the `response` objects) are rewritten whole, so the final object never
//! shows a placeholder or a value its deltas did not. Every event added moves the
//! `sequence_number` of every later one up by one, so numbers stay unique and increasing.

use serde_json::Value;

use super::sse::{DeltaFilter, ExtraEvent, Slot, SseRewrite, push};
use super::walk::Kind;
use super::{Blocked, walk_responses};

/// Which text of an output item a stream is, as the second number of a slot:
/// `index * PARTS + part`.
const CONTENT: usize = 0;
const SUMMARY: usize = 1;
const INPUT: usize = 2;
const PARTS: usize = 3;

/// A kind of delta event, and the `.done` event that ends its text.
struct Stream {
    delta: &'static str,
    done: &'static str,
    /// The `.done` event's field holding the whole text.
    done_field: &'static str,
    /// [`CONTENT`] (a message's content part, a reasoning item's text part), [`SUMMARY`] (a
    /// reasoning summary part) or [`INPUT`] (a call's arguments or input).
    part: usize,
    /// The field numbering the part within its item, for items with several.
    index_field: Option<&'static str>,
    json: bool,
}

static STREAMS: [Stream; 7] = [
    Stream {
        delta: "response.output_text.delta",
        done: "response.output_text.done",
        done_field: "text",
        part: CONTENT,
        index_field: Some("content_index"),
        json: false,
    },
    Stream {
        delta: "response.refusal.delta",
        done: "response.refusal.done",
        done_field: "refusal",
        part: CONTENT,
        index_field: Some("content_index"),
        json: false,
    },
    Stream {
        delta: "response.reasoning_text.delta",
        done: "response.reasoning_text.done",
        done_field: "text",
        part: CONTENT,
        index_field: Some("content_index"),
        json: false,
    },
    Stream {
        delta: "response.reasoning_summary_text.delta",
        done: "response.reasoning_summary_text.done",
        done_field: "text",
        part: SUMMARY,
        index_field: Some("summary_index"),
        json: false,
    },
    Stream {
        delta: "response.function_call_arguments.delta",
        done: "response.function_call_arguments.done",
        done_field: "arguments",
        part: INPUT,
        index_field: None,
        json: true,
    },
    Stream {
        delta: "response.custom_tool_call_input.delta",
        done: "response.custom_tool_call_input.done",
        done_field: "input",
        part: INPUT,
        index_field: None,
        json: false,
    },
    Stream {
        delta: "response.mcp_call_arguments.delta",
        done: "response.mcp_call_arguments.done",
        done_field: "arguments",
        part: INPUT,
        index_field: None,
        json: true,
    },
];

/// What an event is to the rewriting.
enum Event {
    Delta(&'static Stream),
    Done(&'static Stream),
    /// A content or summary part, added or done: `part`.
    Part,
    /// An output item, added or done: `item`.
    Item,
    /// A `response` object; `last` for the events that end the stream.
    Response {
        last: bool,
    },
    Other,
}

fn classify(kind: &str) -> Event {
    for stream in &STREAMS {
        if kind == stream.delta {
            return Event::Delta(stream);
        }
        if kind == stream.done {
            return Event::Done(stream);
        }
    }
    match kind {
        "response.content_part.added"
        | "response.content_part.done"
        | "response.reasoning_summary_part.added"
        | "response.reasoning_summary_part.done" => Event::Part,
        "response.output_item.added" | "response.output_item.done" => Event::Item,
        "response.completed" | "response.incomplete" | "response.failed" => {
            Event::Response { last: true }
        }
        "response.created" | "response.in_progress" | "response.queued" => {
            Event::Response { last: false }
        }
        _ => Event::Other,
    }
}

/// The events added to a stream so far, and what adding another needs.
#[derive(Default)]
pub(super) struct Numbering {
    /// How many events were added: every later upstream event's number moves up by this.
    shift: u64,
    /// The last number written (after the shift).
    last: Option<u64>,
    /// Per slot holding text: its delta event type and its first delta event (ids and
    /// indexes), which an added event carrying held-back text copies.
    templates: Vec<(Slot, &'static str, Value)>,
}

impl Numbering {
    /// Keeps the first delta event of `slot` as the template of the events added for it.
    fn remember(&mut self, slot: Slot, stream: &Stream, event: &Value) {
        if self.templates.iter().any(|(s, _, _)| *s == slot) {
            return;
        }
        let mut template = event.clone();
        if let Some(fields) = template.as_object_mut() {
            fields.remove("sequence_number");
            // Padding and token data belong to the delta they came with.
            fields.remove("obfuscation");
            if fields.contains_key("logprobs") {
                fields.insert("logprobs".into(), Value::Array(Vec::new()));
            }
        }
        self.templates.push((slot, stream.delta, template));
    }

    /// The number of an event added ahead of an upstream event numbered `number` (or, with no
    /// number, after the last one written).
    fn next(&mut self, number: Option<u64>) -> Option<u64> {
        let next = match number {
            Some(number) => number.saturating_add(self.shift),
            None => self.last?.saturating_add(1),
        };
        self.shift += 1;
        self.last = Some(next);
        Some(next)
    }

    /// A delta event carrying `rest`, the text `slot` held back, ahead of an event numbered
    /// `number`.
    fn carry(&mut self, slot: Slot, rest: String, number: Option<u64>) -> Option<ExtraEvent> {
        if rest.is_empty() {
            return None;
        }
        let at = self.templates.iter().position(|(s, _, _)| *s == slot)?;
        let (_, kind, template) = self.templates.swap_remove(at);
        let mut event = template;
        let fields = event.as_object_mut()?;
        fields.insert("delta".into(), Value::String(rest));
        if let Some(next) = self.next(number) {
            fields.insert("sequence_number".into(), Value::from(next));
        }
        Some(ExtraEvent {
            event: Some(kind),
            data: event.to_string(),
        })
    }
}

/// Rewrites one Responses API event's `data`.
pub(super) fn rewrite(
    filter: &mut impl DeltaFilter,
    numbering: &mut Numbering,
    data: &str,
) -> Result<SseRewrite, Blocked> {
    let mut out = SseRewrite::default();
    if numbering.shift == 0 && filter.can_skip(data) {
        if let Some(number) = sequence_number(data) {
            numbering.last = Some(number);
        }
        return Ok(out);
    }
    let Ok(mut event) = serde_json::from_str::<Value>(data) else {
        return Ok(out);
    };
    let number = event.get("sequence_number").and_then(Value::as_u64);
    let kind = classify(
        event
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default(),
    );
    let mut changed = false;
    match kind {
        Event::Delta(stream) => {
            let slot = slot(&event, stream);
            numbering.remember(slot, stream, &event);
            if let Some(Value::String(delta)) = event.get_mut("delta") {
                changed = push(filter, slot, delta, stream.json)?;
            }
        }
        Event::Done(stream) => {
            let slot = slot(&event, stream);
            let rest = filter.flush(slot)?;
            out.before.extend(numbering.carry(slot, rest, number));
            numbering.templates.retain(|(s, _, _)| *s != slot);
            if let Some(Value::String(text)) = event.get_mut(stream.done_field) {
                changed = filter.whole(text, stream.json, false)?;
            }
        }
        Event::Part => {
            if let Some(part) = event.get_mut("part") {
                walk_responses::part(part, &mut repeat(filter, &mut changed))?;
            }
        }
        Event::Item => {
            if let Some(item) = event.get_mut("item") {
                walk_responses::item(item, &mut repeat(filter, &mut changed))?;
            }
        }
        Event::Response { last } => {
            if last {
                // Text still held (a stream without `.done` events) goes ahead of the end.
                for (slot, _) in filter.holds().slots(None) {
                    let rest = filter.flush(slot)?;
                    out.before.extend(numbering.carry(slot, rest, number));
                }
            }
            if let Some(response) = event.get_mut("response") {
                walk_responses::answer(response, &mut repeat(filter, &mut changed))?;
            }
        }
        Event::Other => {}
    }
    if let Some(number) = number {
        let number = number.saturating_add(numbering.shift);
        if numbering.shift > 0 {
            event["sequence_number"] = Value::from(number);
            changed = true;
        }
        numbering.last = Some(number);
    }
    if changed {
        out.data = Some(event.to_string());
    }
    Ok(out)
}

/// Delta events carrying what every slot still holds, for a stream that ended without its
/// final event.
pub(super) fn end(
    filter: &mut impl DeltaFilter,
    numbering: &mut Numbering,
) -> Result<Vec<ExtraEvent>, Blocked> {
    let mut events = Vec::new();
    for (slot, _) in filter.holds().slots(None) {
        let rest = filter.flush(slot)?;
        events.extend(numbering.carry(slot, rest, None));
    }
    Ok(events)
}

/// The slot of a delta or `.done` event: its output item, and which of the item's texts.
fn slot(event: &Value, stream: &Stream) -> Slot {
    let number = |field: &str| {
        event
            .get(field)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0)
    };
    let index = stream.index_field.map_or(0, number);
    (
        number("output_index"),
        index.saturating_mul(PARTS).saturating_add(stream.part),
    )
}

/// A visitor rewriting each text whole; the text repeats what deltas carried (and counted).
fn repeat<'a, F: DeltaFilter>(
    filter: &'a mut F,
    changed: &'a mut bool,
) -> impl FnMut(&mut String, Kind) -> Result<(), Blocked> + 'a {
    move |text, kind| {
        *changed |= filter.whole(text, kind == Kind::Json, false)?;
        Ok(())
    }
}

/// An event's `sequence_number`, read without parsing it (every Responses API event has one at
/// its top level; inside a string the quotes around the name would be escaped).
pub(crate) fn sequence_number(data: &str) -> Option<u64> {
    let key = b"\"sequence_number\"";
    let at = memchr::memmem::find(data.as_bytes(), key)?;
    let rest = data[at + key.len()..].trim_start().strip_prefix(':')?;
    let rest = rest.trim_start();
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    rest[..digits].parse().ok()
}
