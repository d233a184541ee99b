//! The response cache with streams: a streamed answer replays as the same events, a stream the
//! client abandons is never stored, and stored plain and streamed answers serve each other in
//! OpenAI's and Anthropic's protocols.

use std::time::Duration;

use serde_json::{Value, json};
use switchyard_tests::metering::{DEADLINE, cost_micros, micros, slow_stream, with_pricing};
use switchyard_tests::mock::Fate;
use switchyard_tests::providers::stream::anthropic_events;
use switchyard_tests::providers::{Answer, Script, StreamSummary, anthropic};
use switchyard_tests::{ApiResponse, Gateway, SseReader};

use super::{
    MODEL, age_at_most, cache_on, cache_stats, cached_setup, chat, message_content,
    messages_request, plain_reply, route_with, send, served, stream, streaming, text_stream,
    wait_entries,
};

/// The pieces the mock streams in the replay tests, one event each.
const PIECES: [&str; 5] = ["Streams", " replay", " event", " by", " event."];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_answer_replays_as_the_same_events() {
    let (gateway, mock) = cached_setup().await;
    mock.enqueue(text_stream(MODEL, &PIECES, Some((30, 7))));
    let question = chat("Replay this stream.");

    let miss = stream(&gateway, &question, &[]).await;
    assert_eq!(miss.header("x-switchyard-cache"), Some("miss"));
    assert_eq!(miss.openai_text(), PIECES.concat());
    // The role, five pieces, the finish chunk and [DONE]; the usage chunk the gateway asked for
    // was not the client's to see.
    assert_eq!(miss.events.len(), 8, "{:?}", miss.data());
    wait_entries(&gateway, 1).await;

    let hit = stream(&gateway, &question, &[]).await;
    assert_eq!(hit.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(hit.header("x-switchyard-attempts"), Some("0"));
    assert!(
        hit.header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{:?}",
        hit.headers
    );
    age_at_most(&hit.headers, 2);
    assert_eq!(
        hit.data(),
        miss.data(),
        "the replay is the same events, in order"
    );
    let log = gateway
        .wait_log(hit.header("x-request-id").expect("an id"))
        .await;
    assert!(
        log.cache_hit && log.stream && !log.client_disconnected,
        "{log:?}"
    );
    assert_eq!(log.cost_usd, Some(0.0), "{log:?}");
    assert_eq!(
        log.cost_saved_usd.map(micros),
        Some(cost_micros(30, 7)),
        "{log:?}"
    );

    // A client that asks for usage gets the same events and the stored usage before [DONE].
    let mut with_usage = streaming(question.clone());
    with_usage["stream_options"] = json!({"include_usage": true});
    let counted = StreamSummary::read(
        gateway
            .chat_request(&with_usage)
            .send()
            .await
            .expect("the stream starts"),
    )
    .await;
    counted.assert_complete();
    assert_eq!(counted.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(counted.content, PIECES.concat());
    assert_eq!(counted.content_deltas, PIECES.len(), "one event per piece");
    let usage = counted.usage.clone().expect("the usage chunk");
    assert_eq!(
        (&usage["prompt_tokens"], &usage["completion_tokens"]),
        (&json!(30), &json!(7)),
        "{usage}"
    );
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_client_abandons_is_not_stored() {
    let (gateway, mock) = cached_setup().await;
    let words: Vec<String> = (0..30).map(|i| format!(" word{i}")).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    mock.enqueue(slow_stream(MODEL, &words, Duration::from_millis(150)));
    mock.set_default(text_stream(MODEL, &["Fast", " and whole."], None));
    let question = chat("Start streaming, I may leave.");

    let response = gateway
        .chat_request(&streaming(question.clone()))
        .header("x-request-id", "cg-leaves")
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
    drop(reader);

    assert_eq!(mock.wait_fate(0, DEADLINE).await, Fate::Abandoned);
    let log = gateway.wait_log("cg-leaves").await;
    assert!(log.client_disconnected, "{log:?}");
    assert_eq!(
        cache_stats(&gateway).await.entries,
        0,
        "the partial answer was stored"
    );

    let again = stream(&gateway, &question, &[]).await;
    assert_eq!(again.header("x-switchyard-cache"), Some("miss"));
    assert_eq!(again.openai_text(), "Fast and whole.");
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_plain_and_streamed_answers_serve_each_other() {
    let (gateway, mock) = cached_setup().await;

    // A stored plain answer serves a stream, with the usage chunk when asked.
    let first = chat("Plain first?");
    mock.enqueue(plain_reply("Plain first, streamed later.", MODEL));
    served(&send(&gateway, &first, &[]).await, "miss");
    wait_entries(&gateway, 1).await;
    let mut body = streaming(first);
    body["stream_options"] = json!({"include_usage": true});
    let response = gateway
        .chat_request(&body)
        .send()
        .await
        .expect("the stream starts");
    let summary = StreamSummary::read(response).await;
    summary.assert_complete();
    assert_eq!(summary.header("x-switchyard-cache"), Some("hit"));
    assert_eq!(summary.content, "Plain first, streamed later.");
    assert_eq!(summary.finish_reason.as_deref(), Some("stop"));
    assert_eq!(summary.model, MODEL);
    let usage = summary.usage.clone().expect("the usage chunk");
    assert_eq!(
        (&usage["prompt_tokens"], &usage["completion_tokens"]),
        (&json!(30), &json!(7))
    );

    // A stored stream serves a plain request as one chat.completion.
    let second = chat("Streamed first?");
    let pieces = ["Streamed", " first,", " plain", " later."];
    mock.enqueue(text_stream(MODEL, &pieces, Some((12, 4))));
    let streamed = stream(&gateway, &second, &[]).await;
    assert_eq!(streamed.header("x-switchyard-cache"), Some("miss"));
    wait_entries(&gateway, 2).await;
    let plain = send(&gateway, &second, &[]).await;
    assert_eq!(served(&plain, "hit"), pieces.concat());
    assert!(
        plain
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        plain.headers
    );
    let completion = plain.json();
    assert_eq!(completion["object"], "chat.completion", "{completion}");
    assert_eq!(completion["model"], MODEL);
    assert_eq!(completion["choices"][0]["message"]["role"], "assistant");
    assert_eq!(completion["choices"][0]["finish_reason"], "stop");
    assert_eq!(completion["usage"]["prompt_tokens"], 12, "{completion}");
    assert_eq!(completion["usage"]["completion_tokens"], 4, "{completion}");
    assert_eq!(mock.request_count(), 2);
    assert_eq!(message_content(&plain), streamed.openai_text());
}

/// A Messages API request for `claude-cg`.
fn ask_claude(text: &str) -> Value {
    json!({"model": "claude-cg", "max_tokens": 64, "messages": [{"role": "user", "content": text}]})
}

/// A streamed Messages API answer: its `x-switchyard-cache` and its events (name, data).
async fn claude_stream(gateway: &Gateway, body: &Value) -> (Option<String>, Vec<(String, Value)>) {
    let response = messages_request(gateway, &streaming(body.clone()))
        .send()
        .await
        .expect("the stream starts");
    let cache = response
        .headers()
        .get("x-switchyard-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (cache, anthropic_events(response).await)
}

/// The text of an Anthropic stream's text deltas, after checking its frame of events.
fn claude_text(events: &[(String, Value)]) -> String {
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names.first(), Some(&"message_start"), "{names:?}");
    assert_eq!(names.last(), Some(&"message_stop"), "{names:?}");
    let stop = events
        .iter()
        .find(|(name, _)| name == "message_delta")
        .expect("message_delta");
    assert_eq!(stop.1["delta"]["stop_reason"], "end_turn", "{}", stop.1);
    events
        .iter()
        .filter(|(name, data)| {
            name == "content_block_delta" && data["delta"]["type"] == "text_delta"
        })
        .map(|(_, data)| data["delta"]["text"].as_str().expect("text").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_plain_and_streamed_answers_serve_each_other() {
    let mock = anthropic::mock("claude-up").await;
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&with_pricing(mock.spec(), "claude-*"))
        .await;
    let route = route_with(
        "claude",
        "claude-",
        "claude-up",
        json!({"cache": cache_on()}),
    );
    gateway.add_route(&route).await;
    let text = "Anthropic answers can be replayed.";

    // A stored plain message serves a stream.
    let first = ask_claude("Plain first?");
    mock.enqueue(Script::Answer(Answer::text(text)));
    let plain = ApiResponse::send(messages_request(&gateway, &first)).await;
    plain.expect_status(200, "a plain message");
    assert_eq!(plain.header("x-switchyard-cache"), Some("miss"));
    assert_eq!(plain.json()["content"][0]["text"], text);
    wait_entries(&gateway, 1).await;
    let (cache, events) = claude_stream(&gateway, &first).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(claude_text(&events), text);
    assert_eq!(mock.request_count(), 1);

    // A stored stream replays as the same events, and serves a plain request as one message.
    let second = ask_claude("Streamed first?");
    mock.enqueue(Script::Answer(Answer::text(text)));
    let (cache, streamed) = claude_stream(&gateway, &second).await;
    assert_eq!(cache.as_deref(), Some("miss"));
    assert_eq!(claude_text(&streamed), text);
    assert!(streamed.len() > 6, "several events: {streamed:?}");
    wait_entries(&gateway, 2).await;
    let (cache, replayed) = claude_stream(&gateway, &second).await;
    assert_eq!(cache.as_deref(), Some("hit"));
    assert_eq!(
        replayed, streamed,
        "the replay is the same events, in order"
    );
    let plain = ApiResponse::send(messages_request(&gateway, &second)).await;
    plain.expect_status(200, "a plain message from a stored stream");
    assert_eq!(plain.header("x-switchyard-cache"), Some("hit"));
    let message = plain.json();
    assert_eq!(message["type"], "message", "{message}");
    assert_eq!(message["role"], "assistant");
    assert_eq!(
        message["content"],
        json!([{"type": "text", "text": text}]),
        "{message}"
    );
    assert_eq!(message["stop_reason"], "end_turn");
    assert_eq!(message["usage"]["output_tokens"], 9, "{message}");
    assert_eq!(mock.request_count(), 2);
}
