//! The admit and budget phases together, for a gateway in cluster mode (`--redis-url`): one
//! round trip to Redis checks and reserves every limit and budget of the request, all or
//! nothing (`shared_state::admission`). When Redis does not answer within its timeout, the
//! `redis_failure` setting decides: `open` runs the local phases (`admit`, `reserve_budget`),
//! counting in this gateway's memory, and `closed` refuses with 503 `redis_unavailable`. A
//! gateway without Redis, and a request under no limit and no budget, never ask Redis.
//!
//! The same round trip reads the response-cache entries the request's first attempt may be
//! answered from (`Ask::cache_entries`), so a cached and limited request asks Redis once.

use std::sync::Arc;

use switchyard_shared::RedisFailure;

use super::admit::{admit, reserved_tokens};
use super::budget::{reserve_budget, worst_case_micros};
use super::{Caller, Finish};
use crate::limits::{Budgets, LimitRegistry, Scope};
use crate::proxy::{Inbound, ProxyError};
use crate::shared_state::admission::{self, SharedLimits, Verdict};
use crate::snapshot::Route;

/// What the admit and budget phases need to know about the request.
#[derive(Debug)]
pub struct Ask<'a> {
    pub caller: &'a Caller,
    pub route: &'a Route,
    pub model: &'a str,
    pub inbound: Inbound,
    pub body_len: usize,
    pub max_tokens: Option<u64>,
    /// The gateway's wall clock, for budget periods.
    pub now_ms: i64,
    /// Response-cache entries in Redis to read with the shared admission (see
    /// `CachePlan::prefetch`); empty when the cache is not in Redis.
    pub cache_entries: &'a [String],
}

/// A refusal, with the rate-limit headers' budgets when a limit refused.
pub type Refused = (ProxyError, Option<Budgets>);

/// What a request that cleared the admit and budget phases carries on.
#[derive(Debug, Default)]
pub struct Cleared {
    /// The budgets for the rate-limit headers, when a limit applies.
    pub budgets: Option<Budgets>,
    /// The values of `Ask::cache_entries`, in order, when Redis admitted the request (and so
    /// read them); `None` when nothing was read.
    pub cached: Option<admission::EntryValues>,
}

/// Whether a request of `caller` on `route` is admitted through Redis (while it answers): the
/// gateway has one, and a limit or budget applies. Only such a request can read cache entries
/// in its admission's round trip.
pub fn asks_redis(shared: Option<&Arc<SharedLimits>>, caller: &Caller, route: &Route) -> bool {
    let key = caller.key();
    shared.is_some_and(|shared| shared.redis.reachable())
        && (route.scope.is_some()
            || key.is_some_and(|key| {
                key.scope.is_some() || key.consumer.scope.is_some() || !key.budgets.is_empty()
            }))
}

/// Admits and reserves, in Redis when the gateway has one, else (or while it does not answer,
/// under `open`) locally; what the request holds goes into `finish`.
pub async fn admit_and_reserve(
    shared: Option<&Arc<SharedLimits>>,
    failure: RedisFailure,
    limiter: &LimitRegistry,
    ask: &Ask<'_>,
    finish: &mut Finish,
) -> Result<Cleared, Refused> {
    let mut unshared = false;
    if let Some(shared) = shared {
        let scopes = scopes(ask);
        let budgets = ask.caller.key().map_or(&[][..], |key| &key.budgets[..]);
        if !scopes.is_empty() || !budgets.is_empty() {
            match admit_shared(shared, ask, &scopes, budgets, finish).await {
                Ok(outcome) => return outcome,
                Err(()) if failure == RedisFailure::Closed => {
                    return Err((ProxyError::RedisUnavailable, None));
                }
                Err(()) => {
                    shared.redis.count_fallback();
                    unshared = true;
                }
            }
        }
    }
    let budgets = admit_locally(limiter, ask, finish, unshared)?;
    Ok(Cleared {
        budgets,
        cached: None,
    })
}

