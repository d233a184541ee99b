//! Request, token and concurrency limits: counter state that outlives reloads, and admission.
//!
//! Every window is a GCRA cell (the generic cell rate algorithm, as `governor` uses): one atomic
//! "theoretical arrival time" per window, updated by compare-and-swap, so admission takes no lock
//! and concurrent requests can never together pass more than the limit. `governor` itself is not
//! used because token limits must *reserve* an estimate at admission and hand back (or charge) the
//! difference when the real usage is known, and governor has no way to return capacity.
//!
//! State lives in a [`LimitRegistry`] keyed by stable ids (consumer, key, route), like the health
//! registry: the snapshot holds `Arc`s to the entries, an unrelated reload keeps them, and editing
//! a limit changes only the numbers the next admission reads from the new snapshot. The
//! registry's [`Limiter`] interface (admit, settle) is what a shared backend would implement.
//!
//! Time is passed in (nanoseconds since the registry's start), so every rule here is tested with
//! a fake clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use switchyard_shared::Limits;
use tokio::time::Instant;

const MINUTE: u64 = 60 * 1_000_000_000;
const DAY: u64 = 24 * 60 * MINUTE;

/// One GCRA cell: when the bucket would be full again if nothing else arrived.
#[derive(Debug, Default)]
struct Gcra {
    tat: AtomicU64,
}

/// The nanoseconds of a window that `units` of a `limit` per `window` cost.
fn cost(units: u64, limit: u64, window: u64) -> u64 {
    let nanos = u128::from(units) * u128::from(window) / u128::from(limit.max(1));
    u64::try_from(nanos).unwrap_or(u64::MAX)
}

impl Gcra {
    /// Takes `units` if they fit; otherwise says how long until they would.
    fn acquire(&self, now: u64, units: u64, limit: u64, window: u64) -> Result<(), Duration> {
        let cost = cost(units, limit, window);
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let next = tat.max(now).saturating_add(cost);
            let ahead = next - now;
            if ahead > window {
                return Err(Duration::from_nanos(ahead - window));
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }

    /// Gives back `units` taken earlier (a rolled-back admission, or a reservation that was too
    /// large). A cell whose time is already past is full, so nothing is lost by the saturation.
    fn give_back(&self, units: u64, limit: u64, window: u64) {
        let cost = cost(units, limit, window);
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                Some(tat.saturating_sub(cost))
            });
    }

    /// Charges `units` beyond what was reserved, even past the limit: they were used.
    fn charge(&self, now: u64, units: u64, limit: u64, window: u64) {
        let cost = cost(units, limit, window);
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                Some(tat.max(now).saturating_add(cost))
            });
    }

    /// Re-expresses what was used under limit `old` in the terms of limit `new`, so that an edited
    /// limit counts the requests (or tokens) already made instead of the time they took up.
    fn rescale(&self, now: u64, old: u64, new: u64) {
        let _ = self
            .tat
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |tat| {
                let ahead = u128::from(tat.saturating_sub(now));
                let scaled = ahead * u128::from(old) / u128::from(new.max(1));
                Some(now.saturating_add(u64::try_from(scaled).unwrap_or(u64::MAX)))
            });
    }

    /// What is left now, and how long until the bucket is full again.
    fn status(&self, now: u64, limit: u64, window: u64) -> (u64, Duration) {
        let (remaining, ahead) = window_left(self.tat.load(Ordering::Acquire), now, limit, window);
        (remaining, Duration::from_nanos(ahead))
    }
}

/// What is left of a GCRA window of `limit` per `window` whose theoretical arrival time is `tat`,
/// at `now`, and the time until it is full again, in the unit of `tat`, `now` and `window`. Shared
/// by the local limiter (ns) and cluster mode's, which reads TATs from Redis (µs).
pub fn window_left(tat: u64, now: u64, limit: u64, window: u64) -> (u64, u64) {
    let ahead = tat.saturating_sub(now);
    let free = window.saturating_sub(ahead);
    let remaining = u128::from(free) * u128::from(limit) / u128::from(window.max(1));
    (u64::try_from(remaining).unwrap_or(u64::MAX), ahead)
}

