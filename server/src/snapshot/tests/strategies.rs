//! Every strategy inside `pick_primary`: it chooses within the highest priority group that has
//! a usable member, never an upstream of weight 0 or one this request has failed on; and the
//! snapshot warns about upstreams the cost strategies cannot price.

use super::*;
use switchyard_shared::ModelPrice;

/// A route of the given strategy over `m0`..`m3`: `m0` (weight 0), `m1` and `m2` in priority
/// group 5, `m3` alone in group 0.
fn grouped(strategy: RoutingStrategy) -> StoredRoute {
    let mut stored = route("r", 0, &[(MatchKind::Prefix, "x")], &[0, 1, 1, 100]);
    for upstream in &mut stored.spec.upstreams[..3] {
        upstream.priority = 5;
    }
    stored.spec.strategy = strategy;
    match strategy {
        RoutingStrategy::CostUnderLatency => stored.spec.max_latency_ms = Some(5_000),
        RoutingStrategy::Sticky => {
            stored.spec.sticky_by = Some(StickyBy::Header("x-session-id".into()))
        }
        _ => {}
    }
    stored
}

/// The model of the upstream `pick_primary` chooses, and why.
fn pick(route: &Route, failed: &[usize], demand: &Demand) -> Option<(String, Why)> {
    route
        .pick_primary(Instant::now(), failed, demand, "x")
        .map(|(index, why)| {
            let model = route.upstreams()[index].model.as_deref().unwrap_or("none");
            (model.to_owned(), why)
        })
}

/// The position of an upstream by its model.
fn position(route: &Route, model: &str) -> usize {
    route
        .upstreams()
        .iter()
        .position(|u| u.model.as_deref() == Some(model))
        .unwrap_or_else(|| panic!("no upstream {model}"))
}

#[test]
fn every_strategy_keeps_to_the_highest_usable_group_and_skips_weight_zero_and_failures() {
    for strategy in RoutingStrategy::ALL {
        let snapshot = build(vec![grouped(strategy)]);
        let route = snapshot.route("x").expect("route");
        let (m1, m2) = (position(route, "m1"), position(route, "m2"));
        let m3 = position(route, "m3");
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let (model, _) = pick(route, &[], &Demand::default()).expect("a pick");
            assert!(model == "m1" || model == "m2", "{strategy:?} chose {model}");
            seen.insert(model);
            let (model, _) = pick(route, &[m1], &Demand::default()).expect("a pick");
            assert_eq!(model, "m2", "{strategy:?}");
            let (model, why) = pick(route, &[m1, m2], &Demand::default()).expect("a pick");
            assert_eq!(
                model, "m3",
                "{strategy:?} goes down a group only when the upper is spent"
            );
            assert_ne!(why, Why::Explore, "a group of one has nothing to explore");
            assert_eq!(pick(route, &[m1, m2, m3], &Demand::default()), None);
        }
        assert_eq!(seen.len(), 2, "{strategy:?} used only {seen:?}");
    }
}

#[test]
fn a_sticky_session_keeps_its_upstream_and_moves_only_when_it_fails() {
    let snapshot = build(vec![grouped(RoutingStrategy::Sticky)]);
    let route = snapshot.route("x").expect("route");
    let mut homes = std::collections::BTreeSet::new();
    for session in 0..40 {
        let keyed = Demand {
            sticky: Some(crate::routing::sticky::fnv1a64(
                format!("s-{session}").as_bytes(),
            )),
            ..Demand::default()
        };
        let (home, why) = pick(route, &[], &keyed).expect("a pick");
        assert_eq!(why, Why::Chosen);
        for _ in 0..20 {
            assert_eq!(pick(route, &[], &keyed), Some((home.clone(), Why::Chosen)));
        }
        let other = if home == "m1" { "m2" } else { "m1" };
        let failed = [position(route, &home)];
        assert_eq!(
            pick(route, &failed, &keyed).map(|(m, _)| m).as_deref(),
            Some(other)
        );
        homes.insert(home);
    }
    assert_eq!(homes.len(), 2, "40 sessions all went to {homes:?}");
    let (_, why) = pick(route, &[], &Demand::default()).expect("a pick");
    assert_eq!(why, Why::Unkeyed);
    assert_eq!(
        route.strategy_header(Why::Unkeyed),
        HeaderValue::from_static("sticky;unkeyed")
    );
}

