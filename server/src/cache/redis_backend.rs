//! The response cache in the cluster's Redis (issue 17): an answer stored through one gateway is a
//! hit on every other.
//!
//! - **Keys** are `<prefix>:c:<route>:<digest in hex>`. The digest is the [`CacheKey`] (never
//!   prompt text). The route is in the key so that a per-route purge is one `SCAN MATCH` with no
//!   bookkeeping that could drift; route names are slugs, which hold no `:`, so one route's
//!   pattern never matches another's keys.
//! - **Values** are [`encode`]d answers: a format version byte, then length-prefixed fields. A
//!   node that reads a version it does not know (a newer node's entry, during a rolling upgrade)
//!   treats it as a miss; its own store then overwrites the entry.
//! - **Expiry**: `SET … PX <ttl>` lets Redis drop an entry nobody asks for again; whether an entry
//!   may still be *served* is decided by [`super::ResponseCache::get`] on the gateway's clock, as
//!   for the memory cache.
//! - **Size**: not capped by the gateway. Redis's own `maxmemory` and eviction policy bound it
//!   (`docs/cluster.md`).
//!
//! Every call goes through [`Redis::call`], so an unreachable Redis costs a lookup at most the
//! timeout and then nothing while its circuit is open: the lookup is a miss and the store is
//! skipped, and both are counted in `unavailable`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http::HeaderValue;

use super::{BackendStats, CacheKey, CachedAnswer, ClientApi};
use crate::shared_state::{Redis, SharedError};
use crate::usage::Usage;

/// The layout [`encode`] writes. Bump it when the layout changes, so that nodes of the old and
/// the new version never misread each other's entries.
pub const FORMAT_VERSION: u8 = 1;

/// How many keys one `SCAN` step asks for: large enough that a purge of a big cache takes few
/// round trips, small enough that each step stays well inside the per-call timeout.
const SCAN_COUNT: usize = 500;

/// The response cache's store in Redis; cheap to clone (the spawned stores take a copy).
#[derive(Clone)]
pub struct RedisBackend {
    redis: Arc<Redis>,
    /// Lookups that became misses and stores that were skipped because Redis did not answer.
    unavailable: Arc<AtomicU64>,
}

impl RedisBackend {
    pub fn new(redis: Arc<Redis>) -> RedisBackend {
        RedisBackend {
            redis,
            unavailable: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Calls that found Redis unreachable since the gateway started.
    pub fn unavailable(&self) -> u64 {
        self.unavailable.load(Ordering::Relaxed)
    }

    fn count_unavailable(&self, what: &str, error: &SharedError) {
        self.unavailable.fetch_add(1, Ordering::Relaxed);
        // Debug, not warn: the circuit already logs an outage once, and this would repeat per
        // request.
        tracing::debug!(%error, "response cache: Redis did not answer the {what}");
    }

    /// The Redis key of `key` stored for `route`.
    pub fn entry_key(&self, route: &str, key: &CacheKey) -> String {
        let mut tail = String::with_capacity(3 + route.len() + 65);
        tail.push_str("c:");
        tail.push_str(route);
        tail.push(':');
        for byte in key.0 {
            // Writing into a String cannot fail.
            let _ = write!(tail, "{byte:02x}");
        }
        self.redis.key(&tail)
    }

    /// The `SCAN MATCH` pattern of every entry, or of one route's.
    fn pattern(&self, route: Option<&str>) -> String {
        let mut pattern = glob_escape(self.redis.prefix());
        pattern.push_str(":c:");
        if let Some(route) = route {
            pattern.push_str(&glob_escape(route));
            pattern.push(':');
        }
        pattern.push('*');
        pattern
    }

    /// The answer stored under `key` for `route`; `Ok(None)` when there is none, or when the
    /// stored value is in a format this gateway cannot read. `Err` only when Redis did not answer
    /// (counted).
    pub async fn get(
        &self,
        route: &str,
        key: &CacheKey,
    ) -> Result<Option<CachedAnswer>, SharedError> {
        let name = self.entry_key(route, key);
        let value = self
            .redis
            .call(|mut conn| async move {
                redis::cmd("GET")
                    .arg(&name)
                    .query_async::<Option<Vec<u8>>>(&mut conn)
                    .await
            })
            .await;
        match value {
            Ok(value) => Ok(value.as_deref().and_then(readable)),
            Err(error) => {
                self.count_unavailable("lookup", &error);
                Err(error)
            }
        }
    }

    /// Stores `answer` in a spawned task, so that no client's response waits for Redis; Redis
    /// drops it `ttl_left_ms` from now.
    pub fn spawn_insert(&self, key: &CacheKey, answer: &CachedAnswer, ttl_left_ms: i64) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let name = self.entry_key(&answer.route, key);
        let value = encode(answer);
        let ttl = u64::try_from(ttl_left_ms.max(1)).unwrap_or(1);
        let this = self.clone();
        runtime.spawn(async move {
            let stored = this
                .redis
                .call(|mut conn| async move {
                    redis::cmd("SET")
                        .arg(&name)
                        .arg(value)
                        .arg("PX")
                        .arg(ttl)
                        .query_async::<()>(&mut conn)
                        .await
                })
                .await;
            if let Err(error) = stored {
                this.count_unavailable("store", &error);
            }
        });
    }

    /// Drops one entry in a spawned task (one that expired on the gateway's clock, or could not
    /// be replayed); a failure costs nothing but the room until Redis expires it.
    pub fn spawn_remove(&self, route: &str, key: &CacheKey) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let name = self.entry_key(route, key);
        let redis = Arc::clone(&self.redis);
        runtime.spawn(async move {
            let _ = redis
                .call(|mut conn| async move {
                    redis::cmd("UNLINK")
                        .arg(&name)
                        .query_async::<u64>(&mut conn)
                        .await
                })
                .await;
        });
    }

