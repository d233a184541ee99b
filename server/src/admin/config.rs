//! Configuration as a document over the admin API: export (YAML or JSON, keys masked; now or as of
//! a past revision), the diff an import would make, and the import itself — the same code paths as
//! `switchyard config`.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use http::{HeaderValue, header};
use serde::Deserialize;
use switchyard_shared::admin::{ConfigDiff, SNAPSHOT_VERSION_HEADER};

use super::AdminState;
use super::error::AdminApiError;
use crate::config_file::parse_document;
use crate::reload::Trigger;
use crate::store::Origin;

#[derive(Deserialize)]
pub struct ExportQuery {
    #[serde(default)]
    format: Option<String>,
    /// A revision: the document as it was right after it, from the audit trail.
    #[serde(default)]
    at: Option<String>,
}

#[derive(Deserialize)]
pub struct ImportQuery {
    #[serde(default)]
    prune: bool,
}

/// `GET /api/config?format=yaml|json&at=R`: the whole configuration, keys masked; with `at`, as
/// it was right after revision R (404 for a revision not reached yet, 410 for one whose history
/// is no longer kept).
pub async fn export(
    State(state): State<AdminState>,
    Query(query): Query<ExportQuery>,
) -> Result<Response, AdminApiError> {
    let at = query
        .at
        .as_deref()
        .map(str::trim)
        .filter(|at| !at.is_empty());
    let doc = match at {
        Some(at) => {
            let revision = super::audit::parse_revision("at", at)?;
            // Already masked: history never held a secret.
            state.store.document_at(revision).await?
        }
        None => {
            let mut doc = state.store.export().await?;
            doc.providers = doc.providers.iter().map(|p| p.masked()).collect();
            doc
        }
    };
    if query.format.as_deref() == Some("json") {
        return Ok(Json(doc).into_response());
    }
    let yaml = serde_norway::to_string(&doc).map_err(|e| AdminApiError::Internal(e.to_string()))?;
    Ok((
        [(header::CONTENT_TYPE, "application/yaml; charset=utf-8")],
        yaml,
    )
        .into_response())
}

fn body_text(body: &[u8]) -> Result<&str, AdminApiError> {
    std::str::from_utf8(body)
        .map_err(|_| AdminApiError::BadRequest("the document must be UTF-8 text".into()))
}

/// `POST /api/config/diff?prune=`: what importing the body (YAML or JSON) would change.
pub async fn diff(
    State(state): State<AdminState>,
    Query(query): Query<ImportQuery>,
    body: bytes::Bytes,
) -> Result<Json<ConfigDiff>, AdminApiError> {
    let doc = parse_document(body_text(&body)?)?;
    Ok(Json(state.store.diff(doc, query.prune).await?))
}

/// `POST /api/config/apply?prune=`: imports the body in one transaction, live when answered.
pub async fn apply(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    Query(query): Query<ImportQuery>,
    body: bytes::Bytes,
) -> Result<Response, AdminApiError> {
    let doc = parse_document(body_text(&body)?)?;
    let summary = state.store.apply(&origin, doc, query.prune).await?;
    let version = state.reloader.reload(Trigger::AdminWrite).await;
    let mut response = Json(serde_json::json!({
        "providers_created": summary.providers_created,
        "providers_updated": summary.providers_updated,
        "providers_unchanged": summary.providers_unchanged,
        "providers_deleted": summary.providers_deleted,
        "routes_created": summary.routes_created,
        "routes_updated": summary.routes_updated,
        "routes_unchanged": summary.routes_unchanged,
        "routes_deleted": summary.routes_deleted,
        "consumers_created": summary.consumers_created,
        "consumers_updated": summary.consumers_updated,
        "consumers_unchanged": summary.consumers_unchanged,
        "consumers_deleted": summary.consumers_deleted,
        "guardrails_created": summary.guardrails_created,
        "guardrails_updated": summary.guardrails_updated,
        "guardrails_unchanged": summary.guardrails_unchanged,
        "guardrails_deleted": summary.guardrails_deleted,
        "settings_changed": summary.settings_changed,
    }))
    .into_response();
    if let Some(version) = version {
        response
            .headers_mut()
            .insert(SNAPSHOT_VERSION_HEADER, HeaderValue::from(version));
    }
    Ok(response)
}
