//! Retries: what is not retried, how `Retry-After` is honoured, and the attempt cap.

use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use switchyard_tests::fixtures::{add_mock_provider, chat_body};
use switchyard_tests::mock::{http_date, whole_second};
use switchyard_tests::{Gateway, MockUpstream, Reply};

use super::{answered_by, health, ms, provider_view, route_with, trail};

/// Quick backoff, so that any wait longer than a few tens of milliseconds has another cause.
fn quick_retry(max_attempts: u32) -> Value {
    json!({"max_attempts": max_attempts, "backoff_base_ms": 10, "backoff_max_ms": 20})
}

/// A gateway with a provider per mock (named after it) and one route for `m-` models.
async fn gateway_with(mocks: &[&MockUpstream], upstreams: Value, extra: Value) -> Gateway {
    let gateway = Gateway::start().await;
    for mock in mocks {
        add_mock_provider(&gateway, mock).await;
    }
    gateway
        .add_route(&route_with("main", "m-", upstreams, extra))
        .await;
    gateway
}

/// The time between the mock's first two requests.
fn gap(mock: &MockUpstream) -> Duration {
    let requests = mock.requests();
    assert!(requests.len() >= 2, "two attempts expected");
    requests[1].received_at - requests[0].received_at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_answered_at_once_without_retry_or_fallback() {
    let primary = MockUpstream::start("primary").await;
    let spare = MockUpstream::start("spare").await;
    let fallback = json!({"fallback": {"enabled": true, "upstreams": [{"provider": "spare"}]}});
    let gateway = gateway_with(
        &[&primary, &spare],
        json!([{"provider": "primary"}]),
        fallback,
    )
    .await;
    for (i, status) in [400u16, 413, 422].into_iter().enumerate() {
        let message = format!("the request is invalid ({status})");
        primary.enqueue(Reply::error(status, &message));
        let response = gateway.chat(&chat_body("m-1")).await;
        response.expect_status(status, "a client error is carried over");
        assert_eq!(response.openai_error()["message"], message.as_str());
        assert_eq!(response.header("x-switchyard-attempts"), Some("1"));
        assert_eq!(trail(&response), None);
        assert_eq!(
            primary.request_count(),
            i + 1,
            "exactly one request per {status}"
        );
    }
    assert_eq!(spare.request_count(), 0, "no fallback for client errors");
    let view = provider_view(&health(&gateway).await, "primary");
    assert_eq!(
        view["consecutive_failures"], 0,
        "client errors blame no one: {view}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_error_named_in_on_status_goes_to_the_fallback() {
    let primary = MockUpstream::start("primary").await;
    let spare = MockUpstream::start("spare").await;
    let fallback = json!({"fallback": {
        "enabled": true, "on_status": [400], "upstreams": [{"provider": "spare"}],
    }});
    let gateway = gateway_with(
        &[&primary, &spare],
        json!([{"provider": "primary"}]),
        fallback,
    )
    .await;
    primary.enqueue(Reply::error(400, "primary rejects this"));
    let response = gateway.chat(&chat_body("m-1")).await;
    answered_by(&response, "spare");
    assert_eq!(trail(&response), Some("primary:400,spare:200"));

    primary.enqueue(Reply::error(422, "not named, so answered"));
    gateway
        .chat(&chat_body("m-1"))
        .await
        .expect_status(422, "a 422 is not in on_status");
    assert_eq!((primary.request_count(), spare.request_count()), (2, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_and_context_length_move_on_without_blame() {
    let short = MockUpstream::start("short").await;
    let long = MockUpstream::start("long").await;
    let upstreams = json!([{"provider": "short"}, {"provider": "long", "priority": -1}]);
    let gateway = gateway_with(&[&short, &long], upstreams, json!({})).await;
    let context = "This model's maximum context length is 4096 tokens.";
    for (reply, status) in [
        (Reply::error(400, context), 400),
        (Reply::error(404, "The model does not exist."), 404),
    ] {
        short.enqueue(reply);
        let response = gateway.chat(&chat_body("m-1")).await;
        answered_by(&response, "long");
        let expected = format!("short:{status},long:200");
        assert_eq!(trail(&response), Some(expected.as_str()));
    }
    let view = provider_view(&health(&gateway).await, "short");
    assert_eq!(view["consecutive_failures"], 0, "{view}");
    assert_eq!(view["state"], "closed", "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_in_seconds_is_honoured() {
    let mock = MockUpstream::start("limited").await;
    let extra = json!({"retry": quick_retry(2)});
    let gateway = gateway_with(&[&mock], json!([{"provider": "limited"}]), extra).await;
    mock.enqueue(
        Reply::error(429, "Rate limit reached for requests").with_header("Retry-After", "1"),
    );

    let response = gateway.chat(&chat_body("m-1")).await;
    answered_by(&response, "limited");
    assert_eq!(trail(&response), Some("limited:429,limited:200"));
    let waited = gap(&mock);
    println!("Retry-After: 1 → the retry came {waited:?} later");
    // The gateway saw the 429 after the mock recorded its request, so no tolerance is needed
    // below; above, 1.5 s allows for a slow machine.
    assert!(
        waited >= ms(1000),
        "retried after {waited:?}, before Retry-After"
    );
    assert!(waited < ms(2500), "retried after {waited:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_as_an_http_date_is_honoured() {
    let mock = MockUpstream::start("busy").await;
    let extra = json!({"retry": quick_retry(2)});
    let gateway = gateway_with(&[&mock], json!([{"provider": "busy"}]), extra).await;
    // The date has whole seconds: it names the start of the second two seconds from now.
    let until = whole_second(SystemTime::now() + Duration::from_secs(2));
    let until_instant = Instant::now()
        + until
            .duration_since(SystemTime::now())
            .expect("the date is in the future");
    mock.enqueue(Reply::error(503, "Service busy").with_header("Retry-After", &http_date(until)));

    let response = gateway.chat(&chat_body("m-1")).await;
    answered_by(&response, "busy");
    assert_eq!(trail(&response), Some("busy:503,busy:200"));
    let second = mock.requests()[1].received_at;
    // Ten milliseconds cover the two clocks being read at slightly different moments.
    assert!(
        second + ms(10) >= until_instant,
        "retried {:?} before the Retry-After date",
        until_instant - second
    );
    assert!(second < until_instant + ms(1500), "retried too late");
    println!("Retry-After date → the retry came {:?} later", gap(&mock));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_beyond_the_maximum_moves_to_the_next_upstream() {
    let slow = MockUpstream::start("slow").await;
    let busy = MockUpstream::start("busy").await;
    let upstreams = json!([{"provider": "slow"}, {"provider": "busy", "priority": -1}]);
    let extra = json!({"retry": {
        "max_attempts": 3, "backoff_base_ms": 10, "backoff_max_ms": 20, "retry_after_max_ms": 500,
    }});
    let gateway = gateway_with(&[&slow, &busy], upstreams, extra).await;
    slow.set_default(Reply::error(429, "Try again later").with_header("Retry-After", "30"));
    busy.enqueue(Reply::error(503, "busy for a moment"));

    let started = Instant::now();
    let response = gateway.chat(&chat_body("m-1")).await;
    let elapsed = started.elapsed();
    answered_by(&response, "busy");
    // The third attempt skips `slow`, which asked for 30 s (more than 500 ms), and retries
    // `busy` after a short backoff instead of waiting.
    assert_eq!(trail(&response), Some("slow:429,busy:503,busy:200"));
    assert_eq!(slow.request_count(), 1);
    assert!(elapsed < ms(5000), "the request took {elapsed:?}");
    println!("skipping a 30 s Retry-After took {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attempts_stop_at_max_attempts_with_the_last_error() {
    let capped = MockUpstream::start("capped").await;
    let unset = MockUpstream::start("unset").await;
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, &capped).await;
    add_mock_provider(&gateway, &unset).await;
    let extra = json!({"retry": quick_retry(2)});
    gateway
        .add_route(&route_with(
            "capped",
            "c-",
            json!([{"provider": "capped"}]),
            extra,
        ))
        .await;
    gateway
        .add_route(&route_with(
            "unset",
            "u-",
            json!([{"provider": "unset"}]),
            json!({}),
        ))
        .await;
    capped.enqueue(Reply::error(503, "first failure"));
    capped.set_default(Reply::error(503, "second failure"));
    unset.set_default(Reply::error(502, "always failing"));

    let response = gateway.chat(&chat_body("c-1")).await;
    response.expect_status(503, "every attempt failed");
    assert_eq!(response.openai_error()["message"], "second failure");
    assert_eq!(response.header("x-switchyard-attempts"), Some("2"));
    assert_eq!(trail(&response), Some("capped:503,capped:503"));
    assert_eq!(capped.request_count(), 2);

    let response = gateway.chat(&chat_body("u-1")).await;
    response.expect_status(502, "every attempt failed");
    assert_eq!(response.header("x-switchyard-attempts"), Some("3"));
    assert_eq!(unset.request_count(), 3, "three attempts by default");
}
