//! Shared admission (cluster mode): the request, token and concurrency limits of every scope a
//! request falls under, and the spend budgets of its key and consumer, checked and reserved in
//! Redis by one script in one round trip, all or nothing, with the same rules as the local
//! `limits.rs` and `budgets.rs` (GCRA windows, concurrency slots, `committed` against the limit).
//!
//! - Time is Redis's (`TIME`, in µs), so gateways with skewed clocks share one timeline; budget
//!   periods are computed here from the gateway's clock and the budget's timezone, and name the
//!   Redis hash of the period.
//! - Concurrency slots are leases: a sorted set per scope, member = request (this gateway's id
//!   and a sequence number), score = expiry. Admission drops lapsed members when the cap is
//!   reached; this gateway's renewer extends the leases of its requests in flight, so a killed
//!   gateway's slots free themselves within one lease.
//! - Settlement runs off the answer's path: a spawned task runs one SETTLE script. A settle that
//!   fails is kept and retried when Redis answers again.
//! - Keys carry a hash tag per scope (`sy:l:{c:12}`), and ids only: never a client key.
//!
//! Under Redis Cluster one request's scopes may live on different slots, which one script
//! cannot span: this module supports a single Redis (or a primary with replicas).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use redis::Script;
use switchyard_shared::Limits;
use tokio::sync::mpsc;

use super::{Redis, SharedError};
use crate::budgets::{BudgetHold, BudgetRefusal, CompiledBudget, DeferredSettle};
use crate::limits::{Budget, Budgets, Refusal, Scope, ScopeId, window_left};

const ADMIT: &str = concat!(
    include_str!("scripts/common.lua"),
    include_str!("scripts/admit.lua")
);
const SETTLE: &str = concat!(
    include_str!("scripts/common.lua"),
    include_str!("scripts/settle.lua")
);
const RENEW: &str = concat!(
    include_str!("scripts/common.lua"),
    include_str!("scripts/renew.lua")
);

/// Failed settles kept for a retry; beyond this the oldest are dropped (their leases lapse on
/// their own, their token and budget reservations stay counted until their windows pass).
const MAX_PENDING: usize = 10_000;
/// A budget hash outlives its period by a day, so late settles still find it.
const BUDGET_GRACE_MS: i64 = 86_400_000;

/// This gateway's side of the shared counters: the scripts, its lease renewer's queue, and the
/// settles waiting for Redis to come back.
pub struct SharedLimits {
    pub redis: Arc<Redis>,
    /// Names this gateway's leases (random per process), so members are unique in the cluster.
    node: String,
    seq: AtomicU64,
    lease: Duration,
    leases: mpsc::UnboundedSender<Weak<Lease>>,
    pending: Mutex<VecDeque<Settle>>,
    admit: Script,
    settle: Script,
    renew: Script,
    /// An error Redis answered a script with is a bug, logged once, not per request.
    script_error_logged: AtomicBool,
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for SharedLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLimits")
            .field("node", &self.node)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// One request's concurrency leases, extended by the renewer while this is alive.
#[derive(Debug)]
pub struct Lease {
    keys: Vec<String>,
    member: String,
}

/// The renewer's end of the queue of new leases.
pub type LeaseQueue = mpsc::UnboundedReceiver<Weak<Lease>>;

/// What one request asks of the shared counters.
#[derive(Debug)]
pub struct Ask<'a> {
    pub scopes: &'a [Scope],
    /// Tokens to reserve in every token window.
    pub tokens: u64,
    pub budgets: &'a [Arc<CompiledBudget>],
    /// The worst-case cost reserved in every budget, in micro-dollars.
    pub worst: i64,
    /// The gateway's clock (ms since the epoch), for budget periods.
    pub now_ms: i64,
    /// Redis's clock overridden, in µs (tests); `None` uses `TIME`.
    pub now_us: Option<u64>,
    /// Response-cache entries (Redis key names) to read in the same round trip when the
    /// request is admitted: those its first attempt may be answered from.
    pub cache_entries: &'a [String],
}

/// The values of the cache entries an admission read, in the order asked (`None`: no entry).
pub type EntryValues = Vec<Option<Vec<u8>>>;

/// What the shared counters decided.
#[derive(Debug)]
pub enum Verdict {
    Admitted {
        admission: SharedAdmission,
        budgets: Budgets,
        /// The value of each of `Ask::cache_entries`, in order (`None`: no such entry).
        cached: EntryValues,
    },
    Limited {
        refusal: Refusal,
        budgets: Budgets,
    },
    OverBudget(BudgetRefusal),
}

