//! Cluster mode across three real gateways on one PostgreSQL and one Redis (issue 17): the
//! fixture itself, configuration written on one node serving on the others within a second, and
//! the response cache shared through Redis (a hit on another node, a purge from a third, and an
//! outage of Redis that costs misses, never errors).

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use switchyard_shared::CacheStats;
use switchyard_tests::cluster_fixture::{ClusterFixture, ClusterOptions};
use switchyard_tests::fixtures::{prefix, provider, simple_route, test_key};
use switchyard_tests::{ApiResponse, Gateway, MockUpstream, poll_until};

/// How long a poll waits before the test fails; generous, the tests share two cores.
const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn the_fixture_starts_kills_and_restarts_nodes_on_one_database() {
    let Some(mut cluster) = ClusterFixture::start(3).await else {
        return;
    };
    for node in cluster.nodes() {
        let status = node.admin_get("/api/status").await;
        assert_eq!(status.status, StatusCode::OK, "{}", status.text());
        let redis = &status.json()["redis"];
        assert_eq!(
            redis["reachable"], true,
            "every node reaches Redis: {redis}"
        );
    }
    let applied = cluster
        .psql("SELECT count(*) FROM _sqlx_migrations")
        .expect("the fixture's database answers");
    assert_ne!(applied, "0", "the first node migrated the shared database");

    cluster.kill(1).await;
    assert!(!cluster.node_mut(1).is_running());
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(cluster.next_node().admin_url().to_owned());
    }
    assert!(
        !seen.iter().any(|url| url == cluster.node(1).admin_url()),
        "round robin skips the killed node"
    );
    assert!(seen.contains(&cluster.node(0).admin_url().to_owned()));
    assert!(seen.contains(&cluster.node(2).admin_url().to_owned()));

    let began = Instant::now();
    cluster.restart(1).await;
    println!("node B restarted in {:?}", began.elapsed());
    let status = cluster.node(1).admin_get("/api/status").await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.text());
    poll_until(DEADLINE, "the restarted node in the rotation", || {
        let url = cluster.next_node().admin_url().to_owned();
        let wanted = cluster.node(1).admin_url().to_owned();
        async move { (url == wanted).then_some(()) }
    })
    .await;
}

/// The route every cache test uses: models starting with `cc-`, cached for an hour.
const MODEL: &str = "cc-1";

/// A write made on one node must serve on the others within this (issue 17).
const PROPAGATION: Duration = Duration::from_secs(1);

/// A chat request for [`MODEL`] saying `text`, plain or streamed.
fn chat(text: &str, stream: bool) -> Value {
    json!({"model": MODEL, "stream": stream, "messages": [{"role": "user", "content": text}]})
}

/// Sends `body` to `node`'s proxy (with `key` as a bearer token, if any) and reads the answer
/// whole, a stream included.
async fn send(node: &Gateway, body: &Value, key: Option<&str>) -> ApiResponse {
    let mut request = node.chat_request(body);
    if let Some(key) = key {
        request = request.header("authorization", format!("Bearer {key}"));
    }
    ApiResponse::send(request).await
}

/// Asserts a 200 whose `x-switchyard-cache` is `expected`, and returns the body as text.
fn served(response: &ApiResponse, expected: &str, context: &str) -> String {
    response.expect_status(200, context);
    assert_eq!(
        response.header("x-switchyard-cache"),
        Some(expected),
        "{context}: x-switchyard-cache; headers {:?}",
        response.headers
    );
    response.text()
}

