//! The finish phase: runs exactly once per admitted request, when the last holder of its
//! [`Finish`] lets go — the response body ended, failed, or was dropped because the client went
//! away — and settles the admission: concurrency slots are released and the token reservation is
//! replaced by the real usage.
//!
//! The proxy holds one `Arc<Finish>` until it returns; the response body holds another (through
//! [`GuardedBody`]), as does the usage tap that reports the provider's counts. Whichever is dropped
//! last runs the settlement, so neither an early error nor a stream that outlives the handler can
//! skip it or run it twice.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use crate::health::HealthRegistry;
use crate::limits::{Admission, Limiter};
use crate::usage::Usage;

pub struct Finish {
    registry: Arc<HealthRegistry>,
    admission: Admission,
    usage: OnceLock<Usage>,
    /// Set when the request ends in an error answer: no upstream produced anything to charge.
    failed: AtomicBool,
}

impl Finish {
    pub fn new(registry: Arc<HealthRegistry>, admission: Admission) -> Finish {
        Finish {
            registry,
            admission,
            usage: OnceLock::new(),
            failed: AtomicBool::new(false),
        }
    }

    /// The provider's usage for this request, once known (the first report wins).
    pub fn record_usage(&self, usage: Usage) {
        let _ = self.usage.set(usage);
    }

    /// The request is answered with an error; no tokens were used.
    pub fn mark_failed(&self) {
        self.failed.store(true, Ordering::Relaxed);
    }

    /// The tokens to charge: the real usage when the provider reported it; nothing for a failed
    /// request; otherwise (a stream cut before its usage arrived) the reservation stands.
    fn used_tokens(&self) -> u64 {
        match self.usage.get() {
            Some(usage) => usage.prompt_tokens.saturating_add(usage.completion_tokens),
            None if self.failed.load(Ordering::Relaxed) => 0,
            None => self.admission.reserved_tokens(),
        }
    }
}

impl Drop for Finish {
    fn drop(&mut self) {
        let used = self.used_tokens();
        self.registry.limits.settle(&mut self.admission, used);
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
/// dropped: a stream counts as in flight, and holds its limits, until it ends.
pub struct GuardedBody<B> {
    inner: B,
    _finish: Option<Arc<Finish>>,
    _in_flight: InFlight,
}

impl<B> GuardedBody<B> {
    pub fn new(inner: B, finish: Option<Arc<Finish>>, in_flight: InFlight) -> GuardedBody<B> {
        GuardedBody {
            inner,
            _finish: finish,
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
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
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

    use super::*;
    use crate::limits::{Scope, ScopeId};

    fn setup() -> (Arc<HealthRegistry>, Scope) {
        let registry = Arc::new(HealthRegistry::default());
        let scope = Scope {
            state: registry.limits.state(ScopeId::Consumer(1)),
            limits: Limits {
                tpm: Some(1000),
                max_concurrent: Some(1),
                ..Limits::default()
            },
            label: Arc::from("consumer 'c'"),
        };
        (registry, scope)
    }

    fn remaining(registry: &HealthRegistry, scope: &Scope) -> u64 {
        registry
            .limits
            .budgets(std::slice::from_ref(scope))
            .tokens
            .map_or(0, |b| b.remaining)
    }

    #[test]
    fn settles_once_when_the_last_holder_goes() {
        let (registry, scope) = setup();
        let admission = registry
            .limits
            .admit(vec![scope.clone()], 500)
            .expect("fits");
        let finish = Arc::new(Finish::new(Arc::clone(&registry), admission));
        let limit = InFlightLimit::new(1);
        let slot = limit.enter().expect("a slot");
        assert!(limit.enter().is_none(), "at the cap");
        let body = GuardedBody::new(
            http_body_util::Empty::<Bytes>::new(),
            Some(Arc::clone(&finish)),
            slot,
        );
        finish.record_usage(Usage {
            prompt_tokens: 30,
            completion_tokens: 20,
            ..Usage::default()
        });
        drop(finish);
        assert_eq!(scope.state.in_flight(), 1, "the body still holds the slot");
        assert_eq!(limit.current(), 1);
        drop(body);
        assert_eq!(scope.state.in_flight(), 0);
        assert_eq!(limit.current(), 0, "the in-flight slot goes with the body");
        let left = remaining(&registry, &scope);
        assert!((949..=950).contains(&left), "50 used, not 500: {left}");
    }

    #[test]
    fn failures_charge_nothing_and_cut_streams_keep_the_reservation() {
        let (registry, scope) = setup();
        let admission = registry
            .limits
            .admit(vec![scope.clone()], 500)
            .expect("fits");
        let failed = Finish::new(Arc::clone(&registry), admission);
        failed.mark_failed();
        drop(failed);
        assert!(remaining(&registry, &scope) >= 999);
        let admission = registry
            .limits
            .admit(vec![scope.clone()], 500)
            .expect("fits");
        drop(Finish::new(Arc::clone(&registry), admission));
        assert!((499..=501).contains(&remaining(&registry, &scope)));
    }
}
