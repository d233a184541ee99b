//! Metering: every proxied request leaves exactly one [`LogRow`], handed by its finish phase to a
//! bounded queue and written to `usage.db` by one background task (`metering/writer.rs`), which
//! also feeds the Prometheus metrics and estimates the tokens of requests whose provider sent no
//! usage (`metering/estimate.rs`). The request path never waits on any of this: a full queue
//! drops the record and counts it.

mod estimate;
mod writer;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use switchyard_shared::TrailStep;
use tokio::sync::mpsc;

pub use writer::{MeterTask, load_budgets, spawn};

use crate::budgets::BudgetHold;
use crate::pricing::ProviderPricing;
use crate::usage::Usage;

/// How many records may wait for the writer: at 10,000 requests a second, several seconds' worth.
pub const QUEUE_CAPACITY: usize = 65_536;

/// One finished request, as the meter writes it. No request or response bodies.
#[derive(Clone, Debug, Default)]
pub struct LogRow {
    /// The `x-request-id` the client was answered with.
    pub request_id: String,
    /// When the request arrived, in milliseconds since the Unix epoch.
    pub time_ms: i64,
    /// `chat`, `embeddings`, `messages` or `count_tokens`.
    pub endpoint: &'static str,
    pub consumer_id: Option<i64>,
    pub consumer: Option<Arc<str>>,
    pub key_id: Option<i64>,
    pub route: Option<Arc<str>>,
    pub provider: Option<Arc<str>>,
    pub requested_model: Option<String>,
    pub model: Option<String>,
    pub status: u16,
    pub error_code: Option<String>,
    pub stream: bool,
    pub attempts: u32,
    pub fallback_trail: Vec<TrailStep>,
    pub usage: Usage,
    pub tokens_estimated: bool,
    /// `None` when the model has no price.
    pub cost_micros: Option<i64>,
    pub latency_ms: u64,
    pub ttft_ms: Option<u64>,
    pub client_disconnected: bool,
    /// Answered from the response cache; `cost_micros` is then 0.
    pub cache_hit: bool,
    /// On a cache hit, what the answer cost when it was stored.
    pub cost_saved_micros: Option<i64>,
    /// Guardrail hits (names and counts, never the values).
    pub guardrails: Vec<switchyard_shared::GuardrailHit>,
}

/// The meter's own counters, for `/api/status` and `/metrics`.
#[derive(Debug, Default)]
pub struct LogCounters {
    /// Records written to `usage.db`.
    pub written: std::sync::atomic::AtomicU64,
    /// Records lost: the queue was full, the store refused them, or the writer gave up waiting
    /// for it.
    pub dropped: std::sync::atomic::AtomicU64,
    /// Records handed to the queue and not yet taken by the writer.
    pub queued: std::sync::atomic::AtomicU64,
    /// Records the store could not take yet (unreachable, say), kept to write again.
    pub retrying: std::sync::atomic::AtomicU64,
}

impl LogCounters {
    pub fn status(&self, enabled: bool) -> switchyard_shared::LogStatus {
        use std::sync::atomic::Ordering::Relaxed;
        switchyard_shared::LogStatus {
            enabled,
            written: self.written.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            queued: self.queued.load(Relaxed),
            retrying: self.retrying.load(Relaxed),
        }
    }
}

/// A finished request whose tokens must be estimated before it is priced and written.
pub struct Unmetered {
    pub row: LogRow,
    /// The request body, for the prompt.
    pub prompt: Bytes,
    /// What the client was sent (its first 64 KiB), for the completion.
    pub sent: Vec<Bytes>,
    /// How many bytes the client was sent in all.
    pub sent_len: usize,
    pub pricing: Option<Arc<ProviderPricing>>,
    /// The request's budget reservations, settled once the cost is known.
    pub hold: Option<BudgetHold>,
}

/// What the finish phase hands to the meter.
pub enum MeterItem {
    Row(Box<LogRow>),
    Unmetered(Box<Unmetered>),
}

/// The request path's end of the meter's queue.
#[derive(Clone)]
pub struct Meter {
    queue: mpsc::Sender<MeterItem>,
    pub counters: Arc<LogCounters>,
    /// Whether records are written to `usage.db` (`--request-log`).
    pub enabled: bool,
}

impl Meter {
    pub fn new(enabled: bool) -> (Meter, mpsc::Receiver<MeterItem>) {
        let (queue, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let meter = Meter {
            queue,
            counters: Arc::new(LogCounters::default()),
            enabled,
        };
        (meter, receiver)
    }

    /// Hands a record to the writer without waiting; a full queue drops it (and its budget hold,
    /// which then charges its reservation).
    pub fn submit(&self, item: MeterItem) {
        match self.queue.try_send(item) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn status(&self) -> switchyard_shared::LogStatus {
        self.counters.status(self.enabled)
    }
}
