//! The finish phase: runs exactly once per request, when its [`Finish`] is dropped — by the
//! handler for an error answer, or with the response body, which holds it through
//! [`GuardedBody`] until the body ended, failed, or was dropped because the client went away. It
//! settles the admission (concurrency slots, token reservations replaced by the real usage),
//! settles the budget reservations with the real cost, and hands the request's record to the
//! meter.
//!
//! The body's usage taps report the provider's counts into the shared [`Tally`]; they sit inside
//! the guarded body and are dropped before the `Finish` beside them, so the finish phase always
//! sees what they read.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Instant;

use crate::budgets::BudgetHold;
use crate::cache::{CacheKey, CachedAnswer, ClientApi, ResponseCache};
use crate::clock::Clock;
use crate::health::HealthRegistry;
use crate::limits::{Admission, Limiter};
use crate::metering::{LogRow, Meter, MeterItem, Unmetered};
use crate::pricing::ProviderPricing;
use crate::routing::stats::stamp;
use crate::routing::{Flight, Landing};
use crate::shared_state::admission::SharedAdmission;
use crate::usage::Usage;

/// The most of an answer kept to estimate its tokens when the provider reports none; the rest
/// is counted in bytes and estimated at the kept part's ratio. It bounds what a stream pins in
/// memory (its frames are the upstream's own buffers) to this.
const MAX_KEPT_BYTES: usize = 64 * 1024;
/// The largest answer the response cache stores; a longer one is served but not kept.
const MAX_CACHED_BYTES: usize = 8 * 1024 * 1024;

/// Where the finish phase stores a complete answer, when the route caches.
pub struct CacheStore {
    pub cache: Arc<ResponseCache>,
    pub key: CacheKey,
    pub ttl_ms: i64,
    pub client: ClientApi,
    pub stream: bool,
    pub route: Arc<str>,
    pub provider: Arc<str>,
    pub model: String,
}

/// What the response body learns for the finish phase: the provider's usage, and whether a
/// stream failed after it started.
#[derive(Debug, Default)]
pub struct Tally {
    usage: OnceLock<Usage>,
    stream_failed: AtomicBool,
    /// Answer-check hits found while the answer streamed (this request's own lock).
    guardrail_hits: std::sync::Mutex<Vec<switchyard_shared::GuardrailHit>>,
}

impl Tally {
    /// The provider's usage for this request, once known (the first report wins).
    pub fn record_usage(&self, usage: Usage) {
        let _ = self.usage.set(usage);
    }

    /// The answer checks' hits so far (each call gives them all: they replace what was there).
    pub fn record_guardrail_hits(&self, hits: &[switchyard_shared::GuardrailHit]) {
        if hits.is_empty() {
            return;
        }
        let mut held = self
            .guardrail_hits
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Response hits accumulate across calls; a block hit is appended once.
        for hit in hits {
            match held.iter_mut().find(|h| {
                h.guardrail == hit.guardrail
                    && h.detector == hit.detector
                    && h.action == hit.action
                    && h.phase == hit.phase
            }) {
                Some(existing) => existing.count = existing.count.max(hit.count),
                None => held.push(hit.clone()),
            }
        }
    }

    /// The stream broke after it started (the client got an error event, not an end).
    pub fn mark_stream_failed(&self) {
        self.stream_failed.store(true, Ordering::Relaxed);
    }
}

/// Everything the request path learned about one request, settled and recorded on drop.
pub struct Finish {
    registry: Arc<HealthRegistry>,
    meter: Meter,
    clock: Arc<Clock>,
    started: Instant,
    /// The record as far as it is known; completed on drop.
    pub row: LogRow,
    pub tally: Arc<Tally>,
    admission: Option<Admission>,
    hold: Option<BudgetHold>,
    /// What the request holds in the cluster's Redis instead (limits and budgets together).
    shared: Option<SharedAdmission>,
    /// The request body, kept (by reference count) to estimate its tokens if need be.
    prompt: Bytes,
    /// The answering provider's prices.
    pricing: Option<Arc<ProviderPricing>>,
    /// Set when the request ends in an error answer: no upstream produced anything to charge.
    failed: bool,
    first_byte: Option<Instant>,
    ended: bool,
    /// The answer came from the response cache.
    cache_hit: bool,
    cache_store: Option<CacheStore>,
    sent: Vec<Bytes>,
    kept_len: usize,
    sent_len: usize,
    /// The answering attempt, counted in flight until the body ends; it gives routing its
    /// last samples then.
    flight: Option<Flight>,
}

