//! The response cache on Redis, against a real `redis-server` (skipped with a printed reason when
//! none is installed): the value format, answers stored through one gateway found by another, the
//! TTL on the gateway's moved clock, purges, and an outage that is a miss and then recovers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderValue;

use super::*;
use crate::shared_state::Redis;
use crate::shared_state::test_redis::TestRedis;

/// Long enough for a loaded machine; an unreachable Redis must still cost less than this.
const TIMEOUT: Duration = Duration::from_millis(300);

fn answer(clock: &Clock, route: &str, stream: bool) -> CachedAnswer {
    let frames = if stream {
        vec![
            Bytes::from_static(b"data: {\"choices\":[{\"delta\":{\"content\":\"hel\"}}]}\n\n"),
            Bytes::from_static(
                b"data: {\"choices\":[{\"delta\":{\"content\":\"lo\"}}]}\n\ndata: [DONE]\n\n",
            ),
        ]
    } else {
        vec![Bytes::from_static(
            b"{\"choices\":[{\"message\":{\"content\":\"hello\"}}]}",
        )]
    };
    CachedAnswer {
        route: Arc::from(route),
        provider: Arc::from("openai"),
        model: "gpt-4o".into(),
        stored_at_ms: clock.now_ms(),
        ttl_ms: 60_000,
        client: if stream {
            ClientApi::Anthropic
        } else {
            ClientApi::OpenAi
        },
        stream,
        frames,
        usage: Usage {
            prompt_tokens: 11,
            completion_tokens: 7,
            cached_prompt_tokens: 3,
            reasoning_tokens: 2,
            cache_write_tokens: 1,
        },
        cost_micros: if stream { None } else { Some(-5) },
        status: 200,
        content_type: HeaderValue::from_static(if stream {
            "text/event-stream"
        } else {
            "application/json"
        }),
    }
}

fn k(n: u32) -> CacheKey {
    let mut bytes = [0u8; 32];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    CacheKey(bytes)
}

/// Every field of two answers, compared (`CachedAnswer` has no `PartialEq`: `HeaderValue` and
/// `Usage` would need it only for this).
fn assert_same(found: &CachedAnswer, sent: &CachedAnswer) {
    assert_eq!(found.route, sent.route);
    assert_eq!(found.provider, sent.provider);
    assert_eq!(found.model, sent.model);
    assert_eq!(found.stored_at_ms, sent.stored_at_ms);
    assert_eq!(found.ttl_ms, sent.ttl_ms);
    assert_eq!(found.client, sent.client);
    assert_eq!(found.stream, sent.stream);
    assert_eq!(found.frames, sent.frames, "frames keep their boundaries");
    assert_eq!(format!("{:?}", found.usage), format!("{:?}", sent.usage));
    assert_eq!(found.cost_micros, sent.cost_micros);
    assert_eq!(found.status, sent.status);
    assert_eq!(found.content_type, sent.content_type);
}

/// One "gateway": its own connection and clock, on the shared server.
fn node(server: &TestRedis, prefix: &str) -> (Arc<Clock>, ResponseCache) {
    let redis = Redis::connect(&server.url(), prefix, TIMEOUT).expect("a Redis URL");
    let clock = Arc::new(Clock::default());
    let cache = ResponseCache::shared(Arc::new(redis), Arc::clone(&clock));
    (clock, cache)
}

/// A raw connection to look into the server.
async fn raw(server: &TestRedis) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .expect("a Redis URL")
        .get_multiplexed_async_connection()
        .await
        .expect("the test server answers")
}

