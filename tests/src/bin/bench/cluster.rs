//! The cluster arm (issue 17): what sharing counters and the response cache through Redis adds
//! to a request, against the single-node gateway every other arm measures.
//!
//! It runs only when named (`--only cluster`, alone or beside other arms), because it needs
//! PostgreSQL and Redis: it starts throwaway ones as the cluster tests do (`initdb` and
//! `redis-server` into temp dirs). Three gateways share one PostgreSQL database and one Redis.
//! The base configuration is applied to that database, and the bench consumer's client key is
//! created through node A, so the other nodes learn it through the notification.
//!
//! Then, one request at a time and interleaved, the single node and each cluster node are sent
//! the plain route, the same route with the client key (its limits make admission a Redis script
//! in the cluster, and settlement a second one after the answer), and the cached route (a hit: a
//! Redis `GET` in the cluster, memory on the single node). The cluster figures merge the three
//! nodes' samples; what they add over the single node's is the price of sharing.
//!
//! A last, separate round of keyed requests runs with Redis's SLOWLOG recording every command,
//! to report how long Redis itself spends in each script: what of the added figure is the
//! script, and what is the round trip. (Logging every command costs Redis a little, so the main
//! figures are taken without it.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::HeaderName;
use serde::Serialize;
use switchyard_tests::cluster::{Postgres, Redis};

use crate::client::{Conn, Target, chat_body};
use crate::gateway::{Gateway, Launch, free_port};
use crate::latency::{ArmLatency, interleave, warm_up};
use crate::setup::{Ctx, MODEL_CACHE, MODEL_FAST};
use crate::stats::{Added, Hist, Summary};

/// The budget for what Redis may add to a limited request's p50 on loopback.
pub const BUDGET_P50_US: f64 = 150.0;
/// Gateways in the cluster.
const NODES: usize = 3;

const CACHE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-cache");

#[derive(Serialize)]
pub struct ClusterResult {
    pub nodes: usize,
    /// Where Redis ran, as a sentence for the report.
    pub redis_placement: String,
    pub requests_per_target: usize,
    /// Single-node targets first, then the cluster's (each the merge of its three nodes).
    pub targets: Vec<ArmLatency>,
    /// Cluster minus single node, on the plain route without a key: PostgreSQL is not on the
    /// request path, so this should be noise.
    pub plain_added: Added,
    /// The same with the client key and its limits: the Redis admission and settlement.
    pub keyed_added: Added,
    /// The same for a cache hit: Redis `GET` and decoding against a memory lookup.
    pub cache_added: Added,
    pub budget_p50_us: f64,
    pub pass: bool,
    /// Redis's own execution time of the scripts, from its SLOWLOG; `None` when it could not be
    /// read (no `redis-cli` on PATH, say).
    pub scripts: Option<ScriptTimes>,
}

/// Which CPU the cluster's Redis runs on (`--redis-cpu`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RedisCpu {
    /// Pinned beside the gateways: a Redis call wakes no other vCPU.
    Gateway,
    /// Left where the bench's children start, beside the load generator and the mock: each call
    /// wakes the other vCPU and back.
    Load,
}

/// How long Redis ran each script of a keyed request (its SLOWLOG duration, µs).
#[derive(Serialize, Clone, Copy, Debug, Default)]
pub struct ScriptTimes {
    pub admit_p50_us: f64,
    pub admit_calls: usize,
    pub settle_p50_us: f64,
    pub settle_calls: usize,
}

/// Keyed requests per node in the SLOWLOG round.
const SCRIPT_ROUND: usize = 500;

