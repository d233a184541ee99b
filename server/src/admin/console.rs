//! Serving the console: the built Leptos app embedded in the binary (`console/dist`, made by
//! `console/build.sh`), with client-side routes falling back to its `index.html`. A binary built
//! without the console serves a page saying how to build it.

use axum::body::Body;
use axum::extract::Request;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderValue, header};

#[derive(rust_embed::Embed)]
#[folder = "$CARGO_MANIFEST_DIR/../console/dist"]
#[allow_missing = true]
struct Assets;

/// The page served when the console was not built into this binary.
const NOT_BUILT: &str = include_str!("../../../assets/console-placeholder.html");

/// Whether this binary carries the console.
pub fn built() -> bool {
    Assets::get("index.html").is_some_and(|f| !f.data.is_empty())
}

pub async fn serve(request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    let (file, name) = match Assets::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (file, path),
        None => match Assets::get("index.html") {
            Some(index) => (index, "index.html"),
            None => return Html(NOT_BUILT).into_response(),
        },
    };
    let mut response = Response::new(Body::from(file.data.into_owned()));
    let mime = file.metadata.mimetype();
    if let Ok(value) = HeaderValue::try_from(mime) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    // index.html must always be fresh so a new binary's app loads; the rest may be cached briefly.
    let cache = if name == "index.html" {
        "no-cache"
    } else {
        "public, max-age=300"
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}
