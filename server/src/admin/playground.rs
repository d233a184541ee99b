//! The console's playground: requests go to the gateway's own proxy listener, exactly as an app's
//! would, relayed same-origin so the browser needs no cross-origin access to :8080. Streams are
//! relayed chunk by chunk, with the `x-switchyard-*` headers. While client keys are required, the
//! console sends a consumer's key in `x-switchyard-client-key`, which the relay passes to the
//! proxy as the app would (`Authorization: Bearer`); the operator's admin credentials never are.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Full;

use super::AdminState;

/// The header the console puts a consumer's key in for the relay.
const CLIENT_KEY_HEADER: &str = "x-switchyard-client-key";

async fn relay(
    state: &AdminState,
    method: Method,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(uri) = format!("{}{path}", state.proxy_url).parse::<http::Uri>() else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "bad proxy address").into_response();
    };
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let client_key = headers
        .get(CLIENT_KEY_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|key| !key.is_empty());
    if let Some(key) = client_key
        && let Ok(mut value) = HeaderValue::try_from(format!("Bearer {key}"))
    {
        value.set_sensitive(true);
        request.headers_mut().insert(header::AUTHORIZATION, value);
    }
    match state.client.request(request).await {
        Ok(response) => {
            let (parts, incoming) = response.into_parts();
            let mut relayed = Response::new(Body::new(incoming));
            *relayed.status_mut() = parts.status;
            for (name, value) in &parts.headers {
                if name == header::CONTENT_TYPE || name.as_str().starts_with("x-switchyard-") {
                    relayed.headers_mut().append(name.clone(), value.clone());
                }
            }
            relayed
        }
        Err(error) => {
            let body = serde_json::json!({"error": {"message": format!("the proxy listener did not answer: {error}"), "code": "internal"}});
            (StatusCode::BAD_GATEWAY, axum::Json(body)).into_response()
        }
    }
}

/// `GET /api/playground/models`: the proxy's `/v1/models`.
pub async fn models(State(state): State<AdminState>, headers: HeaderMap) -> Response {
    relay(&state, Method::GET, "/v1/models", &headers, Bytes::new()).await
}

/// `POST /api/playground/chat/completions`: the body sent to the proxy's chat endpoint.
pub async fn chat(State(state): State<AdminState>, headers: HeaderMap, body: Bytes) -> Response {
    relay(&state, Method::POST, "/v1/chat/completions", &headers, body).await
}
