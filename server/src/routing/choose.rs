//! The strategies: pure functions from the usable candidates of one priority group, their
//! estimates and this request's demand to a choice.

use super::sticky::rendezvous;
use crate::pricing::Price;

/// An estimate this old is due to be measured again.
pub const EXPLORE_AFTER_MS: u32 = 5_000;
/// One pick in this many may explore a due candidate instead of the best.
pub const EXPLORE_ONE_IN: u32 = 20;
/// Predictions within this share of the lower one tie.
pub const TIE_BAND: f32 = 0.05;
/// What an unmeasured upstream is assumed to take to its first token (conservative).
pub const DEFAULT_TTFT_MS: f32 = 1_000.0;
/// An unmeasured upstream's decode speed: 50 tokens per second.
pub const DEFAULT_MS_PER_TOKEN: f32 = 20.0;
/// An upstream's expected answer length before it has answered anything.
pub const DEFAULT_OUTPUT_TOKENS: f32 = 256.0;
/// A stream shorter than this gives no decode sample (its time is mostly noise).
pub const MIN_DECODE_TOKENS: u64 = 8;

/// A route's strategy, compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Strategy {
    Weighted,
    LeastLatency,
    LeastCost,
    CostUnderLatency { max_ms: u32 },
    LeastBusy,
    Sticky(StickySource),
}

/// What makes one session for the sticky strategy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StickySource {
    Consumer,
    Key,
    Header(http::HeaderName),
}

/// What this request asks of an upstream, built once per request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Demand {
    /// The prompt's estimated tokens (body bytes ÷ 4).
    pub prompt_tokens: u64,
    pub max_tokens: Option<u64>,
    /// The API generates text (chat, messages, responses), unlike embeddings.
    pub generates: bool,
    /// The session's key, only for the sticky strategy.
    pub sticky: Option<u64>,
    /// The gateway clock's milliseconds, as the estimates' stamp.
    pub now_ms: u32,
}

/// One upstream's estimates as a strategy reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Estimate {
    pub ttft_ms: Option<f32>,
    pub ms_per_token: Option<f32>,
    pub output_tokens: Option<f32>,
    pub cached_share: f32,
    pub in_flight: u32,
    /// Since the last time-to-first-token sample; `None` when never measured.
    pub age_ms: Option<u32>,
    /// Since the last exploration claim; `None` when never claimed.
    pub claim_age_ms: Option<u32>,
    pub samples: u64,
}

/// A usable upstream of the group being chosen from.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    /// The upstream's position in the route.
    pub index: usize,
    pub weight: u32,
    pub est: Estimate,
    pub price: Option<Price>,
    /// Seeds the sticky hash: derived from the provider's name and model, stable across
    /// restarts and replicas.
    pub seed: u64,
}

/// Why an attempt went where it went, for `x-switchyard-strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    Chosen,
    Explore,
    OverTarget,
    Unkeyed,
    Retry,
    Fallback,
}

/// A strategy's choice: positions in the candidate slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    pub pick: usize,
    pub why: Why,
    /// A due candidate to measure instead, if the caller can claim it.
    pub explore: Option<usize>,
}

/// The output tokens this request is expected to produce on this upstream: its recent average,
/// capped by `max_tokens`; none for an API that does not generate.
pub fn expected_output(est: &Estimate, demand: &Demand) -> f32 {
    if !demand.generates {
        return 0.0;
    }
    let recent = est.output_tokens.unwrap_or(DEFAULT_OUTPUT_TOKENS);
    match demand.max_tokens {
        Some(max) => recent.min(max as f32),
        None => recent,
    }
}

/// The predicted time of this request: time to first token plus the expected output at the
/// decode speed.
pub fn predict_ms(est: &Estimate, demand: &Demand) -> f32 {
    est.ttft_ms.unwrap_or(DEFAULT_TTFT_MS)
        + expected_output(est, demand) * est.ms_per_token.unwrap_or(DEFAULT_MS_PER_TOKEN)
}

/// The predicted price in picodollars: the prompt at the input rate with its usual cached share
/// at the cached-input rate, and the expected output at the output rate. `None` when unpriced.
pub fn predict_cost_picos(candidate: &Candidate, demand: &Demand) -> Option<u64> {
    let price = candidate.price?;
    let cached = f64::from(candidate.est.cached_share.clamp(0.0, 1.0));
    let prompt = demand.prompt_tokens as f64
        * ((1.0 - cached) * price.input as f64 + cached * price.cached_input as f64);
    let output = f64::from(expected_output(&candidate.est, demand)) * price.output as f64;
    // `as` saturates, so an absurd estimate cannot wrap.
    Some((prompt + output) as u64)
}

