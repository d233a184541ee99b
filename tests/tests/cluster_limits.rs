//! Limits, concurrency leases and budgets shared by three gateway processes through one Redis
//! (and one PostgreSQL for their configuration): exact request limits over round-robin traffic,
//! concurrency caps across nodes, budgets overspent by at most one request, a killed node's
//! slots freed after the lease, Redis stopped mid-load under `redis_failure` open and closed, and
//! request records kept while PostgreSQL refuses connections.
//!
//! Skipped with a printed reason when PostgreSQL or Redis is not installed, unless
//! `SWITCHYARD_REQUIRE_CLUSTER=1`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream;
use serde_json::{Value, json};
use switchyard_tests::cluster::{Postgres, Redis, require_or_skip};
use switchyard_tests::consumers::IssuedKey;
use switchyard_tests::fixtures::{prefix, provider, simple_route, test_key};
use switchyard_tests::metering::{answer, completion_reply, cost_micros, usd, with_pricing};
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions, MockUpstream, Reply, poll_until};

/// The priced model every case but the concurrency ones asks for.
const MODEL: &str = "metered-1";
/// A model whose mock answers only after [`SLOW`].
const SLOW_MODEL: &str = "slow-1";
const SLOW: Duration = Duration::from_millis(1500);
const DEADLINE: Duration = Duration::from_secs(15);

/// One PostgreSQL database, one Redis and three gateways on them, with a priced mock behind
/// `metered-*` and a slow one behind `slow-*`.
struct Cluster {
    postgres: Postgres,
    redis: Redis,
    nodes: Vec<Gateway>,
    mock: MockUpstream,
    slow: MockUpstream,
}

impl Cluster {
    async fn start(database: &str, lease_ms: u64) -> Option<Cluster> {
        let (postgres, redis) = tokio::task::spawn_blocking(|| {
            let postgres = require_or_skip(Postgres::start())?;
            let redis = require_or_skip(Redis::start())?;
            Some((postgres, redis))
        })
        .await
        .expect("the servers' start does not panic")?;
        let url = postgres
            .create_database(database)
            .unwrap_or_else(|e| panic!("creating {database}: {e:#}"));
        let options = GatewayOptions::default().args([
            "--database-url".to_owned(),
            url,
            "--redis-url".to_owned(),
            redis.url(),
            "--redis-lease-ms".to_owned(),
            lease_ms.to_string(),
            // Generous for a loaded test machine; an outage still costs at most this.
            "--redis-timeout-ms".to_owned(),
            "250".to_owned(),
        ]);
        // The first migrates the database; the other two find it ready.
        let first = Gateway::start_with(options.clone()).await;
        let (second, third) = tokio::join!(
            Gateway::start_with(options.clone()),
            Gateway::start_with(options)
        );
        let mock = MockUpstream::start("up").await;
        let slow = MockUpstream::start("slow").await;
        slow.set_default(Reply::Echo.delayed(SLOW));
        let priced = with_pricing(provider("up", &mock, &test_key("up")), "metered-*");
        first.add_provider(&priced).await;
        first
            .add_provider(&provider("slow", &slow, &test_key("slow")))
            .await;
        first
            .add_route(&simple_route("metered", prefix("metered-"), "up"))
            .await;
        first
            .add_route(&simple_route("slow", prefix("slow-"), "slow"))
            .await;
        Some(Cluster {
            postgres,
            redis,
            nodes: vec![first, second, third],
            mock,
            slow,
        })
    }

    /// Creates consumer `spec` with one key named `ci` (through the first node).
    async fn consumer(&self, spec: Value) -> IssuedKey {
        let name = spec["name"].as_str().expect("a name").to_owned();
        self.nodes[0].add_consumer(&spec).await;
        self.nodes[0].issue_key(&name, &json!({"name": "ci"})).await
    }

    /// Creates an unlimited consumer last and waits until every node serves its key: the
    /// configuration written before it is then live everywhere (revisions apply in order).
    async fn probe(&self) -> IssuedKey {
        let probe = self.consumer(json!({"name": "probe"})).await;
        for node in &self.nodes {
            poll_until(
                DEADLINE,
                "the configuration to reach every node",
                || async { (chat(node, &probe.key, MODEL).await.status == 200).then_some(()) },
            )
            .await;
        }
        probe
    }
}

