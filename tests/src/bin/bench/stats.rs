//! Latency bookkeeping: nanosecond samples in an HdrHistogram, summarised as microseconds.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

/// The longest latency a histogram holds; anything slower is clamped, which only happens when
/// something is badly wrong and the figure is a FAIL either way.
const MAX_NS: u64 = 120_000_000_000;

/// Nanoseconds since a process-wide epoch. The mock stamps SSE chunks with it and the client
/// reads them back, so the two sides share one monotonic clock without any conversion.
pub fn mono_ns() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    let epoch = EPOCH.get_or_init(Instant::now);
    u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// A latency histogram with three significant digits from 1 ns to two minutes.
pub struct Hist(Histogram<u64>);

impl Default for Hist {
    fn default() -> Self {
        Hist(Histogram::new_with_bounds(1, MAX_NS, 3).expect("the histogram bounds are valid"))
    }
}

impl Hist {
    pub fn record(&mut self, elapsed: Duration) {
        self.record_ns(u64::try_from(elapsed.as_nanos()).unwrap_or(MAX_NS));
    }

    pub fn record_ns(&mut self, ns: u64) {
        self.0.saturating_record(ns.clamp(1, MAX_NS));
    }

    pub fn merge(&mut self, other: &Hist) {
        // Both histograms have the same bounds, so adding cannot fail; a failure would only
        // lose samples, which the counts in the report would show.
        let _ = self.0.add(&other.0);
    }

    pub fn len(&self) -> u64 {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value at `quantile` (0..=1) in microseconds.
    pub fn quantile_us(&self, quantile: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.value_at_quantile(quantile) as f64 / 1000.0
    }

    pub fn summary(&self) -> Summary {
        if self.0.is_empty() {
            return Summary::default();
        }
        Summary {
            count: self.0.len(),
            mean_us: round2(self.0.mean() / 1000.0),
            p50_us: round2(self.quantile_us(0.50)),
            p90_us: round2(self.quantile_us(0.90)),
            p99_us: round2(self.quantile_us(0.99)),
            p999_us: round2(self.quantile_us(0.999)),
            max_us: round2(self.0.max() as f64 / 1000.0),
        }
    }
}

/// Percentiles of one set of samples, in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub p999_us: f64,
    pub max_us: f64,
}

/// What an arm adds on top of a baseline, percentile by percentile, in microseconds.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Added {
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
}

impl Added {
    /// `arm` minus `base` at each percentile. A percentile of a difference is not the difference
    /// of percentiles, but with interleaved samples this is the conventional, robust estimate.
    pub fn between(arm: &Summary, base: &Summary) -> Added {
        Added {
            p50_us: round2(arm.p50_us - base.p50_us),
            p90_us: round2(arm.p90_us - base.p90_us),
            p99_us: round2(arm.p99_us - base.p99_us),
        }
    }
}

/// Rounds to two decimals so that the JSON report stays readable.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}
