//! The two published setups, end to end: APISIX-style priority failover and Higress-style
//! fallback with key failover.

use std::time::Instant;

use serde_json::json;
use switchyard_tests::fixtures::{chat_body, provider, test_key};
use switchyard_tests::mock::When;
use switchyard_tests::{Gateway, MockUpstream, Reply, poll_until};

use super::{
    DEADLINE, answered_by, health, key_state, key_view, ms, provider_view, provider_with,
    route_with, trail,
};

const QWEN_GOOD: &str = "sk-qwen-good-000000000000a1b2";
const QWEN_BAD: &str = "sk-qwen-bad-0000000000000f3a9";
const PROBE_MODEL: &str = "qwen-health-probe";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apisix_priority_failover_moves_traffic_away_and_back() {
    let openai = MockUpstream::start("openai-mock").await;
    let deepseek = MockUpstream::start("deepseek-mock").await;
    let gateway = Gateway::start().await;
    // A short circuit cooldown, so the half-open probe that detects recovery comes quickly.
    let mut primary = provider("openai-mock", &openai, &test_key("openai-mock"));
    primary["health_check"] = json!({"enabled": false, "cooldown_ms": 300});
    gateway.add_provider(&primary).await;
    gateway
        .add_provider(&provider(
            "deepseek-mock",
            &deepseek,
            &test_key("deepseek-mock"),
        ))
        .await;
    let upstreams = json!([
        {"provider": "openai-mock", "weight": 100},
        {"provider": "deepseek-mock", "weight": 1, "priority": -1},
    ]);
    gateway
        .add_route(&route_with("chat", "gpt-", upstreams, json!({})))
        .await;

    // Healthy: the higher priority group takes everything, whatever the weights.
    for _ in 0..20 {
        let response = gateway.chat(&chat_body("gpt-4o")).await;
        answered_by(&response, "openai-mock");
        assert_eq!(response.header("x-switchyard-attempts"), Some("1"));
    }
    assert_eq!(deepseek.request_count(), 0);

    // Failing: every request still succeeds, on the lower group from the first failure on.
    openai.set_default(Reply::error(503, "openai-mock is overloaded"));
    let mut single_attempts = 0;
    for i in 0..10 {
        let response = gateway.chat(&chat_body("gpt-4o")).await;
        answered_by(&response, "deepseek-mock");
        match response.header("x-switchyard-attempts") {
            Some("1") => single_attempts += 1,
            Some("2") => assert_eq!(
                trail(&response),
                Some("openai-mock:503,deepseek-mock:200"),
                "request {i}"
            ),
            other => panic!("request {i}: unexpected attempts {other:?}"),
        }
        if i == 2 {
            // Three failures in a row (the default `unhealthy_after`) open the circuit.
            let view = provider_view(&health(&gateway).await, "openai-mock");
            assert!(
                view["state"] == "open" || view["state"] == "half_open",
                "{view}"
            );
            assert_eq!(view["consecutive_failures"], 3, "{view}");
            let message = view["last_error"]["message"].as_str().unwrap_or_default();
            assert!(message.contains("openai-mock is overloaded"), "{view}");
        }
    }
    assert!(
        single_attempts > 0,
        "with the circuit open, requests should skip openai-mock altogether"
    );

    // Recovered: a half-open probe succeeds and the traffic moves back.
    openai.set_default(Reply::Echo);
    let recovering = Instant::now();
    poll_until(DEADLINE, "traffic to move back to openai-mock", || async {
        let response = gateway.chat(&chat_body("gpt-4o")).await;
        response.expect_status(200, "every request succeeds while recovering");
        (response.header("x-switchyard-provider") == Some("openai-mock")).then_some(())
    })
    .await;
    println!("traffic moved back after {:?}", recovering.elapsed());
    let deepseek_before = deepseek.request_count();
    for _ in 0..10 {
        let response = gateway.chat(&chat_body("gpt-4o")).await;
        answered_by(&response, "openai-mock");
        assert_eq!(response.header("x-switchyard-attempts"), Some("1"));
    }
    assert_eq!(deepseek.request_count(), deepseek_before);
    let view = provider_view(&health(&gateway).await, "openai-mock");
    assert_eq!(view["state"], "closed", "{view}");
    assert_eq!(view["consecutive_failures"], 0, "{view}");
}

/// The Higress example: `qwen-` models go to qwen; its failures fall back to deepseek's
/// `deepseek-chat`.
fn higress_route() -> serde_json::Value {
    route_with(
        "qwen",
        "qwen-",
        json!([{"provider": "qwen"}]),
        json!({"fallback": {
            "enabled": true,
            "upstreams": [{"provider": "deepseek", "model": "deepseek-chat"}],
        }}),
    )
}

