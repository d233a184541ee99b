//! Checks of the answer (`on_response`): whole answers masked or refused, and streams masked
//! with a small hold-back window so that a value split across two events is still found.

use std::fmt;
use std::sync::Arc;

use serde_json::Value;
use switchyard_shared::guardrails::GuardrailHit;

use super::scan::{self, Phase, Placeholders, Scratch, Tally};
use super::sse::{self, DeltaFilter, ExtraEvent, Holds, Slot, SseRewrite, StreamState};
use super::{Api, Blocked, ClientApi, Kind, Policy, replace, visit, walk};

/// How many bytes at the end of a stream's text are held back: a value of up to this length
/// split across events is found whole.
pub const WINDOW: usize = 64;
/// The most a stream holds back while a finding runs to the end of what has arrived (a long
/// key still arriving); a finding longer than this is masked in parts.
pub const MAX_HOLD: usize = 512;

/// Answer checks never hash or redact (validation allows only `mask` and `block`), so the key
/// and placeholders `scan::rewrite` takes for those are never used.
const NO_KEY: [u8; 32] = [0; 32];

/// Checks a whole answer of `api` with every policy that has `on_response`: masks what its
/// detectors find, or refuses the answer on a `block` policy's finding. Returns the hits.
pub fn check_answer(
    policies: &[Arc<Policy>],
    answer: &mut Value,
    api: Api,
) -> Result<Vec<GuardrailHit>, Blocked> {
    if policies.iter().all(|p| p.on_response().is_none()) {
        return Ok(Vec::new());
    }
    let mut scratch = Scratch::default();
    let mut tally = Tally::default();
    let mut unused = Placeholders::default();
    walk::answer(answer, api, &mut |text, kind: Kind| {
        visit(text, kind, &mut |text: &mut String| {
            scratch.scan(policies, Phase::Response, text)?;
            let new = scan::rewrite(
                policies,
                &scratch,
                text,
                Phase::Response,
                &mut tally,
                &NO_KEY,
                &mut unused,
            );
            Ok(replace(text, new))
        })
        .map(drop)
    })?;
    Ok(tally.hits)
}

struct CheckFilter {
    policies: Vec<Arc<Policy>>,
    scratch: Scratch,
    tally: Tally,
    holds: Holds,
}

impl CheckFilter {
    /// Masks the findings of `text` and counts them.
    fn finish(&mut self, text: &str) -> String {
        let mut unused = Placeholders::default();
        let new = scan::rewrite(
            &self.policies,
            &self.scratch,
            text,
            Phase::Response,
            &mut self.tally,
            &NO_KEY,
            &mut unused,
        );
        new.unwrap_or_else(|| text.to_owned())
    }
}

impl DeltaFilter for CheckFilter {
    fn push(&mut self, slot: Slot, delta: &str, json: bool) -> Result<String, Blocked> {
        let mut text = self.holds.take(slot);
        text.push_str(delta);
        self.scratch.scan(&self.policies, Phase::Response, &text)?;
        // Hold back the last WINDOW bytes, and never cut through a finding: it may still grow
        // (when it runs to the end), and half of it sent unmasked would be a leak. The cut only
        // moves back, to a finding's start, so this ends.
        let mut cut = text.floor_char_boundary(text.len().saturating_sub(WINDOW));
        loop {
            let spans = self.scratch.enforce.iter().chain(&self.scratch.monitor);
            let through = spans
                .filter(|s| s.start < cut && cut < s.end && s.end - s.start <= MAX_HOLD)
                .map(|s| s.start)
                .min();
            match through {
                Some(start) => cut = start,
                None => break,
            }
        }
        // A finding longer than MAX_HOLD is masked up to the cut; its rest waits.
        for span in self
            .scratch
            .enforce
            .iter_mut()
            .chain(&mut self.scratch.monitor)
        {
            if span.start < cut && cut < span.end {
                span.end = cut;
            }
        }
        let held = text.split_off(cut);
        self.holds.put(slot, json, held);
        self.scratch.enforce.retain(|s| s.end <= cut);
        self.scratch.monitor.retain(|s| s.end <= cut);
        Ok(self.finish(&text))
    }