/// A reservation of one budget period in Redis.
#[derive(Debug, Clone)]
struct HeldBudget {
    budget: Arc<CompiledBudget>,
    key: String,
    period_start: i64,
    expire_at: i64,
    reserved: i64,
}

/// One scope as settling sees it.
#[derive(Debug, Clone)]
struct HeldScope {
    windows: String,
    slots: String,
    limits: Limits,
}

/// One SETTLE call, kept for a retry when Redis does not answer.
#[derive(Debug)]
struct Settle {
    scopes: Vec<HeldScope>,
    member: String,
    reserved_tokens: u64,
    used_tokens: u64,
    /// Each budget with its real cost.
    budgets: Vec<(HeldBudget, i64)>,
}

impl Settle {
    /// Whether the call would change nothing: no token window to correct, no lease to give up
    /// and no budget to charge (a request under request limits only).
    fn is_empty(&self) -> bool {
        self.budgets.is_empty()
            && self
                .scopes
                .iter()
                .all(|scope| !scope.limits.limits_tokens() && scope.limits.max_concurrent.is_none())
    }
}

/// What an admitted request holds in Redis until it finishes.
#[derive(Debug)]
pub struct SharedAdmission {
    limits: Arc<SharedLimits>,
    held: Option<Held>,
}

#[derive(Debug)]
struct Held {
    scopes: Vec<HeldScope>,
    member: String,
    reserved_tokens: u64,
    budgets: Vec<HeldBudget>,
    /// Kept alive while the request is in flight; the renewer holds a `Weak`.
    _lease: Option<Arc<Lease>>,
}

/// The hash tag of a scope's keys: ids only, never names or key material.
fn tag(id: ScopeId) -> String {
    match id {
        ScopeId::Consumer(id) => format!("c:{id}"),
        ScopeId::Key(id) => format!("k:{id}"),
        ScopeId::Route(id) => format!("r:{id}"),
    }
}

fn limit_arg(limit: Option<u64>) -> u64 {
    limit.unwrap_or(0)
}