/// At random in proportion to the weights. `candidates` is non-empty with positive weights.
pub fn weighted(candidates: &[Candidate], rng: &mut fastrand::Rng) -> usize {
    weighted_among(candidates, |_| true, rng).unwrap_or(0)
}

/// A weighted draw among the candidates `keep` accepts; `None` when it accepts none.
pub fn weighted_among(
    candidates: &[Candidate],
    keep: impl Fn(usize) -> bool,
    rng: &mut fastrand::Rng,
) -> Option<usize> {
    let total: u64 = (0..candidates.len())
        .filter(|&i| keep(i))
        .map(|i| u64::from(candidates[i].weight))
        .sum();
    if total == 0 {
        return None;
    }
    let mut ticket = rng.u64(..total);
    for i in (0..candidates.len()).filter(|&i| keep(i)) {
        let weight = u64::from(candidates[i].weight);
        if ticket < weight {
            return Some(i);
        }
        ticket -= weight;
    }
    None
}

/// Dispatches to the route's strategy. `pick_primary` does `Weighted` itself without allocating;
/// here it is only a weighted draw, so that every strategy has an answer.
pub fn choose(
    strategy: &Strategy,
    candidates: &[Candidate],
    demand: &Demand,
    rng: &mut fastrand::Rng,
) -> Decision {
    match strategy {
        Strategy::Weighted => chosen(weighted(candidates, rng)),
        Strategy::LeastLatency => least_latency(candidates, demand, rng),
        Strategy::LeastCost => least_cost(candidates, demand, rng),
        Strategy::CostUnderLatency { max_ms } => {
            cost_under_latency(candidates, demand, *max_ms, rng)
        }
        Strategy::LeastBusy => least_busy(candidates, rng),
        Strategy::Sticky(_) => sticky(candidates, demand.sticky, rng),
    }
}

/// A plain choice with nothing to explore.
fn chosen(pick: usize) -> Decision {
    Decision {
        pick,
        why: Why::Chosen,
        explore: None,
    }
}

/// Whether a candidate's estimate is old enough to be measured again and nobody has claimed
/// that measurement recently.
fn due(candidate: &Candidate) -> bool {
    let stale = |age: Option<u32>| age.is_none_or(|age| age >= EXPLORE_AFTER_MS);
    stale(candidate.est.age_ms) && stale(candidate.est.claim_age_ms)
}

/// A due candidate other than `exploit` to measure instead of it: the first unmeasured one
/// always (a new upstream is measured on its first request), else the stalest in one pick out
/// of [`EXPLORE_ONE_IN`] (a measured upstream never costs more than that share of the traffic).
/// The caller claims it, so that one request per gateway measures it, not every request.
pub fn explore(candidates: &[Candidate], exploit: usize, rng: &mut fastrand::Rng) -> Option<usize> {
    let is_due = |i: &usize| *i != exploit && due(&candidates[*i]);
    if let Some(unmeasured) = (0..candidates.len())
        .filter(is_due)
        .find(|&i| candidates[i].est.age_ms.is_none())
    {
        return Some(unmeasured);
    }
    // Only draw when something is due, so that a group of fresh estimates costs no draw.
    if !(0..candidates.len()).any(|i| is_due(&i)) || rng.u32(..EXPLORE_ONE_IN) != 0 {
        return None;
    }
    // The stalest; on equal ages the first, so `max_by_key` (which keeps the last) sees the
    // position reversed.
    (0..candidates.len())
        .filter(is_due)
        .max_by_key(|&i| (candidates[i].est.age_ms, std::cmp::Reverse(i)))
}

/// Of two candidates, the one predicted faster; predictions within [`TIE_BAND`] of the lower one
/// tie and are drawn by weight.
fn faster_of(
    candidates: &[Candidate],
    first: usize,
    second: usize,
    demand: &Demand,
    rng: &mut fastrand::Rng,
) -> usize {
    let first_ms = predict_ms(&candidates[first].est, demand);
    let second_ms = predict_ms(&candidates[second].est, demand);
    let lower = first_ms.min(second_ms);
    if (first_ms - second_ms).abs() <= lower * TIE_BAND {
        weighted_among(candidates, |i| i == first || i == second, rng).unwrap_or(first)
    } else if first_ms < second_ms {
        first
    } else {
        second
    }
}

/// Among the candidates `keep` accepts, the fastest by prediction, ties within [`TIE_BAND`]
/// drawn by weight; `None` when `keep` accepts none.
fn fastest_among(
    candidates: &[Candidate],
    keep: impl Fn(usize) -> bool,
    demand: &Demand,
    rng: &mut fastrand::Rng,
) -> Option<usize> {
    let fastest = (0..candidates.len())
        .filter(|&i| keep(i))
        .map(|i| predict_ms(&candidates[i].est, demand))
        .min_by(f32::total_cmp)?;
    let band = fastest + fastest.abs() * TIE_BAND;
    weighted_among(
        candidates,
        |i| keep(i) && predict_ms(&candidates[i].est, demand) <= band,
        rng,
    )
}

