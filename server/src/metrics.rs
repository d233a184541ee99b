//! In-memory request metrics for the console's dashboard: the last hour in one-minute buckets, per
//! route and provider — requests, errors, latency percentiles, tokens. (The metering work will
//! persist history; this is what is live.)
//!
//! # No lock shared between requests
//!
//! Every request records twice (`record_request` when its answer starts, `record_usage` when it
//! ends), so recording must not serialise the proxy's worker threads. Each thread that records gets
//! its own shard, a [`ThreadLocal`] slot: it is created the first time the thread records into this
//! `Metrics` (the crate takes its global lock once per thread, to hand out the thread's id) and is
//! found again by that id without any lock. A request writes only into its own thread's shard. The
//! shard's `Mutex` is taken by that thread for each record and by [`Metrics::summary`] while it
//! reads the shard, never by another request, so it only ever waits for a dashboard read.
//! `summary` merges the shards. The `Arc<str>` names are cloned only when a series first appears in
//! a shard's minute, since a clone would write the reference count that every request of that
//! route shares.
//!
//! Why shards rather than atomic counters: series are keyed by route and provider names that come
//! and go with the configuration, so atomics would still need a shared map to find their counters,
//! and a minute's counters cannot be reset at rollover while other threads are adding to them
//! without losing or misplacing counts. Shards keep plain integers and exact counts. The
//! `thread_local` crate (Amanieu d'Antras; already in the build through `tracing-subscriber`)
//! provides exactly the per-object, per-thread storage that can be iterated which this needs. It
//! recycles the ids of exited threads, so there are never more shards than the most threads that
//! were alive at once. A shard keeps at most the last 60 minutes it recorded.
//!
//! # Latency precision
//!
//! Latencies are kept in milliseconds, from 1 ms to an hour, in a fixed log-linear histogram:
//! exact below 32 ms, and above that each power of two is split into 16 equal buckets (300 buckets
//! in all). A percentile uses the nearest rank: the smallest sample that has at least that fraction
//! of the samples at or below it, as `hdrhistogram` (used before) computed it. It reports the
//! midpoint of that sample's bucket, which is within 1/32 (3.125 %) of the sample itself. For
//! example, a true p95 of 1 000 ms reads 1 008 ms. A shard stores only the buckets that a minute's
//! samples hit, as a sorted list, so its memory grows with the number of distinct latencies rather
//! than with the number of buckets times the number of threads.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_shared::admin::{MetricsView, MinuteView, SeriesView};
use thread_local::ThreadLocal;

use crate::usage::Usage;

/// Minutes kept.
const WINDOW: usize = 60;

/// The longest latency told apart; longer ones count as this.
const MAX_LATENCY_MS: u64 = 3_600_000;

/// Sub-buckets per power of two, as a power of two: 2^4 = 16.
const SUB_BITS: u32 = 4;
const SUB_BUCKETS: u64 = 1 << SUB_BITS;

/// The histogram bucket of a latency in milliseconds. Values below `2 * SUB_BUCKETS` are their
/// own bucket; above that, the bucket is the value's power of two and its next `SUB_BITS` bits.
const fn bucket(millis: u64) -> usize {
    if millis < SUB_BUCKETS {
        return millis as usize;
    }
    let octave = u64::BITS - 1 - millis.leading_zeros();
    let shift = octave - SUB_BITS;
    ((octave - SUB_BITS + 1) as usize) * SUB_BUCKETS as usize
        + ((millis >> shift) & (SUB_BUCKETS - 1)) as usize
}

/// The number of buckets.
const BUCKETS: usize = bucket(MAX_LATENCY_MS) + 1;

/// The value a bucket reports: its midpoint (exact for the buckets one millisecond wide).
fn bucket_value(bucket: usize) -> u64 {
    let bucket = bucket as u64;
    if bucket < SUB_BUCKETS {
        return bucket;
    }
    let shift = bucket / SUB_BUCKETS - 1;
    let low = (SUB_BUCKETS + bucket % SUB_BUCKETS) << shift;
    low + ((1 << shift) >> 1)
}

