//! Prometheus metrics for `GET /metrics` on the admin listener, in the Prometheus text format.
//!
//! The request path never touches these: every finished request becomes one
//! [`LogRow`](crate::metering::LogRow), and the background meter task hands each row to
//! [`PromMetrics::observe`], which updates the counters and histograms here. What describes the
//! gateway's state rather than its traffic (provider and key health, the configuration version,
//! the request log's counters) is read when Prometheus scrapes, by [`PromMetrics::render`].
//!
//! Label values are bounded: route, provider and consumer names come from the configuration, the
//! model is the upstream model of a routed request, and a family that carries a model stops
//! growing at [`MAX_SERIES`] label sets, after which new models are counted as `other`. Provider
//! keys appear only as their position in the provider's key list, never in any form of the key.

use std::borrow::Cow;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::prometheus_text;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use switchyard_shared::{LogStatus, TrailStep};

use crate::metering::LogRow;
use crate::snapshot::Snapshot;

/// The `Content-Type` of [`PromMetrics::render`]'s output (the Prometheus text format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The prefix of every metric's name.
const PREFIX: &str = "switchyard";

/// The most label sets a family that carries a model label keeps; past it, a new label set has
/// its model replaced by [`OTHER`], so a flood of distinct model names cannot exhaust memory or
/// the Prometheus server.
pub const MAX_SERIES: usize = 10_000;

/// The model label of requests counted after their family reached [`MAX_SERIES`].
pub const OTHER: &str = "other";

/// The consumer label of requests made without a client key.
pub const ANONYMOUS: &str = "anonymous";

/// The longest model label kept, in characters: a model name can come from the client's request
/// (a prefix route without a mapping passes it upstream unchanged), and a label of a megabyte
/// would be repeated in every scrape.
const MAX_MODEL_LABEL: usize = 128;

/// Latency bucket bounds in seconds, from 5 ms to 120 s: short embeddings calls take a few
/// milliseconds, long completions and slow first tokens take tens of seconds.
const LATENCY_BUCKETS: [f64; 15] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

type LatencyFamily = Family<RouteProviderLabels, Histogram, fn() -> Histogram>;

