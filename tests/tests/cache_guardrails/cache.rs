//! The response cache with plain answers: hits, misses and the client's `Cache-Control`, scopes,
//! the TTL on the test clock, fallbacks, errors, hit records, and `/api/cache`.

use serde_json::json;
use switchyard_tests::fixtures::{provider, test_key};
use switchyard_tests::metering::{cost_micros, micros};
use switchyard_tests::{Gateway, GatewayOptions, MockUpstream, Reply};

use super::{
    MODEL, add_priced, age_at_most, cache_header, cache_on, cache_stats, cached_setup, chat,
    chat_for, message_content, plain_reply, request_id, route_with, send, served, setup,
    setup_with, wait_entries,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_request_is_a_hit_that_never_reaches_the_provider() {
    let (gateway, mock) = cached_setup().await;
    mock.enqueue(plain_reply("The first answer.", MODEL));
    mock.set_default(plain_reply("A later answer.", MODEL));

    let first = send(&gateway, &chat("What is a cache?"), &[]).await;
    assert_eq!(served(&first, "miss"), "The first answer.");
    assert_eq!(first.header("x-switchyard-attempts"), Some("1"));
    assert_eq!(first.header("age"), None, "only a hit has an age");
    wait_entries(&gateway, 1).await;

    // The same request with its keys in another order and other whitespace is the same request.
    let reordered = r#"{ "messages" : [ { "content" : "What is a cache?", "role" : "user" } ],
        "model" : "cg-1" }"#;
    let hit = gateway.chat_raw(reordered).await;
    assert_eq!(served(&hit, "hit"), "The first answer.");
    assert_eq!(
        hit.body, first.body,
        "a hit is the stored answer, byte for byte"
    );
    assert_eq!(hit.header("x-switchyard-attempts"), Some("0"));
    age_at_most(&hit.headers, 2);
    assert_eq!(hit.header("x-switchyard-provider"), Some("up"));
    assert_eq!(hit.header("x-switchyard-route"), Some("cg"));
    assert_eq!(mock.request_count(), 1, "a hit never reaches the provider");

    // Another question, or the same one with another sampling setting, is another request.
    let other = send(&gateway, &chat("What is a hit?"), &[]).await;
    assert_eq!(served(&other, "miss"), "A later answer.");
    let mut warmer = chat("What is a cache?");
    warmer["temperature"] = json!(0.9);
    served(&send(&gateway, &warmer, &[]).await, "miss");
    assert_eq!(mock.request_count(), 3);

    // A route without a cache says nothing about one.
    gateway
        .add_route(&route_with("plain", "plain-", "up", json!({})))
        .await;
    let uncached = send(&gateway, &chat_for("plain-1", "What is a cache?"), &[]).await;
    uncached.expect_status(200, "a route without a cache");
    assert_eq!(cache_header(&uncached), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_cache_skips_the_lookup_but_stores_and_no_store_does_neither() {
    let (gateway, mock) = cached_setup().await;
    let question = chat("Tell me about caches.");
    mock.enqueue(plain_reply("Answer one.", MODEL));
    served(&send(&gateway, &question, &[]).await, "miss");
    wait_entries(&gateway, 1).await;

    // no-cache: the provider is asked again although an answer is stored, and its fresh answer
    // replaces the stored one.
    mock.enqueue(plain_reply("Answer two.", MODEL));
    let fresh = send(&gateway, &question, &[("cache-control", "no-cache")]).await;
    assert_eq!(served(&fresh, "bypass"), "Answer two.");
    assert_eq!(mock.request_count(), 2);
    let log = gateway.wait_log(&request_id(&fresh)).await;
    assert!(!log.cache_hit);
    let hit = send(&gateway, &question, &[]).await;
    assert_eq!(
        served(&hit, "hit"),
        "Answer two.",
        "no-cache stored its answer"
    );

    // no-store: the provider is asked, and its answer is neither served from nor put in the cache.
    mock.enqueue(plain_reply("Answer three.", MODEL));
    let unstored = send(&gateway, &question, &[("cache-control", "no-store")]).await;
    assert_eq!(served(&unstored, "bypass"), "Answer three.");
    assert_eq!(mock.request_count(), 3);
    gateway.wait_log(&request_id(&unstored)).await;
    let hit = send(&gateway, &question, &[]).await;
    assert_eq!(
        served(&hit, "hit"),
        "Answer two.",
        "no-store stored nothing"
    );

    // A request never seen before, with no-store, leaves nothing behind either.
    mock.enqueue(plain_reply("Answer four.", MODEL));
    let new = chat("Something new.");
    let unstored = send(&gateway, &new, &[("cache-control", "no-store")]).await;
    served(&unstored, "bypass");
    gateway.wait_log(&request_id(&unstored)).await;
    assert_eq!(cache_stats(&gateway).await.entries, 1);
    mock.enqueue(plain_reply("Answer five.", MODEL));
    assert_eq!(
        served(&send(&gateway, &new, &[]).await, "miss"),
        "Answer five."
    );
    assert_eq!(mock.request_count(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_never_share_answers_unless_the_scope_is_global() {
    let (gateway, mock) = cached_setup().await;
    let mut global = cache_on();
    global["scope"] = json!("global");
    gateway
        .add_route(&route_with(
            "shared",
            "shared-",
            "up",
            json!({"cache": global}),
        ))
        .await;
    let mut keys = Vec::new();
    for name in ["team-a", "team-b"] {
        gateway.add_consumer(&json!({"name": name})).await;
        keys.push(gateway.issue_key(name, &json!({"name": "ci"})).await);
    }
    let bearer = |i: usize| format!("Bearer {}", keys[i].key);
    let (a, b) = (bearer(0), bearer(1));
    let question = chat("Whose answer is this?");

    // Scope consumer (the default): A's answer serves A only.
    mock.enqueue(plain_reply("For A.", MODEL));
    served(
        &send(&gateway, &question, &[("authorization", &a)]).await,
        "miss",
    );
    wait_entries(&gateway, 1).await;
    mock.enqueue(plain_reply("For B.", MODEL));
    let for_b = send(&gateway, &question, &[("authorization", &b)]).await;
    assert_eq!(
        served(&for_b, "miss"),
        "For B.",
        "A's answer never serves B"
    );
    wait_entries(&gateway, 2).await;
    mock.enqueue(plain_reply("For nobody in particular.", MODEL));
    let anonymous = send(&gateway, &question, &[]).await;
    assert_eq!(served(&anonymous, "miss"), "For nobody in particular.");
    wait_entries(&gateway, 3).await;
    let again_a = send(&gateway, &question, &[("authorization", &a)]).await;
    assert_eq!(served(&again_a, "hit"), "For A.");
    let again_b = send(&gateway, &question, &[("authorization", &b)]).await;
    assert_eq!(served(&again_b, "hit"), "For B.");
    // The scope is the consumer, not the key: A's other key shares A's answers.
    let laptop = gateway
        .issue_key("team-a", &json!({"name": "laptop"}))
        .await;
    let a2 = format!("Bearer {}", laptop.key);
    let other_key = send(&gateway, &question, &[("authorization", &a2)]).await;
    assert_eq!(served(&other_key, "hit"), "For A.");
    assert_eq!(mock.request_count(), 3);

    // Scope global: whoever asked first answers everyone.
    let shared = chat_for("shared-1", "Whose answer is this?");
    mock.enqueue(plain_reply("For everyone.", "shared-1"));
    served(
        &send(&gateway, &shared, &[("authorization", &a)]).await,
        "miss",
    );
    wait_entries(&gateway, 4).await;
    let to_b = send(&gateway, &shared, &[("authorization", &b)]).await;
    assert_eq!(served(&to_b, "hit"), "For everyone.");
    assert_eq!(
        served(&send(&gateway, &shared, &[]).await, "hit"),
        "For everyone."
    );
    assert_eq!(mock.request_count(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_expire_after_their_ttl_on_the_test_clock() {
    let options = GatewayOptions::default().args(["--test-clock"]);
    let ttl = json!({"cache": {"enabled": true, "ttl_seconds": 60}});
    let (gateway, mock) = setup_with(options, ttl).await;
    let question = chat("How long do answers last?");
    mock.enqueue(plain_reply("A minute.", MODEL));
    served(&send(&gateway, &question, &[]).await, "miss");
    wait_entries(&gateway, 1).await;

    gateway
        .move_clock(30_000)
        .await
        .expect_status(200, "moving the clock 30 s");
    let aged = send(&gateway, &question, &[]).await;
    assert_eq!(served(&aged, "hit"), "A minute.");
    // Thirty seconds on the moved clock, plus the real time the test took since the store.
    let age = age_at_most(&aged.headers, 33);
    assert!(age >= 30, "30 s after it was stored: age {age}");

    gateway
        .move_clock(61_000)
        .await
        .expect_status(200, "moving the clock past the TTL");
    mock.enqueue(plain_reply("A new minute.", MODEL));
    let expired = send(&gateway, &question, &[]).await;
    assert_eq!(served(&expired, "miss"), "A new minute.");
    assert_eq!(mock.request_count(), 2);
    // The fresh answer is stored at the moved time and served from then on.
    gateway.wait_log(&request_id(&expired)).await;
    let hit = send(&gateway, &question, &[]).await;
    assert_eq!(served(&hit, "hit"), "A new minute.");
    age_at_most(&hit.headers, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fallback_answer_is_stored_under_the_request_the_fallback_received() {
    let primary = MockUpstream::start("primary").await;
    let backup = MockUpstream::start("backup").await;
    let gateway = Gateway::start().await;
    // One failure opens the primary's circuit for a minute, so the next request skips it.
    let mut spec = provider("primary", &primary, &test_key("primary"));
    spec["health_check"] = json!({"enabled": false, "unhealthy_after": 1, "cooldown_ms": 60_000});
    gateway.add_provider(&spec).await;
    add_priced(&gateway, &backup, "*").await;
    let fallback =
        json!({"enabled": true, "upstreams": [{"provider": "backup", "model": "backup-model"}]});
    let extra = json!({"cache": cache_on(), "fallback": fallback});
    gateway
        .add_route(&route_with("fb", "fb-", "primary", extra))
        .await;
    primary.enqueue(Reply::error(503, "overloaded"));
    backup.enqueue(plain_reply("From the backup.", "backup-model"));
    let question = chat_for("fb-1", "Who answers?");

    let first = send(&gateway, &question, &[]).await;
    assert_eq!(served(&first, "miss"), "From the backup.");
    assert_eq!(first.header("x-switchyard-provider"), Some("backup"));
    assert_eq!(
        first.header("x-switchyard-fallback"),
        Some("primary:503,backup:200")
    );
    wait_entries(&gateway, 1).await;

    let hit = send(&gateway, &question, &[]).await;
    assert_eq!(served(&hit, "hit"), "From the backup.");
    assert_eq!(hit.header("x-switchyard-provider"), Some("backup"));
    assert_eq!(hit.header("x-switchyard-model"), Some("backup-model"));
    assert_eq!(hit.header("x-switchyard-attempts"), Some("0"));
    assert_eq!(primary.request_count(), 1, "the primary is not retried");
    assert_eq!(backup.request_count(), 1);
    let log = gateway.wait_log(&request_id(&hit)).await;
    assert!(log.cache_hit, "{log:?}");
    assert_eq!(log.provider.as_deref(), Some("backup"));
    assert_eq!(log.model.as_deref(), Some("backup-model"));

    // The same request as the primary would receive it (same provider, upstream model and body)
    // finds nothing: the fallback's answer was never stored under the primary's request. This
    // route reaches the primary although its circuit is open, as a retry of its only upstream.
    let upstream = json!({"provider": "primary", "model": "fb-1"});
    let mut direct = route_with("direct", "direct-", "primary", json!({"cache": cache_on()}));
    direct["upstreams"] = json!([upstream]);
    gateway.add_route(&direct).await;
    primary.enqueue(plain_reply("From the primary.", "fb-1"));
    let own = send(&gateway, &chat_for("direct-1", "Who answers?"), &[]).await;
    assert_eq!(served(&own, "miss"), "From the primary.");
    assert_eq!(primary.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_answers_are_never_stored() {
    let (gateway, mock) = setup(json!({"cache": cache_on(), "retry": {"max_attempts": 1}})).await;
    let question = chat("Will this fail?");
    mock.enqueue(Reply::error(500, "upstream broke"));
    let failed = send(&gateway, &question, &[]).await;
    failed.expect_status(500, "the provider's error");
    mock.enqueue(Reply::error(400, "bad request upstream"));
    let refused = send(&gateway, &question, &[]).await;
    refused.expect_status(400, "the provider's refusal");
    gateway.wait_log(&request_id(&refused)).await;
    assert_eq!(cache_stats(&gateway).await.entries, 0, "no error is stored");

    mock.enqueue(plain_reply("It worked.", MODEL));
    assert_eq!(
        served(&send(&gateway, &question, &[]).await, "miss"),
        "It worked."
    );
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hit_is_recorded_as_free_with_the_cost_it_saved() {
    let (gateway, mock) = cached_setup().await;
    mock.enqueue(plain_reply("Priced words.", MODEL));
    let question = chat("What does this cost?");
    let miss = send(&gateway, &question, &[("x-request-id", "cg-miss")]).await;
    served(&miss, "miss");
    wait_entries(&gateway, 1).await;
    let hit = send(&gateway, &question, &[("x-request-id", "cg-hit")]).await;
    served(&hit, "hit");

    let stored_cost = cost_micros(30, 7);
    let miss = gateway.wait_log("cg-miss").await;
    assert!(!miss.cache_hit, "{miss:?}");
    assert_eq!(miss.cost_usd.map(micros), Some(stored_cost), "{miss:?}");
    assert!(
        miss.cost_saved_usd.is_none_or(|saved| saved == 0.0),
        "a miss saves nothing: {miss:?}"
    );
    let log = gateway.wait_log("cg-hit").await;
    assert!(log.cache_hit, "{log:?}");
    assert_eq!(log.cost_usd, Some(0.0), "a hit costs nothing: {log:?}");
    assert_eq!(log.cost_saved_usd.map(micros), Some(stored_cost), "{log:?}");
    assert_eq!((log.status, log.error_code.as_deref()), (200, None));
    assert_eq!(log.attempts, 0, "{log:?}");
    assert_eq!(log.route.as_deref(), Some("cg"));
    assert_eq!(log.provider.as_deref(), Some("up"));
    assert_eq!(log.model.as_deref(), Some(MODEL));
    assert!(!log.client_disconnected, "{log:?}");
    assert_eq!(
        (log.prompt_tokens, log.completion_tokens),
        (30, 7),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_stats_count_lookups_and_purges_remove_one_route_or_all() {
    let (gateway, mock) = cached_setup().await;
    gateway
        .add_route(&route_with(
            "other",
            "other-",
            "up",
            json!({"cache": cache_on()}),
        ))
        .await;
    let empty = cache_stats(&gateway).await;
    assert_eq!(
        (empty.entries, empty.bytes, empty.hits, empty.misses),
        (0, 0, 0, 0)
    );
    assert_eq!(empty.hit_ratio, 0.0);
    assert_eq!(
        empty.max_bytes,
        256 * 1024 * 1024,
        "the default cache_max_mb"
    );

    let ours = chat("Purge me.");
    let theirs = chat_for("other-1", "Purge me.");
    mock.set_default(plain_reply("Stored.", MODEL));
    served(&send(&gateway, &ours, &[]).await, "miss");
    served(&send(&gateway, &theirs, &[]).await, "miss");
    let stats = wait_entries(&gateway, 2).await;
    assert!(stats.bytes > 0, "{stats:?}");
    served(&send(&gateway, &ours, &[]).await, "hit");
    served(&send(&gateway, &ours, &[]).await, "hit");
    served(&send(&gateway, &theirs, &[]).await, "hit");
    served(&send(&gateway, &theirs, &[]).await, "hit");
    let stats = cache_stats(&gateway).await;
    assert_eq!((stats.hits, stats.misses), (4, 2), "{stats:?}");
    assert!((stats.hit_ratio - 4.0 / 6.0).abs() < 1e-9, "{stats:?}");

    let typo = gateway.admin_delete("/api/cache?rout=cg").await;
    typo.expect_status(422, "a purge with an unknown parameter");
    assert_eq!(
        cache_stats(&gateway).await.entries,
        2,
        "a typo purges nothing"
    );

    let purged = gateway.admin_delete("/api/cache?route=cg").await;
    purged.expect_status(200, "DELETE /api/cache?route=cg");
    assert_eq!(purged.json(), json!({"removed": 1}));
    assert_eq!(cache_stats(&gateway).await.entries, 1);
    served(&send(&gateway, &ours, &[]).await, "miss");
    served(&send(&gateway, &theirs, &[]).await, "hit");
    wait_entries(&gateway, 2).await;

    let all = gateway.admin_delete("/api/cache").await;
    all.expect_status(200, "DELETE /api/cache");
    assert_eq!(all.json(), json!({"removed": 2}));
    let stats = cache_stats(&gateway).await;
    assert_eq!((stats.entries, stats.bytes), (0, 0), "{stats:?}");
    let after = send(&gateway, &theirs, &[]).await;
    assert_eq!(message_content(&after), "Stored.");
    assert_eq!(cache_header(&after), Some("miss"));
}
