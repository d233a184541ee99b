//! The meter task: drains the record queue on a short tick, estimates and prices the records that
//! need it, feeds the Prometheus metrics, and writes each batch to `usage.db` in one transaction.
//! It also prunes old records, and loads budgets' spend from the records for periods not yet
//! counted in memory (at start, and for budgets added later).
//!
//! It polls the queue on a tick instead of awaiting each record, so a request handing over its
//! record never has to wake a sleeping task: sending is a lock-free push, nothing more. A batch
//! the store cannot take (PostgreSQL unreachable, say) waits and is written again with a backoff
//! ([`Unwritten`]), up to a bound.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{LogRow, Meter, MeterItem, Unmetered, estimate};
use crate::clock::Clock;
use crate::limits::ScopeId;
use crate::prometheus::PromMetrics;
use crate::reload::CurrentSnapshot;
use crate::snapshot::Snapshot;
use crate::store::usage::{BatchError, SpendScope, UsageDb};

/// How often the queue is drained: records are visible in the API this long after a request.
const TICK: Duration = Duration::from_millis(100);
/// The most records written in one transaction.
const MAX_BATCH: usize = 4096;
/// How often old records are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// The running meter task; [`MeterTask::stop`] writes what is queued and ends it.
pub struct MeterTask {
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<()>,
}

impl MeterTask {
    /// Writes every record still queued, then ends the task (at shutdown, after the listeners).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = self.done.await;
    }
}

pub fn spawn(
    meter: &Meter,
    mut queue: mpsc::Receiver<MeterItem>,
    db: UsageDb,
    snapshot: Arc<CurrentSnapshot>,
    prom: Arc<PromMetrics>,
    clock: Arc<Clock>,
) -> MeterTask {
    let meter = meter.clone();
    let (stop_tx, mut stop_rx) = oneshot::channel();
    let done = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_prune = tokio::time::Instant::now();
        let mut stopping = false;
        let mut retry = Unwritten::default();
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = &mut stop_rx, if !stopping => stopping = true,
            }
            loop {
                let mut items = Vec::new();
                while items.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(item) => items.push(item),
                        Err(_) => break,
                    }
                }
                if items.is_empty() {
                    break;
                }
                let full = items.len() == MAX_BATCH;
                meter
                    .counters
                    .queued
                    .fetch_sub(items.len() as u64, Ordering::Relaxed);
                let rows = meter_rows(items, &clock).await;
                for row in &rows {
                    prom.observe(row);
                }
                if meter.enabled {
                    retry.push(rows, &meter);
                    retry.write(&db, &meter, tokio::time::Instant::now()).await;
                }
                if !full {
                    break;
                }
            }
            if meter.enabled {
                retry.write(&db, &meter, tokio::time::Instant::now()).await;
            }
            if stopping {
                retry.give_up(&db, &meter).await;
                break;
            }
            let current = snapshot.load_full();
            load_budgets(&current, &db, &clock).await;
            if meter.enabled && last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                let settings = &current.consumers.settings;
                if let Err(error) = db
                    .prune(
                        clock.now_ms(),
                        settings.log_retention_days,
                        settings.log_max_rows,
                    )
                    .await
                {
                    tracing::warn!(%error, "could not prune old request records");
                }
            }
        }
    });
    MeterTask {
        stop: Some(stop_tx),
        done,
    }
}

/// The most records kept for the store while it cannot take them: about a minute of a busy
/// gateway's traffic, a few tens of MB. Beyond it the oldest batches are dropped.
const MAX_UNWRITTEN: usize = 50_000;
/// The first wait before writing again, doubled after each failure up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// The batches waiting to be written, oldest first: a batch the store could not take (nothing
/// committed) waits here and is written again after a backoff, before any newer one, so an
/// outage of PostgreSQL (or a busy SQLite) delays records instead of losing them. A batch whose
/// commit may have happened is never written again (`BatchError::Lost`): it could count twice.
#[derive(Default)]
struct Unwritten {
    batches: VecDeque<Vec<LogRow>>,
    rows: usize,
    /// When the next attempt may go, while the store is failing.
    not_before: Option<tokio::time::Instant>,
    backoff: Duration,
}

impl Unwritten {
    /// Queues a batch behind the ones waiting, dropping the oldest beyond [`MAX_UNWRITTEN`].
    fn push(&mut self, rows: Vec<LogRow>, meter: &Meter) {
        if rows.is_empty() {
            return;
        }
        self.rows += rows.len();
        self.batches.push_back(rows);
        while self.rows > MAX_UNWRITTEN
            && let Some(oldest) = self.batches.pop_front()
        {
            self.rows -= oldest.len();
            meter
                .counters
                .dropped
                .fetch_add(oldest.len() as u64, Ordering::Relaxed);
            tracing::error!(
                records = oldest.len(),
                "the request log's store has been unreachable too long: records dropped"
            );
        }
        self.publish(meter);
    }

