//! Turning `redact_restore` placeholders in an answer back into the values they stand for:
//! whole answers, and streams, where a placeholder may be split across events and only as many
//! bytes as a placeholder can span are ever held back.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use super::sse::{self, DeltaFilter, ExtraEvent, Holds, Slot, SseRewrite, StreamState};
use super::{Api, Blocked, ClientApi, Kind, visit, walk};

/// One request's placeholders and their values. Cloning is cheap (one `Arc`).
#[derive(Clone)]
pub struct Restorer {
    inner: Arc<Inner>,
}

struct Inner {
    /// Placeholder → index into `values`.
    index: HashMap<String, usize>,
    /// Each value as it was, and escaped for the inside of a JSON string.
    values: Vec<(String, String)>,
    /// Every placeholder, sorted, to tell whether a stream's tail could start one.
    sorted: Vec<String>,
    longest: usize,
}

impl Restorer {
    /// A restorer of `(placeholder, value)` pairs; `None` when there are none.
    pub(super) fn new(pairs: Vec<(String, String)>) -> Option<Restorer> {
        if pairs.is_empty() {
            return None;
        }
        let mut index = HashMap::with_capacity(pairs.len());
        let mut values = Vec::with_capacity(pairs.len());
        let mut sorted = Vec::with_capacity(pairs.len());
        for (i, (placeholder, value)) in pairs.into_iter().enumerate() {
            let quoted = Value::String(value.clone()).to_string();
            let escaped = quoted[1..quoted.len() - 1].to_owned();
            index.insert(placeholder.clone(), i);
            values.push((value, escaped));
            sorted.push(placeholder);
        }
        sorted.sort_unstable();
        let longest = sorted.iter().map(String::len).max().unwrap_or(0);
        Some(Restorer {
            inner: Arc::new(Inner {
                index,
                values,
                sorted,
                longest,
            }),
        })
    }

    /// How many distinct values were redacted.
    pub fn len(&self) -> usize {
        self.inner.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.values.is_empty()
    }

    /// The longest placeholder's length: a stream holds back at most one byte less.
    pub fn longest_placeholder(&self) -> usize {
        self.inner.longest
    }

    /// `text` with every placeholder replaced by its value (borrowed when there is none).
    pub fn restore_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = String::new();
        if self.restore_into(text, false, &mut out) {
            Cow::Owned(out)
        } else {
            Cow::Borrowed(text)
        }
    }

    /// Restores an answer of `api` in place (in the client's API, after any translation): an
    /// OpenAI completion's `choices[].message` content and tool-call arguments, or an Anthropic
    /// message's text blocks and tool-use inputs.
    pub fn restore_json_answer(&self, answer: &mut Value, api: Api) {
        let _ = walk::answer(answer, api, &mut |text, kind: Kind| {
            visit(text, kind, &mut |text: &mut String| {
                let mut out = String::new();
                let changed = self.restore_into(text, false, &mut out);
                if changed {
                    *text = out;
                }
                Ok::<bool, Blocked>(changed)
            })
            .map(drop)
        });
    }

    /// A restorer of one streamed answer.
    pub fn stream(&self) -> StreamRestorer {
        StreamRestorer {
            filter: RestoreFilter {
                restorer: self.clone(),
                holds: Holds::default(),
            },
            state: StreamState::default(),
        }
    }

    /// Writes `text` with placeholders replaced to `out` (escaped for a JSON string when
    /// `json`), and says whether there was any; `out` is left empty when there was none.
    fn restore_into(&self, text: &str, json: bool, out: &mut String) -> bool {
        let mut at = 0;
        let mut from = 0;
        while let Some((start, end, value)) = self.next_placeholder(text, from) {
            if out.is_empty() {
                out.reserve(text.len() + 32);
            }
            out.push_str(&text[at..start]);
            let (plain, escaped) = &self.inner.values[value];
            out.push_str(if json { escaped } else { plain });
            at = end;
            from = end;
        }
        if at == 0 {
            return false;
        }
        out.push_str(&text[at..]);
        true
    }

    /// The next known placeholder at or after `from`: its span and value index.
    fn next_placeholder(&self, text: &str, from: usize) -> Option<(usize, usize, usize)> {
        let bytes = text.as_bytes();
        let mut at = from;
        while let Some(found) = memchr::memmem::find(&bytes[at..], b"[[") {
            let start = at + found;
            let window = bytes.len().min(start + self.inner.longest);
            if let Some(close) = memchr::memmem::find(&bytes[start + 2..window], b"]]") {
                let end = start + 2 + close + 2;
                if let Some(value) = self.inner.index.get(&text[start..end]) {
                    return Some((start, end, *value));
                }
            }
            at = start + 1;
        }
        None
    }

    /// Where the part of `text` that could be the start of a placeholder begins (`text.len()`
    /// when none could): the earliest `[` of the last `longest - 1` bytes whose rest is a
    /// proper prefix of a placeholder.
    fn hold_from(&self, text: &str) -> usize {
        let from = text
            .len()
            .saturating_sub(self.inner.longest.saturating_sub(1));
        let bytes = text.as_bytes();
        (from..bytes.len())
            .filter(|&i| bytes[i] == b'[')
            .find(|&i| self.starts_placeholder(&text[i..]))
            .unwrap_or(text.len())
    }

    fn starts_placeholder(&self, tail: &str) -> bool {
        let sorted = &self.inner.sorted;
        let next = sorted.partition_point(|p| p.as_str() < tail);
        sorted
            .get(next)
            .is_some_and(|p| p.len() > tail.len() && p.starts_with(tail))
    }
}

