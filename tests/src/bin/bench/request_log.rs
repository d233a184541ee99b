//! The request log's cost and capacity (issue 12): a second gateway with the log off for the
//! latency arm, and the main gateway's record writer followed through the throughput arm.
//!
//! The gateway reports its writer's counters in `GET /api/status` as `log`: records `written` to
//! `usage.db`, records `dropped` because the queue was full, and records `queued` but not yet
//! taken by the writer, which drains the queue every 100 ms. The throughput arm reads them around
//! each of the gateway's levels. After the arm, [`run`] waits for the queue to drain and compares
//! the totals with the requests that the arm sent, each of which must leave one record.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::Target;
use crate::gateway::{self, Gateway, Launch};
use crate::stats::round2;
use crate::throughput::ThroughputResult;

/// The latency arm's names for the gateway that writes no records, without and with a key.
pub const LOG_OFF_TARGET: &str = "switchyard (log off)";
pub const LOG_OFF_KEYED_TARGET: &str = "switchyard+key (log off)";

/// What the report says about a gateway whose status has no `log`.
pub const NO_LOG: &str = "not available (the gateway's /api/status has no `log`: a build without \
                          the request log)";

/// How long the writer gets to catch up once the load stops. It writes every 100 ms, so this is
/// only reached when it cannot keep up.
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(10);

/// The pause between two readings while waiting for the writer. Each reading is one admin API
/// call, cheap next to the writer's 100 ms tick.
const POLL: Duration = Duration::from_millis(20);

/// Counters unchanged for this long, with nothing queued, mean that the writer is idle. It is
/// longer than the writer's 100 ms tick, so that a batch being written is not missed.
const STILL: Duration = Duration::from_millis(250);

/// The `log` object of `GET /api/status`.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize)]
pub struct LogStatus {
    pub enabled: bool,
    pub written: u64,
    pub dropped: u64,
    pub queued: u64,
}

impl LogStatus {
    /// Records whose fate is known: written or dropped.
    fn accounted(&self) -> u64 {
        self.written + self.dropped
    }
}

/// Reads `log` from the gateway's `/api/status`; `None` when the gateway does not report it.
///
/// Each reading opens its own admin connection, so that a connection left idle for the length of
/// several throughput levels is never the one that is used.
pub async fn read(gateway: &Gateway) -> anyhow::Result<Option<LogStatus>> {
    let status = gateway.admin().await?.status().await?;
    match status.get("log") {
        None | Some(Value::Null) => Ok(None),
        Some(log) => Ok(Some(
            serde_json::from_value(log.clone()).context("`log` in /api/status is malformed")?,
        )),
    }
}

/// The writer's state once it has caught up, or when the wait ended.
pub struct Settled {
    pub status: LogStatus,
    /// Whether it caught up before the deadline.
    pub drained: bool,
}

/// Waits until the writer has caught up: nothing is queued, and either `expected` records are
/// written or dropped, or the counters have not moved for longer than one writer tick. `Ok(None)`
/// comes from a gateway that does not report `log`.
pub async fn settle(
    gateway: &Gateway,
    expected: Option<u64>,
    within: Duration,
) -> anyhow::Result<Option<Settled>> {
    let started = Instant::now();
    let Some(mut last) = read(gateway).await? else {
        return Ok(None);
    };
    let mut still_since = Instant::now();
    loop {
        let complete = expected.is_some_and(|e| last.accounted() >= e);
        if last.queued == 0 && (complete || still_since.elapsed() >= STILL) {
            return Ok(Some(Settled {
                status: last,
                drained: true,
            }));
        }
        if started.elapsed() >= within {
            return Ok(Some(Settled {
                status: last,
                drained: false,
            }));
        }
        tokio::time::sleep(POLL).await;
        let now = read(gateway)
            .await?
            .context("the gateway stopped reporting `log`")?;
        if now.accounted() != last.accounted() || now.queued != last.queued {
            still_since = Instant::now();
        }
        last = now;
    }
}

