//! The routing strategies (issue 15), measured as the latency arm's third round of interleaved
//! requests, one at a time.
//!
//! Three providers, `bench-a`, `bench-b` and `bench-c`, all point at the plain mock and differ
//! only in the prices their overrides give the upstream model (cheap, mid, dear). Six routes,
//! each selected by an exact model name of the same length, spread over the three with equal
//! weights: `bench-w3` by weight and one route per other strategy (`cost_under_latency` with a
//! target far above what the mock takes; `sticky` on `x-session-id`). Every strategy target
//! sends 64 session ids in turn in `x-session-id`, so that the six requests differ only in their
//! model. The plain `switchyard` target (one upstream, the route of section 1, without the
//! header) and `direct` run with them as references.
//!
//! The providers and routes are created through the admin API before the round and deleted after
//! it, so the other arms see the base configuration. A build that refuses them (one without
//! strategies) reports the round as not available.
//!
//! Every strategy route serves the same mock, so what one costs over `bench-w3` is the choice
//! itself: reading the estimates, the candidates' vector, the draws, and for `sticky` hashing
//! the session. The order of the targets is shuffled each round, so that no target always
//! follows the same other one (a request that follows the direct mock finds the gateway colder).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::client::{Conn, Target, chat_body};
use crate::latency::{ArmLatency, warm_up};
use crate::setup::{
    Ctx, MODEL_FAST, STICKY_HEADER, STRATEGY_PROVIDERS, STRATEGY_ROUTES, strategy_providers,
    strategy_routes,
};
use crate::stats::{Added, Hist, Summary};

/// The targets' names in the report that are not strategies.
pub const PASS_THROUGH: &str = "switchyard";
/// The strategy every other one is compared with.
pub const WEIGHTED: &str = "weighted";
/// Session ids the sticky target sends in turn.
pub const SESSIONS: usize = 64;
/// The most a strategy may add to the p50 over `weighted` (issue 15).
pub const BUDGET_P50_US: f64 = 2.0;

const PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
const STRATEGY_HEADER: HeaderName = HeaderName::from_static("x-switchyard-strategy");

/// How long the probe waits for the new routes to serve.
const LIVE_WAIT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
pub struct StrategiesResult {
    pub requests_per_arm: usize,
    pub warmup_per_arm: usize,
    pub sessions: usize,
    /// `switchyard`, `direct`, then one target per strategy, named by it. `added` is over this
    /// round's `direct`.
    pub arms: Vec<ArmLatency>,
    pub strategies: Vec<StrategyFigures>,
}

#[derive(Serialize)]
pub struct StrategyFigures {
    pub strategy: String,
    /// The model that selects its route.
    pub model: String,
    /// This strategy minus `weighted`, percentile by percentile; `None` for `weighted`.
    pub over_weighted: Option<Added>,
    /// Which provider answered the measured requests (`x-switchyard-provider`), with counts.
    pub providers: BTreeMap<String, u64>,
    /// The measured answers' `x-switchyard-strategy`, with counts.
    pub headers: BTreeMap<String, u64>,
}

impl StrategiesResult {
    /// The round's figures for the target called `name`.
    pub fn arm(&self, name: &str) -> Option<&ArmLatency> {
        self.arms.iter().find(|a| a.name == name)
    }
}

/// The outcome: measured, or the reason the build cannot be measured this way.
pub enum Outcome {
    Measured(Box<StrategiesResult>),
    NotAvailable(String),
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    if let Some(refused) = install(ctx).await? {
        return Ok(Outcome::NotAvailable(refused));
    }
    let measured = measure(ctx).await;
    // The other arms start from the base configuration: take the round's routes away whatever
    // happened.
    let removed = remove(ctx).await;
    let result = measured?;
    removed?;
    Ok(Outcome::Measured(Box::new(result)))
}

