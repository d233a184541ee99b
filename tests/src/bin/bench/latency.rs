//! Arm 1, added latency: one request at a time, the gateway, the mock directly and any compared
//! gateway taking turns request by request, so that drift of the machine affects all alike.
//!
//! A second gateway with its request log off joins them when the build has that switch, so that
//! what writing the log costs is measured under the same interleaving. It is called without and
//! with a key, like the main gateway, so that each gateway serves the same share of the requests
//! and each plain target follows the other gateway's keyed one in the rotation: a process that
//! served more of the requests would stay warmer and look faster.
//!
//! A second round follows with the response cache and the guardrails (issue 13, see
//! cache_guardrails.rs). It has a round of its own so that the first one, and the log-off
//! comparison within it, stays as it was.
//!
//! A third round measures the routing strategies (issue 15, see strategies.rs).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use serde::Serialize;

use crate::cache_guardrails::{self, CacheGuardrailsResult};
use crate::client::{Conn, Target, chat_body};
use crate::report::Arm;
use crate::request_log::LOG_OFF_TARGET;
use crate::setup::{Ctx, MODEL_FAST};
use crate::stats::{Added, Hist, Summary, round2};
use crate::strategies::{self, StrategiesResult};

#[derive(Serialize)]
pub struct LatencyResult {
    pub requests_per_arm: usize,
    pub warmup_per_arm: usize,
    pub arms: Vec<ArmLatency>,
    /// Switchyard over the null relay: the gateway's own share of the added latency.
    pub own_over_relay: Added,
    /// Switchyard with a client key and limits over Switchyard without: what authentication and
    /// admission add.
    pub keyed_over_open: Added,
    /// Switchyard over the same gateway with its request log off: what the log costs. `None`
    /// when the log-off gateway could not run (see `log_off_note`).
    pub logging_cost: Option<Added>,
    /// The same with a client key on both sides.
    pub logging_cost_keyed: Option<Added>,
    /// Why the `switchyard (log off)` target is missing, when it is.
    pub log_off_note: Option<String>,
    /// The gateway's CPU time over the first round divided by the requests it served there
    /// (with and without a key): the cost per request when it is idle in between, which
    /// includes waking up for each one.
    pub gateway_cpu_us_per_request: f64,
    /// The second round: the response cache and the guardrails.
    pub cache_guardrails: Arm<CacheGuardrailsResult>,
    /// The third round: one route per routing strategy over three upstreams.
    pub strategies: Arm<StrategiesResult>,
}

