//! A micro-benchmark of the routing strategies' choice and of the measurement every attempt
//! pays: `cargo test -p switchyard --release --lib tests_bench -- --ignored --nocapture`.
//!
//! - ns per `Route::pick_primary` for each strategy on a route of three healthy upstreams with
//!   measured estimates, built by `Snapshot::build` as the reloader builds them; `least_cost`
//!   also without a fixed model (the price looked up per request for each upstream);
//! - ns per `Flight` start + answered + land with a usage, the two gateway clock reads of the
//!   proxy's calls included, for a plain answer and for a stream.
//!
//! Each sample times a batch of calls and divides, so the timer's own cost does not count.

use std::time::Instant as StdInstant;

use switchyard_shared::{
    MatchKind, MatchRule, ModelPrice, RouteSpec, RouteUpstream, RoutingStrategy, StickyBy,
};
use tokio::time::Instant;

use super::stats::{Landing, stamp};
use super::sticky::fnv1a64;
use super::{Demand, UpstreamStats};
use crate::clock::Clock;
use crate::health::HealthRegistry;
use crate::snapshot::{Snapshot, test_provider_spec};
use crate::store::{LoadedConfig, StoredProvider, StoredRoute};
use crate::usage::Usage;

/// The upstream model of the routes with a fixed model.
const UPSTREAM_MODEL: &str = "bench-up";
/// What the client asks for; the route without a fixed model passes it on, priced per request.
const REQUESTED: &str = "bench-x";
/// Calls per timed batch, and batches per measurement.
const BATCH: usize = 256;
const SAMPLES: usize = 4_000;
const WARMUP_SAMPLES: usize = 200;

/// Three DeepSeek providers, cheap, mid and dear, pricing both models.
fn providers() -> Vec<StoredProvider> {
    [
        ("bench-a", 0.1, 0.2),
        ("bench-b", 1.0, 2.0),
        ("bench-c", 5.0, 15.0),
    ]
    .into_iter()
    .zip(1..)
    .map(|((name, input, output), id)| {
        let mut spec = test_provider_spec(name);
        let price = ModelPrice {
            input_per_mtok: input,
            output_per_mtok: output,
            ..ModelPrice::default()
        };
        spec.pricing = [UPSTREAM_MODEL, REQUESTED]
            .into_iter()
            .map(|model| (model.to_owned(), price))
            .collect();
        StoredProvider {
            id,
            spec,
            key_ids: vec![id],
        }
    })
    .collect()
}

/// A route named and matched by `name` over the three providers with equal weights.
fn route(id: i64, name: &str, strategy: RoutingStrategy, model: Option<&str>) -> StoredRoute {
    StoredRoute {
        id,
        spec: RouteSpec {
            name: name.into(),
            priority: 0,
            matches: vec![MatchRule {
                kind: MatchKind::Exact,
                value: name.into(),
            }],
            upstreams: ["bench-a", "bench-b", "bench-c"]
                .into_iter()
                .map(|provider| RouteUpstream {
                    provider: provider.into(),
                    weight: 100,
                    model: model.map(str::to_owned),
                    priority: 0,
                })
                .collect(),
            strategy,
            max_latency_ms: (strategy == RoutingStrategy::CostUnderLatency).then_some(5_000),
            sticky_by: (strategy == RoutingStrategy::Sticky)
                .then(|| StickyBy::Header("x-session-id".into())),
            fallback: None,
            retry: None,
            timeout_ms: None,
            auth: None,
            limits: Default::default(),
            reserve_completion_tokens: None,
            cache: None,
            guardrails: Vec::new(),
        },
    }
}

/// The routes measured, as (label, route name, strategy, fixed model).
const ROUTES: [(&str, &str, RoutingStrategy, Option<&str>); 7] = [
    (
        "weighted",
        "w",
        RoutingStrategy::Weighted,
        Some(UPSTREAM_MODEL),
    ),
    (
        "least_latency",
        "ll",
        RoutingStrategy::LeastLatency,
        Some(UPSTREAM_MODEL),
    ),
    (
        "least_cost",
        "lc",
        RoutingStrategy::LeastCost,
        Some(UPSTREAM_MODEL),
    ),
    (
        "least_cost, no fixed model",
        "lc-any",
        RoutingStrategy::LeastCost,
        None,
    ),
    (
        "cost_under_latency",
        "cl",
        RoutingStrategy::CostUnderLatency,
        Some(UPSTREAM_MODEL),
    ),
    (
        "least_busy",
        "lb",
        RoutingStrategy::LeastBusy,
        Some(UPSTREAM_MODEL),
    ),
    (
        "sticky (64 sessions)",
        "st",
        RoutingStrategy::Sticky,
        Some(UPSTREAM_MODEL),
    ),
];

