//! The response cache and PII guardrails end to end, on the real binary against mock upstreams.
//!
//! The cache tests check hits, misses and bypasses, scopes, the TTL on the test clock, fallbacks,
//! what is never stored (errors, truncated and abandoned streams), replays and cross-serving
//! between streamed and plain answers in OpenAI's and Anthropic's protocols, hit records and the
//! `/api/cache` endpoints. The guardrail tests check every detector and action, restoring across
//! split stream events, Anthropic inbound requests, monitor mode, answer checks, and that no
//! detected value is ever written to the request log, the gateway's stderr or an error message.
//!
//! The cache stores an answer when its request finishes, which the client may see a moment before
//! the gateway does; so a test that expects a hit first waits for the entry in `/api/cache`, and a
//! test that expects nothing stored first waits for the request's record (written after the
//! store would have been). The tests live in the `cache_guardrails/` modules; this file holds what
//! they share.

#[path = "cache_guardrails/cache.rs"]
mod cache;
#[path = "cache_guardrails/cache_broken.rs"]
mod cache_broken;
#[path = "cache_guardrails/cache_checks.rs"]
mod cache_checks;
#[path = "cache_guardrails/cache_streams.rs"]
mod cache_streams;
#[path = "cache_guardrails/detectors.rs"]
mod detectors;
#[path = "cache_guardrails/guardrails.rs"]
mod guardrails;
#[path = "cache_guardrails/leaks.rs"]
mod leaks;
#[path = "cache_guardrails/restore.rs"]
mod restore;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_shared::CacheStats;
use switchyard_tests::fixtures::{prefix, provider, simple_route, test_key};
use switchyard_tests::metering::{DEADLINE, with_pricing};
use switchyard_tests::mock::Script as MockScript;
use switchyard_tests::{
    ApiResponse, Gateway, GatewayOptions, MockUpstream, Reply, SseEvent, SseReader, poll_until,
};

/// A model the `cg` route serves, priced at the test prices.
pub const MODEL: &str = "cg-1";

/// The `cache` field of a route that caches for an hour, per consumer.
pub fn cache_on() -> Value {
    json!({"enabled": true, "ttl_seconds": 3600})
}

/// A gateway started with `options`, the OpenAI-compatible mock `up` priced for `cg-*` models,
/// and the route `cg` (models starting with `cg-`) with `route_extra` merged in.
pub async fn setup_with(options: GatewayOptions, route_extra: Value) -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("up").await;
    let gateway = Gateway::start_with(options).await;
    add_priced(&gateway, &mock, "cg-*").await;
    gateway
        .add_route(&route_with("cg", "cg-", "up", route_extra))
        .await;
    (gateway, mock)
}

/// [`setup_with`] with the default options.
pub async fn setup(route_extra: Value) -> (Gateway, MockUpstream) {
    setup_with(GatewayOptions::default(), route_extra).await
}

/// [`setup`] for a route that caches: `{"cache": cache_on()}`.
pub async fn cached_setup() -> (Gateway, MockUpstream) {
    setup(json!({"cache": cache_on()})).await
}

/// Registers a provider named after `mock`, priced at the test prices for models matching `glob`.
pub async fn add_priced(gateway: &Gateway, mock: &MockUpstream, glob: &str) {
    let spec = provider(mock.name(), mock, &test_key(mock.name()));
    gateway.add_provider(&with_pricing(spec, glob)).await;
}

/// A route `name` for models starting with `model_prefix`, sent to `provider`, with `extra`
/// fields (`cache`, `guardrails`, `fallback`, ...) merged in.
pub fn route_with(name: &str, model_prefix: &str, provider: &str, extra: Value) -> Value {
    let mut spec = simple_route(name, prefix(model_prefix), provider);
    for (field, value) in extra.as_object().expect("extra fields are an object") {
        spec[field] = value.clone();
    }
    spec
}

/// A chat request for [`MODEL`] with one user message.
pub fn chat(text: &str) -> Value {
    chat_for(MODEL, text)
}

/// A chat request for `model` with one user message.
pub fn chat_for(model: &str, text: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": text}]})
}

/// `body` asking for a stream.
pub fn streaming(mut body: Value) -> Value {
    body["stream"] = json!(true);
    body
}

