//! Health state that outlives reloads: each key's place in its provider's pool, and each
//! provider's circuit. Kept in a registry keyed by stable database ids; a snapshot holds `Arc`s to
//! the entries of its providers and keys, so the request path reads health without a lookup, and
//! a reload that keeps a key keeps its state. Entries whose key or provider is gone are dropped.
//!
//! The common case — everything healthy — costs one atomic load per provider and per key.

use crate::routing::{UpstreamKey, UpstreamStats};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use switchyard_shared::admin::{FailureView, KeyHealthView, ProviderHealthView};
use switchyard_shared::{HealthCheck, StatusPattern, TokenFailover};
use tokio::time::Instant;

/// The last failure of a key or provider.
#[derive(Clone, Debug)]
pub struct Failure {
    pub message: String,
    pub at: SystemTime,
}

impl Failure {
    fn view(&self) -> FailureView {
        FailureView {
            message: self.message.clone(),
            at: humantime::format_rfc3339_millis(self.at).to_string(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding this lock cannot leave the plain counters inconsistent in a way that
    // matters more than losing health tracking, so a poisoned lock is used as it is.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The key failover settings of a provider, resolved.
#[derive(Clone, Debug)]
pub struct KeyPolicy {
    pub enabled: bool,
    pub failure_threshold: u32,
    pub success_threshold: u32,
    pub probe_interval: Duration,
    pub probe_timeout: Duration,
    pub probe_model: Option<String>,
    pub cooldown: Option<Duration>,
    pub on_status: Vec<StatusPattern>,
}

impl KeyPolicy {
    pub fn new(config: Option<&TokenFailover>) -> KeyPolicy {
        let enabled = config.is_some_and(|c| c.enabled);
        let config = config.cloned().unwrap_or_default();
        KeyPolicy {
            enabled,
            failure_threshold: config.failure_threshold,
            success_threshold: config.success_threshold,
            probe_interval: Duration::from_millis(config.health_check_interval_ms),
            probe_timeout: Duration::from_millis(config.health_check_timeout_ms),
            probe_model: config.health_check_model,
            cooldown: config.cooldown_ms.map(Duration::from_millis),
            on_status: config.on_status,
        }
    }

    /// Whether a failure with this status (or a transport failure, `None`) counts against a key.
    pub fn counts(&self, status: Option<u16>) -> bool {
        match status {
            Some(status) => self.on_status.iter().any(|p| p.matches(status)),
            None => false,
        }
    }
}

/// The circuit and active-check settings of a provider, resolved.
#[derive(Clone, Debug)]
pub struct CircuitPolicy {
    pub unhealthy_after: u32,
    pub healthy_after: u32,
    pub cooldown: Duration,
    pub max_cooldown: Duration,
    /// Active checks, when enabled.
    pub active: Option<HealthCheck>,
}

impl CircuitPolicy {
    pub fn new(config: Option<&HealthCheck>) -> CircuitPolicy {
        let config = config.cloned().unwrap_or_default();
        CircuitPolicy {
            unhealthy_after: config.unhealthy_after,
            healthy_after: config.healthy_after,
            cooldown: Duration::from_millis(config.cooldown_ms),
            max_cooldown: Duration::from_millis(config.max_cooldown_ms),
            active: config.enabled.then_some(config),
        }
    }
}

#[derive(Default)]
struct KeyState {
    consecutive_failures: u32,
    /// When the key left the pool.
    ejected_at: Option<Instant>,
    /// Probe successes since it left.
    probe_successes: u32,
    /// A `Retry-After` told us not to use the key before this.
    cooldown_until: Option<Instant>,
    last_failure_at: Option<Instant>,
    last_error: Option<Failure>,
    next_probe: Option<Instant>,
}

/// One API key's health.
#[derive(Default)]
pub struct KeyHealth {
    /// Set while the key is ejected or cooling down: the fast path checks only this.
    out: AtomicBool,
    state: Mutex<KeyState>,
}

impl KeyHealth {
    /// Whether the key is in the pool now. Re-admits it when its cooldown has passed.
    pub fn available(&self, now: Instant, policy: &KeyPolicy) -> bool {
        if !self.out.load(Ordering::Acquire) {
            return true;
        }
        let mut state = lock(&self.state);
        if state.cooldown_until.is_some_and(|until| now >= until) {
            state.cooldown_until = None;
        }
        if let (Some(at), Some(cooldown)) = (state.ejected_at, policy.cooldown)
            && now >= at + cooldown
        {
            state.ejected_at = None;
            state.consecutive_failures = 0;
            tracing::info!("API key re-admitted after its cooldown");
        }
        let available = state.ejected_at.is_none() && state.cooldown_until.is_none();
        self.out.store(!available, Ordering::Release);
        available
    }

    pub fn record_success(&self) {
        if self.out.load(Ordering::Acquire) {
            return;
        }
        let mut state = lock(&self.state);
        state.consecutive_failures = 0;
    }

    /// Counts a failure; returns true when it ejected the key.
    pub fn record_failure(&self, now: Instant, message: &str, policy: &KeyPolicy) -> bool {
        let mut state = lock(&self.state);
        state.consecutive_failures += 1;
        state.last_failure_at = Some(now);
        state.last_error = Some(Failure {
            message: message.to_owned(),
            at: SystemTime::now(),
        });
        if policy.enabled
            && state.ejected_at.is_none()
            && state.consecutive_failures >= policy.failure_threshold
        {
            state.ejected_at = Some(now);
            state.probe_successes = 0;
            state.next_probe = Some(now + policy.probe_interval);
            self.out.store(true, Ordering::Release);
            return true;
        }
        false
    }

    /// Keeps the key out of use until `until` (a `Retry-After`).
    pub fn cool_down(&self, until: Instant) {
        let mut state = lock(&self.state);
        state.cooldown_until = Some(state.cooldown_until.map_or(until, |u| u.max(until)));
        self.out.store(true, Ordering::Release);
    }

    pub fn last_failure_at(&self) -> Option<Instant> {
        lock(&self.state).last_failure_at
    }

    /// Whether an ejected key is due for a probe; schedules the next one if so.
    pub fn probe_due(&self, now: Instant, policy: &KeyPolicy) -> bool {
        let mut state = lock(&self.state);
        match (state.ejected_at, state.next_probe) {
            (Some(_), Some(next)) if now >= next => {
                state.next_probe = Some(now + policy.probe_interval);
                true
            }
            _ => false,
        }
    }

    /// A background probe's result: enough successes in a row re-admit the key.
    pub fn record_probe(&self, ok: bool, message: &str, policy: &KeyPolicy) {
        let mut state = lock(&self.state);
        if state.ejected_at.is_none() {
            return;
        }
        if ok {
            state.probe_successes += 1;
            if state.probe_successes >= policy.success_threshold {
                state.ejected_at = None;
                state.consecutive_failures = 0;
                state.next_probe = None;
                let cooling = state.cooldown_until.is_some();
                self.out.store(cooling, Ordering::Release);
                tracing::info!("API key re-admitted after a successful health check");
            }
        } else {
            state.probe_successes = 0;
            state.last_error = Some(Failure {
                message: message.to_owned(),
                at: SystemTime::now(),
            });
        }
    }

    /// The key's entry in `GET /api/health`, under its masked form.
    pub fn view(&self, now: Instant, policy: &KeyPolicy, masked: &str) -> KeyHealthView {
        let available = self.available(now, policy);
        let state = lock(&self.state);
        KeyHealthView {
            key: masked.to_owned(),
            state: if state.ejected_at.is_some() {
                "ejected"
            } else if !available {
                "cooling_down"
            } else {
                "healthy"
            }
            .to_owned(),
            consecutive_failures: state.consecutive_failures,
            last_error: state.last_error.as_ref().map(Failure::view),
            next_probe_in_ms: state
                .next_probe
                .filter(|_| state.ejected_at.is_some())
                .map(|at| at.saturating_duration_since(now).as_millis() as u64),
        }
    }
}

impl std::fmt::Debug for KeyHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyHealth(out: {})", self.out.load(Ordering::Relaxed))
    }
}

impl std::fmt::Debug for ProviderHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "ProviderHealth(tripped: {})",
            self.tripped.load(Ordering::Relaxed)
        )
    }
}