/// Polls `check` every 10 ms until it is true, failing after five seconds: stores are spawned,
/// so they land a moment after `insert` returns.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[test]
fn the_value_format_round_trips_and_refuses_what_it_cannot_read() {
    let clock = Clock::default();
    for stream in [false, true] {
        let sent = answer(&clock, "chat", stream);
        let bytes = encode(&sent);
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_same(&decode(&bytes).expect("decodes"), &sent);

        let mut other = bytes.clone();
        other[0] = FORMAT_VERSION + 1;
        assert_eq!(
            decode(&other).err(),
            Some(DecodeError::Version(FORMAT_VERSION + 1))
        );
        // Every cut is refused without a panic.
        for len in 0..bytes.len() {
            assert!(decode(&bytes[..len]).is_err(), "cut at {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode(&longer).err(), Some(DecodeError::Trailing(1)));
    }
}

#[tokio::test]
async fn an_answer_stored_through_one_gateway_is_a_hit_on_another() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (clock_a, a) = node(&server, "sy-t");
    let (_, b) = node(&server, "sy-t");
    for (n, stream) in [(1, false), (2, true)] {
        let sent = answer(&clock_a, "chat", stream);
        assert!(a.insert(k(n), sent.clone()));
        eventually("the spawned store", || async {
            b.get("chat", &k(n)).await.is_some()
        })
        .await;
        let found = b.get("chat", &k(n)).await.expect("a hit");
        assert_same(&found, &sent);
        // The route is part of the Redis key: another route's lookup of the same digest misses.
        assert!(b.get("other", &k(n)).await.is_none());
    }
    let stats = b.stats().await.expect("Redis answers");
    assert_eq!(stats.backend, "redis");
    assert_eq!(stats.entries, 2);
    assert!(stats.bytes > 100, "{stats:?}");
    assert_eq!(stats.max_bytes, 0, "Redis's maxmemory bounds the size");
    assert!(stats.hits >= 2, "{stats:?}");
    assert_eq!(stats.unavailable, 0);
    assert_eq!(
        a.stats().await.expect("Redis answers").hits,
        0,
        "hits are counted per gateway"
    );

    // The key is the prefix, the route and the digest: never the request's text.
    let key = match &a.store {
        Store::Redis(backend) => backend.entry_key("chat", &k(1)),
        Store::Local(_) => unreachable!("a shared cache"),
    };
    assert_eq!(key, format!("sy-t:c:chat:00000001{}", "0".repeat(56)));
    let mut conn = raw(&server).await;
    let ttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query_async(&mut conn)
        .await
        .expect("PTTL");
    assert!((1..=60_000).contains(&ttl), "SET … PX ttl: {ttl}");
}

#[tokio::test]
async fn an_entry_expires_on_the_gateways_clock_and_is_removed() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (clock, cache) = node(&server, "sy-t");
    assert!(cache.insert(k(1), answer(&clock, "chat", false)));
    eventually("the spawned store", || async {
        cache.get("chat", &k(1)).await.is_some()
    })
    .await;
    // The clock runs on while the store lands, so "fresh" is checked a second before the end.
    clock.set_offset_ms(59_000);
    assert!(cache.get("chat", &k(1)).await.is_some(), "still fresh");
    clock.set_offset_ms(60_000);
    assert!(
        cache.get("chat", &k(1)).await.is_none(),
        "expired at its TTL"
    );
    // The expired entry is removed from Redis, not just hidden: the clock moved back finds nothing.
    clock.set_offset_ms(0);
    eventually("the expired entry's removal", || async {
        cache.get("chat", &k(1)).await.is_none()
    })
    .await;
    // An answer whose TTL has already run out on the gateway's clock is not sent at all.
    let mut stale = answer(&clock, "chat", false);
    stale.stored_at_ms -= 60_000;
    assert!(!cache.insert(k(2), stale));
}

#[tokio::test]
async fn purges_take_every_entry_or_one_routes_and_leave_other_clusters_alone() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let (clock, cache) = node(&server, "sy-t");
    let (other_clock, other_cluster) = node(&server, "sy-other");
    for n in 0..3 {
        cache.insert(k(n), answer(&clock, "chat", false));
    }
    cache.insert(k(10), answer(&clock, "chat-2", true));
    cache.insert(k(11), answer(&clock, "embed", false));
    other_cluster.insert(k(0), answer(&other_clock, "chat", false));
    eventually("five stores", || async {
        cache.stats().await.is_ok_and(|stats| stats.entries == 5)
    })
    .await;
    eventually("the other cluster's store", || async {
        other_cluster.get("chat", &k(0)).await.is_some()
    })
    .await;

    assert_eq!(cache.purge(Some("nothing")).await.expect("purges"), 0);
    assert_eq!(
        cache.purge(Some("chat")).await.expect("purges"),
        3,
        "chat-2 is another route"
    );
    assert!(cache.get("chat", &k(0)).await.is_none());
    assert!(cache.get("chat-2", &k(10)).await.is_some());
    assert_eq!(
        cache.purge(Some("*")).await.expect("purges"),
        0,
        "a glob is a name"
    );
    assert_eq!(cache.purge(None).await.expect("purges"), 2);
    assert_eq!(cache.stats().await.expect("counts").entries, 0);
    assert!(
        other_cluster.get("chat", &k(0)).await.is_some(),
        "another prefix is another cluster"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_miss_and_a_skipped_store_until_it_returns() {
    let Some(mut server) = TestRedis::start() else {
        return;
    };
    let (clock, cache) = node(&server, "sy-t");
    cache.insert(k(1), answer(&clock, "chat", false));
    eventually("the spawned store", || async {
        cache.get("chat", &k(1)).await.is_some()
    })
    .await;

    server.stop();
    for _ in 0..5 {
        let began = Instant::now();
        assert!(cache.get("chat", &k(1)).await.is_none(), "a miss");
        assert!(
            began.elapsed() < TIMEOUT + Duration::from_secs(1),
            "bounded by the timeout: {:?}",
            began.elapsed()
        );
    }
    assert!(cache.insert(k(2), answer(&clock, "chat", false)));
    assert!(cache.purge(None).await.is_err(), "the admin API learns it");
    assert!(cache.stats().await.is_err());
    let backend = match &cache.store {
        Store::Redis(backend) => backend.clone(),
        Store::Local(_) => unreachable!("a shared cache"),
    };
    eventually("the skipped store counted", || async {
        backend.unavailable() >= 6
    })
    .await;

    // Redis comes back empty (it keeps nothing on disk); within a probe, caching works again.
    server.resume();
    eventually("a store and a hit after the outage", || async {
        cache.insert(k(3), answer(&clock, "chat", true));
        tokio::time::sleep(Duration::from_millis(20)).await;
        cache.get("chat", &k(3)).await.is_some()
    })
    .await;
    let stats = cache.stats().await.expect("Redis answers again");
    assert_eq!(stats.entries, 1);
    assert!(stats.unavailable >= 6, "{stats:?}");
}
