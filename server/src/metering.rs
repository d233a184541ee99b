//! Metering: every proxied request leaves exactly one [`LogRow`], handed by its finish phase to a
//! bounded queue and written to `usage.db` by one background task, which also prices it, settles
//! its budgets and feeds the Prometheus metrics. The request path never waits on any of this.

use std::sync::Arc;

use switchyard_shared::TrailStep;

use crate::usage::Usage;

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
}
