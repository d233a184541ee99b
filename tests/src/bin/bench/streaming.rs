//! Arm 3, streaming: added time to first chunk and added per-chunk delay (one stream at a time,
//! gateway and direct taking turns), one-for-one delivery of chunks, and many concurrent streams
//! without a stall.
//!
//! Per-chunk delay is the transit time of each chunk: the mock stamps it with the shared
//! monotonic clock as it sends it, and the client subtracts that from its arrival. This isolates
//! what each hop adds from the mock's own timer jitter, which dominates inter-arrival gaps.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;

use crate::client::{Conn, StreamTrace, Target, chat_body};
use crate::setup::{Ctx, MODEL_SSE, MODEL_SSE_LOAD};
use crate::stats::{Added, Hist, Summary, round2};

#[derive(Serialize)]
pub struct StreamingResult {
    pub chunks_per_stream: u32,
    pub interval_ms: u64,
    pub streams_per_arm: usize,
    pub gateway: StreamArm,
    pub direct: StreamArm,
    pub relay: StreamArm,
    pub added_first_chunk: Added,
    pub added_per_chunk: Added,
    /// Switchyard over the null relay: the gateway's own share.
    pub own_first_chunk: Added,
    pub own_per_chunk: Added,
    /// Every chunk the mock sent reached the client as its own HTTP chunk, none merged or lost.
    pub one_for_one: bool,
    /// Connections the mock accepted during the one-at-a-time streams: 0 when the gateway
    /// reuses its pooled upstream connection (the direct arm's is open before).
    pub upstream_connections: u64,
    pub concurrent: Concurrent,
    pub concurrent_direct: Concurrent,
}

#[derive(Serialize)]
pub struct StreamArm {
    pub first_chunk: Summary,
    pub chunk_transit: Summary,
    /// Time between consecutive chunks as the client sees them (the mock's interval plus jitter).
    pub gap: Summary,
    pub events_expected: u64,
    pub events_received: u64,
    pub coalesced_frames: u64,
    pub failed_streams: u64,
}

#[derive(Serialize)]
pub struct Concurrent {
    pub arm: String,
    pub streams: usize,
    pub chunks_per_stream: u32,
    pub interval_ms: u64,
    pub completed: usize,
    pub failed: usize,
    pub gap_limit_ms: f64,
    pub max_gap_ms: f64,
    pub gap: Summary,
    pub first_chunk: Summary,
    pub chunk_transit: Summary,
    pub coalesced_frames: u64,
    /// The gateway's RSS half-way through the streams (switchyard arm only).
    pub rss_kb: Option<u64>,
    /// The gateway's CPU time over the streams divided by the chunks delivered (switchyard arm).
    pub cpu_us_per_chunk: Option<f64>,
    /// All streams completed and no gap exceeded the limit.
    pub ok: bool,
}

/// Accumulates traces of one arm.
#[derive(Default)]
struct Tally {
    first: Hist,
    transit: Hist,
    gap: Hist,
    max_gap_ns: u64,
    events: u64,
    coalesced: u64,
    failed: u64,
    completed: u64,
}

impl Tally {
    fn add(&mut self, trace: &StreamTrace, chunks: u32) {
        let complete = trace.status == 200 && trace.done && trace.chunks.len() == chunks as usize;
        if !complete {
            self.failed += 1;
            return;
        }
        self.completed += 1;
        self.events += u64::from(trace.events);
        self.coalesced += u64::from(trace.coalesced_frames);
        if let Some(first) = trace.first_event {
            self.first.record(first);
        }
        let mut previous: Option<u64> = None;
        for &(arrived, sent) in &trace.chunks {
            if let Some(sent) = sent {
                self.transit.record_ns(arrived.saturating_sub(sent));
            }
            if let Some(previous) = previous {
                let gap = arrived.saturating_sub(previous);
                self.gap.record_ns(gap);
                self.max_gap_ns = self.max_gap_ns.max(gap);
            }
            previous = Some(arrived);
        }
    }

    fn arm(&self, streams: usize, chunks: u32) -> StreamArm {
        StreamArm {
            first_chunk: self.first.summary(),
            chunk_transit: self.transit.summary(),
            gap: self.gap.summary(),
            events_expected: streams as u64 * (u64::from(chunks) + 1),
            events_received: self.events,
            coalesced_frames: self.coalesced,
            failed_streams: self.failed,
        }
    }
}