/// Creates the round's providers and routes. `Some(reason)` when the gateway refuses a route
/// (a build without strategies).
async fn install(ctx: &Ctx) -> anyhow::Result<Option<String>> {
    let mut admin = ctx.gateway.admin().await?;
    for spec in strategy_providers(&ctx.mock) {
        let (status, body) = admin
            .call(Method::POST, "/api/providers", Some(&spec))
            .await?;
        if !status.is_success() {
            bail!(
                "creating provider {} answered {status}: {body}",
                spec["name"]
            );
        }
    }
    for spec in strategy_routes() {
        let (status, body) = admin.call(Method::POST, "/api/routes", Some(&spec)).await?;
        if status.is_client_error() {
            return Ok(Some(format!(
                "not available: the gateway refused route {} ({status}: {})",
                spec["name"],
                message(&body)
            )));
        }
        if !status.is_success() {
            bail!("creating route {} answered {status}: {body}", spec["name"]);
        }
    }
    Ok(None)
}

/// Deletes what [`install`] created, routes first (they name the providers). Missing ones are
/// fine: a refused route was never created.
async fn remove(ctx: &Ctx) -> anyhow::Result<()> {
    let mut admin = ctx.gateway.admin().await?;
    let routes = STRATEGY_ROUTES.iter().map(|(_, model)| ("routes", *model));
    let providers = STRATEGY_PROVIDERS
        .iter()
        .map(|(name, _, _)| ("providers", *name));
    for (kind, name) in routes.chain(providers) {
        let path = format!("/api/{kind}/{name}");
        let (status, body) = admin.call(Method::DELETE, &path, None).await?;
        if !status.is_success() && status != StatusCode::NOT_FOUND {
            bail!("DELETE {path} answered {status}: {body}");
        }
    }
    Ok(())
}

fn message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .or_else(|| body["message"].as_str())
        .map_or_else(|| body.to_string(), str::to_owned)
}

async fn measure(ctx: &Ctx) -> anyhow::Result<StrategiesResult> {
    let gateway = ctx.gateway.target_named(PASS_THROUGH);
    let sessions: Vec<HeaderValue> = (0..SESSIONS)
        .map(|i| HeaderValue::from_str(&format!("bench-session-{i:02}")))
        .collect::<Result<_, _>>()?;
    let mut targets: Vec<Arc<Target>> = vec![Arc::clone(&gateway), Arc::clone(&ctx.direct)];
    // Every strategy target sends the session header, not only the sticky one: the requests
    // then differ only in their model, and what the sticky route adds is its choice, not the
    // parsing of one more header.
    for (strategy, model) in STRATEGY_ROUTES {
        targets.push(
            gateway
                .with_body(strategy, chat_body(model, false))
                .rotating(HeaderName::from_static(STICKY_HEADER), sessions.clone()),
        );
    }
    for target in &targets[2..] {
        probe(target).await?;
    }

    let mut conns = Vec::with_capacity(targets.len());
    for target in &targets {
        conns.push(Conn::open(target).await?);
    }
    let body = chat_body(MODEL_FAST, false);
    let bodies: Vec<Bytes> = targets.iter().map(|t| t.body_or(&body)).collect();
    warm_up(&mut conns, &bodies, ctx.plan.latency_warmup).await;
    let rounds = interleave_shuffled(&mut conns, &bodies, ctx.plan.latency_requests).await;

    let summaries: Vec<Summary> = rounds.hists.iter().map(Hist::summary).collect();
    let direct = summaries[1];
    let arms: Vec<ArmLatency> = targets
        .iter()
        .zip(&summaries)
        .zip(&rounds.errors)
        .enumerate()
        .map(|(i, ((target, &latency), &errors))| ArmLatency {
            name: target.name.clone(),
            added: (i != 1).then(|| Added::between(&latency, &direct)),
            latency,
            errors,
        })
        .collect();
    let weighted = summaries[2];
    let strategies = STRATEGY_ROUTES
        .iter()
        .enumerate()
        .map(|(k, &(strategy, model))| {
            let i = k + 2;
            StrategyFigures {
                strategy: strategy.to_owned(),
                model: model.to_owned(),
                over_weighted: (strategy != WEIGHTED)
                    .then(|| Added::between(&summaries[i], &weighted)),
                providers: rounds.providers[i].clone(),
                headers: rounds.headers[i].clone(),
            }
        })
        .collect();
    Ok(StrategiesResult {
        requests_per_arm: ctx.plan.latency_requests,
        warmup_per_arm: ctx.plan.latency_warmup,
        sessions: SESSIONS,
        arms,
        strategies,
    })
}