    /// One `SCAN` step over the entries (or one route's): the next cursor and the keys found.
    async fn scan(&self, cursor: u64, pattern: &str) -> Result<(u64, Vec<String>), SharedError> {
        let pattern = pattern.to_owned();
        self.redis
            .call(|mut conn| async move {
                redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(SCAN_COUNT)
                    .query_async::<(u64, Vec<String>)>(&mut conn)
                    .await
            })
            .await
    }

    /// Removes every entry, or those of `route`, with `SCAN` and `UNLINK` (which frees the
    /// memory off Redis's main thread); returns how many went. Entries stored while the purge
    /// runs may survive it, as with any purge of a cache in use.
    pub async fn purge(&self, route: Option<&str>) -> Result<u64, SharedError> {
        let pattern = self.pattern(route);
        let mut cursor = 0;
        let mut removed = 0u64;
        loop {
            let (next, keys) = self.scan(cursor, &pattern).await?;
            if !keys.is_empty() {
                let gone = self
                    .redis
                    .call(|mut conn| async move {
                        redis::cmd("UNLINK")
                            .arg(&keys)
                            .query_async::<u64>(&mut conn)
                            .await
                    })
                    .await?;
                removed = removed.saturating_add(gone);
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    /// Counts the cluster's entries with `SCAN` and their bytes with `STRLEN` (one pipeline per
    /// step): exact for a quiet cache, and it costs a walk over the cache's keys, which is why
    /// only the admin API asks. `max_bytes` is 0: Redis's `maxmemory` bounds the size.
    pub async fn stats(&self) -> Result<BackendStats, SharedError> {
        let pattern = self.pattern(None);
        let mut cursor = 0;
        let mut stats = BackendStats::default();
        loop {
            let (next, keys) = self.scan(cursor, &pattern).await?;
            if !keys.is_empty() {
                let lengths = self
                    .redis
                    .call(|mut conn| async move {
                        let mut pipe = redis::pipe();
                        for key in &keys {
                            pipe.cmd("STRLEN").arg(key);
                        }
                        pipe.query_async::<Vec<u64>>(&mut conn).await
                    })
                    .await?;
                // A key that expired between the two calls has length 0 and is not counted.
                for length in lengths.into_iter().filter(|length| *length > 0) {
                    stats.entries += 1;
                    stats.bytes = stats.bytes.saturating_add(length);
                }
            }
            if next == 0 {
                return Ok(stats);
            }
            cursor = next;
        }
    }
}

/// `text` with Redis's glob characters escaped, for a `MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// Why a stored value could not be read.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("format version {0} is not {FORMAT_VERSION}")]
    Version(u8),
    #[error("the value ends inside a field")]
    Truncated,
    #[error("{0} is not valid")]
    Invalid(&'static str),
    #[error("{0} bytes follow the last field")]
    Trailing(usize),
}

fn client_tag(client: ClientApi) -> u8 {
    match client {
        ClientApi::OpenAi => 0,
        ClientApi::Anthropic => 1,
        ClientApi::Responses => 2,
        ClientApi::Gemini => 3,
    }
}

fn client_from(tag: u8) -> Result<ClientApi, DecodeError> {
    Ok(match tag {
        0 => ClientApi::OpenAi,
        1 => ClientApi::Anthropic,
        2 => ClientApi::Responses,
        3 => ClientApi::Gemini,
        _ => return Err(DecodeError::Invalid("the client API")),
    })
}

/// Appends a `u32` length (little-endian) and the bytes.
fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    // Answers are bounded far below 4 GiB (a stream's events and a plain body are capped), so
    // the length always fits; saturating keeps a corrupt length from being written if not.
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(bytes);
}

/// The answer in a value read from Redis (by a lookup, or by the admission script that read it
/// ahead); `None`, a miss, when it is in a format this gateway cannot read.
pub fn readable(bytes: &[u8]) -> Option<CachedAnswer> {
    match decode(bytes) {
        Ok(answer) => Some(answer),
        Err(why) => {
            tracing::debug!(%why, "response cache: an entry in Redis could not be read; a miss");
            None
        }
    }
}

/// The answer as bytes: `FORMAT_VERSION`, then route, provider, model, content type (each a
/// `u32` length and UTF-8 or header bytes), stored_at_ms and ttl_ms (`i64`), the client API, the
/// stream flag, the status (`u16`), the cost (a flag and an `i64`), the five usage counts
/// (`u64`), and the frames (a `u32` count, then each as length and bytes). Little-endian
/// throughout.
pub fn encode(answer: &CachedAnswer) -> Vec<u8> {
    let mut out = Vec::with_capacity(answer.body_len() + 4 * answer.frames.len() + 160);
    out.push(FORMAT_VERSION);
    put_bytes(&mut out, answer.route.as_bytes());
    put_bytes(&mut out, answer.provider.as_bytes());
    put_bytes(&mut out, answer.model.as_bytes());
    put_bytes(&mut out, answer.content_type.as_bytes());
    out.extend_from_slice(&answer.stored_at_ms.to_le_bytes());
    out.extend_from_slice(&answer.ttl_ms.to_le_bytes());
    out.push(client_tag(answer.client));
    out.push(u8::from(answer.stream));
    out.extend_from_slice(&answer.status.to_le_bytes());
    match answer.cost_micros {
        Some(cost) => {
            out.push(1);
            out.extend_from_slice(&cost.to_le_bytes());
        }
        None => out.push(0),
    }
    let usage = &answer.usage;
    for count in [
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_prompt_tokens,
        usage.reasoning_tokens,
        usage.cache_write_tokens,
    ] {
        out.extend_from_slice(&count.to_le_bytes());
    }
    let frames = u32::try_from(answer.frames.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&frames.to_le_bytes());
    for frame in &answer.frames {
        put_bytes(&mut out, frame);
    }
    out
}

/// Reads [`encode`]'s layout, checking every length against what is left.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let (head, rest) = self
            .rest
            .split_at_checked(n)
            .ok_or(DecodeError::Truncated)?;
        self.rest = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        // `take` returned exactly N bytes.
        bytes.try_into().map_err(|_| DecodeError::Truncated)
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.u32()?).map_err(|_| DecodeError::Truncated)?;
        self.take(len)
    }

    fn text(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| DecodeError::Invalid(what))
    }
}