impl SharedLimits {
    /// The shared counters over `redis`, with concurrency leases of `lease`; the returned queue
    /// feeds the renewer ([`super::background::spawn`]). Must be called inside the runtime.
    pub fn new(redis: Arc<Redis>, lease: Duration) -> (Arc<SharedLimits>, LeaseQueue) {
        let (leases, queue) = mpsc::unbounded_channel();
        let limits = SharedLimits {
            redis,
            node: format!("{:016x}", fastrand::u64(..)),
            seq: AtomicU64::new(0),
            lease: lease.max(Duration::from_millis(300)),
            leases,
            pending: Mutex::new(VecDeque::new()),
            admit: Script::new(ADMIT),
            settle: Script::new(SETTLE),
            renew: Script::new(RENEW),
            script_error_logged: AtomicBool::new(false),
            runtime: tokio::runtime::Handle::current(),
        };
        (Arc::new(limits), queue)
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn windows_key(&self, id: ScopeId) -> String {
        self.redis.key(&format!("l:{{{}}}", tag(id)))
    }

    fn slots_key(&self, id: ScopeId) -> String {
        self.redis.key(&format!("s:{{{}}}", tag(id)))
    }

    /// Logs the first error Redis answers a script with (a bug, not an outage).
    fn script_error(&self, error: &SharedError) {
        if matches!(error, SharedError::Redis(e) if super::answered(e))
            && !self.script_error_logged.swap(true, Ordering::Relaxed)
        {
            tracing::error!(%error, "a shared-counter script failed in Redis; requests are counted locally meanwhile");
        }
    }

    /// Checks and reserves everything `ask` needs in one round trip.
    pub async fn admit(self: &Arc<Self>, ask: &Ask<'_>) -> Result<Verdict, SharedError> {
        let member = format!("{}:{}", self.node, self.seq.fetch_add(1, Ordering::Relaxed));
        let lease_ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.admit.prepare_invoke();
        invocation
            .arg(ask.scopes.len())
            .arg(ask.budgets.len())
            .arg(ask.tokens)
            .arg(&member)
            .arg(lease_ms)
            .arg(ask.now_us.unwrap_or(0));
        let mut held_scopes = Vec::with_capacity(ask.scopes.len());
        for scope in ask.scopes {
            let held = HeldScope {
                windows: self.windows_key(scope.id),
                slots: self.slots_key(scope.id),
                limits: scope.limits,
            };
            invocation.key(&held.windows).key(&held.slots);
            let limits = &scope.limits;
            invocation
                .arg(limit_arg(limits.rpm))
                .arg(limit_arg(limits.rpd))
                .arg(limit_arg(limits.tpm))
                .arg(limit_arg(limits.tpd))
                .arg(limit_arg(limits.max_concurrent));
            held_scopes.push(held);
        }
        let worst = ask.worst.max(0);
        let mut held_budgets = Vec::with_capacity(ask.budgets.len());
        for budget in ask.budgets {
            let (start, end, seed) = budget.local_period(ask.now_ms);
            let (limit, soft) = budget.limits_micros();
            let held = HeldBudget {
                budget: Arc::clone(budget),
                key: budget_key(&self.redis, budget, start),
                period_start: start,
                expire_at: expire_at(end),
                reserved: worst,
            };
            invocation.key(&held.key);
            invocation
                .arg(limit)
                .arg(worst)
                .arg(held.expire_at)
                .arg(seed)
                .arg(soft.unwrap_or(-1));
            held_budgets.push(held);
        }
        for entry in ask.cache_entries {
            invocation.key(entry);
        }
        let reply: Vec<redis::Value> = self
            .redis
            .call(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
            .inspect_err(|error| self.script_error(error))?;
        let (counts, cached) = split_reply(reply, ask.scopes.len())?;
        let field = |i: usize| counts.get(i).copied().unwrap_or(0);
        let budgets = header_budgets(ask.scopes, field(4), counts.get(5..).unwrap_or_default());
        let index = usize::try_from(field(1)).unwrap_or(0).saturating_sub(1);
        match field(0) {
            0 => {
                let lease = self.lease_for(&held_scopes, &member);
                Ok(Verdict::Admitted {
                    admission: SharedAdmission {
                        limits: Arc::clone(self),
                        held: Some(Held {
                            scopes: held_scopes,
                            member,
                            reserved_tokens: ask.tokens,
                            budgets: held_budgets,
                            _lease: lease,
                        }),
                    },
                    budgets,
                    cached,
                })
            }
            1 => {
                let scope = ask.scopes.get(index).ok_or_else(bad_reply)?;
                let retry = Duration::from_micros(u64::try_from(field(3)).unwrap_or(0));
                Ok(Verdict::Limited {
                    refusal: refusal(scope, field(2), retry),
                    budgets,
                })
            }
            _ => {
                let held = held_budgets.get(index).ok_or_else(bad_reply)?;
                let (_, end, _) = held.budget.local_period(ask.now_ms);
                Ok(Verdict::OverBudget(held.budget.refusal(end, ask.now_ms)))
            }
        }
    }

    /// Registers the request's leases with the renewer, when it holds any.
    fn lease_for(&self, scopes: &[HeldScope], member: &str) -> Option<Arc<Lease>> {
        let keys: Vec<String> = scopes
            .iter()
            .filter(|scope| scope.limits.max_concurrent.is_some())
            .map(|scope| scope.slots.clone())
            .collect();
        if keys.is_empty() {
            return None;
        }
        let lease = Arc::new(Lease {
            keys,
            member: member.to_owned(),
        });
        let _ = self.leases.send(Arc::downgrade(&lease));
        Some(lease)
    }

    /// Runs one SETTLE; on an unreachable Redis keeps it for [`retry_pending`]. Alerts that
    /// the settle reports crossed fire here.
    async fn run_settle(&self, settle: Settle) {
        if settle.is_empty() {
            return;
        }
        let mut invocation = self.settle.prepare_invoke();
        invocation
            .arg(settle.scopes.len())
            .arg(settle.budgets.len())
            .arg(&settle.member)
            .arg(settle.reserved_tokens)
            .arg(settle.used_tokens)
            .arg(0);
        for scope in &settle.scopes {
            invocation.key(&scope.windows).key(&scope.slots);
            invocation
                .arg(limit_arg(scope.limits.tpm))
                .arg(limit_arg(scope.limits.tpd))
                .arg(u8::from(scope.limits.max_concurrent.is_some()));
        }
        for (held, actual) in &settle.budgets {
            let (limit, soft) = held.budget.limits_micros();
            let (start, _, spent) = held.budget.local_period(held.budget.now_ms());
            // The seed counts this cost already: it was mirrored before the call.
            let seed = if start == held.period_start {
                spent
            } else {
                *actual
            };
            invocation.key(&held.key);
            invocation
                .arg(held.reserved)
                .arg(*actual)
                .arg(limit)
                .arg(soft.unwrap_or(-1))
                .arg(held.expire_at)
                .arg(seed);
        }
        let reply = self
            .redis
            .call(|mut conn| async move { invocation.invoke_async::<Vec<i64>>(&mut conn).await })
            .await;
        match reply {
            Ok(reply) => {
                for (i, (held, _)) in settle.budgets.iter().enumerate() {
                    let at = |k: usize| reply.get(i * 3 + k).copied().unwrap_or(0);
                    if at(1) == 1 || at(2) == 1 {
                        held.budget
                            .shared_alerts(held.period_start, at(0), at(1) == 1, at(2) == 1);
                    }
                }
            }
            Err(error) => {
                self.script_error(&error);
                let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
                if pending.len() >= MAX_PENDING {
                    pending.pop_front();
                }
                pending.push_back(settle);
            }
        }
    }

    /// Mirrors the costs locally, then settles in a task of its own.
    fn spawn_settle(self: &Arc<Self>, settle: Settle) {
        for (held, actual) in &settle.budgets {
            held.budget.mirror_shared(held.period_start, *actual);
        }
        let limits = Arc::clone(self);
        self.runtime
            .spawn(async move { limits.run_settle(settle).await });
    }

    /// Retries the settles that failed while Redis was unreachable; stops at the first that
    /// fails again.
    pub async fn retry_pending(&self) {
        loop {
            let next = self
                .pending
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .pop_front();
            let Some(settle) = next else { return };
            let before = self.pending_len();
            self.run_settle(settle).await;
            if self.pending_len() > before {
                return;
            }
        }
    }

    /// Settles waiting for Redis.
    pub fn pending_len(&self) -> usize {
        self.pending.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Adds to Redis the spend each budget settled locally while Redis was unreachable
    /// (`redis_failure: open`). Rate limits need no such reconcile: their windows refill within
    /// a minute or a day whatever happened, and charging the outage's requests afterwards would
    /// only refuse requests that come later; the cost of open is the N× limits during the
    /// outage, documented. Spend, though, is money, and a budget must count all of it.
    pub async fn reconcile(&self, budgets: &[Arc<CompiledBudget>]) {
        self.retry_pending().await;
        for budget in budgets {
            let Some((period_start, amount)) = budget.take_unshared() else {
                continue;
            };
            let now_ms = budget.now_ms();
            let (start, end, _) = budget.local_period(now_ms);
            if start != period_start {
                continue;
            }
            let held = HeldBudget {
                budget: Arc::clone(budget),
                key: budget_key(&self.redis, budget, start),
                period_start: start,
                expire_at: expire_at(end),
                reserved: 0,
            };
            let before = self.pending_len();
            self.run_settle(Settle {
                scopes: Vec::new(),
                member: String::new(),
                reserved_tokens: 0,
                used_tokens: 0,
                budgets: vec![(held, amount)],
            })
            .await;
            if self.pending_len() > before {
                // Kept as a pending settle, so it is not also put back as unshared.
                return;
            }
        }
    }

    /// Extends every live lease in `live` (dropping the finished ones) in one call.
    pub async fn renew(&self, live: &mut Vec<Weak<Lease>>) {
        live.retain(|lease| lease.strong_count() > 0);
        let leases: Vec<Arc<Lease>> = live.iter().filter_map(Weak::upgrade).collect();
        if leases.is_empty() {
            return;
        }
        let lease_ms = u64::try_from(self.lease.as_millis()).unwrap_or(u64::MAX);
        let mut invocation = self.renew.prepare_invoke();
        invocation.arg(lease_ms).arg(0);
        for lease in &leases {
            for key in &lease.keys {
                invocation.key(key).arg(&lease.member);
            }
        }
        let renewed = self
            .redis
            .call(|mut conn| async move { invocation.invoke_async::<i64>(&mut conn).await })
            .await;
        if let Err(error) = renewed {
            self.script_error(&error);
        }
    }
}

/// A budget period's hash, named by the period's kind and start.
fn budget_key(redis: &Redis, budget: &CompiledBudget, period_start: i64) -> String {
    let period = budget.spec.period.as_str();
    redis.key(&format!(
        "b:{{{}}}:{period}:{period_start}",
        tag(budget.scope_id())
    ))
}

/// The cluster's spend and commitments (spend plus reservations) of each budget's current
/// period as Redis counts them, in micro-dollars, in one pipelined round trip. `None` for a
/// period Redis holds no count of yet: no request went through Redis in it, so this gateway's
/// own count (the records' spend) is the cluster's too.
pub async fn cluster_spend(
    redis: &Redis,
    budgets: &[Arc<CompiledBudget>],
    now_ms: i64,
) -> Result<Vec<Option<(i64, i64)>>, SharedError> {
    if budgets.is_empty() {
        return Ok(Vec::new());
    }
    let mut pipe = redis::pipe();
    for budget in budgets {
        let (start, _, _) = budget.local_period(now_ms);
        pipe.cmd("HMGET")
            .arg(budget_key(redis, budget, start))
            .arg("spent")
            .arg("committed");
    }
    let replies: Vec<(Option<i64>, Option<i64>)> = redis
        .call(|mut conn| async move { pipe.query_async(&mut conn).await })
        .await?;
    Ok(replies
        .into_iter()
        .map(|(spent, committed)| spent.map(|spent| (spent, committed.unwrap_or(spent))))
        .collect())
}

/// When a budget period's hash may go: a day after the period ends; 0 for never (`total`).
fn expire_at(end: i64) -> i64 {
    if end == i64::MAX {
        0
    } else {
        end.saturating_add(BUDGET_GRACE_MS)
    }
}

/// The admission script's reply split into its numbers (verdict, index, what, retry, now, then
/// per scope its four TATs) and the cache entries read after them.
fn split_reply(
    reply: Vec<redis::Value>,
    scopes: usize,
) -> Result<(Vec<i64>, EntryValues), SharedError> {
    let numbers = 5 + 4 * scopes;
    let mut counts = Vec::with_capacity(numbers);
    let mut cached = Vec::new();
    for (i, value) in reply.into_iter().enumerate() {
        match value {
            redis::Value::Int(n) if i < numbers => counts.push(n),
            redis::Value::BulkString(bytes) if i >= numbers => cached.push(Some(bytes)),
            redis::Value::Nil if i >= numbers => cached.push(None),
            _ => return Err(bad_reply()),
        }
    }
    Ok((counts, cached))
}

fn bad_reply() -> SharedError {
    SharedError::Redis(redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "the admission script answered out of range",
    )))
}

/// The 429's wording, exactly as the local limiter says it.
fn refusal(scope: &Scope, what: i64, retry_after: Duration) -> Refusal {
    let limits = &scope.limits;
    let (text, kind) = match what {
        1 => (
            format!("{} requests per minute", limit_arg(limits.rpm)),
            "requests",
        ),
        2 => (
            format!("{} requests per day", limit_arg(limits.rpd)),
            "requests",
        ),
        3 => (
            format!("{} tokens per minute", limit_arg(limits.tpm)),
            "tokens",
        ),
        4 => (
            format!("{} tokens per day", limit_arg(limits.tpd)),
            "tokens",
        ),
        _ => (
            format!("{} concurrent requests", limit_arg(limits.max_concurrent)),
            "concurrent_requests",
        ),
    };
    Refusal {
        message: format!("{}: {text}", scope.label),
        kind,
        retry_after,
    }
}

/// The lengths of the four windows (rpm, rpd, tpm, tpd) in µs, as the scripts count them.
const WINDOW_US: [u64; 4] = [60_000_000, 86_400_000_000, 60_000_000, 86_400_000_000];

/// What is left of a GCRA window at `now` (µs on Redis's clock), and the time until it is full
/// again, from the TAT the script answered.
fn window_budget(limit: u64, tat: i64, now: i64, length: u64) -> Budget {
    let (remaining, ahead) = window_left(
        u64::try_from(tat).unwrap_or(0),
        u64::try_from(now).unwrap_or(0),
        limit,
        length,
    );
    Budget {
        limit,
        remaining,
        reset: Duration::from_micros(ahead),
    }
}

/// The tightest request and token budgets from the script's TATs (per scope, its four windows'
/// TATs, in µs of Redis's clock `now`).
fn header_budgets(scopes: &[Scope], now: i64, tats: &[i64]) -> Budgets {
    let mut budgets = Budgets::default();
    for (scope, windows) in scopes.iter().zip(tats.chunks(4)) {
        let limits = &scope.limits;
        let set = [limits.rpm, limits.rpd, limits.tpm, limits.tpd];
        for (w, limit) in set.into_iter().enumerate() {
            let (Some(limit), Some(&tat)) = (limit, windows.get(w)) else {
                continue;
            };
            let budget = window_budget(limit, tat, now, WINDOW_US[w]);
            let slot = if w >= 2 {
                &mut budgets.tokens
            } else {
                &mut budgets.requests
            };
            if slot.is_none_or(|tightest| budget.remaining < tightest.remaining) {
                *slot = Some(budget);
            }
        }
    }
    budgets
}

impl SharedAdmission {
    /// The tokens reserved in every scope with a token limit.
    pub fn reserved_tokens(&self) -> u64 {
        self.held.as_ref().map_or(0, |held| held.reserved_tokens)
    }

