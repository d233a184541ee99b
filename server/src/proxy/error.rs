//! The proxy's one error type, and the one place it becomes an HTTP answer in OpenAI's error shape.

use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("We could not parse the JSON body of your request: {0}")]
    MalformedJson(String),
    #[error("The request body must be a JSON object: {0}")]
    NotAnObject(String),
    #[error("You must provide a model parameter.")]
    MissingModel,
    #[error("The model parameter must be a string.")]
    ModelNotString,
    /// A model name that cannot be sent anywhere (`.` or `..`, a dot-segment in URL paths).
    #[error("The model parameter is invalid: {0}")]
    InvalidModel(String),
    #[error("The stream parameter must be a boolean.")]
    StreamNotBool,
    #[error("The model `{0}` does not exist or no route serves it.")]
    ModelNotFound(String),
    #[error("The request body is larger than the limit of {0} bytes.")]
    BodyTooLarge(usize),
    #[error("The request body could not be read: {0}")]
    BodyUnreadable(String),
    #[error("Method {0} is not allowed for this endpoint.")]
    MethodNotAllowed(String),
    #[error("Unknown request URL: {0}.")]
    UnknownUrl(String),
    #[error("The provider '{provider}' has no usable API key.")]
    NoKey { provider: String },
    /// The request cannot be expressed in the provider's protocol.
    #[error("The request cannot be sent to this provider: {0}")]
    Untranslatable(String),
    /// The provider's protocol has no such operation (e.g. embeddings on Anthropic).
    #[error("{0}")]
    Unsupported(String),
    /// The provider answered with something that is not what its protocol promises.
    #[error("The upstream provider sent an invalid response: {0}")]
    BadUpstreamResponse(String),
    /// The upstream answered with an error status; its message is carried over.
    #[error("{}", .0.message)]
    Upstream(Box<UpstreamError>),
    #[error("The upstream provider could not be reached: {0}")]
    UpstreamUnreachable(String),
    #[error("The upstream provider did not answer in time ({0}).")]
    UpstreamTimeout(&'static str),
    /// The client's key is missing (when one is required), malformed, unknown, disabled or
    /// expired; the message says which and never repeats the key.
    #[error("{0}")]
    InvalidApiKey(String),
    #[error("The model `{model}` is not allowed for consumer '{consumer}'.")]
    ModelNotAllowed { model: String, consumer: String },
    #[error("{0}")]
    RouteNotAllowed(String),
    /// The `Host` header names a host this gateway does not answer to (DNS rebinding).
    #[error("{0}")]
    HostNotAllowed(String),
    /// A browser request from another site.
    #[error("{0}")]
    CrossSite(String),
    /// The gateway is at its in-flight limit.
    #[error("The gateway is at its limit of {0} requests in flight; retry shortly.")]
    Overloaded(usize),
    /// A limit refused the request before it reached any provider.
    #[error("Rate limit reached for {message}. Retry after {}s.", retry_after_seconds(*.retry_after))]
    RateLimited {
        message: String,
        /// `requests`, `tokens` or `concurrent_requests`, as OpenAI's error `type`.
        kind: &'static str,
        retry_after: std::time::Duration,
    },
    /// A guardrail policy refused the request (or its answer); names the policy and detector,
    /// never the value.
    #[error("The content was refused: {0}.")]
    ContentFiltered(String),
    /// A spend budget is used up until its period resets.
    #[error("{message}")]
    BudgetExceeded {
        message: String,
        /// Until the period resets; `None` for a `total` budget, which never does.
        retry_after: Option<std::time::Duration>,
    },
    /// The cluster's Redis does not answer and `redis_failure` is `closed`: no request passes
    /// while its limits and budgets cannot be checked.
    #[error(
        "The gateway cannot reach the cluster's shared counters (Redis) and is set to refuse \
         requests meanwhile (redis_failure: closed); retry shortly."
    )]
    RedisUnavailable,
}

/// A wait in whole seconds, rounded up and never 0, as `Retry-After` carries it.
pub fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.max(1)
}