/// Counters of one series, or of a sum of them.
#[derive(Clone, Copy, Default)]
struct Counts {
    requests: u64,
    errors: u64,
    prompt_tokens: u64,
    completion_tokens: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.requests += other.requests;
        self.errors += other.errors;
        // Token counts come from upstreams and may be huge: they saturate.
        self.prompt_tokens = self.prompt_tokens.saturating_add(other.prompt_tokens);
        self.completion_tokens = self
            .completion_tokens
            .saturating_add(other.completion_tokens);
    }
}

/// One (route, provider) pair's minute in one shard. The latency histogram is sparse: the buckets
/// hit, ordered by bucket, with their counts.
#[derive(Default)]
struct Series {
    counts: Counts,
    latency: Vec<(u16, u32)>,
}

impl Series {
    fn record_latency(&mut self, bucket: u16) {
        match self.latency.binary_search_by_key(&bucket, |&(b, _)| b) {
            Ok(at) => self.latency[at].1 = self.latency[at].1.saturating_add(1),
            Err(at) => self.latency.insert(at, (bucket, 1)),
        }
    }
}

/// Series summed for the view, with a dense histogram.
struct Sum {
    counts: Counts,
    latency: Vec<u64>,
}

impl Default for Sum {
    fn default() -> Self {
        Sum {
            counts: Counts::default(),
            latency: vec![0; BUCKETS],
        }
    }
}

impl Sum {
    fn add(&mut self, series: &Series) {
        self.counts.add(&series.counts);
        for &(bucket, count) in &series.latency {
            if let Some(slot) = self.latency.get_mut(usize::from(bucket)) {
                *slot += u64::from(count);
            }
        }
    }

    /// The nearest-rank `quantile` (see the module's doc for its precision); `None` without samples.
    fn percentile(&self, quantile: f64) -> Option<u64> {
        let total: u64 = self.latency.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((quantile * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        self.latency
            .iter()
            .position(|&count| {
                seen += count;
                seen >= rank
            })
            .map(bucket_value)
    }

    fn view(&self, name: Option<&str>) -> SeriesView {
        let counts = &self.counts;
        SeriesView {
            name: name.map(str::to_owned),
            requests: counts.requests,
            errors: counts.errors,
            success_rate: (counts.requests > 0)
                .then(|| (counts.requests - counts.errors) as f64 / counts.requests as f64),
            p50_ms: self.percentile(0.5),
            p95_ms: self.percentile(0.95),
            prompt_tokens: counts.prompt_tokens,
            completion_tokens: counts.completion_tokens,
        }
    }
}

/// The value for `key`, cloning the `Arc` only when the key is new.
fn entry<'a, V: Default>(map: &'a mut HashMap<Arc<str>, V>, key: &Arc<str>) -> &'a mut V {
    if !map.contains_key(&**key) {
        map.insert(Arc::clone(key), V::default());
    }
    map.get_mut(&**key)
        .unwrap_or_else(|| unreachable!("inserted above"))
}

/// One minute of one shard: series by route, then by provider.
struct Minute {
    minute: u64,
    series: HashMap<Arc<str>, HashMap<Arc<str>, Series>>,
}

/// One thread's recordings: its minutes, oldest first.
#[derive(Default)]
struct Shard {
    minutes: VecDeque<Minute>,
}

impl Shard {
    /// Drops the minutes that are out of the window ending at `now`.
    fn prune(&mut self, now: u64) {
        while self
            .minutes
            .front()
            .is_some_and(|m| m.minute + WINDOW as u64 <= now)
        {
            self.minutes.pop_front();
        }
    }

    fn series(&mut self, minute: u64, route: &Arc<str>, provider: &Arc<str>) -> &mut Series {
        self.prune(minute);
        // Nearly always the newest minute, or a new one after it; a clock that went back inserts
        // in order.
        let at = match self.minutes.binary_search_by_key(&minute, |m| m.minute) {
            Ok(at) => at,
            Err(at) => {
                self.minutes.insert(
                    at,
                    Minute {
                        minute,
                        series: HashMap::new(),
                    },
                );
                at
            }
        };
        let Some(bucket) = self.minutes.get_mut(at) else {
            unreachable!("found or inserted above")
        };
        entry(entry(&mut bucket.series, route), provider)
    }
}