fn body(model: &str) -> Value {
    json!({"model": model, "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]})
}

async fn chat(node: &Gateway, key: &str, model: &str) -> ApiResponse {
    let request = node.chat_request(&body(model)).bearer_auth(key);
    ApiResponse::send(request).await
}

/// Sends `count` requests round-robin over the nodes, `parallel` at a time.
async fn round_robin(
    cluster: &Cluster,
    key: &str,
    model: &str,
    count: usize,
    parallel: usize,
) -> Vec<ApiResponse> {
    stream::iter(0..count)
        .map(|i| chat(&cluster.nodes[i % cluster.nodes.len()], key, model))
        .buffer_unordered(parallel)
        .collect()
        .await
}

fn statuses(responses: &[ApiResponse]) -> Vec<u16> {
    responses.iter().map(|r| r.status.as_u16()).collect()
}

fn error_code(response: &ApiResponse) -> Value {
    response.json()["error"]["code"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_60_over_three_nodes_lets_exactly_60_through() {
    let Some(cluster) = Cluster::start("t_rpm", 30_000).await else {
        return;
    };
    let team = cluster
        .consumer(json!({"name": "team", "limits": {"rpm": 60}}))
        .await;
    cluster.probe().await;
    let began = Instant::now();
    let responses = round_robin(&cluster, &team.key, MODEL, 200, 24).await;
    let elapsed = began.elapsed();
    let served = responses.iter().filter(|r| r.status == 200).count();
    for refused in responses.iter().filter(|r| r.status != 200) {
        assert_eq!(refused.status, 429, "{}", refused.text());
        assert_eq!(error_code(refused), "rate_limit_exceeded");
        assert!(refused.header("retry-after").is_some());
        assert_eq!(refused.header("x-ratelimit-limit-requests"), Some("60"));
    }
    // GCRA earns one request back per second: a burst that took longer than a second may pass
    // one more per second it took (the same rule as on one gateway).
    let earned = usize::try_from(elapsed.as_secs()).expect("small");
    println!("200 requests over 3 nodes in {elapsed:?}: {served} served");
    assert!(
        (60..=60 + earned).contains(&served),
        "{served} served in {elapsed:?}: {:?}",
        statuses(&responses)
    );
    if elapsed < Duration::from_secs(1) {
        assert_eq!(served, 60);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_4_holds_across_nodes() {
    let Some(cluster) = Cluster::start("t_concurrent", 30_000).await else {
        return;
    };
    let team = cluster
        .consumer(json!({"name": "team", "limits": {"max_concurrent": 4}}))
        .await;
    cluster.probe().await;
    // All twelve arrive while the first four are held for 1.5 s by the slow mock.
    let responses = round_robin(&cluster, &team.key, SLOW_MODEL, 12, 12).await;
    let served = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(served, 4, "{:?}", statuses(&responses));
    for refused in responses.iter().filter(|r| r.status != 200) {
        assert_eq!(refused.status, 429);
        assert_eq!(refused.json()["error"]["type"], "concurrent_requests");
    }
    // Settled, the slots are free again on every node.
    for node in &cluster.nodes {
        poll_until(DEADLINE, "a free slot", || async {
            (chat(node, &team.key, MODEL).await.status == 200).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_budget_is_overspent_by_at_most_one_request_across_nodes() {
    let Some(cluster) = Cluster::start("t_budget", 30_000).await else {
        return;
    };
    // Every answer reports exactly the tokens the gateway reserves, so the count is exact.
    let prompt = serde_json::to_vec(&body(MODEL)).expect("JSON").len() as u64 / 4;
    cluster
        .mock
        .set_default(completion_reply(&answer("Spent.", prompt, 10), MODEL));
    let cost = cost_micros(prompt, 10);
    // Room for four and a half requests: the fifth is admitted (0.8 of the way), the sixth never.
    let limit = cost * 9 / 2;
    let team = cluster
        .consumer(json!({"name": "team", "budget": {"limit_usd": usd(limit), "period": "day"}}))
        .await;
    cluster.probe().await;
    let responses = round_robin(&cluster, &team.key, MODEL, 20, 20).await;
    let served = responses.iter().filter(|r| r.status == 200).count();
    assert_eq!(served, 5, "{:?}", statuses(&responses));
    for refused in responses.iter().filter(|r| r.status != 200) {
        assert_eq!(refused.status, 429);
        assert_eq!(error_code(refused), "budget_exceeded");
        assert_eq!(refused.header("x-should-retry"), Some("false"));
    }
    // Every node refuses now: the spend is the cluster's.
    for node in &cluster.nodes {
        poll_until(DEADLINE, "the budget spent on every node", || async {
            (chat(node, &team.key, MODEL).await.status == 429).then_some(())
        })
        .await;
    }
    // And every node's /api/budgets shows the cluster's spend, not the part it settled itself
    // (round robin gave each node one or two of the five).
    for node in &cluster.nodes {
        poll_until(DEADLINE, "the cluster's spend in /api/budgets", || async {
            let view = node.admin_get("/api/budgets").await.json();
            let budget = &view["budgets"][0];
            let spent = (budget["spent_usd"].as_f64()? * 1e6).round() as i64;
            let reserved = budget["reserved_usd"].as_f64()?;
            (view["cluster"] == true && spent == 5 * cost && reserved == 0.0).then_some(())
        })
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_frees_its_slots_after_the_lease() {
    let lease = Duration::from_millis(3000);
    let Some(mut cluster) = Cluster::start("t_kill", 3000).await else {
        return;
    };
    let team = cluster
        .consumer(json!({"name": "team", "limits": {"max_concurrent": 2}}))
        .await;
    let probe = cluster.probe().await;
    // Records B commits go to the shared database: read through A, they outlive B.
    let mut through_b = BTreeSet::new();
    for _ in 0..5 {
        let response = chat(&cluster.nodes[1], &probe.key, MODEL).await;
        assert_eq!(response.status, 200, "{}", response.text());
        let id = response
            .headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .expect("every answer has a request id");
        through_b.insert(id.to_owned());
    }
    poll_until(DEADLINE, "B's records to be committed", || async {
        through_b
            .is_subset(&logged_ids(&cluster.nodes[0]).await)
            .then_some(())
    })
    .await;
    // Two requests on B that the mock never answers in time hold every slot.
    cluster
        .slow
        .set_default(Reply::Echo.delayed(Duration::from_secs(60)));
    let b_url = cluster.nodes[1].proxy_url().to_owned();
    for _ in 0..2 {
        let request = cluster.nodes[1]
            .chat_request(&body(SLOW_MODEL))
            .bearer_auth(&team.key);
        tokio::spawn(async move {
            // B dies before it answers.
            let _ = request.send().await;
        });
    }
    poll_until(DEADLINE * 2, "B's two requests upstream", || async {
        (cluster.slow.request_count() >= 2).then_some(())
    })
    .await;
    let response = chat(&cluster.nodes[0], &team.key, MODEL).await;
    assert_eq!(
        response.status,
        429,
        "B holds both slots: {}",
        response.text()
    );
    let pid = cluster.nodes[1].pid();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "SIGKILL to B ({b_url})");
    cluster.nodes[1].wait_exit(Duration::from_secs(5)).await;
    let died = Instant::now();
    // A and C keep serving everyone else at once.
    for node in [&cluster.nodes[0], &cluster.nodes[2]] {
        let response = chat(node, &probe.key, MODEL).await;
        assert_eq!(response.status, 200, "{}", response.text());
    }
    // B's slots lapse within one lease: then the team is served again on A and C.
    poll_until(lease * 3, "B's slots to lapse", || async {
        (chat(&cluster.nodes[0], &team.key, MODEL).await.status == 200).then_some(())
    })
    .await;
    let freed = died.elapsed();
    println!("B's slots lapsed {freed:?} after it died (lease {lease:?})");
    assert!(freed <= lease + Duration::from_millis(1500), "{freed:?}");
    let response = chat(&cluster.nodes[2], &team.key, MODEL).await;
    assert_eq!(response.status, 200, "{}", response.text());
    let logged = logged_ids(&cluster.nodes[2]).await;
    assert!(
        through_b.is_subset(&logged),
        "every record B committed is still there after its death: {through_b:?} in {logged:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_made_while_postgres_refuses_connections_are_written_when_it_returns() {
    const DATABASE: &str = "t_log_outage";
    let Some(cluster) = Cluster::start(DATABASE, 30_000).await else {
        return;
    };
    let probe = cluster.probe().await;
    let a = &cluster.nodes[0];
    let first = request_id(&chat(a, &probe.key, MODEL).await);
    poll_until(DEADLINE, "the first record", || async {
        logged_ids(a).await.contains(&first).then_some(())
    })
    .await;
    // PostgreSQL refuses every new connection to the database and drops the open ones.
    let postgres = &cluster.postgres;
    postgres
        .psql(
            "postgres",
            &format!("ALTER DATABASE {DATABASE} ALLOW_CONNECTIONS false"),
        )
        .expect("refusing connections");
    postgres
        .psql(
            "postgres",
            &format!(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{DATABASE}'"
            ),
        )
        .expect("dropping the open ones");
    // The proxy does not need PostgreSQL: the requests are served, their records kept.
    let mut during = BTreeSet::new();
    for _ in 0..5 {
        let response = chat(a, &probe.key, MODEL).await;
        assert_eq!(response.status, 200, "{}", response.text());
        during.insert(request_id(&response));
    }
    poll_until(DEADLINE, "the records kept to write again", || async {
        let status = a.admin_get("/api/status").await.json();
        (status["log"]["retrying"].as_u64()? >= 5).then_some(())
    })
    .await;
    postgres
        .psql(
            "postgres",
            &format!("ALTER DATABASE {DATABASE} ALLOW_CONNECTIONS true"),
        )
        .expect("accepting connections again");
    poll_until(DEADLINE, "the kept records written", || async {
        during.is_subset(&logged_ids(a).await).then_some(())
    })
    .await;
    let log = &a.admin_get("/api/status").await.json()["log"];
    assert_eq!(log["dropped"], 0, "{log}");
    assert_eq!(log["retrying"], 0, "{log}");
    // Each record once: a batch is written again only when nothing of it was committed.
    let count = postgres
        .psql(
            DATABASE,
            "SELECT count(*) FROM switchyard_usage.requests WHERE request_id IN (SELECT request_id FROM switchyard_usage.requests GROUP BY request_id HAVING count(*) > 1)",
        )
        .expect("counting duplicates");
    assert_eq!(count, "0");
}

fn request_id(response: &ApiResponse) -> String {
    response
        .headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("every answer has a request id")
        .to_owned()
}

/// The request ids of the newest 500 records, as `node` reads them from the shared database.
async fn logged_ids(node: &Gateway) -> BTreeSet<String> {
    let page = node.admin_get("/api/logs?limit=500").await;
    page.expect_status(200, "GET /api/logs");
    page.json()["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["request_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether every node answers the team with `status` (and, for 503, `redis_unavailable`).
async fn poll_all(cluster: &Cluster, key: &str, status: u16, what: &str) {
    for node in &cluster.nodes {
        poll_until(DEADLINE, what, || async {
            let response = chat(node, key, MODEL).await;
            if response.status != status {
                return None;
            }
            if status == 503 {
                let error = &response.json()["error"];
                assert_eq!(error["code"], "redis_unavailable", "{error}");
                assert_eq!(error["type"], "redis_unavailable", "{error}");
            }
            Some(())
        })
        .await;
    }
}

async fn metric(node: &Gateway, name: &str) -> Option<f64> {
    let text = node.admin_get("/metrics").await.text();
    text.lines()
        .find(|line| line.split_whitespace().next() == Some(name))
        .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_load_open_serves_closed_refuses_and_both_recover() {
    let Some(mut cluster) = Cluster::start("t_outage", 30_000).await else {
        return;
    };
    let team = cluster
        .consumer(json!({"name": "team", "limits": {"rpm": 100_000}}))
        .await;
    cluster.probe().await;
    for node in &cluster.nodes {
        assert_eq!(metric(node, "switchyard_redis_up").await, Some(1.0));
    }

    // Open (the default): every request is still served, none waits long.
    cluster.redis.stop();
    for round in 0..5 {
        for node in &cluster.nodes {
            let began = Instant::now();
            let response = chat(node, &team.key, MODEL).await;
            assert_eq!(response.status, 200, "round {round}: {}", response.text());
            assert!(
                began.elapsed() < Duration::from_secs(2),
                "{:?}",
                began.elapsed()
            );
        }
    }
    for node in &cluster.nodes {
        assert_eq!(metric(node, "switchyard_redis_up").await, Some(0.0));
        let fallbacks = metric(node, "switchyard_redis_fallback_total").await;
        assert!(fallbacks.is_some_and(|n| n >= 1.0), "{fallbacks:?}");
        let status = node.admin_get("/api/status").await.json();
        assert_eq!(status["redis"]["reachable"], false, "{status}");
    }
    cluster.redis.restart().expect("Redis starts again");
    for node in &cluster.nodes {
        poll_until(DEADLINE, "Redis noticed back", || async {
            (metric(node, "switchyard_redis_up").await == Some(1.0)).then_some(())
        })
        .await;
    }
    poll_all(&cluster, &team.key, 200, "serving through Redis again").await;

    // Closed: refused with 503 while Redis is down, served again when it returns.
    let response = cluster.nodes[0]
        .admin_put("/api/settings", &json!({"redis_failure": "closed"}))
        .await;
    response.expect_status(200, "redis_failure: closed");
    cluster.redis.stop();
    poll_all(&cluster, &team.key, 503, "closed to refuse").await;
    let probe = cluster.nodes[0].admin_get("/api/status").await.json();
    assert_eq!(probe["redis"]["failure_mode"], "closed", "{probe}");
    cluster.redis.restart().expect("Redis starts again");
    poll_all(&cluster, &team.key, 200, "closed to recover").await;
}
