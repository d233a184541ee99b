//! The configuration model: providers, AI routes and the document that holds both.
//!
//! These are the shapes of the admin API bodies and of `switchyard config apply` files alike. Unknown
//! fields are rejected so that a typo in a field name is an error instead of a silently ignored setting.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::consumer::{ConsumerSpec, Limits, Settings};
use crate::provider_type::ProviderType;
use crate::secret::mask_secret;

/// An upstream LLM provider and the credentials Switchyard uses to call it.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProviderSpec {
    /// Unique slug, `[a-z0-9][a-z0-9-_]{0,63}`.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: ProviderType,
    /// Overrides the type's default base URL; required for `openai-compatible`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// API keys, one chosen per request. Write-only: reads return them masked. On replace, leaving
    /// the field out keeps the stored keys, and a masked key that matches a stored one keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_keys: Option<Vec<String>>,
    /// Models this provider serves, listed by `GET /v1/models`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<String>,
    /// Rewrites of the model name sent upstream: exact keys, `prefix*` keys and a `*` catch-all;
    /// an empty value keeps the name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub model_mapping: BTreeMap<String, String>,
    /// Extra headers sent with every upstream request. Their values often carry credentials, so
    /// they are treated like `api_keys`: reads return them masked, and a masked value sent back
    /// keeps the stored one. The header the protocol sends the key in cannot be set here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Timeouts::is_unset")]
    pub timeouts: Timeouts,
    /// Azure: the `api-version` query parameter; Anthropic: the `anthropic-version` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Azure: deployment name per model name sent upstream; a model not listed is used as the
    /// deployment name itself.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub deployments: BTreeMap<String, String>,
    /// Prices of this provider's models (model glob → USD per million tokens), overriding or
    /// adding to the shipped price table.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub pricing: crate::metering::PricingOverrides,
    /// Anthropic: `max_tokens` for requests that set none (the Messages API requires it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_max_tokens: Option<u32>,
    /// Takes a failing key out of the pool and probes it back in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_failover: Option<TokenFailover>,
    /// Active health checks of the provider as a whole (passive checks are always on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    /// Anthropic: the `anthropic-beta` names a client may switch on with this provider's keys
    /// (`"*"` allows every one). Unset: [`DEFAULT_ANTHROPIC_BETAS`], the betas Claude Code uses;
    /// other names are removed from the header before it is forwarded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anthropic_betas: Option<Vec<String>>,
    /// Whether the provider serves OpenAI's Responses API (`/responses`) itself, so
    /// `/v1/responses` passes through byte for byte (with `previous_response_id` and `store`);
    /// otherwise the gateway translates it to chat completions. Default: on for `openai` and
    /// `azure`; an OpenAI-compatible server that serves it opts in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub responses_api: Option<bool>,
    /// Bedrock: the AWS region requests are signed for. Default: the region the base URL names
    /// (`bedrock-runtime.REGION.amazonaws.com`); needed for endpoints that name none (a proxy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
}

/// The `anthropic-beta` names forwarded to an Anthropic provider that sets no `anthropic_betas`:
/// what Claude Code sends for its own features. Betas that add charges of their own (web search
/// and fetch, code execution, the advisor tool, fast mode, the 1M-token context at long-context
/// prices, the Files API, MCP connectors) are left out: a client may turn those on only where
/// the operator lists them.
pub const DEFAULT_ANTHROPIC_BETAS: &[&str] = &[
    // Claude Code's own marker.
    "claude-code-20250219",
    // Thinking between tool calls.
    "interleaved-thinking-2025-05-14",
    // Tool arguments streamed without buffering.
    "fine-grained-tool-streaming-2025-05-14",
    // Context editing (clearing old tool results and thinking).
    "context-management-2025-06-27",
    // Prompt-cache scoping.
    "prompt-caching-scope-2026-01-05",
    // The `effort` setting.
    "effort-2025-11-24",
    // Tool search (deferred MCP tools) and tool-use examples.
    "advanced-tool-use-2025-11-20",
    // Smaller tool-call encodings.
    "token-efficient-tools-2025-02-19",
    // Longer outputs.
    "output-128k-2025-02-19",
    // Former beta names of features now generally available, still sent by older SDKs.
    "prompt-caching-2024-07-31",
    "token-counting-2024-11-01",
];

