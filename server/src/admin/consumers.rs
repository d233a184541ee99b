//! Client keys under `/api/consumers/{name}/keys` (create, list, update, revoke, rotate) and the
//! gateway settings at `/api/settings`. Consumers themselves are a [`super::resources::Resource`].

use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::StatusCode;
use switchyard_shared::{
    ClientAuth, ConsumerKey, KeyUpdate, NewKey, RotateKey, Settings, SettingsView, ValidationErrors,
};

use super::AdminState;
use super::error::AdminApiError;
use super::json::JsonBody;
use super::resources::written;
use crate::store::Origin;

/// The longest grace period a rotation may give the old key: 30 days.
const MAX_GRACE_SECONDS: u64 = 30 * 24 * 3600;

pub async fn list_keys(
    State(state): State<AdminState>,
    Path(consumer): Path<String>,
) -> Result<Json<Vec<ConsumerKey>>, AdminApiError> {
    let keys = state.store.list_keys(&consumer).await?;
    Ok(Json(keys.iter().map(|k| k.view()).collect()))
}

/// `POST …/keys`: 201 with the full key, which is never shown again.
pub async fn create_key(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Path(consumer): Path<String>,
    JsonBody(new): JsonBody<NewKey>,
) -> Result<Response, AdminApiError> {
    let issued = state.store.create_key(&origin, &consumer, new).await?;
    tracing::info!(consumer, key_id = issued.stored.id, key = %issued.stored.name, "client key created");
    Ok(written(&state, StatusCode::CREATED, Some(issued.view())).await)
}

pub async fn update_key(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Path((consumer, id)): Path<(String, i64)>,
    JsonBody(update): JsonBody<KeyUpdate>,
) -> Result<Response, AdminApiError> {
    let key = state
        .store
        .update_key(&origin, &consumer, id, update)
        .await?;
    Ok(written(&state, StatusCode::OK, Some(key.view())).await)
}

/// `DELETE …/keys/{id}`: revoked when this answers.
pub async fn delete_key(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Path((consumer, id)): Path<(String, i64)>,
) -> Result<Response, AdminApiError> {
    state.store.delete_key(&origin, &consumer, id).await?;
    tracing::info!(consumer, key_id = id, "client key revoked");
    Ok(written::<()>(&state, StatusCode::NO_CONTENT, None).await)
}

/// `POST …/keys/{id}/rotate`: a successor, shown once; the old key works for the grace period.
pub async fn rotate_key(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Path((consumer, id)): Path<(String, i64)>,
    JsonBody(rotate): JsonBody<RotateKey>,
) -> Result<Response, AdminApiError> {
    if rotate.grace_seconds > MAX_GRACE_SECONDS {
        return Err(AdminApiError::Invalid(ValidationErrors::single(
            "grace_seconds",
            format!("must be between 0 and {MAX_GRACE_SECONDS} (30 days)"),
        )));
    }
    let grace = Duration::from_secs(rotate.grace_seconds);
    let issued = state
        .store
        .rotate_key(&origin, &consumer, id, grace)
        .await?;
    tracing::info!(
        consumer,
        old_key_id = id,
        key_id = issued.stored.id,
        grace_seconds = rotate.grace_seconds,
        "client key rotated"
    );
    Ok(written(&state, StatusCode::CREATED, Some(issued.view())).await)
}

fn settings_view(state: &AdminState, settings: Settings) -> SettingsView {
    SettingsView {
        effective_client_auth: state.gateway.effective(settings.client_auth),
        client_auth_from_flag: state.gateway.client_auth_flag.is_some(),
        proxy_loopback: state.gateway.proxy_loopback,
        settings,
    }
}

pub async fn get_settings(
    State(state): State<AdminState>,
) -> Result<Json<SettingsView>, AdminApiError> {
    let settings = state.store.settings().await?;
    Ok(Json(settings_view(&state, settings)))
}

/// `PUT /api/settings`. Turning client keys off is refused while the proxy listens beyond
/// loopback without `--allow-open-proxy`, for the same reason the server would not start so.
pub async fn put_settings(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    JsonBody(settings): JsonBody<Settings>,
) -> Result<Response, AdminApiError> {
    switchyard_shared::validate::validate_settings(&settings).map_err(AdminApiError::Invalid)?;
    if settings.client_auth == ClientAuth::Off && state.gateway.refuses(settings.client_auth) {
        return Err(AdminApiError::Invalid(ValidationErrors::single(
            "client_auth",
            "cannot be \"off\" while the proxy listens on a non-loopback address; start the \
             server with --allow-open-proxy if a network control restricts who reaches it",
        )));
    }
    state.store.put_settings(&origin, &settings).await?;
    let view = settings_view(&state, settings);
    Ok(written(&state, StatusCode::OK, Some(view))
        .await
        .into_response())
}