    /// Settles off the answer's path: the token reservation replaced by `used_tokens`, the
    /// leases given up, and, with `cost`, the budget reservations replaced by it. Without a
    /// cost (it is estimated later by the meter) the budgets come back as a hold to settle then.
    pub fn settle(self, used_tokens: u64, cost: Option<i64>) -> Option<BudgetHold> {
        let limits = Arc::clone(&self.limits);
        let (settle, later) = self.into_settle(used_tokens, cost)?;
        limits.spawn_settle(settle);
        later
    }

    /// The SETTLE call this admission makes, and the budgets left for later without a cost.
    fn into_settle(
        mut self,
        used_tokens: u64,
        cost: Option<i64>,
    ) -> Option<(Settle, Option<BudgetHold>)> {
        let held = self.held.take()?;
        let (budgets, later) = match cost {
            Some(cost) => (
                held.budgets
                    .into_iter()
                    .map(|budget| (budget, cost.max(0)))
                    .collect(),
                None,
            ),
            None if held.budgets.is_empty() => (Vec::new(), None),
            None => (
                Vec::new(),
                Some(BudgetHold::deferred(Box::new(DeferredBudgets {
                    limits: Arc::clone(&self.limits),
                    budgets: held.budgets,
                }))),
            ),
        };
        drop(held._lease);
        let settle = Settle {
            scopes: held.scopes,
            member: held.member,
            reserved_tokens: held.reserved_tokens,
            used_tokens,
            budgets,
        };
        Some((settle, later))
    }

