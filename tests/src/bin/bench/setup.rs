//! What one run does: the sample sizes of each arm (full or `--quick`), the gateway's
//! configuration pointing at the mock, and the shared context every arm receives.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use crate::client::Target;
use crate::gateway::{Gateway, Launch};
use crate::mock::Mock;
use crate::relay::Relay;
use crate::request_log::LogOff;

/// Model names; each selects one route, and so one mock behaviour.
pub const MODEL_FAST: &str = "bench-gpt";
pub const MODEL_SSE: &str = "stream-gpt";
pub const MODEL_SSE_LOAD: &str = "streamload-gpt";
pub const MODEL_SLOW: &str = "slow-gpt";
pub const MODEL_FAILOVER: &str = "failover-gpt";
/// The route with a response cache, whose upstream answers after [`CACHE_UPSTREAM_DELAY_MS`].
pub const MODEL_CACHE: &str = "cache-gpt";
/// The route whose requests pass the [`GUARDRAIL_POLICY`] policy, to the plain mock. The name
/// is as long as [`MODEL_FAST`], so that the same prompt has the same size on both routes.
pub const MODEL_GUARD: &str = "guard-gpt";

/// The guardrail policy of the guarded route: every built-in PII detector, masking all but
/// card numbers, which it blocks.
pub const GUARDRAIL_POLICY: &str = "pii";

/// How long the cached route's upstream takes to answer: a fast real model, against which a
/// cache hit must win. The mock itself answers in about 20 µs, which no proxy can beat.
pub const CACHE_UPSTREAM_DELAY_MS: u64 = 20;

/// The failover provider's keys: the mock refuses the first and accepts the second.
pub const BAD_KEY: &str = "sk-bench-revoked-000000000001";
pub const GOOD_KEY: &str = "sk-bench-good-000000000002";

/// Sample sizes and durations of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub quick: bool,
    pub latency_warmup: usize,
    /// Requests per arm in the added-latency arm (each arm gets this many).
    pub latency_requests: usize,
    pub throughput_levels: Vec<usize>,
    pub step: Duration,
    pub step_warmup: Duration,
    pub sse_chunks: u32,
    pub sse_interval_ms: u64,
    pub sse_streams: usize,
    pub sse_warmup: usize,
    pub load_streams: usize,
    pub load_chunks: u32,
    pub load_interval_ms: u64,
    pub inflight: usize,
    pub inflight_delay_ms: u64,
    pub reload_routes: usize,
    pub reload_providers: usize,
    pub swaps: usize,
    pub swap_baseline: Duration,
    pub swap_workers: usize,
    pub failover_requests: usize,
    /// Requests sent one at a time to the mock behind a [`CACHE_UPSTREAM_DELAY_MS`] delay, the
    /// upstream a cache hit is compared with.
    pub delayed_requests: usize,
}

impl Plan {
    pub fn full() -> Plan {
        Plan {
            quick: false,
            latency_warmup: 1_000,
            latency_requests: 20_000,
            throughput_levels: vec![1, 2, 4, 8, 16, 32, 64, 128, 256],
            step: Duration::from_millis(1_500),
            step_warmup: Duration::from_millis(300),
            sse_chunks: 10,
            sse_interval_ms: 2,
            sse_streams: 300,
            sse_warmup: 20,
            load_streams: 1_000,
            load_chunks: 25,
            load_interval_ms: 20,
            inflight: 1_000,
            inflight_delay_ms: 2_000,
            reload_routes: 1_000,
            reload_providers: 100,
            swaps: 100,
            swap_baseline: Duration::from_secs(3),
            swap_workers: 4,
            failover_requests: 2_000,
            delayed_requests: 250,
        }
    }

    /// Small enough for the smoke test against a debug build: every arm runs, no figure counts.
    pub fn quick() -> Plan {
        Plan {
            quick: true,
            latency_warmup: 20,
            latency_requests: 200,
            throughput_levels: vec![1, 8],
            step: Duration::from_millis(200),
            step_warmup: Duration::from_millis(50),
            sse_chunks: 5,
            sse_interval_ms: 2,
            sse_streams: 10,
            sse_warmup: 2,
            load_streams: 50,
            load_chunks: 5,
            load_interval_ms: 20,
            inflight: 50,
            inflight_delay_ms: 300,
            reload_routes: 100,
            reload_providers: 10,
            swaps: 5,
            swap_baseline: Duration::from_millis(300),
            swap_workers: 2,
            failover_requests: 50,
            delayed_requests: 5,
        }
    }
}

