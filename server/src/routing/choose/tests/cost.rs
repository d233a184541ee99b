//! The cost strategies: the cheapest, unpriced last, and under a latency target the cheapest
//! that meets it, else the fastest.

use super::super::*;
use super::{aged, assert_near, candidate, chat, measured, plain, priced, shares};

#[test]
fn least_cost_takes_the_cheapest_and_puts_the_unpriced_last() {
    let stale = aged(100.0, 60_000);
    let candidates = [
        candidate(0, 1_000, stale),
        priced(1, 1, stale, 5_000_000, 15_000_000),
        priced(2, 1, stale, 100_000, 200_000),
        priced(3, 1, stale, 1_000_000, 2_000_000),
    ];
    let mut rng = fastrand::Rng::with_seed(5);
    for _ in 0..1_000 {
        let decision = least_cost(&candidates, &chat(), &mut rng);
        assert_eq!(
            decision,
            Decision {
                pick: 2,
                why: Why::Chosen,
                explore: None
            }
        );
    }
    let unpriced_and_dear = [candidate(0, 1_000, stale), priced(1, 1, stale, 5, 15)];
    for _ in 0..1_000 {
        assert_eq!(least_cost(&unpriced_and_dear, &chat(), &mut rng).pick, 1);
    }
}

#[test]
fn least_cost_draws_equal_prices_by_weight() {
    let all_unpriced = [
        candidate(0, 300, measured(100.0)),
        candidate(1, 100, measured(900.0)),
    ];
    let shares_unpriced = shares(2, 20_000, |rng| {
        least_cost(&all_unpriced, &chat(), rng).pick
    });
    assert_near(&shares_unpriced, &[0.75, 0.25], 0.03);
    let equal = [
        priced(0, 300, measured(100.0), 10, 20),
        priced(1, 100, measured(900.0), 10, 20),
        priced(2, 100, measured(900.0), 11, 20),
    ];
    let shares_equal = shares(3, 20_000, |rng| least_cost(&equal, &chat(), rng).pick);
    assert_near(&shares_equal, &[0.75, 0.25, 0.0], 0.03);
}

#[test]
fn cost_under_latency_takes_the_cheapest_that_meets_the_target() {
    let candidates = [
        priced(0, 1, measured(500.0), 1, 1),
        priced(1, 1, measured(200.0), 10, 10),
        priced(2, 1, measured(100.0), 100, 100),
        candidate(3, 1_000, measured(50.0)),
    ];
    let mut rng = fastrand::Rng::with_seed(6);
    for _ in 0..1_000 {
        let decision = cost_under_latency(&candidates, &plain(), 300, &mut rng);
        assert_eq!(
            decision,
            Decision {
                pick: 1,
                why: Why::Chosen,
                explore: None
            }
        );
    }
    // At exactly the target an upstream still meets it.
    for _ in 0..1_000 {
        assert_eq!(
            cost_under_latency(&candidates, &plain(), 500, &mut rng).pick,
            0
        );
    }
}

#[test]
fn cost_under_latency_prefers_the_faster_of_equal_prices() {
    let candidates = [
        priced(0, 1_000, measured(200.0), 10, 10),
        priced(1, 1, measured(100.0), 10, 10),
        priced(2, 1, measured(50.0), 20, 20),
    ];
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..1_000 {
        assert_eq!(
            cost_under_latency(&candidates, &plain(), 300, &mut rng).pick,
            1
        );
    }
}

#[test]
fn cost_under_latency_over_target_takes_the_fastest() {
    let candidates = [
        priced(0, 1, measured(200.0), 1, 1),
        priced(1, 1, measured(100.0), 100, 100),
        priced(2, 1, measured(150.0), 10, 10),
    ];
    let mut rng = fastrand::Rng::with_seed(8);
    for _ in 0..1_000 {
        let decision = cost_under_latency(&candidates, &plain(), 50, &mut rng);
        assert_eq!(
            decision,
            Decision {
                pick: 1,
                why: Why::OverTarget,
                explore: None
            }
        );
    }
}

#[test]
fn cost_under_latency_explores_a_cheap_upstream_that_broke_the_target() {
    let candidates = [
        priced(0, 1, aged(900.0, 30_000), 1, 1),
        priced(1, 1, measured(100.0), 100, 100),
    ];
    let shares = shares(2, 20_000, |rng| {
        let decision = cost_under_latency(&candidates, &plain(), 300, rng);
        assert_eq!(decision.pick, 1);
        decision.explore.unwrap_or(decision.pick)
    });
    assert_near(&shares, &[0.05, 0.95], 0.01);
}
