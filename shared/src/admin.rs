//! Bodies of the admin API that are not configuration items themselves: status and errors.

use serde::{Deserialize, Serialize};

use crate::validate::FieldError;

/// `GET /api/status`: what the proxy is serving right now and how the last reload went.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusView {
    /// Counts snapshot swaps since the process started; the first snapshot is version 1.
    pub version: u64,
    /// The store's revision the snapshot was built from; every admin write increments it.
    pub config_revision: i64,
    /// When the current snapshot was installed (RFC 3339).
    pub loaded_at: String,
    /// How long loading, validating, compiling and swapping in the current snapshot took.
    pub build_ms: f64,
    /// The last reload that failed after the current snapshot was installed, if any.
    pub last_reload_error: Option<FailureView>,
    pub providers: usize,
    pub routes: usize,
    /// The port the proxy listens on, for clients that build URLs (the console's usage snippets).
    pub proxy_port: u16,
    /// The request log's writer.
    #[serde(default)]
    pub log: crate::metering::LogStatus,
    /// What the live configuration does that is valid but probably not meant, with the field
    /// to change (a fallback that sends the client's model name to a provider that will not
    /// know it).
    #[serde(default)]
    pub warnings: Vec<crate::validate::FieldWarning>,
    /// The cluster's Redis (`--redis-url`); absent when the gateway counts on its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redis: Option<RedisStatus>,
}

/// `GET /api/status`'s view of the cluster's Redis, as this gateway sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedisStatus {
    /// The URL with its password replaced.
    pub url: String,
    /// Whether requests use Redis now: false while its circuit is open after failed calls.
    pub reachable: bool,
    /// The `redis_failure` setting in force: what requests do while Redis is unreachable.
    pub failure_mode: crate::RedisFailure,
    /// Failed or timed-out calls in a row.
    pub consecutive_failures: u32,
    /// Failed or timed-out calls since the gateway started.
    pub failures_total: u64,
    /// Requests counted in this gateway's own counters because Redis was unreachable
    /// (`redis_failure: open`), since the gateway started.
    #[serde(default)]
    pub fallbacks_total: u64,
    /// When Redis last became unreachable (RFC 3339), while it still is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<String>,
}

/// Every admin API error: `{"error": {...}}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminErrorBody {
    pub error: AdminError,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AdminError {
    pub message: String,
    /// A stable machine-readable code: `validation_failed`, `not_found`, `conflict`,
    /// `unauthorized`, `bad_request`, `gone` (history no longer kept), `internal`.
    pub code: String,
    /// The failing fields, for `validation_failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// For a `conflict` on deleting a provider: the routes that still use it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<String>,
}

/// The header on admin write responses carrying the snapshot version that made the change live.
pub const SNAPSHOT_VERSION_HEADER: &str = "x-switchyard-snapshot-version";

/// What applying a config document would change, per section (names only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SectionDiff {
    pub create: Vec<String>,
    pub update: Vec<String>,
    pub delete: Vec<String>,
    pub unchanged: Vec<String>,
}

/// `POST /api/config/diff`: the preview of an import.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ConfigDiff {
    pub valid: bool,
    pub providers: SectionDiff,
    pub routes: SectionDiff,
    #[serde(default)]
    pub consumers: SectionDiff,
    #[serde(default)]
    pub guardrails: SectionDiff,
    /// Whether the document's `settings:` differ from the stored ones.
    #[serde(default)]
    pub settings_changed: bool,
}

/// `GET /api/auth/me`, and the body of a successful setup or login.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeView {
    pub setup_required: bool,
    pub authenticated: bool,
    pub username: Option<String>,
    pub csrf_token: Option<String>,
}

/// A failure (of a reload, a provider, a key): what and when (RFC 3339).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FailureView {
    pub message: String,
    pub at: String,
}

/// `GET /api/health`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthView {
    pub providers: Vec<ProviderHealthView>,
    /// Every route's upstreams as its strategy sees them.
    #[serde(default)]
    pub routes: Vec<RouteHealthView>,
}

impl HealthView {
    pub fn provider(&self, name: &str) -> Option<&ProviderHealthView> {
        self.providers.iter().find(|p| p.name == name)
    }

    pub fn route(&self, name: &str) -> Option<&RouteHealthView> {
        self.routes.iter().find(|r| r.name == name)
    }
}

/// One route's strategy and what it currently knows of each upstream, so an operator can see
/// why traffic goes where it goes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RouteHealthView {
    pub name: String,
    pub strategy: crate::config::RoutingStrategy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    /// As written: `consumer`, `key` or `header:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sticky_by: Option<String>,
    /// The primary upstreams, highest priority first, then the fallbacks.
    pub upstreams: Vec<UpstreamHealthView>,
}

impl RouteHealthView {
    /// The first upstream served by `provider`.
    pub fn upstream(&self, provider: &str) -> Option<&UpstreamHealthView> {
        self.upstreams.iter().find(|u| u.provider == provider)
    }
}

/// One upstream's live estimates. Predictions are for a reference request: a chat with 1,000
/// prompt tokens and no `max_tokens`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpstreamHealthView {
    pub provider: String,
    /// The model the route sends; `None` when it passes the client's model on.
    pub model: Option<String>,
    pub priority: i32,
    pub weight: u32,
    pub fallback: bool,
    /// The provider takes traffic now (its circuit is not open or cooling down).
    pub available: bool,
    pub in_flight: u32,
    /// Time-to-first-token samples taken so far.
    pub samples: u64,
    pub ttft_ms: Option<f64>,
    pub decode_tokens_per_s: Option<f64>,
    /// The recent average of output tokens per answer.
    pub output_tokens: Option<f64>,
    /// The recent average share of the prompt read from the provider's cache.
    pub cached_share: Option<f64>,
    pub measured_ago_ms: Option<u64>,
    pub predicted_ms: f64,
    /// `None` when no price covers the model, or the route does not fix the model.
    pub predicted_cost_usd: Option<f64>,
    /// Only for `cost_under_latency`: the prediction meets `max_latency_ms`.
    pub meets_target: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderHealthView {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `closed`, `open`, `half_open`, `down` or `cooling_down`.
    pub state: String,
    pub consecutive_failures: u32,
    pub last_error: Option<FailureView>,
    pub next_probe_in_ms: Option<u64>,
    pub token_failover: bool,
    pub keys: Vec<KeyHealthView>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyHealthView {
    /// The key, masked.
    pub key: String,
    /// `healthy`, `ejected` or `cooling_down`.
    pub state: String,
    pub consecutive_failures: u32,
    pub last_error: Option<FailureView>,
    pub next_probe_in_ms: Option<u64>,
}

/// `GET /api/metrics?minutes=N`: totals, per minute, by provider and by route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MetricsView {
    pub window_minutes: usize,
    pub totals: SeriesView,
    pub per_minute: Vec<MinuteView>,
    pub by_provider: Vec<SeriesView>,
    pub by_route: Vec<SeriesView>,
}

/// Traffic of everything, one provider or one route.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SeriesView {
    /// The provider's or route's name; absent on the totals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub requests: u64,
    pub errors: u64,
    /// Between 0 and 1; absent without requests.
    pub success_rate: Option<f64>,
    pub p50_ms: Option<u64>,
    pub p95_ms: Option<u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinuteView {
    /// The minute's start, in Unix seconds.
    pub minute: u64,
    pub requests: u64,
    pub errors: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}