#[test]
fn an_exploration_is_claimed_once_per_upstream() {
    // Both members of the upper group are unmeasured: each is explored by one request, then the
    // claims hold (the clock does not move) and every pick is an ordinary choice.
    let snapshot = build(vec![grouped(RoutingStrategy::LeastLatency)]);
    let route = snapshot.route("x").expect("route");
    let picks: Vec<(String, Why)> = (0..100)
        .map(|_| pick(route, &[], &Demand::default()).expect("a pick"))
        .collect();
    assert_eq!(
        picks[0].1,
        Why::Explore,
        "the first pick measures the other member"
    );
    let explored: Vec<&str> = picks
        .iter()
        .filter(|(_, why)| *why == Why::Explore)
        .map(|(model, _)| model.as_str())
        .collect();
    assert_eq!(explored.len(), 2, "{picks:?}");
    assert_ne!(explored[0], explored[1]);
    assert_eq!(
        route.strategy_header(Why::Explore),
        HeaderValue::from_static("least_latency;explore")
    );
}

#[test]
fn cost_strategies_warn_about_fixed_models_without_a_price() {
    let mut priced = provider("p");
    priced.spec.pricing.insert(
        "m1".into(),
        ModelPrice {
            input_per_mtok: 1.0,
            output_per_mtok: 2.0,
            ..ModelPrice::default()
        },
    );
    let mut cheap = grouped(RoutingStrategy::LeastCost);
    // Without a model the price is looked up per request, so it is not flagged.
    cheap.spec.upstreams[3].model = None;
    let mut weighted = grouped(RoutingStrategy::Weighted);
    weighted.spec.name = "w".into();
    let mut target = grouped(RoutingStrategy::CostUnderLatency);
    target.spec.name = "t".into();
    let snapshot = Snapshot::build(
        LoadedConfig {
            revision: 1,
            providers: vec![priced],
            routes: vec![cheap, weighted, target],
            consumers: Vec::new(),
            settings: Default::default(),
            guardrails: Vec::new(),
        },
        1,
        &HealthRegistry::default(),
    )
    .expect("builds");
    let warned: Vec<(&str, &str)> = snapshot
        .warnings
        .iter()
        .map(|w| (w.field.as_str(), w.message.as_str()))
        .collect();
    // m0 has weight 0 and m1 a price: only m2 (and m3 of the cost_under_latency route) remain.
    assert_eq!(
        warned,
        [
            (
                "routes[0].upstreams[2].model",
                "no price for 'm2' at provider 'p': least_cost ranks it after every priced \
                 upstream; give the provider a pricing entry (0 for a free one)"
            ),
            (
                "routes[2].upstreams[2].model",
                "no price for 'm2' at provider 'p': cost_under_latency ranks it after every \
                 priced upstream; give the provider a pricing entry (0 for a free one)"
            ),
            (
                "routes[2].upstreams[3].model",
                "no price for 'm3' at provider 'p': cost_under_latency ranks it after every \
                 priced upstream; give the provider a pricing entry (0 for a free one)"
            ),
        ]
    );
}

#[test]
fn the_first_candidates_are_every_upstream_any_strategy_may_pick_first() {
    for strategy in RoutingStrategy::ALL {
        let snapshot = build(vec![grouped(strategy)]);
        let route = snapshot.route("x").expect("route");
        let candidates: Vec<&str> = route
            .first_candidates(Instant::now())
            .map(|u| u.model.as_deref().unwrap_or("none"))
            .collect();
        assert_eq!(
            candidates,
            ["m1", "m2"],
            "{strategy:?}: weight 0 is never a candidate"
        );
        for _ in 0..50 {
            let (model, _) = pick(route, &[], &Demand::default()).expect("a pick");
            assert!(
                candidates.contains(&model.as_str()),
                "{strategy:?} chose {model}"
            );
        }
    }
}
