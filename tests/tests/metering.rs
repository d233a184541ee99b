//! Metering end to end: one record per proxied request (served, refused, failed, fallen back or
//! cut off by the client), tokens from every provider's usage or estimated, costs, the logs and
//! usage APIs, spend budgets with their alerts, period resets and restarts, and `/metrics`.
//!
//! The gateway is a separate process and its meter writes records on a 100 ms tick, so every
//! test that reads records polls with a deadline, and counts are asserted only after a barrier
//! request (see `Gateway::log_barrier`) has been recorded. Prices are set per provider so that
//! every cost is an exact number of micro-dollars: 1,000 per prompt token, 2,000 per completion
//! token. The tests live in the `metering/` modules; this file holds what they share.

#[path = "metering/api.rs"]
mod api;
#[path = "metering/budgets.rs"]
mod budgets;
#[path = "metering/metrics.rs"]
mod metrics;
#[path = "metering/records.rs"]
mod records;
#[path = "metering/tokens.rs"]
mod tokens;

use serde_json::{Value, json};
use switchyard_tests::consumers::IssuedKey;
use switchyard_tests::fixtures::{prefix, provider, simple_route, test_key};
use switchyard_tests::metering::with_pricing;
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions, MockUpstream};

/// A model the `metered` route serves, at the test prices.
pub const MODEL: &str = "metered-1";

/// A gateway with the OpenAI-compatible mock `up`, priced for `metered-*` models, behind the
/// route `metered` (models starting with `metered-`).
pub async fn setup() -> (Gateway, MockUpstream) {
    setup_with(GatewayOptions::default(), json!({})).await
}

/// [`setup`] with gateway options, and `route_extra` fields (`retry`, `limits`, ...) merged into
/// the `metered` route.
pub async fn setup_with(options: GatewayOptions, route_extra: Value) -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("up").await;
    let gateway = Gateway::start_with(options).await;
    add_priced(&gateway, &mock).await;
    gateway.add_route(&metered_route(route_extra)).await;
    (gateway, mock)
}

/// Registers a provider named after `mock`, priced for `metered-*` models.
pub async fn add_priced(gateway: &Gateway, mock: &MockUpstream) {
    let spec = provider(mock.name(), mock, &test_key(mock.name()));
    gateway.add_provider(&with_pricing(spec, "metered-*")).await;
}

/// The `metered` route with `extra` fields merged in.
pub fn metered_route(extra: Value) -> Value {
    let mut spec = simple_route("metered", prefix("metered-"), "up");
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    spec
}

/// Creates consumer `spec` and issues it a key with the fields of `key` (a name at least).
pub async fn consumer_with_key(gateway: &Gateway, spec: Value, key: Value) -> IssuedKey {
    gateway.add_consumer(&spec).await;
    let name = spec["name"].as_str().expect("the consumer has a name");
    gateway.issue_key(name, &key).await
}

/// A chat request as an OpenAI SDK sends it.
pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "Say hello to the meter."}]})
}

/// A streaming chat request.
pub fn chat_stream(model: &str) -> Value {
    let mut body = chat(model);
    body["stream"] = json!(true);
    body
}

/// A chat request with `key` as a bearer token (if any) and `request_id` as `x-request-id`.
pub fn chat_request(
    gateway: &Gateway,
    key: Option<&str>,
    body: &Value,
    request_id: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut request = gateway.chat_request(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if let Some(id) = request_id {
        request = request.header("x-request-id", id);
    }
    request
}

/// [`chat_request`], sent and read completely.
pub async fn send(
    gateway: &Gateway,
    key: Option<&str>,
    body: &Value,
    request_id: Option<&str>,
) -> ApiResponse {
    ApiResponse::send(chat_request(gateway, key, body, request_id)).await
}

/// The answer's `x-request-id`, asserted present.
pub fn request_id(response: &ApiResponse) -> String {
    response
        .header("x-request-id")
        .unwrap_or_else(|| panic!("an answer without x-request-id: {:?}", response.headers))
        .to_owned()
}

/// Whether `id` has the form of a generated request id: `req_` and 32 lowercase hex digits.
pub fn is_generated_id(id: &str) -> bool {
    id.strip_prefix("req_").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// Asserts an OpenAI-shaped error with `status` and `code`; returns the `error` object.
pub fn openai_error(response: &ApiResponse, status: u16, code: &str) -> Value {
    response.expect_status(status, &format!("expected {status} {code}"));
    let error = response.openai_error();
    assert_eq!(error["code"], code, "wrong error code: {}", response.text());
    error
}

#[test]
fn generated_ids_are_recognised() {
    assert!(is_generated_id("req_0123456789abcdef0123456789abcdef"));
    assert!(!is_generated_id("req_0123456789ABCDEF0123456789abcdef"));
    assert!(!is_generated_id("req_0123"));
    assert!(!is_generated_id("client-id"));
}
