//! Resilience end to end: priority failover, fallback, key failover, circuits, retries and streams.
//!
//! The gateway runs as a separate process, so tokio's paused time cannot drive its clocks: every
//! timing here is real. Timeouts, cooldowns and probe intervals are kept to tens or hundreds of
//! milliseconds so the suite stays fast, durations are asserted with stated tolerances, and state
//! changes (a key ejected, a circuit closed) are awaited by polling with a deadline, not by sleeping.
//! The tests live in the `resilience/` modules; this file holds what they share.

#[path = "resilience/active.rs"]
mod active;
#[path = "resilience/keys.rs"]
mod keys;
#[path = "resilience/retry.rs"]
mod retry;
#[path = "resilience/setups.rs"]
mod setups;
#[path = "resilience/streams.rs"]
mod streams;

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_shared::secret::mask_secret;
use switchyard_tests::fixtures::provider_at;
use switchyard_tests::{ApiResponse, Gateway, MockUpstream};

/// How long a test waits for something asynchronous (a probe, a cooldown) before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

pub fn ms(millis: u64) -> Duration {
    Duration::from_millis(millis)
}

/// `GET /api/health`, asserting 200.
pub async fn health(gateway: &Gateway) -> Value {
    let response = gateway.admin_get("/api/health").await;
    response.expect_status(200, "GET /api/health");
    response.json()
}

/// One provider's entry in a `/api/health` body.
pub fn provider_view(health: &Value, provider: &str) -> Value {
    health["providers"]
        .as_array()
        .expect("`providers` is an array")
        .iter()
        .find(|p| p["name"] == provider)
        .unwrap_or_else(|| panic!("no provider {provider} in {health}"))
        .clone()
}

/// One key's entry (found by its masked form), or `None` when the provider has no such key.
pub fn key_view(health: &Value, provider: &str, key: &str) -> Option<Value> {
    let masked = mask_secret(key);
    provider_view(health, provider)["keys"]
        .as_array()
        .expect("`keys` is an array")
        .iter()
        .find(|k| k["key"] == masked.as_str())
        .cloned()
}

/// The `state` of a key in `/api/health`.
pub async fn key_state(gateway: &Gateway, provider: &str, key: &str) -> String {
    let health = health(gateway).await;
    let view = key_view(&health, provider, key)
        .unwrap_or_else(|| panic!("no key {} in {health}", mask_secret(key)));
    view["state"].as_str().expect("a key state").to_owned()
}

/// A provider at `mock` with `keys`, and `extra` fields merged in.
pub fn provider_with(name: &str, mock: &MockUpstream, keys: &[&str], extra: Value) -> Value {
    let mut spec = provider_at(name, &mock.base_url(), keys);
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    spec
}

/// A route for models starting with `prefix`, with upstreams and `extra` fields merged in.
pub fn route_with(name: &str, prefix: &str, upstreams: Value, extra: Value) -> Value {
    let mut spec = json!({
        "name": name,
        "match": [{"type": "prefix", "value": prefix}],
        "upstreams": upstreams,
    });
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    spec
}

/// The attempt trail (`x-switchyard-fallback`), or `None` for a single attempt.
pub fn trail(response: &ApiResponse) -> Option<&str> {
    response.header("x-switchyard-fallback")
}

/// A header of a streaming response, as text.
pub fn stream_header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Asserts a `200` that `provider` answered, and returns it.
pub fn answered_by<'a>(response: &'a ApiResponse, provider: &str) -> &'a ApiResponse {
    response.expect_status(200, &format!("a request {provider} should answer"));
    assert_eq!(
        response.header("x-switchyard-provider"),
        Some(provider),
        "answered by the wrong provider; trail {:?}",
        trail(response)
    );
    response
}
