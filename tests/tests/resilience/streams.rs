//! Streams: a start that fails is retried unseen; a failure after the first event ends the stream
//! with an error event and no `[DONE]`; a client that leaves cancels the upstream request.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_tests::fixtures::{add_mock_provider, provider_at, stream_body, test_key};
use switchyard_tests::mock::{Fate, Script};
use switchyard_tests::{Gateway, MockUpstream, Reply, SseEvent, SseReader, poll_until};

use super::{DEADLINE, ms, provider_with, route_with, stream_header};

const MODEL: &str = "s-model";

/// A gateway whose route tries the provider `bad` first and the mock `live` second.
async fn failover_gateway(bad: &Value) -> (Gateway, MockUpstream) {
    let live = MockUpstream::start("live").await;
    let gateway = Gateway::start().await;
    gateway.add_provider(bad).await;
    add_mock_provider(&gateway, &live).await;
    let upstreams = json!([{"provider": bad["name"]}, {"provider": "live", "priority": -1}]);
    gateway
        .add_route(&route_with("main", "s-", upstreams, json!({})))
        .await;
    (gateway, live)
}

/// Streams a request through `gateway` and asserts that `live` answered it whole, after a first
/// attempt on `bad` that ended as `outcome`.
async fn assert_failed_over(gateway: &Gateway, bad: &str, outcome: &str) -> Duration {
    let started = Instant::now();
    let response = gateway.chat_stream(&stream_body(MODEL)).await;
    let elapsed = started.elapsed();
    assert_eq!(response.status(), 200);
    assert_eq!(
        stream_header(&response, "x-switchyard-provider").as_deref(),
        Some("live")
    );
    let expected = format!("{bad}:{outcome},live:200");
    assert_eq!(
        stream_header(&response, "x-switchyard-fallback").as_deref(),
        Some(expected.as_str())
    );
    let events = SseReader::new(response).collect_all().await;
    assert!(events.last().is_some_and(SseEvent::is_done), "{events:?}");
    let text: String = events[..events.len() - 1]
        .iter()
        .filter_map(SseEvent::delta_content)
        .collect();
    assert_eq!(text, "hello from live");
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_stream_start_fails_over() {
    let dead = provider_at(
        "dead",
        &switchyard_tests::refused_base_url(),
        &["sk-dead-0000000000000001"],
    );
    let (gateway, live) = failover_gateway(&dead).await;
    assert_failed_over(&gateway, "dead", "unreachable").await;
    assert_eq!(live.request_count(), 1);
}

/// A gateway trying provider `slow` (`first_byte_ms` 200 plus `timeouts`) before `live`.
async fn slow_gateway(timeouts: Value) -> (Gateway, MockUpstream, MockUpstream) {
    let slow = MockUpstream::start("slow").await;
    let mut extra = json!({"timeouts": {"first_byte_ms": 200}});
    for (name, value) in timeouts.as_object().expect("timeouts are an object") {
        extra["timeouts"][name] = value.clone();
    }
    let spec = provider_with("slow", &slow, &[&test_key("slow")], extra);
    let (gateway, live) = failover_gateway(&spec).await;
    (gateway, slow, live)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_response_headers_fail_over_after_first_byte_ms() {
    let (gateway, slow, _live) = slow_gateway(json!({})).await;
    slow.enqueue(Reply::Echo.delayed(Duration::from_secs(3)));
    let elapsed = assert_failed_over(&gateway, "slow", "timeout").await;
    assert!(elapsed >= ms(200), "gave up after {elapsed:?}");
    assert!(elapsed < ms(1500), "gave up after {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_response_headers_fail_over() {
    // The gateway's budget for response headers is connect_ms + first_byte_ms (see the ignored
    // test above), so connect_ms is made small too.
    let (gateway, slow, _live) = slow_gateway(json!({"connect_ms": 100})).await;
    slow.enqueue(Reply::Echo.delayed(Duration::from_secs(5)));
    let elapsed = assert_failed_over(&gateway, "slow", "timeout").await;
    assert!(elapsed >= ms(200), "gave up after {elapsed:?}");
    assert!(elapsed < ms(3000), "gave up after {elapsed:?}");
    println!("headers 5 s late: failed over after {elapsed:?} (connect 100 + first byte 200 ms)");
    assert_eq!(slow.wait_fate(0, DEADLINE).await, Fate::Abandoned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_of_keep_alives_only_fails_over_after_first_byte_ms() {
    let (gateway, slow, _live) = slow_gateway(json!({})).await;
    // Headers at once, but only a keep-alive comment, which is not a first event.
    let quiet = Script::sse()
        .raw(": keep-alive\n\n")
        .pause(Duration::from_secs(5))
        .chunk(MODEL, "too late")
        .done();
    slow.enqueue(quiet.into());
    let elapsed = assert_failed_over(&gateway, "slow", "timeout").await;
    assert!(elapsed >= ms(200), "gave up after {elapsed:?}");
    assert!(elapsed < ms(3000), "gave up after {elapsed:?}");
    println!("first event 5 s late: failed over after {elapsed:?} (first_byte_ms 200)");
    assert_eq!(slow.wait_fate(0, DEADLINE).await, Fate::Abandoned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_whose_first_event_is_an_error_fails_over() {
    let flaky = MockUpstream::start("flaky").await;
    let (gateway, _live) = failover_gateway(&provider_with(
        "flaky",
        &flaky,
        &[&test_key("flaky")],
        json!({}),
    ))
    .await;
    flaky.enqueue(
        Script::sse()
            .error_event("The engine is overloaded")
            .done()
            .into(),
    );
    let response = gateway.chat_stream(&stream_body(MODEL)).await;
    let trail = stream_header(&response, "x-switchyard-fallback").unwrap_or_default();
    assert!(
        trail.starts_with("flaky:5") && trail.ends_with(",live:200"),
        "the error event must count as a failed attempt: {trail:?}"
    );
    let events = SseReader::new(response).collect_all().await;
    assert!(
        events.iter().all(|e| !e.data.contains("overloaded")),
        "{events:?}"
    );
    assert!(events.last().is_some_and(SseEvent::is_done));
}

/// A gateway with a single provider `src` on `mock` (with `extra` fields) for `s-` models.
async fn single_gateway(mock: &MockUpstream, extra: Value) -> Gateway {
    let gateway = Gateway::start().await;
    let spec = provider_with(mock.name(), mock, &[&test_key(mock.name())], extra);
    gateway.add_provider(&spec).await;
    let upstreams = json!([{"provider": mock.name()}]);
    gateway
        .add_route(&route_with("main", "s-", upstreams, json!({})))
        .await;
    gateway
}

/// Streams `script` through a single-provider gateway and checks the client gets `contents`,
/// then an error event, then the end of the body without `[DONE]`; returns the time from the
/// request to the error event.
async fn assert_cut_short(script: Script, extra: Value, contents: &[&str]) -> Duration {
    let mock = MockUpstream::start("src").await;
    let gateway = single_gateway(&mock, extra).await;
    mock.enqueue(script.into());
    let started = Instant::now();
    let response = gateway.chat_stream(&stream_body(MODEL)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        stream_header(&response, "x-switchyard-attempts").as_deref(),
        Some("1")
    );
    let mut reader = SseReader::new(response);
    for content in contents {
        let event = reader.next_event().await.expect("a content event");
        assert_eq!(
            event.delta_content().as_deref(),
            Some(*content),
            "{event:?}"
        );
    }
    let error = reader.next_event().await.expect("an error event");
    let elapsed = started.elapsed();
    let body: Value = serde_json::from_str(&error.data).unwrap_or(Value::Null);
    assert!(
        body["error"]["message"].is_string(),
        "expected an error event after {contents:?}, got {error:?} and then {:?}",
        reader.collect_all().await
    );
    let rest = reader.collect_all().await;
    assert!(
        rest.is_empty(),
        "nothing may follow the error event: {rest:?}"
    );
    assert_eq!(mock.request_count(), 1, "a started stream is never retried");
    elapsed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_disconnect_mid_stream_ends_with_an_error_event() {
    let script = Script::sse()
        .chunk(MODEL, "Hel")
        .chunk(MODEL, "lo")
        .pause(ms(50))
        .disconnect();
    assert_cut_short(script, json!({}), &["Hel", "lo"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_beyond_idle_ms_ends_with_an_error_event() {
    let script = Script::sse()
        .chunk(MODEL, "a")
        .pause(Duration::from_secs(5))
        .chunk(MODEL, "b")
        .done();
    let extra = json!({"timeouts": {"idle_ms": 200}});
    let elapsed = assert_cut_short(script, extra, &["a"]).await;
    println!("stall: error event {elapsed:?} after the request (idle_ms 200)");
    assert!(elapsed >= ms(200), "the error came after only {elapsed:?}");
    assert!(elapsed < ms(3000), "the error came after {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ending_without_done_ends_with_an_error_event() {
    let script = Script::sse().chunk(MODEL, "a").chunk(MODEL, "b");
    assert_cut_short(script, json!({}), &["a", "b"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_chunk_ends_with_an_error_event() {
    let script = Script::sse()
        .chunk(MODEL, "a")
        .raw("data: {\"choices\": [\n\n")
        .chunk(MODEL, "b")
        .done();
    assert_cut_short(script, json!({}), &["a"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_mid_stream_cancels_the_upstream_request() {
    let mock = MockUpstream::start("src").await;
    let gateway = single_gateway(&mock, json!({})).await;
    let script = Script::sse()
        .chunk(MODEL, "a")
        .pause(Duration::from_secs(30))
        .done();
    mock.enqueue(script.into());
    let response = gateway.chat_stream(&stream_body(MODEL)).await;
    let mut reader = SseReader::new(response);
    let first = reader.next_event().await.expect("the first event");
    assert_eq!(first.delta_content().as_deref(), Some("a"));
    assert_eq!(mock.fate(0), Fate::Pending);

    let left = Instant::now();
    drop(reader);
    assert_eq!(mock.wait_fate(0, DEADLINE).await, Fate::Abandoned);
    println!("upstream closed {:?} after the client left", left.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_leaving_before_the_first_event_cancels_the_upstream_request() {
    let mock = MockUpstream::start("src").await;
    let gateway = single_gateway(&mock, json!({})).await;
    let script = Script::sse()
        .pause(Duration::from_secs(30))
        .chunk(MODEL, "a")
        .done();
    mock.enqueue(script.into());
    let pending = tokio::spawn(gateway.chat_request(&stream_body(MODEL)).send());
    poll_until(DEADLINE, "the request to reach the mock", || async {
        (mock.request_count() == 1).then_some(())
    })
    .await;
    assert_eq!(mock.fate(0), Fate::Pending);

    let left = Instant::now();
    pending.abort();
    assert_eq!(mock.wait_fate(0, DEADLINE).await, Fate::Abandoned);
    println!("upstream closed {:?} after the client left", left.elapsed());
}