    /// Writes the waiting batches in order until one fails for a reason that passes; then waits
    /// for the backoff before the next attempt.
    async fn write(&mut self, db: &UsageDb, meter: &Meter, now: tokio::time::Instant) {
        if self.not_before.is_some_and(|at| now < at) {
            return;
        }
        while let Some(batch) = self.batches.front() {
            match db.insert_batch(batch).await {
                Ok(()) => {
                    meter
                        .counters
                        .written
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    if self.not_before.take().is_some() {
                        tracing::info!(
                            waiting = self.rows,
                            "the request log's store takes records again"
                        );
                    }
                    self.backoff = Duration::ZERO;
                }
                Err(BatchError::Retry(error)) => {
                    if self.not_before.is_none() {
                        // Once per outage: the log must not grow with the request rate.
                        tracing::warn!(%error, records = self.rows, "could not write request records; they are kept and written again when the store answers");
                    }
                    self.backoff = (self.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
                    self.not_before = Some(now + self.backoff);
                    break;
                }
                Err(BatchError::Lost(error)) => {
                    tracing::error!(%error, records = batch.len(), "could not write request records");
                    meter
                        .counters
                        .dropped
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                }
            }
            if let Some(done) = self.batches.pop_front() {
                self.rows -= done.len();
            }
        }
        self.publish(meter);
    }

    /// At shutdown: one last attempt, whatever the backoff; what the store still refuses is lost.
    async fn give_up(&mut self, db: &UsageDb, meter: &Meter) {
        self.not_before = None;
        self.write(db, meter, tokio::time::Instant::now()).await;
        if self.rows > 0 {
            tracing::error!(
                records = self.rows,
                "stopping with request records the store would not take: they are lost"
            );
            meter
                .counters
                .dropped
                .fetch_add(self.rows as u64, Ordering::Relaxed);
            self.batches.clear();
            self.rows = 0;
            self.publish(meter);
        }
    }

    fn publish(&self, meter: &Meter) {
        meter
            .counters
            .retrying
            .store(self.rows as u64, Ordering::Relaxed);
    }
}

/// Turns queued items into rows, in the order the requests finished: estimated and priced where
/// the request path could not.
async fn meter_rows(items: Vec<MeterItem>, clock: &Arc<Clock>) -> Vec<LogRow> {
    if items.iter().all(|item| matches!(item, MeterItem::Row(_))) {
        return items
            .into_iter()
            .map(|item| meter_row(item, clock))
            .collect();
    }
    // Tokenizing is CPU work of unbounded length: off the async workers.
    let clock = Arc::clone(clock);
    let count = items.len();
    let metered = tokio::task::spawn_blocking(move || {
        items
            .into_iter()
            .map(|item| meter_row(item, &clock))
            .collect::<Vec<_>>()
    })
    .await;
    metered.unwrap_or_else(|error| {
        tracing::error!(%error, records = count, "metering a batch failed; its records are lost");
        Vec::new()
    })
}

/// One queued item as a row: as it came, or estimated and priced.
fn meter_row(item: MeterItem, clock: &Clock) -> LogRow {
    match item {
        MeterItem::Row(row) => *row,
        MeterItem::Unmetered(item) => settle_estimated(*item, clock),
    }
}

/// Estimates a record's tokens, prices them and settles its budgets.
fn settle_estimated(item: Unmetered, clock: &Clock) -> LogRow {
    let Unmetered {
        mut row,
        prompt,
        sent,
        sent_len,
        pricing,
        hold,
    } = item;
    let estimated = estimate::estimate(&prompt, &sent, sent_len, row.endpoint == "embeddings");
    // What the provider did report stands: its prompt count is exact, and its completion count
    // (if the client left after it came) is the larger of the two only if the stream went on.
    let reported = row.usage;
    row.usage.prompt_tokens = if reported.prompt_tokens > 0 {
        reported.prompt_tokens
    } else {
        estimated.prompt_tokens
    };
    row.usage.completion_tokens = reported.completion_tokens.max(estimated.completion_tokens);
    let usage = row.usage;
    row.tokens_estimated = true;
    row.cost_micros = pricing
        .as_ref()
        .zip(row.model.as_deref())
        .and_then(|(pricing, model)| pricing.price(model))
        .map(|price| price.cost_micros(&usage));
    if let Some(hold) = hold {
        hold.settle(row.cost_micros.unwrap_or(0), clock.now_ms());
    }
    row
}

/// Adds the recorded spend of each budget's current period, once per period and budget, so
/// spend survives restarts. At start this runs before the proxy serves; afterwards only budgets
/// new to the snapshot need it (a period that begins while running starts from zero in memory).
pub async fn load_budgets(snapshot: &Snapshot, db: &UsageDb, clock: &Clock) {
    for budget in snapshot.consumers.budgets() {
        let Some((start, until)) = budget.needs_load(clock.now_ms()) else {
            continue;
        };
        let scope = match budget.scope_id() {
            ScopeId::Consumer(id) => SpendScope::Consumer(id),
            ScopeId::Key(id) => SpendScope::Key(id),
            ScopeId::Route(_) => continue,
        };
        // Requests since the budget went live settled in memory; only what came before counts.
        let spent = match until {
            None => db.spend_since(scope, start).await,
            Some(until) if until <= start => Ok(0),
            Some(until) => match db.spend_since(scope, start).await {
                Ok(all) => db
                    .spend_since(scope, until)
                    .await
                    .map(|later| all.saturating_sub(later).max(0)),
                Err(error) => Err(error),
            },
        };
        match spent {
            Ok(spent) => {
                budget.load_spent(start, spent);
            }
            Err(error) => tracing::warn!(%error, "could not load a budget's spend"),
        }
    }
}
