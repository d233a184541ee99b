//! The strategies that measure time: `least_latency` follows the fastest upstream, leaves it when
//! it slows down and returns when it recovers; `cost_under_latency` takes the cheapest upstream
//! that meets its target and leaves it when it stops meeting it.

use std::time::Instant;

use serde_json::{Value, json};
use switchyard_tests::MockUpstream;

use super::{
    add_provider, add_route, count, gateway, health_route, measured, move_clock, ms, priced,
    send_until, serve_many, settled, upstream_view,
};

/// A streamed chat for `model`, asking for usage as clients that count tokens do.
fn stream(model: &str, max_tokens: Option<u64>) -> Value {
    let mut body = json!({
        "model": model,
        "stream": true,
        "messages": [{"role": "user", "content": "hi"}],
    });
    if let Some(max) = max_tokens {
        body["max_tokens"] = json!(max);
    }
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn least_latency_goes_to_the_fastest_follows_a_slowdown_and_comes_back() {
    let fast = MockUpstream::start("fast").await;
    let slow = MockUpstream::start("slow").await;
    fast.set_speed(ms(10), ms(2), 10);
    slow.set_speed(ms(80), ms(2), 10);
    let gateway = gateway().await;
    add_provider(&gateway, &fast, json!({})).await;
    add_provider(&gateway, &slow, json!({})).await;
    let upstreams = json!([
        {"provider": "fast", "weight": 100},
        {"provider": "slow", "weight": 100},
    ]);
    add_route(
        &gateway,
        "ll",
        upstreams,
        json!({"strategy": "least_latency"}),
    )
    .await;
    let body = stream("ll-model", None);

    // Warm-up: unmeasured upstreams are measured first, each on its own request.
    serve_many(&gateway, &body, &[], 4).await;
    measured(&gateway, "ll", 1).await;

    // After warm-up the fastest takes the traffic; the slow one gets at most exploration.
    let answers = serve_many(&gateway, &body, &[], 50).await;
    let from_fast = count(&answers, "fast");
    println!("after warm-up: {from_fast} of 50 from fast");
    assert!(from_fast >= 45, "only {from_fast} of 50 went to fast");
    for answer in &answers {
        assert!(
            ["least_latency", "least_latency;explore"].contains(&answer.strategy.as_str()),
            "{answer:?}"
        );
    }

    // The fastest slows down: one 300 ms sample lifts its estimate above the other's.
    fast.set_speed(ms(300), ms(2), 10);
    let (moved_after, _) = send_until(&gateway, &body, "slow", 20).await;
    println!("traffic moved to slow after {moved_after} requests");
    let answers = serve_many(&gateway, &body, &[], 10).await;
    assert!(
        count(&answers, "slow") >= 9,
        "after the slowdown: {answers:?}"
    );

    // It recovers. Thirty seconds later (on the gateway clock) its estimate is due, so an
    // exploring request measures it again, and that one sample replaces 95 % of the old estimate.
    fast.set_speed(ms(10), ms(2), 10);
    move_clock(&gateway, 30_000).await;
    let recovering = Instant::now();
    let (back_after, back) = send_until(&gateway, &body, "fast", 300).await;
    println!(
        "traffic came back to fast after {back_after} requests ({:?})",
        recovering.elapsed()
    );
    assert_eq!(back.strategy, "least_latency;explore", "{back:?}");
    let answers = serve_many(&gateway, &body, &[], 20).await;
    assert!(
        count(&answers, "fast") >= 18,
        "after the recovery: {answers:?}"
    );

    let view = settled(&gateway, "ll").await;
    let (fast_view, slow_view) = (upstream_view(&view, "fast"), upstream_view(&view, "slow"));
    println!("fast: {fast_view:?}\nslow: {slow_view:?}");
    let (fast_ttft, slow_ttft) = (
        fast_view.ttft_ms.expect("fast is measured"),
        slow_view.ttft_ms.expect("slow is measured"),
    );
    assert!(fast_ttft < slow_ttft, "{fast_ttft} ≥ {slow_ttft}");
    // Ten tokens 2 ms apart: 500 tokens per second at most. Timers tick in whole milliseconds
    // and a pause never ends early, so a 2 ms pause takes about 3 ms (about 300 tokens per
    // second is typical); below 150, or above 750, the gateway measured something else.
    let speed = fast_view
        .decode_tokens_per_s
        .expect("fast has a decode speed");
    assert!((150.0..=750.0).contains(&speed), "decode {speed} tokens/s");
    assert_eq!(fast_view.output_tokens, Some(10.0));
    assert!(fast_view.predicted_ms < slow_view.predicted_ms, "{view:?}");
    assert_eq!(
        fast_view.meets_target, None,
        "only cost_under_latency has a target"
    );
    assert!(fast_view.available && slow_view.available);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cost_under_latency_switches_when_the_cheap_one_breaks_the_target() {
    let cheap = MockUpstream::start("cheap").await;
    let dear = MockUpstream::start("dear").await;
    cheap.set_speed(ms(20), ms(2), 10);
    dear.set_speed(ms(20), ms(2), 10);
    let gateway = gateway().await;
    add_provider(&gateway, &cheap, priced(0.1, 0.2)).await;
    add_provider(&gateway, &dear, priced(5.0, 15.0)).await;
    // Fixed models, so /api/health can price each upstream for its reference request.
    let upstreams = json!([
        {"provider": "cheap", "model": "cheap-model", "weight": 100},
        {"provider": "dear", "model": "dear-model", "weight": 100},
    ]);
    let extra = json!({"strategy": "cost_under_latency", "max_latency_ms": 150});
    add_route(&gateway, "cul", upstreams, extra).await;
    // Ten tokens at about 2 ms after a 20 ms first token: predicted about 40 ms.
    let body = stream("cul-model", Some(10));

    serve_many(&gateway, &body, &[], 4).await;
    measured(&gateway, "cul", 1).await;
    let answers = serve_many(&gateway, &body, &[], 20).await;
    let from_cheap = count(&answers, "cheap");
    println!("within the target: {from_cheap} of 20 from cheap");
    assert!(from_cheap >= 18, "{answers:?}");
    for answer in answers.iter().filter(|a| a.provider == "cheap") {
        assert_eq!(answer.strategy, "cost_under_latency", "{answer:?}");
    }

    // The cheap one slows to 400 ms: one sample (20 → 210 ms, predicted 230) breaks the target.
    cheap.set_speed(ms(400), ms(2), 10);
    let (moved_after, _) = send_until(&gateway, &body, "dear", 5).await;
    println!("traffic moved to dear after {moved_after} requests");
    let answers = serve_many(&gateway, &body, &[], 10).await;
    assert!(count(&answers, "dear") >= 9, "{answers:?}");

    let view = settled(&gateway, "cul").await;
    assert_eq!(view.max_latency_ms, Some(150));
    let (cheap_view, dear_view) = (upstream_view(&view, "cheap"), upstream_view(&view, "dear"));
    println!("cheap: {cheap_view:?}\ndear: {dear_view:?}");
    assert_eq!(cheap_view.meets_target, Some(false), "{cheap_view:?}");
    assert_eq!(dear_view.meets_target, Some(true), "{dear_view:?}");
    // The reference request: 1,000 prompt tokens and the recent 10 output tokens.
    let expect = |input: f64, output: f64| (1000.0 * input + 10.0 * output) / 1e6;
    let cost = |view: &switchyard_shared::admin::UpstreamHealthView| {
        view.predicted_cost_usd
            .expect("a fixed, priced model has a cost")
    };
    let near = |actual: f64, expected: f64| (actual - expected).abs() <= expected * 0.01;
    assert!(near(cost(cheap_view), expect(0.1, 0.2)), "{cheap_view:?}");
    assert!(near(cost(dear_view), expect(5.0, 15.0)), "{dear_view:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_shows_an_unmeasured_upstream_with_defaults_and_no_price_without_a_model() {
    let mock = MockUpstream::start("idle").await;
    let gateway = gateway().await;
    add_provider(&gateway, &mock, priced(1.0, 2.0)).await;
    let fallback = json!({"enabled": true, "upstreams": [{"provider": "idle", "model": "backup"}]});
    add_route(
        &gateway,
        "idle",
        json!([{"provider": "idle", "weight": 7, "priority": 2}]),
        json!({"strategy": "sticky", "sticky_by": "header:X-Session-Id", "fallback": fallback}),
    )
    .await;
    let view = health_route(&gateway, "idle").await;
    assert_eq!(view.strategy.as_str(), "sticky");
    assert_eq!(view.sticky_by.as_deref(), Some("header:x-session-id"));
    assert_eq!(view.max_latency_ms, None);
    assert_eq!(view.upstreams.len(), 2, "{view:?}");
    let primary = &view.upstreams[0];
    assert_eq!(
        (
            primary.model.as_deref(),
            primary.priority,
            primary.weight,
            primary.fallback
        ),
        (None, 2, 7, false)
    );
    assert!(primary.available);
    assert_eq!((primary.samples, primary.in_flight), (0, 0));
    assert_eq!(primary.ttft_ms, None);
    assert_eq!(primary.decode_tokens_per_s, None);
    assert_eq!(primary.output_tokens, None);
    assert_eq!(primary.cached_share, None);
    assert_eq!(primary.measured_ago_ms, None);
    // Unmeasured: 1 s to the first token and 256 tokens at 20 ms.
    assert_eq!(primary.predicted_ms, 1000.0 + 256.0 * 20.0);
    assert_eq!(
        primary.predicted_cost_usd, None,
        "the client names the model"
    );
    assert_eq!(primary.meets_target, None);
    let backup = &view.upstreams[1];
    assert!(backup.fallback);
    assert_eq!(backup.model.as_deref(), Some("backup"));
    // 1,000 prompt tokens at $1/M and 256 output tokens at $2/M.
    let cost = backup.predicted_cost_usd.expect("a fixed, priced model");
    assert!((cost - (1000.0 + 512.0) / 1e6).abs() < 1e-9, "{cost}");
}
