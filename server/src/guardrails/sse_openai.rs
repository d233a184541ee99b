//! OpenAI `data:` chunks through a delta filter: chat completions' `choices[].delta` (content
//! and tool-call arguments), legacy completions' `choices[].text`, and a streamed transcript's
//! `transcript.text.*` events. Held-back text goes out with the choice's `finish_reason`, or in
//! made-up chunks ahead of `[DONE]`.

use serde_json::{Map, Value, json};

use super::Blocked;
use super::sse::{DeltaFilter, ExtraEvent, Slot, SseRewrite, StreamState, index_of, push};

/// The fields of the first chunk that a chunk made up to carry held-back text repeats.
const ENVELOPE: [&str; 5] = ["id", "object", "created", "model", "system_fingerprint"];

pub(super) fn rewrite(
    filter: &mut impl DeltaFilter,
    state: &mut StreamState,
    data: &str,
) -> Result<SseRewrite, Blocked> {
    let mut out = SseRewrite::default();
    if data.trim() == "[DONE]" {
        // A stream that ends without a finish_reason still gets its held-back text, in made-up
        // chunks ahead of the end marker.
        out.before = flush_all(filter, state)?;
        return Ok(out);
    }
    if filter.can_skip(data) {
        return Ok(out);
    }
    let Ok(mut chunk) = serde_json::from_str::<Value>(data) else {
        return Ok(out);
    };
    if transcript(filter, &mut chunk, &mut out)? {
        return Ok(out);
    }
    state.remember(&chunk, &ENVELOPE);
    let mut changed = false;
    let choices = chunk.get_mut("choices").and_then(Value::as_array_mut);
    for (position, choice) in choices.into_iter().flatten().enumerate() {
        let i = index_of(choice, position);
        let finished = choice.get("finish_reason").is_some_and(|r| !r.is_null());
        // A legacy completions chunk carries its text in the choice itself.
        if let Some(Value::String(text)) = choice.get_mut("text") {
            state.completions = true;
            changed |= push(filter, (i, 0), text, false)?;
        }
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
                if state.completions {
                    append_text(choice, rest);
                } else {
                    append_delta(choice, slot, json, rest);
                }
                changed = true;
            }
        }
    }
    if changed {
        out.data = Some(chunk.to_string());
    }
    Ok(out)
}

/// Made-up chunks carrying what every slot still holds.
pub(super) fn flush_all(
    filter: &mut impl DeltaFilter,
    state: &StreamState,
) -> Result<Vec<ExtraEvent>, Blocked> {
    let mut events = Vec::new();
    for (slot, json) in filter.holds().slots(None) {
        let rest = filter.flush(slot)?;
        let choice = if state.completions {
            json!({"index": slot.0, "text": rest, "logprobs": null, "finish_reason": null})
        } else {
            json!({"index": slot.0, "delta": delta(slot, json, rest), "finish_reason": null})
        };
        let mut chunk = state.envelope.clone();
        chunk.insert("choices".into(), json!([choice]));
        events.push(ExtraEvent {
            event: None,
            data: Value::Object(chunk).to_string(),
        });
    }
    Ok(events)
}

/// A streamed transcript's events (`transcript.text.delta` with its `delta`, then
/// `transcript.text.done` with the whole `text`); says whether `chunk` was one.
fn transcript(
    filter: &mut impl DeltaFilter,
    chunk: &mut Value,
    out: &mut SseRewrite,
) -> Result<bool, Blocked> {
    const SLOT: Slot = (0, 0);
    let changed = match chunk.get("type").and_then(Value::as_str) {
        Some("transcript.text.delta") => match chunk.get_mut("delta") {
            Some(Value::String(delta)) => push(filter, SLOT, delta, false)?,
            _ => false,
        },
        Some("transcript.text.done") => {
            let rest = filter.flush(SLOT)?;
            if !rest.is_empty() {
                out.before.push(ExtraEvent {
                    event: None,
                    data: json!({"type": "transcript.text.delta", "delta": rest}).to_string(),
                });
            }
            match chunk.get_mut("text") {
                Some(Value::String(text)) => filter.whole(text, false, false)?,
                _ => false,
            }
        }
        _ => return Ok(false),
    };
    if changed {
        out.data = Some(chunk.to_string());
    }
    Ok(true)
}

fn delta(slot: Slot, json: bool, text: String) -> Value {
    if slot.1 == 0 && !json {
        json!({"content": text})
    } else {
        json!({"tool_calls": [{"index": slot.1.saturating_sub(1), "function": {"arguments": text}}]})
    }
}

/// Appends held-back text to a finishing legacy completions choice.
fn append_text(choice: &mut Value, rest: String) {
    let Some(choice) = choice.as_object_mut() else {
        return;
    };
    match choice.get_mut("text") {
        Some(Value::String(text)) => text.push_str(&rest),
        _ => {
            choice.insert("text".into(), Value::String(rest));
        }
    }
}

/// Appends a slot's held-back text to a finishing choice's delta.
fn append_delta(choice: &mut Value, slot: Slot, json: bool, rest: String) {
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
            let added = self::delta(slot, json, rest);
            let calls = delta.entry("tool_calls").or_insert_with(|| json!([]));
            if let Value::Array(calls) = calls
                && let Some(Value::Array(new)) = added.get("tool_calls")
            {
                calls.extend(new.iter().cloned());
            }
        }
    }
}
