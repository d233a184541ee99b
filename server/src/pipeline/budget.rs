//! The budget phase: a caller whose key or consumer has a spend budget reserves the request's
//! worst-case cost — the estimated prompt plus `max_tokens` (or the route's reservation) at the
//! dearest price among the upstreams that may serve it — or is refused with 429
//! `budget_exceeded`. The finish phase replaces the reservation with the real cost.

use super::Caller;
use super::admit::reserved_tokens;
use crate::budgets::{self, BudgetHold};
use crate::proxy::{Inbound, ProxyError};
use crate::snapshot::Route;

/// The request's budget reservations; `Ok(None)` when the caller has no budget.
pub fn reserve_budget(
    caller: &Caller,
    route: &Route,
    model: &str,
    inbound: Inbound,
    body_len: usize,
    max_tokens: Option<u64>,
    now_ms: i64,
) -> Result<Option<BudgetHold>, ProxyError> {
    let Some(key) = caller.key() else {
        return Ok(None);
    };
    if key.budgets.is_empty() {
        return Ok(None);
    }
    let worst = worst_case_micros(route, model, inbound, body_len, max_tokens);
    budgets::reserve(&key.budgets, worst, now_ms)
        .map(Some)
        .map_err(|refusal| ProxyError::BudgetExceeded {
            message: refusal.message,
            retry_after: refusal.retry_after,
        })
}

/// The most this request can cost on any upstream of its route (0 where none has a price).
pub(super) fn worst_case_micros(
    route: &Route,
    model: &str,
    inbound: Inbound,
    body_len: usize,
    max_tokens: Option<u64>,
) -> i64 {
    let total = reserved_tokens(inbound, body_len, max_tokens, route);
    let completion = if inbound.generates() {
        max_tokens.unwrap_or(route.reserve_completion_tokens)
    } else {
        0
    };
    let prompt = total.saturating_sub(completion);
    route
        .upstreams()
        .iter()
        .chain(&route.fallback)
        .filter_map(|upstream| {
            let price = upstream
                .provider
                .pricing
                .price(upstream.target_model(model))?;
            Some(price.worst_case_micros(prompt, completion))
        })
        .max()
        .unwrap_or(0)
}
