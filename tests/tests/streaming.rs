//! Streaming: SSE passes through event by event, and a graceful shutdown lets a stream finish.

use std::time::Duration;

use switchyard_tests::fixtures::{
    prefix, single_route_gateway, single_route_gateway_with, stream_body,
};
use switchyard_tests::{GatewayOptions, MockUpstream, Reply, Signal, SseReader, poll_until};

/// The `host:port` part of an `http://host:port` URL.
fn socket_addr(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

fn assert_event_stream(response: &reqwest::Response) {
    assert_eq!(response.status(), 200, "stream status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("text/event-stream"),
        "content-type {content_type:?}"
    );
    for name in [
        "x-switchyard-route",
        "x-switchyard-provider",
        "x-switchyard-model",
        "x-switchyard-attempts",
    ] {
        assert!(response.headers().contains_key(name), "missing {name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_and_done_pass_through() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("stream-")).await;

    let response = gateway.chat_stream(&stream_body("stream-model")).await;
    assert_event_stream(&response);
    let mut reader = SseReader::new(response);
    let events = reader.collect_all().await;

    let last = events.last().expect("at least one event");
    assert!(last.is_done(), "the last event must be [DONE]: {events:?}");
    let content: String = events[..events.len() - 1]
        .iter()
        .filter_map(|e| e.delta_content())
        .collect();
    assert_eq!(content, "hello from mock-a");
    for event in &events[..events.len() - 1] {
        let chunk = event.json();
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["model"], "stream-model");
    }
    // Role chunk, three words, finish chunk and [DONE]: nothing merged, nothing lost.
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(mock.last_request().json()["stream"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_is_forwarded_chunk_by_chunk() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("stream-")).await;
    let mut step = mock.step_stream("stream-model");

    // The request runs in the background so that a gateway which only sends headers along with
    // the first chunk cannot deadlock the test.
    let pending = tokio::spawn(gateway.chat_request(&stream_body("stream-model")).send());
    step.wait_started().await;
    step.send_content("first");
    let response = pending
        .await
        .expect("the request task did not panic")
        .expect("the stream's headers arrive");
    assert_event_stream(&response);
    let mut reader = SseReader::new(response);

    // Each event is read before the mock has even produced the next one, so a gateway that
    // buffers or coalesces chunks would time out here.
    for word in ["first", "second", "third"] {
        if word != "first" {
            step.send_content(word);
        }
        let event = reader.next_event().await.expect("an event per chunk");
        assert_eq!(event.delta_content().as_deref(), Some(word));
        assert!(
            reader.pending_bytes().is_empty(),
            "nothing beyond the released chunk may have arrived"
        );
    }
    step.send_done();
    let done = reader.next_event().await.expect("the [DONE] event");
    assert!(done.is_done(), "{done:?}");
    step.finish();
    assert_eq!(
        reader.next_event().await,
        None,
        "the stream ends after [DONE]"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_error_on_a_streaming_request_is_carried_over() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("stream-")).await;
    // The default reply, so that every attempt of a retrying gateway fails the same way.
    mock.set_default(Reply::error(429, "Too many streams at once"));

    let response = gateway.chat(&stream_body("stream-model")).await;
    response.expect_status(429, "streaming request refused upstream");
    let message = response.openai_error()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(message.contains("Too many streams at once"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_an_inflight_stream_finish_and_refuses_new_connections() {
    let mock = MockUpstream::start("mock-a").await;
    let options = GatewayOptions::default().args(["--shutdown-grace-ms", "30000"]);
    let mut gateway = single_route_gateway_with(options, &mock, prefix("stream-")).await;
    let mut step = mock.step_stream("stream-model");

    let pending = tokio::spawn(gateway.chat_request(&stream_body("stream-model")).send());
    step.wait_started().await;
    step.send_content("before-signal");
    let response = pending
        .await
        .expect("the request task did not panic")
        .expect("the stream's headers arrive");
    assert_event_stream(&response);
    let mut reader = SseReader::new(response);
    let first = reader.next_event().await.expect("the first event");
    assert_eq!(first.delta_content().as_deref(), Some("before-signal"));

    gateway.send_signal(Signal::Term).await;

    // Once shutdown has begun, both listeners are closed, while the stream is still open.
    for url in [
        gateway.proxy_url().to_owned(),
        gateway.admin_url().to_owned(),
    ] {
        let addr = socket_addr(&url);
        poll_until(
            Duration::from_secs(5),
            &format!("{addr} to refuse connections"),
            || {
                let addr = addr.clone();
                async move { tokio::net::TcpStream::connect(&addr).await.err() }
            },
        )
        .await;
    }

    step.send_content("after-signal");
    let second = reader
        .next_event()
        .await
        .expect("the stream goes on after SIGTERM");
    assert_eq!(second.delta_content().as_deref(), Some("after-signal"));
    step.send_done();
    assert!(reader.next_event().await.expect("[DONE]").is_done());
    step.finish();
    assert_eq!(reader.next_event().await, None);

    let status = gateway.wait_exit(Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "graceful shutdown should exit 0, got {status}"
    );
}