/// The counters of one scope (a consumer, a key or a route).
#[derive(Debug, Default)]
pub struct LimitState {
    rpm: Gcra,
    rpd: Gcra,
    tpm: Gcra,
    tpd: Gcra,
    in_flight: AtomicU64,
    /// Milliseconds since the Unix epoch of the last admitted request; 0 for never.
    last_used_ms: AtomicU64,
    /// The limits the cells were last counted under. Only the reload task reads or writes it,
    /// never a request.
    configured: Mutex<Option<Limits>>,
}

impl LimitState {
    pub fn in_flight(&self) -> u64 {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// When this scope last admitted a request.
    pub fn last_used(&self) -> Option<SystemTime> {
        match self.last_used_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// Records the limits this scope now has; when one changed, what was already used is
    /// carried over as a count of requests or tokens under the new limit. Called by the reload
    /// task after a swap.
    pub fn reconfigure(&self, limits: &Limits, now: u64) {
        let mut configured = self.configured.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = configured.as_ref() {
            for (before, after) in self.windows(old).iter().zip(self.windows(limits)) {
                if let (Some(old), Some(new)) = (before.limit, after.limit)
                    && old != new
                {
                    after.cell.rescale(now, old, new);
                }
            }
        }
        *configured = Some(*limits);
    }

    pub fn touch(&self) {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }
}

/// One window of a scope: its cell, its limit (if set), its length, and whether it counts
/// tokens or requests. Every rule below walks the same four, in this order.
struct Window<'a> {
    cell: &'a Gcra,
    limit: Option<u64>,
    length: u64,
    tokens: bool,
}

impl Window<'_> {
    /// What one request takes from this window: itself, or its token reservation. A request
    /// larger than a whole window's budget takes the whole budget: it may go when the bucket is
    /// full, and what it really uses is charged at the end.
    fn units(&self, limit: u64, tokens: u64) -> u64 {
        if self.tokens { tokens.min(limit) } else { 1 }
    }

    fn kind(&self) -> &'static str {
        if self.tokens { "tokens" } else { "requests" }
    }

    fn per(&self) -> &'static str {
        if self.length == MINUTE {
            "minute"
        } else {
            "day"
        }
    }
}

impl LimitState {
    /// The windows of this scope under `limits`: requests per minute and day, then tokens.
    fn windows(&self, limits: &Limits) -> [Window<'_>; 4] {
        let window = |cell, limit, length, tokens| Window {
            cell,
            limit,
            length,
            tokens,
        };
        [
            window(&self.rpm, limits.rpm, MINUTE, false),
            window(&self.rpd, limits.rpd, DAY, false),
            window(&self.tpm, limits.tpm, MINUTE, true),
            window(&self.tpd, limits.tpd, DAY, true),
        ]
    }
}

/// Which kind of thing a limit belongs to; with the stored id it keys the registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeId {
    Consumer(i64),
    Key(i64),
    Route(i64),
}

/// Limit state for every scope, outliving snapshots.
pub struct LimitRegistry {
    entries: Mutex<HashMap<ScopeId, Arc<LimitState>>>,
    /// The origin of the nanosecond clock the cells use.
    start: Instant,
}

impl Default for LimitRegistry {
    fn default() -> Self {
        LimitRegistry {
            entries: Mutex::default(),
            start: Instant::now(),
        }
    }
}

impl LimitRegistry {
    /// The state of a scope, created on first use. Called while building a snapshot, never on the
    /// request path.
    pub fn state(&self, id: ScopeId) -> Arc<LimitState> {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(entries.entry(id).or_default())
    }

    /// Drops the state of scopes that no longer exist (after a swap).
    pub fn retain(&self, live: impl Fn(&ScopeId) -> bool) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|id, _| live(id));
    }

    /// Every known scope's state, for writing `last_used_at` back to the store.
    pub fn all(&self) -> Vec<(ScopeId, Arc<LimitState>)> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.iter().map(|(id, s)| (*id, Arc::clone(s))).collect()
    }

    /// Now, on the cells' clock.
    pub fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// One scope a request is checked against: its counters, its limits, and how to name it.
#[derive(Clone, Debug)]
pub struct Scope {
    /// Which scope it is: names its counters in the registry and in Redis.
    pub id: ScopeId,
    pub state: Arc<LimitState>,
    pub limits: Limits,
    /// `consumer 'team-a'`, `key 'ci' of consumer 'team-a'`, `route 'chat'`.
    pub label: Arc<str>,
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// `consumer 'team-a': 60 requests per minute`.
    pub message: String,
    /// `requests`, `tokens` or `concurrent_requests`.
    pub kind: &'static str,
    pub retry_after: Duration,
}

