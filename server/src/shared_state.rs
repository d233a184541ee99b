//! Cluster mode's shared state in Redis (issue 17): one multiplexed connection per gateway, every
//! call bounded by a short timeout and behind a circuit, so an unreachable Redis costs a request
//! at most the timeout, a few times, and then nothing until a probe finds Redis back.
//!
//! This module owns the connection, the key names and Redis's health as this gateway sees it.
//! What is shared through it (rate-limit windows, concurrency leases, budget spend, cached
//! answers) lives with the code that counts it locally, behind the same interfaces; the
//! `redis_failure` setting decides what a request does while [`Redis::call`] refuses.

use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use switchyard_shared::RedisFailure;
use switchyard_shared::admin::RedisStatus;
use tokio::sync::watch;
use tokio::time::Instant;

/// Failed calls in a row that open the circuit.
const OPEN_AFTER: u32 = 3;
/// How long an open circuit refuses calls before one probe may try Redis again.
const PROBE_EVERY: Duration = Duration::from_secs(1);

/// Why a call to Redis gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    /// Recent calls failed; the next probe is less than a second away.
    #[error("Redis is unreachable (probed again every second)")]
    CircuitOpen,
    #[error("Redis did not answer within {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

/// The gateway's connection to the cluster's Redis.
pub struct Redis {
    conn: ConnectionManager,
    timeout: Duration,
    prefix: String,
    /// The URL with its password replaced, for logs and `/api/status`.
    url: String,
    circuit: Circuit,
    /// Counts the times Redis came back after being unreachable; what was counted locally
    /// meanwhile is reconciled by whoever watches it.
    recovered: watch::Sender<u64>,
    /// Requests counted locally because Redis was unreachable (`redis_failure: open`).
    fallbacks: AtomicU64,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl Redis {
    /// A connection that is made on first use and remade after a failure, so a gateway starts
    /// (and serves, under `redis_failure: open`) while Redis is down. Fails only on a URL that
    /// cannot be a Redis URL; the error never contains the password.
    pub fn connect(url: &str, prefix: &str, timeout: Duration) -> anyhow::Result<Redis> {
        let redacted = crate::store::redacted_url(url);
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("{redacted} is not a Redis URL ({:?})", e.kind()))?;
        // One quick reconnect attempt per failure: the circuit, not the driver, decides how
        // often an unreachable Redis is tried again.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeout.max(Duration::from_millis(250))))
            .set_response_timeout(Some(timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| anyhow::anyhow!("cannot use Redis at {redacted} ({:?})", e.kind()))?;
        Ok(Redis {
            conn,
            timeout,
            prefix: prefix.to_owned(),
            url: redacted,
            circuit: Circuit::new(Instant::now()),
            recovered: watch::channel(0).0,
            fallbacks: AtomicU64::new(0),
        })
    }

    /// Runs one operation (a command, a pipeline or a script) unless the circuit is open, giving
    /// up after the timeout. Only unreachability counts against the circuit: an error Redis
    /// itself answered with (a script's refusal, a wrong type) shows that it is up.
    pub async fn call<T, F, Fut>(&self, operation: F) -> Result<T, SharedError>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let now = Instant::now();
        if !self.circuit.allow(now) {
            return Err(SharedError::CircuitOpen);
        }
        match tokio::time::timeout(self.timeout, operation(self.conn.clone())).await {
            Ok(Ok(value)) => {
                self.succeeded();
                Ok(value)
            }
            Ok(Err(error)) if answered(&error) => {
                self.succeeded();
                Err(error.into())
            }
            Ok(Err(error)) => {
                self.circuit.failed(now, &self.url, &error.to_string());
                Err(error.into())
            }
            Err(_elapsed) => {
                self.circuit
                    .failed(now, &self.url, "no answer within the timeout");
                Err(SharedError::Timeout(self.timeout))
            }
        }
    }

    fn succeeded(&self) {
        if self.circuit.succeeded(&self.url) {
            self.recovered.send_modify(|n| *n += 1);
        }
    }

    /// The Redis key for `tail` under this cluster's prefix (`sy:l:{consumer:12}:rpm`).
    pub fn key(&self, tail: &str) -> String {
        format!("{}:{tail}", self.prefix)
    }

    /// The prefix every key of this cluster starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Whether calls go to Redis now (the circuit is closed, or a probe is due).
    pub fn reachable(&self) -> bool {
        self.circuit.failures.load(Ordering::Acquire) < OPEN_AFTER
    }