#[derive(Serialize)]
pub struct ArmLatency {
    pub name: String,
    pub latency: Summary,
    /// Over the direct arm; `None` for the direct arm itself.
    pub added: Option<Added>,
    pub errors: u64,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<LatencyResult> {
    let mut targets: Vec<Arc<Target>> = vec![
        ctx.gateway.target(),
        Arc::clone(&ctx.direct),
        Arc::clone(&ctx.relay.target),
        Arc::clone(&ctx.keyed),
    ];
    // The log-off gateway, when it runs, gives the fifth and sixth targets, before any compared
    // gateway.
    let mut log_off = None;
    let mut log_off_keyed = None;
    if let Some(off) = &ctx.log_off {
        targets.push(off.gateway.target_named(LOG_OFF_TARGET));
        log_off = Some(targets.len() - 1);
        if let Some(keyed) = &off.keyed {
            targets.push(Arc::clone(keyed));
            log_off_keyed = Some(targets.len() - 1);
        }
    }
    targets.extend(ctx.compares.iter().cloned());
    let mut conns = Vec::with_capacity(targets.len());
    for target in &targets {
        conns.push(Conn::open(target).await?);
    }
    let body = chat_body(MODEL_FAST, false);
    let bodies: Vec<Bytes> = targets.iter().map(|t| t.body_or(&body)).collect();
    warm_up(&mut conns, &bodies, ctx.plan.latency_warmup).await;

    let cpu_before = ctx.gateway.cpu_ticks()?;
    let (hists, errors) = interleave(&mut conns, &bodies, ctx.plan.latency_requests).await;
    let cpu_ticks = ctx.gateway.cpu_ticks()?.saturating_sub(cpu_before);
    // Warm-up requests fall outside the CPU window, so divide by the measured ones only, and by
    // every one that the gateway served: it takes the keyed target's requests too.
    let served = targets
        .iter()
        .filter(|t| t.addr == ctx.gateway.proxy)
        .count();
    let measured = (ctx.plan.latency_requests * served).max(1);

    let direct = hists[1].summary();
    let own_over_relay = Added::between(&hists[0].summary(), &hists[2].summary());
    let keyed_over_open = Added::between(&hists[3].summary(), &hists[0].summary());
    let logging_cost = log_off.map(|i| Added::between(&hists[0].summary(), &hists[i].summary()));
    let logging_cost_keyed =
        log_off_keyed.map(|i| Added::between(&hists[3].summary(), &hists[i].summary()));
    let cache_guardrails = match &ctx.cache_guardrails_note {
        Some(note) => Arm::NotAvailable {
            reason: note.clone(),
        },
        None => Arm::from_result(cache_guardrails::run(ctx).await),
    };
    let strategies = match strategies::run(ctx).await {
        Ok(strategies::Outcome::Measured(result)) => Arm::Ok { result: *result },
        Ok(strategies::Outcome::NotAvailable(reason)) => Arm::NotAvailable { reason },
        Err(error) => Arm::Failed {
            error: format!("{error:#}"),
        },
    };
    let arms = targets
        .iter()
        .zip(&hists)
        .zip(&errors)
        .enumerate()
        .map(|(i, ((target, hist), &errors))| {
            let latency = hist.summary();
            ArmLatency {
                name: target.name.clone(),
                added: (i != 1).then(|| Added::between(&latency, &direct)),
                latency,
                errors,
            }
        })
        .collect();
    Ok(LatencyResult {
        requests_per_arm: ctx.plan.latency_requests,
        warmup_per_arm: ctx.plan.latency_warmup,
        arms,
        own_over_relay,
        keyed_over_open,
        logging_cost,
        logging_cost_keyed,
        log_off_note: ctx.log_off_note.clone(),
        gateway_cpu_us_per_request: round2(ctx.ticks_to_us(cpu_ticks) / measured as f64),
        cache_guardrails,
        strategies,
    })
}

/// Sends `rounds` requests through each connection, the connection's own body each time, one
/// request at a time.
pub async fn warm_up(conns: &mut [Conn], bodies: &[Bytes], rounds: usize) {
    for _ in 0..rounds {
        for (conn, body) in conns.iter_mut().zip(bodies) {
            conn.post_ok(body.clone()).await;
        }
    }
}

/// The seed of [`interleave`]'s order, fixed so that two runs send the same sequence.
const ORDER_SEED: u64 = 0x5717_c4ad;

/// Sends `rounds` requests through each connection, one at a time and taking turns request by
/// request, and times the successful ones; returns a histogram and an error count per
/// connection.
///
/// Each round goes through the connections in a fresh random order. What a request leaves
/// behind (its record written to the store, a settle sent to Redis) lands on whichever request
/// comes next, so a fixed or rotating order would always charge one target for its
/// predecessor's work: with a rotation, target j follows target j−1 in all but one turn per
/// round. Shuffling gives every target every predecessor equally often.
pub async fn interleave(
    conns: &mut [Conn],
    bodies: &[Bytes],
    rounds: usize,
) -> (Vec<Hist>, Vec<u64>) {
    let mut hists: Vec<Hist> = conns.iter().map(|_| Hist::default()).collect();
    let mut errors = vec![0u64; conns.len()];
    let mut rng = fastrand::Rng::with_seed(ORDER_SEED);
    let mut order: Vec<usize> = (0..conns.len()).collect();
    for _ in 0..rounds {
        rng.shuffle(&mut order);
        for &j in &order {
            let started = Instant::now();
            if conns[j].post_ok(bodies[j].clone()).await {
                hists[j].record(started.elapsed());
            } else {
                errors[j] += 1;
            }
        }
    }
    (hists, errors)
}