#[derive(Default)]
struct CircuitState {
    consecutive_failures: u32,
    /// The circuit is open until this instant; after it one request may probe (half-open).
    open_until: Option<Instant>,
    /// How many times in a row the circuit opened, for the exponential cooldown.
    opens: u32,
    /// When the half-open probe started; another may start if it never reports back.
    probe_started: Option<Instant>,
    cooldown_until: Option<Instant>,
    last_failure_at: Option<Instant>,
    last_error: Option<Failure>,
    /// Active checks: the provider is marked down by them.
    actively_down: bool,
    active_failures: u32,
    active_successes: u32,
    next_active_check: Option<Instant>,
}

/// One provider's circuit breaker and active-check state.
#[derive(Default)]
pub struct ProviderHealth {
    /// Set while the circuit is not plainly closed: the fast path checks only this.
    tripped: AtomicBool,
    state: Mutex<CircuitState>,
}

impl ProviderHealth {
    /// Whether a request may go to this provider now (without taking the half-open probe slot;
    /// [`ProviderHealth::admit`] does that for the upstream actually chosen).
    pub fn available(&self, now: Instant) -> bool {
        if !self.tripped.load(Ordering::Acquire) {
            return true;
        }
        Self::eligible(&lock(&self.state), now)
    }

    fn eligible(state: &CircuitState, now: Instant) -> bool {
        if state.actively_down || state.cooldown_until.is_some_and(|until| now < until) {
            return false;
        }
        match state.open_until {
            None => true,
            Some(until) if now < until => false,
            // Half-open: one probe at a time; a probe that never reported back (its client went
            // away) stops blocking after a while.
            Some(_) => state
                .probe_started
                .is_none_or(|started| now >= started + Duration::from_secs(30)),
        }
    }

