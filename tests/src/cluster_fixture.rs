//! A cluster of real gateways for the cluster-mode tests (issue 17): N `switchyard serve`
//! processes on one PostgreSQL database and one Redis, each with its own data dir.
//!
//! - **PostgreSQL** is shared by every fixture alive in the test binary: `initdb` costs about a
//!   second, so the first fixture starts it and the last one to drop stops it. Each fixture gets
//!   a fresh database (`CREATE DATABASE t_<n>`), so tests running in parallel never see each
//!   other's configuration.
//! - **Redis** is one per fixture. It starts in milliseconds, and a test that stops it to
//!   simulate an outage must not take Redis away from the tests running beside it.
//! - **Gateways** get the same `--database-url`, `--redis-url`, admin token and master key (a
//!   cluster's nodes must share the key that seals provider secrets), and each its own data dir
//!   (the request records and the setup code stay per node). The first node starts alone, so it
//!   alone migrates the empty database and writes its key check; the others start together.
//!
//! [`ClusterFixture::start`] returns `None` after printing why when PostgreSQL or Redis is not
//! installed, and fails instead when `SWITCHYARD_REQUIRE_CLUSTER=1` (see
//! [`crate::cluster::require_or_skip`]).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::cluster::{Postgres, Redis, Unavailable, require_or_skip};
use crate::server::{Gateway, GatewayOptions};

/// The master key every node of a fixture's cluster is given (64 hex characters), so that
/// provider secrets sealed by one node are readable on the others.
pub const CLUSTER_MASTER_KEY: &str =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// How long a killed node may take to be reaped.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL shared by the fixtures alive in this process; held weakly, so that it stops
/// when the last fixture using it drops.
fn shared_postgres() -> Result<Arc<Postgres>, Unavailable> {
    static SHARED: Mutex<Weak<Postgres>> = Mutex::new(Weak::new());
    // A panic while the lock was held left nothing half-made: the slot holds a Weak either way.
    let mut slot = SHARED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(postgres) = slot.upgrade() {
        return Ok(postgres);
    }
    let postgres = Arc::new(Postgres::start()?);
    *slot = Arc::downgrade(&postgres);
    Ok(postgres)
}

/// What every node of a cluster is started with, beyond the shared URLs.
#[derive(Clone, Debug, Default)]
pub struct ClusterOptions {
    /// Flags added to every node's command line (`--redis-timeout-ms`, `--redis-lease-ms`, ...).
    pub args: Vec<String>,
    /// Environment variables set for every node.
    pub env: Vec<(String, String)>,
}

impl ClusterOptions {
    /// Adds command-line arguments for every node.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for every node.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// N gateways sharing one PostgreSQL database and one Redis.
pub struct ClusterFixture {
    nodes: Vec<Gateway>,
    redis: Redis,
    database_url: String,
    options: GatewayOptions,
    next: AtomicUsize,
    // Declared last so that it drops after the gateways that use it.
    postgres: Arc<Postgres>,
}

impl ClusterFixture {
    /// Starts `nodes` gateways with the default options; `None` when the test is skipped.
    pub async fn start(nodes: usize) -> Option<ClusterFixture> {
        ClusterFixture::start_with(nodes, ClusterOptions::default()).await
    }