/// Counts, never values.
impl fmt::Debug for Restorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Restorer")
            .field("placeholders", &self.len())
            .finish()
    }
}

struct RestoreFilter {
    restorer: Restorer,
    holds: Holds,
}

impl DeltaFilter for RestoreFilter {
    fn push(&mut self, slot: Slot, delta: &str, json: bool) -> Result<String, Blocked> {
        let mut text = self.holds.take(slot);
        text.push_str(delta);
        let cut = self.restorer.hold_from(&text);
        let held = text.split_off(cut);
        self.holds.put(slot, json, held);
        let mut out = String::new();
        Ok(if self.restorer.restore_into(&text, json, &mut out) {
            out
        } else {
            text
        })
    }

    fn flush(&mut self, slot: Slot) -> Result<String, Blocked> {
        // What is held is a proper prefix of a placeholder, never a whole one: it goes as is.
        Ok(self.holds.take(slot))
    }

    fn whole(&mut self, text: &mut String, json: bool, _count: bool) -> Result<bool, Blocked> {
        let mut out = String::new();
        let changed = self.restorer.restore_into(text, json, &mut out);
        if changed {
            *text = out;
        }
        Ok(changed)
    }

    fn holds(&self) -> &Holds {
        &self.holds
    }

    fn can_skip(&self, data: &str) -> bool {
        // A placeholder, or a string ending in `[` (`["` in JSON), or an escaped `[`.
        let has = |needle: &str| memchr::memmem::find(data.as_bytes(), needle.as_bytes()).is_some();
        self.holds.is_empty() && !has("[[") && !has("[\"") && !has("\\u005")
    }
}

/// Restores one streamed answer. Text is pushed per index (an OpenAI choice, an Anthropic
/// content block); what comes back may be shorter than what went in when its end could be the
/// start of a placeholder, and the rest comes with a later push or with [`flush`](Self::flush).
pub struct StreamRestorer {
    filter: RestoreFilter,
    state: StreamState,
}

impl StreamRestorer {
    /// The text of `delta` (after what index `index` held back) that is safe to send now, with
    /// every complete placeholder restored.
    pub fn push(&mut self, index: usize, delta: &str) -> String {
        self.filter
            .push((index, 0), delta, false)
            .unwrap_or_default()
    }

    /// What index `index` still holds (at the end of its text).
    pub fn flush(&mut self, index: usize) -> String {
        self.filter.holds.take((index, 0))
    }

    /// The bytes held back across every index; never more than the longest placeholder's
    /// length less one per index.
    pub fn held_bytes(&self) -> usize {
        self.filter.holds.bytes()
    }

    /// Rewrites one upstream SSE event's `data` for a client of `client`'s protocol: OpenAI's
    /// `choices[].delta.content`, tool-call arguments and legacy completions' `choices[].text`,
    /// Anthropic's `content_block_delta` text and JSON, the Responses API's text, refusal,
    /// reasoning and argument deltas, Gemini's candidates' text parts. Held-back text is
    /// written when its index ends: into an OpenAI chunk with a `finish_reason` or a Gemini
    /// candidate with a `finishReason`, and as an extra delta event ([`SseRewrite::before`])
    /// ahead of Anthropic's `content_block_stop` or a Responses `.done` event; text still held
    /// at `[DONE]`, `message_delta` or `response.completed` comes as extra events ahead of
    /// them. The events that repeat a Responses text whole are restored whole.
    pub fn restore_sse_event(&mut self, data: &str, client: ClientApi) -> SseRewrite {
        sse::rewrite(&mut self.filter, &mut self.state, data, client).unwrap_or_default()
    }

    /// The events that carry what is still held when the upstream stream ended without the
    /// event that would have carried it (a Gemini stream has no end marker).
    pub fn restore_sse_end(&mut self, client: ClientApi) -> Vec<ExtraEvent> {
        sse::end(&mut self.filter, &mut self.state, client).unwrap_or_default()
    }
}

impl fmt::Debug for StreamRestorer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamRestorer")
            .field("placeholders", &self.filter.restorer.len())
            .field("held_bytes", &self.held_bytes())
            .finish()
    }
}
