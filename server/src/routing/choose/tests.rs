//! The predictions and the strategies on hand-made candidates, with seeded draws so that every
//! share is the same on every run.

use super::*;
use crate::routing::sticky::fnv1a64;

mod cost;
mod sticky;

/// A fresh measurement (just taken, never explored) of an upstream answering its first token
/// after `ttft_ms`.
pub(super) fn measured(ttft_ms: f32) -> Estimate {
    Estimate {
        ttft_ms: Some(ttft_ms),
        ms_per_token: Some(10.0),
        output_tokens: Some(100.0),
        cached_share: 0.0,
        in_flight: 0,
        age_ms: Some(0),
        claim_age_ms: None,
        samples: 1,
    }
}

/// An upstream nobody has measured or explored yet.
pub(super) fn unmeasured() -> Estimate {
    Estimate::default()
}

/// Measured `age_ms` ago, so due to be measured again once that reaches `EXPLORE_AFTER_MS`.
pub(super) fn aged(ttft_ms: f32, age_ms: u32) -> Estimate {
    Estimate {
        age_ms: Some(age_ms),
        ..measured(ttft_ms)
    }
}

pub(super) fn candidate(index: usize, weight: u32, est: Estimate) -> Candidate {
    Candidate {
        index,
        weight,
        est,
        price: None,
        seed: fnv1a64(format!("provider-{index}\0model").as_bytes()),
    }
}

/// A price in picodollars per token, with no cached discount.
pub(super) fn price(input: u64, output: u64) -> Option<Price> {
    Some(Price {
        input,
        output,
        cached_input: input,
        cache_write: input,
        reasoning: output,
    })
}

pub(super) fn priced(
    index: usize,
    weight: u32,
    est: Estimate,
    input: u64,
    output: u64,
) -> Candidate {
    Candidate {
        price: price(input, output),
        ..candidate(index, weight, est)
    }
}

/// A request that generates nothing, so that a prediction is exactly the time to first token and
/// the tests read in TTFTs.
pub(super) fn plain() -> Demand {
    Demand {
        prompt_tokens: 1_000,
        ..Demand::default()
    }
}

/// A chat of 1,000 prompt tokens without `max_tokens`.
pub(super) fn chat() -> Demand {
    Demand {
        prompt_tokens: 1_000,
        generates: true,
        ..Demand::default()
    }
}

/// The share of `rounds` picks each position got.
pub(super) fn shares(
    len: usize,
    rounds: u32,
    mut pick: impl FnMut(&mut fastrand::Rng) -> usize,
) -> Vec<f64> {
    let mut rng = fastrand::Rng::with_seed(0x5717c4);
    let mut counts = vec![0u32; len];
    for _ in 0..rounds {
        counts[pick(&mut rng)] += 1;
    }
    counts
        .iter()
        .map(|&count| f64::from(count) / f64::from(rounds))
        .collect()
}

pub(super) fn assert_near(shares: &[f64], expected: &[f64], tolerance: f64) {
    for (share, want) in shares.iter().zip(expected) {
        assert!(
            (share - want).abs() <= tolerance,
            "shares {shares:?}, expected {expected:?} ± {tolerance}"
        );
    }
}

#[test]
fn expected_output_is_the_recent_average_capped_by_max_tokens() {
    let est = measured(100.0);
    assert_eq!(
        expected_output(&est, &plain()),
        0.0,
        "embeddings generate nothing"
    );
    assert_eq!(expected_output(&est, &chat()), 100.0);
    let capped = Demand {
        max_tokens: Some(40),
        ..chat()
    };
    assert_eq!(expected_output(&est, &capped), 40.0);
    let generous = Demand {
        max_tokens: Some(4_096),
        ..chat()
    };
    assert_eq!(expected_output(&est, &generous), 100.0);
    assert_eq!(
        expected_output(&unmeasured(), &chat()),
        DEFAULT_OUTPUT_TOKENS
    );
    assert_eq!(expected_output(&unmeasured(), &capped), 40.0);
}