/// The live metrics; see the module's doc.
#[derive(Default)]
pub struct Metrics {
    shards: ThreadLocal<Mutex<Shard>>,
}

fn current_minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() / 60)
        .unwrap_or(0)
}

impl Metrics {
    /// Updates the series of `route` and `provider` for `minute` (minutes since the Unix epoch) in
    /// the calling thread's shard.
    fn record_at(
        &self,
        minute: u64,
        route: &Arc<str>,
        provider: &Arc<str>,
        update: impl FnOnce(&mut Series),
    ) {
        let shard = self.shards.get_or_default();
        let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
        update(shard.series(minute, route, provider));
    }

    /// Records a finished request: whether it succeeded and how long until its answer started.
    pub fn record_request(
        &self,
        route: &Arc<str>,
        provider: &Arc<str>,
        ok: bool,
        latency: Duration,
    ) {
        self.record_request_at(current_minute(), route, provider, ok, latency);
    }

    fn record_request_at(
        &self,
        minute: u64,
        route: &Arc<str>,
        provider: &Arc<str>,
        ok: bool,
        latency: Duration,
    ) {
        let millis = u64::try_from(latency.as_millis())
            .unwrap_or(u64::MAX)
            .clamp(1, MAX_LATENCY_MS);
        // Below `BUCKETS`, which fits in a u16.
        let bucket = bucket(millis) as u16;
        self.record_at(minute, route, provider, |series| {
            series.counts.requests += 1;
            if !ok {
                series.counts.errors += 1;
            }
            series.record_latency(bucket);
        });
    }

    pub fn record_usage(&self, route: &Arc<str>, provider: &Arc<str>, usage: Usage) {
        self.record_usage_at(current_minute(), route, provider, usage);
    }

    fn record_usage_at(&self, minute: u64, route: &Arc<str>, provider: &Arc<str>, usage: Usage) {
        self.record_at(minute, route, provider, |series| {
            let counts = &mut series.counts;
            counts.prompt_tokens = counts.prompt_tokens.saturating_add(usage.prompt_tokens);
            counts.completion_tokens = counts
                .completion_tokens
                .saturating_add(usage.completion_tokens);
        });
    }

    /// The last `minutes` minutes (1 to 60), summed overall, per minute, per provider and per
    /// route.
    pub fn summary(&self, minutes: usize) -> MetricsView {
        self.summary_at(current_minute(), minutes)
    }

