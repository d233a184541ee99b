//! The sticky strategy: weighted rendezvous keeps a session on one upstream, spreads sessions by
//! weight, and moves as few sessions as possible when the candidates change.

use super::super::*;
use super::{assert_near, candidate, measured, shares};
use crate::routing::sticky::fnv1a64;

/// The session keys of `count` header values such as `session-42`.
fn session_keys(count: usize) -> Vec<u64> {
    (0..count)
        .map(|i| fnv1a64(format!("session-{i}").as_bytes()))
        .collect()
}

/// Which upstream (by its route index, not its position) each key goes to.
fn homes(candidates: &[Candidate], keys: &[u64]) -> Vec<usize> {
    let mut rng = fastrand::Rng::with_seed(10);
    keys.iter()
        .map(|&key| candidates[sticky(candidates, Some(key), &mut rng).pick].index)
        .collect()
}

fn weighted_candidates(weights: &[u32]) -> Vec<Candidate> {
    weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| candidate(i, weight, measured(100.0)))
        .collect()
}

#[test]
fn sticky_sends_one_key_to_one_upstream() {
    let candidates = weighted_candidates(&[200, 100, 100]);
    for key in session_keys(100) {
        let mut rng = fastrand::Rng::with_seed(key);
        let first = sticky(&candidates, Some(key), &mut rng);
        assert_eq!(first.why, Why::Chosen);
        for _ in 0..10 {
            assert_eq!(sticky(&candidates, Some(key), &mut rng), first);
        }
    }
}

#[test]
fn sticky_spreads_keys_by_weight() {
    let candidates = weighted_candidates(&[200, 100, 100]);
    let keys = session_keys(10_000);
    let mut counts = [0u32; 3];
    for home in homes(&candidates, &keys) {
        counts[home] += 1;
    }
    for (count, expected) in counts.iter().zip([0.5, 0.25, 0.25]) {
        let share = f64::from(*count) / 10_000.0;
        assert!(
            (share / expected - 1.0).abs() <= 0.05,
            "counts {counts:?}: {share} is not within 5 % of {expected}"
        );
    }
}

#[test]
fn sticky_moves_only_the_keys_of_a_removed_upstream() {
    let all = weighted_candidates(&[200, 100, 100]);
    let keys = session_keys(2_000);
    let before = homes(&all, &keys);
    let without_first: Vec<Candidate> = all[1..].to_vec();
    let after = homes(&without_first, &keys);
    let mut moved = 0;
    for (old, new) in before.iter().zip(&after) {
        if *old == 0 {
            moved += 1;
            assert_ne!(*new, 0);
        } else {
            assert_eq!(old, new, "a key the removed upstream had not won moved");
        }
    }
    assert!(
        moved > 800,
        "the removed upstream had won only {moved} keys"
    );
}

#[test]
fn sticky_raising_a_weight_only_pulls_keys_to_it() {
    let keys = session_keys(2_000);
    let before = homes(&weighted_candidates(&[100, 100, 100]), &keys);
    let after = homes(&weighted_candidates(&[100, 300, 100]), &keys);
    let mut pulled = 0;
    for (old, new) in before.iter().zip(&after) {
        if old != new {
            assert_eq!(
                *new, 1,
                "a key moved to an upstream whose weight did not change"
            );
            pulled += 1;
        }
    }
    assert!(
        pulled > 300,
        "only {pulled} keys moved to the heavier upstream"
    );
}

#[test]
fn sticky_without_a_key_draws_by_weight_and_says_unkeyed() {
    let candidates = weighted_candidates(&[300, 100]);
    let shares = shares(2, 20_000, |rng| {
        let decision = sticky(&candidates, None, rng);
        assert_eq!((decision.why, decision.explore), (Why::Unkeyed, None));
        decision.pick
    });
    assert_near(&shares, &[0.75, 0.25], 0.03);
}
