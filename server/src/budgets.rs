//! Spend budgets on consumers and keys: calendar periods in the budget's timezone, a worst-case
//! reservation at admission reconciled with the real cost when the request finishes, and alerts
//! when the soft limit is crossed or the hard one hit.
//!
//! Each budget's counters are atomics that outlive snapshots (keyed like the limit counters), so
//! admission takes no lock. `committed` is what the period has spent plus what requests in flight
//! have reserved; a request is admitted while `committed` is under the limit, and reserves its
//! worst case. So however many requests race, the period overspends by at most the one admitted
//! last — unlike a check of spend alone, where every concurrent request sees the same room.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone};
use chrono_tz::Tz;
use switchyard_shared::metering::usd_from_micros;
use switchyard_shared::{Budget, BudgetAlert, BudgetPeriod, BudgetStatus};

use crate::limits::ScopeId;

/// No period yet (`period_start` of a fresh counter).
const NONE: i64 = i64::MIN;

/// One budget's counters for its current period, in micro-dollars.
#[derive(Debug)]
pub struct BudgetState {
    period_start: AtomicI64,
    /// When the current period ends (`i64::MAX` for `total`), so most admissions skip the
    /// calendar arithmetic.
    period_end: AtomicI64,
    committed: AtomicI64,
    spent: AtomicI64,
    /// The period whose soft and hard alerts have fired.
    soft_alerted: AtomicI64,
    hard_alerted: AtomicI64,
    /// The period whose earlier spend was loaded from the request records.
    loaded: AtomicI64,
    /// When a snapshot holding this budget was first installed: requests since then settle in
    /// memory, so loading spend from the records must count only what came before.
    activated: AtomicI64,
    /// The period kind and timezone the counters follow (a hash); when an edit changes them,
    /// the counters start over and load the new period's spend from the records.
    shape: std::sync::atomic::AtomicU64,
    /// Spend settled here while the cluster's Redis was unreachable and not yet added to it
    /// (cluster mode only; see `shared_state::admission`'s reconcile).
    unshared: AtomicI64,
}

impl Default for BudgetState {
    fn default() -> Self {
        BudgetState {
            period_start: AtomicI64::new(NONE),
            period_end: AtomicI64::new(NONE),
            committed: AtomicI64::new(0),
            spent: AtomicI64::new(0),
            soft_alerted: AtomicI64::new(NONE),
            hard_alerted: AtomicI64::new(NONE),
            loaded: AtomicI64::new(NONE),
            activated: AtomicI64::new(NONE),
            shape: std::sync::atomic::AtomicU64::new(0),
            unshared: AtomicI64::new(0),
        }
    }
}

/// Budget counters for every scope, where alerts go, and the clock periods follow.
#[derive(Debug, Default)]
pub struct BudgetRegistry {
    states: Mutex<HashMap<ScopeId, Arc<BudgetState>>>,
    alerts: OnceLock<tokio::sync::mpsc::UnboundedSender<BudgetAlert>>,
    /// The gateway's one wall clock (records use it too), movable in tests.
    pub clock: Arc<crate::clock::Clock>,
}

impl BudgetRegistry {
    pub fn state(&self, id: ScopeId) -> Arc<BudgetState> {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(states.entry(id).or_default())
    }

    /// Drops the counters of scopes that no longer have a budget.
    pub fn retain(&self, live: impl Fn(&ScopeId) -> bool) {
        let mut states = self.states.lock().unwrap_or_else(|p| p.into_inner());
        states.retain(|id, _| live(id));
    }

    /// Where alerts are sent from now on (the alert task's queue).
    pub fn set_alert_sink(&self, sink: tokio::sync::mpsc::UnboundedSender<BudgetAlert>) {
        let _ = self.alerts.set(sink);
    }

    fn alert(&self, alert: BudgetAlert) {
        if let Some(sink) = self.alerts.get() {
            let _ = sink.send(alert);
        }
    }
}

/// Whose budget it is.
#[derive(Clone, Debug)]
pub enum BudgetOwner {
    Consumer {
        id: i64,
        name: Arc<str>,
    },
    Key {
        id: i64,
        name: Arc<str>,
        consumer: Arc<str>,
    },
}