    /// Admits a request to the chosen provider: always when the circuit is closed; as the single
    /// half-open probe when it is due. False when another request took the probe first.
    pub fn admit(&self, now: Instant) -> bool {
        if !self.tripped.load(Ordering::Acquire) {
            return true;
        }
        let mut state = lock(&self.state);
        if !Self::eligible(&state, now) {
            return false;
        }
        if state.open_until.is_some() {
            state.probe_started = Some(now);
        } else if state.cooldown_until.is_some_and(|until| now >= until) {
            state.cooldown_until = None;
            self.tripped.store(state.actively_down, Ordering::Release);
        }
        true
    }

    /// How long a `Retry-After` still keeps requests away.
    pub fn cooldown_remaining(&self, now: Instant) -> Duration {
        if !self.tripped.load(Ordering::Acquire) {
            return Duration::ZERO;
        }
        lock(&self.state)
            .cooldown_until
            .map_or(Duration::ZERO, |until| until.saturating_duration_since(now))
    }

    pub fn record_success(&self) {
        if !self.tripped.load(Ordering::Acquire) {
            // Reset the failure count only when there is one, to keep the healthy path lock-free.
            let state = lock(&self.state);
            if state.consecutive_failures == 0 {
                return;
            }
            drop(state);
        }
        let mut state = lock(&self.state);
        state.consecutive_failures = 0;
        if state.open_until.take().is_some() {
            tracing::info!("provider circuit closed after a successful request");
        }
        state.opens = 0;
        state.probe_started = None;
        let still_out = state.actively_down || state.cooldown_until.is_some();
        self.tripped.store(still_out, Ordering::Release);
    }

    /// Counts a provider-level failure; opens the circuit after `unhealthy_after` in a row, and
    /// reopens it for longer when the half-open probe fails.
    pub fn record_failure(&self, now: Instant, message: &str, policy: &CircuitPolicy) {
        let mut state = lock(&self.state);
        state.consecutive_failures += 1;
        state.last_failure_at = Some(now);
        state.last_error = Some(Failure {
            message: message.to_owned(),
            at: SystemTime::now(),
        });
        let probing = state.probe_started.take().is_some();
        if probing || state.consecutive_failures >= policy.unhealthy_after {
            state.opens = state.opens.saturating_add(1);
            let factor = 2u32.saturating_pow(state.opens.saturating_sub(1).min(20));
            let cooldown = policy
                .cooldown
                .saturating_mul(factor)
                .min(policy.max_cooldown);
            state.open_until = Some(now + cooldown);
            self.tripped.store(true, Ordering::Release);
        }
    }

