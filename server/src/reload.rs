//! Config reload in two steps: a fallible *prepare* (load from the store, validate, build a
//! snapshot) and an infallible *swap* (one atomic store into the `ArcSwap`).
//!
//! Every trigger — an admin write, the file watcher, the periodic check, SIGHUP — sends on the one
//! channel this module owns. One task serves it, so reloads never race each other; requests that
//! arrive while a reload runs are answered together by it. A failed prepare keeps the old snapshot
//! and is recorded for `GET /api/status`.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

#[allow(clippy::disallowed_types)]
use arc_swap::ArcSwap;
use tokio::sync::{mpsc, oneshot};

use crate::background;
use crate::health::HealthRegistry;
use crate::snapshot::Snapshot;
use crate::store::{Store, StoreError};

/// The snapshot in force. Anyone may read it; only this module's reload task replaces it, which
/// is why `ArcSwap` itself is a disallowed type everywhere else (see `clippy.toml`).
#[allow(clippy::disallowed_types)]
pub struct CurrentSnapshot(ArcSwap<Snapshot>);

impl CurrentSnapshot {
    pub fn new(first: Snapshot) -> CurrentSnapshot {
        #[allow(clippy::disallowed_types)]
        CurrentSnapshot(ArcSwap::from_pointee(first))
    }

    /// The snapshot as one `Arc`, to keep for a whole request (it may be held across `.await`).
    pub fn load_full(&self) -> Arc<Snapshot> {
        self.0.load_full()
    }

    /// A cheap guard for a short synchronous read; never hold it across an `.await`.
    pub fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.0.load()
    }

    /// The *swap* step: installs `next` and returns the previous snapshot.
    fn replace(&self, next: Arc<Snapshot>) -> Arc<Snapshot> {
        self.0.swap(next)
    }
}

/// Why a reload was asked for; logged, and decides whether an unchanged revision may skip it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// A write through the admin API in this process.
    AdminWrite,
    /// The data dir changed on disk (possibly another process).
    Watcher,
    /// The periodic check that backs up the watcher.
    Poll,
    /// A PostgreSQL notification that a node committed a new revision.
    Notify,
    /// SIGHUP: rebuild even if the revision did not change.
    Signal,
}

struct Request {
    trigger: Trigger,
    done: Option<oneshot::Sender<u64>>,
}

/// The last failed reload, if it happened after the current snapshot was installed.
#[derive(Default)]
pub struct ReloadStatus {
    last_error: Mutex<Option<(String, SystemTime)>>,
}

impl ReloadStatus {
    pub fn last_error(&self) -> Option<(String, SystemTime)> {
        self.last_error.lock().map(|e| e.clone()).unwrap_or(None)
    }

    fn set(&self, error: Option<(String, SystemTime)>) {
        if let Ok(mut slot) = self.last_error.lock() {
            *slot = error;
        }
    }
}

/// The sending side of the reload channel, cloned into every trigger.
#[derive(Clone)]
pub struct Reloader {
    tx: mpsc::UnboundedSender<Request>,
}

impl Reloader {
    /// Asks for a reload without waiting for it.
    pub fn request(&self, trigger: Trigger) {
        let _ = self.tx.send(Request {
            trigger,
            done: None,
        });
    }

    /// Asks for a reload and waits until it is done; returns the snapshot version in force then,
    /// or `None` if the reloader has stopped (the process is shutting down).
    pub async fn reload(&self, trigger: Trigger) -> Option<u64> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Request {
                trigger,
                done: Some(done),
            })
            .ok()?;
        wait.await.ok()
    }
}

/// Loads and builds a snapshot: the *prepare* step. Nothing is installed.
pub async fn prepare(
    store: &Store,
    version: u64,
    registry: &Arc<HealthRegistry>,
) -> Result<Snapshot, String> {
    let started = Instant::now();
    let raw = store.load_raw().await.map_err(|e| e.to_string())?;
    // Parsing and compiling a large configuration takes milliseconds of CPU; on the low-priority
    // background thread it never takes the CPU from requests being served meanwhile.
    let registry = Arc::clone(registry);
    let mut snapshot = background::run(move || {
        let config = raw.parse().map_err(|e| e.to_string())?;
        Snapshot::build(config, version, &registry).map_err(|e| e.to_string())
    })
    .await??;
    snapshot.build_time = started.elapsed();
    Ok(snapshot)
}