    /// Ticks each time Redis answers again after being unreachable.
    pub fn recoveries(&self) -> watch::Receiver<u64> {
        self.recovered.subscribe()
    }

    pub fn status(&self, failure_mode: RedisFailure) -> RedisStatus {
        RedisStatus {
            url: self.url.clone(),
            reachable: self.reachable(),
            failure_mode,
            consecutive_failures: self.circuit.failures.load(Ordering::Acquire),
            failures_total: self.circuit.failures_total.load(Ordering::Relaxed),
            fallbacks_total: self.fallbacks(),
            unreachable_since: self
                .circuit
                .down_since
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .map(|at| humantime::format_rfc3339_millis(at).to_string()),
        }
    }

    /// Counts a request that was counted locally because Redis did not answer.
    pub fn count_fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted locally because Redis did not answer, since start.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Calls that failed or timed out since start.
    pub fn failures_total(&self) -> u64 {
        self.circuit.failures_total.load(Ordering::Relaxed)
    }

    /// One PING through the circuit (refused while a probe is not due); whether Redis answered.
    pub async fn probe(&self) -> bool {
        self.call(
            |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
        )
        .await
        .is_ok()
    }

    /// Pings once at start, so the log says at once whether Redis answers.
    pub async fn check(&self) {
        let pong = self
            .call(
                |mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await },
            )
            .await;
        match pong {
            Ok(_) => {
                tracing::info!(url = %self.url, prefix = %self.prefix, "sharing counters through Redis")
            }
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "Redis does not answer yet; the redis_failure setting decides until it does")
            }
        }
    }
}

/// Whether Redis itself produced this error (so it is reachable), as opposed to the connection
/// failing or no answer coming.
pub(crate) fn answered(error: &redis::RedisError) -> bool {
    !(error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error())
}

/// Failed calls in a row, and when an open circuit lets the next probe through.
struct Circuit {
    /// Where `probe_at` counts from.
    epoch: Instant,
    failures: AtomicU32,
    failures_total: AtomicU64,
    /// Milliseconds after `epoch` when the next probe may go.
    probe_at: AtomicU64,
    down_since: Mutex<Option<SystemTime>>,
}

impl Circuit {
    fn new(epoch: Instant) -> Circuit {
        Circuit {
            epoch,
            failures: AtomicU32::new(0),
            failures_total: AtomicU64::new(0),
            probe_at: AtomicU64::new(0),
            down_since: Mutex::new(None),
        }
    }

    fn ms(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    /// Whether a call may go now: always while closed; while open, one call per second (the
    /// first to claim the probe).
    fn allow(&self, now: Instant) -> bool {
        if self.failures.load(Ordering::Acquire) < OPEN_AFTER {
            return true;
        }
        let now_ms = self.ms(now);
        let due = self.probe_at.load(Ordering::Acquire);
        let next = now_ms.saturating_add(self.ms(self.epoch + PROBE_EVERY));
        now_ms >= due
            && self
                .probe_at
                .compare_exchange(due, next, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// Records an answer; true when it closes an open circuit.
    fn succeeded(&self, url: &str) -> bool {
        if self.failures.load(Ordering::Acquire) == 0 {
            return false;
        }
        let before = self.failures.swap(0, Ordering::AcqRel);
        if before < OPEN_AFTER {
            return false;
        }
        *self.down_since.lock().unwrap_or_else(|p| p.into_inner()) = None;
        tracing::info!(url, "Redis answers again: shared counters are back in use");
        true
    }

    fn failed(&self, now: Instant, url: &str, why: &str) {
        self.failures_total.fetch_add(1, Ordering::Relaxed);
        let failures = self.failures.fetch_add(1, Ordering::AcqRel) + 1;
        if failures >= OPEN_AFTER {
            let next = self
                .ms(now)
                .saturating_add(self.ms(self.epoch + PROBE_EVERY));
            self.probe_at.store(next, Ordering::Release);
        }
        if failures == OPEN_AFTER {
            *self.down_since.lock().unwrap_or_else(|p| p.into_inner()) = Some(SystemTime::now());
            // Logged once per outage: the log must not grow with the request rate.
            tracing::warn!(
                url,
                why,
                "Redis is unreachable: the redis_failure setting decides until it answers (probed every second)"
            );
        }
    }
}

pub mod admission;
mod background;

pub use background::spawn as spawn_background;

#[cfg(test)]
pub(crate) mod test_redis;
#[cfg(test)]
mod tests;