/// An error status from the upstream, reduced to OpenAI's error fields.
#[derive(Debug)]
pub struct UpstreamError {
    pub status: StatusCode,
    pub message: String,
    pub kind: Option<String>,
    pub code: Option<Value>,
    pub param: Option<Value>,
    /// What the protocol's parser read the cause to be: it decides what the next attempt tries.
    pub cause: crate::protocols::Cause,
    pub retry_after: Option<HeaderValue>,
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::MalformedJson(_)
            | ProxyError::NotAnObject(_)
            | ProxyError::MissingModel
            | ProxyError::ModelNotString
            | ProxyError::InvalidModel(_)
            | ProxyError::StreamNotBool
            | ProxyError::Untranslatable(_)
            | ProxyError::Unsupported(_)
            | ProxyError::BodyUnreadable(_)
            | ProxyError::ContentFiltered(_) => StatusCode::BAD_REQUEST,
            ProxyError::BadUpstreamResponse(_) => StatusCode::BAD_GATEWAY,
            ProxyError::ModelNotFound(_) | ProxyError::UnknownUrl(_) => StatusCode::NOT_FOUND,
            ProxyError::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::NoKey { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Upstream(upstream) => upstream.status,
            ProxyError::UpstreamUnreachable(_) => StatusCode::BAD_GATEWAY,
            ProxyError::UpstreamTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::InvalidApiKey(_) => StatusCode::UNAUTHORIZED,
            ProxyError::ModelNotAllowed { .. } | ProxyError::RouteNotAllowed(_) => {
                StatusCode::FORBIDDEN
            }
            ProxyError::RateLimited { .. } | ProxyError::BudgetExceeded { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ProxyError::HostNotAllowed(_) | ProxyError::CrossSite(_) => StatusCode::FORBIDDEN,
            ProxyError::Overloaded(_) | ProxyError::RedisUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
        }
    }

    fn kind(&self) -> &str {
        match self {
            ProxyError::Upstream(upstream) => upstream
                .kind
                .as_deref()
                .unwrap_or_else(|| default_kind(upstream.status)),
            ProxyError::NoKey { .. }
            | ProxyError::UpstreamUnreachable(_)
            | ProxyError::BadUpstreamResponse(_)
            | ProxyError::UpstreamTimeout(_) => "api_error",
            ProxyError::ModelNotAllowed { .. }
            | ProxyError::RouteNotAllowed(_)
            | ProxyError::HostNotAllowed(_)
            | ProxyError::CrossSite(_) => "permission_error",
            ProxyError::Overloaded(_) => "api_error",
            ProxyError::RateLimited { kind, .. } => kind,
            ProxyError::BudgetExceeded { .. } => "insufficient_quota",
            ProxyError::RedisUnavailable => "redis_unavailable",
            _ => "invalid_request_error",
        }
    }

    fn code(&self) -> Value {
        let code = match self {
            ProxyError::Upstream(upstream) => return upstream.code.clone().unwrap_or(Value::Null),
            ProxyError::ModelNotFound(_) => "model_not_found",
            ProxyError::BodyTooLarge(_) => "request_too_large",
            ProxyError::MethodNotAllowed(_) => "method_not_allowed",
            ProxyError::UnknownUrl(_) => "unknown_url",
            ProxyError::NoKey { .. } => "no_api_key",
            ProxyError::UpstreamUnreachable(_) => "upstream_unreachable",
            ProxyError::UpstreamTimeout(_) => "upstream_timeout",
            ProxyError::Untranslatable(_) => "untranslatable_request",
            ProxyError::Unsupported(_) => "unsupported_operation",
            ProxyError::BadUpstreamResponse(_) => "bad_upstream_response",
            ProxyError::InvalidApiKey(_) => "invalid_api_key",
            ProxyError::ModelNotAllowed { .. } => "model_not_allowed",
            ProxyError::RouteNotAllowed(_) => "route_not_allowed",
            ProxyError::RateLimited { .. } => "rate_limit_exceeded",
            ProxyError::BudgetExceeded { .. } => "budget_exceeded",
            ProxyError::ContentFiltered(_) => "content_filtered",
            ProxyError::HostNotAllowed(_) => "host_not_allowed",
            ProxyError::CrossSite(_) => "cross_site_request",
            ProxyError::Overloaded(_) => "gateway_overloaded",
            ProxyError::RedisUnavailable => "redis_unavailable",
            ProxyError::MalformedJson(_)
            | ProxyError::NotAnObject(_)
            | ProxyError::MissingModel
            | ProxyError::ModelNotString
            | ProxyError::InvalidModel(_)
            | ProxyError::StreamNotBool
            | ProxyError::BodyUnreadable(_) => return Value::Null,
        };
        Value::from(code)
    }