    /// [`Metrics::summary`] of the `minutes` minutes up to and including `now`.
    fn summary_at(&self, now: u64, minutes: usize) -> MetricsView {
        let minutes = minutes.clamp(1, WINDOW);
        let first = now.saturating_sub(minutes as u64 - 1);
        let mut totals = Sum::default();
        let mut by_provider: HashMap<Arc<str>, Sum> = HashMap::new();
        let mut by_route: HashMap<Arc<str>, Sum> = HashMap::new();
        let mut per_minute: BTreeMap<u64, Counts> = BTreeMap::new();
        for shard in self.shards.iter() {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            shard.prune(now);
            for bucket in shard
                .minutes
                .iter()
                .filter(|b| (first..=now).contains(&b.minute))
            {
                let counts = per_minute.entry(bucket.minute).or_default();
                for (route, providers) in &bucket.series {
                    let route_sum = entry(&mut by_route, route);
                    for (provider, series) in providers {
                        counts.add(&series.counts);
                        totals.add(series);
                        route_sum.add(series);
                        entry(&mut by_provider, provider).add(series);
                    }
                }
            }
        }
        let sorted = |map: HashMap<Arc<str>, Sum>| {
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
            per_minute: per_minute
                .into_iter()
                .map(|(minute, counts)| MinuteView {
                    minute: minute * 60,
                    requests: counts.requests,
                    errors: counts.errors,
                    prompt_tokens: counts.prompt_tokens,
                    completion_tokens: counts.completion_tokens,
                })
                .collect(),
            by_provider: sorted(by_provider),
            by_route: sorted(by_route),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Barrier;

    use super::*;

    /// An arbitrary minute, far from zero so that windows never saturate.
    const M: u64 = 29_000_000;

    fn names() -> (Arc<str>, Arc<str>, Arc<str>) {
        ("r".into(), "a".into(), "b".into())
    }

    fn usage(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
            ..Usage::default()
        }
    }

    /// The nearest-rank percentile of exact samples.
    fn exact_percentile(samples: &mut [u64], quantile: f64) -> u64 {
        samples.sort_unstable();
        let rank = ((quantile * samples.len() as f64).ceil() as usize).clamp(1, samples.len());
        samples[rank - 1]
    }

    /// Within the module doc's precision: 1/32 of the exact value.
    fn assert_close(reported: Option<u64>, exact: u64) {
        let reported = reported.expect("a percentile");
        assert!(
            reported.abs_diff(exact) * 32 <= exact,
            "reported {reported} for {exact}"
        );
    }

    #[test]
    fn huge_upstream_usage_saturates_the_sums() {
        let metrics = Metrics::default();
        let (route, a, b) = names();
        metrics.record_usage_at(M, &route, &a, usage(u64::MAX, u64::MAX));
        metrics.record_usage_at(M, &route, &a, usage(u64::MAX, 1));
        metrics.record_usage_at(M, &route, &b, usage(1, u64::MAX));
        let view = metrics.summary_at(M, 60);
        assert_eq!(view.totals.prompt_tokens, u64::MAX);
        assert_eq!(view.totals.completion_tokens, u64::MAX);
    }

    #[test]
    fn sums_by_provider_and_route() {
        let metrics = Metrics::default();
        let (route, a, b) = names();
        metrics.record_request_at(M, &route, &a, true, Duration::from_millis(10));
        metrics.record_request_at(M, &route, &a, false, Duration::from_millis(30));
        metrics.record_request_at(M, &route, &b, true, Duration::from_millis(20));
        metrics.record_usage_at(M, &route, &a, usage(5, 7));
        let view = metrics.summary_at(M, 60);
        assert_eq!(view.window_minutes, 60);
        assert_eq!(view.totals.requests, 3);
        assert_eq!(view.totals.errors, 1);
        assert_eq!(view.totals.prompt_tokens, 5);
        assert_eq!(view.totals.completion_tokens, 7);
        assert_eq!(view.by_provider.len(), 2);
        assert_eq!(view.by_provider[0].name.as_deref(), Some("a"));
        assert_eq!(view.by_provider[0].requests, 2);
        assert_eq!(view.by_provider[0].success_rate, Some(0.5));
        assert_eq!(view.by_provider[0].p50_ms, Some(10));
        assert_eq!(view.by_provider[1].name.as_deref(), Some("b"));
        assert_eq!(view.by_provider[1].success_rate, Some(1.0));
        assert_eq!(view.by_route.len(), 1);
        assert_eq!(view.by_route[0].requests, 3);
        assert_eq!(view.per_minute.len(), 1);
        assert_eq!(view.per_minute[0].minute, M * 60);
        assert_eq!(view.totals.p50_ms, Some(20));
        assert_eq!(view.totals.p95_ms, Some(30));
    }

    #[test]
    fn the_public_methods_record_now() {
        let metrics = Metrics::default();
        let empty = metrics.summary(60);
        assert_eq!(empty.totals.requests, 0);
        assert_eq!(empty.totals.success_rate, None);
        assert_eq!(empty.totals.p50_ms, None);
        assert!(empty.per_minute.is_empty());
        let (route, a, _) = names();
        metrics.record_request(&route, &a, true, Duration::from_millis(40));
        metrics.record_usage(&route, &a, usage(1, 2));
        let view = metrics.summary(60);
        assert_eq!(view.totals.requests, 1);
        assert_eq!(view.totals.completion_tokens, 2);
        assert!(!view.per_minute.is_empty());
        assert!(view.per_minute[0].minute.abs_diff(current_minute() * 60) <= 60);
    }

    #[test]
    fn sums_across_threads() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 2_000;
        let metrics = Metrics::default();
        let (route, a, b) = names();
        let other_route: Arc<str> = "s".into();
        let barrier = Barrier::new(THREADS as usize);
        std::thread::scope(|scope| {
            for thread in 0..THREADS {
                let (metrics, barrier) = (&metrics, &barrier);
                let (route, other_route, a, b) = (&route, &other_route, &a, &b);
                scope.spawn(move || {
                    for i in 0..PER_THREAD {
                        // Every thread is alive with its shard before any finishes, so that no
                        // thread inherits another's recycled id.
                        if i == 1 {
                            barrier.wait();
                        }
                        let minute = M + i % 2;
                        let route = if i % 3 == 0 { other_route } else { route };
                        let provider = if thread % 2 == 0 { a } else { b };
                        let latency = Duration::from_millis(1 + (thread * 37 + i * 11) % 5_000);
                        metrics.record_request_at(minute, route, provider, i % 4 != 0, latency);
                        metrics.record_usage_at(minute, route, provider, usage(3, thread));
                    }
                });
            }
        });
        assert_eq!(metrics.shards.iter().count(), THREADS as usize);

        let view = metrics.summary_at(M + 1, 60);
        let requests = THREADS * PER_THREAD;
        assert_eq!(view.totals.requests, requests);
        assert_eq!(view.totals.errors, requests / 4);
        assert_eq!(view.totals.prompt_tokens, 3 * requests);
        assert_eq!(
            view.totals.completion_tokens,
            PER_THREAD * (0..THREADS).sum::<u64>()
        );
        assert_eq!(view.per_minute.len(), 2);
        for (minute, at) in view.per_minute.iter().zip([M, M + 1]) {
            assert_eq!(minute.minute, at * 60);
            assert_eq!(minute.requests, requests / 2);
        }
        // Providers a and b each get half the threads; routes r and s split 2:1.
        assert_eq!(view.by_provider.len(), 2);
        assert!(view.by_provider.iter().all(|p| p.requests == requests / 2));
        assert_eq!(view.by_route.len(), 2);
        assert_eq!(view.by_route[0].name.as_deref(), Some("r"));
        let s_requests = THREADS * PER_THREAD.div_ceil(3);
        assert_eq!(view.by_route[0].requests, requests - s_requests);
        assert_eq!(view.by_route[1].requests, s_requests);

        let mut samples: Vec<u64> = (0..THREADS)
            .flat_map(|thread| (0..PER_THREAD).map(move |i| 1 + (thread * 37 + i * 11) % 5_000))
            .collect();
        assert_close(view.totals.p50_ms, exact_percentile(&mut samples, 0.5));
        assert_close(view.totals.p95_ms, exact_percentile(&mut samples, 0.95));
    }