/// A label value shared between label sets without copying the string.
type Label = Arc<str>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: Label,
    provider: Label,
    model: Label,
    consumer: Label,
    status_class: &'static str,
    /// The gateway's error code when it refused the request before any attempt (`invalid_api_key`,
    /// `rate_limit_exceeded`, `budget_exceeded`, ...); empty otherwise, because a provider's error
    /// codes are not a bounded set.
    code: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteProviderLabels {
    route: Label,
    provider: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    route: Label,
    provider: Label,
    model: Label,
    consumer: Label,
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CostLabels {
    route: Label,
    provider: Label,
    model: Label,
    consumer: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct AttemptLabels {
    provider: Label,
    outcome: Cow<'static, str>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConsumerLabels {
    consumer: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: Label,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KeyLabels {
    provider: Label,
    /// The key's position in the provider's key list (`0`, `1`, ...), the order `GET /api/health`
    /// and the configuration list them in.
    key: String,
}

/// A label set whose model can be folded into [`OTHER`].
trait Folds {
    fn fold(&mut self, other: &Label);
}

impl Folds for RequestLabels {
    fn fold(&mut self, other: &Label) {
        self.model = Arc::clone(other);
    }
}

impl Folds for TokenLabels {
    fn fold(&mut self, other: &Label) {
        self.model = Arc::clone(other);
    }
}

impl Folds for CostLabels {
    fn fold(&mut self, other: &Label) {
        self.model = Arc::clone(other);
    }
}

/// A family whose label sets carry a model, with a count of its label sets: the crate does not
/// expose a family's size outside its own tests.
#[derive(Debug)]
struct Capped<S, M> {
    family: Family<S, M>,
    /// Label sets created with their own model (folded ones are not counted: their other labels
    /// come from the configuration, so they are bounded anyway).
    series: AtomicUsize,
}

impl<S, M> Capped<S, M>
where
    S: Folds + Clone + Hash + Eq,
    M: Default,
{
    fn new() -> Self {
        Capped {
            family: Family::default(),
            series: AtomicUsize::new(0),
        }
    }

    /// Runs `update` on the series of `labels`, folding the model into `other` when the family
    /// already holds [`MAX_SERIES`] label sets and this one is new. Two concurrent callers may
    /// both count the same new label set; that only makes the cap apply a little earlier.
    fn with(&self, mut labels: S, other: &Label, update: impl FnOnce(&M)) {
        if let Some(metric) = self.family.get(&labels) {
            update(&metric);
            return;
        }
        if self.series.load(Ordering::Relaxed) >= MAX_SERIES {
            labels.fold(other);
        } else {
            self.series.fetch_add(1, Ordering::Relaxed);
        }
        update(&self.family.get_or_create(&labels));
    }
}

/// What a scrape reports besides the observed traffic, read at scrape time.
pub struct Scrape<'a> {
    /// The snapshot in force: its version, and its providers with their keys' and circuits'
    /// health (the snapshot points at the [`HealthRegistry`](crate::health::HealthRegistry)'s
    /// entries, so no registry lookup is needed).
    pub snapshot: &'a Snapshot,
    /// The request log's written, dropped and queued records.
    pub log: LogStatus,
    /// The cluster's Redis as this gateway sees it, when it has one.
    pub redis: Option<RedisScrape>,
}

/// The cluster's Redis at scrape time.
#[derive(Clone, Copy, Debug, Default)]
pub struct RedisScrape {
    /// Whether calls go to Redis now (its circuit is closed).
    pub up: bool,
    /// Calls that failed or timed out since start.
    pub errors: u64,
    /// Requests counted in this gateway's memory because Redis did not answer.
    pub fallbacks: u64,
}

/// The gateway's Prometheus metrics. Created once and shared in an `Arc`: the meter task calls
/// [`observe`](PromMetrics::observe), the `/metrics` handler [`render`](PromMetrics::render).
#[derive(Debug)]
pub struct PromMetrics {
    /// The traffic metrics, registered once; the families share their maps with the fields below.
    registry: Registry,
    requests: Capped<RequestLabels, Counter>,
    duration: LatencyFamily,
    ttft: LatencyFamily,
    tokens: Capped<TokenLabels, Counter>,
    cost: Capped<CostLabels, Counter<f64, AtomicU64>>,
    attempts: Family<AttemptLabels, Counter>,
    rate_limited: Family<ConsumerLabels, Counter>,
    budget_refusals: Family<ConsumerLabels, Counter>,
    disconnects: Family<RouteLabels, Counter>,
    /// The label values every row may need, allocated once.
    empty: Label,
    anonymous: Label,
    other: Label,
}

impl Default for PromMetrics {
    fn default() -> Self {
        PromMetrics::new()
    }
}

impl PromMetrics {
    pub fn new() -> PromMetrics {
        let requests = Capped::new();
        let duration = LatencyFamily::new_with_constructor(latency_histogram);
        let ttft = LatencyFamily::new_with_constructor(latency_histogram);
        let tokens = Capped::new();
        let cost = Capped::new();
        let attempts = Family::default();
        let rate_limited = Family::default();
        let budget_refusals = Family::default();
        let disconnects = Family::default();
        let mut registry = Registry::with_prefix(PREFIX);
        // Counter names are registered without `_total`: the encoder appends it.
        registry.register(
            "requests",
            "Finished proxy requests by route, provider, model, consumer and status class; `code` \
             is the gateway's error code for requests it refused before any upstream attempt",
            requests.family.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Total time of proxy requests, from arrival to the end of the answer",
            duration.clone(),
        );
        registry.register(
            "time_to_first_token_seconds",
            "Time from arrival to the first byte of the answer's body (the first token of a stream)",
            ttft.clone(),
        );
        registry.register(
            "tokens",
            "Tokens by type: prompt and completion; cached (included in prompt), cache_write \
             (included in prompt) and reasoning (included in completion)",
            tokens.family.clone(),
        );
        registry.register(
            "cost_usd",
            "Cost in US dollars of the requests whose model has a price",
            cost.family.clone(),
        );
        registry.register(
            "upstream_attempts",
            "Attempts against upstream providers, by outcome: success, the upstream's HTTP status, \
             timeout, unreachable or error",
            attempts.clone(),
        );
        registry.register(
            "rate_limited",
            "Requests refused with 429 because a rate or token limit was reached",
            rate_limited.clone(),
        );
        registry.register(
            "budget_refusals",
            "Requests refused because a spend budget was exhausted",
            budget_refusals.clone(),
        );
        registry.register(
            "client_disconnects",
            "Requests whose client went away before the answer ended",
            disconnects.clone(),
        );
        PromMetrics {
            registry,
            requests,
            duration,
            ttft,
            tokens,
            cost,
            attempts,
            rate_limited,
            budget_refusals,
            disconnects,
            empty: Label::from(""),
            anonymous: Label::from(ANONYMOUS),
            other: Label::from(OTHER),
        }
    }

    /// Counts one finished request. Called by the meter task, never on the request path.
    pub fn observe(&self, row: &LogRow) {
        let route = self.label(row.route.as_ref());
        let provider = self.label(row.provider.as_ref());
        let consumer = row
            .consumer
            .as_ref()
            .map_or_else(|| Arc::clone(&self.anonymous), Arc::clone);
        let model = self.model_label(row);

        let code = match &row.error_code {
            Some(code) if row.attempts == 0 && row.status >= 400 => Label::from(bounded_code(code)),
            _ => Arc::clone(&self.empty),
        };
        self.requests.with(
            RequestLabels {
                route: Arc::clone(&route),
                provider: Arc::clone(&provider),
                model: Arc::clone(&model),
                consumer: Arc::clone(&consumer),
                status_class: status_class(row.status),
                code,
            },
            &self.other,
            |counter| {
                counter.inc();
            },
        );

        let timing = RouteProviderLabels {
            route: Arc::clone(&route),
            provider: Arc::clone(&provider),
        };
        self.duration
            .get_or_create(&timing)
            .observe(millis_to_seconds(row.latency_ms));
        if let Some(ttft) = row.ttft_ms {
            self.ttft
                .get_or_create(&timing)
                .observe(millis_to_seconds(ttft));
        }

        let usage = &row.usage;
        for (kind, count) in [
            ("prompt", usage.prompt_tokens),
            ("completion", usage.completion_tokens),
            ("cached", usage.cached_prompt_tokens),
            ("cache_write", usage.cache_write_tokens),
            ("reasoning", usage.reasoning_tokens),
        ] {
            // A zero count would only create a series that says nothing.
            if count == 0 {
                continue;
            }
            self.tokens.with(
                TokenLabels {
                    route: Arc::clone(&route),
                    provider: Arc::clone(&provider),
                    model: Arc::clone(&model),
                    consumer: Arc::clone(&consumer),
                    r#type: kind,
                },
                &self.other,
                |counter| {
                    counter.inc_by(count);
                },
            );
        }

        // A counter only goes up, so a (nonsensical) negative cost is not counted.
        if let Some(micros) = row.cost_micros.filter(|micros| *micros > 0) {
            self.cost.with(
                CostLabels {
                    route: Arc::clone(&route),
                    provider: Arc::clone(&provider),
                    model: Arc::clone(&model),
                    consumer: Arc::clone(&consumer),
                },
                &self.other,
                |counter| {
                    counter.inc_by(micros as f64 / 1_000_000.0);
                },
            );
        }

        self.observe_attempts(row, &provider);

        let refused = |code: &str| row.error_code.as_deref() == Some(code);
        if row.status == 429 && refused("rate_limit_exceeded") {
            self.rate_limited
                .get_or_create(&ConsumerLabels {
                    consumer: Arc::clone(&consumer),
                })
                .inc();
        }
        if refused("budget_exceeded") {
            self.budget_refusals
                .get_or_create(&ConsumerLabels {
                    consumer: Arc::clone(&consumer),
                })
                .inc();
        }
        if row.client_disconnected {
            self.disconnects.get_or_create(&RouteLabels { route }).inc();
        }
    }

    /// Counts the request's upstream attempts: one per step of its fallback trail, or one success
    /// when the trail is empty and there was exactly one attempt (the trail is left empty for a
    /// request whose only attempt succeeded, so that the common case allocates nothing for it).
    fn observe_attempts(&self, row: &LogRow, provider: &Label) {
        if !row.fallback_trail.is_empty() {
            for step in &row.fallback_trail {
                self.attempts
                    .get_or_create(&AttemptLabels {
                        provider: Label::from(step.provider.as_str()),
                        outcome: trail_outcome(step),
                    })
                    .inc();
            }
        } else if row.attempts == 1 && row.provider.is_some() {
            self.attempts
                .get_or_create(&AttemptLabels {
                    provider: Arc::clone(provider),
                    outcome: Cow::Borrowed("success"),
                })
                .inc();
        }
    }

    /// Writes every metric in the Prometheus text format: the observed traffic, then the state
    /// read now from `scrape`.
    pub fn render(&self, scrape: &Scrape<'_>, out: &mut String) -> std::fmt::Result {
        prometheus_text::encode(out, &self.registry)?;
        prometheus_text::encode(out, &scrape_registry(scrape))
    }

    /// A label value from the configuration, or the empty string when the row has none.
    fn label(&self, value: Option<&Label>) -> Label {
        value.map_or_else(|| Arc::clone(&self.empty), Arc::clone)
    }

    /// The model label: the upstream model of a request that matched a route. A request that
    /// matched no route gets none, because its model name is whatever the client sent.
    fn model_label(&self, row: &LogRow) -> Label {
        match (&row.route, row.model.as_deref()) {
            (Some(_), Some(model)) if !model.is_empty() => {
                match model.char_indices().nth(MAX_MODEL_LABEL) {
                    Some((end, _)) => Label::from(&model[..end]),
                    None => Label::from(model),
                }
            }
            _ => Arc::clone(&self.empty),
        }
    }
}

/// The metrics read at scrape time, in a registry of their own that lives for one scrape: a
/// provider or key deleted since the last scrape then simply no longer appears.
fn scrape_registry(scrape: &Scrape<'_>) -> Registry {
    let mut registry = Registry::with_prefix(PREFIX);
    let now = tokio::time::Instant::now();
    let providers: Family<ProviderLabels, Gauge> = Family::default();
    let keys: Family<KeyLabels, Gauge> = Family::default();
    for provider in scrape.snapshot.providers() {
        let name = Arc::clone(&provider.name);
        // Healthy means the circuit is closed: not open, not half-open while a probe decides,
        // not cooling down after a Retry-After and not marked down by active checks.
        let healthy = provider.health.view(now).state == "closed";
        providers
            .get_or_create(&ProviderLabels {
                provider: Arc::clone(&name),
            })
            .set(i64::from(healthy));
        for (index, key) in provider.keys.iter().enumerate() {
            let healthy = key.health.available(now, &provider.key_policy);
            keys.get_or_create(&KeyLabels {
                provider: Arc::clone(&name),
                key: index.to_string(),
            })
            .set(i64::from(healthy));
        }
    }
    registry.register(
        "provider_healthy",
        "Whether the provider's circuit is closed (1) or open, half-open, cooling down or down (0)",
        providers,
    );
    registry.register(
        "provider_key_healthy",
        "Whether the provider's API key is in its pool (1) or ejected or cooling down (0); `key` \
         is the key's position in the provider's key list",
        keys,
    );
    registry.register(
        "config_version",
        "The configuration snapshot in force: 1 at start, one more for every reload",
        ConstGauge::new(saturating_i64(scrape.snapshot.version)),
    );
    registry.register(
        "log_records_written",
        "Request records written to usage.db",
        ConstCounter::new(scrape.log.written),
    );
    registry.register(
        "log_records_dropped",
        "Request records lost: the writer's queue was full, or the store refused them or stayed unreachable too long",
        ConstCounter::new(scrape.log.dropped),
    );
    registry.register(
        "log_queue_depth",
        "Request records waiting for the writer",
        ConstGauge::new(saturating_i64(scrape.log.queued)),
    );
    registry.register(
        "log_records_retrying",
        "Request records the store could not take yet, kept to write again",
        ConstGauge::new(saturating_i64(scrape.log.retrying)),
    );
    if let Some(redis) = scrape.redis {
        registry.register(
            "redis_up",
            "Whether the cluster's Redis answers this gateway (1) or its circuit is open (0)",
            ConstGauge::new(i64::from(redis.up)),
        );
        registry.register(
            "redis_errors",
            "Calls to the cluster's Redis that failed or timed out",
            ConstCounter::new(redis.errors),
        );
        registry.register(
            "redis_fallback",
            "Requests whose limits and budgets were counted in this gateway's memory because \
             Redis did not answer (redis_failure: open): each gateway then applies the limits on \
             its own",
            ConstCounter::new(redis.fallbacks),
        );
    }
    registry
}

fn saturating_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn millis_to_seconds(millis: u64) -> f64 {
    millis as f64 / 1000.0
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        500..=599 => "5xx",
        _ => "other",
    }
}

/// An attempt's outcome from an HTTP status: `success` below 400 (as the trail's `ok`), else the
/// status itself.
fn status_outcome(status: u16) -> Cow<'static, str> {
    match status {
        100..=399 => Cow::Borrowed("success"),
        400..=599 => Cow::Owned(status.to_string()),
        _ => Cow::Borrowed("error"),
    }
}

