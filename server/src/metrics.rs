//! In-memory request metrics for the console's dashboard: the last hour in one-minute buckets, per
//! route and provider — requests, errors, latency percentiles, tokens. (The metering work will
//! persist history; this is what is live.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use switchyard_shared::admin::{MetricsView, MinuteView, SeriesView};

use crate::usage::Usage;

/// Minutes kept.
const WINDOW: usize = 60;

/// Latencies are kept in milliseconds with two significant figures, up to an hour.
fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000, 2).unwrap_or_else(|_| unreachable!("valid bounds"))
}

struct Series {
    requests: u64,
    errors: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
    latency: Histogram<u64>,
}

impl Default for Series {
    fn default() -> Self {
        Series {
            requests: 0,
            errors: 0,
            prompt_tokens: 0,
            completion_tokens: 0,
            latency: new_histogram(),
        }
    }
}

impl Series {
    fn add(&mut self, other: &Series) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        let _ = self.latency.add(&other.latency);
    }

    fn view(&self, name: Option<&str>) -> SeriesView {
        let percentile =
            |q: f64| (!self.latency.is_empty()).then(|| self.latency.value_at_quantile(q));
        SeriesView {
            name: name.map(str::to_owned),
            requests: self.requests,
            errors: self.errors,
            success_rate: (self.requests > 0)
                .then(|| (self.requests - self.errors) as f64 / self.requests as f64),
            p50_ms: percentile(0.5),
            p95_ms: percentile(0.95),
            prompt_tokens: self.prompt_tokens,
            completion_tokens: self.completion_tokens,
        }
    }
}

struct Bucket {
    minute: u64,
    series: HashMap<(Arc<str>, Arc<str>), Series>,
}

#[derive(Default)]
pub struct Metrics {
    buckets: Mutex<VecDeque<Bucket>>,
}

fn current_minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

impl Metrics {
    fn with_series(&self, route: &Arc<str>, provider: &Arc<str>, update: impl FnOnce(&mut Series)) {
        let minute = current_minute();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.back().is_none_or(|b| b.minute != minute) {
            buckets.push_back(Bucket {
                minute,
                series: HashMap::new(),
            });
            while buckets.len() > WINDOW {
                buckets.pop_front();
            }
        }
        if let Some(bucket) = buckets.back_mut() {
            let key = (Arc::clone(route), Arc::clone(provider));
            update(bucket.series.entry(key).or_default());
        }
    }

    /// Records a finished request: whether it succeeded and how long until its answer started.
    pub fn record_request(
        &self,
        route: &Arc<str>,
        provider: &Arc<str>,
        ok: bool,
        latency: Duration,
    ) {
        let millis = u64::try_from(latency.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, 3_600_000);
        self.with_series(route, provider, |series| {
            series.requests += 1;
            if !ok {
                series.errors += 1;
            }
            let _ = series.latency.record(millis);
        });
    }

    pub fn record_usage(&self, route: &Arc<str>, provider: &Arc<str>, usage: Usage) {
        self.with_series(route, provider, |series| {
            series.prompt_tokens += usage.prompt_tokens;
            series.completion_tokens += usage.completion_tokens;
        });
    }

    /// The last `minutes` minutes, summed overall, per minute, per provider and per route.
    pub fn summary(&self, minutes: usize) -> MetricsView {
        let minutes = minutes.clamp(1, WINDOW);
        let first = current_minute().saturating_sub(minutes as u64 - 1);
        let buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let mut totals = Series::default();
        let mut by_provider: HashMap<Arc<str>, Series> = HashMap::new();
        let mut by_route: HashMap<Arc<str>, Series> = HashMap::new();
        let mut per_minute = Vec::new();
        for bucket in buckets.iter().filter(|b| b.minute >= first) {
            let mut minute = Series::default();
            for ((route, provider), series) in &bucket.series {
                minute.add(series);
                by_provider
                    .entry(Arc::clone(provider))
                    .or_default()
                    .add(series);
                by_route.entry(Arc::clone(route)).or_default().add(series);
            }
            totals.add(&minute);
            per_minute.push(MinuteView {
                minute: bucket.minute * 60,
                requests: minute.requests,
                errors: minute.errors,
                prompt_tokens: minute.prompt_tokens,
                completion_tokens: minute.completion_tokens,
            });
        }
        let sorted = |map: HashMap<Arc<str>, Series>| {
            let mut views: Vec<SeriesView> =
                map.iter().map(|(name, s)| s.view(Some(name))).collect();
            views.sort_by(|a, b| {
                b.requests
                    .cmp(&a.requests)
                    .then_with(|| a.name.cmp(&b.name))
            });
            views
        };
        MetricsView {
            window_minutes: minutes,
            totals: totals.view(None),
            per_minute,
            by_provider: sorted(by_provider),
            by_route: sorted(by_route),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_by_provider_and_route() {
        let metrics = Metrics::default();
        let (route, a, b): (Arc<str>, Arc<str>, Arc<str>) = ("r".into(), "a".into(), "b".into());
        metrics.record_request(&route, &a, true, Duration::from_millis(10));
        metrics.record_request(&route, &a, false, Duration::from_millis(30));
        metrics.record_request(&route, &b, true, Duration::from_millis(20));
        metrics.record_usage(
            &route,
            &a,
            Usage {
                prompt_tokens: 5,
                completion_tokens: 7,
                ..Usage::default()
            },
        );
        let view = metrics.summary(60);
        assert_eq!(view.totals.requests, 3);
        assert_eq!(view.totals.errors, 1);
        assert_eq!(view.totals.prompt_tokens, 5);
        assert_eq!(view.by_provider[0].name.as_deref(), Some("a"));
        assert_eq!(view.by_provider[0].success_rate, Some(0.5));
        assert_eq!(view.by_route.len(), 1);
        assert_eq!(view.per_minute.len(), 1);
        assert_eq!(view.totals.p50_ms, Some(20));
    }
}
