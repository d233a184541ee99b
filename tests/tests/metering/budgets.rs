//! Spend budgets: no more than one request's overspend under 20 concurrent requests, the
//! refusal's shape (OpenAI's and Anthropic's), the period reset with the test clock, spend that
//! survives a restart, and the soft and hard alerts posted to the webhook once each.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use serde_json::{Value, json};
use switchyard_shared::{BudgetAlert, BudgetPeriod};
use switchyard_tests::consumers::{IssuedKey, KeyHeader, rfc3339};
use switchyard_tests::metering::{
    WebhookReceiver, answer, completion_reply, cost_micros, micros, record_cost, usd,
};
use switchyard_tests::providers::anthropic;
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions, MockUpstream};

use super::{MODEL, consumer_with_key, openai_error, setup, setup_with};

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;
/// The `max_tokens` every budgeted request sets, which its reservation counts in full.
const MAX_TOKENS: u64 = 10;

/// A chat body whose length the test knows: the gateway reserves `length / 4` prompt tokens and
/// `MAX_TOKENS` completion tokens at admission.
fn budget_body() -> Vec<u8> {
    let body = json!({"model": MODEL, "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": "Spend a little."}]});
    serde_json::to_vec(&body).expect("JSON values serialize")
}

/// Makes every answer of `mock` report exactly the tokens the gateway reserves for
/// [`budget_body`], so each request's real cost equals its reservation; returns that cost.
fn cost_as_reserved(mock: &MockUpstream) -> i64 {
    let prompt = budget_body().len() as u64 / 4;
    mock.set_default(completion_reply(
        &answer("Spent.", prompt, MAX_TOKENS),
        MODEL,
    ));
    cost_micros(prompt, MAX_TOKENS)
}

async fn spend(gateway: &Gateway, key: &IssuedKey) -> ApiResponse {
    let request = gateway
        .proxy_request(reqwest::Method::POST, "/v1/chat/completions")
        .bearer_auth(&key.key)
        .header("content-type", "application/json")
        .body(budget_body());
    ApiResponse::send(request).await
}

/// A `budget` field in dollars from micro-dollars.
fn budget(limit: i64, period: &str) -> Value {
    json!({"limit_usd": usd(limit), "period": period})
}

fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_millis()).expect("fits")
}

/// Asserts OpenAI's refusal for a spent budget: `budget_exceeded`, `insufficient_quota`, a message
/// naming the budget, and `x-should-retry: false`. Returns its `Retry-After` in seconds, if any.
fn assert_budget_refusal(response: &ApiResponse, names: &[&str]) -> Option<u64> {
    let error = openai_error(response, 429, "budget_exceeded");
    assert_eq!(error["type"], "insufficient_quota", "{error}");
    let message = error["message"].as_str().expect("a message");
    for name in names {
        assert!(
            message.contains(name),
            "the message names {name}: {message}"
        );
    }
    assert_eq!(response.header("x-should-retry"), Some("false"));
    response.header("retry-after").map(|value| {
        value
            .parse()
            .unwrap_or_else(|_| panic!("Retry-After in whole seconds: {value}"))
    })
}

