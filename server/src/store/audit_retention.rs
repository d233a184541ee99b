//! Audit retention: with the `audit_retention_days` setting, entries older than that many days
//! are deleted, hourly in the background and at once through `POST /api/debug/prune-audit`.
//!
//! Only a prefix of the trail is ever deleted (every revision up to the newest one that is too
//! old), never entries in the middle: the configuration as of a revision is rebuilt by undoing
//! every later entry, so the kept entries must be a contiguous run up to the current revision.

use std::sync::Arc;
use std::time::Duration;

use super::{Result, Store};
use crate::clock::Clock;
use crate::reload::CurrentSnapshot;

const DAY_MS: i64 = 86_400_000;
/// How often the background task prunes. The setting is in days, so an hour late is harmless.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Entries deleted per transaction, so a first prune of a long trail never holds the write lock
/// long enough to hold up a configuration write.
const PRUNE_CHUNK: i64 = 1_000;

impl Store {
    /// Deletes the audit entries written more than `days` days before `now_ms` (with their
    /// changes, through `ON DELETE CASCADE`), and every earlier revision with them; returns how
    /// many entries went. Pruning is not a configuration change: the revision stays as it is.
    pub async fn prune_audit(&self, now_ms: i64, days: u32) -> Result<u64> {
        let cutoff = now_ms.saturating_sub(i64::from(days).saturating_mul(DAY_MS));
        // The newest revision that is too old bounds the deletion, rather than the time itself,
        // so that an entry written while the clock stood earlier cannot leave a hole.
        let newest_old: Option<i64> =
            sqlx::query_scalar("SELECT MAX(revision) FROM audit_entries WHERE at_ms < $1")
                .bind(cutoff)
                .fetch_one(self.db.pool())
                .await?;
        let Some(bound) = newest_old else {
            return Ok(0);
        };
        let mut deleted = 0;
        loop {
            let mut tx = self.db.begin_write().await?;
            let done = sqlx::query(
                "DELETE FROM audit_entries WHERE revision IN \
                 (SELECT revision FROM audit_entries WHERE revision <= $1 ORDER BY revision LIMIT $2)",
            )
            .bind(bound)
            .bind(PRUNE_CHUNK)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            tx.commit().await?;
            deleted += done;
            if done < PRUNE_CHUNK.unsigned_abs() {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Prunes the audit trail about once an hour by the setting in force, on the gateway's clock
/// (which `--test-clock` lets a test move).
pub fn spawn_pruner(store: Store, snapshot: Arc<CurrentSnapshot>, clock: Arc<Clock>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PRUNE_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick is immediate: a gateway restarted after a long stop prunes at once.
            ticks.tick().await;
            let days = snapshot.load().consumers.settings.audit_retention_days;
            let Some(days) = days else { continue };
            match store.prune_audit(clock.now_ms(), days).await {
                Ok(0) => {}
                Ok(deleted) => tracing::info!(deleted, days, "pruned old audit entries"),
                Err(error) => tracing::warn!(%error, "could not prune old audit entries"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Origin;

    async fn count(store: &Store, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(store.db.pool())
            .await
            .expect("count")
    }

    /// A store with three audited writes (settings changes), one entry each.
    async fn store_with_three_entries() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).await.expect("open");
        let origin = Origin::system();
        for days in [10, 20, 30] {
            let settings = switchyard_shared::Settings {
                log_retention_days: days,
                ..switchyard_shared::Settings::default()
            };
            store
                .put_settings(&origin, &settings)
                .await
                .expect("settings written");
        }
        (dir, store)
    }

    #[tokio::test]
    async fn prunes_old_entries_and_their_changes_and_keeps_the_rest() {
        let (_dir, store) = store_with_three_entries().await;
        let entries = count(&store, "audit_entries").await;
        assert_eq!(entries, 3);
        assert!(count(&store, "audit_changes").await >= 3);
        let newest: i64 = sqlx::query_scalar("SELECT MAX(at_ms) FROM audit_entries")
            .fetch_one(store.db.pool())
            .await
            .expect("newest");

        // A day after the newest entry, a two-day retention keeps everything.
        assert_eq!(
            store.prune_audit(newest + DAY_MS, 2).await.expect("prune"),
            0
        );
        assert_eq!(count(&store, "audit_entries").await, 3);

        // Two days after, a one-day retention deletes the entries and, by cascade, their changes.
        assert_eq!(
            store
                .prune_audit(newest + 2 * DAY_MS, 1)
                .await
                .expect("prune"),
            3
        );
        assert_eq!(count(&store, "audit_entries").await, 0);
        assert_eq!(count(&store, "audit_changes").await, 0);
    }

    #[tokio::test]
    async fn never_leaves_a_hole_in_the_trail() {
        let (_dir, store) = store_with_three_entries().await;
        // The middle entry is dated late (a clock set back later), the last one early: pruning
        // by time alone would keep the middle one and delete around it.
        let revisions: Vec<i64> =
            sqlx::query_scalar("SELECT revision FROM audit_entries ORDER BY revision")
                .fetch_all(store.db.pool())
                .await
                .expect("revisions");
        for (revision, at_ms) in revisions.iter().zip([1_000, 50_000, 2_000]) {
            sqlx::query("UPDATE audit_entries SET at_ms = $1 WHERE revision = $2")
                .bind(at_ms)
                .bind(revision)
                .execute(store.db.pool())
                .await
                .expect("dated");
        }
        let now = 3_000 + DAY_MS;
        assert_eq!(store.prune_audit(now, 1).await.expect("prune"), 3);
        assert_eq!(count(&store, "audit_entries").await, 0);
    }
}