fn snapshot(registry: &HealthRegistry) -> Snapshot {
    let routes = ROUTES
        .iter()
        .zip(1..)
        .map(|(&(_, name, strategy, model), id)| route(id, name, strategy, model))
        .collect();
    Snapshot::build(
        LoadedConfig {
            revision: 1,
            providers: providers(),
            routes,
            consumers: Vec::new(),
            settings: Default::default(),
            guardrails: Vec::new(),
        },
        1,
        registry,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// Gives every upstream of every route measured estimates (different speeds), stamped `now_ms`,
/// so that no strategy explores: an unmeasured or stale upstream would be claimed instead.
fn measure_all(snapshot: &Snapshot, now_ms: u32) {
    for &(_, name, _, _) in &ROUTES {
        let route = snapshot
            .route(name)
            .unwrap_or_else(|| panic!("route {name}"));
        for (i, upstream) in route.upstreams().iter().enumerate() {
            let ttft = 200.0 * (i as f32 + 1.0);
            upstream.stats.observe_ttft(ttft, now_ms);
            upstream.stats.observe_decode(10.0 + i as f32, now_ms);
            upstream.stats.observe_shape(40.0, 0.0);
        }
    }
}

/// p50 and p99 of the per-call time over batches of `BATCH` calls, in ns.
fn per_call(mut call: impl FnMut(usize)) -> (f64, f64) {
    let mut n = 0usize;
    let mut batch = |n: &mut usize| {
        let start = StdInstant::now();
        for _ in 0..BATCH {
            call(*n);
            *n = n.wrapping_add(1);
        }
        start.elapsed().as_nanos() as f64 / BATCH as f64
    };
    for _ in 0..WARMUP_SAMPLES {
        batch(&mut n);
    }
    let mut samples: Vec<f64> = (0..SAMPLES).map(|_| batch(&mut n)).collect();
    samples.sort_unstable_by(f64::total_cmp);
    (samples[SAMPLES / 2], samples[SAMPLES * 99 / 100])
}

#[test]
#[ignore = "a micro-benchmark: run with --release --ignored --nocapture"]
fn pick_primary_per_strategy_and_flight() {
    let registry = HealthRegistry::default();
    let snapshot = snapshot(&registry);
    let clock = Clock::default();
    let now_ms = stamp(clock.now_ms());
    measure_all(&snapshot, now_ms);
    let sessions: Vec<u64> = (0..64)
        .map(|i| fnv1a64(format!("bench-session-{i:02}").as_bytes()))
        .collect();
    let demand = Demand {
        prompt_tokens: 40,
        max_tokens: Some(64),
        generates: true,
        sticky: None,
        now_ms,
    };
    let now = Instant::now();

    println!("Route::pick_primary on 3 healthy upstreams (ns per call, batches of {BATCH}):");
    let mut weighted_p50 = 0.0;
    for &(label, name, strategy, _) in &ROUTES {
        let route = snapshot
            .route(name)
            .unwrap_or_else(|| panic!("route {name}"));
        let mut picked = [0u64; 3];
        let (p50, p99) = per_call(|n| {
            let demand = Demand {
                sticky: (strategy == RoutingStrategy::Sticky).then(|| sessions[n % 64]),
                ..demand
            };
            let (index, why) = route
                .pick_primary(now, &[], &demand, REQUESTED)
                .unwrap_or_else(|| panic!("{label}: no pick"));
            picked[index] += 1;
            std::hint::black_box(why);
        });
        if strategy == RoutingStrategy::Weighted {
            weighted_p50 = p50;
        }
        println!(
            "  {label:<28} p50 {p50:6.1} ns  p99 {p99:6.1} ns  over weighted {:+6.1} ns  picks {picked:?}",
            p50 - weighted_p50
        );
        assert!(picked.iter().sum::<u64>() > 0);
    }

    let route = snapshot.route("st").unwrap_or_else(|| panic!("route st"));
    let (p50, p99) = per_call(|n| {
        std::hint::black_box(route.strategy_header(std::hint::black_box(super::Why::Chosen)));
        std::hint::black_box(n);
    });
    println!("Route::strategy_header (a HeaderValue clone): p50 {p50:.1} ns, p99 {p99:.1} ns");
    let header = b"bench-session-42";
    let (p50, p99) = per_call(|_| {
        std::hint::black_box(fnv1a64(std::hint::black_box(header)));
    });
    println!(
        "sticky's session key, fnv1a64 of a 16-byte header value: p50 {p50:.1} ns, p99 {p99:.1} ns"
    );

    let stats = std::sync::Arc::new(UpstreamStats::default());
    let usage = Usage {
        prompt_tokens: 40,
        completion_tokens: 12,
        ..Usage::default()
    };
    for (label, stream) in [("a plain answer", false), ("a stream", true)] {
        let (p50, p99) = per_call(|_| {
            let mut flight = stats.start(Instant::now(), true, true);
            flight.answered(Instant::now(), stream, stamp(clock.now_ms()));
            let landing = Landing {
                complete: true,
                usage: Some(&usage),
                sent_len: 600,
            };
            flight.land(Instant::now(), &landing, stamp(clock.now_ms()));
        });
        println!(
            "Flight start + answered + land, {label} (3 Instant::now, 2 clock reads): \
             p50 {p50:.1} ns, p99 {p99:.1} ns"
        );
    }
    assert_eq!(stats.read(now_ms).in_flight, 0);
}
