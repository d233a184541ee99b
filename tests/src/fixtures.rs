//! Builders for the JSON bodies tests send: providers, routes and chat requests.

use serde_json::{Value, json};

use crate::mock::MockUpstream;
use crate::server::{Gateway, GatewayOptions};

/// A provider of type `openai-compatible` pointing at `mock`, with one API key.
pub fn provider(name: &str, mock: &MockUpstream, key: &str) -> Value {
    provider_at(name, &mock.base_url(), &[key])
}

/// A provider of type `openai-compatible` at `base_url` with the given keys.
pub fn provider_at(name: &str, base_url: &str, keys: &[&str]) -> Value {
    json!({
        "name": name,
        "type": "openai-compatible",
        "base_url": base_url,
        "api_keys": keys,
    })
}

/// A route with the given match rules and upstreams.
pub fn route(name: &str, matches: Vec<Value>, upstreams: Vec<Value>) -> Value {
    json!({"name": name, "match": matches, "upstreams": upstreams})
}

/// A route sending models matching `rule` to one provider.
pub fn simple_route(name: &str, rule: Value, provider: &str) -> Value {
    route(name, vec![rule], vec![upstream(provider)])
}

/// An exact match rule.
pub fn exact(value: &str) -> Value {
    json!({"type": "exact", "value": value})
}

/// A prefix match rule.
pub fn prefix(value: &str) -> Value {
    json!({"type": "prefix", "value": value})
}

/// An upstream with the default weight.
pub fn upstream(provider: &str) -> Value {
    json!({"provider": provider})
}

/// An upstream with an explicit weight.
pub fn weighted(provider: &str, weight: u32) -> Value {
    json!({"provider": provider, "weight": weight})
}

/// A minimal non-streaming chat request for `model`.
pub fn chat_body(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

/// A minimal streaming chat request for `model`.
pub fn stream_body(model: &str) -> Value {
    json!({"model": model, "stream": true, "messages": [{"role": "user", "content": "hi"}]})
}

/// The API key tests give the provider named `provider`: long enough to be masked as `sk-…xxxx`.
pub fn test_key(provider: &str) -> String {
    format!("sk-test-{provider}-0123456789abcdef")
}

/// Registers a provider named after `mock` (with [`test_key`] as its key) on `gateway`.
pub async fn add_mock_provider(gateway: &Gateway, mock: &MockUpstream) {
    gateway
        .add_provider(&provider(mock.name(), mock, &test_key(mock.name())))
        .await;
}

/// Starts a gateway with a provider for `mock` and a route `main` sending `rule` to it.
pub async fn single_route_gateway(mock: &MockUpstream, rule: Value) -> Gateway {
    single_route_gateway_with(GatewayOptions::default(), mock, rule).await
}

/// [`single_route_gateway`] with explicit gateway options.
pub async fn single_route_gateway_with(
    options: GatewayOptions,
    mock: &MockUpstream,
    rule: Value,
) -> Gateway {
    let gateway = Gateway::start_with(options).await;
    add_mock_provider(&gateway, mock).await;
    gateway
        .add_route(&simple_route("main", rule, mock.name()))
        .await;
    gateway
}
