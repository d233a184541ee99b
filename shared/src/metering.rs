//! Metering: what every proxied request leaves behind (its log record), usage rolled up over time,
//! prices, and spend budgets on consumers and keys — the admin API bodies of `/api/logs`,
//! `/api/usage`, `/api/pricing` and `/api/budgets`, and the `budget` and `pricing` config fields.
//!
//! Money is counted in integer micro-dollars everywhere it is added up; it appears as a decimal
//! number of US dollars (`cost_usd`) only at the edge, and as `null` when the model has no price.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One micro-dollar is a millionth of a US dollar; costs add up in these.
pub const MICROS_PER_USD: f64 = 1_000_000.0;

/// A whole-dollar amount from micro-dollars, for display and the API.
pub fn usd_from_micros(micros: i64) -> f64 {
    micros as f64 / MICROS_PER_USD
}

/// One proxied request, as `GET /api/logs` returns it. No request or response bodies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RequestLog {
    /// The `x-request-id` the client was answered with.
    pub request_id: String,
    /// When the request arrived (RFC 3339, UTC, milliseconds).
    pub time: String,
    /// The client API the request came in on: `chat`, `embeddings`, `messages`, `count_tokens`.
    pub endpoint: String,
    /// The consumer's name; `null` for anonymous requests (and ones refused before a key was read).
    pub consumer: Option<String>,
    pub key_id: Option<i64>,
    pub route: Option<String>,
    /// The provider that answered (or failed last).
    pub provider: Option<String>,
    /// The model the client asked for.
    pub requested_model: Option<String>,
    /// The model name sent upstream.
    pub model: Option<String>,
    /// The HTTP status the client got.
    pub status: u16,
    /// The error `code` of a refused or failed request (`invalid_api_key`, `budget_exceeded`,
    /// `upstream_error`, `stream_error`, ...); `null` on success.
    pub error_code: Option<String>,
    pub stream: bool,
    /// Upstream attempts made (0 when refused before any).
    pub attempts: u32,
    /// Every attempt in order, when there was more than one or any failed.
    pub fallback_trail: Vec<TrailStep>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    /// The counts were estimated with a tokenizer: the provider sent no usage, or the client
    /// left mid-stream.
    pub tokens_estimated: bool,
    /// `null` when the model has no price.
    pub cost_usd: Option<f64>,
    pub latency_ms: u64,
    /// Time to the first byte of the answer's body (the first token of a stream).
    pub ttft_ms: Option<u64>,
    pub client_disconnected: bool,
    /// Answered from the response cache (cost 0).
    #[serde(default)]
    pub cache_hit: bool,
    /// On a cache hit, what the answer cost when it was stored.
    #[serde(default)]
    pub cost_saved_usd: Option<f64>,
    /// Guardrail hits: detector names and counts, never the values.
    #[serde(default)]
    pub guardrails: Vec<crate::guardrails::GuardrailHit>,
}

/// One upstream attempt of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TrailStep {
    pub provider: String,
    /// The upstream HTTP status, or `null` when none came (connect error, timeout).
    pub status: Option<u16>,
    /// What went wrong, in a word (`429`, `timeout`, `connect`, `ok`).
    pub outcome: String,
}

/// `GET /api/logs`: newest first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogsPage {
    pub items: Vec<RequestLog>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One row of `GET /api/usage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageRow {
    /// The bucket's start (RFC 3339, UTC).
    pub bucket: String,
    /// The consumer, key id, route, provider or model; `null` for anonymous or unknown.
    pub group: Option<String>,
    pub requests: u64,
    /// Requests answered with a status of 400 or more.
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub reasoning_tokens: u64,
    /// The priced requests' cost.
    pub cost_usd: f64,
    /// Requests whose model has no price (not in `cost_usd`).
    pub unpriced_requests: u64,
    /// Requests answered from the response cache.
    #[serde(default)]
    pub cache_hits: u64,
    /// What those answers cost when they were stored.
    #[serde(default)]
    pub cost_saved_usd: f64,
}

/// `GET /api/usage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageReport {
    pub rows: Vec<UsageRow>,
}

