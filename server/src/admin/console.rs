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
            None => {
                let mut page = Html(NOT_BUILT).into_response();
                if let Some(policy) = content_security_policy() {
                    page.headers_mut()
                        .insert(header::CONTENT_SECURITY_POLICY, policy.clone());
                }
                return page;
            }
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
    if let Some(policy) = content_security_policy() {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    }
    response
        .headers_mut()
        .insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// The console's Content-Security-Policy: its own files only, WebAssembly compilation, the one
/// inline bootstrap script of `index.html` by its hash, inline styles (the app sets `style`
/// attributes), the `data:` icon, and no framing. Computed once.
fn content_security_policy() -> Option<&'static HeaderValue> {
    static POLICY: std::sync::OnceLock<Option<HeaderValue>> = std::sync::OnceLock::new();
    POLICY
        .get_or_init(|| {
            let index = Assets::get("index.html");
            let html = index
                .as_ref()
                .map(|f| String::from_utf8_lossy(&f.data).into_owned())
                .unwrap_or_else(|| NOT_BUILT.to_owned());
            let hashes: String = inline_scripts(&html)
                .map(|script| {
                    use base64::Engine;
                    use sha2::Digest;
                    let digest = sha2::Sha256::digest(script.as_bytes());
                    format!(
                        " 'sha256-{}'",
                        base64::engine::general_purpose::STANDARD.encode(digest)
                    )
                })
                .collect();
            let policy = format!(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; \
                 style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
                 object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
            );
            HeaderValue::try_from(policy).ok()
        })
        .as_ref()
}

/// The contents of every `<script>` element without a `src`, exactly as the browser hashes them.
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.split("<script").skip(1).filter_map(|rest| {
        let (attributes, body) = rest.split_once('>')?;
        if attributes.contains("src=") {
            return None;
        }
        body.split_once("</script>").map(|(script, _)| script)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inline_scripts_only() {
        let html = "<script src=\"/a.js\"></script><script type=\"module\">\n  init();\n</script>";
        let scripts: Vec<&str> = inline_scripts(html).collect();
        assert_eq!(scripts, vec!["\n  init();\n"]);
    }

    #[test]
    fn the_policy_allows_wasm_and_forbids_framing() {
        let policy = content_security_policy().expect("a policy");
        let text = policy.to_str().expect("ascii");
        assert!(text.contains("'wasm-unsafe-eval'"), "{text}");
        assert!(text.contains("frame-ancestors 'none'"), "{text}");
    }
}
