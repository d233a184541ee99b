//! `GET /api/budgets`: every consumer's and key's budget with its current period and spend (the
//! cluster's, from Redis, in cluster mode); and
//! `PUT /api/debug/clock`, which moves the gateway's clock when it runs with `--test-clock`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchyard_shared::BudgetsView;
use switchyard_shared::metering::usd_from_micros;

use super::AdminState;
use super::error::AdminApiError;
use super::json::JsonBody;
use crate::shared_state::admission;
use crate::store::StoreError;

/// With Redis (cluster mode) the spend is the cluster's, read from Redis in one round trip; a
/// node's own count would show only what it settled since it started. When Redis does not
/// answer, the node's count is shown and `cluster` says so.
pub async fn list(State(state): State<AdminState>) -> Json<BudgetsView> {
    let snapshot = state.snapshot.load_full();
    let now = state.clock.now_ms();
    let compiled = snapshot.consumers.budgets();
    let mut budgets: Vec<_> = compiled.iter().map(|budget| budget.status(now)).collect();
    let mut cluster = false;
    if let Some(redis) = &state.redis {
        match admission::cluster_spend(redis, compiled, now).await {
            Ok(spend) => {
                cluster = true;
                for (status, spend) in budgets.iter_mut().zip(spend) {
                    if let Some((spent, committed)) = spend {
                        status.spent_usd = usd_from_micros(spent);
                        status.reserved_usd =
                            usd_from_micros(committed.saturating_sub(spent).max(0));
                    }
                }
            }
            Err(error) => {
                tracing::debug!(%error, "the budgets show this node's spend: Redis did not answer");
            }
        }
    }
    budgets.sort_by(|a, b| (&a.consumer, a.key_id).cmp(&(&b.consumer, b.key_id)));
    Json(BudgetsView { budgets, cluster })
}

/// The test clock's offset from the system time.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockOffset {
    pub offset_ms: i64,
}

pub async fn set_clock(
    State(state): State<AdminState>,
    JsonBody(offset): JsonBody<ClockOffset>,
) -> Result<Response, AdminApiError> {
    if !state.test_clock {
        return Err(AdminApiError::Store(StoreError::NotFound(
            "the clock can only be moved when switchyard runs with --test-clock".into(),
        )));
    }
    state.clock.set_offset_ms(offset.offset_ms);
    tracing::warn!(offset_ms = offset.offset_ms, "the test clock moved");
    Ok(Json(ClockOffset {
        offset_ms: state.clock.offset_ms(),
    })
    .into_response())
}