    #[test]
    fn minutes_roll_over() {
        let metrics = Metrics::default();
        let (route, a, _) = names();
        metrics.record_request_at(M, &route, &a, true, Duration::from_millis(5));
        metrics.record_request_at(M, &route, &a, false, Duration::from_millis(5));
        metrics.record_request_at(M + 1, &route, &a, true, Duration::from_millis(5));
        metrics.record_usage_at(M + 1, &route, &a, usage(4, 0));

        let view = metrics.summary_at(M + 1, 60);
        assert_eq!(view.totals.requests, 3);
        let per_minute: Vec<(u64, u64, u64, u64)> = view
            .per_minute
            .iter()
            .map(|m| (m.minute, m.requests, m.errors, m.prompt_tokens))
            .collect();
        assert_eq!(per_minute, [(M * 60, 2, 1, 0), ((M + 1) * 60, 1, 0, 4)]);

        let last = metrics.summary_at(M + 1, 1);
        assert_eq!(last.window_minutes, 1);
        assert_eq!(last.totals.requests, 1);
        assert_eq!(last.totals.errors, 0);
        assert_eq!(last.per_minute.len(), 1);

        // A minute after `now` (a clock that went back) is not in the view, but is kept.
        assert_eq!(metrics.summary_at(M, 60).totals.requests, 2);
        metrics.record_request_at(M, &route, &a, true, Duration::from_millis(5));
        let view = metrics.summary_at(M + 1, 60);
        assert_eq!(view.totals.requests, 4);
        assert_eq!(view.per_minute[0].requests, 3);
        assert_eq!(view.per_minute[1].requests, 1);
    }

