//! The cache's storage: TTLs on the injectable clock, the byte cap, purging, resizing, counters.

use std::sync::Arc;

use bytes::Bytes;
use http::HeaderValue;

use super::*;

fn answer(clock: &Clock, route: &str, ttl_ms: i64, body_len: usize) -> CachedAnswer {
    CachedAnswer {
        route: Arc::from(route),
        provider: Arc::from("openai"),
        model: "gpt-4o".into(),
        stored_at_ms: clock.now_ms(),
        ttl_ms,
        client: ClientApi::OpenAi,
        stream: false,
        frames: vec![Bytes::from(vec![b'x'; body_len])],
        usage: Usage::default(),
        cost_micros: Some(120),
        status: 200,
        content_type: HeaderValue::from_static("application/json"),
    }
}

fn k(n: u32) -> CacheKey {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    CacheKey(bytes)
}

fn cache(max_bytes: u64) -> (Arc<Clock>, ResponseCache) {
    let clock = Arc::new(Clock::default());
    (Arc::clone(&clock), ResponseCache::new(max_bytes, clock))
}

#[tokio::test]
async fn an_answer_is_served_until_its_ttl_ends_on_the_gateway_clock() {
    let (clock, cache) = cache(1 << 20);
    assert!(cache.insert(k(1), answer(&clock, "chat", 60_000, 10)));
    assert!(cache.get("chat", &k(1)).await.is_some());
    clock.set_offset_ms(59_000);
    let hit = cache.get("chat", &k(1)).await.expect("still fresh");
    assert_eq!(hit.age_secs(cache.now_ms()), 59);
    clock.set_offset_ms(60_000);
    assert!(
        cache.get("chat", &k(1)).await.is_none(),
        "expired at its TTL"
    );
    // The expired entry was dropped, not just hidden: moving the clock back does not revive it.
    clock.set_offset_ms(0);
    assert!(cache.get("chat", &k(1)).await.is_none());
    assert_eq!(cache.stats().await.expect("memory").entries, 0);
}

#[tokio::test]
async fn the_hit_ratio_counts_every_lookup() {
    let (clock, cache) = cache(1 << 20);
    assert_eq!(cache.stats().await.expect("memory").hit_ratio, 0.0);
    cache.insert(k(1), answer(&clock, "chat", 60_000, 10));
    for _ in 0..3 {
        assert!(cache.get("chat", &k(1)).await.is_some());
    }
    assert!(cache.get("chat", &k(2)).await.is_none());
    let stats = cache.stats().await.expect("memory");
    assert_eq!((stats.hits, stats.misses), (3, 1));
    assert!((stats.hit_ratio - 0.75).abs() < f64::EPSILON);
}

#[tokio::test]
async fn the_weigher_keeps_the_stored_bytes_under_the_cap() {
    let cap = 64 * 1024;
    let (clock, cache) = cache(cap);
    for n in 0..20 {
        cache.insert(k(n), answer(&clock, "chat", 60_000, 8 * 1024));
    }
    let stats = cache.stats().await.expect("memory");
    assert_eq!(stats.max_bytes, cap);
    assert!(stats.bytes <= cap, "{} bytes over a {cap} cap", stats.bytes);
    assert!(stats.entries > 0 && stats.entries < 20, "{stats:?}");
    let one = u64::from(answer(&clock, "chat", 1, 8 * 1024).weight());
    assert_eq!(stats.bytes, stats.entries * one);
}

#[tokio::test]
async fn an_answer_larger_than_the_cap_errors_and_no_ttl_are_never_stored() {
    let (clock, cache) = cache(4096);
    assert!(!cache.insert(k(1), answer(&clock, "chat", 60_000, 8 * 1024)));
    let mut error = answer(&clock, "chat", 60_000, 10);
    error.status = 500;
    assert!(!cache.insert(k(2), error));
    assert!(!cache.insert(k(3), answer(&clock, "chat", 0, 10)));
    assert_eq!(cache.stats().await.expect("memory").entries, 0);
}

#[tokio::test]
async fn purging_by_route_removes_only_that_routes_answers() {
    let (clock, cache) = cache(1 << 20);
    for n in 0..3 {
        cache.insert(k(n), answer(&clock, "chat", 60_000, 10));
    }
    cache.insert(k(10), answer(&clock, "embed", 60_000, 10));
    assert_eq!(cache.purge(Some("nothing")).await.expect("memory"), 0);
    assert_eq!(cache.purge(Some("chat")).await.expect("memory"), 3);
    assert!(cache.get("chat", &k(0)).await.is_none());
    assert!(cache.get("chat", &k(10)).await.is_some());
    assert_eq!(cache.stats().await.expect("memory").entries, 1);
    assert_eq!(cache.purge(None).await.expect("memory"), 1);
    assert_eq!(
        cache.stats().await.expect("memory"),
        CacheStats {
            entries: 0,
            bytes: 0,
            max_bytes: 1 << 20,
            hits: 1,
            misses: 1,
            hit_ratio: 0.5,
            backend: "memory".into(),
            unavailable: 0,
        }
    );
}

#[tokio::test]
async fn resizing_keeps_the_entries_that_fit_and_their_deadlines() {
    let (clock, cache) = cache(1 << 20);
    for n in 0..4 {
        cache.insert(k(n), answer(&clock, "chat", 60_000, 1000));
    }
    cache.resize(1 << 20);
    assert_eq!(
        cache.stats().await.expect("memory").entries,
        4,
        "an unchanged cap changes nothing"
    );
    cache.resize(2 << 20);
    let stats = cache.stats().await.expect("memory");
    assert_eq!((stats.entries, stats.max_bytes), (4, 2 << 20));
    assert!(cache.get("chat", &k(3)).await.is_some());
    // Shrunk below two entries' weight: at most one survives, and the cap holds.
    let one = u64::from(answer(&clock, "chat", 1, 1000).weight());
    cache.resize(one + one / 2);
    let stats = cache.stats().await.expect("memory");
    assert!(
        stats.entries <= 1 && stats.bytes <= stats.max_bytes,
        "{stats:?}"
    );
    clock.set_offset_ms(60_000);
    for n in 0..4 {
        assert!(
            cache.get("chat", &k(n)).await.is_none(),
            "TTLs carried over"
        );
    }
}

#[tokio::test]
async fn a_newer_answer_replaces_the_old_one_under_its_key() {
    let (clock, cache) = cache(1 << 20);
    cache.insert(k(1), answer(&clock, "chat", 60_000, 10));
    cache.insert(k(1), answer(&clock, "chat", 60_000, 20));
    assert_eq!(
        cache.get("chat", &k(1)).await.map(|a| a.body_len()),
        Some(20)
    );
    assert_eq!(cache.stats().await.expect("memory").entries, 1);
}

#[tokio::test]
async fn the_setting_is_in_mebibytes() {
    assert_eq!(max_bytes(256), 256 * 1024 * 1024);
    assert_eq!(max_bytes(u64::MAX), u64::MAX);
}