/// Polls `node` until `body` is answered with a 200, and returns how long that took from
/// `since`; fails after [`DEADLINE`].
async fn time_until_served(
    node: &Gateway,
    body: &Value,
    key: Option<&str>,
    since: Instant,
) -> Duration {
    loop {
        let response = send(node, body, key).await;
        if response.status == StatusCode::OK {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < DEADLINE,
            "{} never served the request: {} {}",
            node.proxy_url(),
            response.status,
            response.text()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// `GET /api/cache` on `node`: the cluster's entries (counted in Redis) and the node's counters.
async fn cache_stats(node: &Gateway) -> Option<CacheStats> {
    let response = node.admin_get("/api/cache").await;
    (response.status == StatusCode::OK).then(|| {
        serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!(
                "/api/cache of an unexpected shape ({e}): {}",
                response.text()
            )
        })
    })
}

/// Waits until `node` counts `entries` answers in Redis: a store is a spawned task after the
/// answer's end, which the client may see a moment before.
async fn wait_entries(node: &Gateway, entries: u64) -> CacheStats {
    poll_until(DEADLINE, &format!("{entries} entries in Redis"), || async {
        cache_stats(node)
            .await
            .filter(|stats| stats.entries == entries)
    })
    .await
}

/// A cluster of three with a mock upstream, its provider and the caching route `cc`, all
/// created through node A; waits until B and C serve the route.
async fn cached_cluster(extra: ClusterOptions) -> Option<(ClusterFixture, MockUpstream)> {
    let cluster = ClusterFixture::start_with(3, extra).await?;
    let mock = MockUpstream::start("up").await;
    let a = cluster.node(0);
    a.add_provider(&provider(mock.name(), &mock, &test_key(mock.name())))
        .await;
    let mut route = simple_route("cc", prefix("cc-"), mock.name());
    route["cache"] = json!({"enabled": true, "ttl_seconds": 3600});
    a.add_route(&route).await;
    let since = Instant::now();
    for node in cluster.nodes() {
        // A `no-store` probe: it proves the route serves without leaving an entry behind.
        let probe = node
            .chat_request(&chat("probe", false))
            .header("cache-control", "no-store");
        poll_until(DEADLINE, "the route on every node", || {
            let probe = probe.try_clone().expect("a plain body clones");
            async move { (ApiResponse::send(probe).await.status == StatusCode::OK).then_some(()) }
        })
        .await;
    }
    println!(
        "the route served on every node {:?} after A's answer",
        since.elapsed()
    );
    mock.clear();
    Some((cluster, mock))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_written_on_a_serves_on_b_and_c_within_a_second() {
    let Some(cluster) = ClusterFixture::start(3).await else {
        return;
    };
    let mock = MockUpstream::start("up").await;
    let (a, b, c) = (cluster.node(0), cluster.node(1), cluster.node(2));
    let body = chat("configured on A", false);
    for node in [b, c] {
        let before = send(node, &body, None).await;
        assert_ne!(
            before.status,
            StatusCode::OK,
            "no route yet: {}",
            before.text()
        );
    }

    // A provider and a route, created on A, serve on B and C.
    a.add_provider(&provider(mock.name(), &mock, &test_key(mock.name())))
        .await;
    a.add_route(&simple_route("cc", prefix("cc-"), mock.name()))
        .await;
    let since = Instant::now();
    for (name, node) in [("B", b), ("C", c)] {
        let took = time_until_served(node, &body, None, since).await;
        println!("A's route served on {name} after {took:?}");
        assert!(
            took < PROPAGATION,
            "A's route served on {name} after {took:?}"
        );
    }

    // Client keys required, and a consumer with a key, created on A: the key works on B and C.
    a.set_client_auth("required").await;
    a.add_consumer(&json!({"name": "team-a"})).await;
    let key = a.issue_key("team-a", &json!({"name": "ci"})).await;
    let since = Instant::now();
    for (name, node) in [("B", b), ("C", c)] {
        let took = time_until_served(node, &body, Some(&key.key), since).await;
        println!("A's consumer key served on {name} after {took:?}");
        assert!(
            took < PROPAGATION,
            "A's key served on {name} after {took:?}"
        );
        let without = send(node, &body, None).await;
        assert_eq!(
            without.status,
            StatusCode::UNAUTHORIZED,
            "{}",
            without.text()
        );
    }
    let with_key = mock.requests_with_key(&test_key(mock.name()));
    assert!(
        with_key.len() >= 4,
        "the upstream answered B and C: {}",
        with_key.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_write_on_b_shows_on_a_within_a_second_at_the_same_revision() {
    let Some(cluster) = ClusterFixture::start(3).await else {
        return;
    };
    let mock = MockUpstream::start("from-b").await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    b.add_provider(&provider(mock.name(), &mock, &test_key(mock.name())))
        .await;
    let since = Instant::now();
    let revision_on_b = b.admin_get("/api/status").await.json()["config_revision"]
        .as_i64()
        .expect("a revision");
    poll_until(DEADLINE, "B's provider in A's lists and export", || async {
        let listed = a
            .admin_get("/api/providers")
            .await
            .text()
            .contains("\"from-b\"");
        let exported = a.admin_get("/api/config").await.text().contains("from-b");
        (listed && exported).then_some(())
    })
    .await;
    let took = since.elapsed();
    println!("B's provider listed and exported on A after {took:?}");
    assert!(took < PROPAGATION, "B's write on A after {took:?}");
    let revision_on_a = poll_until(DEADLINE, "A at B's revision", || async {
        let revision = a.admin_get("/api/status").await.json()["config_revision"].as_i64();
        revision.filter(|revision| *revision >= revision_on_b)
    })
    .await;
    assert!(
        since.elapsed() < PROPAGATION,
        "A's status after {:?}",
        since.elapsed()
    );
    assert_eq!(revision_on_a, revision_on_b, "one store, one revision");
    let on_c = cluster.node(2).admin_get("/api/status").await.json()["config_revision"].as_i64();
    assert!(on_c <= Some(revision_on_b), "no node is ahead of the store");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cached_through_a_is_a_hit_on_b_and_c_until_c_purges_it() {
    let Some((cluster, mock)) = cached_cluster(ClusterOptions::default()).await else {
        return;
    };
    let (a, b, c) = (cluster.node(0), cluster.node(1), cluster.node(2));
    let plain = chat("Cached on A, plain.", false);
    let streamed = chat("Cached on A, streamed.", true);

    let miss = served(&send(a, &plain, None).await, "miss", "plain on A");
    wait_entries(b, 1).await;
    for (name, node) in [("B", b), ("C", c)] {
        let hit = send(node, &plain, None).await;
        assert_eq!(served(&hit, "hit", name), miss, "{name} replays A's answer");
        assert_eq!(hit.header("x-switchyard-attempts"), Some("0"));
    }
    assert_eq!(
        mock.request_count(),
        1,
        "the upstream saw the plain request once"
    );

    let first = send(a, &streamed, None).await;
    let miss = served(&first, "miss", "stream on A");
    assert!(miss.contains("data: [DONE]"), "a stream: {miss}");
    wait_entries(c, 2).await;
    for (name, node) in [("B", b), ("C", c)] {
        let hit = send(node, &streamed, None).await;
        assert!(
            hit.header("content-type")
                .is_some_and(|t| t.starts_with("text/event-stream")),
            "{name}: {:?}",
            hit.headers
        );
        assert_eq!(served(&hit, "hit", name), miss, "{name} replays A's events");
    }
    assert_eq!(mock.request_count(), 2, "the upstream saw the stream once");
    let stats = cache_stats(b).await.expect("B counts");
    assert_eq!(
        (stats.backend.as_str(), stats.hits, stats.misses),
        ("redis", 2, 0),
        "{stats:?}"
    );

    let purged = c.admin_delete("/api/cache").await;
    purged.expect_status(200, "DELETE /api/cache on C");
    assert_eq!(purged.json()["removed"], 2);
    served(
        &send(a, &plain, None).await,
        "miss",
        "plain on A after C's purge",
    );
    assert_eq!(mock.request_count(), 3, "the purge sent A upstream again");

    // A per-route purge through B takes the route's entries from every node.
    wait_entries(c, 1).await;
    let purged = b.admin_delete("/api/cache?route=cc").await;
    purged.expect_status(200, "DELETE /api/cache?route=cc on B");
    assert_eq!(purged.json()["removed"], 1);
    served(
        &send(c, &plain, None).await,
        "miss",
        "plain on C after B's purge",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_stopped_requests_miss_within_the_timeout_and_caching_returns_with_it() {
    let options = ClusterOptions::default().args(["--redis-timeout-ms", "100"]);
    let Some((mut cluster, mock)) = cached_cluster(options).await else {
        return;
    };
    let body = chat("Cached before the outage.", false);
    served(
        &send(cluster.node(0), &body, None).await,
        "miss",
        "before the outage",
    );
    wait_entries(cluster.node(1), 1).await;
    served(
        &send(cluster.node(1), &body, None).await,
        "hit",
        "before the outage",
    );

    cluster.redis().stop();
    for index in 0..3 {
        for _ in 0..2 {
            let began = Instant::now();
            let response = send(cluster.node(index), &body, None).await;
            let took = began.elapsed();
            served(&response, "miss", "during the outage");
            // The timeout is 100 ms; the rest is a debug build's request on two busy cores.
            assert!(
                took < Duration::from_secs(2),
                "a miss during the outage took {took:?}"
            );
        }
    }
    assert_eq!(
        mock.request_count(),
        7,
        "every request during the outage went upstream"
    );
    let down = cluster.node(0).admin_get("/api/cache").await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        down.text()
    );

    cluster
        .redis()
        .restart()
        .unwrap_or_else(|e| panic!("Redis restarts: {e}"));
    // Redis came back empty; within a probe (a second) the nodes store and find answers again.
    let after = chat("Cached after the outage.", false);
    poll_until(
        DEADLINE,
        "an answer stored through A after the outage",
        || async {
            send(cluster.node(0), &after, None)
                .await
                .expect_status(200, "after the outage");
            cache_stats(cluster.node(0))
                .await
                .filter(|stats| stats.entries >= 1)
        },
    )
    .await;
    poll_until(DEADLINE, "a hit on C after the outage", || async {
        let response = send(cluster.node(2), &after, None).await;
        (response.header("x-switchyard-cache") == Some("hit")).then_some(())
    })
    .await;
    let counted = cache_stats(cluster.node(0)).await.expect("Redis answers");
    assert!(
        counted.unavailable >= 2,
        "the outage's misses were counted: {counted:?}"
    );
}

/// The commands a client (not a script) sent that touch a cache entry of route `cc`, reduced to
/// the command's name; and the `GET`s that scripts ran. The admin API's counting (`SCAN` and
/// `STRLEN`, for `GET /api/cache`) is left out: it is not on any request's path.
fn cache_traffic(lines: &[String]) -> (Vec<String>, usize) {
    let mut from_clients = Vec::new();
    let mut in_scripts = 0;
    for line in lines.iter().filter(|line| line.contains(":c:cc:")) {
        let Some((source, command)) = line.split_once("] ") else {
            continue;
        };
        let name = command.split('"').nth(1).unwrap_or_default().to_uppercase();
        if source.ends_with(" lua") {
            in_scripts += usize::from(name == "GET");
        } else if name != "STRLEN" {
            from_clients.push(name);
        }
    }
    (from_clients, in_scripts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cached_and_limited_request_asks_redis_once() {
    let Some((mut cluster, mock)) = cached_cluster(ClusterOptions::default()).await else {
        return;
    };
    // A consumer with a limit: each of its requests is admitted through Redis.
    let a = cluster.node(0);
    a.add_consumer(&json!({"name": "team", "limits": {"rpm": 1000}}))
        .await;
    let key = a.issue_key("team", &json!({"name": "ci"})).await.key;
    let probe = chat("probe", false);
    for node in cluster.nodes() {
        poll_until(DEADLINE, "the key on every node", || async {
            let request = node
                .chat_request(&probe)
                .header("cache-control", "no-store")
                .header("authorization", format!("Bearer {key}"));
            (ApiResponse::send(request).await.status == StatusCode::OK).then_some(())
        })
        .await;
    }
    mock.clear();
    let monitor = cluster
        .redis()
        .monitor()
        .unwrap_or_else(|e| panic!("MONITOR: {e:#}"));

    let body = chat("Cached and limited.", false);
    let miss = served(&send(cluster.node(0), &body, Some(&key)).await, "miss", "A");
    wait_entries(cluster.node(1), 1).await;
    let hit = send(cluster.node(1), &body, Some(&key)).await;
    assert_eq!(served(&hit, "hit", "B"), miss, "B replays A's answer");
    assert!(hit.header("x-ratelimit-remaining-requests").is_some());
    assert_eq!(mock.request_count(), 1);

    cluster
        .redis()
        .command(&["ECHO", "end-of-the-cached-requests"])
        .unwrap_or_else(|e| panic!("ECHO: {e:#}"));
    let lines = monitor
        .until("end-of-the-cached-requests", DEADLINE)
        .unwrap_or_else(|e| panic!("{e:#}"));
    let (from_clients, in_scripts) = cache_traffic(&lines);
    // A's admission read the entry ahead (none yet), A stored its answer, and B's admission
    // read it ahead and served it: no lookup of its own on either node.
    assert_eq!(
        from_clients,
        ["EVALSHA", "SET", "EVALSHA"],
        "commands on the entry: {lines:#?}"
    );
    assert_eq!(in_scripts, 2, "each admission read the entry: {lines:#?}");
    // Under a request limit alone there is nothing to settle afterwards: no second script.
    let scripts = lines
        .iter()
        .filter(|line| !line.contains(" lua]") && line.contains("\"EVALSHA\""))
        .count();
    assert_eq!(scripts, 2, "only the two admissions: {lines:#?}");
    let stats = cache_stats(cluster.node(1)).await.expect("B counts");
    assert_eq!((stats.hits, stats.misses), (1, 0), "{stats:?}");
}