/// One request to a strategy target, until its route serves: the answer must name the strategy
/// in `x-switchyard-strategy`, or the round would measure something else.
async fn probe(target: &Arc<Target>) -> anyhow::Result<()> {
    let deadline = Instant::now() + LIVE_WAIT;
    let mut conn = Conn::open(target).await?;
    loop {
        let reply = conn.post(target.body_or(&Bytes::new())).await?;
        let strategy = header(&reply.headers, &STRATEGY_HEADER);
        if reply.status == StatusCode::OK {
            if strategy.split(';').next() == Some(target.name.as_str()) {
                return Ok(());
            }
            bail!(
                "{} answered with x-switchyard-strategy `{strategy}`",
                target.name
            );
        }
        if Instant::now() >= deadline {
            bail!(
                "{} answered {}: {}",
                target.name,
                reply.status,
                String::from_utf8_lossy(&reply.body)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn header(headers: &HeaderMap, name: &HeaderName) -> String {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none)")
        .to_owned()
}

/// What [`interleave_shuffled`] saw, per connection.
struct Rounds {
    hists: Vec<Hist>,
    errors: Vec<u64>,
    providers: Vec<BTreeMap<String, u64>>,
    headers: Vec<BTreeMap<String, u64>>,
}

/// Sends `rounds` requests through each connection, one at a time, every connection once per
/// round in an order shuffled each round; times the successful ones and counts which provider
/// answered and what the strategy header said (after the clock has stopped).
async fn interleave_shuffled(conns: &mut [Conn], bodies: &[Bytes], rounds: usize) -> Rounds {
    let n = conns.len();
    let mut seen = Rounds {
        hists: (0..n).map(|_| Hist::default()).collect(),
        errors: vec![0; n],
        providers: vec![BTreeMap::new(); n],
        headers: vec![BTreeMap::new(); n],
    };
    let mut rng = SplitMix(0x5EED_0015);
    let mut order: Vec<usize> = (0..n).collect();
    for _ in 0..rounds {
        rng.shuffle(&mut order);
        for &j in &order {
            let started = Instant::now();
            let answer = conns[j].post_answered(bodies[j].clone()).await;
            let elapsed = started.elapsed();
            match answer {
                Some(headers) => {
                    seen.hists[j].record(elapsed);
                    *seen.providers[j]
                        .entry(header(&headers, &PROVIDER_HEADER))
                        .or_default() += 1;
                    *seen.headers[j]
                        .entry(header(&headers, &STRATEGY_HEADER))
                        .or_default() += 1;
                }
                None => seen.errors[j] += 1,
            }
        }
    }
    seen
}

/// A small deterministic generator for the order of the targets (splitmix64).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fisher–Yates.
    fn shuffle(&mut self, items: &mut [usize]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_order_is_a_permutation_and_firsts_spread() {
        let mut rng = SplitMix(1);
        let mut order: Vec<usize> = (0..8).collect();
        let mut first = [0u32; 8];
        for _ in 0..8_000 {
            rng.shuffle(&mut order);
            let mut sorted = order.clone();
            sorted.sort_unstable();
            assert_eq!(sorted, (0..8).collect::<Vec<_>>());
            first[order[0]] += 1;
        }
        assert!(first.iter().all(|&f| (800..1200).contains(&f)), "{first:?}");
    }

    #[test]
    fn routes_and_providers_agree() {
        let routes = strategy_routes();
        assert_eq!(routes.len(), STRATEGY_ROUTES.len());
        assert!(
            STRATEGY_ROUTES
                .iter()
                .all(|(_, m)| m.len() == "bench-w3".len())
        );
        let sticky = &routes[5];
        assert_eq!(sticky["strategy"], "sticky");
        assert_eq!(sticky["sticky_by"], "header:x-session-id");
        assert_eq!(routes[3]["max_latency_ms"], 5000);
        assert!(routes[0].get("strategy").is_none());
        assert_eq!(routes[1]["upstreams"].as_array().map(Vec::len), Some(3));
    }
}