/// A budget as the snapshot holds it: the spec, parsed once, and its counters.
#[derive(Debug)]
pub struct CompiledBudget {
    pub spec: Budget,
    pub owner: BudgetOwner,
    limit: i64,
    soft: Option<i64>,
    timezone: Tz,
    pub state: Arc<BudgetState>,
    registry: Arc<BudgetRegistry>,
}

/// Dollars to micro-dollars, rounded, for limits (validated finite and bounded).
fn micros(usd: f64) -> i64 {
    (usd * switchyard_shared::metering::MICROS_PER_USD).round() as i64
}

impl CompiledBudget {
    /// Compiles a budget; an unknown timezone is an error (validation should have caught it).
    pub fn new(
        spec: &Budget,
        owner: BudgetOwner,
        registry: &Arc<BudgetRegistry>,
    ) -> Result<CompiledBudget, String> {
        let timezone: Tz = spec
            .timezone
            .parse()
            .map_err(|_| format!("unknown timezone {:?}", spec.timezone))?;
        let id = match &owner {
            BudgetOwner::Consumer { id, .. } => ScopeId::Consumer(*id),
            BudgetOwner::Key { id, .. } => ScopeId::Key(*id),
        };
        let state = registry.state(id);
        let shape = {
            use std::hash::{Hash, Hasher};
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            (spec.period, &spec.timezone).hash(&mut hasher);
            hasher.finish() | 1
        };
        let previous = state.shape.swap(shape, Ordering::AcqRel);
        if previous != 0 && previous != shape {
            state.period_start.store(NONE, Ordering::Release);
            state.period_end.store(NONE, Ordering::Release);
            state.committed.store(0, Ordering::Release);
            state.spent.store(0, Ordering::Release);
            state.loaded.store(NONE, Ordering::Release);
            state.activated.store(NONE, Ordering::Release);
            state.unshared.store(0, Ordering::Release);
        }
        let compiled = CompiledBudget {
            spec: spec.clone(),
            owner,
            limit: micros(spec.limit_usd),
            soft: spec.soft_limit_usd.map(micros),
            timezone,
            state,
            registry: Arc::clone(registry),
        };
        Ok(compiled)
    }

    /// The scope id its counters and records are found under.
    pub fn scope_id(&self) -> ScopeId {
        match &self.owner {
            BudgetOwner::Consumer { id, .. } => ScopeId::Consumer(*id),
            BudgetOwner::Key { id, .. } => ScopeId::Key(*id),
        }
    }

    fn label(&self) -> String {
        let period = self.spec.period.as_str();
        match &self.owner {
            BudgetOwner::Consumer { name, .. } => {
                format!("the {period} budget of consumer '{name}'")
            }
            BudgetOwner::Key { name, consumer, .. } => {
                format!("the {period} budget of key '{name}' of consumer '{consumer}'")
            }
        }
    }

