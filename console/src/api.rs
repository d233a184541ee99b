//! The admin API client: `fetch` with the session cookie and the CSRF header, JSON bodies, and
//! every failure turned into one [`ApiError`] the pages can show.

pub mod audit;
pub mod metering;
pub mod types;

use std::cell::RefCell;
use std::rc::Rc;

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_shared::FieldError;
use switchyard_shared::admin::SNAPSHOT_VERSION_HEADER;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

thread_local! {
    /// The CSRF token of the current session, learned from `/api/auth/me`, setup or login.
    static CSRF_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Called when an API call answers 401, so the app can send the user to the login page.
    static ON_UNAUTHORIZED: RefCell<Option<Rc<dyn Fn()>>> = RefCell::new(None);
}

/// Remembers the session's CSRF token for the `X-CSRF-Token` header of later writes.
pub fn set_csrf_token(token: Option<String>) {
    CSRF_TOKEN.with(|slot| *slot.borrow_mut() = token);
}

/// The token to send: the remembered one, else the `switchyard_csrf` cookie the server also sets,
/// which covers a page that wrote before `/api/auth/me` answered.
fn csrf_token() -> Option<String> {
    CSRF_TOKEN
        .with(|slot| slot.borrow().clone())
        .or_else(csrf_from_cookie)
}

fn csrf_from_cookie() -> Option<String> {
    let document: web_sys::HtmlDocument = leptos::prelude::document().dyn_into().ok()?;
    let cookies = document.cookie().ok()?;
    cookie_value(&cookies, "switchyard_csrf")
}

/// Finds one cookie's value in a `document.cookie` string.
pub fn cookie_value(cookies: &str, name: &str) -> Option<String> {
    cookies.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name && !value.is_empty()).then(|| value.to_owned())
    })
}

/// Installs what happens when the server says the session is gone.
pub fn set_unauthorized_handler(handler: impl Fn() + 'static) {
    ON_UNAUTHORIZED.with(|slot| *slot.borrow_mut() = Some(Rc::new(handler)));
}

fn unauthorized() {
    // The handler is cloned out first so that it may itself install a new handler or call the API.
    if let Some(handler) = ON_UNAUTHORIZED.with(|slot| slot.borrow().clone()) {
        handler();
    }
}

/// A failed call: a network failure (status 0) or an HTTP error with the server's explanation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub code: String,
    pub fields: Vec<FieldError>,
    pub routes: Vec<String>,
    /// Seconds from a `Retry-After` header, sent with 429.
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn network(detail: impl Into<String>) -> Self {
        ApiError {
            status: 0,
            message: format!(
                "Cannot reach the gateway ({}). Check that it is running.",
                detail.into()
            ),
            code: "network".into(),
            ..ApiError::default()
        }
    }

    /// Reads the admin API's `{"error": {...}}` body (or the proxy's OpenAI-style one).
    pub fn from_body(status: u16, body: &str, retry_after: Option<u64>) -> Self {
        let parsed: types::ErrorBody = serde_json::from_str(body).unwrap_or_default();
        let inner = parsed.error.unwrap_or_default();
        let message = inner
            .message
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| match status {
                401 => "You are not signed in.".to_owned(),
                404 => "Not found.".to_owned(),
                _ if body.trim().is_empty() || body.len() > 300 => {
                    format!("The gateway answered with HTTP {status}.")
                }
                _ => body.trim().to_owned(),
            });
        let code = match inner.code {
            Some(serde_json::Value::String(code)) => code,
            Some(other) if !other.is_null() => other.to_string(),
            _ => String::new(),
        };
        ApiError {
            status,
            message,
            code,
            fields: inner.fields,
            routes: inner.routes,
            retry_after,
        }
    }

    pub fn is_validation(&self) -> bool {
        self.status == 422 && !self.fields.is_empty()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A successful answer, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub text: String,
}

impl Reply {
    /// The snapshot version that made a write live, from `x-switchyard-snapshot-version`.
    pub fn snapshot_version(&self) -> Option<u64> {
        snapshot_version(&self.headers)
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_json::from_str(&self.text).map_err(|e| ApiError {
            status: self.status,
            message: format!("The gateway sent an answer the console cannot read: {e}"),
            code: "bad_response".into(),
            ..ApiError::default()
        })
    }
}

/// Reads `x-switchyard-snapshot-version` from response headers.
pub fn snapshot_version(headers: &Headers) -> Option<u64> {
    headers
        .get(SNAPSHOT_VERSION_HEADER)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse().ok())
}

/// A request body and its content type.
pub struct Body {
    pub text: String,
    pub content_type: &'static str,
}

impl Body {
    pub fn json<T: Serialize>(value: &T) -> Body {
        Body {
            // Serialising plain config structs cannot fail; an empty object is a safe fallback.
            text: serde_json::to_string(value).unwrap_or_else(|_| "{}".into()),
            content_type: "application/json",
        }
    }

    pub fn yaml(text: String) -> Body {
        Body {
            text,
            content_type: "text/yaml",
        }
    }
}

