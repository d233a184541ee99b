//! Resilience for one request: which upstream and key each attempt uses, how a failure is
//! classified, when to wait and when to stop.
//!
//! Order of preference for the next attempt: another key of the same provider after a key
//! problem; an untried healthy upstream of the highest priority group that has one (by weight);
//! the fallback upstreams once the route's own upstreams failed (when the failure matches
//! `fallback.on_status`); finally the route's upstreams again, after a backoff with jitter and
//! never before a `Retry-After` has passed. Never more than `retry.max_attempts` in all.

use std::fmt::Write;
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use switchyard_shared::StatusPattern;
use switchyard_shared::config::MAX_ATTEMPTS;
use tokio::time::Instant;

use super::error::ProxyError;
use crate::protocols::Cause;
use crate::providers::{ApiKey, Provider};
use crate::routing::{Demand, Why};
use crate::snapshot::{Route, Upstream};

/// How a failed attempt is treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The request itself is wrong (400, 413, 422): answer at once.
    Client,
    /// The key is the problem (401, 402, 403, quota or per-key 429): try another key first.
    Key,
    /// The provider is in trouble (5xx, 429 without key scope, connect or first-byte timeouts):
    /// count it against the provider, move on or back off.
    Provider,
    /// This upstream cannot serve the request (404, context too long, unsupported): move on
    /// without holding it against anyone.
    Elsewhere,
}

pub fn classify(error: &ProxyError, provider: &Provider) -> Class {
    match error {
        // The protocol's error parser named the cause when it read the body; only the status
        // and that tag decide here.
        ProxyError::Upstream(upstream) => {
            let cause = upstream.cause;
            match upstream.status.as_u16() {
                400 | 413 if cause == Cause::ContextLength => Class::Elsewhere,
                400 | 413 | 422 => Class::Client,
                401..=403 => Class::Key,
                429 if cause == Cause::Quota => Class::Key,
                429 if provider.key_policy.enabled && provider.keys.len() > 1 => Class::Key,
                408 | 429 | 500..=599 => Class::Provider,
                _ => Class::Elsewhere,
            }
        }
        ProxyError::UpstreamUnreachable(_)
        | ProxyError::UpstreamTimeout(_)
        | ProxyError::BadUpstreamResponse(_) => Class::Provider,
        ProxyError::Untranslatable(_) | ProxyError::Unsupported(_) | ProxyError::NoKey { .. } => {
            Class::Elsewhere
        }
        _ => Class::Client,
    }
}

/// Reads `Retry-After` as seconds or an HTTP date.
pub fn retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(text).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Primary(usize),
    Fallback(usize),
}

/// One planned attempt.
pub struct Plan<'r> {
    pub target: Target,
    pub upstream: &'r Upstream,
    pub key: Option<&'r ApiKey>,
    /// How long to wait before sending it.
    pub wait: Duration,
    /// Why it goes there, for `x-switchyard-strategy`.
    pub why: Why,
}

pub struct Attempts<'r> {
    route: &'r Route,
    /// What the request asks of an upstream, for the route's strategy.
    demand: Demand,
    /// The model the client asked for (a strategy may price it).
    requested: &'r str,
    /// Why the last planned attempt went where it went.
    last_why: Why,
    count: u32,
    failed_primary: Vec<usize>,
    tried_fallback: Vec<usize>,
    tried_keys: Vec<i64>,
    /// After a key problem: the same upstream, with another key.
    same_upstream: Option<Target>,
    /// The last failure allows the fallback upstreams.
    fallback_allowed: bool,
    /// The last failure allows retrying an upstream that already failed.
    retry_allowed: bool,
    stop: bool,
    /// Retries of already-failed upstreams so far, for the backoff's exponent.
    retries: u32,
    /// Each attempt's provider and outcome, kept inline (at most `MAX_ATTEMPTS`) so a request that
    /// succeeds at once allocates nothing for it.
    trail: [Option<(&'r str, Outcome)>; MAX_ATTEMPTS as usize],
}

/// How one attempt ended, for the `x-switchyard-fallback` trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Timeout,
    Unreachable,
    Error,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Status(status) => write!(f, "{status}"),
            Outcome::Timeout => f.write_str("timeout"),
            Outcome::Unreachable => f.write_str("unreachable"),
            Outcome::Error => f.write_str("error"),
        }
    }
}

impl<'r> Attempts<'r> {
    /// Moves the demand's clock stamp to now, before planning the next attempt: a retry after a
    /// slow failure must read the estimates' ages as they are then, and claim exploration with
    /// the current time.
    pub fn set_now_ms(&mut self, now_ms: u32) {
        self.demand.now_ms = now_ms;
    }

