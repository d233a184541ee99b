//! The OpenAI-compatible proxy on :8080: routes each request by its model through the current
//! snapshot and forwards it to the chosen provider.
//!
//! The hot path reads the body once, peeks at two fields, takes one `Arc` of the snapshot (never
//! holding an arc-swap guard across an `.await`), and passes bytes through untouched unless the
//! model name must be rewritten.

mod error;
mod forward;
mod request;

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderName, HeaderValue, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

pub use error::ProxyError;

use crate::providers::Endpoint;
use crate::snapshot::Snapshot;
use crate::upstream::UpstreamClient;

pub const ROUTE_HEADER: HeaderName = HeaderName::from_static("x-switchyard-route");
pub const PROVIDER_HEADER: HeaderName = HeaderName::from_static("x-switchyard-provider");
pub const MODEL_HEADER: HeaderName = HeaderName::from_static("x-switchyard-model");
pub const ATTEMPTS_HEADER: HeaderName = HeaderName::from_static("x-switchyard-attempts");

#[derive(Clone)]
pub struct ProxyState {
    pub snapshot: Arc<ArcSwap<Snapshot>>,
    pub client: UpstreamClient,
    pub max_body_bytes: usize,
}

pub fn router(state: ProxyState) -> Router {
    Router::new()
        .route(
            "/v1/chat/completions",
            post(chat_completions).fallback(method_not_allowed),
        )
        .route(
            "/v1/embeddings",
            post(embeddings).fallback(method_not_allowed),
        )
        .route("/v1/models", get(models).fallback(method_not_allowed))
        .fallback(unknown_url)
        .with_state(state)
}

async fn chat_completions(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Endpoint::ChatCompletions, request).await
}

async fn embeddings(State(state): State<ProxyState>, request: Request) -> Response {
    proxy(&state, Endpoint::Embeddings, request).await
}

async fn models(State(state): State<ProxyState>) -> Response {
    let body = state.snapshot.load().models_body();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    ProxyError::MethodNotAllowed(request.method().to_string()).into_response()
}

async fn unknown_url(request: Request) -> Response {
    ProxyError::UnknownUrl(format!("{} {}", request.method(), request.uri().path())).into_response()
}

async fn proxy(state: &ProxyState, endpoint: Endpoint, request: Request) -> Response {
    let body = match read_body(request.into_body(), state.max_body_bytes).await {
        Ok(body) => body,
        Err(error) => return error.into_response(),
    };
    let peeked = match request::peek(&body) {
        Ok(peeked) => peeked,
        Err(error) => return error.into_response(),
    };
    // One Arc for the whole request: it finishes on this snapshot whatever reloads happen.
    let snapshot = state.snapshot.load_full();
    let Some(route) = snapshot.route(&peeked.model) else {
        return ProxyError::ModelNotFound(peeked.model.into_owned()).into_response();
    };
    let upstream = route.pick();
    let target = upstream.target_model(&peeked.model);
    let model_header = HeaderValue::try_from(target).ok();
    let upstream_body = if target == peeked.model {
        body.clone()
    } else {
        request::rewrite_model(&body, peeked.model_span.clone(), target)
    };
    tracing::debug!(route = %route.name, provider = %upstream.provider.name, model = target, "proxying");

    let attempt = forward::Attempt {
        provider: &upstream.provider,
        endpoint,
        body: upstream_body,
        stream: peeked.stream,
    };
    let mut response = match forward::send(&state.client, attempt).await {
        Ok(response) => response,
        Err(error) => {
            tracing::debug!(route = %route.name, provider = %upstream.provider.name, %error, "upstream failed");
            error.into_response()
        }
    };
    let headers = response.headers_mut();
    headers.insert(ROUTE_HEADER, route.name_header.clone());
    headers.insert(PROVIDER_HEADER, upstream.provider.name_header.clone());
    if let Some(model) = model_header {
        headers.insert(MODEL_HEADER, model);
    }
    headers.insert(ATTEMPTS_HEADER, HeaderValue::from_static("1"));
    response
}

/// Reads the whole request body, refusing more than `limit` bytes (before reading, when the
/// client announces its length).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ProxyError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(ProxyError::BodyTooLarge(limit)),
        Err(error) => {
            // axum wraps a limit hit inside its own error type, so look through the chain.
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error.as_ref());
            while let Some(current) = source {
                if current.is::<LengthLimitError>() {
                    return Err(ProxyError::BodyTooLarge(limit));
                }
                source = current.source();
            }
            Err(ProxyError::BodyUnreadable(error.to_string()))
        }
    }
}