/// What an admitted request holds until it finishes.
#[derive(Debug, Default)]
pub struct Admission {
    scopes: Vec<Scope>,
    /// The tokens reserved in every scope with a token limit.
    reserved_tokens: u64,
    settled: bool,
}

/// The tightest remaining budget of one kind (requests or tokens), for the rate-limit headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub limit: u64,
    pub remaining: u64,
    pub reset: Duration,
}

/// The rate-limit headers' content: the tightest request and token budgets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budgets {
    pub requests: Option<Budget>,
    pub tokens: Option<Budget>,
}

/// Admission and settlement; the local implementation counts in this process's memory.
pub trait Limiter {
    /// Checks every scope and takes one request, a concurrency slot and `tokens` from each, or
    /// nothing at all; a refusal comes with the budgets of the scopes for its headers.
    fn admit(&self, scopes: Vec<Scope>, tokens: u64) -> Result<Admission, (Refusal, Budgets)>;
    /// Releases the slots and replaces the reservation with the tokens really used.
    fn settle(&self, admission: &mut Admission, used_tokens: u64);
    /// The tightest budgets over `scopes`, now.
    fn budgets(&self, scopes: &[Scope]) -> Budgets;
}

impl Limiter for LimitRegistry {
    fn admit(&self, scopes: Vec<Scope>, tokens: u64) -> Result<Admission, (Refusal, Budgets)> {
        let now = self.now();
        for (i, scope) in scopes.iter().enumerate() {
            if let Err(refusal) = admit_one(scope, now, tokens) {
                // Nothing was taken from the refusing scope; give back what the others took.
                for taken in &scopes[..i] {
                    roll_back(taken, tokens);
                }
                return Err((refusal, self.budgets(&scopes)));
            }
        }
        Ok(Admission {
            scopes,
            reserved_tokens: tokens,
            settled: false,
        })
    }

    fn settle(&self, admission: &mut Admission, used_tokens: u64) {
        if admission.settled {
            return;
        }
        admission.settled = true;
        let now = self.now();
        let reserved = admission.reserved_tokens;
        for scope in &admission.scopes {
            let state = &scope.state;
            let limits = &scope.limits;
            if limits.max_concurrent.is_some() {
                state.in_flight.fetch_sub(1, Ordering::AcqRel);
            }
            for window in state.windows(limits).iter().filter(|w| w.tokens) {
                let Some(limit) = window.limit else { continue };
                let reserved = window.units(limit, reserved);
                match used_tokens.cmp(&reserved) {
                    std::cmp::Ordering::Less => {
                        window
                            .cell
                            .give_back(reserved - used_tokens, limit, window.length);
                    }
                    std::cmp::Ordering::Greater => {
                        window
                            .cell
                            .charge(now, used_tokens - reserved, limit, window.length);
                    }
                    std::cmp::Ordering::Equal => {}
                }
            }
        }
    }

    fn budgets(&self, scopes: &[Scope]) -> Budgets {
        let now = self.now();
        let mut budgets = Budgets::default();
        for scope in scopes {
            for window in scope.state.windows(&scope.limits) {
                let Some(limit) = window.limit else { continue };
                let (remaining, reset) = window.cell.status(now, limit, window.length);
                let budget = Budget {
                    limit,
                    remaining,
                    reset,
                };
                let slot = if window.tokens {
                    &mut budgets.tokens
                } else {
                    &mut budgets.requests
                };
                if slot.is_none_or(|tightest| remaining < tightest.remaining) {
                    *slot = Some(budget);
                }
            }
        }
        budgets
    }
}

