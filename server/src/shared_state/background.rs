//! The two per-gateway tasks of shared admission: the lease renewer, which extends the
//! concurrency leases of this gateway's requests in flight every third of a lease in one call
//! (one task for all requests, not one per request), and the reconcile, which retries settles
//! that failed while Redis was unreachable and adds the spend counted locally meanwhile, when
//! Redis answers again (and every few seconds, for requests that finished after that).

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::time::MissedTickBehavior;

use super::admission::{Lease, LeaseQueue, SharedLimits};
use crate::reload::CurrentSnapshot;

/// How often the reconcile looks for leftovers while Redis answers.
const RECONCILE_EVERY: Duration = Duration::from_secs(2);

/// Starts the renewer and the reconcile for the life of the process.
pub fn spawn(limits: Arc<SharedLimits>, queue: LeaseQueue, snapshot: Arc<CurrentSnapshot>) {
    tokio::spawn(renewer(Arc::clone(&limits), queue));
    tokio::spawn(reconciler(limits, snapshot));
}

async fn renewer(limits: Arc<SharedLimits>, mut queue: LeaseQueue) {
    let mut live: Vec<Weak<Lease>> = Vec::new();
    let mut tick = tokio::time::interval(limits.lease() / 3);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        while let Ok(lease) = queue.try_recv() {
            live.push(lease);
        }
        limits.renew(&mut live).await;
    }
}

async fn reconciler(limits: Arc<SharedLimits>, snapshot: Arc<CurrentSnapshot>) {
    let mut recoveries = limits.redis.recoveries();
    let mut tick = tokio::time::interval(RECONCILE_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            changed = recoveries.changed() => {
                if changed.is_err() {
                    return;
                }
            }
        }
        // While the circuit is open nothing else may be calling (an idle gateway): a ping is
        // the probe that notices Redis back, and the recovery then runs the reconcile.
        if !limits.redis.reachable() && !limits.redis.probe().await {
            continue;
        }
        let current = snapshot.load_full();
        limits.reconcile(current.consumers.budgets()).await;
    }
}