/// One trail step's outcome label, from a bounded set: `success`, an HTTP status, `timeout`,
/// `unreachable` or `error`.
fn trail_outcome(step: &TrailStep) -> Cow<'static, str> {
    if let Some(status) = step.status {
        return status_outcome(status);
    }
    match step.outcome.as_str() {
        "ok" | "success" => Cow::Borrowed("success"),
        "timeout" => Cow::Borrowed("timeout"),
        "unreachable" | "connect" => Cow::Borrowed("unreachable"),
        other => match other.parse::<u16>() {
            Ok(status) => status_outcome(status),
            Err(_) => Cow::Borrowed("error"),
        },
    }
}

/// The gateway's own error codes are short snake_case words; anything else is cut down to that
/// shape so that a label can never carry arbitrary text.
fn bounded_code(code: &str) -> String {
    let mut bounded = String::with_capacity(code.len().min(48));
    for c in code.chars().take(48) {
        bounded.push(if c.is_ascii_alphanumeric() || c == '_' {
            c.to_ascii_lowercase()
        } else {
            '_'
        });
    }
    bounded
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use prometheus_parse::{Sample, Value};

    use super::*;
    use crate::health::HealthRegistry;
    use crate::store::{LoadedConfig, StoredProvider};
    use crate::usage::Usage;

    const SECRET_A: &str = "sk-live-0123456789abcdefSECRETA";
    const SECRET_B: &str = "sk-live-0123456789abcdefSECRETB";

    fn snapshot(registry: &HealthRegistry) -> Snapshot {
        let mut spec = crate::snapshot::test_provider_spec("deepseek");
        spec.api_keys = Some(vec![SECRET_A.into(), SECRET_B.into()]);
        let mut other = crate::snapshot::test_provider_spec("backup");
        other.api_keys = Some(vec!["sk-backup-key-0000000000000000".into()]);
        Snapshot::build(
            LoadedConfig {
                revision: 3,
                providers: vec![
                    StoredProvider {
                        id: 1,
                        spec,
                        key_ids: vec![10, 11],
                    },
                    StoredProvider {
                        id: 2,
                        spec: other,
                        key_ids: vec![20],
                    },
                ],
                routes: Vec::new(),
                consumers: Vec::new(),
                settings: Default::default(),
                guardrails: Vec::new(),
            },
            7,
            registry,
        )
        .expect("the test snapshot builds")
    }

    fn served(consumer: Option<&str>, model: &str) -> LogRow {
        LogRow {
            route: Some(Label::from("chat")),
            provider: Some(Label::from("deepseek")),
            consumer: consumer.map(Label::from),
            requested_model: Some("chat".into()),
            model: Some(model.into()),
            status: 200,
            attempts: 1,
            usage: Usage {
                prompt_tokens: 100,
                completion_tokens: 40,
                cached_prompt_tokens: 30,
                reasoning_tokens: 10,
                cache_write_tokens: 0,
            },
            cost_micros: Some(1_500),
            latency_ms: 800,
            ttft_ms: Some(120),
            ..LogRow::default()
        }
    }

    fn render(metrics: &PromMetrics, snapshot: &Snapshot, log: LogStatus) -> String {
        let mut out = String::new();
        metrics
            .render(
                &Scrape {
                    snapshot,
                    log,
                    redis: None,
                },
                &mut out,
            )
            .expect("rendering into a String succeeds");
        out
    }

    fn parse(text: &str) -> Vec<Sample> {
        prometheus_parse::Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
            .expect("the Prometheus text parser reads the output")
            .samples
    }

    /// The value of the one sample of `metric` whose labels include all of `labels`.
    fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let matching: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.metric == metric)
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .collect();
        assert!(
            matching.len() <= 1,
            "{metric} {labels:?} matches {} samples",
            matching.len()
        );
        matching.first().map(|s| match &s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
            Value::Histogram(buckets) => buckets.iter().map(|b| b.count).fold(0.0, f64::max),
            Value::Summary(_) => f64::NAN,
        })
    }

    #[test]
    fn observed_rows_are_rendered_and_parsed() {
        let registry = HealthRegistry::default();
        let snapshot = snapshot(&registry);
        let metrics = PromMetrics::new();

        metrics.observe(&served(Some("team-a"), "deepseek-chat"));
        metrics.observe(&served(Some("team-a"), "deepseek-chat"));
        let mut fell_back = served(None, "deepseek-chat");
        fell_back.fallback_trail = vec![
            TrailStep {
                provider: "backup".into(),
                status: Some(503),
                outcome: "503".into(),
            },
            TrailStep {
                provider: "backup".into(),
                status: None,
                outcome: "timeout".into(),
            },
            TrailStep {
                provider: "deepseek".into(),
                status: Some(200),
                outcome: "ok".into(),
            },
        ];
        fell_back.attempts = 3;
        fell_back.client_disconnected = true;
        fell_back.cost_micros = None;
        metrics.observe(&fell_back);
        metrics.observe(&LogRow {
            route: Some(Label::from("chat")),
            consumer: Some(Label::from("team-b")),
            status: 429,
            error_code: Some("rate_limit_exceeded".into()),
            latency_ms: 1,
            ..LogRow::default()
        });
        metrics.observe(&LogRow {
            route: Some(Label::from("chat")),
            consumer: Some(Label::from("team-b")),
            status: 429,
            error_code: Some("budget_exceeded".into()),
            latency_ms: 1,
            ..LogRow::default()
        });
        metrics.observe(&LogRow {
            status: 401,
            error_code: Some("invalid_api_key".into()),
            model: Some("whatever-the-client-sent".into()),
            ..LogRow::default()
        });

        let text = render(
            &metrics,
            &snapshot,
            LogStatus {
                enabled: true,
                written: 42,
                dropped: 3,
                queued: 5,
                retrying: 7,
            },
        );
        let samples = parse(&text);
        let team_a = [
            ("route", "chat"),
            ("provider", "deepseek"),
            ("model", "deepseek-chat"),
            ("consumer", "team-a"),
        ];

        let requests = "switchyard_requests_total";
        let ok = [team_a.as_slice(), &[("status_class", "2xx"), ("code", "")]].concat();
        assert_eq!(value(&samples, requests, &ok), Some(2.0));
        assert_eq!(
            value(
                &samples,
                requests,
                &[("consumer", "anonymous"), ("status_class", "2xx")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(&samples, requests, &[("code", "rate_limit_exceeded")]),
            Some(1.0)
        );
        let refused = [
            ("route", ""),
            ("provider", ""),
            ("model", ""),
            ("consumer", "anonymous"),
            ("status_class", "4xx"),
            ("code", "invalid_api_key"),
        ];
        assert_eq!(value(&samples, requests, &refused), Some(1.0));
        assert!(!text.contains("whatever-the-client-sent"));

        let tokens = "switchyard_tokens_total";
        for (kind, count) in [
            ("prompt", 200.0),
            ("completion", 80.0),
            ("cached", 60.0),
            ("reasoning", 20.0),
        ] {
            let labels = [team_a.as_slice(), &[("type", kind)]].concat();
            assert_eq!(value(&samples, tokens, &labels), Some(count), "{kind}");
        }
        assert_eq!(value(&samples, tokens, &[("type", "cache_write")]), None);

        let cost = value(&samples, "switchyard_cost_usd_total", &team_a).expect("a cost");
        assert!((cost - 0.003).abs() < 1e-12, "{cost}");
        assert_eq!(
            value(
                &samples,
                "switchyard_cost_usd_total",
                &[("consumer", "anonymous")]
            ),
            None,
            "an unpriced request adds no cost"
        );

        let attempts = "switchyard_upstream_attempts_total";
        assert_eq!(
            value(
                &samples,
                attempts,
                &[("provider", "deepseek"), ("outcome", "success")]
            ),
            Some(3.0)
        );
        assert_eq!(
            value(
                &samples,
                attempts,
                &[("provider", "backup"), ("outcome", "503")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                attempts,
                &[("provider", "backup"), ("outcome", "timeout")]
            ),
            Some(1.0)
        );

        assert_eq!(
            value(
                &samples,
                "switchyard_rate_limited_total",
                &[("consumer", "team-b")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "switchyard_budget_refusals_total",
                &[("consumer", "team-b")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "switchyard_client_disconnects_total",
                &[("route", "chat")]
            ),
            Some(1.0)
        );

        let timing = [("route", "chat"), ("provider", "deepseek")];
        let duration = "switchyard_request_duration_seconds";
        let count = [duration, "_count"].concat();
        assert_eq!(value(&samples, &count, &timing), Some(3.0));
        let sum = value(&samples, &[duration, "_sum"].concat(), &timing).expect("a sum");
        assert!((sum - 2.4).abs() < 1e-9, "{sum}");
        let histogram = samples
            .iter()
            .find(|s| s.metric == duration && s.labels.get("provider") == Some("deepseek"))
            .expect("the duration histogram");
        let Value::Histogram(buckets) = &histogram.value else {
            panic!("{duration} is not parsed as a histogram");
        };
        let at = |bound: f64| {
            buckets
                .iter()
                .find(|b| {
                    if bound.is_infinite() {
                        b.less_than.is_infinite()
                    } else {
                        (b.less_than - bound).abs() < 1e-9
                    }
                })
                .map(|b| b.count)
        };
        assert_eq!(at(0.5), Some(0.0));
        assert_eq!(at(1.0), Some(3.0));
        assert_eq!(at(120.0), Some(3.0));
        assert_eq!(at(f64::INFINITY), Some(3.0));
        let ttft = "switchyard_time_to_first_token_seconds_count";
        assert_eq!(value(&samples, ttft, &timing), Some(3.0));

        assert_eq!(
            value(
                &samples,
                "switchyard_provider_healthy",
                &[("provider", "deepseek")]
            ),
            Some(1.0)
        );
        assert_eq!(
            value(
                &samples,
                "switchyard_provider_key_healthy",
                &[("provider", "deepseek"), ("key", "1")]
            ),
            Some(1.0)
        );
        assert_eq!(value(&samples, "switchyard_config_version", &[]), Some(7.0));
        assert_eq!(
            value(&samples, "switchyard_log_records_written_total", &[]),
            Some(42.0)
        );
        assert_eq!(
            value(&samples, "switchyard_log_records_dropped_total", &[]),
            Some(3.0)
        );
        assert_eq!(
            value(&samples, "switchyard_log_queue_depth", &[]),
            Some(5.0)
        );
        assert_eq!(
            value(&samples, "switchyard_log_records_retrying", &[]),
            Some(7.0)
        );

        // Every line is a comment or a sample the parser recognised.
        let lines = text.lines().filter(|line| !line.starts_with('#')).count();
        let buckets = samples
            .iter()
            .map(|s| match &s.value {
                Value::Histogram(b) => b.len(),
                _ => 1,
            })
            .sum::<usize>();
        assert_eq!(lines, buckets);
    }

    #[test]
    fn health_is_read_at_scrape_time_and_keys_never_appear() {
        let registry = HealthRegistry::default();
        let snapshot = snapshot(&registry);
        let metrics = PromMetrics::new();
        let named = |name: &str| {
            snapshot
                .providers()
                .iter()
                .find(|p| &*p.name == name)
                .cloned()
                .expect("the provider is in the snapshot")
        };
        let provider = named("deepseek");
        let now = tokio::time::Instant::now();
        provider.keys[0]
            .health
            .cool_down(now + Duration::from_secs(60));
        named("backup")
            .health
            .cool_down(now + Duration::from_secs(60));

        let text = render(&metrics, &snapshot, LogStatus::default());
        let samples = parse(&text);
        let key = |provider: &str, key: &str| {
            value(
                &samples,
                "switchyard_provider_key_healthy",
                &[("provider", provider), ("key", key)],
            )
        };
        assert_eq!(key("deepseek", "0"), Some(0.0));
        assert_eq!(key("deepseek", "1"), Some(1.0));
        assert_eq!(key("backup", "0"), Some(1.0));
        let healthy = |provider: &str| {
            value(
                &samples,
                "switchyard_provider_healthy",
                &[("provider", provider)],
            )
        };
        assert_eq!(healthy("deepseek"), Some(1.0));
        assert_eq!(healthy("backup"), Some(0.0));

        for secret in [SECRET_A, SECRET_B, "sk-backup-key", "SECRET", "0000"] {
            assert!(!text.contains(secret), "the output contains {secret}");
        }
        for key in &provider.keys {
            assert!(!text.contains(key.masked.as_str()));
        }
    }

    #[test]
    fn families_with_a_model_stop_growing_at_the_cap() {
        let metrics = PromMetrics::new();
        for i in 0..MAX_SERIES + 50 {
            metrics.observe(&served(Some("team-a"), &format!("model-{i}")));
        }
        assert_eq!(metrics.requests.series.load(Ordering::Relaxed), MAX_SERIES);
        assert_eq!(metrics.cost.series.load(Ordering::Relaxed), MAX_SERIES);
        let registry = HealthRegistry::default();
        let samples = parse(&render(
            &metrics,
            &snapshot(&registry),
            LogStatus::default(),
        ));
        assert_eq!(
            value(
                &samples,
                "switchyard_requests_total",
                &[("model", OTHER), ("consumer", "team-a")]
            ),
            Some(50.0)
        );
        let requests = samples
            .iter()
            .filter(|s| s.metric == "switchyard_requests_total")
            .count();
        assert_eq!(requests, MAX_SERIES + 1, "the cap's series and one `other`");
        // Four token types per model: the family reached the cap after 2,500 models.
        assert_eq!(metrics.tokens.series.load(Ordering::Relaxed), MAX_SERIES);
        let folded = samples
            .iter()
            .filter(|s| s.metric == "switchyard_tokens_total")
            .filter(|s| s.labels.get("model") == Some(OTHER))
            .count();
        assert_eq!(folded, 4);
    }

    #[test]
    fn labels_stay_bounded() {
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(499), "4xx");
        assert_eq!(status_class(0), "other");
        assert_eq!(bounded_code("Budget-Exceeded\n{x}"), "budget_exceeded__x_");
        assert_eq!(bounded_code(&"a".repeat(500)).len(), 48);
        let step = |status, outcome: &str| TrailStep {
            provider: "p".into(),
            status,
            outcome: outcome.into(),
        };
        assert_eq!(trail_outcome(&step(Some(201), "ok")), "success");
        assert_eq!(trail_outcome(&step(Some(429), "429")), "429");
        assert_eq!(trail_outcome(&step(None, "connect")), "unreachable");
        assert_eq!(trail_outcome(&step(None, "500")), "500");
        assert_eq!(trail_outcome(&step(None, "anything else")), "error");

        let metrics = PromMetrics::new();
        let long = "m".repeat(10_000);
        let row = served(None, &long);
        assert_eq!(metrics.model_label(&row).chars().count(), MAX_MODEL_LABEL);
        let unrouted = LogRow {
            route: None,
            ..served(None, "client-chosen")
        };
        assert_eq!(&*metrics.model_label(&unrouted), "");
    }
}
