//! The response cache: complete, successful answers kept in memory (or in the cluster's Redis)
//! under a digest of the request as it was sent upstream, and served again (in either mode, event
//! by event) until their TTL.
//!
//! The pieces: [`key`] makes the [`CacheKey`]; a [`CacheBackend`] keeps the answers in this
//! process (the memory one, [`MemoryBackend`], is the default), or [`RedisBackend`] keeps them in
//! the cluster's Redis (`--redis-url`), where every gateway of the cluster finds them;
//! [`ResponseCache`] adds the injectable clock's TTL check and the hit/miss counters; [`replay`]
//! turns a stored answer into the body a request gets, in the mode that request asked for.

mod anthropic;
mod key;
mod memory;
mod openai;
mod redis_backend;
mod replay;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_redis;
#[cfg(test)]
mod tests_replay;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::HeaderValue;
use switchyard_shared::CacheStats;

pub use key::{CacheApi, CacheKey, key};
pub use memory::MemoryBackend;
pub use redis_backend::{DecodeError, FORMAT_VERSION, RedisBackend, decode, encode};
pub use replay::{ReplayBody, replay};

use crate::clock::Clock;
use crate::usage::Usage;

/// The protocol a client was answered in, which is the protocol a replay must speak.
pub use crate::stream::ClientApi;

/// One stored answer: exactly what the client was sent, plus what its record needs on a hit.
#[derive(Clone, Debug)]
pub struct CachedAnswer {
    /// The route that served it, for purging by route and for the hit's record.
    pub route: Arc<str>,
    /// The provider that answered (after any fallback).
    pub provider: Arc<str>,
    /// The upstream model that answered.
    pub model: String,
    /// When it was stored, on the gateway's clock.
    pub stored_at_ms: i64,
    /// How long it may be served, from `stored_at_ms`.
    pub ttl_ms: i64,
    pub client: ClientApi,
    /// Whether `frames` are stream events (SSE bytes) or a plain JSON body.
    pub stream: bool,
    /// The bytes the client was sent, as they were sent (frame boundaries need not match events).
    pub frames: Vec<Bytes>,
    /// The provider's usage for the answer, so a hit's record can say what it saved.
    pub usage: Usage,
    /// What the answer cost when it was fetched; a hit costs nothing and saves this.
    pub cost_micros: Option<i64>,
    /// Always 200: nothing else is stored; kept so a replay never has to assume it.
    pub status: u16,
    pub content_type: HeaderValue,
}

/// What an entry costs beyond its bytes: the struct, its key, the backend's bookkeeping. A guess,
/// but it keeps many tiny answers from looking free.
const ENTRY_OVERHEAD: usize = 256;

impl CachedAnswer {
    /// The bytes this entry holds, for the cache's size cap (saturating at `u32::MAX`, which is
    /// far above any answer a stream's 1 MiB events or a bounded body can make).
    pub fn weight(&self) -> u32 {
        let frames: usize = self
            .frames
            .iter()
            .map(|frame| frame.len() + std::mem::size_of::<Bytes>())
            .sum();
        let total = frames
            + self.route.len()
            + self.provider.len()
            + self.model.len()
            + self.content_type.len()
            + ENTRY_OVERHEAD;
        u32::try_from(total).unwrap_or(u32::MAX)
    }

    /// The body's length in bytes.
    pub fn body_len(&self) -> usize {
        self.frames.iter().map(Bytes::len).sum()
    }

    /// When it stops being served, on the gateway's clock.
    pub fn expires_at_ms(&self) -> i64 {
        self.stored_at_ms.saturating_add(self.ttl_ms)
    }

    pub fn is_expired(&self, now_ms: i64) -> bool {
        now_ms >= self.expires_at_ms()
    }

    /// The `age` header's value: whole seconds since it was stored (never negative, even if the
    /// clock was moved back).
    pub fn age_secs(&self, now_ms: i64) -> u64 {
        u64::try_from(now_ms.saturating_sub(self.stored_at_ms) / 1000).unwrap_or(0)
    }
}