    /// Settles at once, in the caller's task (tests wait for the result).
    #[cfg(test)]
    pub(crate) async fn settle_now(self, used_tokens: u64, cost: Option<i64>) {
        let limits = Arc::clone(&self.limits);
        if let Some((settle, _)) = self.into_settle(used_tokens, cost) {
            for (held, actual) in &settle.budgets {
                held.budget.mirror_shared(held.period_start, *actual);
            }
            limits.run_settle(settle).await;
        }
    }

    /// Forgets the admission without settling, as a gateway that was killed does.
    #[cfg(test)]
    pub(crate) fn abandon(mut self) {
        self.held = None;
    }
}

impl Drop for SharedAdmission {
    /// An admission dropped unsettled gives its tokens back as used and charges its budget
    /// reservations: too much rather than nothing, as a local `BudgetHold` does.
    fn drop(&mut self) {
        if let Some(held) = self.held.take() {
            let reserved = held.reserved_tokens;
            let budgets = held
                .budgets
                .into_iter()
                .map(|budget| {
                    let cost = budget.reserved;
                    (budget, cost)
                })
                .collect();
            self.limits.spawn_settle(Settle {
                scopes: held.scopes,
                member: held.member,
                reserved_tokens: reserved,
                used_tokens: reserved,
                budgets,
            });
        }
    }
}

/// Budget reservations in Redis whose cost the meter estimates first.
#[derive(Debug)]
struct DeferredBudgets {
    limits: Arc<SharedLimits>,
    budgets: Vec<HeldBudget>,
}

impl DeferredSettle for DeferredBudgets {
    fn settle(self: Box<Self>, actual: Option<i64>) {
        let budgets = self
            .budgets
            .into_iter()
            .map(|budget| {
                let cost = actual.unwrap_or(budget.reserved).max(0);
                (budget, cost)
            })
            .collect();
        self.limits.spawn_settle(Settle {
            scopes: Vec::new(),
            member: String::new(),
            reserved_tokens: 0,
            used_tokens: 0,
            budgets,
        });
    }
}

#[cfg(test)]
mod tests;
