//! Active health checks: a provider whose probes fail leaves the rotation even while its real
//! traffic would still succeed, and returns after enough successful probes.

use serde_json::json;
use switchyard_tests::fixtures::{chat_body, test_key};
use switchyard_tests::mock::When;
use switchyard_tests::{Gateway, MockUpstream, Reply, poll_until};

use super::{DEADLINE, answered_by, health, provider_view, provider_with, route_with};

const PROBE_MODEL: &str = "primary-health-probe";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_checks_take_a_provider_out_and_bring_it_back() {
    let primary = MockUpstream::start("primary").await;
    let backup = MockUpstream::start("backup").await;
    let gateway = Gateway::start().await;
    let check = json!({"health_check": {
        "enabled": true, "interval_ms": 100, "timeout_ms": 1000, "model": PROBE_MODEL,
        "unhealthy_after": 2, "healthy_after": 2,
    }});
    gateway
        .add_provider(&provider_with(
            "primary",
            &primary,
            &[&test_key("primary")],
            check,
        ))
        .await;
    gateway
        .add_provider(&provider_with(
            "backup",
            &backup,
            &[&test_key("backup")],
            json!({}),
        ))
        .await;
    let upstreams = json!([
        {"provider": "primary", "weight": 100},
        {"provider": "backup", "weight": 100, "priority": -1},
    ]);
    gateway
        .add_route(&route_with("chat", "chat-", upstreams, json!({})))
        .await;

    // The probes are one-token chats to the configured model, sent on the interval.
    let probe = poll_until(DEADLINE, "a health probe to arrive", || async {
        primary
            .requests()
            .into_iter()
            .find(|r| r.model() == PROBE_MODEL)
    })
    .await;
    assert_eq!(
        probe.json()["max_tokens"],
        1,
        "the probe asks for one token"
    );
    assert_eq!(
        probe.bearer(),
        Some(test_key("primary").as_str()),
        "probes carry the key"
    );
    answered_by(&gateway.chat(&chat_body("chat-a")).await, "primary");

    // Only the probes fail: the provider is taken out by the active check alone.
    primary.reply_when(
        When::Model(PROBE_MODEL.into()),
        Reply::error(503, "health endpoint down"),
    );
    poll_until(
        DEADLINE,
        "the active check to mark primary down",
        || async {
            (provider_view(&health(&gateway).await, "primary")["state"] == "down").then_some(())
        },
    )
    .await;
    let before = primary
        .requests()
        .iter()
        .filter(|r| r.model() != PROBE_MODEL)
        .count();
    for _ in 0..5 {
        let response = gateway.chat(&chat_body("chat-b")).await;
        answered_by(&response, "backup");
        assert_eq!(
            response.header("x-switchyard-attempts"),
            Some("1"),
            "no attempt on a down provider"
        );
    }
    let after = primary
        .requests()
        .iter()
        .filter(|r| r.model() != PROBE_MODEL)
        .count();
    assert_eq!(before, after, "a provider marked down gets no real traffic");

    // The probes succeed again: after `healthy_after` of them the provider is back.
    primary.forget(&When::Model(PROBE_MODEL.into()));
    poll_until(
        DEADLINE,
        "the active check to bring primary back",
        || async {
            (provider_view(&health(&gateway).await, "primary")["state"] == "closed").then_some(())
        },
    )
    .await;
    answered_by(&gateway.chat(&chat_body("chat-c")).await, "primary");
}
