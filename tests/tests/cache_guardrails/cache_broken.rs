//! Streams that did not end well are never stored: cut short, dropped, carrying an error event
//! or a malformed one, from an OpenAI-compatible provider and from an Anthropic one (whose
//! events pass through to an Anthropic client untouched).

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_tests::fixtures::test_key;
use switchyard_tests::mock::Script as MockScript;
use switchyard_tests::providers::{Answer, anthropic};
use switchyard_tests::{Gateway, MockUpstream};

use super::{
    MODEL, Streamed, cache_on, cache_stats, cached_setup, chat, messages_request, route_with,
    stream, text_stream, wait_entries,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_failed_streams_are_never_stored() {
    let (gateway, mock) = cached_setup().await;
    let question = chat("Will this stream end?");
    let role = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
    let broken = [
        // The body ends without [DONE].
        (
            "truncated",
            MockScript::sse()
                .event(&role)
                .chunk(MODEL, "Cut")
                .chunk(MODEL, " short"),
        ),
        // The connection drops mid-stream.
        (
            "disconnected",
            MockScript::sse()
                .event(&role)
                .chunk(MODEL, "Dropped")
                .pause(Duration::from_millis(50))
                .disconnect(),
        ),
        // A chunk that is not JSON, then the rest of the stream as if all were well.
        (
            "malformed event",
            MockScript::sse()
                .event(&role)
                .chunk(MODEL, "Garbled")
                .raw("data: {not json\n\n")
                .chunk(MODEL, " on")
                .done(),
        ),
        // The provider reports an error in the stream, then ends it as if all were well.
        (
            "error event",
            MockScript::sse()
                .event(&role)
                .chunk(MODEL, "Half")
                .error_event("the model crashed")
                .done(),
        ),
    ];
    for (what, script) in broken {
        mock.enqueue(script.into());
        let failed = stream(&gateway, &question, &[]).await;
        assert_eq!(failed.header("x-switchyard-cache"), Some("miss"), "{what}");
        let last = failed
            .events
            .last()
            .unwrap_or_else(|| panic!("{what}: no events"));
        assert!(
            !last.is_done() && last.json().get("error").is_some(),
            "{what}: the client sees the stream fail: {:?}",
            failed.data()
        );
        let id = failed.header("x-request-id").expect("an id").to_owned();
        let log = gateway.wait_log(&id).await;
        assert_eq!(
            log.error_code.as_deref(),
            Some("stream_error"),
            "{what}: {log:?}"
        );
        assert_eq!(cache_stats(&gateway).await.entries, 0, "{what} was stored");
    }

    mock.enqueue(text_stream(MODEL, &["Whole", " at last."], None));
    let whole = stream(&gateway, &question, &[]).await;
    assert_eq!(whole.header("x-switchyard-cache"), Some("miss"));
    assert_eq!(whole.openai_text(), "Whole at last.");
    assert_eq!(mock.request_count(), 5);
    wait_entries(&gateway, 1).await;
}

/// A mock speaking Anthropic's stream format, with the events of `answer` changed by `edit`.
fn anthropic_script(answer: &Answer, edit: impl FnOnce(&mut Vec<Bytes>)) -> MockScript {
    let mut events = anthropic::stream_events(answer, "claude-cg");
    edit(&mut events);
    let mut script = MockScript::sse();
    for event in events {
        script = script.raw(std::str::from_utf8(&event).expect("UTF-8 events"));
    }
    script
}

/// The position of the first event named `name` in `events`.
fn position(events: &[Bytes], name: &str) -> usize {
    let prefix = format!("event: {name}\n");
    events
        .iter()
        .position(|e| e.starts_with(prefix.as_bytes()))
        .unwrap_or_else(|| panic!("no {name} event"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_anthropic_streams_are_never_stored() {
    // A plain mock under an Anthropic provider: it plays any bytes, as Anthropic's API would
    // frame them, which the Anthropic protocol mock cannot be made to do.
    let mock = MockUpstream::start("claude-raw").await;
    let gateway = Gateway::start().await;
    let spec = json!({"name": "claude-raw", "type": "anthropic", "base_url": mock.base_url(),
        "api_keys": [test_key("claude-raw")]});
    gateway.add_provider(&spec).await;
    let route = route_with(
        "claude",
        "claude-",
        "claude-raw",
        json!({"cache": cache_on()}),
    );
    gateway.add_route(&route).await;
    let answer = Answer::text("Anthropic streams can break too.");
    let error = Bytes::from(format!(
        "event: error\ndata: {}\n\n",
        anthropic::error_body("overloaded_error", "Overloaded")
    ));
    let broken = [
        // The body ends before content_block_stop, message_delta and message_stop.
        (
            "truncated",
            anthropic_script(&answer, |e| e.truncate(e.len() - 3)),
        ),
        // A delta that is not JSON, then the rest of the stream as if all were well.
        (
            "malformed event",
            anthropic_script(&answer, |e| {
                let at = position(e, "content_block_delta") + 1;
                e.insert(
                    at,
                    Bytes::from_static(b"event: content_block_delta\ndata: {oops\n\n"),
                );
            }),
        ),
        // An error event mid-stream, then the rest of the stream.
        (
            "error event",
            anthropic_script(&answer, |e| {
                e.insert(position(e, "content_block_stop"), error)
            }),
        ),
    ];
    let body = json!({"model": "claude-cg", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Will this stream end?"}]});
    // Every variant is tried, and what was stored is purged, so that one failure does not hide
    // the others.
    let mut stored = Vec::new();
    for (what, script) in broken {
        mock.enqueue(script.into());
        let failed = Streamed::read(messages_request(&gateway, &body)).await;
        assert_eq!(failed.status, 200, "{what}");
        let events: Vec<Value> = failed.events.iter().map(|e| e.json()).collect();
        assert!(
            events.iter().any(|e| e["type"] == "error"),
            "{what}: the client sees the stream fail: {events:?}"
        );
        let id = failed.header("x-request-id").expect("an id").to_owned();
        gateway.wait_log(&id).await;
        if cache_stats(&gateway).await.entries != 0 {
            stored.push(what);
            gateway
                .admin_delete("/api/cache")
                .await
                .expect_status(200, "purging");
        }
    }
    assert!(stored.is_empty(), "broken streams were stored: {stored:?}");
    mock.enqueue(anthropic_script(&answer, |_| {}).into());
    let whole = Streamed::read(messages_request(&gateway, &body)).await;
    assert_eq!(whole.anthropic_text(), answer.text);
    wait_entries(&gateway, 1).await;
    assert_eq!(mock.request_count(), 4);
    assert!(
        mock.last_request().path.starts_with("/v1/messages"),
        "{}",
        mock.last_request().path
    );
}