/// The answer [`encode`] wrote; an error for another version or a damaged value, never a panic.
pub fn decode(bytes: &[u8]) -> Result<CachedAnswer, DecodeError> {
    let mut r = Reader { rest: bytes };
    let version = r.u8()?;
    if version != FORMAT_VERSION {
        return Err(DecodeError::Version(version));
    }
    let route = Arc::from(r.text("the route")?);
    let provider = Arc::from(r.text("the provider")?);
    let model = r.text("the model")?.to_owned();
    let content_type = HeaderValue::from_bytes(r.bytes()?)
        .map_err(|_| DecodeError::Invalid("the content type"))?;
    let stored_at_ms = r.i64()?;
    let ttl_ms = r.i64()?;
    let client = client_from(r.u8()?)?;
    let stream = match r.u8()? {
        0 => false,
        1 => true,
        _ => return Err(DecodeError::Invalid("the stream flag")),
    };
    let status = u16::from_le_bytes(r.array()?);
    let cost_micros = match r.u8()? {
        0 => None,
        1 => Some(r.i64()?),
        _ => return Err(DecodeError::Invalid("the cost flag")),
    };
    let usage = Usage {
        prompt_tokens: r.u64()?,
        completion_tokens: r.u64()?,
        cached_prompt_tokens: r.u64()?,
        reasoning_tokens: r.u64()?,
        cache_write_tokens: r.u64()?,
    };
    let count = usize::try_from(r.u32()?).map_err(|_| DecodeError::Truncated)?;
    // Each frame takes at least its 4-byte length, so a count larger than the rest can hold is a
    // damaged value; checking first keeps it from reserving memory for nothing.
    if count > r.rest.len() / 4 {
        return Err(DecodeError::Truncated);
    }
    let mut frames = Vec::with_capacity(count);
    for _ in 0..count {
        frames.push(Bytes::copy_from_slice(r.bytes()?));
    }
    if !r.rest.is_empty() {
        return Err(DecodeError::Trailing(r.rest.len()));
    }
    Ok(CachedAnswer {
        route,
        provider,
        model,
        stored_at_ms,
        ttl_ms,
        client,
        stream,
        frames,
        usage,
        cost_micros,
        status,
        content_type,
    })
}