impl ClusterResult {
    pub fn markdown(&self) -> String {
        let mut out = String::from("## Cluster arm (issue 17)\n\n");
        out.push_str(&format!(
            "{} gateways on one PostgreSQL database and one Redis, against the single node; {} requests per target, one at a time, interleaved.\n\n",
            self.nodes, self.requests_per_target
        ));
        out.push_str(&format!("Redis: {}.\n\n", self.redis_placement));
        out.push_str("| target | p50 µs | p90 µs | p99 µs | errors |\n|---|---|---|---|---|\n");
        for target in &self.targets {
            let l = &target.latency;
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.1} | {} |\n",
                target.name, l.p50_us, l.p90_us, l.p99_us, target.errors
            ));
        }
        out.push_str(
            "\n| cluster over single node | p50 µs | p90 µs | p99 µs |\n|---|---|---|---|\n",
        );
        for (name, added) in [
            ("plain route, no key", &self.plain_added),
            (
                "client key with limits (Redis admission)",
                &self.keyed_added,
            ),
            ("cache hit (Redis GET)", &self.cache_added),
        ] {
            out.push_str(&format!(
                "| {name} | {:+.1} | {:+.1} | {:+.1} |\n",
                added.p50_us, added.p90_us, added.p99_us
            ));
        }
        out.push_str(&format!(
            "\nBudget: the keyed request's added p50 ≤ {} µs: **{}**.\n",
            self.budget_p50_us,
            if self.pass { "PASS" } else { "FAIL" }
        ));
        match &self.scripts {
            Some(s) => out.push_str(&format!(
                "\nRedis's own time per script (SLOWLOG, a separate round of {} keyed requests per node): ADMIT p50 {:.1} µs ({} calls), SETTLE p50 {:.1} µs ({} calls). The rest of the keyed request's added time is the round trip.\n",
                SCRIPT_ROUND, s.admit_p50_us, s.admit_calls, s.settle_p50_us, s.settle_calls
            )),
            None => out.push_str("\nRedis's script times were not read (see the bench's log).\n"),
        }
        out
    }
}

/// The throwaway servers and the three gateways; dropped (killed) when the arm ends.
struct Cluster {
    nodes: Vec<Gateway>,
    _postgres: Postgres,
    redis: Redis,
    _dirs: tempfile::TempDir,
}

pub async fn run(ctx: &Ctx, redis_cpu: RedisCpu) -> anyhow::Result<ClusterResult> {
    let cluster = start(ctx).await?;
    let placement = place_redis(ctx, &cluster.redis, redis_cpu);
    let measured = measure(ctx, &cluster).await.map(|result| ClusterResult {
        redis_placement: placement,
        ..result
    });
    for node in cluster.nodes {
        node.stop().await;
    }
    measured
}

async fn start(ctx: &Ctx) -> anyhow::Result<Cluster> {
    let postgres = Postgres::start().map_err(|e| anyhow::anyhow!("PostgreSQL: {e}"))?;
    let redis = Redis::start().map_err(|e| anyhow::anyhow!("Redis: {e}"))?;
    let url = postgres.create_database("bench_cluster")?;
    let dirs = tempfile::tempdir()?;
    let launch: Launch = ctx
        .launch
        .with_env("SWITCHYARD_DATABASE_URL", &url)
        .with_env("SWITCHYARD_REDIS_URL", &redis.url());
    apply(&launch, dirs.path(), &ctx.base_config).await?;
    let mut nodes = Vec::with_capacity(NODES);
    for n in 0..NODES {
        let data_dir = dirs.path().join(format!("node-{n}"));
        std::fs::create_dir_all(&data_dir)?;
        let node = launch
            .spawn(&data_dir, free_port()?)?
            .ready(Duration::from_secs(30))
            .await
            .with_context(|| format!("cluster node {n}"))?;
        nodes.push(node);
    }
    Ok(Cluster {
        nodes,
        _postgres: postgres,
        redis,
        _dirs: dirs,
    })
}

/// Pins Redis as `--redis-cpu` asks, and says where it runs. PostgreSQL stays beside the load
/// generator, where the bench's children start: it is not on the request path.
fn place_redis(ctx: &Ctx, redis: &Redis, redis_cpu: RedisCpu) -> String {
    let (Some(gateway_cpu), Some(pid)) = (ctx.launch.cpu, redis.pid()) else {
        return "not pinned (the bench pins nothing)".into();
    };
    match redis_cpu {
        RedisCpu::Load => "beside the load generator and the mock (`--redis-cpu load`)".into(),
        RedisCpu::Gateway => {
            let pinned = std::process::Command::new("taskset")
                .args(["-p", "-c", &gateway_cpu.to_string(), &pid.to_string()])
                .output();
            match pinned {
                Ok(output) if output.status.success() => {
                    format!(
                        "pinned to CPU {gateway_cpu}, beside the gateways (`--redis-cpu gateway`)"
                    )
                }
                _ => "beside the load generator: taskset could not move it".into(),
            }
        }
    }
}