/// A qwen mock that accepts only [`QWEN_GOOD`] and a deepseek mock that accepts anything.
async fn higress_mocks() -> (MockUpstream, MockUpstream) {
    let qwen = MockUpstream::start("qwen").await;
    qwen.set_default(Reply::error(401, "Incorrect API key provided."));
    qwen.reply_when(When::Key(QWEN_GOOD.into()), Reply::Echo);
    (qwen, MockUpstream::start("deepseek").await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higress_fallback_answers_from_deepseek_with_its_model() {
    let (qwen, deepseek) = higress_mocks().await;
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider("qwen", &qwen, "sk-qwen-wrong-0000000000000000"))
        .await;
    gateway
        .add_provider(&provider("deepseek", &deepseek, &test_key("deepseek")))
        .await;
    gateway.add_route(&higress_route()).await;

    let response = gateway.chat(&chat_body("qwen-turbo")).await;
    answered_by(&response, "deepseek");
    assert_eq!(trail(&response), Some("qwen:401,deepseek:200"));
    assert_eq!(response.header("x-switchyard-attempts"), Some("2"));
    assert_eq!(response.header("x-switchyard-model"), Some("deepseek-chat"));
    let body = response.json();
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from deepseek"
    );

    assert_eq!(qwen.request_count(), 1);
    assert_eq!(qwen.last_request().model(), "qwen-turbo");
    let sent = deepseek.last_request().json();
    assert_eq!(sent["model"], "deepseek-chat");
    assert_eq!(sent["messages"], chat_body("qwen-turbo")["messages"]);
    assert_eq!(
        deepseek.last_request().bearer(),
        Some(test_key("deepseek").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higress_token_failover_ejects_a_bad_key_and_probes_it_back() {
    let (qwen, deepseek) = higress_mocks().await;
    let gateway = Gateway::start().await;
    let failover = json!({"token_failover": {
        "enabled": true,
        "failure_threshold": 2,
        "health_check_interval_ms": 200,
        "health_check_model": PROBE_MODEL,
    }});
    gateway
        .add_provider(&provider_with(
            "qwen",
            &qwen,
            &[QWEN_GOOD, QWEN_BAD],
            failover,
        ))
        .await;
    gateway
        .add_provider(&provider("deepseek", &deepseek, &test_key("deepseek")))
        .await;
    gateway.add_route(&higress_route()).await;
    let client_requests_with = |key: &str| {
        qwen.requests_with_key(key)
            .iter()
            .filter(|r| r.model() == "qwen-turbo")
            .count()
    };

    // The bad key fails, the good one answers in the same request; after two failures the bad
    // key leaves the pool.
    poll_until(DEADLINE, "the bad key to be ejected", || async {
        let response = gateway.chat(&chat_body("qwen-turbo")).await;
        answered_by(&response, "qwen");
        if response.header("x-switchyard-attempts") == Some("2") {
            assert_eq!(trail(&response), Some("qwen:401,qwen:200"));
        }
        (key_state(&gateway, "qwen", QWEN_BAD).await == "ejected").then_some(())
    })
    .await;
    let view = key_view(&health(&gateway).await, "qwen", QWEN_BAD).expect("the bad key");
    assert!(view["consecutive_failures"].as_u64() >= Some(2), "{view}");
    assert!(view["last_error"]["message"].is_string(), "{view}");
    assert_eq!(
        provider_view(&health(&gateway).await, "qwen")["token_failover"],
        true
    );

    let bad_before = client_requests_with(QWEN_BAD);
    for _ in 0..10 {
        let response = gateway.chat(&chat_body("qwen-turbo")).await;
        answered_by(&response, "qwen");
        assert_eq!(response.header("x-switchyard-attempts"), Some("1"));
    }
    assert_eq!(
        client_requests_with(QWEN_BAD),
        bad_before,
        "an ejected key carries no traffic"
    );
    assert_eq!(
        deepseek.request_count(),
        0,
        "the key failover made fallback unnecessary"
    );

    // While the provider still refuses it, the key is probed every interval and stays out.
    let probes = poll_until(DEADLINE, "two probes of the bad key", || async {
        let probes: Vec<_> = qwen
            .requests_with_key(QWEN_BAD)
            .into_iter()
            .filter(|r| r.model() == PROBE_MODEL)
            .collect();
        (probes.len() >= 2).then_some(probes)
    })
    .await;
    assert_eq!(probes[0].path, "/v1/chat/completions");
    assert_eq!(
        probes[0].json(),
        json!({"model": PROBE_MODEL, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
    );
    let gap = probes[1].received_at - probes[0].received_at;
    // The interval is 200 ms; 20 ms of slack covers a first probe that left a little late.
    assert!(gap >= ms(180), "probes came {gap:?} apart");
    assert_eq!(key_state(&gateway, "qwen", QWEN_BAD).await, "ejected");

    // Once the provider accepts the key again, a probe succeeds and the key rejoins.
    qwen.reply_when(When::Key(QWEN_BAD.into()), Reply::Echo);
    let accepted = Instant::now();
    poll_until(DEADLINE, "the bad key to rejoin the pool", || async {
        (key_state(&gateway, "qwen", QWEN_BAD).await == "healthy").then_some(())
    })
    .await;
    println!(
        "the key rejoined {:?} after it was accepted",
        accepted.elapsed()
    );
    poll_until(DEADLINE, "client traffic on the rejoined key", || async {
        answered_by(&gateway.chat(&chat_body("qwen-turbo")).await, "qwen");
        (client_requests_with(QWEN_BAD) > bad_before).then_some(())
    })
    .await;
}
