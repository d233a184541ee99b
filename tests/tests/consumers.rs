//! Consumers, client API keys and limits end to end: who may call the proxy (401/403 in OpenAI's
//! and Anthropic's shapes), how much (requests, tokens and concurrent streams per consumer, key
//! and route), keys rotated and revoked while the gateway runs, keys kept out of every answer,
//! export, file and log after their creation, and the `client_auth` setting.
//!
//! As in the resilience tests, the gateway is a separate process, so every timing is real: waits
//! for something asynchronous (an expiry, a freed slot) poll with a deadline, and anything that
//! must be true at once (a revoked key) is checked on the very next request without polling.
//! The tests live in the `consumers/` modules; this file holds what they share.

#[path = "consumers/auth.rs"]
mod auth;
#[path = "consumers/keys.rs"]
mod keys;
#[path = "consumers/limits.rs"]
mod limits;
#[path = "consumers/secrets.rs"]
mod secrets;
#[path = "consumers/settings.rs"]
mod settings;

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_tests::consumers::IssuedKey;
use switchyard_tests::fixtures::{add_mock_provider, prefix, simple_route};
use switchyard_tests::providers::anthropic;
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions, MockUpstream};

/// How long a test waits for something asynchronous (an expiry, a freed slot) before failing.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A model the `deepseek` route serves.
pub const DEEPSEEK: &str = "deepseek-chat";
/// A model the `gpt` route serves.
pub const GPT: &str = "gpt-4o";

/// A gateway with the OpenAI-compatible mock `up` behind two routes: `deepseek` (models starting
/// with `deepseek-`) and `gpt` (models starting with `gpt-`).
pub async fn setup() -> (Gateway, MockUpstream) {
    setup_with(GatewayOptions::default()).await
}

/// [`setup`] with explicit gateway options.
pub async fn setup_with(options: GatewayOptions) -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("up").await;
    let gateway = Gateway::start_with(options).await;
    add_mock_provider(&gateway, &mock).await;
    gateway.add_route(&deepseek_route()).await;
    gateway.add_route(&gpt_route(json!({}))).await;
    (gateway, mock)
}

/// The `deepseek` route of [`setup`].
pub fn deepseek_route() -> Value {
    simple_route("deepseek", prefix("deepseek-"), "up")
}

/// The `gpt` route of [`setup`] with `extra` fields (such as `auth` or `limits`) merged in.
pub fn gpt_route(extra: Value) -> Value {
    let mut spec = simple_route("gpt", prefix("gpt-"), "up");
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    spec
}

/// Creates consumer `spec` and issues it one key named `ci`.
pub async fn consumer_with_key(gateway: &Gateway, spec: Value) -> IssuedKey {
    gateway.add_consumer(&spec).await;
    let name = spec["name"].as_str().expect("the consumer has a name");
    gateway.issue_key(name, &json!({"name": "ci"})).await
}

