//! The meter task: drains the record queue on a short tick, estimates and prices the records that
//! need it, feeds the Prometheus metrics, and writes each batch to `usage.db` in one transaction.
//! It also prunes old records, and loads budgets' spend from the records for periods not yet
//! counted in memory (at start, and for budgets added later).
//!
//! It polls the queue on a tick instead of awaiting each record, so a request handing over its
//! record never has to wake a sleeping task: sending is a lock-free push, nothing more.

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
use crate::store::usage::{SpendScope, UsageDb};

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
                    match db.insert_batch(&rows).await {
                        Ok(()) => {
                            meter
                                .counters
                                .written
                                .fetch_add(rows.len() as u64, Ordering::Relaxed);
                        }
                        Err(error) => {
                            tracing::error!(%error, records = rows.len(), "could not write request records");
                            meter
                                .counters
                                .dropped
                                .fetch_add(rows.len() as u64, Ordering::Relaxed);
                        }
                    }
                }
                if !full {
                    break;
                }
            }
            if stopping {
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
