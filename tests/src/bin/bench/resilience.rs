//! Arm 6, the resilience path: the added latency of a request whose first API key is refused
//! with 401 and whose second key succeeds.
//!
//! The `failover` route's provider holds a revoked key and a good one, and the mock refuses the
//! revoked one (see `/key/{key}` in the mock). Until the gateway retries with its next key, about
//! half of these requests fail; the arm probes for that and reports the path as not available.
//! Once failover exists the same code measures it: requests during which the mock refused a key
//! are the failover samples, timed against plain requests interleaved with them.

use std::sync::atomic::Ordering;
use std::time::Instant;

use http::StatusCode;
use serde::Serialize;

use crate::client::{Conn, chat_body};
use crate::setup::{Ctx, MODEL_FAILOVER, MODEL_FAST};
use crate::stats::{Added, Hist, Summary};

/// What the report says while the gateway cannot do this.
pub const NOT_AVAILABLE: &str = "not available yet (no key failover)";

#[derive(Serialize)]
pub struct FailoverResult {
    pub requests: usize,
    /// Requests whose first key was refused and which still succeeded.
    pub failover: Summary,
    /// Plain requests through the gateway, interleaved with the failover ones.
    pub plain: Summary,
    pub added: Added,
    pub failed: u64,
}

/// The outcome: measured, or the reason it cannot be.
pub enum Outcome {
    Measured(FailoverResult),
    NotAvailable(String),
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<Outcome> {
    let target = ctx.gateway.target();
    let mut conn = Conn::open(&target).await?;
    let failover_body = chat_body(MODEL_FAILOVER, false);

    // Probe: with random key choice, twenty requests all succeed by luck once in a million.
    let probes = 20;
    let mut refused = 0;
    for _ in 0..probes {
        let reply = conn.post(failover_body.clone()).await?;
        if reply.status != StatusCode::OK {
            refused += 1;
        }
    }
    if refused > 0 {
        return Ok(Outcome::NotAvailable(format!(
            "{NOT_AVAILABLE}: {refused} of {probes} requests whose key was refused failed instead of retrying with the next key"
        )));
    }

    let plain_body = chat_body(MODEL_FAST, false);
    let (mut failover, mut plain, mut failed) = (Hist::default(), Hist::default(), 0u64);
    let unauthorized = &ctx.mock.stats.unauthorized;
    for _ in 0..ctx.plan.failover_requests {
        let refusals = unauthorized.load(Ordering::Relaxed);
        let started = Instant::now();
        let ok = conn.post_ok(failover_body.clone()).await;
        let elapsed = started.elapsed();
        if !ok {
            failed += 1;
        } else if unauthorized.load(Ordering::Relaxed) > refusals {
            // Only requests that really went through a refused key measure the failover path.
            failover.record(elapsed);
        }
        let started = Instant::now();
        if conn.post_ok(plain_body.clone()).await {
            plain.record(started.elapsed());
        } else {
            failed += 1;
        }
    }
    let (failover, plain) = (failover.summary(), plain.summary());
    Ok(Outcome::Measured(FailoverResult {
        requests: ctx.plan.failover_requests,
        added: Added::between(&failover, &plain),
        failover,
        plain,
        failed,
    }))
}