/// Sends a chat request with extra headers (`Cache-Control`, a client key) and reads it whole.
pub async fn send(gateway: &Gateway, body: &Value, headers: &[(&str, &str)]) -> ApiResponse {
    let mut request = gateway.chat_request(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    ApiResponse::send(request).await
}

/// The `x-switchyard-cache` header of an answer.
pub fn cache_header(response: &ApiResponse) -> Option<&str> {
    response.header("x-switchyard-cache")
}

/// Asserts a 200 whose `x-switchyard-cache` is `expected`, and returns the message's content.
pub fn served(response: &ApiResponse, expected: &str) -> String {
    response.expect_status(200, &format!("a cache {expected}"));
    assert_eq!(
        cache_header(response),
        Some(expected),
        "x-switchyard-cache; headers {:?}",
        response.headers
    );
    message_content(response)
}

/// `choices[0].message.content` of an OpenAI chat completion.
pub fn message_content(response: &ApiResponse) -> String {
    let body = response.json();
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_else(|| panic!("a completion without text content: {body}"))
        .to_owned()
}

/// The `age` of a hit in whole seconds, asserted present and at most `max`: an answer served
/// moments after it was stored is 0 seconds old, or 1 or 2 on a machine that is slow right now.
pub fn age_at_most(headers: &reqwest::header::HeaderMap, max: u64) -> u64 {
    let age = headers
        .get("age")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a hit without an age: {headers:?}"));
    let age: u64 = age
        .parse()
        .unwrap_or_else(|_| panic!("age is not seconds: {age}"));
    assert!(age <= max, "age {age} is more than {max}");
    age
}

/// The request id the gateway answered with.
pub fn request_id(response: &ApiResponse) -> String {
    response
        .header("x-request-id")
        .unwrap_or_else(|| panic!("an answer without x-request-id: {:?}", response.headers))
        .to_owned()
}

/// A streamed answer read to its end: its headers and events.
pub struct Streamed {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub events: Vec<SseEvent>,
}

impl Streamed {
    pub async fn read(request: reqwest::RequestBuilder) -> Streamed {
        let response = request.send().await.expect("the stream's headers arrive");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let events = SseReader::new(response).collect_all().await;
        Streamed {
            status,
            headers,
            events,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every event's data, in order.
    pub fn data(&self) -> Vec<&str> {
        self.events.iter().map(|e| e.data.as_str()).collect()
    }

    /// The concatenated `choices[0].delta.content` of an OpenAI stream, after asserting it ends
    /// with `[DONE]` and carries no error event.
    pub fn openai_text(&self) -> String {
        assert_eq!(self.status, 200, "a stream answers 200: {:?}", self.data());
        assert!(
            self.events.last().is_some_and(SseEvent::is_done),
            "a complete stream ends with [DONE]: {:?}",
            self.data()
        );
        let mut text = String::new();
        for event in &self.events[..self.events.len() - 1] {
            let chunk = event.json();
            assert!(chunk.get("error").is_none(), "an error event: {chunk}");
            if let Some(piece) = chunk["choices"][0]["delta"]["content"].as_str() {
                text.push_str(piece);
            }
        }
        text
    }

    /// The concatenated `text_delta`s of an Anthropic stream, after asserting it ends with
    /// `message_stop` and carries no error event.
    pub fn anthropic_text(&self) -> String {
        assert_eq!(self.status, 200, "a stream answers 200: {:?}", self.data());
        let events: Vec<Value> = self.events.iter().map(SseEvent::json).collect();
        assert!(
            events.iter().all(|e| e["type"] != "error"),
            "an error event: {events:?}"
        );
        assert_eq!(
            events.last().map(|e| e["type"].clone()),
            Some(json!("message_stop")),
            "a complete stream ends with message_stop: {events:?}"
        );
        events
            .iter()
            .filter(|e| e["type"] == "content_block_delta" && e["delta"]["type"] == "text_delta")
            .map(|e| e["delta"]["text"].as_str().expect("text").to_owned())
            .collect()
    }
}

/// A streaming chat request with extra headers, read to its end.
pub async fn stream(gateway: &Gateway, body: &Value, headers: &[(&str, &str)]) -> Streamed {
    let mut request = gateway.chat_request(&streaming(body.clone()));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Streamed::read(request).await
}

/// A request on the Anthropic Messages API with an Anthropic SDK's headers.
pub fn messages_request(gateway: &Gateway, body: &Value) -> reqwest::RequestBuilder {
    gateway
        .proxy_request(Method::POST, "/v1/messages")
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .body(body.to_string())
}

/// A `chat.completion.chunk` event whose first choice has `delta` and `finish_reason`.
fn chunk_event(model: &str, delta: Value, finish: Value) -> Value {
    json!({
        "id": "chatcmpl-cg", "object": "chat.completion.chunk", "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    })
}

/// An OpenAI stream from the mock: the role, each of `pieces` as its own event (and its own
/// write), the finish chunk, a usage chunk when `tokens` is given, then `[DONE]`.
pub fn text_stream(model: &str, pieces: &[&str], tokens: Option<(u64, u64)>) -> Reply {
    let mut script = MockScript::sse().event(&chunk_event(
        model,
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    ));
    for piece in pieces {
        script = script.event(&chunk_event(model, json!({"content": piece}), Value::Null));
    }
    script = script.event(&chunk_event(model, json!({}), json!("stop")));
    if let Some((prompt, completion)) = tokens {
        script = script.event(&json!({
            "id": "chatcmpl-cg", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion},
        }));
    }
    script.done().into()
}

/// An OpenAI `chat.completion` from the mock with `text`, and usage of 30 + 7 tokens.
pub fn plain_reply(text: &str, model: &str) -> Reply {
    let answer = switchyard_tests::metering::answer(text, 30, 7);
    switchyard_tests::metering::completion_reply(&answer, model)
}

/// `GET /api/cache`.
pub async fn cache_stats(gateway: &Gateway) -> CacheStats {
    let response = gateway.admin_get("/api/cache").await;
    response.expect_status(200, "GET /api/cache");
    serde_json::from_slice(&response.body).unwrap_or_else(|e| {
        panic!(
            "/api/cache of an unexpected shape ({e}): {}",
            response.text()
        )
    })
}

/// Waits until the cache holds exactly `entries` answers: an answer is stored when its request
/// finishes, which may be a moment after the client has read it.
pub async fn wait_entries(gateway: &Gateway, entries: u64) -> CacheStats {
    let what = format!("{entries} cache entries");
    poll_until(DEADLINE, &what, || async {
        let stats = cache_stats(gateway).await;
        (stats.entries == entries).then_some(stats)
    })
    .await
}

/// Creates a guardrail policy, asserting 201.
pub async fn add_policy(gateway: &Gateway, spec: &Value) {
    let response = gateway.admin_post("/api/guardrails", spec).await;
    response.expect_status(201, &format!("creating guardrail policy {}", spec["name"]));
}

/// The contract's example policy `pii`: emails masked, card numbers and `project-x` blocked,
/// employee ids hashed, phone numbers redacted and restored; `on_response` as given.
pub fn pii_policy(on_response: Value) -> Value {
    json!({
        "name": "pii",
        "mode": "enforce",
        "detectors": [
            {"type": "email", "action": "mask"},
            {"type": "credit_card", "action": "block"},
            {"type": "regex", "label": "EMPLOYEE_ID", "pattern": "E\\d{6}", "action": "hash"},
            {"type": "deny_words", "words": ["project-x"], "action": "block"},
            {"type": "phone", "action": "redact_restore"}
        ],
        "on_response": on_response,
    })
}

/// A gateway with the mock `up` priced for `cg-*`, the guardrail `policies`, and the route `cg`
/// with `route_extra` merged in (which may name the policies).
pub async fn guarded_setup(policies: &[Value], route_extra: Value) -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("up").await;
    let gateway = Gateway::start().await;
    add_priced(&gateway, &mock, "cg-*").await;
    for policy in policies {
        add_policy(&gateway, policy).await;
    }
    gateway
        .add_route(&route_with("cg", "cg-", "up", route_extra))
        .await;
    (gateway, mock)
}

/// A gateway whose `cg` route goes through the `pii` policy (with `on_response`).
pub async fn pii_setup(on_response: Value) -> (Gateway, MockUpstream) {
    guarded_setup(&[pii_policy(on_response)], json!({"guardrails": ["pii"]})).await
}

/// The text of the last user message the mock received (OpenAI chat).
pub fn received_text(mock: &MockUpstream) -> String {
    let body = mock.last_request().json();
    let messages = body["messages"].as_array().expect("messages").clone();
    let last = messages.last().expect("a message");
    last["content"]
        .as_str()
        .unwrap_or_else(|| panic!("a string content: {body}"))
        .to_owned()
}

/// One guardrail hit as the record shows it: `(guardrail, detector, action, count, phase)`.
pub type Hit = (String, String, String, u32, String);

/// A record's guardrail hits, as tuples in the record's order.
pub fn hits(log: &switchyard_shared::RequestLog) -> Vec<Hit> {
    log.guardrails
        .iter()
        .map(|h| {
            (
                h.guardrail.clone(),
                h.detector.clone(),
                h.action.clone(),
                h.count,
                h.phase.clone(),
            )
        })
        .collect()
}

/// A hit tuple, for comparing with [`hits`].
pub fn hit(guardrail: &str, detector: &str, action: &str, count: u32, phase: &str) -> Hit {
    (
        guardrail.to_owned(),
        detector.to_owned(),
        action.to_owned(),
        count,
        phase.to_owned(),
    )
}
