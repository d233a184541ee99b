//! The strategies that need no timing: `least_cost` by the price table and the circuit,
//! `least_busy` by the requests in flight, and the `x-switchyard-strategy` header on answers the
//! strategy did not choose.

use futures_util::future::join_all;
use serde_json::json;
use switchyard_tests::fixtures::chat_body;
use switchyard_tests::{MockUpstream, Reply, poll_until};

use super::{
    DEADLINE, add_provider, add_route, answer, circuit, gateway, ms, priced, quick_circuit,
    serve_many, served, settled, tally,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_cost_picks_the_cheapest_and_skips_it_while_unhealthy() {
    let cheap = MockUpstream::start("cheap").await;
    let mid = MockUpstream::start("mid").await;
    let dear = MockUpstream::start("dear").await;
    let gateway = gateway().await;
    let mut cheap_spec = priced(0.1, 0.2);
    cheap_spec["health_check"] = quick_circuit()["health_check"].clone();
    add_provider(&gateway, &cheap, cheap_spec).await;
    add_provider(&gateway, &mid, priced(1.0, 2.0)).await;
    add_provider(&gateway, &dear, priced(5.0, 15.0)).await;
    let upstreams = json!([
        {"provider": "cheap"}, {"provider": "mid"}, {"provider": "dear"},
    ]);
    add_route(&gateway, "lc", upstreams, json!({"strategy": "least_cost"})).await;
    let body = chat_body("lc-model");

    let answers = serve_many(&gateway, &body, &[], 20).await;
    assert_eq!(tally(&answers).get("cheap"), Some(&20), "{answers:?}");
    assert!(answers.iter().all(|a| a.strategy == "least_cost"));

    // The cheapest fails: the request moves to the next cheapest, and its circuit opens.
    cheap.set_default(Reply::error(503, "cheap is overloaded"));
    let moved = served(&gateway, &body, &[]).await;
    assert_eq!(
        (moved.provider.as_str(), moved.attempts.as_str()),
        ("mid", "2"),
        "{moved:?}"
    );
    poll_until(DEADLINE, "cheap's circuit to open", || async {
        let state = circuit(&gateway, "cheap").await;
        // Past the 300 ms cooldown on a slow machine it already reads half open.
        (state == "open" || state == "half_open").then_some(())
    })
    .await;
    // While it is out, mid answers everything (a half-open probe that fails is retried on mid).
    let answers = serve_many(&gateway, &body, &[], 10).await;
    assert_eq!(tally(&answers).get("mid"), Some(&10), "{answers:?}");

    // It recovers: the half-open probe after the cooldown succeeds and the traffic comes back.
    cheap.set_default(Reply::Echo);
    poll_until(DEADLINE, "traffic to come back to cheap", || async {
        let answer = served(&gateway, &body, &[]).await;
        (answer.provider == "cheap").then_some(())
    })
    .await;
    let answers = serve_many(&gateway, &body, &[], 10).await;
    assert_eq!(tally(&answers).get("cheap"), Some(&10), "{answers:?}");
    assert_eq!(dear.request_count(), 0, "the dearest was never needed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_busy_spreads_slow_concurrent_requests() {
    let a = MockUpstream::start("a").await;
    let b = MockUpstream::start("b").await;
    a.set_default(Reply::Echo.delayed(ms(400)));
    b.set_default(Reply::Echo.delayed(ms(400)));
    let gateway = gateway().await;
    add_provider(&gateway, &a, json!({})).await;
    add_provider(&gateway, &b, json!({})).await;
    let upstreams = json!([
        {"provider": "a", "weight": 900}, {"provider": "b", "weight": 100},
    ]);
    add_route(&gateway, "lb", upstreams, json!({"strategy": "least_busy"})).await;
    let body = chat_body("lb-model");

    // Ten at once: by weight b would get about one; by requests in flight each gets about half.
    let answers = join_all((0..10).map(|_| served(&gateway, &body, &[]))).await;
    let counts = (a.request_count(), b.request_count());
    println!("ten concurrent requests: a {}, b {}", counts.0, counts.1);
    assert!(
        (4..=6).contains(&counts.0) && (4..=6).contains(&counts.1),
        "{counts:?}"
    );
    assert_eq!(answers.len(), 10);
    assert!(answers.iter().all(|a| a.strategy == "least_busy"));
    let view = settled(&gateway, "lb").await;
    assert!(view.upstreams.iter().all(|u| u.in_flight == 0), "{view:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_strategy_header_names_fallbacks_errors_and_the_weighted_default() {
    let good = MockUpstream::start("good").await;
    let bad = MockUpstream::start("bad").await;
    bad.set_default(Reply::error(503, "bad is down"));
    let gateway = gateway().await;
    add_provider(&gateway, &good, json!({})).await;
    add_provider(&gateway, &bad, json!({})).await;

    add_route(&gateway, "plain", json!([{"provider": "good"}]), json!({})).await;
    let weighted = served(&gateway, &chat_body("plain-model"), &[]).await;
    assert_eq!(weighted.strategy, "weighted", "{weighted:?}");

    let fallback = json!({"enabled": true, "upstreams": [{"provider": "good"}]});
    add_route(
        &gateway,
        "fb",
        json!([{"provider": "bad"}]),
        json!({"strategy": "least_busy", "fallback": fallback}),
    )
    .await;
    let rescued = served(&gateway, &chat_body("fb-model"), &[]).await;
    assert_eq!(rescued.provider, "good", "{rescued:?}");
    assert_eq!(rescued.strategy, "least_busy;fallback", "{rescued:?}");

    add_route(
        &gateway,
        "down",
        json!([{"provider": "bad"}]),
        json!({"strategy": "least_cost"}),
    )
    .await;
    let failed = answer(&gateway, &chat_body("down-model"), &[]).await;
    assert!(failed.status >= 500, "{failed:?}");
    // An error answer names its last attempt: the strategy's pick, or a retry of it.
    let expected = if failed.attempts == "1" {
        "least_cost"
    } else {
        "least_cost;retry"
    };
    assert_eq!(failed.strategy, expected, "{failed:?}");
}