/// What a backend reports about itself; the counters live in [`ResponseCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackendStats {
    pub entries: u64,
    pub bytes: u64,
    pub max_bytes: u64,
}

/// Where answers are kept in this process. The memory backend is the default. Every call is
/// synchronous and must not block for long: lookups run on the request path. (The cluster's
/// Redis is not one of these: its calls are async, see [`RedisBackend`].)
pub trait CacheBackend: Send + Sync {
    fn get(&self, key: &CacheKey) -> Option<Arc<CachedAnswer>>;
    fn insert(&self, key: CacheKey, answer: Arc<CachedAnswer>);
    fn remove(&self, key: &CacheKey);
    /// Removes every entry, or those of one route; returns how many went.
    fn purge(&self, route: Option<&str>) -> u64;
    /// Counts entries and bytes; may be slow (it is for the admin API, not requests).
    fn stats(&self) -> BackendStats;
    /// The size cap; cheap, as every store checks it.
    fn max_bytes(&self) -> u64;
    /// Changes the size cap (the `cache_max_mb` setting changed).
    fn resize(&self, max_bytes: u64);
}

/// The `cache_max_mb` setting in bytes.
pub fn max_bytes(cache_max_mb: u64) -> u64 {
    cache_max_mb.saturating_mul(1024 * 1024)
}

/// Where a [`ResponseCache`] keeps its answers: a synchronous backend in this process (the
/// memory one), or the cluster's Redis. An enum rather than one async trait, so that a memory
/// lookup stays a plain function call with nothing boxed or awaited.
enum Store {
    Local(Box<dyn CacheBackend>),
    Redis(RedisBackend),
}

