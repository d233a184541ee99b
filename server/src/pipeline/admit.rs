//! The admit phase: every limit that applies (the key's, its consumer's, the route's) must pass.
//! A token limit reserves an estimate now — the prompt from the body's size, plus the completion
//! budget the client set or the route's default — and the finish phase settles it with the real
//! usage, so a burst of concurrent requests cannot overshoot a limit by more than one request's
//! reservation. Also writes the rate-limit headers of the tightest limit.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::Caller;
use crate::limits::{Admission, Budget, Budgets, LimitRegistry, Limiter, Scope};
use crate::proxy::{Inbound, ProxyError};
use crate::snapshot::Route;

/// Bytes of request body counted as one prompt token in the reservation. JSON syntax and English
/// text run at about four bytes a token, so this overestimates slightly, which is the safe side.
const BYTES_PER_TOKEN: usize = 4;

/// An admitted request: what it holds, and the budgets for its headers.
#[derive(Debug)]
pub struct Admitted {
    pub admission: Admission,
    pub budgets: Budgets,
}

/// The scopes whose limits apply to this caller on this route, tightest-named first.
fn scopes(caller: &Caller, route: &Route) -> Vec<Scope> {
    let key = caller.key();
    [
        key.and_then(|k| k.scope.as_ref()),
        key.and_then(|k| k.consumer.scope.as_ref()),
        route.scope.as_ref(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect()
}

/// The prompt's tokens as estimated before any provider counted them: the body's bytes ÷ 4.
pub fn prompt_estimate(body_len: usize) -> u64 {
    u64::try_from(body_len / BYTES_PER_TOKEN).unwrap_or(u64::MAX)
}

/// The tokens to reserve: the prompt estimated from the body, and the completion budget. Unlike
/// `messages_api::estimate_tokens` (for `count_tokens`) it builds no JSON tree: it runs on every
/// request under a token limit.
pub fn reserved_tokens(
    inbound: Inbound,
    body_len: usize,
    max_tokens: Option<u64>,
    route: &Route,
) -> u64 {
    let prompt = prompt_estimate(body_len);
    if inbound.counts_tokens() {
        return 0;
    }
    let completion = if inbound.generates() {
        max_tokens.unwrap_or(route.reserve_completion_tokens)
    } else {
        0
    };
    prompt.saturating_add(completion)
}

/// Admits the request, or refuses it with a 429 that says which limit and when to retry.
/// `Ok(None)` when no limit applies: nothing to hold, nothing to settle.
pub fn admit(
    limiter: &LimitRegistry,
    caller: &Caller,
    route: &Route,
    inbound: Inbound,
    body_len: usize,
    max_tokens: Option<u64>,
) -> Result<Option<Admitted>, (ProxyError, Budgets)> {
    if let Some(key) = caller.key() {
        key.usage.touch();
    }
    let scopes = scopes(caller, route);
    if scopes.is_empty() {
        return Ok(None);
    }
    let tokens = if scopes.iter().any(|s| s.limits.limits_tokens()) {
        reserved_tokens(inbound, body_len, max_tokens, route)
    } else {
        0
    };
    match limiter.admit(scopes, tokens) {
        Ok(admission) => {
            let budgets = limiter.budgets(admission.scopes());
            Ok(Some(Admitted { admission, budgets }))
        }
        Err((refusal, budgets)) => Err((
            ProxyError::RateLimited {
                message: refusal.message,
                kind: refusal.kind,
                retry_after: refusal.retry_after,
            },
            budgets,
        )),
    }
}

/// OpenAI's duration format for `x-ratelimit-reset-*`: `20ms`, `1s`, `6m0s`, `1h2m3s`.
fn openai_duration(wait: Duration) -> String {
    if wait < Duration::from_secs(1) {
        return match wait.as_millis() {
            0 => "0s".to_owned(),
            ms => format!("{ms}ms"),
        };
    }
    let total = crate::proxy::retry_after_seconds(wait);
    let (hours, minutes, seconds) = (total / 3600, total / 60 % 60, total % 60);
    match (hours, minutes) {
        (0, 0) => format!("{seconds}s"),
        (0, _) => format!("{minutes}m{seconds}s"),
        _ => format!("{hours}h{minutes}m{seconds}s"),
    }
}

/// The header names of one dialect: (limit, remaining, reset) for requests, then for tokens.
/// Static, so writing the headers parses and allocates no names on the request path.
type Names = [[HeaderName; 3]; 2];

const OPENAI_NAMES: Names = [
    [
        HeaderName::from_static("x-ratelimit-limit-requests"),
        HeaderName::from_static("x-ratelimit-remaining-requests"),
        HeaderName::from_static("x-ratelimit-reset-requests"),
    ],
    [
        HeaderName::from_static("x-ratelimit-limit-tokens"),
        HeaderName::from_static("x-ratelimit-remaining-tokens"),
        HeaderName::from_static("x-ratelimit-reset-tokens"),
    ],
];

const ANTHROPIC_NAMES: Names = [
    [
        HeaderName::from_static("anthropic-ratelimit-requests-limit"),
        HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
        HeaderName::from_static("anthropic-ratelimit-requests-reset"),
    ],
    [
        HeaderName::from_static("anthropic-ratelimit-tokens-limit"),
        HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
        HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
    ],
];

/// Writes the rate-limit headers of the tightest request and token limits: OpenAI's
/// `x-ratelimit-*`, or Anthropic's `anthropic-ratelimit-*` on the Messages API.
pub fn rate_limit_headers(budgets: &Budgets, inbound: Inbound, headers: &mut HeaderMap) {
    let anthropic = matches!(inbound, Inbound::Messages | Inbound::CountTokens);
    let names = if anthropic {
        &ANTHROPIC_NAMES
    } else {
        &OPENAI_NAMES
    };
    for (budget, [limit_name, remaining_name, reset_name]) in
        [budgets.requests, budgets.tokens].into_iter().zip(names)
    {
        let Some(Budget {
            limit,
            remaining,
            reset,
        }) = budget
        else {
            continue;
        };
        let reset = if anthropic {
            humantime::format_rfc3339_seconds(SystemTime::now() + reset).to_string()
        } else {
            openai_duration(reset)
        };
        headers.insert(limit_name.clone(), HeaderValue::from(limit));
        headers.insert(remaining_name.clone(), HeaderValue::from(remaining));
        if let Ok(reset) = HeaderValue::try_from(reset) {
            headers.insert(reset_name.clone(), reset);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchyard_shared::Limits;

    use super::*;
    use crate::limits::ScopeId;

    fn limited_route(registry: &LimitRegistry, limits: Limits) -> Route {
        let mut route = crate::snapshot::test_route("chat", None);
        route.scope = Some(Scope {
            id: ScopeId::Route(1),
            state: registry.state(ScopeId::Route(1)),
            limits,
            label: Arc::from("route 'chat'"),
        });
        route
    }

    #[test]
    fn estimates_prompt_and_completion() {
        let route = crate::snapshot::test_route("chat", None);
        assert_eq!(reserved_tokens(Inbound::Chat, 400, Some(50), &route), 150);
        assert_eq!(
            reserved_tokens(Inbound::Chat, 400, None, &route),
            100 + route.reserve_completion_tokens
        );
        assert_eq!(
            reserved_tokens(Inbound::Embeddings, 400, Some(50), &route),
            100
        );
        assert_eq!(
            reserved_tokens(Inbound::CountTokens, 400, Some(50), &route),
            0
        );
    }

    #[test]
    fn refusals_name_the_limit_and_carry_budgets() {
        let registry = LimitRegistry::default();
        let route = limited_route(
            &registry,
            Limits {
                rpm: Some(2),
                ..Limits::default()
            },
        );
        for _ in 0..2 {
            let admitted = admit(
                &registry,
                &Caller::Anonymous,
                &route,
                Inbound::Chat,
                10,
                None,
            )
            .expect("fits")
            .expect("limited");
            assert!(admitted.budgets.requests.is_some());
            assert!(admitted.budgets.tokens.is_none());
        }
        let (error, budgets) = admit(
            &registry,
            &Caller::Anonymous,
            &route,
            Inbound::Chat,
            10,
            None,
        )
        .expect_err("third refused");
        assert_eq!(
            error.to_string(),
            "Rate limit reached for route 'chat': 2 requests per minute. Retry after 30s."
        );
        assert_eq!(budgets.requests.map(|b| b.remaining), Some(0));
    }

    #[test]
    fn no_limits_means_nothing_to_hold() {
        let registry = LimitRegistry::default();
        let route = crate::snapshot::test_route("chat", None);
        assert!(
            admit(
                &registry,
                &Caller::Anonymous,
                &route,
                Inbound::Chat,
                10,
                None
            )
            .expect("open")
            .is_none()
        );
    }

    #[test]
    fn headers_in_both_dialects() {
        let budgets = Budgets {
            requests: Some(Budget {
                limit: 60,
                remaining: 59,
                reset: Duration::from_secs(1),
            }),
            tokens: Some(Budget {
                limit: 1000,
                remaining: 0,
                reset: Duration::from_secs(360),
            }),
        };
        let mut openai = HeaderMap::new();
        rate_limit_headers(&budgets, Inbound::Chat, &mut openai);
        assert_eq!(openai["x-ratelimit-limit-requests"], "60");
        assert_eq!(openai["x-ratelimit-remaining-requests"], "59");
        assert_eq!(openai["x-ratelimit-reset-requests"], "1s");
        assert_eq!(openai["x-ratelimit-reset-tokens"], "6m0s");
        let mut anthropic = HeaderMap::new();
        rate_limit_headers(&budgets, Inbound::Messages, &mut anthropic);
        assert_eq!(anthropic["anthropic-ratelimit-tokens-remaining"], "0");
        assert!(anthropic.get("x-ratelimit-limit-requests").is_none());
        assert_eq!(openai_duration(Duration::from_millis(20)), "20ms");
        assert_eq!(openai_duration(Duration::from_secs(3723)), "1h2m3s");
    }
}
