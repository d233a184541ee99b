//! The strategies: pure functions from the usable candidates of one priority group, their
//! estimates and this request's demand to a choice.

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

/// Dispatches to the route's strategy (never called for `Weighted`, which `pick_primary` does
/// without allocating).
pub fn choose(
    strategy: &Strategy,
    candidates: &[Candidate],
    demand: &Demand,
    rng: &mut fastrand::Rng,
) -> Decision {
    // The strategies themselves come next; until then every strategy draws by weight.
    let _ = (strategy, demand);
    Decision {
        pick: weighted(candidates, rng),
        why: Why::Chosen,
        explore: None,
    }
}