    #[test]
    fn keeps_a_window_of_sixty_minutes() {
        let metrics = Metrics::default();
        let (route, a, _) = names();
        for minute in [M, M + 30, M + 59] {
            metrics.record_request_at(minute, &route, &a, true, Duration::from_millis(5));
        }
        let view = metrics.summary_at(M + 59, 60);
        assert_eq!(view.totals.requests, 3);
        assert_eq!(view.per_minute.len(), 3);
        assert_eq!(metrics.summary_at(M + 59, 30).totals.requests, 2);
        assert_eq!(metrics.summary_at(M + 59, 29).totals.requests, 1);
        // Out of range asks are clamped to 1 and 60 minutes.
        assert_eq!(metrics.summary_at(M + 59, 0).window_minutes, 1);
        assert_eq!(metrics.summary_at(M + 59, 0).totals.requests, 1);
        let all = metrics.summary_at(M + 59, 1_000);
        assert_eq!(all.window_minutes, 60);
        assert_eq!(all.totals.requests, 3);

        // A minute later the first minute is out of the window.
        let view = metrics.summary_at(M + 60, 60);
        assert_eq!(view.totals.requests, 2);
        assert_eq!(view.per_minute[0].minute, (M + 30) * 60);

        // And recording drops it from the shard.
        let metrics = Metrics::default();
        for minute in M..M + 61 {
            metrics.record_request_at(minute, &route, &a, true, Duration::from_millis(5));
        }
        let shard = metrics.shards.get().expect("this thread's shard");
        let shard = shard.lock().expect("not poisoned");
        assert_eq!(shard.minutes.len(), WINDOW);
        assert_eq!(shard.minutes.front().map(|m| m.minute), Some(M + 1));
        drop(shard);
        assert_eq!(metrics.summary_at(M + 60, 60).totals.requests, 60);
    }

    #[test]
    fn every_latency_is_within_the_precision() {
        let mut previous = 0;
        for millis in 1..=MAX_LATENCY_MS {
            let b = bucket(millis);
            assert!(b < BUCKETS);
            assert!(b >= previous, "buckets are ordered like latencies");
            previous = b;
            let value = bucket_value(b);
            assert!(
                value.abs_diff(millis) * 32 <= millis,
                "{millis} reads {value}"
            );
            if millis < 32 {
                assert_eq!(value, millis);
            }
        }
        assert_eq!(BUCKETS, 300);
        assert_eq!(bucket_value(bucket(1_000)), 1_008);
    }

    #[test]
    fn percentiles_are_nearest_rank_within_the_precision() {
        let (route, a, _) = names();

        // Exact below 32 ms.
        let metrics = Metrics::default();
        for millis in 1..=20 {
            metrics.record_request_at(M, &route, &a, true, Duration::from_millis(millis));
        }
        let view = metrics.summary_at(M, 60);
        assert_eq!(view.totals.p50_ms, Some(10));
        assert_eq!(view.totals.p95_ms, Some(19));

        // Log-uniform from 1 ms to a minute, over several minutes and threads.
        let metrics = Metrics::default();
        let mut rng = fastrand::Rng::with_seed(10);
        let mut samples: Vec<u64> = (0..20_000)
            .map(|_| 2f64.powf(rng.f64() * 16.0).round() as u64)
            .collect();
        std::thread::scope(|scope| {
            for (thread, chunk) in samples.chunks(5_000).enumerate() {
                let (metrics, route, a) = (&metrics, &route, &a);
                scope.spawn(move || {
                    for (i, &millis) in chunk.iter().enumerate() {
                        let minute = M + (thread + i) as u64 % 5;
                        let latency = Duration::from_millis(millis);
                        metrics.record_request_at(minute, route, a, true, latency);
                    }
                });
            }
        });
        let view = metrics.summary_at(M + 4, 60);
        assert_eq!(view.totals.requests, 20_000);
        assert_close(view.totals.p50_ms, exact_percentile(&mut samples, 0.5));
        assert_close(view.totals.p95_ms, exact_percentile(&mut samples, 0.95));
        assert_eq!(view.by_provider[0].p95_ms, view.totals.p95_ms);

        // Over an hour counts as an hour.
        let metrics = Metrics::default();
        metrics.record_request_at(M, &route, &a, true, Duration::from_secs(10_000));
        assert_close(metrics.summary_at(M, 1).totals.p50_ms, MAX_LATENCY_MS);
    }
}