#[test]
fn predict_ms_adds_the_expected_output_at_the_decode_speed() {
    assert_eq!(predict_ms(&measured(200.0), &chat()), 200.0 + 100.0 * 10.0);
    assert_eq!(predict_ms(&measured(200.0), &plain()), 200.0);
    // Unmeasured: the conservative defaults, as `/api/health` shows them.
    assert_eq!(predict_ms(&unmeasured(), &chat()), 1_000.0 + 256.0 * 20.0);
}

#[test]
fn predict_cost_prices_the_cached_share_at_the_providers_cached_rate() {
    let capped = Demand {
        max_tokens: Some(10),
        ..chat()
    };
    let with_share = |share: f32, price: Option<Price>| Candidate {
        est: Estimate {
            cached_share: share,
            ..measured(100.0)
        },
        price,
        ..candidate(0, 1, unmeasured())
    };
    let discounted = Some(Price {
        cached_input: 100,
        ..price(1_000, 4_000).expect("a price")
    });
    // 1,000 prompt tokens and 10 output tokens at 4,000 picodollars each.
    let cost =
        |share: f32, price: Option<Price>| predict_cost_picos(&with_share(share, price), &capped);
    assert_eq!(cost(0.0, discounted), Some(1_000_000 + 40_000));
    assert_eq!(cost(0.5, discounted), Some(550_000 + 40_000));
    assert_eq!(cost(1.0, discounted), Some(100_000 + 40_000));
    // A provider without a cached price charges the full rate for cached tokens.
    assert_eq!(cost(0.5, price(1_000, 4_000)), Some(1_040_000));
    assert_eq!(cost(0.5, None), None);
}

#[test]
fn least_latency_between_two_never_picks_the_slower_except_to_explore_it() {
    // The slower one is due again, so exploration names it now and then; the pick never does.
    let candidates = [
        candidate(0, 100, measured(100.0)),
        candidate(1, 900, aged(300.0, 6_000)),
    ];
    let mut rng = fastrand::Rng::with_seed(1);
    let mut explored = 0;
    for _ in 0..10_000 {
        let decision = least_latency(&candidates, &plain(), &mut rng);
        assert_eq!((decision.pick, decision.why), (0, Why::Chosen));
        explored += usize::from(decision.explore == Some(1));
    }
    assert!(
        (400..600).contains(&explored),
        "explored {explored} of 10,000"
    );
}

#[test]
fn least_latency_over_three_is_a_power_of_two_choices() {
    let candidates = [
        candidate(0, 1, measured(100.0)),
        candidate(1, 1, measured(200.0)),
        candidate(2, 1, measured(400.0)),
    ];
    let shares = shares(3, 20_000, |rng| {
        least_latency(&candidates, &plain(), rng).pick
    });
    assert_near(&shares, &[2.0 / 3.0, 1.0 / 3.0, 0.0], 0.02);
    assert_eq!(shares[2], 0.0, "the slowest wins no pair");
}

#[test]
fn least_latency_splits_equal_predictions_by_weight() {
    let candidates = [
        candidate(0, 300, measured(100.0)),
        candidate(1, 100, measured(100.0)),
    ];
    let shares = shares(2, 20_000, |rng| {
        least_latency(&candidates, &plain(), rng).pick
    });
    assert_near(&shares, &[0.75, 0.25], 0.03);
}

#[test]
fn least_latency_ties_within_the_band_and_not_beyond() {
    let within = [
        candidate(0, 1, measured(104.0)),
        candidate(1, 1, measured(100.0)),
    ];
    let shares_within = shares(2, 10_000, |rng| least_latency(&within, &plain(), rng).pick);
    assert_near(&shares_within, &[0.5, 0.5], 0.03);
    let beyond = [
        candidate(0, 1, measured(106.0)),
        candidate(1, 1, measured(100.0)),
    ];
    let shares_beyond = shares(2, 10_000, |rng| least_latency(&beyond, &plain(), rng).pick);
    assert_eq!(shares_beyond, [0.0, 1.0]);
}

