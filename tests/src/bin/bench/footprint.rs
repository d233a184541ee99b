//! Arm 4, footprint: a fresh gateway process of its own, timed from spawn to its first proxied
//! answer, then its resident memory idle and with many requests held in flight by the mock.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::client::{Conn, Target, chat_body};
use crate::gateway::{self, free_port, status_kb};
use crate::setup::{Ctx, MODEL_FAST, MODEL_SLOW};
use crate::stats::round2;

#[derive(Serialize)]
pub struct FootprintResult {
    pub binary_bytes: u64,
    /// From spawning the process (configuration already in its data dir) to the first 200.
    pub start_to_first_answer_ms: f64,
    /// VmRSS half a second after the first answer, before any load.
    pub idle_rss_kb: u64,
    pub inflight_requests: usize,
    /// Requests the mock held at the moment of the reading (should equal `inflight_requests`).
    pub inflight_reached: usize,
    pub inflight_rss_kb: u64,
    /// VmHWM: the most the process ever had resident, up to the in-flight reading.
    pub inflight_peak_rss_kb: u64,
    pub inflight_failed: usize,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<FootprintResult> {
    let binary_bytes = std::fs::metadata(&ctx.launch.bin)?.len();
    let data_dir = ctx.work_dir.join("footprint-data");
    std::fs::create_dir_all(&data_dir)?;
    gateway::apply_config(
        &ctx.launch.bin,
        &data_dir,
        &ctx.work_dir.join("footprint-config.json"),
        &ctx.base_config,
    )
    .await?;

    let listen = free_port()?;
    let target = Target::new("switchyard (fresh)", listen, "/v1/chat/completions");
    let started = Instant::now();
    let spawned = ctx.launch.spawn(&data_dir, listen)?;
    let answered = gateway::first_answer(
        &target,
        &chat_body(MODEL_FAST, false),
        Duration::from_secs(20),
    )
    .await?;
    let start_to_first_answer = answered.duration_since(started);
    let fresh = spawned.ready(Duration::from_secs(10)).await?;

    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle_rss_kb = fresh.rss_kb()?;

    let held = hold_in_flight(ctx, &target, fresh.pid).await;
    fresh.stop().await;
    let (inflight_reached, inflight_rss_kb, inflight_peak_rss_kb, inflight_failed) = held?;
    Ok(FootprintResult {
        binary_bytes,
        start_to_first_answer_ms: round2(start_to_first_answer.as_secs_f64() * 1000.0),
        idle_rss_kb,
        inflight_requests: ctx.plan.inflight,
        inflight_reached,
        inflight_rss_kb,
        inflight_peak_rss_kb,
        inflight_failed,
    })
}

/// Sends `plan.inflight` requests to the slow route at once and reads the memory while the mock
/// holds all of them; returns (held, VmRSS, VmHWM, failed).
async fn hold_in_flight(
    ctx: &Ctx,
    target: &Arc<Target>,
    pid: u32,
) -> anyhow::Result<(usize, u64, u64, usize)> {
    let plan = &ctx.plan;
    let body = chat_body(MODEL_SLOW, false);
    let mut conns = Vec::with_capacity(plan.inflight);
    for _ in 0..plan.inflight {
        conns.push(Conn::open(target).await?);
    }
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let body = body.clone();
            tokio::spawn(async move { conn.post_ok(body).await })
        })
        .collect();
    // The mock's delay keeps every request in flight; read the memory once all have arrived,
    // or as many as made it when the delay is nearly over.
    let delay = Duration::from_millis(plan.inflight_delay_ms);
    let deadline = Instant::now() + delay.mul_f64(0.8);
    let mut reached;
    loop {
        reached = ctx.mock.stats.in_flight.load(Ordering::Relaxed);
        if reached >= plan.inflight || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let rss = status_kb(pid, "VmRSS:")?;
    let peak = status_kb(pid, "VmHWM:")?;
    let mut failed = 0;
    for task in tasks {
        if !task.await? {
            failed += 1;
        }
    }
    Ok((reached, rss, peak, failed))
}
