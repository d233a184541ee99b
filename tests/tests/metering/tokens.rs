//! Tokens and costs: usage read from OpenAI, Anthropic and Gemini streams, tokens estimated when a
//! provider reports none or the client leaves mid-stream, and models without a price.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_shared::RequestLog;
use switchyard_tests::fixtures::{prefix, simple_route};
use switchyard_tests::metering::{
    DEADLINE, answer, completion_reply, completion_reply_without_usage, cost_micros, record_cost,
    slow_stream, stream_reply, stream_reply_without_usage, with_pricing,
};
use switchyard_tests::mock::Fate;
use switchyard_tests::providers::stream::anthropic_events;
use switchyard_tests::providers::{Answer, Script, Tokens, anthropic, gemini};
use switchyard_tests::{ApiResponse, Gateway, SseReader};

use super::{MODEL, chat, chat_request, chat_stream, request_id, setup};

/// The answer the provider mocks stream: 40 prompt tokens of which 8 were cached, 12 completion
/// tokens.
fn cached_answer() -> Answer {
    Answer::text("Metered words arrive one at a time.").with_tokens(Tokens {
        prompt: 40,
        completion: 12,
        cached: 8,
        cache_write: 0,
    })
}

/// Sends a streaming chat for `model`, reads the whole stream, and returns its record.
async fn streamed_record(gateway: &Gateway, model: &str) -> RequestLog {
    let response = chat_request(gateway, None, &chat_stream(model), None)
        .send()
        .await
        .expect("the stream starts");
    assert_eq!(response.status(), 200, "a stream for {model}");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let events = SseReader::new(response).collect_all().await;
    assert!(
        events.last().is_some_and(|e| e.is_done()),
        "a complete stream: {events:?}"
    );
    gateway.wait_log(&id).await
}