    fn param(&self) -> Value {
        match self {
            ProxyError::Upstream(upstream) => upstream.param.clone().unwrap_or(Value::Null),
            ProxyError::MissingModel
            | ProxyError::ModelNotString
            | ProxyError::InvalidModel(_)
            | ProxyError::ModelNotFound(_)
            | ProxyError::ModelNotAllowed { .. } => Value::from("model"),
            ProxyError::StreamNotBool => Value::from("stream"),
            _ => Value::Null,
        }
    }

    /// The error's code as a request record keeps it: the `code` clients see when it is a string,
    /// else a word for what failed.
    pub fn log_code(&self) -> String {
        match self.code() {
            Value::String(code) => code,
            Value::Number(code) => code.to_string(),
            _ => match self {
                ProxyError::Upstream(upstream) => {
                    format!("upstream_{}", upstream.status.as_u16())
                }
                _ => "invalid_request".to_owned(),
            },
        }
    }

    /// OpenAI's error object, `{"message","type","param","code"}`.
    pub fn error_object(&self) -> Value {
        serde_json::json!({
            "message": self.to_string(),
            "type": self.kind(),
            "param": self.param(),
            "code": self.code(),
        })
    }

    /// The error as OpenAI's `{"error":{…}}` body.
    pub fn body(&self) -> Value {
        serde_json::json!({ "error": self.error_object() })
    }

    /// Anthropic's error type for this error, keeping an upstream Anthropic type when present.
    pub fn anthropic_kind(&self) -> &str {
        match self {
            ProxyError::Upstream(upstream) => match upstream.kind.as_deref() {
                Some(kind) if kind.ends_with("_error") && kind != "rate_limit_exceeded" => kind,
                _ => crate::protocols::anthropic::inbound::error_type(upstream.status.as_u16()),
            },
            other => crate::protocols::anthropic::inbound::error_type(other.status().as_u16()),
        }
    }
}

/// The error type OpenAI uses for a status, for upstream errors that name none.
fn default_kind(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_exceeded",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = self.status();
        let body = Bytes::from(self.body().to_string());
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(value) = self.retry_after() {
            headers.insert(header::RETRY_AFTER, value);
        }
        if self.never_retry() {
            headers.insert(SHOULD_RETRY, HeaderValue::from_static("false"));
        }
        response
    }
}

/// Tells the OpenAI and Anthropic SDKs not to retry an answer (they honour it over the status).
pub const SHOULD_RETRY: http::HeaderName = http::HeaderName::from_static("x-should-retry");

impl ProxyError {
    /// The `Retry-After` an answer with this error carries: the upstream's, or the gateway's own
    /// for a refused request.
    pub fn retry_after(&self) -> Option<HeaderValue> {
        match self {
            ProxyError::Upstream(upstream) => upstream.retry_after.clone(),
            ProxyError::RateLimited { retry_after, .. } => {
                Some(HeaderValue::from(retry_after_seconds(*retry_after)))
            }
            ProxyError::Overloaded(_) | ProxyError::RedisUnavailable => {
                Some(HeaderValue::from_static("1"))
            }
            ProxyError::BudgetExceeded { retry_after, .. } => {
                retry_after.map(|wait| HeaderValue::from(retry_after_seconds(wait)))
            }
            _ => None,
        }
    }

    /// Whether retrying cannot help before a reset far off (a spent budget).
    pub fn never_retry(&self) -> bool {
        matches!(self, ProxyError::BudgetExceeded { .. })
    }
}