    pub fn cool_down(&self, until: Instant) {
        let mut state = lock(&self.state);
        state.cooldown_until = Some(state.cooldown_until.map_or(until, |u| u.max(until)));
        self.tripped.store(true, Ordering::Release);
    }

    pub fn last_failure_at(&self) -> Option<Instant> {
        lock(&self.state).last_failure_at
    }

    /// Whether an active check is due; schedules the next one if so.
    pub fn active_check_due(&self, now: Instant, interval: Duration) -> bool {
        let mut state = lock(&self.state);
        match state.next_active_check {
            Some(next) if now < next => false,
            _ => {
                state.next_active_check = Some(now + interval);
                true
            }
        }
    }

    /// An active check's result: `unhealthy_after` failures in a row mark the provider down,
    /// `healthy_after` successes in a row bring it back (and close its circuit).
    pub fn record_active_check(&self, ok: bool, message: &str, policy: &CircuitPolicy) {
        let mut state = lock(&self.state);
        if ok {
            state.active_failures = 0;
            state.active_successes += 1;
            if state.actively_down && state.active_successes >= policy.healthy_after {
                state.actively_down = false;
                state.open_until = None;
                state.opens = 0;
                state.consecutive_failures = 0;
                tracing::info!("provider healthy again by active health check");
            }
        } else {
            state.active_successes = 0;
            state.active_failures += 1;
            state.last_error = Some(Failure {
                message: message.to_owned(),
                at: SystemTime::now(),
            });
            if !state.actively_down && state.active_failures >= policy.unhealthy_after {
                state.actively_down = true;
                tracing::warn!(
                    error = message,
                    "provider marked down by active health check"
                );
            }
        }
        let tripped =
            state.actively_down || state.open_until.is_some() || state.cooldown_until.is_some();
        self.tripped.store(tripped, Ordering::Release);
    }

    /// The provider's circuit for `GET /api/health`; the caller adds its name, type and keys.
    pub fn view(&self, now: Instant) -> ProviderHealthView {
        let state = lock(&self.state);
        let circuit = if state.actively_down {
            "down"
        } else {
            match state.open_until {
                None if state.cooldown_until.is_some_and(|u| now < u) => "cooling_down",
                None => "closed",
                Some(until) if now < until => "open",
                Some(_) => "half_open",
            }
        };
        ProviderHealthView {
            state: circuit.to_owned(),
            consecutive_failures: state.consecutive_failures,
            last_error: state.last_error.as_ref().map(Failure::view),
            next_probe_in_ms: state
                .open_until
                .map(|at| at.saturating_duration_since(now).as_millis() as u64),
            ..ProviderHealthView::default()
        }
    }
}

/// All state that outlives snapshots, by stable id: provider and key health here, and the limit
/// counters of consumers, client keys and routes in `limits`.
/// State derived from a key, with the SHA-256 of the key it was made from.
type MadeFrom<T> = ([u8; 32], Arc<T>);

#[derive(Default)]
pub struct HealthRegistry {
    providers: Mutex<HashMap<i64, Arc<ProviderHealth>>>,
    keys: Mutex<HashMap<i64, Arc<KeyHealth>>>,
    /// Vertex keys' OAuth2 token caches by key id, with the SHA-256 of the key they were made
    /// from: a reload keeps a key's token instead of fetching a new one.
    tokens: Mutex<HashMap<i64, MadeFrom<crate::protocols::vertex::TokenCache>>>,
    /// The routing estimates of every upstream (provider + model), shared by the routes that
    /// name it and kept across reloads.
    upstreams: Mutex<HashMap<UpstreamKey, Arc<UpstreamStats>>>,
    pub limits: crate::limits::LimitRegistry,
    /// Spend budget counters, which outlive snapshots like the limit counters.
    pub budgets: Arc<crate::budgets::BudgetRegistry>,
}

impl HealthRegistry {
    pub fn provider(&self, id: i64) -> Arc<ProviderHealth> {
        Arc::clone(lock(&self.providers).entry(id).or_default())
    }