/// Asserts that a `Retry-After` of `seconds` counts down to `period_end_ms` (as seen `now_ms`).
fn assert_resets_at(seconds: Option<u64>, period_end_ms: u64, now_ms: u64) {
    let seconds = seconds.expect("a day budget says when it resets");
    let expected = (period_end_ms - now_ms) / 1000;
    assert!(
        seconds.abs_diff(expected) <= 3,
        "Retry-After {seconds} s, but the period ends in {expected} s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_requests_overspend_by_at_most_one() {
    let (gateway, mock) = setup().await;
    let cost = cost_as_reserved(&mock);
    // The budget has room for four and a half requests: the fifth is admitted, the sixth never is.
    let limit = cost * 9 / 2;
    let spec = json!({"name": "ci", "budget": budget(limit, "day")});
    let key = consumer_with_key(&gateway, json!({"name": "team-a"}), spec).await;
    let webhook = WebhookReceiver::start().await;
    gateway.set_alert_webhook(webhook.url()).await;
    gateway.budgets_loaded().await;

    let responses = join_all((0..20).map(|_| spend(&gateway, &key))).await;
    let served = responses.iter().filter(|r| r.status == 200).count();
    let refused: Vec<&ApiResponse> = responses.iter().filter(|r| r.status != 200).collect();
    // Each admission reserves exactly what the request then costs, so the count is exact.
    assert_eq!(
        served,
        5,
        "statuses: {:?}",
        responses.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let midnight = (now_ms() / DAY_MS + 1) * DAY_MS;
    for response in &refused {
        let retry_after = assert_budget_refusal(response, &["'ci'", "team-a"]);
        assert_resets_at(retry_after, midnight, now_ms());
    }

    let state = gateway.settled_budget("team-a", Some(key.id)).await;
    let spent = micros(state.spent_usd);
    assert_eq!(spent, 5 * cost);
    assert!(
        spent - limit <= cost,
        "overspent {} µ$, more than one request",
        spent - limit
    );
    assert_eq!(
        state.period_end.as_deref(),
        Some(rfc3339(UNIX_EPOCH + Duration::from_millis(midnight)).as_str())
    );

    let logs = gateway.settled_logs().await;
    assert_eq!(logs.len(), 20);
    let budget_refusals = logs
        .iter()
        .filter(|l| l.error_code.as_deref() == Some("budget_exceeded"));
    assert_eq!(budget_refusals.filter(|l| l.status == 429).count(), 15);
    let billed: i64 = logs
        .iter()
        .filter(|l| l.status == 200)
        .map(record_cost)
        .sum();
    assert_eq!(billed, spent, "the budget's spend is the records' cost");

    // Hitting the hard limit is announced once, with a spend that did reach the limit: requests
    // refused while others were still in flight do not make the budget exceeded.
    let alerts = webhook.wait_for(1).await;
    let alert: BudgetAlert = serde_json::from_value(alerts[0].body.clone()).expect("an alert");
    assert_eq!(alert.event, "budget.exceeded", "{alert:?}");
    assert!(
        micros(alert.spent_usd) >= limit,
        "exceeded at a spend under the limit: {alert:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_budget_counts_each_request_once() {
    let (gateway, mock) = setup().await;
    let cost = cost_as_reserved(&mock);
    gateway.add_consumer(&json!({"name": "team-n"})).await;
    // Each key's budget is new when its first request comes right after it; the meter loads a
    // new budget's recorded spend on its next pass, when that request may already be written.
    let mut keys = Vec::new();
    for i in 0..5 {
        let spec = json!({"name": format!("new-{i}"), "budget": budget(cost * 10, "day")});
        let key = gateway.issue_key("team-n", &spec).await;
        spend(&gateway, &key)
            .await
            .expect_status(200, "the new key's first request");
        keys.push(key);
    }
    gateway.log_barrier().await;
    for key in &keys {
        let state = gateway.settled_budget("team-n", Some(key.id)).await;
        assert_eq!(
            micros(state.spent_usd),
            cost,
            "one request's cost, counted once: {state:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_budget_resets_at_midnight_on_the_test_clock() {
    let options = GatewayOptions::default().args(["--test-clock"]);
    let (gateway, mock) = setup_with(options, json!({})).await;
    let cost = cost_as_reserved(&mock);
    let spec = json!({"name": "ci", "budget": budget(cost / 2, "day")});
    let key = consumer_with_key(&gateway, json!({"name": "team-a"}), spec).await;
    gateway.budgets_loaded().await;

    spend(&gateway, &key)
        .await
        .expect_status(200, "the first request of the day");
    let refused = spend(&gateway, &key).await;
    let now = now_ms();
    let midnight = (now / DAY_MS + 1) * DAY_MS;
    assert_resets_at(assert_budget_refusal(&refused, &["'ci'"]), midnight, now);

    // The clock moves to one hour into the next UTC day.
    let offset = midnight + HOUR_MS - now_ms();
    let moved = gateway
        .move_clock(i64::try_from(offset).expect("fits"))
        .await;
    moved.expect_status(200, "moving the test clock");
    let served = spend(&gateway, &key).await;
    served.expect_status(200, "a new day, a new budget");
    let tomorrow = rfc3339(UNIX_EPOCH + Duration::from_millis(midnight));
    let state = gateway.settled_budget("team-a", Some(key.id)).await;
    assert_eq!(state.period_start.as_deref(), Some(tomorrow.as_str()));
    assert_eq!(micros(state.spent_usd), cost, "only today's request counts");
    let log = gateway
        .wait_log(served.header("x-request-id").expect("an id"))
        .await;
    assert!(
        log.time.starts_with(&tomorrow[..10]),
        "the record is dated by the moved clock: {}",
        log.time
    );

    // The budget is spent again, and now the reset is 23 hours away.
    let refused = spend(&gateway, &key).await;
    let seen = now_ms() + offset;
    assert_resets_at(
        assert_budget_refusal(&refused, &["'ci'"]),
        midnight + DAY_MS,
        seen,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_cannot_be_moved_without_the_test_flag() {
    let gateway = Gateway::start().await;
    let response = gateway
        .move_clock(i64::try_from(DAY_MS).expect("fits"))
        .await;
    response.expect_status(404, "PUT /api/debug/clock without --test-clock");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spend_survives_a_restart() {
    let (mut gateway, mock) = setup().await;
    let cost = cost_as_reserved(&mock);
    // The consumer's total budget has room for two and a half requests.
    let consumer = json!({"name": "team-r", "budget": budget(cost * 5 / 2, "total")});
    let key = consumer_with_key(&gateway, consumer, json!({"name": "ci"})).await;
    gateway.budgets_loaded().await;
    for _ in 0..3 {
        spend(&gateway, &key)
            .await
            .expect_status(200, "within the budget");
    }
    let refused = spend(&gateway, &key).await;
    let retry_after = assert_budget_refusal(&refused, &["team-r", "total"]);
    assert_eq!(retry_after, None, "a total budget never resets");
    // Every record is on disk before the process is killed.
    assert_eq!(gateway.settled_logs().await.len(), 4);
    let before = gateway.settled_budget("team-r", None).await;
    assert_eq!(micros(before.spent_usd), 3 * cost);
    assert_eq!(
        (before.scope.as_str(), before.period_start.as_deref()),
        ("consumer", None)
    );

    gateway.restart().await;
    let after = gateway.budget_of("team-r", None).await;
    assert_eq!(
        micros(after.spent_usd),
        3 * cost,
        "spend recomputed from usage.db"
    );
    let refused = spend(&gateway, &key).await;
    assert_budget_refusal(&refused, &["team-r"]);
    assert_eq!(
        mock.request_count(),
        3,
        "nothing reached the provider after the budget ran out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soft_and_hard_limits_post_one_alert_each() {
    let webhook = WebhookReceiver::start().await;
    let (gateway, mock) = setup().await;
    let cost = cost_as_reserved(&mock);
    gateway.set_alert_webhook(webhook.url()).await;
    let mut spec = json!({"name": "ci", "budget": budget(cost * 5 / 2, "day")});
    spec["budget"]["soft_limit_usd"] = json!(usd(cost * 3 / 2));
    let key = consumer_with_key(&gateway, json!({"name": "team-w"}), spec).await;
    let marker = json!({"name": "marker", "budget": budget(cost / 2, "day")});
    let marker = gateway.issue_key("team-w", &marker).await;
    gateway.budgets_loaded().await;

    // The key spends 1, 2 (past the soft limit) and 3 (past the hard one) requests' worth, each
    // settled before the next, and is then refused.
    for _ in 0..3 {
        spend(&gateway, &key)
            .await
            .expect_status(200, "within the budget");
        gateway.settled_budget("team-w", Some(key.id)).await;
    }
    for _ in 0..2 {
        assert_budget_refusal(&spend(&gateway, &key).await, &["'ci'"]);
    }
    // The marker key's own alert comes after any repeat of the first key's: alerts are posted
    // in order, so once it is here nothing else is on its way.
    spend(&gateway, &marker)
        .await
        .expect_status(200, "the marker's only request");
    let deliveries = webhook.wait_for(3).await;
    let alerts: Vec<BudgetAlert> = deliveries
        .iter()
        .map(|d| {
            serde_json::from_value(d.body.clone()).unwrap_or_else(|e| panic!("{e}: {}", d.body))
        })
        .collect();
    let events: Vec<(&str, Option<i64>)> = alerts
        .iter()
        .map(|a| (a.event.as_str(), a.key_id))
        .collect();
    assert_eq!(
        events,
        [
            ("budget.soft_limit_crossed", Some(key.id)),
            ("budget.exceeded", Some(key.id)),
            ("budget.exceeded", Some(marker.id)),
        ],
        "each alert once, in order: {alerts:?}"
    );
    let today = rfc3339(UNIX_EPOCH + Duration::from_millis(now_ms() / DAY_MS * DAY_MS));
    for (alert, spent) in alerts.iter().take(2).zip([2 * cost, 3 * cost]) {
        assert_eq!(
            (alert.scope.as_str(), alert.consumer.as_str()),
            ("key", "team-w")
        );
        assert_eq!(micros(alert.limit_usd), cost * 5 / 2);
        assert_eq!(alert.soft_limit_usd.map(micros), Some(cost * 3 / 2));
        assert_eq!(micros(alert.spent_usd), spent, "{alert:?}");
        assert_eq!(alert.period, BudgetPeriod::Day);
        assert_eq!(alert.period_start.as_deref(), Some(today.as_str()));
        assert!(alert.time.starts_with(&today[..10]), "{alert:?}");
    }
    for delivery in &deliveries {
        let content_type = delivery
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok());
        assert_eq!(content_type, Some("application/json"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_budget_answers_the_messages_api_in_anthropics_shape() {
    let (gateway, mock) = setup().await;
    mock.set_default(completion_reply(&answer("Hello.", 20, 5), MODEL));
    // The budget is less than one request's cost: the first request is admitted, the second not.
    let spec = json!({"name": "ci", "budget": budget(cost_micros(20, 5) / 2, "month")});
    let key = consumer_with_key(&gateway, json!({"name": "team-m"}), spec).await;
    let body = json!({"model": MODEL, "max_tokens": 16,
        "messages": [{"role": "user", "content": "hi"}]});

    let first = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &body)
        .await;
    first.expect_status(200, "the first message");
    assert_eq!(first.json()["type"], "message");
    let refused = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &body)
        .await;
    anthropic::assert_error(&refused, 429, "rate_limit_error");
    let message = refused.json()["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    assert!(
        message.contains("budget") && message.contains("'ci'"),
        "{message}"
    );
    assert_eq!(refused.header("x-should-retry"), Some("false"));
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("a month budget resets")
        .parse()
        .expect("seconds");
    assert!((1..=31 * 86_400).contains(&retry_after), "{retry_after}");

    let log = gateway
        .wait_log(refused.header("x-request-id").expect("an id"))
        .await;
    assert_eq!(log.endpoint, "messages");
    assert_eq!(
        (log.status, log.error_code.as_deref()),
        (429, Some("budget_exceeded"))
    );
}