/// Key failover: a key that fails `failure_threshold` times in a row (with a status in
/// `on_status`) leaves the pool; background probes bring it back after `success_threshold`
/// successes, or `cooldown_ms` re-admits it without a probe.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TokenFailover {
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default = "three")]
    pub failure_threshold: u32,
    #[serde(default = "one")]
    pub success_threshold: u32,
    #[serde(default = "five_seconds")]
    pub health_check_interval_ms: u64,
    #[serde(default = "ten_seconds")]
    pub health_check_timeout_ms: u64,
    /// The model of the small chat request that probes an ejected key; without it, keys come
    /// back only by `cooldown_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cooldown_ms: Option<u64>,
    #[serde(default = "default_key_statuses")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<serde_json::Value>))]
    pub on_status: Vec<StatusPattern>,
}

impl Default for TokenFailover {
    fn default() -> Self {
        TokenFailover {
            enabled: true,
            failure_threshold: 3,
            success_threshold: 1,
            health_check_interval_ms: 5_000,
            health_check_timeout_ms: 10_000,
            health_check_model: None,
            cooldown_ms: None,
            on_status: default_key_statuses(),
        }
    }
}

/// Active health checks: every `interval_ms` the gateway calls `path` (a GET relative to the
/// base URL, e.g. `/models`) or sends a one-token chat to `model`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default = "ten_seconds")]
    pub interval_ms: u64,
    #[serde(default = "five_seconds")]
    pub timeout_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default = "three")]
    pub unhealthy_after: u32,
    #[serde(default = "one")]
    pub healthy_after: u32,
    /// Passive checks: after `unhealthy_after` consecutive failures the provider's circuit opens
    /// for this long, doubling each time a half-open probe fails, up to `max_cooldown_ms`.
    #[serde(default = "five_seconds")]
    pub cooldown_ms: u64,
    #[serde(default = "five_minutes")]
    pub max_cooldown_ms: u64,
}

impl Default for HealthCheck {
    /// Passive checks only, with their default thresholds.
    fn default() -> Self {
        HealthCheck {
            enabled: false,
            interval_ms: 10_000,
            timeout_ms: 5_000,
            path: None,
            model: None,
            unhealthy_after: 3,
            healthy_after: 1,
            cooldown_ms: 5_000,
            max_cooldown_ms: 300_000,
        }
    }
}

fn five_minutes() -> u64 {
    300_000
}

fn enabled() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn three() -> u32 {
    3
}
fn five_seconds() -> u64 {
    5_000
}
fn ten_seconds() -> u64 {
    10_000
}

fn default_key_statuses() -> Vec<StatusPattern> {
    vec![
        StatusPattern::Code(401),
        StatusPattern::Code(403),
        StatusPattern::Code(429),
        StatusPattern::Class(5),
    ]
}

impl ProviderSpec {
    /// Stores the base URL requests really go to (see
    /// [`ProviderType::effective_base_url`]): the API and console then show that URL.
    pub fn normalize_base_url(&mut self) {
        if let Some(url) = self.base_url.as_deref() {
            self.base_url = self.kind.effective_base_url(Some(url));
        }
    }

    /// A copy safe to show: every API key and every header value masked (header values carry
    /// credentials such as `x-api-key` as often as not, so none is shown in full).
    pub fn masked(&self) -> ProviderSpec {
        ProviderSpec {
            api_keys: self
                .api_keys
                .as_ref()
                .map(|keys| keys.iter().map(|k| mask_secret(k)).collect()),
            headers: self
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), mask_secret(value)))
                .collect(),
            ..self.clone()
        }
    }

    /// The base URL requests go to: the one set, else the type's default.
    pub fn effective_base_url(&self) -> Option<&str> {
        self.base_url
            .as_deref()
            .or_else(|| self.kind.default_base_url())
    }
}

/// Debug output masks the keys, so that a stray `{:?}` in a log can never leak one.
impl std::fmt::Debug for ProviderSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let masked = self.masked();
        f.debug_struct("ProviderSpec")
            .field("name", &masked.name)
            .field("kind", &masked.kind)
            .field("base_url", &masked.base_url)
            .field("api_keys", &masked.api_keys)
            .field("models", &masked.models)
            .field("model_mapping", &masked.model_mapping)
            .field("headers", &masked.headers)
            .field("timeouts", &masked.timeouts)
            .field("api_version", &masked.api_version)
            .field("deployments", &masked.deployments)
            .field("default_max_tokens", &masked.default_max_tokens)
            .field("token_failover", &masked.token_failover)
            .field("health_check", &masked.health_check)
            .field("anthropic_betas", &masked.anthropic_betas)
            .finish()
    }
}

