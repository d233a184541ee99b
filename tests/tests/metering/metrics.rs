//! `GET /metrics`: read by a Prometheus text-format parser after known traffic (requests by
//! route, consumer and status class, tokens, cost, latency, attempts, the log's counters), and
//! guarded by the admin token unless the gateway runs with `--metrics-public`.

use prometheus_parse::{Sample, Scrape, Value as Metric};
use serde_json::json;
use switchyard_tests::metering::{answer, completion_reply, cost_micros, micros};
use switchyard_tests::{DEFAULT_ADMIN_TOKEN, Gateway, GatewayOptions};

use super::{MODEL, chat, consumer_with_key, send, setup};

/// Parses a scrape; panics (with the text) if the parser rejects any of it.
fn parse(text: &str) -> Vec<Sample> {
    let lines = text.lines().map(|line| Ok(line.to_owned()));
    Scrape::parse(lines)
        .unwrap_or_else(|e| panic!("not the Prometheus text format ({e}):\n{text}"))
        .samples
}

/// The sum of the samples named `metric` whose labels include every pair of `labels`.
fn sum(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == metric)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match &s.value {
            Metric::Counter(v) | Metric::Gauge(v) | Metric::Untyped(v) => *v,
            Metric::Histogram(buckets) => buckets
                .iter()
                .find(|b| b.less_than.is_infinite())
                .map_or(0.0, |b| b.count),
            Metric::Summary(_) => panic!("{metric} is a summary"),
        })
        .sum()
}

/// Asserts that the samples named `metric` are of the counter type.
fn assert_counter(samples: &[Sample], metric: &str) {
    let mut found = samples.iter().filter(|s| s.metric == metric).peekable();
    assert!(found.peek().is_some(), "no {metric} in the scrape");
    for sample in found {
        assert!(
            matches!(sample.value, Metric::Counter(_)),
            "{metric} is not a counter: {sample:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_tokens_and_cost() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-m"}), json!({"name": "ci"})).await;
    mock.set_default(completion_reply(&answer("Counted.", 10, 4), MODEL));
    for _ in 0..3 {
        send(&gateway, Some(&key.key), &chat(MODEL), None)
            .await
            .expect_status(200, "served");
    }
    for _ in 0..2 {
        send(&gateway, None, &chat("nonesuch-1"), None)
            .await
            .expect_status(404, "no route");
    }
    let mistyped = key.mistyped();
    send(&gateway, Some(&mistyped), &chat(MODEL), None)
        .await
        .expect_status(401, "a bad key");
    // The barrier is one more 404; once it is recorded, so is every request above.
    gateway.log_barrier().await;

    let response = gateway.scrape(Some(DEFAULT_ADMIN_TOKEN)).await;
    response.expect_status(200, "GET /metrics with the admin token");
    let content_type = response.header("content-type").unwrap_or_default();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let samples = parse(&response.text());

    let requests = "switchyard_requests_total";
    assert_counter(&samples, requests);
    let served = [("route", "metered"), ("status_class", "2xx")];
    assert_eq!(sum(&samples, requests, &served), 3.0);
    let by_consumer = [("consumer", "team-m"), ("model", MODEL), ("provider", "up")];
    assert_eq!(sum(&samples, requests, &by_consumer), 3.0);
    assert_eq!(sum(&samples, requests, &[("status_class", "4xx")]), 4.0);
    assert_eq!(sum(&samples, requests, &[("code", "model_not_found")]), 3.0);
    assert_eq!(sum(&samples, requests, &[("code", "invalid_api_key")]), 1.0);
    assert_eq!(
        sum(
            &samples,
            requests,
            &[("route", "metered"), ("status_class", "4xx")]
        ),
        0.0
    );

    let tokens = "switchyard_tokens_total";
    assert_counter(&samples, tokens);
    assert_eq!(
        sum(
            &samples,
            tokens,
            &[("route", "metered"), ("type", "prompt")]
        ),
        30.0
    );
    assert_eq!(
        sum(
            &samples,
            tokens,
            &[("consumer", "team-m"), ("type", "completion")]
        ),
        12.0
    );
    let cost = sum(
        &samples,
        "switchyard_cost_usd_total",
        &[("route", "metered"), ("model", MODEL)],
    );
    assert_eq!(micros(cost), 3 * cost_micros(10, 4), "cost {cost}");

    let timing = [("route", "metered"), ("provider", "up")];
    assert_eq!(
        sum(&samples, "switchyard_request_duration_seconds", &timing),
        3.0
    );
    assert_eq!(
        sum(
            &samples,
            "switchyard_request_duration_seconds_count",
            &timing
        ),
        3.0
    );
    assert_eq!(
        sum(&samples, "switchyard_time_to_first_token_seconds", &timing),
        3.0
    );
    let attempts = [("provider", "up"), ("outcome", "success")];
    assert_eq!(
        sum(&samples, "switchyard_upstream_attempts_total", &attempts),
        3.0
    );
    assert_eq!(
        sum(
            &samples,
            "switchyard_provider_healthy",
            &[("provider", "up")]
        ),
        1.0
    );
    // Three requests were served, three got a 404 (the barrier's included) and one a 401.
    assert_eq!(
        sum(&samples, "switchyard_log_records_written_total", &[]),
        7.0
    );
    assert_eq!(
        sum(&samples, "switchyard_log_records_dropped_total", &[]),
        0.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_need_the_admin_token_unless_published() {
    let gateway = Gateway::start().await;
    for token in [None, Some("not-the-admin-token")] {
        let response = gateway.scrape(token).await;
        response.expect_status(401, &format!("GET /metrics with token {token:?}"));
    }
    let response = gateway.scrape(Some(DEFAULT_ADMIN_TOKEN)).await;
    response.expect_status(200, "GET /metrics with the admin token");
    assert!(!parse(&response.text()).is_empty());

    let public = Gateway::start_with(GatewayOptions::default().args(["--metrics-public"])).await;
    let response = public.scrape(None).await;
    response.expect_status(200, "GET /metrics on a gateway with --metrics-public");
    let samples = parse(&response.text());
    assert!(sum(&samples, "switchyard_config_version", &[]) >= 1.0);
    // Publishing the metrics publishes nothing else.
    let status = public
        .admin_request(reqwest::Method::GET, "/api/status", None, None)
        .await;
    status.expect_status(401, "GET /api/status without a token");
}