/// Sends one request and returns the raw response without reading its body, so that a caller
/// can stream it. Network failures become an [`ApiError`]; HTTP errors do not, except that a 401
/// outside `/api/auth/` first tells the app that the session is gone.
pub async fn fetch_response(
    method: &str,
    path: &str,
    body: Option<Body>,
) -> Result<Response, ApiError> {
    fetch_response_with(method, path, body, &[]).await
}

/// [`fetch_response`] with extra request headers (the playground's client key).
pub async fn fetch_response_with(
    method: &str,
    path: &str,
    body: Option<Body>,
    extra_headers: &[(&str, &str)],
) -> Result<Response, ApiError> {
    let init = RequestInit::new();
    init.set_method(method);
    init.set_credentials(RequestCredentials::SameOrigin);
    let headers = Headers::new().map_err(|_| ApiError::network("headers"))?;
    let _ = headers.set("Accept", "application/json, text/event-stream, text/yaml");
    if method != "GET"
        && let Some(token) = csrf_token()
    {
        let _ = headers.set("X-CSRF-Token", &token);
    }
    for (name, value) in extra_headers {
        let _ = headers.set(name, value);
    }
    if let Some(body) = &body {
        let _ = headers.set("Content-Type", body.content_type);
        init.set_body_opt_str(Some(&body.text));
    }
    init.set_headers(&headers);
    let request = Request::new_with_str_and_init(path, &init)
        .map_err(|e| ApiError::network(js_message(&e)))?;
    let response = JsFuture::from(leptos::prelude::window().fetch_with_request(&request))
        .await
        .map_err(|e| ApiError::network(js_message(&e)))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| ApiError::network("not a response"))?;
    if response.status() == 401 && !path.starts_with("/api/auth/") {
        unauthorized();
    }
    Ok(response)
}

/// Sends one request and reads the whole answer; any status outside 2xx is an error.
pub async fn call(method: &str, path: &str, body: Option<Body>) -> Result<Reply, ApiError> {
    let response = fetch_response(method, path, body).await?;
    let status = response.status();
    let headers = response.headers();
    let text = read_text(&response).await?;
    if (200..300).contains(&status) {
        Ok(Reply {
            status,
            headers,
            text,
        })
    } else {
        let retry_after = headers
            .get("retry-after")
            .ok()
            .flatten()
            .and_then(|v| v.trim().parse().ok());
        Err(ApiError::from_body(status, &text, retry_after))
    }
}

/// Reads a response body as text.
pub async fn read_text(response: &Response) -> Result<String, ApiError> {
    let promise = response
        .text()
        .map_err(|e| ApiError::network(js_message(&e)))?;
    let text = JsFuture::from(promise)
        .await
        .map_err(|e| ApiError::network(js_message(&e)))?;
    Ok(text.as_string().unwrap_or_default())
}

/// `GET` a JSON document.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    call("GET", path, None).await?.json()
}

/// `GET` a text document, such as the YAML export.
pub async fn get_text(path: &str) -> Result<String, ApiError> {
    Ok(call("GET", path, None).await?.text)
}

pub async fn post<T: Serialize>(path: &str, body: &T) -> Result<Reply, ApiError> {
    call("POST", path, Some(Body::json(body))).await
}

pub async fn put<T: Serialize>(path: &str, body: &T) -> Result<Reply, ApiError> {
    call("PUT", path, Some(Body::json(body))).await
}

pub async fn delete(path: &str) -> Result<Reply, ApiError> {
    call("DELETE", path, None).await
}

/// A `POST` without a body, such as logout.
pub async fn post_empty(path: &str) -> Result<Reply, ApiError> {
    call("POST", path, None).await
}

/// Escapes one path segment (a provider or route name) for a URL.
pub fn segment(name: &str) -> String {
    js_sys::encode_uri_component(name).into()
}

/// The message of a JavaScript exception, for error texts.
pub fn js_message(value: &wasm_bindgen::JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    value.as_string().unwrap_or_else(|| "unknown error".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_cookie_values() {
        let cookies = "a=1; switchyard_csrf=tok123; b=";
        assert_eq!(
            cookie_value(cookies, "switchyard_csrf").as_deref(),
            Some("tok123")
        );
        assert_eq!(cookie_value(cookies, "b"), None);
        assert_eq!(cookie_value(cookies, "missing"), None);
    }

    #[test]
    fn reads_admin_errors() {
        let body = r#"{"error":{"code":"conflict","message":"provider 'x' is used by routes: a","routes":["a"]}}"#;
        let error = ApiError::from_body(409, body, None);
        assert_eq!(error.code, "conflict");
        assert_eq!(error.routes, vec!["a".to_owned()]);
        let body = r#"{"error":{"code":"validation_failed","message":"bad","fields":[{"field":"name","message":"no"}]}}"#;
        let error = ApiError::from_body(422, body, None);
        assert!(error.is_validation());
        assert_eq!(error.fields[0].field, "name");
        let error = ApiError::from_body(502, "", None);
        assert!(error.message.contains("502"));
    }
}
