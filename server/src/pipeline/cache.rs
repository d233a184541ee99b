//! The cache phase: for a route with `cache` enabled, each attempt first looks for a stored answer
//! to the request exactly as that attempt would send it (provider, upstream model, the normalised
//! body, and the caller's consumer unless the route shares answers globally), and the attempt that
//! answers plans to store its answer under that same key. The finish phase stores it only if it was
//! a complete success the client received whole.
//!
//! The client steers it with `Cache-Control`: `no-cache` skips the lookup but stores the fresh
//! answer, `no-store` does neither. A request whose guardrails replaced values with placeholders to
//! restore is never cached: the placeholders look alike for different values, so its answer (with
//! the values restored) must not serve anyone else.
//!
//! In cluster mode the cache lives in Redis, and a request that is also admitted through Redis
//! reads its first attempt's entry in the admission's round trip ([`CachePlan::read_ahead`]):
//! the entries of every upstream the route's strategy may pick first, at most
//! [`MAX_READ_AHEAD`]. The attempt's lookup then finds its value in hand.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};
use switchyard_shared::{CacheScope, RouteCache};
use tokio::time::Instant;

use super::Caller;
use crate::cache::{CacheApi, CacheKey, CachedAnswer, ClientApi, ResponseCache};
use crate::proxy::Inbound;
use crate::snapshot::Route;

/// The most cache entries a request reads ahead with its admission: one per upstream its first
/// attempt may go to, in a priority group this wide at most (wider groups read the first ones).
pub const MAX_READ_AHEAD: usize = 4;

/// What the client's `Cache-Control` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    Normal,
    /// Fetch a fresh answer, and store it.
    NoCache,
    /// Neither look up nor store.
    NoStore,
}

impl Directive {
    pub fn from_headers(headers: &HeaderMap) -> Directive {
        let mut directive = Directive::Normal;
        for value in headers.get_all(header::CACHE_CONTROL) {
            let Ok(text) = value.to_str() else { continue };
            for part in text.split(',') {
                match part.trim().to_ascii_lowercase().as_str() {
                    "no-store" => return Directive::NoStore,
                    "no-cache" | "max-age=0" => directive = Directive::NoCache,
                    _ => {}
                }
            }
        }
        directive
    }
}

/// A cacheable request's plan: where to look and what to say about it.
pub struct CachePlan {
    cache: Arc<ResponseCache>,
    config: RouteCache,
    directive: Directive,
    consumer: Option<i64>,
    api: CacheApi,
    pub client: ClientApi,
    /// The body as every attempt sends it upstream.
    body: Bytes,
    /// The keys computed so far, per provider and upstream model: each is computed once.
    keys: Vec<(i64, Box<str>, Option<CacheKey>)>,
    /// The keys [`CachePlan::read_ahead`] asked Redis for, in order, until their values come.
    asked: Vec<CacheKey>,
    /// Values read ahead, each used by the first lookup of its key (a later attempt asks again).
    read: Vec<(CacheKey, Option<Vec<u8>>)>,
}

/// The `x-switchyard-cache` header.
pub const CACHE_HEADER: http::HeaderName = http::HeaderName::from_static("x-switchyard-cache");

impl CachePlan {
    /// The plan for a request on a route, whose attempts send `body` upstream; `None` when the
    /// route does not cache or the request cannot be cached (token counting, or values to
    /// restore in the answer).
    pub fn new(
        cache: &Arc<ResponseCache>,
        config: Option<RouteCache>,
        headers: &HeaderMap,
        caller: &Caller,
        inbound: Inbound,
        restores: bool,
        body: &Bytes,
    ) -> Option<CachePlan> {
        let config = config.filter(|config| config.enabled)?;
        let api = match inbound {
            Inbound::Chat => CacheApi::Chat,
            Inbound::Embeddings => CacheApi::Embeddings,
            Inbound::Messages => CacheApi::Messages,
            // Only the APIs whose answers the cache can replay in every mode are cached.
            Inbound::CountTokens
            | Inbound::Responses
            | Inbound::Gemini
            | Inbound::GeminiCountTokens
            | Inbound::Endpoint(_) => return None,
        };
        let client = inbound.client_api();
        let directive = if restores {
            Directive::NoStore
        } else {
            Directive::from_headers(headers)
        };
        Some(CachePlan {
            cache: Arc::clone(cache),
            config,
            directive,
            consumer: caller.key().map(|key| key.consumer.id),
            api,
            client,
            body: body.clone(),
            keys: Vec::new(),
            asked: Vec::new(),
            read: Vec::new(),
        })
    }

