//! Per-upstream estimates: time to first token, decode speed, output length, cached share and
//! requests in flight, each kept in one atomic word so that measuring and choosing take no lock.
//!
//! An estimate is an `f32` value and a `u32` stamp (gateway clock milliseconds, wrapping) packed
//! into one `AtomicU64` and updated by one compare-and-swap loop. Time and speed use a
//! peak-biased, time-decayed EWMA: a slower sample moves the estimate at least half way at once
//! (a slowdown shows within a request or two), a faster one at least a fifth, and more the older
//! the estimate is, so an upstream measured again after a pause is judged by what it does now.
//! Durations are measured with monotonic instants; only the decay and the staleness read the
//! gateway clock, which tests can move.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};

use tokio::time::Instant;

use super::choose::{DEFAULT_MS_PER_TOKEN, Estimate, MIN_DECODE_TOKENS};
use crate::usage::Usage;

#[cfg(test)]
mod tests;

/// The decay's time constant: after 10 s without a sample, a new one replaces 63 % of the estimate.
pub const TAU_MS: f32 = 10_000.0;
/// A sample above the estimate moves it at least this share of the way.
pub const ALPHA_UP: f32 = 0.5;
/// A sample below the estimate moves it at least this share of the way.
pub const ALPHA_DOWN: f32 = 0.2;
/// Output length and cached share: a plain EWMA (they do not age).
pub const ALPHA_SHAPE: f32 = 0.2;
/// The longest time to first token a sample may claim (one hour).
const MAX_TTFT_MS: f32 = 3_600_000.0;

/// Which upstream an estimate belongs to: the provider's stored id and the model the route
/// sends it, or `"*"` when the route passes the client's model on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamKey {
    pub provider: i64,
    pub model: Box<str>,
}

impl UpstreamKey {
    pub fn new(provider: i64, model: Option<&str>) -> UpstreamKey {
        UpstreamKey {
            provider,
            model: model.unwrap_or("*").into(),
        }
    }
}

/// One upstream's estimates. Aligned to a cache line so that two upstreams' counters never
/// share one.
#[repr(align(64))]
#[derive(Debug)]
pub struct UpstreamStats {
    /// Time to first token, ms | stamp of the last sample.
    ttft: AtomicU64,
    /// Milliseconds per output token while streaming | stamp.
    decode: AtomicU64,
    /// Output tokens per answer (EWMA) | cached share of the prompt (EWMA), both `f32`.
    shape: AtomicU64,
    in_flight: AtomicU32,
    /// `stamp | 1` of the last exploration claim; 0 when never claimed.
    explore_at: AtomicU32,
    samples: AtomicU64,
}

impl Default for UpstreamStats {
    /// Unmeasured: NaN values (a derived default would read as "measured, 0 ms").
    fn default() -> UpstreamStats {
        UpstreamStats {
            ttft: AtomicU64::new(pack(f32::NAN, 0)),
            decode: AtomicU64::new(pack(f32::NAN, 0)),
            shape: AtomicU64::new(pack_pair(f32::NAN, f32::NAN)),
            in_flight: AtomicU32::new(0),
            explore_at: AtomicU32::new(0),
            samples: AtomicU64::new(0),
        }
    }
}

/// The peak-biased, time-decayed EWMA step; `dt_ms` is the time since the estimate's last sample.
pub fn peak_ewma(estimate: f32, sample: f32, dt_ms: u32) -> f32 {
    if estimate.is_nan() {
        return sample;
    }
    let by_time = 1.0 - (-(dt_ms as f32) / TAU_MS).exp();
    let alpha = if sample > estimate {
        by_time.max(ALPHA_UP)
    } else {
        by_time.max(ALPHA_DOWN)
    };
    between(estimate + alpha * (sample - estimate), estimate, sample)
}

/// `value` kept between `a` and `b`: with a weight near 1, `a + w × (b − a)` can round one unit
/// past `b`, and an estimate must never leave the range of what it has seen.
fn between(value: f32, a: f32, b: f32) -> f32 {
    value.clamp(a.min(b), a.max(b))
}

/// A plain EWMA step.
pub fn ewma(estimate: f32, sample: f32) -> f32 {
    if estimate.is_nan() {
        sample
    } else {
        between(
            estimate + ALPHA_SHAPE * (sample - estimate),
            estimate,
            sample,
        )
    }
}

fn pack(value: f32, stamp: u32) -> u64 {
    (u64::from(value.to_bits()) << 32) | u64::from(stamp)
}

fn unpack(word: u64) -> (f32, u32) {
    (f32::from_bits((word >> 32) as u32), word as u32)
}