/// A model's price in US dollars per million tokens. Cached input, cache writes and reasoning
/// default to the input and output prices when a provider does not price them apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ModelPrice {
    pub input_per_mtok: f64,
    pub output_per_mtok: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_per_mtok: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_per_mtok: Option<f64>,
}

/// One entry of the shipped price table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceEntry {
    /// A model name or glob (`gpt-4o-mini*`).
    pub model: String,
    /// The provider types whose model this is (`openai`, `azure-openai`, ...).
    pub provider_types: Vec<String>,
    #[serde(flatten)]
    pub price: ModelPrice,
}

/// A provider's own prices, overriding or adding to the table.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PriceOverride {
    pub provider: String,
    pub model: String,
    #[serde(flatten)]
    pub price: ModelPrice,
}

/// `GET /api/pricing`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PricingView {
    /// When the shipped table's prices were checked (YYYY-MM-DD).
    pub updated: String,
    /// Where they were checked.
    pub source: String,
    pub models: Vec<PriceEntry>,
    pub overrides: Vec<PriceOverride>,
}

/// A provider's `pricing` field: model glob → price.
pub type PricingOverrides = BTreeMap<String, ModelPrice>;

/// The span a budget counts spend over; periods align to the calendar in the budget's timezone
/// (weeks start on Monday).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum BudgetPeriod {
    Day,
    Week,
    #[default]
    Month,
    /// Never resets.
    Total,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Week => "week",
            BudgetPeriod::Month => "month",
            BudgetPeriod::Total => "total",
        }
    }
}

fn utc() -> String {
    "UTC".to_owned()
}

fn is_utc(timezone: &str) -> bool {
    timezone == "UTC"
}

/// A spend cap on a consumer or a key.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Requests are refused (429 `budget_exceeded`) once this much is spent in the period.
    pub limit_usd: f64,
    #[serde(default)]
    pub period: BudgetPeriod,
    /// An IANA timezone (`Europe/Berlin`) the period's calendar follows.
    #[serde(default = "utc", skip_serializing_if = "is_utc")]
    pub timezone: String,
    /// Crossing this logs a warning and posts an alert, once per period.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soft_limit_usd: Option<f64>,
}

impl Budget {
    /// The largest limit accepted, in dollars.
    pub const MAX_USD: f64 = 1_000_000_000.0;
}

/// One budget's state, for `GET /api/budgets` and the console's progress bars.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetStatus {
    /// `consumer` or `key`.
    pub scope: String,
    pub consumer: String,
    pub key_id: Option<i64>,
    pub key_name: Option<String>,
    pub budget: Budget,
    /// The current period (RFC 3339); `null` start for `total`, `null` end for `total`.
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub spent_usd: f64,
    /// Worst-case cost of requests in flight, held until they finish.
    pub reserved_usd: f64,
}

/// `GET /api/budgets`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetsView {
    pub budgets: Vec<BudgetStatus>,
    /// Whether the spend is the cluster's, read from Redis (cluster mode, Redis answering);
    /// otherwise it is this gateway's own count: what the records showed at start plus what it
    /// settled since.
    #[serde(default)]
    pub cluster: bool,
}

/// The JSON body posted to `alert_webhook_url` when a budget's soft limit is crossed or its hard
/// limit hit.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BudgetAlert {
    /// `budget.soft_limit_crossed` or `budget.exceeded`.
    pub event: String,
    pub scope: String,
    pub consumer: String,
    pub key_id: Option<i64>,
    pub limit_usd: f64,
    pub soft_limit_usd: Option<f64>,
    pub spent_usd: f64,
    pub period: BudgetPeriod,
    pub period_start: Option<String>,
    pub time: String,
}

/// The metering part of `GET /api/status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LogStatus {
    /// Whether records are written to `usage.db` (`--request-log`).
    pub enabled: bool,
    pub written: u64,
    /// Records lost because the writer's queue was full; traffic never waits for the disk.
    pub dropped: u64,
    /// Records waiting for the writer.
    pub queued: u64,
    /// Records the store could not take yet (PostgreSQL unreachable, say), kept and written
    /// again with a backoff; beyond a bound the oldest are dropped.
    #[serde(default)]
    pub retrying: u64,
}
