//! A fully read HTTP response and the HTTP client the tests use to reach the gateway.

use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::Value;

/// Builds the client used against the gateway: no proxy from the environment (the targets are
/// loopback sockets) and a generous overall timeout so that a hung server fails the test.
pub fn new_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("the reqwest client builds with a static configuration")
}

/// A response whose body has been read completely.
#[derive(Clone, Debug)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ApiResponse {
    /// Sends a request and reads the whole body; transport errors are returned, not panicked on.
    pub async fn try_send(request: reqwest::RequestBuilder) -> Result<ApiResponse, reqwest::Error> {
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }

    /// Sends a request and reads the whole body, panicking if the exchange itself fails.
    pub async fn send(request: reqwest::RequestBuilder) -> ApiResponse {
        Self::try_send(request)
            .await
            .unwrap_or_else(|e| panic!("HTTP request failed at the transport level: {e:?}"))
    }

    /// The body as text, with invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body text if it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected a JSON body ({e}); status {}, body: {}",
                self.status,
                self.text()
            )
        })
    }

    /// A header's value as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Panics with the status, headers and body unless the status is `expected`.
    pub fn expect_status(&self, expected: u16, context: &str) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            expected,
            "{context}: unexpected status; headers {:?}; body: {}",
            self.headers,
            self.text()
        );
        self
    }

    /// The `x-switchyard-*` headers every proxied answer carries: route, provider, model, attempts.
    pub fn switchyard_headers(&self) -> [Option<&str>; 4] {
        [
            self.header("x-switchyard-route"),
            self.header("x-switchyard-provider"),
            self.header("x-switchyard-model"),
            self.header("x-switchyard-attempts"),
        ]
    }

    /// Asserts the body is an OpenAI-shaped error (`{"error":{"message","type","param","code"}}`)
    /// and returns the inner `error` object.
    pub fn openai_error(&self) -> Value {
        let body = self.json();
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("no `error` object in {body}"))
            .clone();
        assert!(
            error.get("message").is_some_and(Value::is_string),
            "error.message must be a string: {body}"
        );
        assert!(
            error.get("type").is_some_and(Value::is_string),
            "error.type must be a string: {body}"
        );
        for key in ["param", "code"] {
            assert!(
                error.get(key).is_some(),
                "error.{key} must be present (null allowed): {body}"
            );
        }
        error
    }

    /// Asserts the body is an admin API error (`{"error":{"message","code",...}}`) with `code`,
    /// and returns the inner `error` object.
    pub fn admin_error(&self, code: &str) -> Value {
        let body = self.json();
        let error = body
            .get("error")
            .unwrap_or_else(|| panic!("no `error` object in {body}"))
            .clone();
        assert!(
            error.get("message").is_some_and(Value::is_string),
            "error.message must be a string: {body}"
        );
        assert_eq!(error["code"], code, "unexpected error code in {body}");
        error
    }

    /// The `field` names of a `validation_failed` admin error.
    pub fn error_fields(&self) -> Vec<String> {
        let error = self.admin_error("validation_failed");
        error["fields"]
            .as_array()
            .unwrap_or_else(|| panic!("validation_failed without a `fields` array: {error}"))
            .iter()
            .map(|f| {
                f["field"]
                    .as_str()
                    .unwrap_or_else(|| panic!("field entry without a `field` string: {f}"))
                    .to_owned()
            })
            .collect()
    }
}