#[test]
fn explore_always_measures_an_unmeasured_candidate_first() {
    let candidates = [
        candidate(0, 1, measured(100.0)),
        candidate(1, 1, aged(100.0, 60_000)),
        candidate(2, 1, unmeasured()),
        candidate(3, 1, unmeasured()),
    ];
    let mut rng = fastrand::Rng::with_seed(2);
    for _ in 0..1_000 {
        assert_eq!(explore(&candidates, 0, &mut rng), Some(2));
        assert_eq!(
            explore(&candidates, 2, &mut rng),
            Some(3),
            "never the exploit"
        );
    }
}

#[test]
fn explore_takes_the_stalest_due_candidate_one_pick_in_twenty() {
    let candidates = [
        candidate(0, 1, measured(100.0)),
        candidate(1, 1, aged(100.0, EXPLORE_AFTER_MS)),
        candidate(2, 1, aged(100.0, 9_000)),
    ];
    let mut rng = fastrand::Rng::with_seed(3);
    let mut explored = 0;
    for _ in 0..20_000 {
        match explore(&candidates, 0, &mut rng) {
            None => {}
            Some(2) => explored += 1,
            other => panic!("explored {other:?}, not the stalest"),
        }
        assert_ne!(
            explore(&candidates, 2, &mut rng),
            Some(2),
            "never the exploit"
        );
    }
    let share = f64::from(explored) / 20_000.0;
    assert!((0.04..=0.06).contains(&share), "explored {share}");
}

#[test]
fn explore_never_when_none_is_due() {
    let claimed = Estimate {
        claim_age_ms: Some(100),
        ..aged(100.0, 60_000)
    };
    let claimed_unmeasured = Estimate {
        claim_age_ms: Some(EXPLORE_AFTER_MS - 1),
        ..unmeasured()
    };
    let candidates = [
        candidate(0, 1, aged(100.0, 60_000)),
        candidate(1, 1, aged(100.0, EXPLORE_AFTER_MS - 1)),
        candidate(2, 1, claimed),
        candidate(3, 1, claimed_unmeasured),
    ];
    let mut rng = fastrand::Rng::with_seed(4);
    for _ in 0..10_000 {
        // The only due candidate is the exploit itself.
        assert_eq!(explore(&candidates, 0, &mut rng), None);
    }
}

#[test]
fn least_busy_takes_the_fewest_in_flight_and_ties_by_weight() {
    let busy = |in_flight: u32| Estimate {
        in_flight,
        ..measured(100.0)
    };
    let candidates = [
        candidate(0, 1_000, busy(3)),
        candidate(1, 300, busy(1)),
        candidate(2, 100, busy(1)),
        candidate(3, 1_000, busy(2)),
    ];
    let shares = shares(4, 20_000, |rng| {
        let decision = least_busy(&candidates, rng);
        assert_eq!((decision.why, decision.explore), (Why::Chosen, None));
        decision.pick
    });
    assert_near(&shares, &[0.0, 0.75, 0.25, 0.0], 0.03);
    assert_eq!((shares[0], shares[3]), (0.0, 0.0));
}

#[test]
fn choose_dispatches_to_the_routes_strategy() {
    let candidates = [
        priced(0, 1, measured(100.0), 100, 100),
        priced(1, 1, measured(900.0), 1, 1),
    ];
    let mut rng = fastrand::Rng::with_seed(9);
    let pick = |strategy: &Strategy, rng: &mut fastrand::Rng| {
        choose(strategy, &candidates, &plain(), rng).pick
    };
    for _ in 0..100 {
        assert_eq!(pick(&Strategy::LeastLatency, &mut rng), 0);
        assert_eq!(pick(&Strategy::LeastCost, &mut rng), 1);
        assert_eq!(
            pick(&Strategy::CostUnderLatency { max_ms: 200 }, &mut rng),
            0
        );
    }
    let unkeyed = choose(
        &Strategy::Sticky(StickySource::Consumer),
        &candidates,
        &plain(),
        &mut rng,
    );
    assert_eq!(unkeyed.why, Why::Unkeyed);
}
