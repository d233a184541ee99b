//! `POST /api/debug/prune-audit`: prunes the audit trail at once by the retention setting, on the
//! gateway's clock, so a test that moves the clock need not wait for the hourly prune. Like
//! `PUT /api/debug/clock`, it exists only when switchyard runs with `--test-clock`.

use axum::Json;
use axum::extract::State;
use serde::Serialize;

use super::AdminState;
use super::error::AdminApiError;
use crate::store::StoreError;

/// What a prune did.
#[derive(Debug, Serialize)]
pub struct Pruned {
    /// Audit entries deleted (their changes went with them).
    pub deleted: u64,
    /// The gateway clock's time the retention was measured from.
    pub now_ms: i64,
    /// The retention in force; `null` keeps everything, and then nothing is deleted.
    pub audit_retention_days: Option<u32>,
}

pub async fn prune_now(State(state): State<AdminState>) -> Result<Json<Pruned>, AdminApiError> {
    if !state.test_clock {
        return Err(AdminApiError::Store(StoreError::NotFound(
            "the audit trail can only be pruned on demand when switchyard runs with --test-clock"
                .into(),
        )));
    }
    // The stored setting, not the snapshot's: the test sets it and prunes right after, and the
    // write has answered by then, but reading the store makes that ordering not matter.
    let days = state.store.settings().await?.audit_retention_days;
    let now_ms = state.clock.now_ms();
    let deleted = match days {
        Some(days) => state.store.prune_audit(now_ms, days).await?,
        None => 0,
    };
    Ok(Json(Pruned {
        deleted,
        now_ms,
        audit_retention_days: days,
    }))
}