/// Applies the base configuration to the cluster's database through the CLI, as an operator
/// would before starting the nodes.
async fn apply(
    launch: &Launch,
    dir: &std::path::Path,
    doc: &serde_json::Value,
) -> anyhow::Result<()> {
    let file = dir.join("base.json");
    std::fs::write(&file, serde_json::to_vec_pretty(doc)?)?;
    let data_dir = dir.join("apply");
    std::fs::create_dir_all(&data_dir)?;
    let output = tokio::process::Command::new(&launch.bin)
        .args(["config", "apply"])
        .arg(&file)
        .arg("--data-dir")
        .arg(&data_dir)
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .output()
        .await?;
    if !output.status.success() {
        bail!(
            "config apply on the cluster's database failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

async fn measure(ctx: &Ctx, cluster: &Cluster) -> anyhow::Result<ClusterResult> {
    let keyed_a = cluster.nodes[0].keyed_target().await?;
    let plain = chat_body(MODEL_FAST, false);
    let cached = chat_body(MODEL_CACHE, false);
    let single = [
        ctx.gateway.target_named("single: plain"),
        Arc::new(Target {
            name: "single: key".into(),
            ..(*ctx.keyed).clone()
        }),
        ctx.gateway
            .target()
            .with_body("single: cache hit", cached.clone())
            .expecting(CACHE_HEADER, "hit"),
    ];
    let mut targets: Vec<Arc<Target>> = single.to_vec();
    for node in &cluster.nodes {
        targets.push(node.target_named("cluster: plain"));
        targets.push(Arc::new(Target {
            name: "cluster: key".into(),
            addr: node.proxy,
            ..(*keyed_a).clone()
        }));
        targets.push(
            node.target()
                .with_body("cluster: cache hit", cached.clone())
                .expecting(CACHE_HEADER, "hit"),
        );
    }
    let mut conns = Vec::with_capacity(targets.len());
    for target in &targets {
        conns.push(Conn::open(target).await?);
    }
    let bodies: Vec<Bytes> = targets.iter().map(|t| t.body_or(&plain)).collect();
    // The key reaches nodes B and C through the notification: wait until each serves it, then
    // fill the cache (the first cached request misses and stores).
    wait_until_served(&mut conns, &bodies, Duration::from_secs(10)).await?;
    warm_up(&mut conns, &bodies, ctx.plan.latency_warmup).await;
    let rounds = ctx.plan.latency_requests;
    let (hists, errors) = interleave(&mut conns, &bodies, rounds).await;

    // Merge per target name: the single node's three, and the cluster's three over its nodes.
    let mut names: Vec<String> = Vec::new();
    let mut merged: Vec<(Hist, u64)> = Vec::new();
    for ((target, hist), errors) in targets.iter().zip(&hists).zip(&errors) {
        let at = match names.iter().position(|n| *n == target.name) {
            Some(at) => at,
            None => {
                names.push(target.name.clone());
                merged.push((Hist::default(), 0));
                names.len() - 1
            }
        };
        merged[at].0.merge(hist);
        merged[at].1 += errors;
    }
    let summaries: Vec<Summary> = merged.iter().map(|(h, _)| h.summary()).collect();
    let of = |name: &str| -> anyhow::Result<Summary> {
        names
            .iter()
            .position(|n| n == name)
            .map(|at| summaries[at])
            .with_context(|| format!("no target {name}"))
    };
    let plain_added = Added::between(&of("cluster: plain")?, &of("single: plain")?);
    let keyed_added = Added::between(&of("cluster: key")?, &of("single: key")?);
    let cache_added = Added::between(&of("cluster: cache hit")?, &of("single: cache hit")?);
    let any_errors = merged.iter().any(|(_, e)| *e > 0);
    let keyed: Vec<usize> = (0..targets.len())
        .filter(|&i| targets[i].name == "cluster: key")
        .collect();
    let scripts = match script_times(&cluster.redis, &mut conns, &bodies, &keyed).await {
        Ok(times) => Some(times),
        Err(error) => {
            eprintln!("bench: Redis's script times were not read: {error:#}");
            None
        }
    };
    Ok(ClusterResult {
        nodes: cluster.nodes.len(),
        redis_placement: String::new(),
        requests_per_target: rounds,
        targets: names
            .into_iter()
            .zip(merged.iter().zip(&summaries))
            .map(|(name, ((_, errors), latency))| ArmLatency {
                name,
                latency: *latency,
                added: None,
                errors: *errors,
            })
            .collect(),
        plain_added,
        keyed_added,
        cache_added,
        budget_p50_us: BUDGET_P50_US,
        pass: !any_errors && keyed_added.p50_us <= BUDGET_P50_US,
        scripts,
    })
}

/// Sends [`SCRIPT_ROUND`] keyed requests to each node with Redis's SLOWLOG recording every
/// command, and reads how long the scripts ran. ADMIT and SETTLE are told apart by where the
/// lease member (`node:seq`, the only argument with a colon) stands: ARGV[4] for ADMIT, ARGV[3]
/// for SETTLE.
async fn script_times(
    redis: &Redis,
    conns: &mut [Conn],
    bodies: &[Bytes],
    keyed: &[usize],
) -> anyhow::Result<ScriptTimes> {
    // Scripts log their inner commands too: about a dozen entries per keyed request.
    let max_len = (SCRIPT_ROUND * keyed.len() * 16).to_string();
    redis.command(&["CONFIG", "SET", "slowlog-max-len", &max_len])?;
    redis.command(&["SLOWLOG", "RESET"])?;
    redis.command(&["CONFIG", "SET", "slowlog-log-slower-than", "0"])?;
    for _ in 0..SCRIPT_ROUND {
        for &i in keyed {
            conns[i].post_ok(bodies[i].clone()).await;
        }
    }
    // The last settles run in spawned tasks after their answers; a moment lets them reach
    // Redis (a missing one only shortens the SETTLE sample).
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.command(&["CONFIG", "SET", "slowlog-log-slower-than", "10000"])?;
    let output = tokio::process::Command::new("redis-cli")
        .args([
            "-p",
            &redis.port().to_string(),
            "--json",
            "SLOWLOG",
            "GET",
            &max_len,
        ])
        .output()
        .await
        .context("running redis-cli")?;
    if !output.status.success() {
        bail!(
            "redis-cli: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).context("SLOWLOG GET as JSON")?;
    let (mut admit, mut settle) = (Hist::default(), Hist::default());
    for entry in &entries {
        let micros = entry[2].as_u64().unwrap_or(0);
        let args: Vec<&str> = entry[3]
            .as_array()
            .map(|args| args.iter().filter_map(|a| a.as_str()).collect())
            .unwrap_or_default();
        if args
            .first()
            .is_none_or(|name| !name.eq_ignore_ascii_case("EVALSHA"))
        {
            continue;
        }
        let keys: usize = args.get(2).and_then(|n| n.parse().ok()).unwrap_or(0);
        let argv = args.get(3 + keys..).unwrap_or_default();
        let member_at = |i: usize| argv.get(i).is_some_and(|a| a.contains(':'));
        if member_at(3) {
            admit.record_ns(micros * 1000);
        } else if member_at(2) {
            settle.record_ns(micros * 1000);
        }
    }
    let (a, s) = (admit.summary(), settle.summary());
    if a.count == 0 {
        bail!("the SLOWLOG held no ADMIT call ({} entries)", entries.len());
    }
    Ok(ScriptTimes {
        admit_p50_us: a.p50_us,
        admit_calls: usize::try_from(a.count).unwrap_or(usize::MAX),
        settle_p50_us: s.p50_us,
        settle_calls: usize::try_from(s.count).unwrap_or(usize::MAX),
    })
}

/// Sends each target requests until one succeeds (a new key or route is live on that node), or
/// fails after `within`.
async fn wait_until_served(
    conns: &mut [Conn],
    bodies: &[Bytes],
    within: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    for (conn, body) in conns.iter_mut().zip(bodies) {
        while !conn.post_ok(body.clone()).await {
            if Instant::now() > deadline {
                bail!("a cluster node did not serve its target within {within:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}