/// Undoes a scope's admission: its slot, its request and its token reservation.
fn roll_back(scope: &Scope, tokens: u64) {
    let state = &scope.state;
    let limits = &scope.limits;
    if limits.max_concurrent.is_some() {
        state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
    give_back(&state.windows(limits), tokens);
}

/// Gives back what one request took from `windows`.
fn give_back(windows: &[Window<'_>], tokens: u64) {
    for window in windows {
        if let Some(limit) = window.limit {
            window
                .cell
                .give_back(window.units(limit, tokens), limit, window.length);
        }
    }
}

/// Admits one scope entirely or not at all.
fn admit_one(scope: &Scope, now: u64, tokens: u64) -> Result<(), Refusal> {
    let state = &scope.state;
    let limits = &scope.limits;
    let refuse = |what: String, kind: &'static str, retry_after: Duration| Refusal {
        message: format!("{}: {what}", scope.label),
        kind,
        retry_after,
    };
    if let Some(max) = limits.max_concurrent {
        let taken = state
            .in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        if taken.is_err() {
            return Err(refuse(
                format!("{max} concurrent requests"),
                "concurrent_requests",
                Duration::from_secs(1),
            ));
        }
    }
    let release_slot = || {
        if limits.max_concurrent.is_some() {
            state.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    };
    // Requests first, then tokens; the cells already taken are given back if a later one
    // refuses (walking the same table again, so admission allocates nothing).
    let windows = state.windows(limits);
    for (i, window) in windows.iter().enumerate() {
        let Some(limit) = window.limit else { continue };
        let units = window.units(limit, tokens);
        if units == 0 {
            continue;
        }
        if let Err(wait) = window.cell.acquire(now, units, limit, window.length) {
            give_back(&windows[..i], tokens);
            release_slot();
            let kind = window.kind();
            return Err(refuse(
                format!("{limit} {kind} per {}", window.per()),
                kind,
                wait,
            ));
        }
    }
    Ok(())
}

impl Admission {
    pub fn scopes(&self) -> &[Scope] {
        &self.scopes
    }

    /// The tokens reserved in every scope with a token limit.
    pub fn reserved_tokens(&self) -> u64 {
        self.reserved_tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: u64 = 1_000_000_000;

    #[test]
    fn gcra_allows_exactly_the_limit_in_a_quiet_window() {
        let cell = Gcra::default();
        let now = 10 * MINUTE;
        for i in 0..60 {
            assert!(cell.acquire(now, 1, 60, MINUTE).is_ok(), "request {i}");
        }
        let wait = cell.acquire(now, 1, 60, MINUTE).expect_err("61st refused");
        assert_eq!(wait, Duration::from_secs(1), "one request's worth of time");
        assert!(cell.acquire(now + SECOND, 1, 60, MINUTE).is_ok());
        assert!(cell.acquire(now + SECOND, 1, 60, MINUTE).is_err());
    }

    #[test]
    fn gcra_status_counts_down_and_refills() {
        let cell = Gcra::default();
        let now = MINUTE;
        assert_eq!(cell.status(now, 60, MINUTE), (60, Duration::ZERO));
        for _ in 0..10 {
            cell.acquire(now, 1, 60, MINUTE).expect("fits");
        }
        assert_eq!(cell.status(now, 60, MINUTE), (50, Duration::from_secs(10)));
        assert_eq!(cell.status(now + 5 * SECOND, 60, MINUTE).0, 55);
        cell.give_back(10, 60, MINUTE);
        assert_eq!(cell.status(now, 60, MINUTE).0, 60);
    }

    fn scope(registry: &LimitRegistry, id: i64, limits: Limits) -> Scope {
        Scope {
            id: ScopeId::Consumer(id),
            state: registry.state(ScopeId::Consumer(id)),
            limits,
            label: Arc::from(format!("consumer 'c{id}'")),
        }
    }

    #[test]
    fn a_refusing_scope_leaves_the_others_untouched() {
        let registry = LimitRegistry::default();
        let loose = Limits {
            rpm: Some(100),
            max_concurrent: Some(10),
            ..Limits::default()
        };
        let tight = Limits {
            rpm: Some(1),
            ..Limits::default()
        };
        let a = scope(&registry, 1, loose);
        let b = scope(&registry, 2, tight);
        registry
            .admit(vec![b.clone()], 0)
            .expect("first request fits");
        let (refusal, _) = registry
            .admit(vec![a.clone(), b.clone()], 0)
            .expect_err("b is spent");
        assert_eq!(refusal.message, "consumer 'c2': 1 requests per minute");
        assert!(refusal.retry_after > Duration::from_secs(59));
        assert_eq!(a.state.in_flight(), 0, "a's slot was given back");
        assert_eq!(
            registry.budgets(std::slice::from_ref(&a)).requests,
            Some(Budget {
                limit: 100,
                remaining: 100,
                reset: Duration::ZERO
            }),
            "a's request was given back"
        );
    }

    #[test]
    fn an_edited_limit_counts_what_was_used() {
        let state = LimitState::default();
        let now = MINUTE;
        state.reconfigure(
            &Limits {
                rpm: Some(5),
                ..Limits::default()
            },
            now,
        );
        for _ in 0..5 {
            state.rpm.acquire(now, 1, 5, MINUTE).expect("fits");
        }
        let raised = Limits {
            rpm: Some(10),
            ..Limits::default()
        };
        state.reconfigure(&raised, now);
        assert_eq!(state.rpm.status(now, 10, MINUTE).0, 5, "5 of 10 used");
        for _ in 0..5 {
            state
                .rpm
                .acquire(now, 1, 10, MINUTE)
                .expect("the raised limit applies");
        }
        assert!(state.rpm.acquire(now, 1, 10, MINUTE).is_err());
        let lowered = Limits {
            rpm: Some(4),
            ..Limits::default()
        };
        state.reconfigure(&lowered, now);
        assert_eq!(state.rpm.status(now, 4, MINUTE).0, 0, "10 used is over 4");
        assert!(state.rpm.acquire(now, 1, 4, MINUTE).is_err());
    }

    #[test]
    fn concurrency_slots_are_held_until_settled() {
        let registry = LimitRegistry::default();
        let limits = Limits {
            max_concurrent: Some(2),
            ..Limits::default()
        };
        let s = scope(&registry, 1, limits);
        let mut first = registry.admit(vec![s.clone()], 0).expect("1");
        let _second = registry.admit(vec![s.clone()], 0).expect("2");
        let (refusal, _) = registry.admit(vec![s.clone()], 0).expect_err("3");
        assert!(refusal.message.ends_with("2 concurrent requests"));
        registry.settle(&mut first, 0);
        registry.settle(&mut first, 0);
        assert_eq!(s.state.in_flight(), 1, "settling twice releases once");
        registry.admit(vec![s], 0).expect("a slot is free again");
    }

    #[test]
    fn token_reservations_are_reconciled() {
        let registry = LimitRegistry::default();
        let limits = Limits {
            tpm: Some(1000),
            ..Limits::default()
        };
        let s = scope(&registry, 1, limits);
        let mut a = registry.admit(vec![s.clone()], 600).expect("600 of 1000");
        registry
            .admit(vec![s.clone()], 600)
            .expect_err("only 400 are left while 600 are reserved");
        registry.settle(&mut a, 100);
        let left = registry
            .budgets(std::slice::from_ref(&s))
            .tokens
            .expect("set");
        assert!((895..=900).contains(&left.remaining), "{left:?}");
        let mut b = registry
            .admit(vec![s.clone()], 600)
            .expect("fits after the refund");
        registry.settle(&mut b, 2000);
        let left = registry
            .budgets(std::slice::from_ref(&s))
            .tokens
            .expect("set");
        assert_eq!(left.remaining, 0, "usage beyond the reservation is charged");
    }

    #[test]
    fn concurrent_reservations_never_overshoot() {
        let registry = Arc::new(LimitRegistry::default());
        let limits = Limits {
            tpm: Some(10_000),
            ..Limits::default()
        };
        let s = scope(&registry, 1, limits);
        let admitted = std::thread::scope(|threads| {
            let handles: Vec<_> = (0..20)
                .map(|_| {
                    let registry = Arc::clone(&registry);
                    let s = s.clone();
                    threads.spawn(move || registry.admit(vec![s], 1500).is_ok())
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(false))
                .filter(|ok| *ok)
                .count()
        });
        assert_eq!(admitted, 6, "6 × 1500 fit in 10,000, a 7th does not");
    }

    #[test]
    fn oversized_requests_pass_on_a_full_bucket() {
        let registry = LimitRegistry::default();
        let limits = Limits {
            tpm: Some(100),
            ..Limits::default()
        };
        let s = scope(&registry, 1, limits);
        let mut big = registry.admit(vec![s.clone()], 5000).expect("clamped");
        registry
            .admit(vec![s.clone()], 1)
            .expect_err("bucket spent");
        registry.settle(&mut big, 5000);
        let left = registry
            .budgets(std::slice::from_ref(&s))
            .tokens
            .expect("set");
        assert_eq!(left.remaining, 0);
        assert!(left.reset > Duration::from_secs(60 * 49), "{left:?}");
    }
}
