//! One text scanned by every applicable policy: findings merged across policies and detectors
//! (overlapping findings become one span, handled once, under the longest finding's detector),
//! blocks decided, and the replacement text built.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use switchyard_shared::guardrails::{GuardrailAction, GuardrailHit, GuardrailMode};

use super::Blocked;
use super::policy::{Found, Policy};

/// Which side of the exchange a text belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    Request,
    Response,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Request => "request",
            Phase::Response => "response",
        }
    }
}

/// What happens to one span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Effect {
    Block,
    Mask,
    Hash,
    Restore,
    /// A monitor-mode policy's finding: counted, never changed.
    Monitor,
}

impl Effect {
    fn as_str(self) -> &'static str {
        match self {
            Effect::Block => "block",
            Effect::Mask => "mask",
            Effect::Hash => "hash",
            Effect::Restore => "redact_restore",
            Effect::Monitor => "monitor",
        }
    }
}

/// What a policy does with a finding of one of its detectors in `phase`, if anything. Answers
/// are only masked or refused (validation allows nothing else in `on_response`).
fn effect(policy: &Policy, detector: usize, phase: Phase) -> Option<Effect> {
    let action = match phase {
        Phase::Request => policy.detector(detector).action,
        Phase::Response => match policy.on_response()? {
            GuardrailAction::Block => GuardrailAction::Block,
            _ => GuardrailAction::Mask,
        },
    };
    if policy.mode() == GuardrailMode::Monitor {
        return Some(Effect::Monitor);
    }
    Some(match action {
        GuardrailAction::Block => Effect::Block,
        GuardrailAction::Mask => Effect::Mask,
        GuardrailAction::Hash => Effect::Hash,
        GuardrailAction::RedactRestore => Effect::Restore,
    })
}

/// A span to handle once: the union of overlapping findings, under the longest one's policy
/// and detector (the earliest, then the first policy and detector, on a tie).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub start: usize,
    pub end: usize,
    pub policy: usize,
    pub detector: usize,
    pub effect: Effect,
    /// The length of the winning finding itself, which decides later merges.
    found_len: usize,
}

/// Buffers reused across the texts of one request or stream.
#[derive(Default)]
pub(super) struct Scratch {
    found: Vec<Found>,
    candidates: Vec<Span>,
    /// Spans that change the text (mask, hash, restore), in text order, not overlapping.
    pub enforce: Vec<Span>,
    /// Monitor-mode spans, merged among themselves, in text order.
    pub monitor: Vec<Span>,
}

impl Scratch {
    /// Scans `text` with every policy and fills `enforce` and `monitor`. A finding of an
    /// enforcing `block` detector refuses the whole text, whatever it overlaps.
    pub(super) fn scan(
        &mut self,
        policies: &[Arc<Policy>],
        phase: Phase,
        text: &str,
    ) -> Result<(), Blocked> {
        self.candidates.clear();
        self.enforce.clear();
        self.monitor.clear();
        for (p, policy) in policies.iter().enumerate() {
            if phase == Phase::Response && policy.on_response().is_none() {
                continue;
            }
            self.found.clear();
            policy.find(text, &mut self.found);
            for found in &self.found {
                let Some(effect) = effect(policy, found.detector, phase) else {
                    continue;
                };
                if effect == Effect::Block {
                    return Err(Blocked {
                        guardrail: policy.name().to_owned(),
                        detector: policy.detector(found.detector).label.clone(),
                    });
                }
                let span = Span {
                    start: found.start,
                    end: found.end,
                    policy: p,
                    detector: found.detector,
                    effect,
                    found_len: found.end - found.start,
                };
                self.candidates.push(span);
            }
        }
        // Earliest first, longest first at one start, then policy and detector order.
        self.candidates
            .sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end), s.policy, s.detector));
        for span in &self.candidates {
            let spans = match span.effect {
                Effect::Monitor => &mut self.monitor,
                _ => &mut self.enforce,
            };
            merge(spans, *span);
        }
        Ok(())
    }
}

