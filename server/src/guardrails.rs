//! PII guardrails as a pure library: policies compiled once per snapshot, applied to a request
//! body before it leaves (block, mask, hash, or redact with restore), and checks of answers.
//!
//! The request pipeline calls [`apply_request`] with the route's (and consumer's) policies; a
//! [`Blocked`] becomes a 400 `content_filtered` naming the policy and detector. When values were
//! redacted, the [`Restorer`] it returns turns placeholders in the answer back into them:
//! [`Restorer::restore_json_answer`] for whole answers, [`Restorer::stream`] for streams. Answer
//! checks (`on_response`) are [`check_answer`] and [`StreamChecker`]; run them before restoring,
//! so a restored value is never masked again. Hits carry labels and counts, never values, and no
//! `Debug` or `Display` here prints a value.

mod check;
mod policy;
mod restore;
mod scan;
mod sse;
mod sse_gemini;
mod sse_openai;
mod sse_responses;
mod validate;
mod walk;
mod walk_endpoints;
mod walk_gemini;
mod walk_responses;

#[cfg(test)]
mod tests_answer;
#[cfg(test)]
mod tests_apply;
#[cfg(test)]
mod tests_bench;
#[cfg(test)]
mod tests_detect;
#[cfg(test)]
mod tests_endpoints;
#[cfg(test)]
mod tests_gemini;
#[cfg(test)]
mod tests_responses;
#[cfg(test)]
mod tests_support;

use std::fmt;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::Value;
use switchyard_shared::guardrails::GuardrailHit;

pub use check::{StreamChecker, check_answer};
pub use policy::Policy;
pub use restore::{Restorer, StreamRestorer};
pub use sse::{ExtraEvent, SseRewrite};
pub(crate) use sse_responses::sequence_number;

use scan::{Phase, Placeholders, Scratch, Tally};
use walk::Kind;

/// The client-facing API of a request body or answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Api {
    /// OpenAI chat completions.
    Chat,
    /// OpenAI embeddings.
    Embeddings,
    /// Anthropic messages.
    Messages,
    /// OpenAI's Responses API.
    Responses,
    /// Gemini's generateContent.
    Gemini,
    /// One of OpenAI's other endpoints (completions, images, audio, moderations, rerank).
    Endpoint(crate::protocols::Endpoint),
}

/// The stream protocol the client reads.
pub use crate::stream::ClientApi;

/// A refusal: the policy and the detector that found something a `block` action forbids. It
/// names no value, so it can be shown to the client and logged as it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub guardrail: String,
    /// The detector's label (`CREDIT_CARD`).
    pub detector: String,
}

impl Blocked {
    /// The refusal as its request record keeps it; `phase` is `request` or `response`.
    pub fn hit(&self, phase: &str) -> GuardrailHit {
        GuardrailHit {
            guardrail: self.guardrail.clone(),
            detector: self.detector.clone(),
            action: "block".to_owned(),
            count: 1,
            phase: phase.to_owned(),
        }
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "guardrail '{}' blocked content matched by its {} detector",
            self.guardrail, self.detector
        )
    }
}

impl std::error::Error for Blocked {}

/// What [`apply_request`] did to a body.
#[derive(Default)]
pub struct Applied {
    /// The body to send upstream, or `None` when nothing changed: the original bytes go as
    /// they came.
    pub body: Option<Bytes>,
    /// Hits by policy, detector and action (monitor-mode hits included).
    pub hits: Vec<GuardrailHit>,
    /// Present when values were redacted: restores them in the answer.
    pub restore: Option<Restorer>,
}

/// Shows sizes and hits, never the rewritten body (a monitor-mode policy leaves values in it).
impl fmt::Debug for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Applied")
            .field("body_bytes", &self.body.as_ref().map(Bytes::len))
            .field("hits", &self.hits)
            .field("restore", &self.restore)
            .finish()
    }
}

/// Applies `policies`, in order, to a request body of `api`. Only the text the model reads is
/// scanned, each string once by every policy; a value two detectors find is handled once. A
/// body that is not a JSON object is returned unchanged: the provider refuses it anyway.
/// `hash_key` keys the `hash` action's digests; keep it for as long as digests should match.
pub fn apply_request(
    policies: &[Arc<Policy>],
    body: &[u8],
    api: Api,
    hash_key: &[u8; 32],
) -> Result<Applied, Blocked> {
    if policies.is_empty() {
        return Ok(Applied::default());
    }
    let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
        return Ok(Applied::default());
    };
    let mut scratch = Scratch::default();
    let mut tally = Tally::default();
    let mut placeholders = Placeholders::default();
    let mut changed = false;
    walk::request(&mut value, api, &mut |text, kind| {
        changed |= visit(text, kind, &mut |text: &mut String| {
            scratch.scan(policies, Phase::Request, text)?;
            let new = scan::rewrite(
                policies,
                &scratch,
                text,
                Phase::Request,
                &mut tally,
                hash_key,
                &mut placeholders,
            );
            Ok(replace(text, new))
        })?;
        Ok(())
    })?;
    Ok(Applied {
        body: changed.then(|| Bytes::from(value.to_string())),
        hits: tally.hits,
        restore: Restorer::new(placeholders.pairs),
    })
}

/// Runs `f` on the text of one visited string: the string itself, or each string inside JSON
/// text (written back only when one changed). JSON text that does not parse is taken as text.
/// Returns whether anything changed.
fn visit<E>(
    text: &mut String,
    kind: Kind,
    f: &mut impl FnMut(&mut String) -> Result<bool, E>,
) -> Result<bool, E> {
    if kind == Kind::Json
        && let Ok(mut inner) = serde_json::from_str::<Value>(text)
    {
        let mut changed = false;
        walk::strings(&mut inner, &mut |s, _| {
            changed |= f(s)?;
            Ok(())
        })?;
        if changed {
            *text = inner.to_string();
        }
        return Ok(changed);
    }
    f(text)
}

fn replace(text: &mut String, new: Option<String>) -> bool {
    match new {
        Some(new) => {
            *text = new;
            true
        }
        None => false,
    }
}