    pub fn new(route: &'r Route, demand: Demand, requested: &'r str) -> Attempts<'r> {
        Attempts {
            route,
            demand,
            requested,
            last_why: Why::Chosen,
            count: 0,
            failed_primary: Vec::new(),
            tried_fallback: Vec::new(),
            tried_keys: Vec::new(),
            same_upstream: None,
            fallback_allowed: false,
            retry_allowed: false,
            stop: false,
            retries: 0,
            trail: [None; MAX_ATTEMPTS as usize],
        }
    }

    pub fn count(&self) -> u32 {
        self.count
    }

    /// Why the last planned attempt went where it went.
    pub fn last_why(&self) -> Why {
        self.last_why
    }

    /// `provider:status` for every attempt, e.g. `qwen:401,deepseek:200`.
    /// Every attempt for the request record, when there was more than one or one failed; empty
    /// (and unallocated) for the usual request that succeeded at once.
    pub fn steps(&self) -> Vec<switchyard_shared::TrailStep> {
        let attempts: Vec<_> = self.trail.iter().flatten().collect();
        let clean = matches!(attempts.as_slice(), [(_, Outcome::Status(s))] if *s < 400);
        if attempts.is_empty() || clean {
            return Vec::new();
        }
        attempts
            .into_iter()
            .map(|(name, outcome)| switchyard_shared::TrailStep {
                provider: (*name).to_owned(),
                status: match outcome {
                    Outcome::Status(status) => Some(*status),
                    _ => None,
                },
                outcome: match outcome {
                    Outcome::Status(status) if *status < 400 => "ok".to_owned(),
                    other => other.to_string(),
                },
            })
            .collect()
    }

    pub fn trail(&self) -> String {
        let mut trail = String::new();
        for (name, outcome) in self.trail.iter().flatten() {
            if !trail.is_empty() {
                trail.push(',');
            }
            let _ = write!(trail, "{name}:{outcome}");
        }
        trail
    }

    fn upstream(&self, target: Target) -> &'r Upstream {
        match target {
            Target::Primary(i) => &self.route.upstreams()[i],
            Target::Fallback(i) => &self.route.fallback[i],
        }
    }

    fn plan(
        &mut self,
        target: Target,
        key: Option<&'r ApiKey>,
        wait: Duration,
        why: Why,
    ) -> Plan<'r> {
        self.count += 1;
        self.last_why = why;
        Plan {
            target,
            upstream: self.upstream(target),
            key,
            wait,
            why,
        }
    }

    /// The next attempt, or `None` when the request must stop with its last error.
    pub fn next(&mut self, now: Instant) -> Option<Plan<'r>> {
        if self.stop || self.count >= self.route.retry.max_attempts {
            return None;
        }
        if let Some(target) = self.same_upstream.take() {
            let provider = &*self.upstream(target).provider;
            match provider.choose_key(now, &self.tried_keys) {
                Ok(key) if provider.health.admit(now) => {
                    return Some(self.plan(target, key, Duration::ZERO, Why::Retry));
                }
                _ => self.mark_failed(target),
            }
        }
        while let Some((i, why)) =
            self.route
                .pick_primary(now, &self.failed_primary, &self.demand, self.requested)
        {
            let provider = &*self.route.upstreams()[i].provider;
            match provider.choose_key(now, &self.tried_keys) {
                Ok(key) if provider.health.admit(now) => {
                    return Some(self.plan(Target::Primary(i), key, Duration::ZERO, why));
                }
                _ => self.failed_primary.push(i),
            }
        }
        if self.fallback_allowed || self.count == 0 {
            while let Some(i) = self.pick_fallback(now) {
                self.tried_fallback.push(i);
                let provider = &*self.route.fallback[i].provider;
                if let Ok(key) = provider.choose_key(now, &self.tried_keys) {
                    provider.health.admit(now);
                    return Some(self.plan(
                        Target::Fallback(i),
                        key,
                        Duration::ZERO,
                        Why::Fallback,
                    ));
                }
            }
        }
        if self.retry_allowed || self.count == 0 {
            return self.retry_primary(now);
        }
        None
    }

    /// The next fallback upstream not tried yet: in order, or at random for the random
    /// strategy; healthy ones first.
    fn pick_fallback(&self, now: Instant) -> Option<usize> {
        let untried: Vec<usize> = (0..self.route.fallback.len())
            .filter(|i| !self.tried_fallback.contains(i))
            .collect();
        let healthy: Vec<usize> = untried
            .iter()
            .copied()
            .filter(|&i| self.route.fallback[i].provider.health.available(now))
            .collect();
        let pool = if healthy.is_empty() {
            &untried
        } else {
            &healthy
        };
        match pool.len() {
            0 => None,
            n if self.route.fallback_random => pool.get(fastrand::usize(..n)).copied(),
            _ => pool.first().copied(),
        }
    }

    /// Tries a route upstream again: the one that failed least recently (an unhealthy one this
    /// request has not tried needs no wait), after a backoff with jitter, and never before a
    /// `Retry-After` has passed; one whose `Retry-After` is longer than `retry_after_max_ms` is
    /// skipped.
    fn retry_primary(&mut self, now: Instant) -> Option<Plan<'r>> {
        let retry = self.route.retry;
        let max_wait = Duration::from_millis(retry.retry_after_max_ms);
        let candidate = (0..self.route.upstreams().len())
            .filter(|&i| self.route.upstreams()[i].weight > 0)
            .filter(|&i| {
                self.route.upstreams()[i]
                    .provider
                    .health
                    .cooldown_remaining(now)
                    <= max_wait
            })
            .min_by_key(|&i| {
                let provider = &self.route.upstreams()[i].provider;
                (
                    self.failed_primary.contains(&i),
                    provider.health.last_failure_at(),
                )
            })?;
        let provider = &*self.route.upstreams()[candidate].provider;
        let key = match provider.choose_key(now, &self.tried_keys) {
            Ok(key) => key,
            Err(_) => provider.least_recently_failed_key(),
        };
        let mut wait = provider.health.cooldown_remaining(now);
        if self.failed_primary.contains(&candidate) {
            wait = wait.max(self.backoff());
            self.retries += 1;
        }
        provider.health.admit(now);
        Some(self.plan(Target::Primary(candidate), key, wait, Why::Retry))
    }

    /// Exponential backoff with equal jitter: half the step fixed, half random, so retries
    /// spread out without ever being immediate.
    fn backoff(&self) -> Duration {
        let retry = self.route.retry;
        let step = retry
            .backoff_base_ms
            .saturating_mul(1u64 << self.retries.min(16))
            .min(retry.backoff_max_ms);
        let half = step / 2;
        Duration::from_millis(half + fastrand::u64(..=half))
    }

    fn mark_failed(&mut self, target: Target) {
        if let Target::Primary(i) = target
            && !self.failed_primary.contains(&i)
        {
            self.failed_primary.push(i);
        }
    }

    fn note(&mut self, plan: &Plan<'r>, outcome: Outcome) {
        if let Some(slot) = self.trail.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some((&plan.upstream.provider.name, outcome));
        }
    }

    pub fn succeeded(&mut self, plan: &Plan<'r>, status: u16) {
        plan.upstream.provider.health.record_success();
        if let Some(key) = plan.key {
            key.health.record_success();
        }
        self.note(plan, Outcome::Status(status));
    }

    pub fn failed(&mut self, plan: &Plan<'r>, error: &ProxyError, now: Instant) {
        let provider = &*plan.upstream.provider;
        let status = match error {
            ProxyError::Upstream(upstream) => Some(upstream.status.as_u16()),
            _ => None,
        };
        let wait = match error {
            ProxyError::Upstream(upstream) => upstream.retry_after.as_ref().and_then(retry_after),
            _ => None,
        };
        let outcome = match (status, error) {
            (Some(status), _) => Outcome::Status(status),
            (None, ProxyError::UpstreamTimeout(_)) => Outcome::Timeout,
            (None, ProxyError::UpstreamUnreachable(_)) => Outcome::Unreachable,
            (None, _) => Outcome::Error,
        };
        self.note(plan, outcome);
        let message = error.to_string();
        if let Some(key) = plan.key {
            if provider.key_policy.counts(status) {
                key.health
                    .record_failure(now, &message, &provider.key_policy);
            }
            self.tried_keys.push(key.id);
        }
        let class = classify(error, provider);
        match class {
            Class::Key => {
                if let (Some(key), Some(wait)) = (plan.key, wait) {
                    key.health.cool_down(now + wait);
                }
                self.same_upstream = Some(plan.target);
            }
            Class::Provider => {
                provider
                    .health
                    .record_failure(now, &message, &provider.circuit);
                if let Some(wait) = wait {
                    provider.health.cool_down(now + wait);
                }
                self.mark_failed(plan.target);
            }
            Class::Elsewhere | Class::Client => self.mark_failed(plan.target),
        }
        let listed = |pattern: &StatusPattern| status.is_some_and(|s| pattern.matches(s));
        let named_exactly =
            status.is_some_and(|s| self.route.fallback_on.contains(&StatusPattern::Code(s)));
        self.fallback_allowed = match class {
            Class::Client => named_exactly,
            _ => status.is_none() || self.route.fallback_on.iter().any(listed),
        };
        self.retry_allowed = class == Class::Provider;
        self.stop = class == Class::Client && !named_exactly;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(
            retry_after(&HeaderValue::from_static("3")),
            Some(Duration::from_secs(3))
        );
        let later = SystemTime::now() + Duration::from_secs(120);
        let date = httpdate::fmt_http_date(later);
        let parsed = retry_after(&HeaderValue::try_from(date).expect("header")).expect("parses");
        assert!(
            parsed > Duration::from_secs(110) && parsed <= Duration::from_secs(120),
            "{parsed:?}"
        );
        assert_eq!(retry_after(&HeaderValue::from_static("soon")), None);
    }
}
