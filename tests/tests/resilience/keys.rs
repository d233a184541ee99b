//! Key and circuit state over time: rejoining by cooldown, surviving reloads, dropped on delete.

use serde_json::json;
use switchyard_tests::fixtures::{chat_body, provider};
use switchyard_tests::mock::When;
use switchyard_tests::{Gateway, MockUpstream, Reply, poll_until};

use super::{
    DEADLINE, answered_by, health, key_state, key_view, ms, provider_view, provider_with,
    route_with,
};

const GOOD: &str = "sk-pool-good-000000000000c0de";
const BAD: &str = "sk-pool-bad-00000000000000f3a9";

/// A mock that accepts only [`GOOD`], and a gateway with provider `pool` (both keys and
/// `token_failover`) behind route `main` for `m-` models.
async fn pool_gateway(token_failover: serde_json::Value) -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("pool").await;
    mock.set_default(Reply::error(401, "Invalid API key."));
    mock.reply_when(When::Key(GOOD.into()), Reply::Echo);
    let gateway = Gateway::start().await;
    let extra = json!({ "token_failover": token_failover });
    gateway
        .add_provider(&provider_with("pool", &mock, &[GOOD, BAD], extra))
        .await;
    gateway
        .add_route(&route_with(
            "main",
            "m-",
            json!([{"provider": "pool"}]),
            json!({}),
        ))
        .await;
    (gateway, mock)
}

