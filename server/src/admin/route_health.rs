//! The routes part of `GET /api/health`: each route's strategy and what routing currently knows
//! of each of its upstreams, with predictions for a reference request, so an operator can see
//! why traffic goes where it goes.

use switchyard_shared::RoutingStrategy;
use switchyard_shared::admin::{RouteHealthView, UpstreamHealthView};
use tokio::time::Instant;

use crate::routing::Demand;
use crate::routing::choose::{Candidate, predict_cost_picos, predict_ms};
use crate::snapshot::{Route, Snapshot, Upstream};

/// The prompt tokens of the reference request the predictions are for.
pub const REFERENCE_PROMPT_TOKENS: u64 = 1_000;

/// Picodollars in one US dollar: prices are kept in picodollars and shown in dollars only here.
const PICOS_PER_USD: f64 = 1e12;

/// Every route of `snapshot`, in its order; `now_ms` is the gateway clock as an estimate stamp.
pub fn route_views(snapshot: &Snapshot, now: Instant, now_ms: u32) -> Vec<RouteHealthView> {
    // A chat of 1,000 prompt tokens without max_tokens: predictions use each upstream's own
    // recent output length, so they compare like with like.
    let demand = Demand {
        prompt_tokens: REFERENCE_PROMPT_TOKENS,
        max_tokens: None,
        generates: true,
        sticky: None,
        now_ms,
    };
    snapshot
        .routes()
        .iter()
        .map(|route| route_view(route, now, &demand))
        .collect()
}

fn route_view(route: &Route, now: Instant, demand: &Demand) -> RouteHealthView {
    let spec = &route.spec;
    let target = match spec.strategy {
        RoutingStrategy::CostUnderLatency => spec.max_latency_ms,
        _ => None,
    };
    let primaries = route
        .upstreams()
        .iter()
        .map(|upstream| upstream_view(upstream, false, now, demand, target));
    // Fallbacks are never chosen by the strategy, so the target says nothing about them.
    let fallbacks = route
        .fallback
        .iter()
        .map(|upstream| upstream_view(upstream, true, now, demand, None));
    RouteHealthView {
        name: route.name.to_string(),
        strategy: spec.strategy,
        max_latency_ms: spec.max_latency_ms,
        sticky_by: spec.sticky_by.as_ref().map(ToString::to_string),
        upstreams: primaries.chain(fallbacks).collect(),
    }
}

fn upstream_view(
    upstream: &Upstream,
    fallback: bool,
    now: Instant,
    demand: &Demand,
    target_ms: Option<u64>,
) -> UpstreamHealthView {
    let est = upstream.stats.read(demand.now_ms);
    let candidate = Candidate {
        index: 0,
        weight: upstream.weight,
        est,
        // Only an upstream with a fixed model has a price of its own; one that passes the
        // client's model on costs whatever that model costs, which no reference request names.
        price: upstream.price,
        seed: upstream.seed,
    };
    let predicted_ms = predict_ms(&est, demand);
    UpstreamHealthView {
        provider: upstream.provider.name.to_string(),
        model: upstream.model.as_deref().map(str::to_owned),
        priority: upstream.priority,
        weight: upstream.weight,
        fallback,
        available: upstream.provider.health.available(now),
        in_flight: est.in_flight,
        samples: est.samples,
        ttft_ms: est.ttft_ms.map(f64::from),
        decode_tokens_per_s: est
            .ms_per_token
            .filter(|ms| *ms > 0.0)
            .map(|ms| 1000.0 / f64::from(ms)),
        output_tokens: est.output_tokens.map(f64::from),
        // The output length and the cached share are measured together, in one word, so the
        // share is known exactly when the output length is (the estimate reads it as 0 before).
        cached_share: est.output_tokens.map(|_| f64::from(est.cached_share)),
        measured_ago_ms: est.age_ms.map(u64::from),
        predicted_ms: f64::from(predicted_ms),
        predicted_cost_usd: predict_cost_picos(&candidate, demand)
            .map(|picos| picos as f64 / PICOS_PER_USD),
        meets_target: target_ms.map(|max| f64::from(predicted_ms) <= max as f64),
    }
}