fn pack_pair(first: f32, second: f32) -> u64 {
    pack(first, second.to_bits())
}

fn unpack_pair(word: u64) -> (f32, f32) {
    let (first, bits) = unpack(word);
    (first, f32::from_bits(bits))
}

fn known(value: f32) -> Option<f32> {
    (!value.is_nan()).then_some(value)
}

/// The gateway clock's milliseconds as the estimates' wrapping stamp.
pub fn stamp(now_ms: i64) -> u32 {
    now_ms as u32
}

/// A stamp up to this far ahead of `now` is a race, not a clock step: two samples landing out of
/// order, or a stamp read a moment before another request wrote a newer one.
const AHEAD_TOLERANCE_MS: u32 = 60_000;

/// How long ago `at` was, on the wrapping stamps. A stamp slightly ahead of `now` (a race) is no
/// age at all; one further ahead means the clock was stepped back, and reads as very old, so the
/// estimate is due and its next sample replaces it.
pub fn age_ms(now_ms: u32, at: u32) -> u32 {
    let age = now_ms.wrapping_sub(at);
    if age > u32::MAX - AHEAD_TOLERANCE_MS {
        0
    } else {
        age
    }
}

impl UpstreamStats {
    /// Everything a strategy needs, read without writing.
    pub fn read(&self, now_ms: u32) -> Estimate {
        let (ttft, ttft_at) = unpack(self.ttft.load(Relaxed));
        let (ms_per_token, _) = unpack(self.decode.load(Relaxed));
        let (output_tokens, cached_share) = unpack_pair(self.shape.load(Relaxed));
        let claimed = self.explore_at.load(Relaxed);
        Estimate {
            ttft_ms: known(ttft),
            ms_per_token: known(ms_per_token),
            output_tokens: known(output_tokens),
            cached_share: known(cached_share).unwrap_or(0.0),
            in_flight: self.in_flight.load(Relaxed),
            age_ms: known(ttft).map(|_| age_ms(now_ms, ttft_at)),
            claim_age_ms: (claimed != 0).then(|| age_ms(now_ms, claimed & !1)),
            samples: self.samples.load(Relaxed),
        }
    }

    /// Claims the right to measure this upstream again: granted when nobody has claimed it for
    /// `EXPLORE_AFTER_MS`, to one request only.
    pub fn claim_exploration(&self, now_ms: u32) -> bool {
        let current = self.explore_at.load(Relaxed);
        if current != 0 && age_ms(now_ms, current & !1) < super::choose::EXPLORE_AFTER_MS {
            return false;
        }
        self.explore_at
            .compare_exchange(current, now_ms | 1, Relaxed, Relaxed)
            .is_ok()
    }

    /// Applies `rule` to the estimate in `cell`; `false` when the rule declined to change it.
    fn update(cell: &AtomicU64, now_ms: u32, rule: impl Fn(f32, u32) -> Option<f32>) -> bool {
        // Only this word is published, so relaxed ordering is enough.
        cell.fetch_update(Relaxed, Relaxed, |word| {
            let (estimate, at) = unpack(word);
            rule(estimate, age_ms(now_ms, at)).map(|value| pack(value, now_ms))
        })
        .is_ok()
    }

    /// A time-to-first-token sample. A NaN sample is ignored: it would read as "unmeasured".
    pub fn observe_ttft(&self, ms: f32, now_ms: u32) {
        if ms.is_nan() {
            return;
        }
        let sample = ms.clamp(0.0, MAX_TTFT_MS);
        Self::update(&self.ttft, now_ms, |estimate, dt| {
            Some(peak_ewma(estimate, sample, dt))
        });
        self.samples.fetch_add(1, Relaxed);
    }

    /// A lower bound on the time to first token (a timeout): it raises the estimate, never lowers
    /// it, and counts as a sample only when it raised it.
    pub fn observe_ttft_floor(&self, ms: f32, now_ms: u32) {
        if ms.is_nan() {
            return;
        }
        let sample = ms.clamp(0.0, MAX_TTFT_MS);
        if Self::update(&self.ttft, now_ms, |estimate, dt| {
            (estimate.is_nan() || sample > estimate).then(|| peak_ewma(estimate, sample, dt))
        }) {
            self.samples.fetch_add(1, Relaxed);
        }
    }

    /// A decode-speed sample in milliseconds per output token; NaN is ignored.
    pub fn observe_decode(&self, ms_per_token: f32, now_ms: u32) {
        if ms_per_token.is_nan() {
            return;
        }
        let sample = ms_per_token.clamp(0.01, 60_000.0);
        Self::update(&self.decode, now_ms, |estimate, dt| {
            Some(peak_ewma(estimate, sample, dt))
        });
    }

