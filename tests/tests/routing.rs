//! Route selection: exact versus prefix matches, longest prefix, priority and name ties, weights.

use std::collections::HashMap;

use serde_json::json;
use switchyard_tests::fixtures::{
    add_mock_provider, chat_body, exact, prefix, route, simple_route, upstream, weighted,
};
use switchyard_tests::{Gateway, MockUpstream};

/// Sends a chat request for `model` and returns the route that served it, asserting success.
async fn route_for(gateway: &Gateway, model: &str) -> String {
    let response = gateway.chat(&chat_body(model)).await;
    response.expect_status(200, &format!("chat for {model}"));
    response
        .header("x-switchyard-route")
        .unwrap_or_else(|| panic!("no x-switchyard-route header for {model}"))
        .to_owned()
}

/// A gateway with one provider for `mock` and no routes yet.
async fn gateway_for(mock: &MockUpstream) -> Gateway {
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, mock).await;
    gateway
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_match_beats_prefix_match() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = gateway_for(&mock).await;
    // The prefix route has the higher priority, which must not matter across match kinds.
    gateway
        .add_route(&json!({
            "name": "by-prefix", "priority": 100,
            "match": [prefix("gpt-4o")], "upstreams": [upstream("mock-a")],
        }))
        .await;
    gateway
        .add_route(&simple_route("by-exact", exact("gpt-4o"), "mock-a"))
        .await;

    assert_eq!(route_for(&gateway, "gpt-4o").await, "by-exact");
    assert_eq!(route_for(&gateway, "gpt-4o-mini").await, "by-prefix");
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longest_prefix_wins_regardless_of_priority() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = gateway_for(&mock).await;
    gateway
        .add_route(&json!({
            "name": "short", "priority": 50,
            "match": [prefix("gpt-")], "upstreams": [upstream("mock-a")],
        }))
        .await;
    gateway
        .add_route(&simple_route("long", prefix("gpt-4"), "mock-a"))
        .await;
    gateway
        .add_route(&simple_route("longer", prefix("gpt-4o-"), "mock-a"))
        .await;

    assert_eq!(route_for(&gateway, "gpt-3.5-turbo").await, "short");
    assert_eq!(route_for(&gateway, "gpt-4-turbo").await, "long");
    assert_eq!(route_for(&gateway, "gpt-4o").await, "long");
    assert_eq!(route_for(&gateway, "gpt-4o-mini").await, "longer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn higher_priority_wins_a_tie_on_the_same_value() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = gateway_for(&mock).await;
    // The names are chosen so that the name tie-break would pick the other route.
    for (name, priority) in [("a-low", 1), ("z-high", 7), ("m-negative", -3)] {
        gateway
            .add_route(&json!({
                "name": name, "priority": priority,
                "match": [prefix("claude-"), exact("claude-exact")],
                "upstreams": [upstream("mock-a")],
            }))
            .await;
    }

    assert_eq!(route_for(&gateway, "claude-3-opus").await, "z-high");
    assert_eq!(route_for(&gateway, "claude-exact").await, "z-high");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smaller_name_wins_a_tie_at_equal_priority() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = gateway_for(&mock).await;
    // Created in reverse order so that creation order cannot explain the result.
    for name in ["tie-c", "tie-b", "tie-d"] {
        gateway
            .add_route(&route(
                name,
                vec![exact("same-model"), prefix("same-")],
                vec![upstream("mock-a")],
            ))
            .await;
    }

    assert_eq!(route_for(&gateway, "same-model").await, "tie-b");
    assert_eq!(route_for(&gateway, "same-other").await, "tie-b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weights_split_traffic_and_zero_weight_gets_none() {
    let mocks = [
        MockUpstream::start("heavy").await,
        MockUpstream::start("light").await,
        MockUpstream::start("never").await,
    ];
    let gateway = Gateway::start().await;
    for mock in &mocks {
        add_mock_provider(&gateway, mock).await;
    }
    gateway
        .add_route(&route(
            "split",
            vec![exact("split-model")],
            vec![
                weighted("heavy", 300),
                weighted("light", 100),
                weighted("never", 0),
            ],
        ))
        .await;

    const REQUESTS: usize = 400;
    let mut by_provider: HashMap<String, usize> = HashMap::new();
    for _ in 0..REQUESTS {
        let response = gateway.chat(&chat_body("split-model")).await;
        response.expect_status(200, "weighted request");
        let provider = response
            .header("x-switchyard-provider")
            .expect("x-switchyard-provider header")
            .to_owned();
        *by_provider.entry(provider).or_default() += 1;
    }

    let heavy = by_provider.get("heavy").copied().unwrap_or(0);
    let light = by_provider.get("light").copied().unwrap_or(0);
    assert_eq!(
        by_provider.get("never"),
        None,
        "weight 0 was chosen: {by_provider:?}"
    );
    assert_eq!(
        heavy + light,
        REQUESTS,
        "unexpected providers: {by_provider:?}"
    );
    // Expected 300 and 100; the standard deviation is about 8.7, so 45 is over five of them.
    assert!(
        heavy.abs_diff(300) <= 45,
        "heavy got {heavy} of {REQUESTS}, expected about 300: {by_provider:?}"
    );
    // The header must agree with where the requests really went.
    assert_eq!(mocks[0].request_count(), heavy);
    assert_eq!(mocks[1].request_count(), light);
    assert_eq!(mocks[2].request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_weights_moves_all_traffic() {
    let first = MockUpstream::start("first").await;
    let second = MockUpstream::start("second").await;
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, &first).await;
    add_mock_provider(&gateway, &second).await;
    gateway
        .add_route(&route(
            "moving",
            vec![exact("move-model")],
            vec![weighted("first", 1000), weighted("second", 0)],
        ))
        .await;
    for _ in 0..50 {
        route_for(&gateway, "move-model").await;
    }
    assert_eq!((first.request_count(), second.request_count()), (50, 0));

    gateway
        .admin_put(
            "/api/routes/moving",
            &route(
                "moving",
                vec![exact("move-model")],
                vec![weighted("first", 0), weighted("second", 1)],
            ),
        )
        .await
        .expect_status(200, "moving all weight to the second provider");
    for _ in 0..50 {
        route_for(&gateway, "move-model").await;
    }
    assert_eq!((first.request_count(), second.request_count()), (50, 50));
}
