//! Gemini's stream through a delta filter: each `data:` chunk is a `GenerateContentResponse`
//! whose `candidates[].content.parts[]` text parts are deltas (a candidate's answer text and its
//! thought text are two streams); function calls and code arrive whole and are rewritten whole.
//! Held-back text goes out ahead of the next part of another kind, with the candidate's
//! `finishReason`, or in a made-up chunk when the stream ends (Gemini has no end marker).

use serde_json::{Value, json};

use super::sse::{DeltaFilter, ExtraEvent, SseRewrite, StreamState, index_of, push};
use super::walk::Kind;
use super::{Blocked, walk_gemini};

/// The fields of the first chunk that a chunk made up to carry held-back text repeats.
const ENVELOPE: [&str; 2] = ["responseId", "modelVersion"];

/// The second number of a slot: a candidate's answer text, or its thought text.
const TEXT: usize = 0;
const THOUGHT: usize = 1;

pub(super) fn rewrite(
    filter: &mut impl DeltaFilter,
    state: &mut StreamState,
    data: &str,
) -> Result<SseRewrite, Blocked> {
    let mut out = SseRewrite::default();
    if filter.can_skip(data) {
        return Ok(out);
    }
    let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
        return Ok(out);
    };
    state.remember(&chunk, &ENVELOPE);
    let mut changed = false;
    let candidates = chunk.get_mut("candidates").and_then(Value::as_array_mut);
    for (position, candidate) in candidates.into_iter().flatten().enumerate() {
        let i = index_of(candidate, position);
        let finished = candidate.get("finishReason").is_some_and(|r| !r.is_null());
        if let Some(parts) = candidate
            .pointer_mut("/content/parts")
            .and_then(Value::as_array_mut)
        {
            changed |= rewrite_parts(filter, i, parts)?;
        }
        if finished {
            for (slot, _) in filter.holds().slots(Some(i)) {
                let rest = filter.flush(slot)?;
                append(candidate, slot.1, rest);
                changed = true;
            }
        }
    }
    if changed {
        out.data = Some(chunk.to_string());
    }
    Ok(out)
}

/// Made-up chunks carrying what every candidate still holds.
pub(super) fn end(
    filter: &mut impl DeltaFilter,
    state: &StreamState,
) -> Result<Vec<ExtraEvent>, Blocked> {
    let mut events = Vec::new();
    for (slot, _) in filter.holds().slots(None) {
        let rest = filter.flush(slot)?;
        let mut chunk = state.envelope.clone();
        let candidate = json!({"content": {"parts": [text_part(slot.1, rest)], "role": "model"},
            "index": slot.0});
        chunk.insert("candidates".into(), json!([candidate]));
        events.push(ExtraEvent {
            event: None,
            data: Value::Object(chunk).to_string(),
        });
    }
    Ok(events)
}

/// Rewrites one candidate's parts in place; says whether any changed.
fn rewrite_parts(
    filter: &mut impl DeltaFilter,
    candidate: usize,
    parts: &mut Vec<Value>,
) -> Result<bool, Blocked> {
    let mut changed = false;
    let mut rewritten = Vec::with_capacity(parts.len());
    for mut part in parts.drain(..) {
        let stream = text_stream(&part);
        // A part of another kind ends what the other stream held: it goes first, in order.
        for (slot, _) in filter.holds().slots(Some(candidate)) {
            if Some(slot.1) != stream {
                let rest = filter.flush(slot)?;
                rewritten.push(text_part(slot.1, rest));
                changed = true;
            }
        }
        match stream {
            Some(sub) => {
                if let Some(Value::String(text)) = part.get_mut("text") {
                    changed |= push(filter, (candidate, sub), text, false)?;
                }
            }
            // Function calls, code and its results arrive whole; only here are they seen, so
            // their findings count.
            None => walk_gemini::part(&mut part, &mut |text: &mut String, kind| {
                changed |= filter.whole(text, kind == Kind::Json, true)?;
                Ok::<(), Blocked>(())
            })?,
        }
        rewritten.push(part);
    }
    *parts = rewritten;
    Ok(changed)
}

/// Which text stream a part continues: [`TEXT`], [`THOUGHT`], or none when it is not text.
fn text_stream(part: &Value) -> Option<usize> {
    if !part.get("text").is_some_and(Value::is_string) {
        return None;
    }
    Some(
        if part.get("thought").and_then(Value::as_bool) == Some(true) {
            THOUGHT
        } else {
            TEXT
        },
    )
}

fn text_part(stream: usize, text: String) -> Value {
    if stream == THOUGHT {
        json!({"text": text, "thought": true})
    } else {
        json!({"text": text})
    }
}

/// Appends held-back text to the finishing candidate's last part of its stream (a new part
/// when there is none).
fn append(candidate: &mut Value, stream: usize, rest: String) {
    let Some(candidate) = candidate.as_object_mut() else {
        return;
    };
    let content = candidate
        .entry("content")
        .or_insert_with(|| json!({"parts": [], "role": "model"}));
    if !content.is_object() {
        *content = json!({"role": "model"});
    }
    if !content.get("parts").is_some_and(Value::is_array) {
        content["parts"] = json!([]);
    }
    let Some(parts) = content.get_mut("parts").and_then(Value::as_array_mut) else {
        return;
    };
    let last = parts
        .iter_mut()
        .rev()
        .find(|part| text_stream(part).is_some())
        .filter(|part| text_stream(part) == Some(stream));
    match last.and_then(|part| part.get_mut("text")) {
        Some(Value::String(text)) => text.push_str(&rest),
        _ => parts.push(text_part(stream, rest)),
    }
}
