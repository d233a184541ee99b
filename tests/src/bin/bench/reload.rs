//! Arm 5, reload: how long the gateway takes to build and swap a snapshot of a large config, how
//! long an admin write takes to become live, and what requests in flight feel during swaps.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;
use serde_json::Value;

use crate::client::{Conn, Target, chat_body};
use crate::gateway::{Admin, apply_config};
use crate::setup::{Ctx, MODEL_FAST, reload_config, scale_counts, scale_route, scale_route_name};
use crate::stats::{Hist, Summary, round2};

#[derive(Serialize)]
pub struct ReloadResult {
    pub routes: u64,
    pub providers: u64,
    /// `build_ms` of `GET /api/status` after applying the large config: load, validate, compile.
    pub build_ms: f64,
    /// From starting `switchyard config apply` to the status showing the new snapshot; includes
    /// the CLI's own run and the file watcher's debounce.
    pub apply_to_live_ms: f64,
    pub swaps: usize,
    /// Wall time of `PUT /api/routes/{name}`, which answers once the new snapshot is live.
    pub put_wall: Summary,
    /// `build_ms` after each of those swaps, in microseconds like every summary.
    pub swap_build: Summary,
    pub workers: usize,
    pub baseline: Summary,
    pub baseline_failed: u64,
    pub during_swaps: Summary,
    pub during_swaps_failed: u64,
    /// p99 during swaps over p99 without; the budget wants at most 2.
    pub p99_ratio: f64,
    pub last_reload_error: Option<String>,
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<ReloadResult> {
    let plan = &ctx.plan;
    let mut admin = ctx.gateway.admin().await?;
    let doc = reload_config(&ctx.base_config, &ctx.mock, plan);
    let want_routes = doc["routes"].as_array().map_or(0, Vec::len) as u64;
    let want_providers = doc["providers"].as_array().map_or(0, Vec::len) as u64;
    let before = admin.status().await?;

    let started = Instant::now();
    apply_config(
        &ctx.launch.bin,
        &ctx.data_dir,
        &ctx.work_dir.join("reload-config.json"),
        &doc,
    )
    .await?;
    let status = wait_for_counts(&mut admin, &before, want_routes, want_providers).await?;
    let apply_to_live_ms = round2(started.elapsed().as_secs_f64() * 1000.0);
    let build_ms = status["build_ms"].as_f64().unwrap_or(f64::NAN);

    let target = ctx.gateway.target();
    let body = chat_body(MODEL_FAST, false);
    let stop = Arc::new(AtomicBool::new(false));
    let baseline = start_workers(&target, &body, plan.swap_workers, &stop).await?;
    tokio::time::sleep(plan.swap_baseline).await;
    let (baseline, baseline_failed) = finish(baseline, &stop).await?;

    stop.store(false, Ordering::Relaxed);
    let workers = start_workers(&target, &body, plan.swap_workers, &stop).await?;
    let swapped = swap(ctx, &mut admin).await;
    let (during, during_failed) = finish(workers, &stop).await?;
    let (put_wall, swap_build) = swapped?;

    let last_reload_error = admin.status().await?["last_reload_error"]
        .as_object()
        .map(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .map_or_else(|| "(no message)".into(), str::to_owned)
        });
    let (baseline, during) = (baseline.summary(), during.summary());
    Ok(ReloadResult {
        routes: want_routes,
        providers: want_providers,
        build_ms,
        apply_to_live_ms,
        swaps: plan.swaps,
        put_wall: put_wall.summary(),
        swap_build: swap_build.summary(),
        workers: plan.swap_workers,
        p99_ratio: round2(during.p99_us / baseline.p99_us.max(1e-9)),
        baseline,
        baseline_failed,
        during_swaps: during,
        during_swaps_failed: during_failed,
        last_reload_error,
    })
}

/// Polls the status until the snapshot has the expected size and a newer revision.
async fn wait_for_counts(
    admin: &mut Admin,
    before: &Value,
    routes: u64,
    providers: u64,
) -> anyhow::Result<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let old_revision = before["config_revision"].as_i64();
    loop {
        let status = admin.status().await?;
        let live = status["routes"].as_u64() == Some(routes)
            && status["providers"].as_u64() == Some(providers)
            && status["config_revision"].as_i64() != old_revision;
        if live {
            return Ok(status);
        }
        if Instant::now() > deadline {
            bail!("the gateway did not load the large config within 30 s: {status}");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// `plan.swaps` admin writes of one route, each followed by a status read for its build time.
async fn swap(ctx: &Ctx, admin: &mut Admin) -> anyhow::Result<(Hist, Hist)> {
    let (providers, routes) = scale_counts(&ctx.plan, &ctx.base_config);
    let index = routes / 2;
    let path = format!("/api/routes/{}", scale_route_name(index));
    let (mut wall, mut build) = (Hist::default(), Hist::default());
    for i in 0..ctx.plan.swaps {
        // Toggling the priority changes the stored route, so every write is a real reload.
        let spec = scale_route(index, i32::from(i % 2 == 0), providers);
        let started = Instant::now();
        let (status, body) = admin.call(Method::PUT, &path, Some(&spec)).await?;
        let elapsed = started.elapsed();
        if status != StatusCode::OK {
            bail!("PUT {path} answered {status}: {body}");
        }
        wall.record(elapsed);
        let build_ms = admin.status().await?["build_ms"]
            .as_f64()
            .context("the status has no build_ms")?;
        build.record_ns((build_ms * 1e6) as u64);
    }
    Ok((wall, build))
}

type Worker = tokio::task::JoinHandle<(Hist, u64)>;

/// Workers that send requests one after another on their own connection until `stop`.
async fn start_workers(
    target: &Arc<Target>,
    body: &Bytes,
    count: usize,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<Worker>> {
    let mut workers = Vec::with_capacity(count);
    for _ in 0..count {
        let mut conn = Conn::open(target).await?;
        let (body, stop) = (body.clone(), Arc::clone(stop));
        workers.push(tokio::spawn(async move {
            let (mut hist, mut failed) = (Hist::default(), 0u64);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                if conn.post_ok(body.clone()).await {
                    hist.record(started.elapsed());
                } else {
                    failed += 1;
                }
            }
            (hist, failed)
        }));
    }
    Ok(workers)
}

async fn finish(workers: Vec<Worker>, stop: &AtomicBool) -> anyhow::Result<(Hist, u64)> {
    stop.store(true, Ordering::Relaxed);
    let (mut hist, mut failed) = (Hist::default(), 0);
    for worker in workers {
        let (h, f) = worker.await?;
        hist.merge(&h);
        failed += f;
    }
    Ok((hist, failed))
}
