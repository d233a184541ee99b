//! The guardrails phase: the route's policies, then the caller's consumer's, applied to the
//! request body in one pass (`guardrails::apply_request`). A `block` finding refuses the request
//! before any provider sees it; `mask`, `hash` and `redact_restore` rewrite the body that goes
//! upstream; the hits (names and counts, never values) go to the request's record.

use std::sync::Arc;

use bytes::Bytes;

use super::Caller;
use crate::guardrails::{self, Applied, Blocked, Policy};
use crate::proxy::Inbound;
use crate::snapshot::Route;

/// The policies a request goes through: its route's, then its consumer's (each once).
pub fn policies(route: &Route, caller: &Caller) -> Vec<Arc<Policy>> {
    let consumer = caller.key().map(|key| key.consumer.guardrails.as_slice());
    let consumer = consumer.unwrap_or_default();
    if consumer.is_empty() {
        return route.guardrails.clone();
    }
    let mut all = route.guardrails.clone();
    for policy in consumer {
        if !all.iter().any(|p| Arc::ptr_eq(p, policy)) {
            all.push(Arc::clone(policy));
        }
    }
    all
}

/// Applies `policies` to the request body; nothing to do costs nothing.
pub fn guard_request(
    policies: &[Arc<Policy>],
    body: &Bytes,
    inbound: Inbound,
    key: &[u8; 32],
) -> Result<Applied, Blocked> {
    if policies.is_empty() {
        return Ok(Applied::default());
    }
    guardrails::apply_request(policies, body, inbound.guardrails_api(), key)
}