/// The scopes whose limits apply (the same as the local admit phase's).
fn scopes(ask: &Ask<'_>) -> Vec<Scope> {
    let key = ask.caller.key();
    [
        key.and_then(|k| k.scope.as_ref()),
        key.and_then(|k| k.consumer.scope.as_ref()),
        ask.route.scope.as_ref(),
    ]
    .into_iter()
    .flatten()
    .cloned()
    .collect()
}

/// The shared phase: `Err(())` when Redis gave no answer.
async fn admit_shared(
    shared: &Arc<SharedLimits>,
    ask: &Ask<'_>,
    scopes: &[Scope],
    budgets: &[Arc<crate::budgets::CompiledBudget>],
    finish: &mut Finish,
) -> Result<Result<Cleared, Refused>, ()> {
    if let Some(key) = ask.caller.key() {
        key.usage.touch();
    }
    let tokens = if scopes.iter().any(|s| s.limits.limits_tokens()) {
        reserved_tokens(ask.inbound, ask.body_len, ask.max_tokens, ask.route)
    } else {
        0
    };
    let worst = if budgets.is_empty() {
        0
    } else {
        worst_case_micros(
            ask.route,
            ask.model,
            ask.inbound,
            ask.body_len,
            ask.max_tokens,
        )
    };
    let request = admission::Ask {
        scopes,
        tokens,
        budgets,
        worst,
        now_ms: ask.now_ms,
        now_us: None,
        cache_entries: ask.cache_entries,
    };
    let verdict = shared.admit(&request).await.map_err(|_| ())?;
    let limited = !scopes.is_empty();
    Ok(match verdict {
        Verdict::Admitted {
            admission,
            budgets,
            cached,
        } => {
            finish.hold_shared(admission);
            Ok(Cleared {
                budgets: limited.then_some(budgets),
                cached: Some(cached),
            })
        }
        Verdict::Limited { refusal, budgets } => Err((
            ProxyError::RateLimited {
                message: refusal.message,
                kind: refusal.kind,
                retry_after: refusal.retry_after,
            },
            Some(budgets),
        )),
        Verdict::OverBudget(refusal) => Err((
            ProxyError::BudgetExceeded {
                message: refusal.message,
                retry_after: refusal.retry_after,
            },
            None,
        )),
    })
}