    fn flush(&mut self, slot: Slot) -> Result<String, Blocked> {
        let text = self.holds.take(slot);
        self.scratch.scan(&self.policies, Phase::Response, &text)?;
        Ok(self.finish(&text))
    }

    fn whole(&mut self, text: &mut String, _json: bool, count: bool) -> Result<bool, Blocked> {
        self.scratch.scan(&self.policies, Phase::Response, text)?;
        let mut uncounted = Tally::default();
        let tally = if count {
            &mut self.tally
        } else {
            &mut uncounted
        };
        let mut unused = Placeholders::default();
        let new = scan::rewrite(
            &self.policies,
            &self.scratch,
            text,
            Phase::Response,
            tally,
            &NO_KEY,
            &mut unused,
        );
        Ok(replace(text, new))
    }

    fn holds(&self) -> &Holds {
        &self.holds
    }

    fn can_skip(&self, _data: &str) -> bool {
        false
    }
}

/// Checks one streamed answer. A `block` finding ends the stream: the caller writes the
/// protocol's error event instead of the event that carried it, and nothing after.
pub struct StreamChecker {
    filter: CheckFilter,
    state: StreamState,
}

impl StreamChecker {
    /// A checker for the policies that check answers; `None` when none does.
    pub fn new(policies: &[Arc<Policy>]) -> Option<StreamChecker> {
        let policies: Vec<Arc<Policy>> = policies
            .iter()
            .filter(|p| p.on_response().is_some())
            .cloned()
            .collect();
        if policies.is_empty() {
            return None;
        }
        Some(StreamChecker {
            filter: CheckFilter {
                policies,
                scratch: Scratch::default(),
                tally: Tally::default(),
                holds: Holds::default(),
            },
            state: StreamState::default(),
        })
    }

    /// The text of `delta` (after what index `index` held back) that is safe to send now,
    /// masked; the last [`WINDOW`] bytes (more while a finding runs to the end, at most
    /// [`MAX_HOLD`]) wait for the next push or [`flush`](Self::flush).
    pub fn push(&mut self, index: usize, delta: &str) -> Result<String, Blocked> {
        self.filter.push((index, 0), delta, false)
    }

    /// What index `index` still holds, masked (at the end of its text).
    pub fn flush(&mut self, index: usize) -> Result<String, Blocked> {
        self.filter.flush((index, 0))
    }

    /// Rewrites one upstream SSE event's `data`, as [`StreamRestorer::restore_sse_event`]
    /// does, masking instead of restoring.
    ///
    /// [`StreamRestorer::restore_sse_event`]: super::StreamRestorer::restore_sse_event
    pub fn check_sse_event(
        &mut self,
        data: &str,
        client: ClientApi,
    ) -> Result<SseRewrite, Blocked> {
        sse::rewrite(&mut self.filter, &mut self.state, data, client)
    }

    /// The events that carry what is still held, masked, when the upstream stream ended
    /// without the event that would have carried it (a Gemini stream has no end marker).
    pub fn check_sse_end(&mut self, client: ClientApi) -> Result<Vec<ExtraEvent>, Blocked> {
        sse::end(&mut self.filter, &mut self.state, client)
    }

    /// The hits so far (the findings of text already sent).
    pub fn hits(&self) -> &[GuardrailHit] {
        &self.filter.tally.hits
    }

    pub fn held_bytes(&self) -> usize {
        self.filter.holds.bytes()
    }
}

/// Counts, never the held text.
impl fmt::Debug for StreamChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamChecker")
            .field("policies", &self.filter.policies.len())
            .field("held_bytes", &self.held_bytes())
            .field("hits", &self.filter.tally.hits)
            .finish()
    }
}