/// The writer during one of the gateway's throughput levels.
#[derive(Clone, Debug, Serialize)]
pub struct StepLog {
    pub concurrency: usize,
    /// Requests sent to the gateway at this level, its warm-up included.
    pub sent: u64,
    /// From the level's first request to its last answer.
    pub wall_s: f64,
    pub sent_rps: f64,
    /// Records still waiting in the queue when the level's last answer arrived.
    pub queued_at_end: u64,
    /// Records in the writer's current batch at that moment: taken from the queue, not yet
    /// committed.
    pub in_batch_at_end: u64,
    /// From the level's last answer until the writer had caught up with it.
    pub catch_up_ms: f64,
    /// Whether it caught up within the deadline.
    pub caught_up: bool,
    /// Records written from the level's start until the writer caught up.
    pub written: u64,
    /// `written` over the level's time plus the catch-up: the rate at which the level's records
    /// reached the disk, the writer's lag included.
    pub written_rps: f64,
    pub dropped: u64,
}

/// The readings that [`StepLog::new`] turns into a level's figures.
pub struct StepReadings {
    /// Once the writer had caught up with everything before the level.
    pub before: LogStatus,
    /// Right after the level's last answer.
    pub at_end: LogStatus,
    /// Once the writer had caught up with the level.
    pub settled: Settled,
    pub catch_up: Duration,
}

impl StepLog {
    pub fn new(concurrency: usize, sent: u64, wall: Duration, r: &StepReadings) -> StepLog {
        let secs = wall.as_secs_f64().max(1e-9);
        let after = &r.settled.status;
        let written = after.written.saturating_sub(r.before.written);
        // What the level handed over and is neither written, dropped nor queued is in the
        // writer's hands; the queue was empty and the writer idle when the level began.
        let handled = r.at_end.accounted() + r.at_end.queued;
        let in_batch_at_end = (r.before.accounted() + sent).saturating_sub(handled);
        StepLog {
            concurrency,
            sent,
            wall_s: round2(secs),
            sent_rps: (sent as f64 / secs).round(),
            queued_at_end: r.at_end.queued,
            in_batch_at_end,
            catch_up_ms: round2(r.catch_up.as_secs_f64() * 1000.0),
            caught_up: r.settled.drained,
            written,
            written_rps: (written as f64 / (secs + r.catch_up.as_secs_f64())).round(),
            dropped: after.dropped.saturating_sub(r.before.dropped),
        }
    }
}

/// What the throughput arm saw of the main gateway's writer.
pub enum Trace {
    Traced {
        /// The counters once the writer had caught up with the earlier arms.
        before: LogStatus,
        /// One entry per gateway level at which both readings succeeded.
        steps: Vec<StepLog>,
    },
    /// Why there is nothing to report.
    Absent(String),
}

#[derive(Serialize)]
pub struct RequestLogResult {
    /// Requests the throughput arm sent to the gateway, at every level, warm-ups included; each
    /// must leave exactly one record.
    pub requests_sent: u64,
    pub records_written: u64,
    pub records_dropped: u64,
    /// Sent requests with neither a written nor a dropped record when the wait ended.
    pub records_missing: u64,
    /// Whether the writer caught up within the deadline after the arm.
    pub drained: bool,
    /// The gateway's best rate in the throughput arm (p99 within the limit, no errors).
    pub best_rps: f64,
    pub best_concurrency: usize,
    /// The gateway's highest measured rate at any level.
    pub peak_rps: f64,
    /// The level at which the writer wrote the most records per second.
    pub peak_writer: Option<StepLog>,
    pub steps: Vec<StepLog>,
    pub before: LogStatus,
    pub after: LogStatus,
}

impl RequestLogResult {
    /// No record dropped and none missing once the writer had caught up.
    pub fn kept_up(&self) -> bool {
        self.records_dropped == 0 && self.records_missing == 0 && self.drained
    }
}

/// The outcome: measured, or the reason it cannot be.
pub enum Outcome {
    Measured(Box<RequestLogResult>),
    NotAvailable(String),
}