/// A chat request as an OpenAI SDK sends it.
pub fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// A Messages API request as an Anthropic SDK sends it.
pub fn message(model: &str) -> Value {
    json!({"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]})
}

/// Words of a message saying that no key came with the request.
pub const MISSING: &[&str] = &["missing", "didn't provide", "did not provide", "no api key"];

/// Asserts an OpenAI-shaped error with `status` and `code`; returns its message.
pub fn openai_error(response: &ApiResponse, status: u16, code: &str) -> String {
    response.expect_status(status, &format!("expected {status} {code}"));
    let error = response.openai_error();
    assert_eq!(error["code"], code, "wrong error code: {}", response.text());
    error["message"]
        .as_str()
        .expect("openai_error checked the message")
        .to_owned()
}

/// Asserts Anthropic's error body with `status` and `kind`; returns its message.
pub fn anthropic_error(response: &ApiResponse, status: u16, kind: &str) -> String {
    anthropic::assert_error(response, status, kind);
    response.json()["error"]["message"]
        .as_str()
        .expect("assert_error checked the message")
        .to_owned()
}

/// Asserts OpenAI's 401 for a client key: type `invalid_request_error`, code `invalid_api_key`,
/// a message containing one of `reasons` (lowercased) that does not echo `presented`.
pub fn assert_key_refused(response: &ApiResponse, reasons: &[&str], presented: Option<&str>) {
    let message = openai_error(response, 401, "invalid_api_key");
    assert_eq!(
        response.json()["error"]["type"],
        "invalid_request_error",
        "OpenAI's type for a bad key: {}",
        response.text()
    );
    assert_reason(&message, reasons);
    assert_not_echoed(response, presented);
}

/// Asserts Anthropic's 401 `authentication_error` with one of `reasons`, not echoing `presented`.
pub fn assert_key_refused_anthropic(
    response: &ApiResponse,
    reasons: &[&str],
    presented: Option<&str>,
) {
    let message = anthropic_error(response, 401, "authentication_error");
    assert_reason(&message, reasons);
    assert_not_echoed(response, presented);
}

fn assert_reason(message: &str, reasons: &[&str]) {
    let lower = message.to_lowercase();
    assert!(
        reasons.is_empty() || reasons.iter().any(|r| lower.contains(r)),
        "the message should say why ({reasons:?}): {message}"
    );
}

fn assert_not_echoed(response: &ApiResponse, presented: Option<&str>) {
    if let Some(key) = presented {
        let secret = key.strip_prefix("sy-").unwrap_or(key);
        let text = response.text();
        assert!(
            !text.contains(secret),
            "the error echoes the presented key: {text}"
        );
        for (name, value) in &response.headers {
            let value = value.to_str().unwrap_or_default();
            assert!(!value.contains(secret), "header {name} echoes the key");
        }
    }
}

/// Asserts that no request the mock received carries a Switchyard key in any header: the
/// client's key never reaches a provider.
pub fn assert_no_client_key_upstream(mock: &MockUpstream) {
    for request in mock.requests() {
        for (name, value) in &request.headers {
            let value = value.to_str().unwrap_or_default();
            assert!(
                !value.contains("sy-"),
                "the client's key reached the provider in header {name}: {value}"
            );
        }
    }
}

/// The whole-second `Retry-After` of a 429, asserted present and at least 1.
pub fn retry_after(response: &ApiResponse) -> u64 {
    let value = response
        .header("retry-after")
        .unwrap_or_else(|| panic!("a 429 without Retry-After: {:?}", response.headers));
    let seconds: u64 = value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After must be whole seconds, got {value:?}"));
    assert!(seconds >= 1, "Retry-After {seconds} must be at least 1");
    seconds
}

/// A numeric header, asserted present.
pub fn number_header(response: &ApiResponse, name: &str) -> u64 {
    let value = response
        .header(name)
        .unwrap_or_else(|| panic!("no {name} header in {:?}", response.headers));
    value
        .parse()
        .unwrap_or_else(|_| panic!("{name} is not a whole number: {value:?}"))
}

/// Parses OpenAI's reset durations (`1s`, `6m0s`, `20ms`, `1.5s`, `1h2m3s`).
pub fn openai_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .filter(|&end| end > 0)?;
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, seconds) = if rest.starts_with("ms") {
            ("ms", 0.001)
        } else if rest.starts_with('h') {
            ("h", 3600.0)
        } else if rest.starts_with('m') {
            ("m", 60.0)
        } else if rest.starts_with('s') {
            ("s", 1.0)
        } else {
            return None;
        };
        rest = &rest[unit.len()..];
        total += Duration::from_secs_f64(number * seconds);
    }
    Some(total)
}

#[test]
fn openai_durations_parse() {
    assert_eq!(openai_duration("1s"), Some(Duration::from_secs(1)));
    assert_eq!(openai_duration("6m0s"), Some(Duration::from_secs(360)));
    assert_eq!(openai_duration("20ms"), Some(Duration::from_millis(20)));
    assert_eq!(openai_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(openai_duration("1h2m3s"), Some(Duration::from_secs(3723)));
    assert_eq!(openai_duration(""), None);
    assert_eq!(openai_duration("12"), None);
    assert_eq!(openai_duration("s"), None);
}
