//! The circuit on a moved clock, and the connection against a real `redis-server` that stops and
//! comes back.

use std::time::Duration;

use tokio::time::Instant;

use super::test_redis::TestRedis;
use super::*;

#[test]
fn the_circuit_opens_after_three_failures_and_lets_one_probe_through_a_second() {
    let start = Instant::now();
    let circuit = Circuit::new(start);
    for _ in 0..2 {
        assert!(circuit.allow(start));
        circuit.failed(start, "redis://test", "refused");
    }
    assert!(circuit.allow(start), "two failures leave it closed");
    circuit.failed(start, "redis://test", "refused");
    assert!(!circuit.allow(start), "the third opens it");
    assert!(!circuit.allow(start + Duration::from_millis(999)));
    let due = start + PROBE_EVERY;
    assert!(circuit.allow(due), "one probe after a second");
    assert!(!circuit.allow(due), "and only one");
    circuit.failed(due, "redis://test", "refused");
    assert!(!circuit.allow(due + Duration::from_millis(500)));
    assert!(circuit.allow(due + PROBE_EVERY));
    assert!(circuit.succeeded("redis://test"), "a success closes it");
    assert!(circuit.allow(due + PROBE_EVERY));
    assert_eq!(circuit.failures.load(Ordering::Acquire), 0);
    assert_eq!(circuit.failures_total.load(Ordering::Acquire), 4);
    assert!(
        !circuit.succeeded("redis://test"),
        "closing a closed circuit is no recovery"
    );
}

async fn ping(redis: &Redis) -> Result<String, SharedError> {
    redis
        .call(|mut conn| async move { redis::cmd("PING").query_async::<String>(&mut conn).await })
        .await
}

#[tokio::test]
async fn an_outage_opens_the_circuit_and_the_return_is_noticed() {
    let Some(mut server) = TestRedis::start() else {
        return;
    };
    let redis = Redis::connect(&server.url(), "sy-test", Duration::from_millis(200)).expect("URL");
    let mut recoveries = redis.recoveries();
    assert_eq!(ping(&redis).await.expect("up"), "PONG");
    assert!(redis.status(RedisFailure::Open).reachable);

    server.stop();
    for _ in 0..OPEN_AFTER {
        let began = std::time::Instant::now();
        assert!(ping(&redis).await.is_err());
        assert!(
            began.elapsed() < Duration::from_secs(2),
            "a down Redis must not stall a call: {:?}",
            began.elapsed()
        );
    }
    let status = redis.status(RedisFailure::Closed);
    assert!(!status.reachable);
    assert!(status.unreachable_since.is_some());
    assert_eq!(status.failure_mode, RedisFailure::Closed);
    assert!(matches!(ping(&redis).await, Err(SharedError::CircuitOpen)));

    server.resume();
    // The next probe is due within a second; poll for it rather than sleeping a fixed time.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while ping(&redis).await.is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "Redis came back but was not noticed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(redis.reachable());
    assert!(redis.status(RedisFailure::Open).unreachable_since.is_none());
    assert!(recoveries.has_changed().expect("sender alive"));
    assert_eq!(*recoveries.borrow_and_update(), 1);
}

#[tokio::test]
async fn an_error_redis_answers_with_is_no_outage() {
    let Some(server) = TestRedis::start() else {
        return;
    };
    let redis = Redis::connect(&server.url(), "sy-test", Duration::from_millis(200)).expect("URL");
    for _ in 0..5 {
        let wrong = redis
            .call(|mut conn| async move {
                redis::cmd("NO-SUCH-COMMAND")
                    .query_async::<String>(&mut conn)
                    .await
            })
            .await;
        assert!(matches!(wrong, Err(SharedError::Redis(_))));
    }
    assert!(redis.reachable());
    assert_eq!(redis.status(RedisFailure::Open).failures_total, 0);
}

#[tokio::test]
async fn an_unreachable_redis_at_start_fails_fast_and_the_url_stays_secret() {
    let redis = Redis::connect(
        "redis://:hunter2@127.0.0.1:1/0",
        "sy-test",
        Duration::from_millis(100),
    )
    .expect("a lazy connection to a closed port");
    let began = std::time::Instant::now();
    let error = ping(&redis).await.expect_err("nothing listens on port 1");
    assert!(
        began.elapsed() < Duration::from_secs(2),
        "{:?}",
        began.elapsed()
    );
    assert!(!error.to_string().contains("hunter2"));
    let status = redis.status(RedisFailure::Open);
    assert!(!status.url.contains("hunter2"), "{}", status.url);
    assert!(format!("{redis:?}").contains("***"));
    let refused = Redis::connect("nonsense://:hunter2@x", "sy", Duration::from_millis(50))
        .expect_err("not a Redis URL");
    assert!(!refused.to_string().contains("hunter2"), "{refused}");
}

#[test]
fn keys_carry_the_cluster_prefix() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _entered = runtime.enter();
    let redis =
        Redis::connect("redis://127.0.0.1:1", "blue", Duration::from_millis(50)).expect("URL");
    assert_eq!(redis.key("l:{consumer:12}:rpm"), "blue:l:{consumer:12}:rpm");
    assert_eq!(redis.prefix(), "blue");
}