/// Power of two choices on the predicted time: both candidates when there are two, else two
/// distinct ones drawn by weight; the faster wins. Comparing a random pair rather than taking
/// the best keeps one wrong estimate from drawing all traffic, and replicas from herding.
pub fn least_latency(
    candidates: &[Candidate],
    demand: &Demand,
    rng: &mut fastrand::Rng,
) -> Decision {
    let pick = match candidates.len() {
        0 | 1 => 0,
        2 => faster_of(candidates, 0, 1, demand, rng),
        _ => {
            let first = weighted(candidates, rng);
            let second = weighted_among(candidates, |i| i != first, rng).unwrap_or(first);
            faster_of(candidates, first, second, demand, rng)
        }
    };
    Decision {
        pick,
        why: Why::Chosen,
        explore: explore(candidates, pick, rng),
    }
}

/// The lowest predicted price among the candidates `keep` accepts: `Some(None)` when none of
/// them is priced (they then all tie, an unpriced upstream ranking after every priced one), and
/// `None` when `keep` accepts none.
fn cheapest_price(
    candidates: &[Candidate],
    keep: &impl Fn(usize) -> bool,
    demand: &Demand,
) -> Option<Option<u64>> {
    let mut accepted = (0..candidates.len()).filter(|&i| keep(i)).peekable();
    accepted.peek()?;
    Some(
        accepted
            .filter_map(|i| predict_cost_picos(&candidates[i], demand))
            .min(),
    )
}

/// The lowest predicted price; unpriced upstreams after every priced one; equal prices (or
/// nothing priced) drawn by weight. No exploration: prices do not change with time, and the
/// output averages converge from the traffic each upstream gets anyway.
pub fn least_cost(candidates: &[Candidate], demand: &Demand, rng: &mut fastrand::Rng) -> Decision {
    let cheapest = cheapest_price(candidates, &|_| true, demand).flatten();
    let pick = weighted_among(
        candidates,
        |i| predict_cost_picos(&candidates[i], demand) == cheapest,
        rng,
    )
    .unwrap_or(0);
    chosen(pick)
}

/// The cheapest candidate predicted to answer within `max_ms` (equal prices: the faster, within
/// [`TIE_BAND`] drawn by weight); when none is, the fastest, marked over target. Explores like
/// `least_latency`, since an upstream that broke the target gets no traffic that would show its
/// recovery.
pub fn cost_under_latency(
    candidates: &[Candidate],
    demand: &Demand,
    max_ms: u32,
    rng: &mut fastrand::Rng,
) -> Decision {
    let target = max_ms as f32;
    let meets = |i: usize| predict_ms(&candidates[i].est, demand) <= target;
    let (pick, why) = match cheapest_price(candidates, &meets, demand) {
        Some(cheapest) => {
            let affordable =
                |i: usize| meets(i) && predict_cost_picos(&candidates[i], demand) == cheapest;
            (
                fastest_among(candidates, affordable, demand, rng),
                Why::Chosen,
            )
        }
        None => (
            fastest_among(candidates, |_| true, demand, rng),
            Why::OverTarget,
        ),
    };
    let pick = pick.unwrap_or(0);
    Decision {
        pick,
        why,
        explore: explore(candidates, pick, rng),
    }
}

/// The fewest requests in flight; ties drawn by weight.
pub fn least_busy(candidates: &[Candidate], rng: &mut fastrand::Rng) -> Decision {
    let fewest = candidates
        .iter()
        .map(|c| c.est.in_flight)
        .min()
        .unwrap_or(0);
    let pick =
        weighted_among(candidates, |i| candidates[i].est.in_flight == fewest, rng).unwrap_or(0);
    chosen(pick)
}

/// Weighted rendezvous hashing: the session goes to the candidate with the highest score for
/// its key, so it stays there while that candidate is usable and only its sessions move when it
/// is not. Without a key, a weighted draw marked unkeyed.
pub fn sticky(candidates: &[Candidate], key: Option<u64>, rng: &mut fastrand::Rng) -> Decision {
    let Some(key) = key else {
        return Decision {
            pick: weighted(candidates, rng),
            why: Why::Unkeyed,
            explore: None,
        };
    };
    let mut best = 0;
    let mut best_score = f64::NEG_INFINITY;
    for (i, candidate) in candidates.iter().enumerate() {
        let score = rendezvous(key, candidate.seed, candidate.weight);
        // Strictly greater, so that an exact tie goes to the lower position.
        if score > best_score {
            best = i;
            best_score = score;
        }
    }
    chosen(best)
}

#[cfg(test)]
mod tests;