/// Everything the arms share.
pub struct Ctx {
    pub plan: Plan,
    pub launch: Launch,
    pub mock: Mock,
    /// The long-lived gateway that every arm but the footprint's uses.
    pub gateway: Gateway,
    pub data_dir: PathBuf,
    /// Scratch space: config files, the footprint arm's own data dir.
    pub work_dir: PathBuf,
    /// The mock's plain completion path, the baseline every added figure is taken against.
    pub direct: Arc<Target>,
    /// The null relay in front of the mock: the floor any proxy pays on this machine.
    pub relay: Relay,
    pub compares: Vec<Arc<Target>>,
    /// The gateway called with a consumer's client key, under request and token limits too high
    /// to refuse anything: what authentication and admission cost.
    pub keyed: Arc<Target>,
    /// A second gateway like the main one but with its request log off, for the latency arm
    /// only; it is stopped once that arm is done.
    pub log_off: Option<LogOff>,
    /// Why there is no log-off gateway, when the latency arm runs without one.
    pub log_off_note: Option<String>,
    /// The configuration applied to the gateway before the arms, which the footprint and reload
    /// arms start from.
    pub base_config: Value,
    /// Why the cache and guardrail targets are left out, when the gateway refused their routes.
    pub cache_guardrails_note: Option<String>,
    pub ticks_per_sec: u64,
}

impl Ctx {
    pub fn sse_path(&self) -> String {
        format!(
            "/sse/{}/{}/v1/chat/completions",
            self.plan.sse_chunks, self.plan.sse_interval_ms
        )
    }

    pub fn sse_load_path(&self) -> String {
        format!(
            "/sse/{}/{}/v1/chat/completions",
            self.plan.load_chunks, self.plan.load_interval_ms
        )
    }

    /// CPU ticks to microseconds.
    pub fn ticks_to_us(&self, ticks: u64) -> f64 {
        ticks as f64 * 1_000_000.0 / self.ticks_per_sec as f64
    }
}

fn provider(name: &str, base_url: String, keys: &[&str]) -> Value {
    json!({"name": name, "type": "openai-compatible", "base_url": base_url, "api_keys": keys})
}

fn route(name: &str, prefix: &str, provider: &str) -> Value {
    json!({"name": name, "match": [{"type": "prefix", "value": prefix}],
           "upstreams": [{"provider": provider, "weight": 100}]})
}

/// The providers and routes every arm needs: one per mock behaviour. With `cache_guardrails`,
/// also a route with a response cache in front of a slow upstream and a route whose requests pass
/// the PII policy (issue 13); a build without those features refuses the configuration, and the
/// bench then runs without them.
pub fn base_config(mock: &Mock, plan: &Plan, cache_guardrails: bool) -> Value {
    let key = ["sk-bench-000000000001"];
    let sse = format!("/sse/{}/{}", plan.sse_chunks, plan.sse_interval_ms);
    let load = format!("/sse/{}/{}", plan.load_chunks, plan.load_interval_ms);
    let slow = format!("/delay/{}", plan.inflight_delay_ms);
    let failover = format!("/key/{GOOD_KEY}");
    let mut doc = json!({
        "providers": [
            provider("mock", mock.base_url(""), &key),
            provider("mock-sse", mock.base_url(&sse), &key),
            provider("mock-sse-load", mock.base_url(&load), &key),
            provider("mock-slow", mock.base_url(&slow), &key),
            provider("mock-failover", mock.base_url(&failover), &[BAD_KEY, GOOD_KEY]),
        ],
        "routes": [
            route("bench", "bench-", "mock"),
            route("stream", "stream-", "mock-sse"),
            route("streamload", "streamload-", "mock-sse-load"),
            route("slow", "slow-", "mock-slow"),
            route("failover", "failover-", "mock-failover"),
        ],
    });
    if cache_guardrails {
        add_cache_guardrails(&mut doc, mock, &key);
    }
    doc
}

/// Issue 13's additions to the base configuration: the cached route, the guardrail policy and the
/// guarded route.
fn add_cache_guardrails(doc: &mut Value, mock: &Mock, key: &[&str]) {
    let delayed = format!("/delay/{CACHE_UPSTREAM_DELAY_MS}");
    if let Some(providers) = doc["providers"].as_array_mut() {
        providers.push(provider("mock-delayed", mock.base_url(&delayed), key));
    }
    let mut cached = route("cache", "cache-", "mock-delayed");
    cached["cache"] = json!({"enabled": true, "ttl_seconds": 3600, "scope": "global"});
    let mut guarded = route("guard", "guard-", "mock");
    guarded["guardrails"] = json!([GUARDRAIL_POLICY]);
    if let Some(routes) = doc["routes"].as_array_mut() {
        routes.push(cached);
        routes.push(guarded);
    }
    let detectors: Vec<Value> = [
        ("email", "mask"),
        ("phone", "mask"),
        ("credit_card", "block"),
        ("iban", "mask"),
        ("cn_resident_id", "mask"),
        ("us_ssn", "mask"),
        ("ip_address", "mask"),
        ("secret", "mask"),
    ]
    .into_iter()
    .map(|(kind, action)| json!({"type": kind, "action": action}))
    .collect();
    doc["guardrails"] =
        json!([{"name": GUARDRAIL_POLICY, "mode": "enforce", "detectors": detectors}]);
}