/// After the throughput arm: waits for the writer to catch up and accounts for every request.
pub async fn run(gateway: &Gateway, throughput: &ThroughputResult) -> anyhow::Result<Outcome> {
    let (before, steps) = match &throughput.log_trace {
        Trace::Traced { before, steps } => (*before, steps.clone()),
        Trace::Absent(reason) => return Ok(Outcome::NotAvailable(reason.clone())),
    };
    if !before.enabled {
        return Ok(Outcome::NotAvailable(
            "not available (the measured gateway runs with its request log off)".into(),
        ));
    }
    let requests_sent = throughput
        .steps
        .iter()
        .filter(|s| s.arm == "switchyard")
        .map(|s| s.sent)
        .sum::<u64>();
    let expected = before.accounted() + requests_sent;
    let settled = settle(gateway, Some(expected), DRAIN_DEADLINE)
        .await?
        .context("the gateway stopped reporting `log`")?;
    let after = settled.status;
    let records_written = after.written.saturating_sub(before.written);
    let records_dropped = after.dropped.saturating_sub(before.dropped);
    let best = throughput.best.iter().find(|b| b.arm == "switchyard");
    let peak_writer = steps
        .iter()
        .max_by(|a, b| a.written_rps.total_cmp(&b.written_rps))
        .cloned();
    Ok(Outcome::Measured(Box::new(RequestLogResult {
        requests_sent,
        records_written,
        records_dropped,
        records_missing: requests_sent.saturating_sub(records_written + records_dropped),
        drained: settled.drained,
        best_rps: best.map_or(0.0, |b| b.rate_rps),
        best_concurrency: best.map_or(0, |b| b.concurrency),
        peak_rps: best.map_or(0.0, |b| b.peak_rps),
        peak_writer,
        steps,
        before,
        after,
    })))
}

/// The second gateway, with its request log off.
pub struct LogOff {
    pub gateway: Gateway,
    /// The keyed target, like the main gateway's `switchyard+key`; `None` when the consumer
    /// could not be created.
    pub keyed: Option<Arc<Target>>,
}

/// Starts a second gateway exactly like the main one (the same configuration applied to its own
/// data dir, the same consumer, the same CPU) but with `SWITCHYARD_REQUEST_LOG=off`. It fails,
/// after stopping the process, when the build does not turn its request log off.
pub async fn start_log_off(
    launch: &Launch,
    work_dir: &Path,
    config: &Value,
) -> anyhow::Result<LogOff> {
    let data_dir = work_dir.join("data-log-off");
    std::fs::create_dir_all(&data_dir)?;
    gateway::apply_config(
        &launch.bin,
        &data_dir,
        &work_dir.join("base-log-off.json"),
        config,
    )
    .await?;
    let gateway = launch
        .with_env("SWITCHYARD_REQUEST_LOG", "off")
        .spawn(&data_dir, "127.0.0.1:0".parse()?)?
        .ready(Duration::from_secs(30))
        .await?;
    let refusal = match read(&gateway).await {
        Ok(Some(log)) if !log.enabled => {
            // The main gateway gets the keyed arm's consumer, and so does this one: both serve
            // the same configuration and take the same share of the latency arm's requests.
            let keyed = match gateway.keyed_target().await {
                Ok(keyed) => Some(Arc::new(Target {
                    name: LOG_OFF_KEYED_TARGET.into(),
                    ..(*keyed).clone()
                })),
                Err(error) => {
                    eprintln!("bench: the log-off gateway has no bench consumer ({error:#})");
                    None
                }
            };
            return Ok(LogOff { gateway, keyed });
        }
        Ok(Some(_)) => {
            "it kept its request log on: the build ignores SWITCHYARD_REQUEST_LOG".into()
        }
        Ok(None) => "its /api/status has no `log`: a build without the request log".into(),
        Err(error) => format!("{error:#}"),
    };
    gateway.stop().await;
    bail!(refusal)
}