/// Upstream timeouts in milliseconds; an unset one takes the default in [`Timeouts::DEFAULTS`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// From sending the request to the response headers. A non-streaming completion arrives whole,
    /// so this covers the model's entire generation time and its default is generous.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_byte_ms: Option<u64>,
    /// Longest silence between two chunks of a response body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_ms: Option<u64>,
    /// The whole exchange, streams included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_ms: Option<u64>,
}

impl Timeouts {
    /// Defaults for unset timeouts: connect, first byte, idle, total.
    pub const DEFAULTS: [u64; 4] = [10_000, 300_000, 120_000, 900_000];
    /// The longest timeout accepted, one hour.
    pub const MAX_MS: u64 = 3_600_000;

    pub fn is_unset(&self) -> bool {
        *self == Timeouts::default()
    }

    /// The four timeouts with defaults filled in: connect, first byte, idle, total.
    pub fn resolved(&self) -> [u64; 4] {
        let d = Timeouts::DEFAULTS;
        [
            self.connect_ms.unwrap_or(d[0]),
            self.first_byte_ms.unwrap_or(d[1]),
            self.idle_ms.unwrap_or(d[2]),
            self.total_ms.unwrap_or(d[3]),
        ]
    }
}

/// An AI route: which requests it takes (by model name) and where it sends them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteSpec {
    pub name: String,
    /// Breaks ties between routes with the same match value: higher wins, then the smaller name.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
    #[serde(rename = "match")]
    pub matches: Vec<MatchRule>,
    pub upstreams: Vec<RouteUpstream>,
    /// How the upstreams of a priority group share its traffic (default `weighted`).
    #[serde(default, skip_serializing_if = "RoutingStrategy::is_weighted")]
    pub strategy: RoutingStrategy,
    /// `cost_under_latency`: the predicted time (ms) an upstream must meet to be chosen for its price.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_latency_ms: Option<u64>,
    /// `sticky`: what one session is, written `consumer`, `key` or `header:<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, pattern = r"^(consumer|key|header:[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64})$")
    )]
    pub sticky_by: Option<StickyBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
    /// How many attempts a request may make across upstreams and keys, and how to wait between.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<Retry>,
    /// The whole request, all attempts included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    /// Which consumers may use this route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<RouteAuth>,
    /// Limits on all callers of this route together, protecting its upstreams.
    #[serde(default, skip_serializing_if = "Limits::is_unset")]
    pub limits: Limits,
    /// The completion tokens a token limit reserves for a request that sets no `max_tokens`
    /// (default [`DEFAULT_RESERVED_COMPLETION_TOKENS`]); the real count replaces it at the end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reserve_completion_tokens: Option<u32>,
    /// Answers repeated requests from the response cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache: Option<crate::guardrails::RouteCache>,
    /// Guardrail policies (names) every request of the route goes through, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<String>,
}

/// How a route chooses among the usable upstreams of its highest healthy priority group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RoutingStrategy {
    /// At random in proportion to the weights.
    #[default]
    Weighted,
    /// The lowest predicted time: time to first token plus expected output at the decode speed.
    LeastLatency,
    /// The lowest predicted price of this request.
    LeastCost,
    /// The cheapest upstream predicted to answer within `max_latency_ms`; else the fastest.
    CostUnderLatency,
    /// The fewest requests in flight, ties by weight.
    LeastBusy,
    /// One session (consumer, key or header value) keeps one upstream while it is healthy.
    Sticky,
}

impl RoutingStrategy {
    pub const ALL: [RoutingStrategy; 6] = [
        RoutingStrategy::Weighted,
        RoutingStrategy::LeastLatency,
        RoutingStrategy::LeastCost,
        RoutingStrategy::CostUnderLatency,
        RoutingStrategy::LeastBusy,
        RoutingStrategy::Sticky,
    ];

    pub fn is_weighted(&self) -> bool {
        *self == RoutingStrategy::Weighted
    }

    /// The name as written in the configuration and in `x-switchyard-strategy`.
    pub fn as_str(self) -> &'static str {
        match self {
            RoutingStrategy::Weighted => "weighted",
            RoutingStrategy::LeastLatency => "least_latency",
            RoutingStrategy::LeastCost => "least_cost",
            RoutingStrategy::CostUnderLatency => "cost_under_latency",
            RoutingStrategy::LeastBusy => "least_busy",
            RoutingStrategy::Sticky => "sticky",
        }
    }
}

