//! The default cache backend: a `moka` cache in this process, bounded by the stored answers'
//! bytes, each entry expiring by itself when its TTL ends.
//!
//! moka's expiry runs on its own monotonic clock, which tests cannot move; it is the memory
//! backstop that frees entries nobody asks for again. Whether an entry may still be *served* is
//! decided by [`super::ResponseCache::get`] on the gateway's clock.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::sync::Cache;

use super::{BackendStats, CacheBackend, CacheKey, CachedAnswer};
use crate::clock::Clock;

type Inner = Cache<CacheKey, Arc<CachedAnswer>>;

/// Lets each entry live as long as its own TTL has left, measured on the gateway's clock when it
/// is written (so an entry carried into a resized cache keeps its original deadline).
struct RemainingTtl {
    clock: Arc<Clock>,
}

impl RemainingTtl {
    fn remaining(&self, answer: &CachedAnswer) -> Duration {
        let left = answer.expires_at_ms().saturating_sub(self.clock.now_ms());
        Duration::from_millis(u64::try_from(left).unwrap_or(0))
    }
}

impl Expiry<CacheKey, Arc<CachedAnswer>> for RemainingTtl {
    fn expire_after_create(
        &self,
        _key: &CacheKey,
        answer: &Arc<CachedAnswer>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(self.remaining(answer))
    }

    fn expire_after_update(
        &self,
        _key: &CacheKey,
        answer: &Arc<CachedAnswer>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        // A newer answer under the same key brings its own deadline.
        Some(self.remaining(answer))
    }
}

pub struct MemoryBackend {
    /// Replaced only when the size cap changes (moka cannot change it in place). The lock is held
    /// for the length of one moka call; readers never wait for each other, and a writer only
    /// for as long as it takes to swap the handle, never while entries are copied.
    inner: RwLock<Inner>,
    clock: Arc<Clock>,
}

fn build(max_bytes: u64, clock: &Arc<Clock>) -> Inner {
    Cache::builder()
        .max_capacity(max_bytes)
        .weigher(|_key: &CacheKey, answer: &Arc<CachedAnswer>| answer.weight())
        .expire_after(RemainingTtl {
            clock: Arc::clone(clock),
        })
        .build()
}

impl MemoryBackend {
    pub fn new(max_bytes: u64, clock: Arc<Clock>) -> MemoryBackend {
        MemoryBackend {
            inner: RwLock::new(build(max_bytes, &clock)),
            clock,
        }
    }

    /// The current cache's handle (a reference count; moka's caches are shared handles).
    fn cache(&self) -> Inner {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl CacheBackend for MemoryBackend {
    fn get(&self, key: &CacheKey) -> Option<Arc<CachedAnswer>> {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
    }

    fn insert(&self, key: CacheKey, answer: Arc<CachedAnswer>) {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key, answer);
    }

    fn remove(&self, key: &CacheKey) {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .invalidate(key);
    }

    /// Walks the entries and removes the matching ones one by one, so the count is exact (moka's
    /// `invalidate_entries_if` applies later and says nothing of how many it took).
    fn purge(&self, route: Option<&str>) -> u64 {
        let cache = self.cache();
        let matching: Vec<Arc<CacheKey>> = cache
            .iter()
            .filter(|(_, answer)| route.is_none_or(|route| *answer.route == *route))
            .map(|(key, _)| key)
            .collect();
        let removed = matching
            .iter()
            .filter(|key| cache.remove(key.as_ref()).is_some())
            .count();
        cache.run_pending_tasks();
        u64::try_from(removed).unwrap_or(u64::MAX)
    }

    /// Exact after the pending bookkeeping runs, which this does first (an admin call, rare).
    fn stats(&self) -> BackendStats {
        let cache = self.cache();
        cache.run_pending_tasks();
        BackendStats {
            entries: cache.entry_count(),
            bytes: cache.weighted_size(),
            max_bytes: cache.policy().max_capacity().unwrap_or(0),
        }
    }

    fn max_bytes(&self) -> u64 {
        self.inner
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .policy()
            .max_capacity()
            .unwrap_or(0)
    }

    /// moka fixes a cache's capacity when it is built, so a new cap means a new cache. The
    /// entries are carried over, each with the time it had left; when the cap shrank, the new
    /// cache's eviction policy decides which of them stay. They are copied before the swap, so
    /// requests are never held up by the copy; an answer stored during that moment goes into the
    /// old cache and is lost, which costs one later miss.
    fn resize(&self, max_bytes: u64) {
        let old = self.cache();
        if old.policy().max_capacity() == Some(max_bytes) {
            return;
        }
        let new = build(max_bytes, &self.clock);
        for (key, answer) in old.iter() {
            if !answer.is_expired(self.clock.now_ms()) {
                new.insert(*key, answer);
            }
        }
        new.run_pending_tasks();
        *self.inner.write().unwrap_or_else(PoisonError::into_inner) = new;
        old.invalidate_all();
    }
}