/// Asserts the record of a complete stream whose provider reported [`cached_answer`]'s usage.
fn assert_reported_usage(log: &RequestLog, provider: &str) {
    assert_eq!(
        (log.status, log.provider.as_deref()),
        (200, Some(provider)),
        "{log:?}"
    );
    assert!(log.stream && !log.client_disconnected, "{log:?}");
    assert_eq!(
        (log.prompt_tokens, log.completion_tokens),
        (40, 12),
        "{log:?}"
    );
    assert_eq!(log.cached_tokens, 8, "{log:?}");
    assert!(
        !log.tokens_estimated,
        "the provider reported usage: {log:?}"
    );
    // Cached input has no price of its own here, so it costs what other input costs.
    assert_eq!(record_cost(log), cost_micros(40, 12), "{log:?}");
    assert!(log.ttft_ms.is_some(), "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_leaves_mid_stream_is_billed_for_what_was_sent() {
    let (gateway, mock) = setup().await;
    let words: Vec<String> = (0..30).map(|i| format!(" word{i}")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    mock.set_default(slow_stream(MODEL, &words, Duration::from_millis(150)));

    let response = chat_request(&gateway, None, &chat_stream(MODEL), Some("leaves-early"))
        .send()
        .await
        .expect("the stream starts");
    assert_eq!(response.status(), 200);
    let mut reader = SseReader::new(response);
    for _ in 0..2 {
        let event = reader.next_event().await.expect("two chunks arrive");
        assert!(
            event
                .delta_content()
                .is_some_and(|c| c.starts_with(" word")),
            "{event:?}"
        );
    }
    // The client goes away with the rest of the answer still coming.
    drop(reader);

    let fate = mock.wait_fate(0, DEADLINE).await;
    assert_eq!(
        fate,
        Fate::Abandoned,
        "the gateway stopped reading the upstream"
    );
    let log = gateway.wait_log("leaves-early").await;
    assert!(log.client_disconnected, "{log:?}");
    assert!(
        log.tokens_estimated,
        "no usage came before the client left: {log:?}"
    );
    assert!(log.prompt_tokens > 0, "the prompt is estimated: {log:?}");
    // Each word is at least one token: two or more reached the client, and far fewer than the
    // whole answer's thirty were sent before the gateway noticed the client had gone.
    assert!(
        (2..20).contains(&log.completion_tokens),
        "billed for what was sent: {log:?}"
    );
    assert_eq!(
        record_cost(&log),
        cost_micros(log.prompt_tokens, log.completion_tokens),
        "the estimated tokens are priced: {log:?}"
    );
    assert_eq!(log.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_from_an_openai_stream_is_recorded() {
    let (gateway, mock) = setup().await;
    mock.set_default(stream_reply(&cached_answer(), MODEL));
    // The client did not ask for usage; the gateway asked for it and read it anyway.
    let log = streamed_record(&gateway, MODEL).await;
    assert_reported_usage(&log, "up");
    let forwarded = mock.last_request().json();
    assert_eq!(forwarded["stream_options"]["include_usage"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_from_an_anthropic_stream_is_recorded() {
    let claude = anthropic::mock("claude").await;
    claude.set_default(Script::Answer(cached_answer()));
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&with_pricing(claude.spec(), "claude-*"))
        .await;
    gateway
        .add_route(&simple_route("claude", prefix("claude-"), "claude"))
        .await;

    // An OpenAI client gets Anthropic's events translated.
    let log = streamed_record(&gateway, "claude-metered").await;
    assert_reported_usage(&log, "claude");
    assert_eq!(log.endpoint, "chat");

    // An Anthropic client gets Anthropic's events passed through.
    let body = json!({"model": "claude-metered", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Say hello to the meter."}]});
    let response = gateway
        .proxy_request(reqwest::Method::POST, "/v1/messages")
        .header("anthropic-version", "2023-06-01")
        .json(&body)
        .send()
        .await
        .expect("the stream starts");
    let id = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let events = anthropic_events(response).await;
    assert_eq!(
        events.last().map(|(name, _)| name.as_str()),
        Some("message_stop")
    );
    let log = gateway.wait_log(&id).await;
    assert_reported_usage(&log, "claude");
    assert_eq!(log.endpoint, "messages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_from_a_gemini_stream_is_recorded() {
    let google = gemini::mock("google").await;
    google.set_default(Script::Answer(cached_answer()));
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&with_pricing(google.spec(), "gemini-*"))
        .await;
    gateway
        .add_route(&simple_route("gemini", prefix("gemini-"), "google"))
        .await;

    let log = streamed_record(&gateway, "gemini-metered").await;
    assert_reported_usage(&log, "google");
    assert!(
        google
            .last_request()
            .path
            .contains(":streamGenerateContent")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_reports_no_usage_gets_estimated_tokens() {
    let (gateway, mock) = setup().await;
    // The answer has thirteen words, which is thirteen to twenty tokens with any tokenizer.
    let text = "The quick brown fox jumps over the lazy dog while metering counts words.";
    let reply = answer(text, 999, 999);

    mock.set_default(stream_reply_without_usage(&reply, MODEL));
    let streamed = streamed_record(&gateway, MODEL).await;

    mock.set_default(completion_reply_without_usage(&reply, MODEL));
    let response = ApiResponse::send(chat_request(&gateway, None, &chat(MODEL), None)).await;
    response.expect_status(200, "a completion without usage");
    assert!(response.json().get("usage").is_none_or(Value::is_null));
    let plain = gateway.wait_log(&request_id(&response)).await;

    for log in [&streamed, &plain] {
        assert!(log.tokens_estimated, "{log:?}");
        assert!(!log.client_disconnected, "{log:?}");
        // The prompt is "Say hello to the meter." and the message's framing.
        assert!(
            (4..=30).contains(&log.prompt_tokens),
            "prompt estimate: {log:?}"
        );
        assert!(
            (8..=30).contains(&log.completion_tokens),
            "completion estimate: {log:?}"
        );
        assert_ne!(
            log.completion_tokens, 999,
            "nothing came from a usage object: {log:?}"
        );
        assert_eq!(
            record_cost(log),
            cost_micros(log.prompt_tokens, log.completion_tokens)
        );
    }
    assert_eq!(
        (streamed.prompt_tokens, streamed.completion_tokens),
        (plain.prompt_tokens, plain.completion_tokens),
        "the same prompt and text are estimated alike, streamed or not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_without_a_price_records_no_cost() {
    let (gateway, mock) = setup().await;
    // The provider's prices cover `metered-*` only; this route sends another model to it.
    gateway
        .add_route(&simple_route("unpriced", prefix("nopricing-"), "up"))
        .await;
    mock.set_default(completion_reply(&answer("Free?", 9, 3), "nopricing-x1"));
    let response =
        ApiResponse::send(chat_request(&gateway, None, &chat("nopricing-x1"), None)).await;
    response.expect_status(200, "an unpriced model");
    let log = gateway.wait_log(&request_id(&response)).await;
    assert_eq!((log.prompt_tokens, log.completion_tokens), (9, 3));
    assert_eq!(log.cost_usd, None, "unpriced, not free: {log:?}");

    let report = gateway.usage_report("group_by=model&bucket=hour").await;
    let row = report
        .rows
        .iter()
        .find(|r| r.group.as_deref() == Some("nopricing-x1"))
        .unwrap_or_else(|| panic!("no usage row for the unpriced model: {report:?}"));
    assert_eq!((row.requests, row.unpriced_requests), (1, 1), "{row:?}");
    assert_eq!(row.cost_usd, 0.0, "{row:?}");
}
