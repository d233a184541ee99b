//! One record per request: every field of a served request, refusals (401, 403, 404, 429) and
//! upstream failures, the fallback trail, and exactly one record for each of many requests.

use std::collections::HashSet;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use serde_json::json;
use switchyard_shared::TrailStep;
use switchyard_tests::consumers::rfc3339;
use switchyard_tests::fixtures::{exact, route};
use switchyard_tests::metering::{answer, completion_reply, cost_micros, record_cost};
use switchyard_tests::{ApiResponse, GatewayOptions, MockUpstream, Reply};

use super::{
    MODEL, add_priced, chat, chat_request, chat_stream, consumer_with_key, is_generated_id,
    metered_route, openai_error, request_id, send, setup, setup_with,
};

/// The first 19 characters of an RFC 3339 time: the date and the time to the second, which
/// compare in time order as text.
fn to_second(time: &str) -> &str {
    time.get(..19)
        .unwrap_or_else(|| panic!("not an RFC 3339 time: {time}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_request_leaves_a_complete_record() {
    let (gateway, mock) = setup().await;
    // This route sends `mapped-model` upstream as `metered-large`, so the requested and the
    // upstream model differ.
    let upstream = json!({"provider": "up", "model": "metered-large"});
    gateway
        .add_route(&route(
            "mapped",
            vec![exact("mapped-model")],
            vec![upstream],
        ))
        .await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"}), json!({"name": "ci"})).await;
    // The answer is held back 100 ms, so the latency and the time to first byte must show it.
    let delay = Duration::from_millis(100);
    mock.set_default(
        completion_reply(&answer("Hello, meter.", 30, 7), "metered-large").delayed(delay),
    );

    let client_id = "client-42:build/7+x=y@z.q_1";
    let before = rfc3339(SystemTime::now());
    let response = send(
        &gateway,
        Some(&key.key),
        &chat("mapped-model"),
        Some(client_id),
    )
    .await;
    let after = rfc3339(SystemTime::now() + Duration::from_secs(1));
    response.expect_status(200, "a served request");
    assert_eq!(
        request_id(&response),
        client_id,
        "the client's own id is echoed"
    );

    let log = gateway.wait_log(client_id).await;
    assert_eq!(log.request_id, client_id);
    assert!(log.time.ends_with('Z'), "a UTC time: {}", log.time);
    let at = to_second(&log.time);
    assert!(
        to_second(&before) <= at && at <= to_second(&after),
        "{} not in [{before}, {after}]",
        log.time
    );
    assert_eq!(log.endpoint, "chat");
    assert_eq!(log.consumer.as_deref(), Some("team-a"));
    assert_eq!(log.key_id, Some(key.id));
    assert_eq!(log.route.as_deref(), Some("mapped"));
    assert_eq!(log.provider.as_deref(), Some("up"));
    assert_eq!(log.requested_model.as_deref(), Some("mapped-model"));
    assert_eq!(log.model.as_deref(), Some("metered-large"));
    assert_eq!((log.status, log.error_code.as_deref()), (200, None));
    assert!(!log.stream);
    assert_eq!(log.attempts, 1);
    assert!(
        log.fallback_trail.is_empty(),
        "a clean single attempt has no trail: {log:?}"
    );
    assert_eq!((log.prompt_tokens, log.completion_tokens), (30, 7));
    assert_eq!((log.cached_tokens, log.reasoning_tokens), (0, 0));
    assert!(!log.tokens_estimated);
    assert_eq!(
        record_cost(&log),
        cost_micros(30, 7),
        "30 × $1000/M + 7 × $2000/M"
    );
    let ttft = log
        .ttft_ms
        .expect("a served request has a time to first byte");
    assert!(
        ttft >= 100,
        "the first byte came after the mock's 100 ms delay: {ttft} ms"
    );
    assert!(
        log.latency_ms >= ttft,
        "latency {} < ttft {ttft}",
        log.latency_ms
    );
    assert!(log.latency_ms < 10_000, "latency {} ms", log.latency_ms);
    assert!(!log.client_disconnected);

    // Without an id of its own, or with one that is not sane, the client gets a fresh one.
    let long = "x".repeat(129);
    for sent in [None, Some(long.as_str()), Some("has space"), Some("ümlaut")] {
        let request = chat_request(&gateway, Some(&key.key), &chat(MODEL), None);
        let request = match sent {
            Some(id) => request.header("x-request-id", id.as_bytes()),
            None => request,
        };
        let response = ApiResponse::send(request).await;
        response.expect_status(200, &format!("a request with id {sent:?}"));
        let id = request_id(&response);
        assert!(
            is_generated_id(&id),
            "for {sent:?} the gateway answered with id {id:?}"
        );
        let log = gateway.wait_log(&id).await;
        assert_eq!((log.status, log.model.as_deref()), (200, Some(MODEL)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_leave_one_record_each() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a"}),
        json!({"name": "ci", "limits": {"rpm": 1}, "allowed_models": ["metered-1"]}),
    )
    .await;

    let served = send(&gateway, Some(&key.key), &chat(MODEL), Some("served")).await;
    served.expect_status(200, "the first request within rpm 1");
    let limited = send(&gateway, Some(&key.key), &chat(MODEL), Some("limited")).await;
    openai_error(&limited, 429, "rate_limit_exceeded");
    let forbidden = send(
        &gateway,
        Some(&key.key),
        &chat("metered-2"),
        Some("forbidden"),
    )
    .await;
    openai_error(&forbidden, 403, "model_not_allowed");
    let unknown = send(
        &gateway,
        Some(&key.key),
        &chat("nonesuch-1"),
        Some("unknown"),
    )
    .await;
    openai_error(&unknown, 404, "model_not_found");
    let mistyped = send(
        &gateway,
        Some(&key.mistyped()),
        &chat(MODEL),
        Some("mistyped"),
    )
    .await;
    openai_error(&mistyped, 401, "invalid_api_key");
    for response in [&limited, &forbidden, &unknown, &mistyped] {
        assert!(
            response.header("x-request-id").is_some(),
            "refusals carry x-request-id too"
        );
    }
    assert_eq!(
        mock.request_count(),
        1,
        "no refused request reached the provider"
    );

    let logs = gateway.settled_logs().await;
    let ids: Vec<&str> = logs.iter().map(|l| l.request_id.as_str()).collect();
    assert_eq!(
        ids,
        ["mistyped", "unknown", "forbidden", "limited", "served"],
        "newest first"
    );
    let by_id = |id: &str| logs.iter().find(|l| l.request_id == id).expect("listed");
    for (id, status, code, route) in [
        ("limited", 429, "rate_limit_exceeded", Some("metered")),
        ("forbidden", 403, "model_not_allowed", Some("metered")),
        ("unknown", 404, "model_not_found", None),
        ("mistyped", 401, "invalid_api_key", None),
    ] {
        let log = by_id(id);
        assert_eq!(
            (log.status, log.error_code.as_deref()),
            (status, Some(code)),
            "{log:?}"
        );
        assert_eq!(log.route.as_deref(), route, "{log:?}");
        assert_eq!(
            (log.attempts, log.provider.as_deref()),
            (0, None),
            "{log:?}"
        );
        assert_eq!(
            (log.prompt_tokens, log.completion_tokens),
            (0, 0),
            "{log:?}"
        );
        assert!(
            !log.tokens_estimated,
            "nothing to estimate for a refusal: {log:?}"
        );
    }
    // The key was read for every refusal but the one whose key was not valid.
    for id in ["limited", "forbidden", "unknown"] {
        assert_eq!(by_id(id).key_id, Some(key.id));
        assert_eq!(by_id(id).consumer.as_deref(), Some("team-a"));
    }
    assert_eq!(
        (
            by_id("mistyped").key_id,
            by_id("mistyped").consumer.as_deref()
        ),
        (None, None)
    );
    assert_eq!(
        by_id("unknown").requested_model.as_deref(),
        Some("nonesuch-1")
    );
    assert_eq!(by_id("served").status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_failure_leaves_a_5xx_record_with_every_attempt() {
    let retry = json!({"retry": {"max_attempts": 2, "backoff_base_ms": 10, "backoff_max_ms": 20}});
    let (gateway, mock) = setup_with(GatewayOptions::default(), retry).await;
    mock.set_default(Reply::error(500, "the upstream is broken"));

    let response = send(&gateway, None, &chat(MODEL), None).await;
    let status = response.status.as_u16();
    assert!(
        (500..600).contains(&status),
        "a failed upstream answers 5xx, got {status}"
    );
    assert_eq!(mock.request_count(), 2);

    let log = gateway.wait_log(&request_id(&response)).await;
    assert_eq!(
        log.status, status,
        "the record has the status the client got"
    );
    assert!(
        log.error_code.as_deref().is_some_and(|c| !c.is_empty()),
        "{log:?}"
    );
    assert_eq!(log.attempts, 2);
    assert_eq!(log.provider.as_deref(), Some("up"));
    let failed = TrailStep {
        provider: "up".into(),
        status: Some(500),
        outcome: "500".into(),
    };
    assert_eq!(log.fallback_trail, [failed.clone(), failed]);
    assert_eq!((log.prompt_tokens, log.completion_tokens), (0, 0));
    assert!(!log.tokens_estimated && !log.client_disconnected, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_record_names_the_provider_that_answered() {
    let fallback = json!({"fallback": {"enabled": true, "upstreams": [{"provider": "spare"}]}});
    let (gateway, primary) = setup_with(GatewayOptions::default(), json!({})).await;
    let spare = MockUpstream::start("spare").await;
    add_priced(&gateway, &spare).await;
    let response = gateway
        .admin_put("/api/routes/metered", &metered_route(fallback))
        .await;
    response.expect_status(200, "adding a fallback to the metered route");
    primary.set_default(Reply::error(503, "overloaded"));
    spare.set_default(completion_reply(&answer("From the spare.", 12, 5), MODEL));

    let response = send(&gateway, None, &chat(MODEL), None).await;
    response.expect_status(200, "the fallback answers");
    assert_eq!(response.header("x-switchyard-provider"), Some("spare"));

    let log = gateway.wait_log(&request_id(&response)).await;
    assert_eq!((log.status, log.error_code.as_deref()), (200, None));
    assert_eq!(
        log.provider.as_deref(),
        Some("spare"),
        "the provider that answered last"
    );
    assert_eq!(log.attempts, 2);
    let trail = [
        TrailStep {
            provider: "up".into(),
            status: Some(503),
            outcome: "503".into(),
        },
        TrailStep {
            provider: "spare".into(),
            status: Some(200),
            outcome: "ok".into(),
        },
    ];
    assert_eq!(log.fallback_trail, trail);
    assert_eq!((log.prompt_tokens, log.completion_tokens), (12, 5));
    assert_eq!(record_cost(&log), cost_micros(12, 5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_leaves_exactly_one_record() {
    let (gateway, _mock) = setup().await;
    // Served answers, streams and refusals are all sent at once.
    let requests = (0..18).map(|i| {
        let body = match i % 3 {
            0 => chat(MODEL),
            1 => chat_stream(MODEL),
            _ => chat("nonesuch-1"),
        };
        let id = format!("count-{i}");
        let gateway = &gateway;
        async move {
            let response = ApiResponse::send(chat_request(gateway, None, &body, Some(&id))).await;
            assert_eq!(request_id(&response), id);
            let expected = if i % 3 == 2 { 404 } else { 200 };
            response.expect_status(expected, &id);
            id
        }
    });
    let sent: HashSet<String> = join_all(requests).await.into_iter().collect();

    let logs = gateway.settled_logs().await;
    let ids: Vec<&str> = logs.iter().map(|l| l.request_id.as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(ids.len(), 18, "18 requests, 18 records: {ids:?}");
    assert_eq!(unique.len(), 18, "no request recorded twice: {ids:?}");
    assert_eq!(
        unique,
        sent.iter().map(String::as_str).collect::<HashSet<_>>()
    );
    // The 18 requests and the barrier were all written, and none was dropped.
    let status = gateway.log_status().await;
    assert!(status.enabled, "{status:?}");
    assert_eq!(
        (status.written, status.dropped, status.queued),
        (19, 0, 0),
        "{status:?}"
    );
}
