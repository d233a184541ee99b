//! Arm 2, throughput: closed-loop load at rising concurrency, each level run against every
//! target in turn. The result is the highest rate whose p99 stays within the latency limit, and
//! the gateway's CPU time per request at that rate. Around each of the gateway's levels the arm
//! also reads its request log's counters, for the request-log section (see request_log.rs).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::Serialize;

use crate::client::{Conn, Target, chat_body};
use crate::gateway::cpu_ticks;
use crate::request_log::{self, StepLog, StepReadings, Trace};
use crate::setup::{Ctx, MODEL_FAST};
use crate::stats::{Hist, Summary, round2};

/// The p99 a rate must keep to count, in microseconds (the budget's 5 ms).
pub const P99_LIMIT_US: f64 = 5_000.0;

const WARMING: u8 = 0;
const MEASURING: u8 = 1;
const STOPPING: u8 = 2;

#[derive(Serialize)]
pub struct ThroughputResult {
    pub step_seconds: f64,
    pub p99_limit_us: f64,
    pub steps: Vec<Step>,
    pub best: Vec<Best>,
    /// The gateway's request log through the arm; the request-log section reports it.
    #[serde(skip)]
    pub log_trace: Trace,
}

#[derive(Serialize)]
pub struct Step {
    pub arm: String,
    pub concurrency: usize,
    pub rate_rps: f64,
    pub latency: Summary,
    pub errors: u64,
    /// Every request sent at this level, the warm-up and the requests outside the measured
    /// window included.
    pub sent: u64,
    /// From the level's first request to its last answer.
    #[serde(skip)]
    pub wall: Duration,
    /// CPU (utime + stime) per request of the gateway or the relay; `None` for other arms.
    pub cpu_us_per_request: Option<f64>,
}