/// Starts the reload task; it runs until every [`Reloader`] is dropped.
pub fn spawn(
    store: Store,
    current: Arc<CurrentSnapshot>,
    status: Arc<ReloadStatus>,
    registry: Arc<HealthRegistry>,
) -> Reloader {
    let (tx, mut rx) = mpsc::unbounded_channel::<Request>();
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(next) = rx.try_recv() {
                batch.push(next);
            }
            reload_once(&store, &current, &status, &registry, &batch).await;
            let version = current.load().version;
            for request in batch {
                if let Some(done) = request.done {
                    let _ = done.send(version);
                }
            }
        }
    });
    Reloader { tx }
}

async fn reload_once(
    store: &Store,
    current: &CurrentSnapshot,
    status: &ReloadStatus,
    registry: &Arc<HealthRegistry>,
    batch: &[Request],
) {
    let (revision, version) = {
        let snapshot = current.load();
        (snapshot.revision, snapshot.version)
    };
    let forced = batch.iter().any(|r| r.trigger == Trigger::Signal);
    let trigger = batch[0].trigger;
    if !forced {
        match store.revision().await {
            Ok(stored) if stored == revision => return,
            Ok(_) => {}
            // The store closes as the process shuts down; a late trigger is no failure then.
            Err(StoreError::Db(sqlx::Error::PoolClosed)) => return,
            Err(e) => {
                record_failure(status, trigger, e.to_string());
                return;
            }
        }
    }
    match prepare(store, version + 1, registry).await {
        Ok(snapshot) => {
            let (revision, routes, providers, snapshot_ms) = (
                snapshot.revision,
                snapshot.routes().len(),
                snapshot.providers().len(),
                snapshot.build_time.as_secs_f64() * 1000.0,
            );
            let (provider_ids, key_ids) = snapshot.health_ids();
            let limit_ids = snapshot.limit_ids();
            let upstream_keys = snapshot.upstream_keys();
            let budget_ids: std::collections::HashSet<_> = snapshot
                .consumers
                .budgets()
                .iter()
                .map(|budget| budget.scope_id())
                .collect();
            // Budgets new to this snapshot count requests in memory from now on.
            let now = registry.budgets.clock.now_ms();
            for budget in snapshot.consumers.budgets() {
                budget.activate(now);
            }
            let previous = current.replace(Arc::new(snapshot));
            // Freeing a large snapshot is CPU work too; when no request holds it any more, it is
            // freed on the background thread.
            background::drop_later(previous);
            // Health of deleted providers and keys goes; everything kept keeps its state.
            registry.retain(&provider_ids, &key_ids);
            registry.retain_upstreams(&upstream_keys);
            registry.limits.retain(|id| limit_ids.contains(id));
            registry.budgets.retain(|id| budget_ids.contains(id));
            // Edited limits count what was already used under the old ones.
            record_limits(&current.load_full(), registry);
            status.set(None);
            tracing::info!(
                ?trigger,
                version = version + 1,
                revision,
                routes,
                providers,
                build_ms = snapshot_ms,
                "configuration reloaded"
            );
        }
        Err(message) => record_failure(status, trigger, message),
    }
}

/// Tells every limited scope of `snapshot` the limits it now has.
pub fn record_limits(snapshot: &Snapshot, registry: &HealthRegistry) {
    let now = registry.limits.now();
    for scope in snapshot.limit_scopes() {
        scope.state.reconfigure(&scope.limits, now);
    }
}

fn record_failure(status: &ReloadStatus, trigger: Trigger, message: String) {
    tracing::error!(?trigger, error = %message, "reload failed; keeping the current configuration");
    status.set(Some((message, SystemTime::now())));
}