/// What makes one session for the `sticky` strategy: written `consumer`, `key` or
/// `header:<name>` (the header name is kept lowercased).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum StickyBy {
    Consumer,
    Key,
    Header(String),
}

/// The message for a `sticky_by` that is none of the three forms.
pub const STICKY_BY_FORMS: &str = "expected \"consumer\", \"key\" or \"header:<name>\"";

impl std::str::FromStr for StickyBy {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<StickyBy, &'static str> {
        match text {
            "consumer" => Ok(StickyBy::Consumer),
            "key" => Ok(StickyBy::Key),
            _ => match text.strip_prefix("header:") {
                Some(name) => Ok(StickyBy::Header(name.to_ascii_lowercase())),
                None => Err(STICKY_BY_FORMS),
            },
        }
    }
}

impl std::fmt::Display for StickyBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StickyBy::Consumer => f.write_str("consumer"),
            StickyBy::Key => f.write_str("key"),
            StickyBy::Header(name) => write!(f, "header:{name}"),
        }
    }
}

impl Serialize for StickyBy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for StickyBy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StickyBy, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The completion tokens reserved for a request without `max_tokens`, unless the route says.
pub const DEFAULT_RESERVED_COMPLETION_TOKENS: u32 = 1024;

/// A route's access rule (Higress's AI-route auth): only the listed consumers may use it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteAuth {
    /// Consumer names; empty allows every consumer (and anonymous callers when keys are off).
    #[serde(default)]
    pub allowed_consumers: Vec<String>,
}

/// Retry settings of a route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Retry {
    /// Total attempts for one request, across all upstreams and keys (1..=10).
    #[serde(default = "three")]
    pub max_attempts: u32,
    #[serde(default = "backoff_base")]
    pub backoff_base_ms: u64,
    #[serde(default = "backoff_max")]
    pub backoff_max_ms: u64,
    /// A `Retry-After` longer than this moves on to the next upstream instead of waiting.
    #[serde(default = "ten_seconds")]
    pub retry_after_max_ms: u64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            max_attempts: 3,
            backoff_base_ms: 100,
            backoff_max_ms: 2_000,
            retry_after_max_ms: 10_000,
        }
    }
}

/// The most attempts a route may allow.
pub const MAX_ATTEMPTS: u32 = 10;

fn backoff_base() -> u64 {
    100
}
fn backoff_max() -> u64 {
    2_000
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// One predicate on the request's model name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MatchRule {
    #[serde(rename = "type")]
    pub kind: MatchKind,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum MatchKind {
    Exact,
    Prefix,
}

/// A provider a route sends traffic to, with its share of the traffic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct RouteUpstream {
    pub provider: String,
    /// Relative weight, 0..=1000; 0 takes no traffic.
    #[serde(default = "default_weight")]
    pub weight: u32,
    /// The model name sent to this upstream; unset means the provider's mapping, else unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Higher is tried first: lower groups take traffic only when no upstream above is healthy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub priority: i32,
}

/// The weight an upstream gets when none is written.
pub const DEFAULT_WEIGHT: u32 = 100;
/// The highest weight accepted.
pub const MAX_WEIGHT: u32 = 1000;

fn default_weight() -> u32 {
    DEFAULT_WEIGHT
}

/// Where a route's requests go when its upstreams fail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub strategy: FallbackStrategy,
    /// Upstream statuses that trigger the fallback: codes (`429`) or classes (`"5xx"`).
    #[serde(default = "default_fallback_statuses")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<serde_json::Value>))]
    pub on_status: Vec<StatusPattern>,
    #[serde(default)]
    pub upstreams: Vec<FallbackUpstream>,
}

fn default_fallback_statuses() -> Vec<StatusPattern> {
    vec![
        StatusPattern::Code(401),
        StatusPattern::Code(403),
        StatusPattern::Code(404),
        StatusPattern::Code(408),
        StatusPattern::Code(429),
        StatusPattern::Class(5),
    ]
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum FallbackStrategy {
    /// Try the fallback upstreams in the order written.
    #[default]
    Sequential,
    /// Try them in a random order.
    Random,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FallbackUpstream {
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// An HTTP status code (`429`) or a class of them (`"5xx"`, stored as the leading digit).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StatusPattern {
    Code(u16),
    Class(u8),
}

impl StatusPattern {
    pub fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Code(code) => code == status,
            StatusPattern::Class(class) => status / 100 == u16::from(class),
        }
    }
}

