//! `GET /api/budgets`: every consumer's and key's budget with its current period and spend; and
//! `PUT /api/debug/clock`, which moves the gateway's clock when it runs with `--test-clock`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use switchyard_shared::BudgetsView;

use super::AdminState;
use super::error::AdminApiError;
use super::json::JsonBody;
use crate::store::StoreError;

pub async fn list(State(state): State<AdminState>) -> Json<BudgetsView> {
    let snapshot = state.snapshot.load_full();
    let now = state.clock.now_ms();
    let mut budgets: Vec<_> = snapshot
        .consumers
        .budgets()
        .iter()
        .map(|budget| budget.status(now))
        .collect();
    budgets.sort_by(|a, b| (&a.consumer, a.key_id).cmp(&(&b.consumer, b.key_id)));
    Json(BudgetsView { budgets })
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