    /// The answer's output tokens and the cached share of its prompt; a NaN pair is ignored.
    pub fn observe_shape(&self, output_tokens: f32, cached_share: f32) {
        if output_tokens.is_nan() || cached_share.is_nan() {
            return;
        }
        let _ = self.shape.fetch_update(Relaxed, Relaxed, |word| {
            let (output, cached) = unpack_pair(word);
            Some(pack_pair(
                ewma(output, output_tokens.max(0.0)),
                ewma(cached, cached_share.clamp(0.0, 1.0)),
            ))
        });
    }

    /// Counts an attempt in flight until the returned handle is dropped.
    /// `sampled` is false for requests whose time says nothing about the model's (counting
    /// tokens): they are counted in flight and feed no estimate.
    pub fn start(self: &Arc<Self>, sent_at: Instant, generates: bool, sampled: bool) -> Flight {
        self.in_flight.fetch_add(1, Relaxed);
        Flight {
            stats: Arc::clone(self),
            sent_at,
            first_at: None,
            stream: false,
            generates,
            sampled,
        }
    }
}

/// One attempt in flight: holds the upstream's in-flight count and the times a sample needs.
#[derive(Debug)]
pub struct Flight {
    stats: Arc<UpstreamStats>,
    sent_at: Instant,
    first_at: Option<Instant>,
    stream: bool,
    generates: bool,
    /// Whether this attempt's times and usage feed the estimates.
    sampled: bool,
}

/// How the answer's body ended, for the last samples.
#[derive(Debug)]
pub struct Landing<'a> {
    /// The answer was delivered whole and successfully.
    pub complete: bool,
    pub usage: Option<&'a Usage>,
    /// Bytes of answer sent to the client.
    pub sent_len: usize,
}

impl Flight {
    /// The upstream answered. A stream's first event has arrived (the exchange holds a stream
    /// until then), so its time to first token is known now; a plain answer's waits for its end.
    pub fn answered(&mut self, at: Instant, stream: bool, now_ms: u32) {
        self.first_at = Some(at);
        self.stream = stream;
        if stream && self.sampled {
            let ms = at.saturating_duration_since(self.sent_at).as_secs_f32() * 1000.0;
            self.stats.observe_ttft(ms, now_ms);
        }
    }

    /// The attempt failed: a timeout's elapsed time is a lower bound on the time to first token.
    pub fn failed(self, timed_out: bool, at: Instant, now_ms: u32) {
        if timed_out && self.sampled {
            let ms = at.saturating_duration_since(self.sent_at).as_secs_f32() * 1000.0;
            self.stats.observe_ttft_floor(ms, now_ms);
        }
    }

    /// The answer's body ended or was dropped.
    pub fn land(self, end: Instant, landing: &Landing<'_>, now_ms: u32) {
        if !landing.complete || !self.sampled {
            return;
        }
        let Some(first_at) = self.first_at else {
            return;
        };
        let completion = landing.usage.map(|u| u.completion_tokens);
        if self.stream {
            if let Some(tokens) = completion.filter(|&t| t >= MIN_DECODE_TOKENS)
                && end > first_at
            {
                let ms = end.duration_since(first_at).as_secs_f32() * 1000.0;
                self.stats.observe_decode(ms / tokens as f32, now_ms);
            }
        } else {
            // A plain answer arrives whole: its time to first token is what remains of the total
            // after the decode the estimate expects, so that a prediction of TTFT + output ×
            // decode equals what it really took.
            let total = end.saturating_duration_since(self.sent_at).as_secs_f32() * 1000.0;
            let tokens = match completion {
                Some(tokens) => tokens as f32,
                None if self.generates => (landing.sent_len / 4) as f32,
                None => 0.0,
            };
            let (per_token, _) = unpack(self.stats.decode.load(Relaxed));
            let per_token = known(per_token).unwrap_or(DEFAULT_MS_PER_TOKEN);
            self.stats
                .observe_ttft((total - tokens * per_token).max(1.0), now_ms);
        }
        // Only an API that generates says how long answers are: an embedding's zero output
        // tokens would pull a shared (`*`) entry's average toward nothing.
        if let Some(usage) = landing.usage.filter(|_| self.generates) {
            let cached = if usage.prompt_tokens == 0 {
                0.0
            } else {
                usage.cached_prompt_tokens as f32 / usage.prompt_tokens as f32
            };
            self.stats
                .observe_shape(usage.completion_tokens as f32, cached);
        }
    }
}

impl Drop for Flight {
    fn drop(&mut self) {
        self.stats.in_flight.fetch_sub(1, Relaxed);
    }
}
