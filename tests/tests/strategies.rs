//! Routing strategies end to end: least latency, cost under a latency target, least cost, least
//! busy and sticky sessions, against mock upstreams of different, changeable speeds and prices.
//!
//! Every gateway runs with `--test-clock`, so a test can age the estimates (`PUT
//! /api/debug/clock`) instead of waiting. Nothing sleeps for readiness: an admin write answers once
//! it is live, and "measured" means `/api/health` reports the samples, polled with a deadline.
//! Timings are real (the gateway is another process), so the mocks' speeds differ by several times
//! the noise, and each test sends only the requests its assertions need.
//! The tests live in the `strategies/` modules; this file holds what they share.

#[path = "strategies/choice.rs"]
mod choice;
#[path = "strategies/latency.rs"]
mod latency;
#[path = "strategies/sticky.rs"]
mod sticky;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_shared::admin::{HealthView, RouteHealthView, UpstreamHealthView};
use switchyard_tests::fixtures::{provider, test_key};
use switchyard_tests::{Gateway, GatewayOptions, MockUpstream, poll_until};

/// How long a test waits for something asynchronous (a sample, a circuit) before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// A gateway whose clock tests may move.
pub async fn gateway() -> Gateway {
    Gateway::start_with(GatewayOptions::default().args(["--test-clock"])).await
}

/// Registers a provider named after `mock`, with `extra` fields (pricing, health_check) merged in.
pub async fn add_provider(gateway: &Gateway, mock: &MockUpstream, extra: Value) {
    let mut spec = provider(mock.name(), mock, &test_key(mock.name()));
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    gateway.add_provider(&spec).await;
}

/// A provider's `pricing` field: every model at `input` and `output` USD per million tokens.
pub fn priced(input: f64, output: f64) -> Value {
    json!({"pricing": {"*": {"input_per_mtok": input, "output_per_mtok": output}}})
}

/// A circuit that opens after one failure and probes again after 300 ms, with no active checks.
pub fn quick_circuit() -> Value {
    json!({"health_check": {"enabled": false, "unhealthy_after": 1, "cooldown_ms": 300}})
}

/// Creates route `name` for models starting with `name-`, with its upstreams and `extra` fields
/// (strategy, max_latency_ms, sticky_by, fallback) merged in.
pub async fn add_route(gateway: &Gateway, name: &str, upstreams: Value, extra: Value) {
    let mut spec = json!({
        "name": name,
        "match": [{"type": "prefix", "value": format!("{name}-")}],
        "upstreams": upstreams,
    });
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    gateway.add_route(&spec).await;
}

/// What one answer said about where it went.
#[derive(Clone, Debug)]
pub struct Served {
    pub status: u16,
    /// `x-switchyard-provider`.
    pub provider: String,
    /// `x-switchyard-strategy`.
    pub strategy: String,
    /// `x-switchyard-attempts`.
    pub attempts: String,
}

/// Sends a chat (streamed when the body says so) with extra `headers`, reads the body to its end
/// and returns what the headers said, asserting a 200.
pub async fn served(gateway: &Gateway, body: &Value, headers: &[(&str, &str)]) -> Served {
    let answer = answer(gateway, body, headers).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer
}

/// [`served`] without the status assertion.
pub async fn answer(gateway: &Gateway, body: &Value, headers: &[(&str, &str)]) -> Served {
    let mut request = gateway.chat_request(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("the gateway answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let served = Served {
        status: response.status().as_u16(),
        provider: header("x-switchyard-provider"),
        strategy: header("x-switchyard-strategy"),
        attempts: header("x-switchyard-attempts"),
    };
    // Draining the body ends the attempt's flight, as a client reading the whole answer would.
    let body = response.bytes().await.expect("the whole body arrives");
    assert!(
        served.status != 200 || !body.is_empty(),
        "an empty 200 body: {served:?}"
    );
    served
}

/// Sends `count` requests one after another and returns who answered each.
pub async fn serve_many(
    gateway: &Gateway,
    body: &Value,
    headers: &[(&str, &str)],
    count: usize,
) -> Vec<Served> {
    let mut answers = Vec::with_capacity(count);
    for _ in 0..count {
        answers.push(served(gateway, body, headers).await);
    }
    answers
}

/// Sends requests until `provider` answers one, at most `limit`; returns how many it took and
/// that answer.
pub async fn send_until(
    gateway: &Gateway,
    body: &Value,
    provider: &str,
    limit: usize,
) -> (usize, Served) {
    for sent in 1..=limit {
        let answer = served(gateway, body, &[]).await;
        if answer.provider == provider {
            return (sent, answer);
        }
    }
    panic!("{provider} answered none of {limit} requests");
}

/// How many answers each provider gave.
pub fn tally(answers: &[Served]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for answer in answers {
        *counts.entry(answer.provider.clone()).or_insert(0) += 1;
    }
    counts
}

/// How many answers `provider` gave.
pub fn count(answers: &[Served], provider: &str) -> usize {
    answers.iter().filter(|a| a.provider == provider).count()
}

/// `GET /api/health`, asserting 200.
pub async fn health(gateway: &Gateway) -> HealthView {
    let response = gateway.admin_get("/api/health").await;
    response.expect_status(200, "GET /api/health");
    serde_json::from_value(response.json())
        .unwrap_or_else(|e| panic!("/api/health does not parse ({e}): {}", response.text()))
}

/// One route's entry in `/api/health`.
pub async fn health_route(gateway: &Gateway, name: &str) -> RouteHealthView {
    let health = health(gateway).await;
    health
        .route(name)
        .unwrap_or_else(|| panic!("no route {name} in {health:?}"))
        .clone()
}

/// One upstream of a route's `/api/health` entry, by provider.
pub fn upstream_view<'a>(route: &'a RouteHealthView, provider: &str) -> &'a UpstreamHealthView {
    route
        .upstream(provider)
        .unwrap_or_else(|| panic!("no upstream {provider} in {route:?}"))
}

/// A provider's circuit state in `/api/health`.
pub async fn circuit(gateway: &Gateway, provider: &str) -> String {
    let health = health(gateway).await;
    health
        .provider(provider)
        .unwrap_or_else(|| panic!("no provider {provider} in {health:?}"))
        .state
        .clone()
}

/// Waits until every upstream of `route` has at least `samples` time-to-first-token samples.
pub async fn measured(gateway: &Gateway, route: &str, samples: u64) -> RouteHealthView {
    poll_until(DEADLINE, "every upstream to be measured", || async {
        let view = health_route(gateway, route).await;
        view.upstreams
            .iter()
            .all(|u| u.samples >= samples)
            .then_some(view)
    })
    .await
}

/// Waits until no attempt of `route` is in flight (every answer's body has ended).
pub async fn settled(gateway: &Gateway, route: &str) -> RouteHealthView {
    poll_until(DEADLINE, "no request in flight", || async {
        let view = health_route(gateway, route).await;
        view.upstreams
            .iter()
            .all(|u| u.in_flight == 0)
            .then_some(view)
    })
    .await
}

/// Moves the gateway clock `offset_ms` ahead of the system time.
pub async fn move_clock(gateway: &Gateway, offset_ms: i64) {
    gateway
        .move_clock(offset_ms)
        .await
        .expect_status(200, &format!("moving the clock {offset_ms} ms"));
}
