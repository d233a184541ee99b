//! `GET /api/pricing`: the shipped price table and every provider's own prices, as in force now.

use axum::Json;
use axum::extract::State;
use switchyard_shared::PricingView;

use super::AdminState;

/// Reads the live snapshot, so the overrides shown are the ones requests are priced with.
pub async fn view(State(state): State<AdminState>) -> Json<PricingView> {
    let snapshot = state.snapshot.load_full();
    Json(crate::pricing::view(
        snapshot
            .providers()
            .iter()
            .map(|provider| (&*provider.name, &*provider.pricing)),
    ))
}