/// Why the admin API could not purge or count the cache.
#[derive(Debug, thiserror::Error)]
#[error("the response cache's Redis did not answer: {0}")]
pub struct CacheUnavailable(#[from] crate::shared_state::SharedError);

/// The gateway's one response cache, shared by the proxy and the admin API.
pub struct ResponseCache {
    store: Store,
    clock: Arc<Clock>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResponseCache {
    /// A memory cache holding at most `max_bytes` of answers, whose TTLs run on `clock` (the
    /// gateway's one clock, so tests can expire entries by moving it).
    pub fn new(max_bytes: u64, clock: Arc<Clock>) -> ResponseCache {
        let backend = MemoryBackend::new(max_bytes, Arc::clone(&clock));
        ResponseCache::with_backend(Box::new(backend), clock)
    }

    pub fn with_backend(backend: Box<dyn CacheBackend>, clock: Arc<Clock>) -> ResponseCache {
        ResponseCache::with_store(Store::Local(backend), clock)
    }

    /// A cache shared by every gateway of a cluster through `redis` (`--redis-url`); the TTLs
    /// are still checked on `clock`.
    pub fn shared(redis: Arc<crate::shared_state::Redis>, clock: Arc<Clock>) -> ResponseCache {
        ResponseCache::with_store(Store::Redis(RedisBackend::new(redis)), clock)
    }

    fn with_store(store: Store, clock: Arc<Clock>) -> ResponseCache {
        ResponseCache {
            store,
            clock,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Now on the cache's clock: what `stored_at_ms` must be measured on.
    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The answer stored under `key` (for `route`), counted as a hit; a miss when there is none,
    /// when it has expired by the gateway's clock (then it is dropped at once, not left to the
    /// backend's own expiry, which runs on a clock tests cannot move), or when Redis does not
    /// answer within its timeout.
    ///
    /// The memory backend finds an entry by its key alone, so an answer stored through one route
    /// can serve another route that sends the same request to the same provider and model; the
    /// Redis backend keys entries by route as well, so that a per-route purge is exact.
    pub async fn get(&self, route: &str, key: &CacheKey) -> Option<Arc<CachedAnswer>> {
        let stored = match &self.store {
            Store::Local(backend) => backend.get(key),
            // An unreachable Redis was counted by the backend; to the request it is a miss.
            Store::Redis(backend) => backend.get(route, key).await.ok().flatten().map(Arc::new),
        };
        self.found(route, key, stored)
    }

    /// The Redis store, when the answers live in the cluster's Redis (`--redis-url`): its entry
    /// names are what the shared admission may read ahead in its own round trip.
    pub fn redis(&self) -> Option<&RedisBackend> {
        match &self.store {
            Store::Local(_) => None,
            Store::Redis(backend) => Some(backend),
        }
    }

    /// A lookup of `key` answered by a value read ahead from Redis (`None`: no entry), counted
    /// and expired exactly as [`ResponseCache::get`] does.
    pub fn get_read_ahead(
        &self,
        route: &str,
        key: &CacheKey,
        value: Option<&[u8]>,
    ) -> Option<Arc<CachedAnswer>> {
        let stored = value.and_then(redis_backend::readable).map(Arc::new);
        self.found(route, key, stored)
    }

    /// What a lookup that found `stored` answers, counted as a hit or a miss.
    fn found(
        &self,
        route: &str,
        key: &CacheKey,
        stored: Option<Arc<CachedAnswer>>,
    ) -> Option<Arc<CachedAnswer>> {
        let found = match stored {
            Some(answer) if !answer.is_expired(self.clock.now_ms()) => Some(answer),
            Some(_) => {
                // Expired: removed now so it stops taking room.
                self.remove(route, key);
                None
            }
            None => None,
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a complete answer. Refused (returns false) when it is not a 200, has no time to
    /// live, or alone would not fit under the memory cache's cap: storing it would only evict
    /// others for nothing. In Redis the store is a spawned task, never awaited by the response
    /// (true means it was sent, not that Redis kept it), and nothing is refused for its size:
    /// Redis's `maxmemory` policy decides.
    pub fn insert(&self, key: CacheKey, answer: CachedAnswer) -> bool {
        if answer.status != 200 || answer.ttl_ms <= 0 {
            return false;
        }
        match &self.store {
            Store::Local(backend) => {
                if u64::from(answer.weight()) > backend.max_bytes() {
                    return false;
                }
                backend.insert(key, Arc::new(answer));
            }
            Store::Redis(backend) => {
                let left = answer.expires_at_ms().saturating_sub(self.clock.now_ms());
                if left <= 0 {
                    return false;
                }
                backend.spawn_insert(&key, &answer, left);
            }
        }
        true
    }

    /// Drops one entry (say, one whose replay failed).
    pub fn remove(&self, route: &str, key: &CacheKey) {
        match &self.store {
            Store::Local(backend) => backend.remove(key),
            Store::Redis(backend) => backend.spawn_remove(route, key),
        }
    }

    /// Removes every entry, or only those stored for `route`; returns how many went. In Redis,
    /// every gateway's entries go (`SCAN` + `UNLINK` over the cluster's prefix).
    pub async fn purge(&self, route: Option<&str>) -> Result<u64, CacheUnavailable> {
        match &self.store {
            Store::Local(backend) => Ok(backend.purge(route)),
            Store::Redis(backend) => Ok(backend.purge(route).await?),
        }
    }

    /// The entries and bytes stored (for Redis, the cluster's, counted with `SCAN`), and this
    /// gateway's own hits and misses.
    pub async fn stats(&self) -> Result<CacheStats, CacheUnavailable> {
        let (backend, name, unavailable) = match &self.store {
            Store::Local(backend) => (backend.stats(), "memory", 0),
            Store::Redis(backend) => (backend.stats().await?, "redis", backend.unavailable()),
        };
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        let lookups = hits.saturating_add(misses);
        Ok(CacheStats {
            entries: backend.entries,
            bytes: backend.bytes,
            max_bytes: backend.max_bytes,
            hits,
            misses,
            hit_ratio: if lookups == 0 {
                0.0
            } else {
                hits as f64 / lookups as f64
            },
            backend: name.to_owned(),
            unavailable,
        })
    }

    /// Applies a changed `cache_max_mb` (in bytes); the backend says what becomes of the
    /// entries ([`MemoryBackend::resize`]). Unchanged caps cost nothing, and Redis has no cap of
    /// ours to change.
    pub fn resize(&self, max_bytes: u64) {
        if let Store::Local(backend) = &self.store {
            backend.resize(max_bytes);
        }
    }
}
