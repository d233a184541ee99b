//! `GET /api/cache` (the response cache's size and hit ratio) and `DELETE /api/cache` (every
//! entry, or one route's with `?route=name`). With Redis, a purge through any gateway empties the
//! cache every gateway of the cluster reads.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use switchyard_shared::{CachePurged, CacheStats, ValidationErrors};

use super::AdminState;
use super::error::AdminApiError;

/// With Redis (`--redis-url`), the entries are the cluster's, counted with `SCAN`; see
/// [`CacheStats`]. An unreachable Redis is a 503.
pub async fn stats(State(state): State<AdminState>) -> Result<Json<CacheStats>, AdminApiError> {
    let stats = state.cache.stats().await.map_err(unavailable)?;
    Ok(Json(stats))
}

/// The details (which may name Redis's address) go to the log; the caller learns what failed.
fn unavailable(error: crate::cache::CacheUnavailable) -> AdminApiError {
    tracing::warn!(%error, "admin cache call failed");
    AdminApiError::Unavailable(
        "the response cache's Redis did not answer; try again (the gateway log says why)".into(),
    )
}

pub async fn purge(
    State(state): State<AdminState>,
    raw: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<CachePurged>, AdminApiError> {
    let Query(pairs) = raw.map_err(|rejection| {
        ValidationErrors::single("query", format!("malformed: {}", rejection.body_text()))
    })?;
    let route = route(&pairs)?;
    let removed = state.cache.purge(route).await.map_err(unavailable)?;
    tracing::info!(
        route = route.unwrap_or("*"),
        removed,
        "response cache purged"
    );
    Ok(Json(CachePurged { removed }))
}

/// The one parameter a purge takes. Anything else is refused rather than ignored: a typo such as
/// `?rout=chat` must not purge every route.
fn route(pairs: &[(String, String)]) -> Result<Option<&str>, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let mut route = None;
    for (name, value) in pairs {
        match name.as_str() {
            "route" if value.trim().is_empty() => {
                errors.add(
                    "route",
                    "must name a route (leave it out to purge every route)",
                );
            }
            "route" if route.is_some() => errors.add("route", "give at most one route"),
            "route" => route = Some(value.trim()),
            other => errors.add(other, "unknown parameter; only route is accepted"),
        }
    }
    errors.into_result().map(|()| route)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_purge_takes_at_most_one_named_route() {
        assert_eq!(route(&pairs(&[])), Ok(None));
        assert_eq!(route(&pairs(&[("route", "chat")])), Ok(Some("chat")));
        for bad in [
            pairs(&[("route", "")]),
            pairs(&[("route", "a"), ("route", "b")]),
            pairs(&[("rout", "chat")]),
        ] {
            let errors = route(&bad).expect_err("refused");
            assert_eq!(errors.0.len(), 1, "{errors:?}");
        }
    }
}