    /// Starts `nodes` gateways with `extra` flags and environment on every node; `None` when
    /// PostgreSQL or Redis is not installed and skipping is allowed.
    ///
    /// # Panics
    ///
    /// When a server or a gateway fails to start.
    pub async fn start_with(nodes: usize, extra: ClusterOptions) -> Option<ClusterFixture> {
        assert!(nodes > 0, "a cluster has at least one node");
        // Both servers start with blocking waits (`initdb`, polling for readiness), so they run
        // off the test's runtime.
        let servers = tokio::task::spawn_blocking(|| {
            let postgres = shared_postgres()?;
            let redis = Redis::start()?;
            Ok::<_, Unavailable>((postgres, redis))
        })
        .await
        .expect("starting PostgreSQL and Redis did not panic");
        let (postgres, redis) = require_or_skip(servers)?;

        static DATABASES: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let database_url = {
            let postgres = Arc::clone(&postgres);
            tokio::task::spawn_blocking(move || postgres.create_database(&name))
                .await
                .expect("creating the database did not panic")
                .unwrap_or_else(|e| panic!("could not create the test database: {e:#}"))
        };

        let mut options = GatewayOptions::default()
            .args(["--redis-url", &redis.url()])
            .args(extra.args)
            .env("SWITCHYARD_DATABASE_URL", &database_url)
            .env("SWITCHYARD_MASTER_KEY", CLUSTER_MASTER_KEY);
        for (key, value) in &extra.env {
            options = options.env(key, value);
        }

        let first = Gateway::start_with(options.clone()).await;
        let others = futures_util::future::join_all(
            (1..nodes).map(|_| Gateway::start_with(options.clone())),
        )
        .await;
        let mut all = vec![first];
        all.extend(others);
        Some(ClusterFixture {
            nodes: all,
            redis,
            database_url,
            options,
            next: AtomicUsize::new(0),
            postgres,
        })
    }

    /// Node `index` (0 is the first started, "A").
    pub fn node(&self, index: usize) -> &Gateway {
        &self.nodes[index]
    }

    /// Node `index`, mutably (to restart or stop it).
    pub fn node_mut(&mut self, index: usize) -> &mut Gateway {
        &mut self.nodes[index]
    }

    /// Every node, in start order.
    pub fn nodes(&self) -> &[Gateway] {
        &self.nodes
    }

    /// How many nodes the cluster has (running or killed).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether the cluster has no node (never, once started).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The next node in round-robin order, as a load balancer would pick it; killed nodes are
    /// skipped (they are what a health check would take out of rotation).
    ///
    /// # Panics
    ///
    /// When no node is running.
    pub fn next_node(&mut self) -> &Gateway {
        for _ in 0..self.nodes.len() {
            let index = self.next.fetch_add(1, Ordering::Relaxed) % self.nodes.len();
            if self.nodes[index].is_running() {
                return &self.nodes[index];
            }
        }
        panic!("no node of the cluster is running");
    }

    /// Kills node `index` with SIGKILL (no graceful shutdown: its leases stay in Redis until
    /// they expire) and waits until the process is gone.
    pub async fn kill(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        let status = tokio::process::Command::new("kill")
            .arg("-KILL")
            .arg(node.pid().to_string())
            .status()
            .await
            .expect("the kill command runs");
        assert!(status.success(), "kill -KILL failed: {status}");
        node.wait_exit(KILL_TIMEOUT).await;
    }

    /// Starts node `index` again on its own data dir, with the same options (it is killed first
    /// if it still runs).
    pub async fn restart(&mut self, index: usize) {
        self.nodes[index].restart().await;
    }

    /// Starts one more node with the cluster's options and returns its index.
    pub async fn add_node(&mut self) -> usize {
        self.nodes
            .push(Gateway::start_with(self.options.clone()).await);
        self.nodes.len() - 1
    }

    /// The cluster's Redis, to stop and restart it (`stop`, `restart`) or to look into it
    /// (`command`).
    pub fn redis(&mut self) -> &mut Redis {
        &mut self.redis
    }

    /// The URL every node is given as `--redis-url`.
    pub fn redis_url(&self) -> String {
        self.redis.url()
    }

    /// The URL of this fixture's database, given to every node as `SWITCHYARD_DATABASE_URL`.
    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// The PostgreSQL server, for `psql` queries into the fixture's database (its name is the
    /// last path segment of [`ClusterFixture::database_url`]).
    pub fn postgres(&self) -> &Postgres {
        &self.postgres
    }

    /// Runs `sql` in the fixture's database with `psql -At` (see [`Postgres::psql`]).
    pub fn psql(&self, sql: &str) -> anyhow::Result<String> {
        let database = self
            .database_url
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        self.postgres.psql(&database, sql)
    }
}