pub async fn run(ctx: &Ctx) -> anyhow::Result<StreamingResult> {
    let plan = &ctx.plan;
    let gateway = ctx.gateway.target();
    // Gateway, direct and null relay, in that order; the relay forwards to the SSE path as is.
    let targets = [
        Arc::clone(&gateway),
        ctx.direct.with_path(&ctx.sse_path()),
        ctx.relay.target.with_path(&ctx.sse_path()),
    ];
    let mut conns = Vec::with_capacity(targets.len());
    for target in &targets {
        conns.push(Conn::open(target).await?);
    }
    let body = chat_body(MODEL_SSE, true);
    for _ in 0..plan.sse_warmup {
        for conn in &mut conns {
            conn.stream(body.clone()).await?;
        }
    }
    let mut tallies: Vec<Tally> = targets.iter().map(|_| Tally::default()).collect();
    let connections = &ctx.mock.stats.connections;
    let connections_before = connections.load(Ordering::Relaxed);
    for i in 0..plan.sse_streams {
        // Rotate which arm goes first, as the latency arm does.
        for k in 0..conns.len() {
            let j = (i + k) % conns.len();
            match conns[j].stream(body.clone()).await {
                Ok(trace) => tallies[j].add(&trace, plan.sse_chunks),
                Err(_) => {
                    // A broken stream counts as a failure; the next one gets a new connection.
                    tallies[j].failed += 1;
                    conns[j] = Conn::open(&targets[j]).await?;
                }
            }
        }
    }
    let upstream_connections = connections
        .load(Ordering::Relaxed)
        .saturating_sub(connections_before);
    let gateway_arm = tallies[0].arm(plan.sse_streams, plan.sse_chunks);
    let direct_arm = tallies[1].arm(plan.sse_streams, plan.sse_chunks);
    let relay_arm = tallies[2].arm(plan.sse_streams, plan.sse_chunks);
    let one_for_one = gateway_arm.coalesced_frames == 0
        && gateway_arm.failed_streams == 0
        && gateway_arm.events_received == gateway_arm.events_expected;

    let load_direct = ctx.direct.with_path(&ctx.sse_load_path());
    let concurrent_direct = concurrent(ctx, &load_direct, false).await?;
    let concurrent = concurrent(ctx, &gateway, true).await?;
    Ok(StreamingResult {
        chunks_per_stream: plan.sse_chunks,
        interval_ms: plan.sse_interval_ms,
        streams_per_arm: plan.sse_streams,
        added_first_chunk: Added::between(&gateway_arm.first_chunk, &direct_arm.first_chunk),
        added_per_chunk: Added::between(&gateway_arm.chunk_transit, &direct_arm.chunk_transit),
        own_first_chunk: Added::between(&gateway_arm.first_chunk, &relay_arm.first_chunk),
        own_per_chunk: Added::between(&gateway_arm.chunk_transit, &relay_arm.chunk_transit),
        gateway: gateway_arm,
        direct: direct_arm,
        relay: relay_arm,
        one_for_one,
        upstream_connections,
        concurrent,
        concurrent_direct,
    })
}

/// `plan.load_streams` streams at once, each on its own connection, all released together.
async fn concurrent(
    ctx: &Ctx,
    target: &Arc<Target>,
    is_gateway: bool,
) -> anyhow::Result<Concurrent> {
    let plan = &ctx.plan;
    let body = chat_body(MODEL_SSE_LOAD, true);
    let (go_tx, go_rx) = watch::channel(false);
    let mut tasks = Vec::with_capacity(plan.load_streams);
    // Connect first, so that the thousand handshakes are not part of the streams' timing.
    for _ in 0..plan.load_streams {
        let mut conn = Conn::open(target).await?;
        let mut go = go_rx.clone();
        let body = body.clone();
        tasks.push(tokio::spawn(async move {
            let _ = go.wait_for(|&go| go).await;
            conn.stream(body).await
        }));
    }
    let cpu_before = ctx.gateway.cpu_ticks()?;
    let _ = go_tx.send(true);
    let stream_time = Duration::from_millis(plan.load_interval_ms * u64::from(plan.load_chunks));
    tokio::time::sleep(stream_time / 2).await;
    let rss_kb = if is_gateway {
        ctx.gateway.rss_kb().ok()
    } else {
        None
    };
    let mut tally = Tally::default();
    for task in tasks {
        match task.await? {
            Ok(trace) => tally.add(&trace, plan.load_chunks),
            Err(_) => tally.failed += 1,
        }
    }
    let cpu_us_per_chunk = (is_gateway && !tally.transit.is_empty()).then(|| {
        let ticks = ctx
            .gateway
            .cpu_ticks()
            .unwrap_or(cpu_before)
            .saturating_sub(cpu_before);
        round2(ctx.ticks_to_us(ticks) / tally.transit.len() as f64)
    });
    let gap_limit_ms = 10.0 * plan.load_interval_ms as f64;
    let max_gap_ms = round2(tally.max_gap_ns as f64 / 1e6);
    let completed = usize::try_from(tally.completed).unwrap_or(usize::MAX);
    let failed = usize::try_from(tally.failed).unwrap_or(usize::MAX);
    Ok(Concurrent {
        arm: target.name.clone(),
        streams: plan.load_streams,
        chunks_per_stream: plan.load_chunks,
        interval_ms: plan.load_interval_ms,
        completed,
        failed,
        gap_limit_ms,
        max_gap_ms,
        gap: tally.gap.summary(),
        first_chunk: tally.first.summary(),
        chunk_transit: tally.transit.summary(),
        coalesced_frames: tally.coalesced,
        rss_kb,
        cpu_us_per_chunk,
        ok: failed == 0 && completed == plan.load_streams && max_gap_ms <= gap_limit_ms,
    })
}