/// The base config grown to `plan.reload_routes` routes and `plan.reload_providers` providers,
/// all valid and all pointing at the mock, as a large real deployment would look.
pub fn reload_config(base: &Value, mock: &Mock, plan: &Plan) -> Value {
    let mut doc = base.clone();
    let (extra_providers, extra_routes) = scale_counts(plan, base);
    if let Some(providers) = doc["providers"].as_array_mut() {
        for i in 0..extra_providers {
            let key = format!("sk-bench-{i:012}");
            providers.push(provider(&format!("p-{i:03}"), mock.base_url(""), &[&key]));
        }
    }
    if let Some(routes) = doc["routes"].as_array_mut() {
        for i in 0..extra_routes {
            routes.push(scale_route(i, 0, extra_providers));
        }
    }
    doc
}

/// The providers and routes [`reload_config`] adds to those of `base` to reach the plan's size.
pub fn scale_counts(plan: &Plan, base: &Value) -> (usize, usize) {
    let count = |key: &str| base[key].as_array().map_or(0, Vec::len);
    (
        plan.reload_providers
            .saturating_sub(count("providers"))
            .max(1),
        plan.reload_routes.saturating_sub(count("routes")).max(1),
    )
}

/// Route number `i` of the scaled config: an exact and a prefix rule, two weighted upstreams
/// with a model rewrite, so that compiling it does the work a real route needs.
pub fn scale_route(i: usize, priority: i32, providers: usize) -> Value {
    json!({
        "name": scale_route_name(i),
        "priority": priority,
        "match": [{"type": "exact", "value": format!("m-{i:04}")},
                  {"type": "prefix", "value": format!("m-{i:04}-")}],
        "upstreams": [
            {"provider": format!("p-{:03}", i % providers), "weight": 70, "model": format!("up-{i:04}")},
            {"provider": format!("p-{:03}", (i + 1) % providers), "weight": 30},
        ],
    })
}

pub fn scale_route_name(i: usize) -> String {
    format!("r-{i:04}")
}

/// Issue 15's round: the three priced providers, all on the plain mock, as (name, input and
/// output price in dollars per million tokens). One cheap, one mid-priced, one dear.
pub const STRATEGY_PROVIDERS: [(&str, f64, f64); 3] = [
    ("bench-a", 0.1, 0.2),
    ("bench-b", 1.0, 2.0),
    ("bench-c", 5.0, 15.0),
];

/// The model every strategy route sends its upstreams, priced by each provider's override, so
/// that each upstream's price is resolved once when the snapshot is built.
pub const STRATEGY_UPSTREAM_MODEL: &str = "bench-up";

/// Each route's strategy and the model that selects it by an exact match. The names are as long
/// as each other, so that every target sends a body of the same size.
pub const STRATEGY_ROUTES: [(&str, &str); 6] = [
    ("weighted", "bench-w3"),
    ("least_latency", "bench-ll"),
    ("least_cost", "bench-lc"),
    ("cost_under_latency", "bench-cl"),
    ("least_busy", "bench-lb"),
    ("sticky", "bench-st"),
];

/// `cost_under_latency`'s target, far above what the mock takes, so the cheapest meets it.
pub const STRATEGY_MAX_LATENCY_MS: u64 = 5_000;

/// The header the sticky route keys sessions on.
pub const STICKY_HEADER: &str = "x-session-id";

/// The priced providers of the strategy round.
pub fn strategy_providers(mock: &Mock) -> Vec<Value> {
    STRATEGY_PROVIDERS
        .iter()
        .map(|&(name, input, output)| {
            let mut spec = provider(name, mock.base_url(""), &["sk-bench-000000000001"]);
            spec["pricing"] = json!({STRATEGY_UPSTREAM_MODEL:
                {"input_per_mtok": input, "output_per_mtok": output}});
            spec
        })
        .collect()
}

/// The strategy round's routes: one per strategy, each over the three priced providers with
/// equal weights and the same upstream model.
pub fn strategy_routes() -> Vec<Value> {
    STRATEGY_ROUTES
        .iter()
        .map(|&(strategy, model)| {
            let upstreams: Vec<Value> = STRATEGY_PROVIDERS
                .iter()
                .map(|(name, _, _)| {
                    json!({"provider": name, "weight": 100, "model": STRATEGY_UPSTREAM_MODEL})
                })
                .collect();
            let mut spec = json!({
                "name": model,
                "match": [{"type": "exact", "value": model}],
                "upstreams": upstreams,
            });
            if strategy != "weighted" {
                spec["strategy"] = json!(strategy);
            }
            match strategy {
                "cost_under_latency" => spec["max_latency_ms"] = json!(STRATEGY_MAX_LATENCY_MS),
                "sticky" => spec["sticky_by"] = json!(format!("header:{STICKY_HEADER}")),
                _ => {}
            }
            spec
        })
        .collect()
}