    /// The current period, rolling the counters over when a new one began. Returns its start.
    pub fn roll(&self, now_ms: i64) -> i64 {
        let state = &self.state;
        let start = state.period_start.load(Ordering::Acquire);
        if start != NONE && now_ms >= start && now_ms < state.period_end.load(Ordering::Acquire) {
            return start;
        }
        let (new_start, new_end) = period_bounds(self.spec.period, self.timezone, now_ms);
        if new_start == start {
            return start;
        }
        // One thread wins the change of period and zeroes the counters; requests reserved in the
        // old period settle against it (see `BudgetHold::settle`), so nothing leaks across.
        if state
            .period_start
            .compare_exchange(start, new_start, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            state.committed.store(0, Ordering::Release);
            state.spent.store(0, Ordering::Release);
            // Spend of a finished period that Redis never heard of stays out of the new one.
            state.unshared.store(0, Ordering::Release);
            state.period_end.store(new_end, Ordering::Release);
            // A process that counted the old period counts the new one from its start: there is
            // nothing earlier to load, and loading would count this period's records twice.
            if start != NONE {
                let _ = state.loaded.compare_exchange(
                    start,
                    new_start,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
        }
        state.period_start.load(Ordering::Acquire)
    }

    /// Adds spend loaded from the records, once per period (at start, or when a budget appears).
    /// Returns whether this period still needed it.
    pub fn load_spent(&self, period_start: i64, spent: i64) -> bool {
        if self.roll_to(period_start)
            && self
                .state
                .loaded
                .swap(period_start, Ordering::AcqRel)
                .ne(&period_start)
        {
            self.state.committed.fetch_add(spent, Ordering::AcqRel);
            let total = self.state.spent.fetch_add(spent, Ordering::AcqRel) + spent;
            // A restart must not alert again for a line crossed before it.
            if self.soft.is_some_and(|soft| total >= soft) {
                self.state
                    .soft_alerted
                    .store(period_start, Ordering::Release);
            }
            if total >= self.limit {
                self.state
                    .hard_alerted
                    .store(period_start, Ordering::Release);
            }
            return true;
        }
        false
    }

    fn roll_to(&self, period_start: i64) -> bool {
        self.state.period_start.load(Ordering::Acquire) == period_start
    }

    /// The span of records whose spend is still to be loaded for the current period: from its
    /// start, until the budget was activated (`None`: until now, at start-up).
    pub fn needs_load(&self, now_ms: i64) -> Option<(i64, Option<i64>)> {
        let start = self.roll(now_ms);
        if self.state.loaded.load(Ordering::Acquire) == start {
            return None;
        }
        let activated = self.state.activated.load(Ordering::Acquire);
        Some((start, (activated != NONE).then_some(activated)))
    }

    /// Marks the budget live from `now_ms` on, if it was not already: called just before a
    /// snapshot holding it is installed, so every request that settles it in memory has a
    /// record time at or after this.
    pub fn activate(&self, now_ms: i64) {
        let _ = self.state.activated.compare_exchange(
            NONE,
            now_ms,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    pub fn status(&self, now_ms: i64) -> BudgetStatus {
        let start = self.roll(now_ms);
        let end = self.state.period_end.load(Ordering::Acquire);
        let spent = self.state.spent.load(Ordering::Acquire);
        let committed = self.state.committed.load(Ordering::Acquire);
        let (scope, consumer, key_id, key_name) = match &self.owner {
            BudgetOwner::Consumer { name, .. } => ("consumer", name.to_string(), None, None),
            BudgetOwner::Key { id, name, consumer } => (
                "key",
                consumer.to_string(),
                Some(*id),
                Some(name.to_string()),
            ),
        };
        BudgetStatus {
            scope: scope.to_owned(),
            consumer,
            key_id,
            key_name,
            budget: self.spec.clone(),
            period_start: (self.spec.period != BudgetPeriod::Total).then(|| rfc3339(start)),
            period_end: (end != i64::MAX).then(|| rfc3339(end)),
            spent_usd: usd_from_micros(spent),
            reserved_usd: usd_from_micros(committed.saturating_sub(spent).max(0)),
        }
    }

    fn send_alert(&self, event: &str, period_start: i64, now_ms: i64) {
        let spent = self.state.spent.load(Ordering::Acquire);
        self.send_alert_at(event, period_start, now_ms, spent);
    }

    /// Sends an alert for `spent` (the cluster's spend when Redis reported the crossing).
    fn send_alert_at(&self, event: &str, period_start: i64, now_ms: i64, spent: i64) {
        let (scope, consumer, key_id) = match &self.owner {
            BudgetOwner::Consumer { name, .. } => ("consumer", name.to_string(), None),
            BudgetOwner::Key { id, consumer, .. } => ("key", consumer.to_string(), Some(*id)),
        };
        tracing::warn!(
            budget = %self.label(),
            event,
            spent_usd = usd_from_micros(spent),
            limit_usd = self.spec.limit_usd,
            "budget alert"
        );
        self.registry.alert(BudgetAlert {
            event: event.to_owned(),
            scope: scope.to_owned(),
            consumer,
            key_id,
            limit_usd: self.spec.limit_usd,
            soft_limit_usd: self.spec.soft_limit_usd,
            spent_usd: usd_from_micros(spent),
            period: self.spec.period,
            period_start: (self.spec.period != BudgetPeriod::Total).then(|| rfc3339(period_start)),
            time: rfc3339(now_ms),
        });
    }

    /// Fires the soft and hard alerts whose line the spend has crossed, once per period each.
    fn check_alerts(&self, period_start: i64, now_ms: i64) {
        let spent = self.state.spent.load(Ordering::Acquire);
        if let Some(soft) = self.soft
            && spent >= soft
            && self.state.soft_alerted.swap(period_start, Ordering::AcqRel) != period_start
        {
            self.send_alert("budget.soft_limit_crossed", period_start, now_ms);
        }
        if spent >= self.limit {
            self.hard_alert(period_start, now_ms);
        }
    }

    fn hard_alert(&self, period_start: i64, now_ms: i64) {
        if self.state.hard_alerted.swap(period_start, Ordering::AcqRel) != period_start {
            self.send_alert("budget.exceeded", period_start, now_ms);
        }
    }
}

impl CompiledBudget {
    /// The refusal of a request while this budget's period, ending at `end`, is used up.
    pub fn refusal(&self, end: i64, now_ms: i64) -> BudgetRefusal {
        let retry_after = (end != i64::MAX)
            .then(|| Duration::from_millis(u64::try_from(end.saturating_sub(now_ms)).unwrap_or(0)));
        let resets = match retry_after {
            Some(_) => format!("; it resets at {}", rfc3339(end)),
            None => "; it does not reset".to_owned(),
        };
        BudgetRefusal {
            message: format!(
                "Budget exceeded: {} (${:.2}) is used up{resets}.",
                self.label(),
                self.spec.limit_usd
            ),
            retry_after,
        }
    }

    /// Now on the gateway's wall clock (the one records and periods follow).
    pub fn now_ms(&self) -> i64 {
        self.registry.clock.now_ms()
    }

    /// The limit and the soft limit in micro-dollars.
    pub fn limits_micros(&self) -> (i64, Option<i64>) {
        (self.limit, self.soft)
    }

    /// The current period (start, end) and what this gateway knows was spent in it: the
    /// records' spend loaded at start, and every cost settled here since, less what still waits
    /// to be added to Redis. In cluster mode it seeds Redis's count of a period Redis does not
    /// know.
    pub fn local_period(&self, now_ms: i64) -> (i64, i64, i64) {
        let start = self.roll(now_ms);
        let end = self.state.period_end.load(Ordering::Acquire);
        // What waits to be added to Redis is left out: the reconcile adds it.
        let spent = self.state.spent.load(Ordering::Acquire);
        let unshared = self.state.unshared.load(Ordering::Acquire);
        (start, end, spent.saturating_sub(unshared))
    }

    /// Counts a cost that Redis settled in this gateway's own counters too, so they stay what
    /// it has seen spent (the fallback under `redis_failure: open`, and the seed); the lines it
    /// crosses are marked alerted without alerting, since Redis decides the cluster's alerts.
    pub fn mirror_shared(&self, period_start: i64, actual: i64) {
        let state = &self.state;
        if state.period_start.load(Ordering::Acquire) != period_start {
            return;
        }
        state.committed.fetch_add(actual, Ordering::AcqRel);
        let spent = state.spent.fetch_add(actual, Ordering::AcqRel) + actual;
        if self.soft.is_some_and(|soft| spent >= soft) {
            state.soft_alerted.store(period_start, Ordering::Release);
        }
        if spent >= self.limit {
            state.hard_alerted.store(period_start, Ordering::Release);
        }
    }

    /// Fires the alerts a settle in Redis reported crossed (each once in the cluster).
    pub fn shared_alerts(&self, period_start: i64, spent: i64, soft: bool, hard: bool) {
        let now_ms = self.registry.clock.now_ms();
        if soft {
            self.state
                .soft_alerted
                .store(period_start, Ordering::Release);
            self.send_alert_at("budget.soft_limit_crossed", period_start, now_ms, spent);
        }
        if hard {
            self.state
                .hard_alerted
                .store(period_start, Ordering::Release);
            self.send_alert_at("budget.exceeded", period_start, now_ms, spent);
        }
    }

    /// Takes the spend settled here while Redis was unreachable, to add it to Redis: the
    /// current period and the amount, or `None` when there is none.
    pub fn take_unshared(&self) -> Option<(i64, i64)> {
        let amount = self.state.unshared.swap(0, Ordering::AcqRel);
        (amount != 0).then(|| (self.state.period_start.load(Ordering::Acquire), amount))
    }

    /// Puts back what [`take_unshared`](Self::take_unshared) took when Redis did not take it.
    pub fn restore_unshared(&self, period_start: i64, amount: i64) {
        if self.state.period_start.load(Ordering::Acquire) == period_start {
            self.state.unshared.fetch_add(amount, Ordering::AcqRel);
        }
    }
}

/// A budget reservation made somewhere else than in this process's counters (the cluster's
/// Redis), settled with the real cost, or with the reservation when `actual` is `None`.
pub trait DeferredSettle: Send + Sync + std::fmt::Debug {
    fn settle(self: Box<Self>, actual: Option<i64>);
}

/// A budget refused the request.
#[derive(Debug)]
pub struct BudgetRefusal {
    pub message: String,
    /// Until the period resets; `None` for `total`.
    pub retry_after: Option<Duration>,
}

/// The reservations one request holds, settled with its real cost when it finishes. Dropped
/// unsettled (the meter could not take the record), it charges the reservation: too much rather
/// than nothing.
#[derive(Debug, Default)]
pub struct BudgetHold {
    entries: Vec<(Arc<CompiledBudget>, i64, i64)>,
    /// Reservations held in the cluster's Redis instead.
    deferred: Option<Box<dyn DeferredSettle>>,
    /// Made while Redis was unreachable: the spend is also kept aside to add to Redis later.
    unshared: bool,
}

impl BudgetHold {
    /// Replaces each reservation with `actual` (in the period it was made in; a request that
    /// straddled a reset charges nothing to the new period, matching how spend is recomputed
    /// from records, which count a request at its start).
    pub fn settle(mut self, actual: i64, now_ms: i64) {
        if let Some(deferred) = self.deferred.take() {
            deferred.settle(Some(actual.max(0)));
        }
        self.settle_with(actual, now_ms);
    }

    /// A hold whose reservations live in the cluster's Redis.
    pub fn deferred(deferred: Box<dyn DeferredSettle>) -> BudgetHold {
        BudgetHold {
            entries: Vec::new(),
            deferred: Some(deferred),
            unshared: false,
        }
    }

    /// Marks a hold made while Redis was unreachable: its spend is added to Redis when it
    /// answers again.
    pub fn mark_unshared(&mut self) {
        self.unshared = true;
    }

    fn settle_with(&mut self, actual: i64, now_ms: i64) {
        let actual = actual.max(0);
        for (budget, period_start, reserved) in self.entries.drain(..) {
            let state = &budget.state;
            if state.period_start.load(Ordering::Acquire) != period_start {
                continue;
            }
            if self.unshared {
                state.unshared.fetch_add(actual, Ordering::AcqRel);
            }
            state
                .committed
                .fetch_add(actual.saturating_sub(reserved), Ordering::AcqRel);
            state.spent.fetch_add(actual, Ordering::AcqRel);
            budget.check_alerts(period_start, now_ms);
        }
    }
}

impl Drop for BudgetHold {
    fn drop(&mut self) {
        if let Some(deferred) = self.deferred.take() {
            deferred.settle(None);
        }
        if self.entries.is_empty() {
            return;
        }
        let now = self
            .entries
            .first()
            .map_or(0, |(budget, _, _)| budget.registry.clock.now_ms());
        let reserved = self.entries.first().map_or(0, |(_, _, r)| *r);
        self.settle_with(reserved, now);
    }
}

/// Reserves `worst` micro-dollars in every budget, or in none: the first budget already at its
/// limit refuses the request.
pub fn reserve(
    budgets: &[Arc<CompiledBudget>],
    worst: i64,
    now_ms: i64,
) -> Result<BudgetHold, BudgetRefusal> {
    let worst = worst.max(0);
    let mut hold = BudgetHold {
        entries: Vec::with_capacity(budgets.len()),
        deferred: None,
        unshared: false,
    };
    for budget in budgets {
        let period_start = budget.roll(now_ms);
        let taken =
            budget
                .state
                .committed
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |committed| {
                    (committed < budget.limit).then(|| committed.saturating_add(worst))
                });
        if taken.is_err() {
            // Give back what the earlier budgets took; nothing was spent.
            for (taken, _, reserved) in hold.entries.drain(..) {
                taken.state.committed.fetch_sub(reserved, Ordering::AcqRel);
            }
            // No alert here: the refusal may be for reservations still in flight, while the hard
            // limit is "hit" only when real spend reaches it (at settlement).
            let end = budget.state.period_end.load(Ordering::Acquire);
            return Err(budget.refusal(end, now_ms));
        }
        hold.entries.push((Arc::clone(budget), period_start, worst));
    }
    Ok(hold)
}

/// The start and end (ms since the epoch) of the period holding `now_ms`, on the calendar of
/// `timezone`; `total` runs from the epoch forever.
pub fn period_bounds(period: BudgetPeriod, timezone: Tz, now_ms: i64) -> (i64, i64) {
    let Some(now) = timezone.timestamp_millis_opt(now_ms).single() else {
        return (0, i64::MAX);
    };
    let today = now.date_naive();
    let (start, end) = match period {
        BudgetPeriod::Total => return (0, i64::MAX),
        BudgetPeriod::Day => (today, today.succ_opt()),
        BudgetPeriod::Week => {
            let monday =
                today - chrono::Days::new(u64::from(today.weekday().num_days_from_monday()));
            (monday, monday.checked_add_days(chrono::Days::new(7)))
        }
        BudgetPeriod::Month => {
            let first = today.with_day(1).unwrap_or(today);
            (first, first.checked_add_months(chrono::Months::new(1)))
        }
    };
    let start_ms = local_midnight(timezone, start);
    let end_ms = end.map_or(i64::MAX, |end| local_midnight(timezone, end));
    (start_ms, end_ms)
}

/// The first instant of `date` in `timezone`: midnight, or the first hour that exists when a
/// daylight-saving change skips midnight there.
fn local_midnight(timezone: Tz, date: NaiveDate) -> i64 {
    (0..4)
        .find_map(|hour| {
            let local = date.and_hms_opt(hour, 0, 0)?;
            timezone.from_local_datetime(&local).earliest()
        })
        .map_or(0, |at| at.timestamp_millis())
}

fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn ms(text: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .expect("time")
            .timestamp_millis()
    }

    fn budget(limit: f64, soft: Option<f64>, period: BudgetPeriod) -> Arc<CompiledBudget> {
        let registry = Arc::new(BudgetRegistry::default());
        let spec = Budget {
            limit_usd: limit,
            period,
            timezone: "UTC".into(),
            soft_limit_usd: soft,
        };
        let owner = BudgetOwner::Consumer {
            id: 1,
            name: Arc::from("team"),
        };
        Arc::new(CompiledBudget::new(&spec, owner, &registry).expect("compiles"))
    }

    #[test]
    fn periods_follow_the_calendar_of_the_timezone() {
        let utc: Tz = "UTC".parse().expect("tz");
        let berlin: Tz = "Europe/Berlin".parse().expect("tz");
        let now = ms("2026-12-06T23:30:00Z");
        assert_eq!(
            period_bounds(BudgetPeriod::Day, utc, now),
            (ms("2026-12-06T00:00:00Z"), ms("2026-12-07T00:00:00Z"))
        );
        // 00:30 on the 7th in Berlin.
        assert_eq!(
            period_bounds(BudgetPeriod::Day, berlin, now),
            (ms("2026-12-06T23:00:00Z"), ms("2026-12-07T23:00:00Z"))
        );
        assert_eq!(
            period_bounds(BudgetPeriod::Week, utc, now),
            (ms("2026-11-30T00:00:00Z"), ms("2026-12-07T00:00:00Z"))
        );
        assert_eq!(
            period_bounds(BudgetPeriod::Month, utc, now),
            (ms("2026-12-01T00:00:00Z"), ms("2027-01-01T00:00:00Z"))
        );
        assert_eq!(period_bounds(BudgetPeriod::Total, utc, now), (0, i64::MAX));
        // A month that spans the end of daylight saving time is not 30 × 24 hours.
        let (start, end) = period_bounds(BudgetPeriod::Month, berlin, ms("2026-10-15T12:00:00Z"));
        assert_eq!(start, ms("2026-09-30T22:00:00Z"));
        assert_eq!(end, ms("2026-10-31T23:00:00Z"));
    }

    #[test]
    fn concurrent_reservations_overspend_by_at_most_one_request() {
        let budget = budget(1.0, None, BudgetPeriod::Day);
        let now = ms("2026-12-06T12:00:00Z");
        // Each request reserves 0.30 and costs 0.25: admitted while committed < 1.00.
        let holds: Vec<_> = (0..20)
            .filter_map(|_| reserve(&[Arc::clone(&budget)], 300_000, now).ok())
            .collect();
        assert_eq!(holds.len(), 4, "0, 0.3, 0.6, 0.9 are under 1.00");
        for hold in holds {
            hold.settle(250_000, now);
        }
        assert_eq!(budget.state.spent.load(Ordering::Relaxed), 1_000_000);
        let refused = reserve(&[Arc::clone(&budget)], 1, now).expect_err("spent");
        assert!(
            refused.message.contains("consumer 'team'"),
            "{}",
            refused.message
        );
        assert_eq!(
            refused.retry_after,
            Some(Duration::from_millis(12 * 3_600_000))
        );
    }

    #[test]
    fn a_new_period_starts_from_zero_and_old_reservations_stay_in_theirs() {
        let budget = budget(1.0, None, BudgetPeriod::Day);
        let now = ms("2026-12-06T23:59:00Z");
        let straddling = reserve(&[Arc::clone(&budget)], 500_000, now).expect("room");
        reserve(&[Arc::clone(&budget)], 600_000, now)
            .expect("room")
            .settle(1_000_000, now);
        assert!(reserve(&[Arc::clone(&budget)], 1, now).is_err());
        let tomorrow = now + DAY;
        let hold = reserve(&[Arc::clone(&budget)], 100_000, tomorrow).expect("a new day");
        straddling.settle(400_000, tomorrow);
        assert_eq!(budget.state.spent.load(Ordering::Relaxed), 0);
        hold.settle(100_000, tomorrow);
        assert_eq!(budget.state.spent.load(Ordering::Relaxed), 100_000);
    }

    #[test]
    fn every_budget_or_none_and_unsettled_holds_charge_the_reservation() {
        let roomy = budget(10.0, None, BudgetPeriod::Month);
        let full = budget(1.0, None, BudgetPeriod::Month);
        let now = ms("2026-12-06T12:00:00Z");
        reserve(&[Arc::clone(&full)], 1_000_000, now)
            .expect("room")
            .settle(1_000_000, now);
        assert!(reserve(&[Arc::clone(&roomy), Arc::clone(&full)], 5, now).is_err());
        assert_eq!(roomy.state.committed.load(Ordering::Relaxed), 0);
        drop(reserve(&[Arc::clone(&roomy)], 700, now).expect("room"));
        assert_eq!(roomy.state.spent.load(Ordering::Relaxed), 700);
    }

    #[test]
    fn alerts_fire_once_per_period_and_not_again_after_a_reload_of_spend() {
        let budget = budget(1.0, Some(0.5), BudgetPeriod::Day);
        let (sink, mut alerts) = tokio::sync::mpsc::unbounded_channel();
        budget.registry.set_alert_sink(sink);
        let now = ms("2026-12-06T12:00:00Z");
        // The fourth is admitted at 0.90 spent and takes the spend over the limit.
        for _ in 0..4 {
            reserve(&[Arc::clone(&budget)], 300_000, now)
                .expect("room")
                .settle(300_000, now);
        }
        let _ = reserve(&[Arc::clone(&budget)], 1, now);
        let events: Vec<String> = std::iter::from_fn(|| alerts.try_recv().ok())
            .map(|a| a.event)
            .collect();
        assert_eq!(
            events,
            ["budget.soft_limit_crossed", "budget.exceeded"],
            "each once"
        );
        let fresh = super::tests::budget(1.0, Some(0.5), BudgetPeriod::Day);
        let (start, until) = fresh.needs_load(now).expect("not loaded");
        assert_eq!(until, None, "never activated: all records count");
        assert!(fresh.load_spent(start, 600_000));
        assert!(!fresh.load_spent(start, 600_000), "once per period");
        assert_eq!(fresh.state.soft_alerted.load(Ordering::Relaxed), start);
        assert!(fresh.needs_load(now).is_none());
    }
}