impl Finish {
    pub fn new(
        registry: Arc<HealthRegistry>,
        meter: Meter,
        clock: Arc<Clock>,
        request_id: String,
        endpoint: &'static str,
    ) -> Finish {
        let time_ms = clock.now_ms();
        Finish {
            registry,
            meter,
            clock,
            started: Instant::now(),
            row: LogRow {
                request_id,
                time_ms,
                endpoint,
                ..LogRow::default()
            },
            tally: Arc::new(Tally::default()),
            admission: None,
            hold: None,
            shared: None,
            prompt: Bytes::new(),
            pricing: None,
            failed: false,
            first_byte: None,
            ended: false,
            cache_hit: false,
            cache_store: None,
            sent: Vec::new(),
            kept_len: 0,
            sent_len: 0,
            flight: None,
        }
    }

    /// Holds the answering attempt until the answer's body ends.
    pub fn track_flight(&mut self, flight: Flight) {
        self.flight = Some(flight);
    }

    pub fn started(&self) -> Instant {
        self.started
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The request body, for a token estimate should the provider report no usage.
    pub fn keep_prompt(&mut self, body: Bytes) {
        self.prompt = body;
    }

    /// What admission reserved, released or settled when the request finishes.
    pub fn hold_admission(&mut self, admission: Admission) {
        self.admission = Some(admission);
    }

    pub fn hold_budgets(&mut self, hold: BudgetHold) {
        self.hold = Some(hold);
    }

    /// What shared admission reserved in Redis, settled there when the request finishes.
    pub fn hold_shared(&mut self, admission: SharedAdmission) {
        self.shared = Some(admission);
    }

    /// The provider that answered (or failed last) and its prices.
    pub fn answered_by(&mut self, pricing: Arc<ProviderPricing>) {
        self.pricing = Some(pricing);
    }

    /// The attempt that answers may store its answer here, if it turns out complete.
    pub fn plan_cache_store(&mut self, store: Option<CacheStore>) {
        self.cache_store = store;
    }

    /// The answer is a stored one: nothing was used, and its record says what it saved.
    pub fn served_from_cache(&mut self, answer: &CachedAnswer) {
        self.cache_hit = true;
        self.cache_store = None;
        self.row.status = answer.status;
        self.row.provider = Some(Arc::clone(&answer.provider));
        self.row.model = Some(answer.model.clone());
        self.row.attempts = 0;
        self.row.usage = answer.usage;
        self.row.cost_saved_micros = answer.cost_micros;
    }

    /// The request is answered with this error; no tokens were used.
    pub fn fail(&mut self, status: u16, code: String) {
        self.failed = true;
        self.row.status = status;
        self.row.error_code = Some(code);
    }

    /// One frame of the answer went to the client.
    fn sent(&mut self, data: &Bytes) {
        if self.first_byte.is_none() {
            self.first_byte = Some(Instant::now());
        }
        let cap = if self.cache_store.is_some() {
            MAX_CACHED_BYTES
        } else {
            MAX_KEPT_BYTES
        };
        if self.kept_len < cap {
            self.kept_len += data.len();
            self.sent.push(data.clone());
        }
        if self.kept_len > MAX_CACHED_BYTES {
            // Too large to keep whole: served, not stored.
            self.cache_store = None;
        }
        self.sent_len = self.sent_len.saturating_add(data.len());
    }

    /// What the request cost at the answering provider's prices; `None` when unpriced.
    fn cost(&self, row: &LogRow) -> Option<i64> {
        if row.endpoint == "count_tokens" {
            return Some(0);
        }
        self.pricing
            .as_ref()
            .zip(row.model.as_deref())
            .and_then(|(pricing, model)| pricing.price(model))
            .map(|price| price.cost_micros(&row.usage))
    }

    /// Stores the answer if the route caches and it is a complete success the client received
    /// whole: never an error, a failed or truncated stream, or one the client left.
    fn store_in_cache(&mut self, row: &LogRow) {
        let Some(store) = self.cache_store.take() else {
            return;
        };
        let complete = !self.failed
            && self.ended
            && row.status == 200
            && !self.tally.stream_failed.load(Ordering::Relaxed);
        if !complete {
            return;
        }
        let content_type = if store.stream {
            http::HeaderValue::from_static("text/event-stream")
        } else {
            http::HeaderValue::from_static("application/json")
        };
        store.cache.insert(
            store.key,
            CachedAnswer {
                route: store.route,
                provider: store.provider,
                model: store.model,
                stored_at_ms: store.cache.now_ms(),
                ttl_ms: store.ttl_ms,
                client: store.client,
                stream: store.stream,
                frames: self.sent.clone(),
                usage: row.usage,
                cost_micros: row.cost_micros,
                status: row.status,
                content_type,
            },
        );
    }

    /// The tokens to charge the limits: the real usage when the provider reported it; nothing
    /// for a failed request; otherwise (a stream cut before its usage arrived) the reservation.
    fn used_tokens(&self, usage: Option<&Usage>) -> u64 {
        match usage {
            Some(usage) => usage.prompt_tokens.saturating_add(usage.completion_tokens),
            None if self.failed => 0,
            None => match (&self.admission, &self.shared) {
                (Some(admission), _) => admission.reserved_tokens(),
                (None, Some(shared)) => shared.reserved_tokens(),
                (None, None) => 0,
            },
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let usage = self.tally.usage.get().copied();
        let used = if self.cache_hit {
            0
        } else {
            self.used_tokens(usage.as_ref())
        };
        if let Some(mut admission) = self.admission.take() {
            self.registry.limits.settle(&mut admission, used);
        }
        // Shared admissions settle in a task of their own, never on the answer's path.
        let shared = self.shared.take();
        let mut row = std::mem::take(&mut self.row);
        let elapsed = self.started.elapsed();
        row.latency_ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        row.ttft_ms = self.first_byte.map(|at| {
            u64::try_from(at.duration_since(self.started).as_millis()).unwrap_or(u64::MAX)
        });
        if self.cache_hit {
            // Nothing reached a provider: nothing to estimate, price or charge.
            row.cache_hit = true;
            row.client_disconnected = !self.ended;
            row.cost_micros = Some(0);
            if let Some(hold) = self.hold.take() {
                hold.settle(0, self.clock.now_ms());
            }
            if let Some(shared) = shared {
                shared.settle(used, Some(0));
            }
            self.meter.submit(MeterItem::Row(Box::new(row)));
            return;
        }
        if !self.failed {
            row.client_disconnected = !self.ended;
            if self.tally.stream_failed.load(Ordering::Relaxed) {
                row.error_code = Some("stream_error".to_owned());
            }
        }
        row.usage = usage.unwrap_or_default();
        if let Some(flight) = self.flight.take() {
            let complete = !self.failed
                && self.ended
                && row.status == 200
                && !self.tally.stream_failed.load(Ordering::Relaxed);
            let landing = Landing {
                complete,
                usage: usage.as_ref(),
                sent_len: self.sent_len,
            };
            flight.land(Instant::now(), &landing, stamp(self.clock.now_ms()));
        }
        let answer_hits = std::mem::take(
            &mut *self
                .tally
                .guardrail_hits
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
        row.guardrails.extend(answer_hits);
        let estimate = !self.failed
            && row.endpoint != "count_tokens"
            && (usage.is_none() || row.client_disconnected);
        if !estimate && !self.failed {
            row.cost_micros = self.cost(&row);
        }
        self.store_in_cache(&row);
        if estimate {
            // The cost is known once the meter has estimated the tokens: the budgets wait for
            // it, the limits settle now.
            let deferred = shared.and_then(|shared| shared.settle(used, None));
            self.meter.submit(MeterItem::Unmetered(Box::new(Unmetered {
                row,
                prompt: std::mem::take(&mut self.prompt),
                sent: std::mem::take(&mut self.sent),
                sent_len: self.sent_len,
                pricing: self.pricing.take(),
                hold: self.hold.take().or(deferred),
            })));
            return;
        }
        if self.failed {
            row.cost_micros = Some(0);
        }
        if let Some(hold) = self.hold.take() {
            hold.settle(row.cost_micros.unwrap_or(0), self.clock.now_ms());
        }
        if let Some(shared) = shared {
            shared.settle(used, Some(row.cost_micros.unwrap_or(0)));
        }
        self.meter.submit(MeterItem::Row(Box::new(row)));
    }
}

/// The gateway-wide count of proxy requests in flight, with its cap.
#[derive(Debug)]
pub struct InFlightLimit {
    count: AtomicUsize,
    max: usize,
}

impl InFlightLimit {
    pub fn new(max: usize) -> Arc<InFlightLimit> {
        Arc::new(InFlightLimit {
            count: AtomicUsize::new(0),
            max,
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn current(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// A slot, or `None` at the cap.
    pub fn enter(self: &Arc<Self>) -> Option<InFlight> {
        self.count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max).then_some(n + 1)
            })
            .ok()
            .map(|_| InFlight(Arc::clone(self)))
    }
}

/// One request's place in the in-flight count, given back when dropped.
#[derive(Debug)]
pub struct InFlight(Arc<InFlightLimit>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.count.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request's [`Finish`] and in-flight slot until the body is
/// dropped: a stream counts as in flight, and holds its limits, until it ends. It tells the
/// finish phase when the first byte went out, what was sent, and whether the body ended.
pub struct GuardedBody<B> {
    // Dropped first: the usage taps inside report before the finish phase runs.
    inner: B,
    finish: Finish,
    _in_flight: InFlight,
}

impl<B> GuardedBody<B> {
    pub fn new(inner: B, finish: Finish, in_flight: InFlight) -> GuardedBody<B> {
        GuardedBody {
            inner,
            finish,
            _in_flight: in_flight,
        }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.finish.sent(data);
                }
                if this.inner.is_end_stream() {
                    this.finish.ended = true;
                }
            }
            Poll::Ready(None) => this.finish.ended = true,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use switchyard_shared::Limits;
    use tokio::sync::mpsc;

    use super::*;
    use crate::limits::{Scope, ScopeId};

    fn setup() -> (Arc<HealthRegistry>, Scope, Meter, mpsc::Receiver<MeterItem>) {
        let registry = Arc::new(HealthRegistry::default());
        let scope = Scope {
            id: ScopeId::Consumer(1),
            state: registry.limits.state(ScopeId::Consumer(1)),
            limits: Limits {
                tpm: Some(1000),
                max_concurrent: Some(1),
                ..Limits::default()
            },
            label: Arc::from("consumer 'c'"),
        };
        let (meter, queue) = Meter::new(true);
        (registry, scope, meter, queue)
    }

    fn finish(registry: &Arc<HealthRegistry>, meter: &Meter) -> Finish {
        Finish::new(
            Arc::clone(registry),
            meter.clone(),
            Arc::new(Clock::default()),
            "req-1".into(),
            "chat",
        )
    }

    fn remaining(registry: &HealthRegistry, scope: &Scope) -> u64 {
        registry
            .limits
            .budgets(std::slice::from_ref(scope))
            .tokens
            .map_or(0, |b| b.remaining)
    }

    #[test]
    fn settles_and_records_once_when_the_body_goes() {
        let (registry, scope, meter, mut queue) = setup();
        let mut finish = finish(&registry, &meter);
        finish.hold_admission(
            registry
                .limits
                .admit(vec![scope.clone()], 500)
                .expect("fits"),
        );
        let tally = Arc::clone(&finish.tally);
        let limit = InFlightLimit::new(1);
        let slot = limit.enter().expect("a slot");
        assert!(limit.enter().is_none(), "at the cap");
        let mut body = GuardedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"{}")),
            finish,
            slot,
        );
        tally.record_usage(Usage {
            prompt_tokens: 30,
            completion_tokens: 20,
            ..Usage::default()
        });
        assert_eq!(scope.state.in_flight(), 1, "the body still holds the slot");
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        while let Poll::Ready(Some(_)) = Pin::new(&mut body).poll_frame(&mut cx) {}
        assert!(queue.try_recv().is_err(), "nothing recorded before the end");
        drop(body);
        assert_eq!(scope.state.in_flight(), 0);
        assert_eq!(limit.current(), 0, "the in-flight slot goes with the body");
        let left = remaining(&registry, &scope);
        assert!((949..=950).contains(&left), "50 used, not 500: {left}");
        let Ok(MeterItem::Row(row)) = queue.try_recv() else {
            panic!("one metered row");
        };
        assert_eq!(row.usage.completion_tokens, 20);
        assert!(!row.client_disconnected && !row.tokens_estimated);
        assert!(row.ttft_ms.is_some());
        assert!(queue.try_recv().is_err(), "exactly one record");
    }

    #[test]
    fn failures_charge_nothing_and_cut_streams_are_estimated() {
        let (registry, scope, meter, mut queue) = setup();
        let mut failed = finish(&registry, &meter);
        failed.hold_admission(
            registry
                .limits
                .admit(vec![scope.clone()], 500)
                .expect("fits"),
        );
        failed.fail(502, "upstream_502".into());
        drop(failed);
        assert!(remaining(&registry, &scope) >= 999);
        assert!(matches!(queue.try_recv(), Ok(MeterItem::Row(row)) if row.status == 502));

        let mut cut = finish(&registry, &meter);
        cut.hold_admission(
            registry
                .limits
                .admit(vec![scope.clone()], 500)
                .expect("fits"),
        );
        let slot = InFlightLimit::new(1).enter().expect("slot");
        // The client leaves before the body ends.
        drop(GuardedBody::new(
            http_body_util::Full::new(Bytes::from_static(b"data: {}")),
            cut,
            slot,
        ));
        assert!((499..=501).contains(&remaining(&registry, &scope)));
        let Ok(MeterItem::Unmetered(item)) = queue.try_recv() else {
            panic!("a record to estimate");
        };
        assert!(item.row.client_disconnected);
    }
}
