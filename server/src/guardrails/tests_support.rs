//! What the tests of the Responses API, Gemini and the other endpoints share: the policies, a
//! request applied, and a stream run event by event into what the client reads.

use std::sync::Arc;

use serde_json::Value;
use switchyard_shared::guardrails::{DetectorType, GuardrailAction, ResponseCheck};

use super::tests_detect::{detector, spec};
use super::{Api, Blocked, Policy, SseRewrite, apply_request};

pub(super) const CARD: &str = "4111 1111 1111 1111";

/// Masks e-mail addresses and card numbers.
pub(super) fn mask_policy() -> Arc<Policy> {
    policy(GuardrailAction::Mask, GuardrailAction::Mask)
}

/// Masks e-mail addresses and refuses card numbers.
pub(super) fn block_policy() -> Arc<Policy> {
    policy(GuardrailAction::Mask, GuardrailAction::Block)
}

/// Checks answers for e-mail addresses and card numbers with `action`.
pub(super) fn answer_policy(action: GuardrailAction) -> Arc<Policy> {
    answer_check(GuardrailAction::Mask, GuardrailAction::Mask, Some(action))
}

fn policy(email: GuardrailAction, card: GuardrailAction) -> Arc<Policy> {
    answer_check(email, card, None)
}

fn answer_check(
    email: GuardrailAction,
    card: GuardrailAction,
    on_response: Option<GuardrailAction>,
) -> Arc<Policy> {
    let mut spec = spec(
        "pii",
        vec![
            detector(DetectorType::Email, email),
            detector(DetectorType::CreditCard, card),
        ],
    );
    spec.on_response = on_response.map(|action| ResponseCheck { action });
    Arc::new(Policy::compile(&spec).unwrap_or_else(|e| panic!("{e}")))
}

/// The body `policies` send upstream for `body`.
pub(super) fn masked(body: &Value, api: Api) -> Value {
    let bytes = body.to_string();
    let applied = apply_request(&[mask_policy()], bytes.as_bytes(), api, &[3; 32]);
    let applied = applied.unwrap_or_else(|b| panic!("blocked: {b}"));
    let sent = applied.body.unwrap_or_else(|| panic!("body unchanged"));
    serde_json::from_slice(&sent).unwrap_or_else(|e| panic!("{e}"))
}

/// The refusal of a `block` policy for `body`, if any.
pub(super) fn blocked(body: &Value, api: Api) -> Option<Blocked> {
    let bytes = body.to_string();
    apply_request(&[block_policy()], bytes.as_bytes(), api, &[3; 32]).err()
}

/// An event as the client reads it: its `event:` name and its data (JSON, or a string).
pub(super) type ClientEvent = (Option<String>, Value);

fn parse(data: &str) -> Value {
    serde_json::from_str(data).unwrap_or_else(|_| Value::String(data.to_owned()))
}

/// Runs `(name, data)` events through `rewrite`; returns what the client reads, in order.
pub(super) fn run(
    events: &[(Option<String>, String)],
    mut rewrite: impl FnMut(&str) -> SseRewrite,
) -> Vec<ClientEvent> {
    let mut out = Vec::new();
    for (name, data) in events {
        let rewritten = rewrite(data);
        for extra in &rewritten.before {
            out.push((extra.event.map(str::to_owned), parse(&extra.data)));
        }
        out.push((
            name.clone(),
            parse(rewritten.data.as_deref().unwrap_or(data)),
        ));
    }
    out
}

/// Unnamed `data:` events.
pub(super) fn unnamed(events: Vec<String>) -> Vec<(Option<String>, String)> {
    events.into_iter().map(|data| (None, data)).collect()
}
