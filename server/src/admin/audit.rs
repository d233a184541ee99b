//! `GET /api/audit`, `GET /api/audit/{revision}` and `POST /api/config/rollback`: reading the
//! audit trail and rolling the configuration back to a kept revision.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Json};
use http::StatusCode;
use switchyard_shared::ValidationErrors;
use switchyard_shared::audit::{AuditEntryView, AuditPage, RollbackRequest};

use super::AdminState;
use super::error::AdminApiError;
use super::json::JsonBody;
use super::resources::written;
use super::usage::{Params, RawParams, parse_time};
use crate::store::{AuditFilter, MAX_PAGE, Origin};

/// The resource kinds the trail records.
const KINDS: [&str; 6] = [
    "provider",
    "route",
    "consumer",
    "guardrail",
    "settings",
    "account",
];

/// `GET /api/audit?resource=&actor=&since=&until=&limit=&cursor=`: entries newest first.
pub async fn list(
    State(state): State<AdminState>,
    raw: RawParams,
) -> Result<Json<AuditPage>, AdminApiError> {
    let filter = audit_filter(&Params::read(raw)?)?;
    Ok(Json(state.store.audit_page(&filter).await?))
}

/// `GET /api/audit/{revision}`: one entry, its changes' masked documents and their diffs.
pub async fn entry(
    State(state): State<AdminState>,
    Path(revision): Path<String>,
) -> Result<Json<AuditEntryView>, AdminApiError> {
    let revision = parse_revision("revision", &revision)?;
    Ok(Json(state.store.audit_entry(revision).await?))
}

/// `POST /api/config/rollback`: with `dry_run`, the preview; otherwise the rollback, answered
/// once it is live.
pub async fn rollback(
    State(state): State<AdminState>,
    Extension(origin): Extension<Origin>,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> Result<Response, AdminApiError> {
    if request.dry_run {
        let preview = state.store.rollback_preview(request.to).await?;
        return Ok(axum::response::IntoResponse::into_response(Json(preview)));
    }
    let Some(expected) = request.expected_revision else {
        return Err(ValidationErrors::single(
            "expected_revision",
            "is required to roll back: send the revision_now of the preview (dry_run: true)",
        )
        .into());
    };
    let done = state.store.rollback(&origin, request.to, expected).await?;
    tracing::info!(
        to = done.rolled_back_to,
        revision = done.revision,
        actor = %origin.actor,
        "configuration rolled back"
    );
    Ok(written(&state, StatusCode::OK, Some(done)).await)
}

/// A revision in a path or query: a whole number from 0.
pub(super) fn parse_revision(field: &str, text: &str) -> Result<i64, ValidationErrors> {
    text.trim()
        .parse::<i64>()
        .ok()
        .filter(|revision| *revision >= 0)
        .ok_or_else(|| {
            ValidationErrors::single(field, format!("'{text}' is not a revision number"))
        })
}

/// The filter of `GET /api/audit`, every bad parameter reported at once.
fn audit_filter(params: &Params) -> Result<AuditFilter, AdminApiError> {
    let mut errors = ValidationErrors::default();
    let resource = params.text("resource");
    if let Some(resource) = &resource {
        let (kind, name) = match resource.split_once('/') {
            Some((kind, name)) => (kind, Some(name)),
            None => (resource.as_str(), None),
        };
        if !KINDS.contains(&kind) || name.is_some_and(str::is_empty) {
            errors.add(
                "resource",
                format!(
                    "'{resource}' is not a resource: write a kind ({}) or kind/name",
                    KINDS.join(", ")
                ),
            );
        }
    }
    const TIME: &str = "an RFC 3339 time, a date, or milliseconds since the epoch";
    let time = |text: &str| text.parse::<i64>().ok().or_else(|| parse_time(text));
    let since_ms = params.parsed("since", &mut errors, TIME, time);
    let until_ms = params.parsed("until", &mut errors, TIME, time);
    if let (Some(since), Some(until)) = (since_ms, until_ms)
        && until < since
    {
        errors.add("until", "must not be earlier than since");
    }
    let limit = params.parsed(
        "limit",
        &mut errors,
        &format!("a whole number from 1 to {MAX_PAGE}"),
        |text| {
            text.parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
        },
    );
    let cursor = params.parsed("cursor", &mut errors, "a revision number", |text| {
        text.parse::<i64>().ok().filter(|n| *n >= 1)
    });
    errors.into_result()?;
    Ok(AuditFilter {
        resource,
        actor: params.text("actor"),
        since_ms,
        until_ms,
        limit,
        cursor,
    })
}