    pub fn key(&self, id: i64) -> Arc<KeyHealth> {
        Arc::clone(lock(&self.keys).entry(id).or_default())
    }

    /// The token cache of a service-account key: the one already made from this key, or a new
    /// one (the key is parsed here, at reload, never on the request path).
    pub fn token_cache(
        &self,
        id: i64,
        secret: &str,
    ) -> Result<Arc<crate::protocols::vertex::TokenCache>, String> {
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(secret.as_bytes()).into();
        let mut tokens = lock(&self.tokens);
        if let Some((made_from, cache)) = tokens.get(&id)
            && *made_from == digest
        {
            return Ok(Arc::clone(cache));
        }
        let account = crate::protocols::vertex::ServiceAccount::parse(secret)?;
        let cache = Arc::new(crate::protocols::vertex::TokenCache::new(account));
        tokens.insert(id, (digest, Arc::clone(&cache)));
        Ok(cache)
    }

    /// Drops the state of providers and keys that no longer exist.
    pub fn retain(&self, providers: &HashSet<i64>, keys: &HashSet<i64>) {
        lock(&self.providers).retain(|id, _| providers.contains(id));
        lock(&self.keys).retain(|id, _| keys.contains(id));
        lock(&self.tokens).retain(|id, _| keys.contains(id));
    }

    /// The estimates of one upstream: the ones already measured, or new ones. Taken at snapshot
    /// build, never on the request path.
    pub fn upstream_stats(&self, provider: i64, model: Option<&str>) -> Arc<UpstreamStats> {
        let key = UpstreamKey::new(provider, model);
        Arc::clone(lock(&self.upstreams).entry(key).or_default())
    }

    /// Forgets the estimates of upstreams no route names any more.
    pub fn retain_upstreams(&self, live: &HashSet<UpstreamKey>) {
        lock(&self.upstreams).retain(|key, _| live.contains(key));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_policy() -> KeyPolicy {
        KeyPolicy::new(Some(&TokenFailover {
            failure_threshold: 2,
            success_threshold: 2,
            cooldown_ms: None,
            ..TokenFailover::default()
        }))
    }

    #[test]
    fn keys_leave_after_the_threshold_and_return_after_probes() {
        let policy = key_policy();
        let key = KeyHealth::default();
        let now = Instant::now();
        assert!(!key.record_failure(now, "401", &policy));
        assert!(key.available(now, &policy));
        assert!(key.record_failure(now, "401", &policy));
        assert!(!key.available(now, &policy));
        assert!(!key.probe_due(now, &policy));
        assert!(key.probe_due(now + policy.probe_interval, &policy));
        key.record_probe(true, "", &policy);
        assert!(
            !key.available(now, &policy),
            "one success of two is not enough"
        );
        key.record_probe(true, "", &policy);
        assert!(key.available(now, &policy));
    }

    #[test]
    fn cooldown_readmits_without_a_probe() {
        let policy = KeyPolicy {
            cooldown: Some(Duration::from_secs(1)),
            ..key_policy()
        };
        let key = KeyHealth::default();
        let now = Instant::now();
        key.record_failure(now, "x", &policy);
        key.record_failure(now, "x", &policy);
        assert!(!key.available(now, &policy));
        assert!(key.available(now + Duration::from_secs(1), &policy));
    }

    #[test]
    fn circuits_open_half_open_and_grow() {
        let policy = CircuitPolicy::new(None);
        let health = ProviderHealth::default();
        let now = Instant::now();
        for _ in 0..3 {
            assert!(health.available(now));
            health.record_failure(now, "503", &policy);
        }
        assert!(!health.available(now));
        let later = now + policy.cooldown;
        assert!(
            health.available(later) && health.admit(later),
            "the half-open probe goes through"
        );
        assert!(
            !health.available(later) && !health.admit(later),
            "only one probe at a time"
        );
        health.record_failure(later, "503", &policy);
        assert!(
            !health.available(later + policy.cooldown),
            "the second cooldown is twice as long"
        );
        assert!(health.admit(later + policy.cooldown * 2));
        health.record_success();
        assert!(health.available(later + policy.cooldown * 2));
        assert_eq!(health.view(later).state, "closed");
    }
}