/// Sends requests (each must succeed) until the bad key is ejected.
async fn eject_bad_key(gateway: &Gateway) {
    poll_until(DEADLINE, "the bad key to be ejected", || async {
        answered_by(&gateway.chat(&chat_body("m-1")).await, "pool");
        (key_state(gateway, "pool", BAD).await == "ejected").then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ejected_key_rejoins_after_its_cooldown_without_a_probe() {
    // No health_check_model: nothing probes the key, only the cooldown can bring it back.
    let failover = json!({"enabled": true, "failure_threshold": 1, "cooldown_ms": 400});
    let (gateway, mock) = pool_gateway(failover).await;
    eject_bad_key(&gateway).await;
    let failed_at = mock
        .requests_with_key(BAD)
        .last()
        .expect("the bad key was used")
        .received_at;

    poll_until(DEADLINE, "the cooldown to re-admit the key", || async {
        (key_state(&gateway, "pool", BAD).await == "healthy").then_some(())
    })
    .await;
    let rejoined = failed_at.elapsed();
    // The key left the pool just after the mock answered it, so it cannot be back sooner.
    assert!(
        rejoined >= ms(400),
        "the key rejoined {rejoined:?} after it failed"
    );
    println!("the key rejoined {rejoined:?} after its failure (cooldown 400 ms)");
    assert!(
        mock.requests().iter().all(|r| r.json()["max_tokens"] != 1),
        "no probe was configured, so none may be sent"
    );

    let used = mock.requests_with_key(BAD).len();
    poll_until(DEADLINE, "traffic on the re-admitted key", || async {
        answered_by(&gateway.chat(&chat_body("m-1")).await, "pool");
        (mock.requests_with_key(BAD).len() > used).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_health_survives_reloads_and_is_dropped_with_the_key() {
    // Probes are rare and no cooldown is set, so only a lost state could bring the key back.
    let failover = json!({
        "enabled": true, "failure_threshold": 1, "health_check_interval_ms": 600_000,
    });
    let (gateway, mock) = pool_gateway(failover).await;
    gateway
        .add_route(&route_with(
            "other",
            "other-",
            json!([{"provider": "pool"}]),
            json!({}),
        ))
        .await;
    eject_bad_key(&gateway).await;
    let before = key_view(&health(&gateway).await, "pool", BAD).expect("the bad key");

    // An unrelated route change reloads the configuration.
    let changed = route_with(
        "other",
        "another-",
        json!([{"provider": "pool"}]),
        json!({}),
    );
    gateway
        .admin_put("/api/routes/other", &changed)
        .await
        .expect_status(200, "changing the other route");
    let after = key_view(&health(&gateway).await, "pool", BAD).expect("the bad key");
    assert_eq!(after["state"], "ejected", "{after}");
    assert_eq!(
        after["consecutive_failures"],
        before["consecutive_failures"]
    );
    assert_eq!(after["last_error"], before["last_error"]);

    // So does a change to the provider itself that keeps its keys (sent back masked).
    let mut spec = gateway.admin_get("/api/providers/pool").await.json();
    spec["headers"] = json!({"x-tenant": "acme"});
    gateway
        .admin_put("/api/providers/pool", &spec)
        .await
        .expect_status(200, "changing the provider's headers");
    assert_eq!(key_state(&gateway, "pool", BAD).await, "ejected");
    let used = mock.requests_with_key(BAD).len();
    for _ in 0..5 {
        answered_by(&gateway.chat(&chat_body("m-1")).await, "pool");
    }
    assert_eq!(
        mock.requests_with_key(BAD).len(),
        used,
        "the key stayed out"
    );
    assert_eq!(mock.last_request().header("x-tenant"), Some("acme"));

    // Removing the key drops its state: added again, it starts healthy.
    spec["api_keys"] = json!([GOOD]);
    gateway
        .admin_put("/api/providers/pool", &spec)
        .await
        .expect_status(200, "removing the bad key");
    assert_eq!(key_view(&health(&gateway).await, "pool", BAD), None);
    spec["api_keys"] = json!([GOOD, BAD]);
    gateway
        .admin_put("/api/providers/pool", &spec)
        .await
        .expect_status(200, "adding the bad key again");
    let fresh = key_view(&health(&gateway).await, "pool", BAD).expect("the bad key");
    assert_eq!(fresh["state"], "healthy", "{fresh}");
    assert_eq!(fresh["consecutive_failures"], 0, "{fresh}");
    assert_eq!(fresh["last_error"], serde_json::Value::Null, "{fresh}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn circuit_state_survives_reloads_and_is_dropped_with_the_provider() {
    let mock = MockUpstream::start("flaky").await;
    mock.set_default(Reply::error(503, "flaky is down"));
    let gateway = Gateway::start().await;
    let mut spec = provider("flaky", &mock, "sk-flaky-0000000000000000beef");
    spec["health_check"] = json!({"enabled": false, "unhealthy_after": 1, "cooldown_ms": 120_000});
    gateway.add_provider(&spec).await;
    let route = route_with(
        "main",
        "m-",
        json!([{"provider": "flaky"}]),
        json!({"retry": {"max_attempts": 1}}),
    );
    gateway.add_route(&route).await;
    gateway
        .chat(&chat_body("m-1"))
        .await
        .expect_status(503, "the failure that opens the circuit");
    assert_eq!(
        provider_view(&health(&gateway).await, "flaky")["state"],
        "open"
    );

    gateway
        .add_route(&route_with(
            "unrelated",
            "u-",
            json!([{"provider": "flaky"}]),
            json!({}),
        ))
        .await;
    let view = provider_view(&health(&gateway).await, "flaky");
    assert_eq!(view["state"], "open", "a reload keeps the circuit: {view}");
    assert!(view["next_probe_in_ms"].as_u64() > Some(100_000), "{view}");

    for route in ["main", "unrelated"] {
        gateway
            .admin_delete(&format!("/api/routes/{route}"))
            .await
            .expect_status(204, "deleting a route");
    }
    gateway
        .admin_delete("/api/providers/flaky")
        .await
        .expect_status(204, "deleting the provider");
    gateway.add_provider(&spec).await;
    let view = provider_view(&health(&gateway).await, "flaky");
    assert_eq!(
        view["state"], "closed",
        "a new provider starts closed: {view}"
    );
    assert_eq!(view["consecutive_failures"], 0, "{view}");
    assert_eq!(view["last_error"], serde_json::Value::Null, "{view}");
}