/// The local phases, one after the other; `unshared` marks budget spend to add to Redis later.
fn admit_locally(
    limiter: &LimitRegistry,
    ask: &Ask<'_>,
    finish: &mut Finish,
    unshared: bool,
) -> Result<Option<Budgets>, Refused> {
    let budgets = match admit(
        limiter,
        ask.caller,
        ask.route,
        ask.inbound,
        ask.body_len,
        ask.max_tokens,
    ) {
        Ok(Some(admitted)) => {
            finish.hold_admission(admitted.admission);
            Some(admitted.budgets)
        }
        Ok(None) => None,
        Err((error, budgets)) => return Err((error, Some(budgets))),
    };
    match reserve_budget(
        ask.caller,
        ask.route,
        ask.model,
        ask.inbound,
        ask.body_len,
        ask.max_tokens,
        ask.now_ms,
    ) {
        Ok(Some(mut hold)) => {
            if unshared {
                hold.mark_unshared();
            }
            finish.hold_budgets(hold);
        }
        Ok(None) => {}
        Err(error) => return Err((error, None)),
    }
    Ok(budgets)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use switchyard_shared::Limits;

    use super::*;
    use crate::clock::Clock;
    use crate::health::HealthRegistry;
    use crate::limits::ScopeId;
    use crate::metering::Meter;
    use crate::shared_state::Redis;

    /// Shared counters on a Redis that is not there (nothing listens on port 1).
    fn unreachable() -> Arc<SharedLimits> {
        let redis = Redis::connect("redis://127.0.0.1:1", "sy-test", Duration::from_millis(100))
            .expect("a lazy connection");
        SharedLimits::new(Arc::new(redis), Duration::from_secs(30)).0
    }

    fn route(registry: &HealthRegistry, limits: Option<Limits>) -> Route {
        let mut route = crate::snapshot::test_route("chat", None);
        route.scope = limits.map(|limits| Scope {
            id: ScopeId::Route(1),
            state: registry.limits.state(ScopeId::Route(1)),
            limits,
            label: Arc::from("route 'chat'"),
        });
        route
    }

    fn finish(registry: &Arc<HealthRegistry>) -> Finish {
        let (meter, _queue) = Meter::new(false);
        Finish::new(
            Arc::clone(registry),
            meter,
            Arc::new(Clock::default()),
            "req-1".into(),
            "chat",
        )
    }

    fn ask<'a>(route: &'a Route) -> Ask<'a> {
        Ask {
            caller: &Caller::Anonymous,
            route,
            model: "chat",
            inbound: Inbound::Chat,
            body_len: 40,
            max_tokens: None,
            now_ms: 0,
            cache_entries: &[],
        }
    }

    #[tokio::test]
    async fn an_unreachable_redis_refuses_when_closed_and_counts_locally_when_open() {
        let shared = unreachable();
        let registry = Arc::new(HealthRegistry::default());
        let limited = route(
            &registry,
            Some(Limits {
                rpm: Some(1),
                ..Limits::default()
            }),
        );
        let began = std::time::Instant::now();
        let closed = admit_and_reserve(
            Some(&shared),
            RedisFailure::Closed,
            &registry.limits,
            &ask(&limited),
            &mut finish(&registry),
        )
        .await;
        let Err((error, None)) = closed else {
            panic!("closed refuses without rate-limit headers");
        };
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "{:?}",
            began.elapsed()
        );
        assert_eq!(error.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        let body = error.body();
        assert_eq!(body["error"]["type"], "redis_unavailable");
        assert_eq!(body["error"]["code"], "redis_unavailable");
        assert_eq!(shared.redis.fallbacks(), 0);

        let open = |finish| {
            let shared = Arc::clone(&shared);
            let registry = Arc::clone(&registry);
            let limited = &limited;
            async move {
                let mut finish = finish;
                admit_and_reserve(
                    Some(&shared),
                    RedisFailure::Open,
                    &registry.limits,
                    &ask(limited),
                    &mut finish,
                )
                .await
            }
        };
        let first = open(finish(&registry)).await.expect("counted locally");
        assert_eq!(
            first.budgets.and_then(|b| b.requests).map(|b| b.remaining),
            Some(0)
        );
        assert!(first.cached.is_none(), "nothing was read from Redis");
        assert_eq!(shared.redis.fallbacks(), 1);
        let Err((error, Some(_))) = open(finish(&registry)).await else {
            panic!("the local limit applies");
        };
        assert!(matches!(error, ProxyError::RateLimited { .. }));
    }

    #[tokio::test]
    async fn a_request_under_no_limit_never_asks_redis() {
        let shared = unreachable();
        let registry = Arc::new(HealthRegistry::default());
        let open = route(&registry, None);
        let limited = route(
            &registry,
            Some(Limits {
                rpm: Some(1),
                ..Limits::default()
            }),
        );
        assert!(!asks_redis(Some(&shared), &Caller::Anonymous, &open));
        assert!(asks_redis(Some(&shared), &Caller::Anonymous, &limited));
        assert!(!asks_redis(None, &Caller::Anonymous, &limited), "no Redis");
        let admitted = admit_and_reserve(
            Some(&shared),
            RedisFailure::Closed,
            &registry.limits,
            &ask(&open),
            &mut finish(&registry),
        )
        .await
        .expect("nothing to check");
        assert!(admitted.budgets.is_none() && admitted.cached.is_none());
        assert_eq!(shared.redis.failures_total(), 0, "Redis was not called");
    }
}