/// The highest rate of one arm with p99 within the limit.
#[derive(Serialize)]
pub struct Best {
    pub arm: String,
    pub rate_rps: f64,
    pub concurrency: usize,
    pub p99_us: f64,
    pub cpu_us_per_request: Option<f64>,
    /// The highest rate seen at any level, whatever its latency.
    pub peak_rps: f64,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<ThroughputResult> {
    let gateway = ctx.gateway.target();
    let mut targets: Vec<Arc<Target>> = vec![
        Arc::clone(&gateway),
        Arc::clone(&ctx.direct),
        Arc::clone(&ctx.relay.target),
    ];
    targets.extend(ctx.compares.iter().cloned());
    let body = chat_body(MODEL_FAST, false);
    // The writer first catches up with the earlier arms' records, so that the counts below are
    // this arm's alone.
    let mut log_trace =
        match request_log::settle(&ctx.gateway, None, request_log::DRAIN_DEADLINE).await {
            Ok(Some(settled)) => Trace::Traced {
                before: settled.status,
                steps: Vec::new(),
            },
            Ok(None) => Trace::Absent(request_log::NO_LOG.into()),
            Err(error) => Trace::Absent(format!("cannot read the request log: {error:#}")),
        };
    let mut steps = Vec::new();
    let mut saturated = vec![false; targets.len()];
    for &concurrency in &ctx.plan.throughput_levels {
        for (i, target) in targets.iter().enumerate() {
            if saturated[i] {
                continue;
            }
            // CPU time is read for the processes this run owns: the gateway and the relay.
            let pid = match i {
                0 => Some(ctx.gateway.pid),
                2 => Some(ctx.relay.pid),
                _ => None,
            };
            // The request log is read outside the measured window: the writer must have caught
            // up before a gateway level starts, and is followed until it catches up after it.
            let log_before = match (i, &log_trace) {
                (0, Trace::Traced { .. }) => {
                    request_log::settle(&ctx.gateway, None, request_log::DRAIN_DEADLINE)
                        .await
                        .ok()
                        .flatten()
                }
                _ => None,
            };
            let step = run_step(ctx, target, concurrency, &body, pid).await?;
            if let (Some(before), Trace::Traced { steps: logs, .. }) = (log_before, &mut log_trace)
                && let Some(readings) = follow_log(ctx, before.status, step.sent).await
            {
                logs.push(StepLog::new(concurrency, step.sent, step.wall, &readings));
            }
            // Far past the limit, more connections only queue more: stop that arm there.
            saturated[i] = step.latency.p99_us > 4.0 * P99_LIMIT_US;
            steps.push(step);
        }
        if saturated.iter().all(|&s| s) {
            break;
        }
    }
    let best = targets
        .iter()
        .map(|target| best_of(&target.name, &steps))
        .collect();
    Ok(ThroughputResult {
        step_seconds: ctx.plan.step.as_secs_f64(),
        p99_limit_us: P99_LIMIT_US,
        steps,
        best,
        log_trace,
    })
}

/// Reads the request log right after a gateway level, then waits for the writer to catch up with
/// its `sent` records; `None` when a reading fails.
async fn follow_log(ctx: &Ctx, before: request_log::LogStatus, sent: u64) -> Option<StepReadings> {
    let ended = Instant::now();
    let at_end = request_log::read(&ctx.gateway).await.ok().flatten()?;
    let expected = before.written + before.dropped + sent;
    let settled = request_log::settle(&ctx.gateway, Some(expected), request_log::DRAIN_DEADLINE)
        .await
        .ok()
        .flatten()?;
    Some(StepReadings {
        before,
        at_end,
        settled,
        catch_up: ended.elapsed(),
    })
}

fn best_of(arm: &str, steps: &[Step]) -> Best {
    let mine = || steps.iter().filter(move |s| s.arm == arm);
    let peak_rps = mine().map(|s| s.rate_rps).fold(0.0, f64::max);
    let within = mine()
        .filter(|s| s.latency.p99_us <= P99_LIMIT_US && s.errors == 0)
        .max_by(|a, b| a.rate_rps.total_cmp(&b.rate_rps));
    match within {
        Some(step) => Best {
            arm: arm.to_owned(),
            rate_rps: step.rate_rps,
            concurrency: step.concurrency,
            p99_us: step.latency.p99_us,
            cpu_us_per_request: step.cpu_us_per_request,
            peak_rps,
        },
        None => Best {
            arm: arm.to_owned(),
            rate_rps: 0.0,
            concurrency: 0,
            p99_us: 0.0,
            cpu_us_per_request: None,
            peak_rps,
        },
    }
}

/// One level against one target: `concurrency` workers, each with its own connection, send
/// back to back; only requests that start and end inside the measured window count.
async fn run_step(
    ctx: &Ctx,
    target: &Arc<Target>,
    concurrency: usize,
    body: &Bytes,
    cpu_pid: Option<u32>,
) -> anyhow::Result<Step> {
    let phase = Arc::new(AtomicU8::new(WARMING));
    let mut workers = Vec::with_capacity(concurrency);
    let first_request = Instant::now();
    for _ in 0..concurrency {
        let mut conn = Conn::open(target).await?;
        let phase = Arc::clone(&phase);
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            let mut hist = Hist::default();
            let mut errors = 0u64;
            let mut sent = 0u64;
            loop {
                let before = phase.load(Ordering::Relaxed);
                if before == STOPPING {
                    break;
                }
                let started = Instant::now();
                let ok = conn.post_ok(body.clone()).await;
                sent += 1;
                let counted = before == MEASURING && phase.load(Ordering::Relaxed) == MEASURING;
                match (counted, ok) {
                    (true, true) => hist.record(started.elapsed()),
                    (true, false) => errors += 1,
                    (false, _) => {}
                }
            }
            (hist, errors, sent)
        }));
    }
    tokio::time::sleep(ctx.plan.step_warmup).await;
    let cpu = |pid: Option<u32>| pid.map(cpu_ticks).transpose();
    let cpu_before = cpu(cpu_pid)?;
    phase.store(MEASURING, Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(ctx.plan.step).await;
    phase.store(STOPPING, Ordering::Relaxed);
    let window = started.elapsed();
    let cpu_used = cpu(cpu_pid)?
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));

    let mut hist = Hist::default();
    let mut errors = 0;
    let mut sent = 0;
    for worker in workers {
        let (h, e, n) = worker.await?;
        hist.merge(&h);
        errors += e;
        sent += n;
    }
    let wall = first_request.elapsed();
    let served = hist.len();
    Ok(Step {
        arm: target.name.clone(),
        concurrency,
        rate_rps: rate(served, window),
        latency: hist.summary(),
        errors,
        sent,
        wall,
        cpu_us_per_request: cpu_used
            .filter(|_| served > 0)
            .map(|ticks| round2(ctx.ticks_to_us(ticks) / served as f64)),
    })
}

fn rate(requests: u64, window: Duration) -> f64 {
    (requests as f64 / window.as_secs_f64().max(1e-9)).round()
}