/// Adds `span` to sorted, non-overlapping `spans`, merging it into the last one when they
/// overlap: the union is handled once, under the longer finding (the earlier one on a tie).
fn merge(spans: &mut Vec<Span>, span: Span) {
    match spans.last_mut() {
        Some(last) if span.start < last.end => {
            let end = last.end.max(span.end);
            if span.found_len > last.found_len {
                *last = Span {
                    start: last.start,
                    ..span
                };
            }
            last.end = end;
        }
        _ => spans.push(span),
    }
}

/// Counts hits by policy, detector, action and phase, in order of first occurrence.
#[derive(Debug, Default)]
pub(super) struct Tally {
    pub hits: Vec<GuardrailHit>,
}

impl Tally {
    pub(super) fn add(&mut self, policy: &Policy, span: &Span, phase: Phase) {
        let label = &policy.detector(span.detector).label;
        let action = span.effect.as_str();
        let phase = phase.as_str();
        if let Some(hit) = self.hits.iter_mut().find(|h| {
            h.guardrail == policy.name()
                && h.detector == *label
                && h.action == action
                && h.phase == phase
        }) {
            hit.count = hit.count.saturating_add(1);
            return;
        }
        self.hits.push(GuardrailHit {
            guardrail: policy.name().to_owned(),
            detector: label.clone(),
            action: action.to_owned(),
            count: 1,
            phase: phase.to_owned(),
        });
    }
}

/// The placeholders of one request's `redact_restore` values: each distinct value gets one,
/// numbered per label (`[[EMAIL_1]]`, `[[EMAIL_2]]`, `[[PHONE_1]]`).
#[derive(Default)]
pub(super) struct Placeholders {
    /// (placeholder, value), in order of assignment.
    pub pairs: Vec<(String, String)>,
    by_value: HashMap<String, usize>,
    per_label: HashMap<String, u32>,
}

impl Placeholders {
    fn placeholder(&mut self, label: &str, value: &str) -> &str {
        let index = match self.by_value.get(value) {
            Some(index) => *index,
            None => {
                let number = self.per_label.entry(label.to_owned()).or_insert(0);
                *number += 1;
                self.pairs
                    .push((format!("[[{label}_{number}]]"), value.to_owned()));
                self.by_value.insert(value.to_owned(), self.pairs.len() - 1);
                self.pairs.len() - 1
            }
        };
        &self.pairs[index].0
    }
}

/// The first 8 hex digits of HMAC-SHA256(key, value): stable for one gateway key, so the model
/// can tell values apart, and useless for guessing a value without the key.
pub(super) fn digest8(key: &[u8; 32], value: &str) -> String {
    // HMAC pads a short key with zeros to the hash's block size; doing so here makes the
    // construction infallible instead of going through `new_from_slice`'s `Result`.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block.into());
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(8);
    for byte in &digest[..4] {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Builds the replacement of `text` from the enforce spans of `scratch` (`None` when there are
/// none) and counts every span. `hash_key` serves the `hash` action; `placeholders` the
/// `redact_restore` one.
pub(super) fn rewrite(
    policies: &[Arc<Policy>],
    scratch: &Scratch,
    text: &str,
    phase: Phase,
    tally: &mut Tally,
    hash_key: &[u8; 32],
    placeholders: &mut Placeholders,
) -> Option<String> {
    for span in &scratch.monitor {
        tally.add(&policies[span.policy], span, phase);
    }
    if scratch.enforce.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len() + 16 * scratch.enforce.len());
    let mut at = 0;
    for span in &scratch.enforce {
        let policy = &policies[span.policy];
        tally.add(policy, span, phase);
        let label = &policy.detector(span.detector).label;
        let value = &text[span.start..span.end];
        out.push_str(&text[at..span.start]);
        match span.effect {
            Effect::Hash => {
                let _ = write!(out, "[{label}:{}]", digest8(hash_key, value));
            }
            Effect::Restore => out.push_str(placeholders.placeholder(label, value)),
            Effect::Mask | Effect::Block | Effect::Monitor => {
                let _ = write!(out, "[{label}]");
            }
        }
        at = span.end;
    }
    out.push_str(&text[at..]);
    Some(out)
}