impl Serialize for StatusPattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            StatusPattern::Code(code) => serializer.serialize_u16(*code),
            StatusPattern::Class(class) => serializer.collect_str(&format_args!("{class}xx")),
        }
    }
}

impl<'de> Deserialize<'de> for StatusPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(u16),
            Text(String),
        }
        let invalid = || {
            serde::de::Error::custom("expected a status code 100..=599 or a class such as \"5xx\"")
        };
        match Raw::deserialize(deserializer).map_err(|_| invalid())? {
            Raw::Code(code) if (100..=599).contains(&code) => Ok(StatusPattern::Code(code)),
            Raw::Code(_) => Err(invalid()),
            Raw::Text(text) => match text.to_ascii_lowercase().as_str() {
                "1xx" => Ok(StatusPattern::Class(1)),
                "2xx" => Ok(StatusPattern::Class(2)),
                "3xx" => Ok(StatusPattern::Class(3)),
                "4xx" => Ok(StatusPattern::Class(4)),
                "5xx" => Ok(StatusPattern::Class(5)),
                other => other
                    .parse::<u16>()
                    .ok()
                    .filter(|code| (100..=599).contains(code))
                    .map(StatusPattern::Code)
                    .ok_or_else(invalid),
            },
        }
    }
}

/// Everything configurable, as `switchyard config export` prints it and `config apply` reads it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    #[serde(default)]
    pub providers: Vec<ProviderSpec>,
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<ConsumerSpec>,
    /// Absent leaves the stored settings as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Settings>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guardrails: Vec<crate::guardrails::GuardrailSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_patterns_round_trip() {
        let parsed: Vec<StatusPattern> =
            serde_json::from_str(r#"[429, "5xx", "4XX", "503"]"#).expect("valid patterns");
        assert_eq!(
            parsed,
            vec![
                StatusPattern::Code(429),
                StatusPattern::Class(5),
                StatusPattern::Class(4),
                StatusPattern::Code(503)
            ]
        );
        assert_eq!(
            serde_json::to_string(&parsed).expect("serializes"),
            r#"[429,"5xx","4xx",503]"#
        );
        assert!(serde_json::from_str::<StatusPattern>("42").is_err());
        assert!(serde_json::from_str::<StatusPattern>(r#""6xx""#).is_err());
        assert!(StatusPattern::Class(5).matches(502));
        assert!(!StatusPattern::Code(429).matches(428));
    }

    #[test]
    fn debug_output_masks_keys() {
        let mut spec = ProviderSpec {
            name: "p".into(),
            kind: ProviderType::Openai,
            base_url: None,
            api_keys: Some(vec!["sk-supersecretvalue1234".into()]),
            models: vec![],
            model_mapping: BTreeMap::new(),
            headers: BTreeMap::new(),
            pricing: BTreeMap::new(),
            timeouts: Timeouts::default(),
            api_version: None,
            deployments: BTreeMap::new(),
            default_max_tokens: None,
            token_failover: None,
            health_check: None,
            anthropic_betas: None,
            responses_api: None,
            aws_region: None,
        };
        spec.headers
            .insert("x-api-key".into(), "hdr-secretheadervalue9876".into());
        let printed = format!("{spec:?}");
        assert!(!printed.contains("supersecret"), "{printed}");
        assert!(printed.contains("sk-…1234"), "{printed}");
        assert!(!printed.contains("secretheader"), "{printed}");
        assert!(printed.contains("hdr…9876"), "{printed}");
    }

    #[test]
    fn masked_views_mask_header_values() {
        let spec: ProviderSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "type": "openai-compatible", "base_url": "https://llm.example.com/v1",
            "api_keys": ["sk-supersecretvalue1234"],
            "headers": {"x-api-key": "hdr-secretheadervalue9876", "x-team": "search"}
        }))
        .expect("a valid provider");
        let masked = spec.masked();
        assert_eq!(masked.headers["x-api-key"], "hdr…9876");
        // Short values show nothing at all.
        assert_eq!(masked.headers["x-team"], "…");
        assert_eq!(masked.api_keys, Some(vec!["sk-…1234".to_owned()]));
        assert_eq!(
            spec.effective_base_url(),
            Some("https://llm.example.com/v1")
        );
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let err = serde_json::from_str::<RouteSpec>(
            r#"{"name":"r","match":[],"upstreams":[],"wieght":1}"#,
        )
        .expect_err("typo must be rejected");
        assert!(err.to_string().contains("wieght"));
    }
}