    /// The key of the request as an attempt to `provider_id` and `upstream_model` sends it.
    pub fn key(&mut self, provider_id: i64, upstream_model: &str) -> Option<CacheKey> {
        if self.directive == Directive::NoStore {
            return None;
        }
        if let Some((_, _, key)) = self
            .keys
            .iter()
            .find(|(id, model, _)| *id == provider_id && **model == *upstream_model)
        {
            return *key;
        }
        let key = crate::cache::key(
            self.consumer,
            self.config.scope == CacheScope::Global,
            provider_id,
            upstream_model,
            self.api,
            &self.body,
        );
        self.keys.push((provider_id, upstream_model.into(), key));
        key
    }

    /// The Redis entries the request's first attempt may be answered from, for the shared
    /// admission to read in its round trip: one per upstream `route` may pick first for a
    /// request for `model` (reading health only, so nothing is claimed before the request is
    /// admitted). Empty unless the cache lives in Redis and the client allows a lookup. Only for
    /// a request admitted through Redis: any other would compute keys it may never use.
    pub fn read_ahead(&mut self, route: &Route, model: &str, now: Instant) -> Vec<String> {
        let cache = Arc::clone(&self.cache);
        let Some(redis) = cache
            .redis()
            .filter(|_| self.directive == Directive::Normal)
        else {
            return Vec::new();
        };
        let mut entries = Vec::new();
        for upstream in route.first_candidates(now) {
            if self.asked.len() == MAX_READ_AHEAD {
                break;
            }
            let Some(key) = self.key(upstream.provider.id, upstream.target_model(model)) else {
                continue;
            };
            if self.asked.contains(&key) {
                continue;
            }
            self.asked.push(key);
            entries.push(redis.entry_key(&route.name, &key));
        }
        entries
    }

    /// Takes the values Redis answered for [`CachePlan::read_ahead`]'s entries, in its order.
    pub fn values_read(&mut self, values: crate::shared_state::admission::EntryValues) {
        if values.len() == self.asked.len() {
            self.read = self.asked.drain(..).zip(values).collect();
        }
    }

    /// A stored answer for `key` on `route`, unless the client asked for a fresh one: the value
    /// read ahead with the admission when there is one, else the cache's.
    pub async fn lookup(&mut self, route: &str, key: &CacheKey) -> Option<Arc<CachedAnswer>> {
        if self.directive != Directive::Normal {
            return None;
        }
        if let Some(at) = self.read.iter().position(|(read, _)| read == key) {
            let (_, value) = self.read.swap_remove(at);
            return self.cache.get_read_ahead(route, key, value.as_deref());
        }
        self.cache.get(route, key).await
    }

    /// Forgets an entry that could not be served.
    pub fn forget(&self, route: &str, key: &CacheKey) {
        self.cache.remove(route, key);
    }

    pub fn ttl_ms(&self) -> i64 {
        i64::try_from(self.config.ttl_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    pub fn cache(&self) -> &Arc<ResponseCache> {
        &self.cache
    }

    /// `hit`, `miss`, or `bypass` when the client's `Cache-Control` skipped the lookup.
    pub fn header(&self, hit: bool) -> HeaderValue {
        HeaderValue::from_static(match (hit, self.directive) {
            (true, _) => "hit",
            (false, Directive::Normal) => "miss",
            (false, _) => "bypass",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn directive(values: &[&str]) -> Directive {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(
                header::CACHE_CONTROL,
                HeaderValue::from_str(value).expect("header"),
            );
        }
        Directive::from_headers(&headers)
    }

    #[test]
    fn reads_the_clients_cache_control() {
        assert_eq!(directive(&[]), Directive::Normal);
        assert_eq!(directive(&["no-cache"]), Directive::NoCache);
        assert_eq!(directive(&["No-Cache, max-stale"]), Directive::NoCache);
        assert_eq!(directive(&["no-cache", "no-store"]), Directive::NoStore);
        assert_eq!(directive(&["private, no-store"]), Directive::NoStore);
        assert_eq!(directive(&["max-age=60"]), Directive::Normal);
    }
}
