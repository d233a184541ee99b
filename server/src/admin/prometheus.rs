//! `GET /metrics`: the Prometheus scrape endpoint at the top of the admin listener (not under
//! `/api`, where scrapers do not look). It needs the admin bearer token or a console session,
//! like the API, unless the gateway runs with `--metrics-public`; the router applies that rule.

use std::sync::Arc;

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};

use super::AdminState;
use super::error::AdminApiError;
use crate::prometheus::{CONTENT_TYPE, RedisScrape, Scrape};

/// A scrape's output is usually well under this; starting here saves the first reallocations.
const INITIAL_CAPACITY: usize = 32 * 1024;

/// Renders every metric in the Prometheus text format.
pub async fn scrape(State(state): State<AdminState>) -> Response {
    let snapshot = state.snapshot.load_full();
    // The request log's counters as they are now: written, dropped and queued records.
    let log = state.meter.status();
    let prom = Arc::clone(&state.prom);
    let redis = state.redis.as_ref().map(|redis| RedisScrape {
        up: redis.reachable(),
        errors: redis.failures_total(),
        fallbacks: redis.fallbacks(),
    });
    // Encoding thousands of series takes milliseconds of CPU: off the async workers that serve
    // the proxy's requests.
    let rendered = tokio::task::spawn_blocking(move || {
        let mut body = String::with_capacity(INITIAL_CAPACITY);
        prom.render(
            &Scrape {
                snapshot: &snapshot,
                log,
                redis,
            },
            &mut body,
        )
        .map(|()| body)
    })
    .await;
    match rendered {
        Ok(Ok(body)) => {
            let mut response = body.into_response();
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
            // Every scrape must see the counters as they are now.
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Ok(Err(error)) => {
            AdminApiError::Internal(format!("cannot encode the metrics: {error}")).into_response()
        }
        Err(error) => {
            AdminApiError::Internal(format!("the metrics task failed: {error}")).into_response()
        }
    }
}
