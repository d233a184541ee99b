//! The admin API's one error type, and the one place it becomes an HTTP answer.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use switchyard_shared::ValidationErrors;
use switchyard_shared::admin::{AdminError, AdminErrorBody};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminApiError {
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("too many attempts; try again in {0} s")]
    TooManyRequests(u64),
    #[error("{0}")]
    Internal(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A service the request needs (the cluster's Redis) did not answer; 503, worth a retry.
    #[error("{0}")]
    Unavailable(String),
    #[error("validation failed: {0}")]
    Invalid(ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ValidationErrors> for AdminApiError {
    fn from(errors: ValidationErrors) -> Self {
        AdminApiError::Invalid(errors)
    }
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        let mut error = AdminError {
            message: self.to_string(),
            code: String::new(),
            fields: Vec::new(),
            routes: Vec::new(),
        };
        let status = match self {
            AdminApiError::Unauthorized(_) => {
                error.code = "unauthorized".into();
                StatusCode::UNAUTHORIZED
            }
            AdminApiError::Forbidden(_) => {
                error.code = "forbidden".into();
                StatusCode::FORBIDDEN
            }
            AdminApiError::TooManyRequests(seconds) => {
                error.code = "rate_limited".into();
                let mut response = (
                    StatusCode::TOO_MANY_REQUESTS,
                    Json(AdminErrorBody { error }),
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, http::HeaderValue::from(seconds));
                return response;
            }
            AdminApiError::Internal(message) => {
                tracing::error!(error = %message, "admin request failed");
                error.code = "internal".into();
                error.message = "internal error; see the server log".into();
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AdminApiError::BadRequest(_) => {
                error.code = "bad_request".into();
                StatusCode::BAD_REQUEST
            }
            AdminApiError::UnsupportedMediaType(_) => {
                error.code = "unsupported_media_type".into();
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            AdminApiError::Unavailable(_) => {
                error.code = "unavailable".into();
                StatusCode::SERVICE_UNAVAILABLE
            }
            AdminApiError::Invalid(errors) | AdminApiError::Store(StoreError::Invalid(errors)) => {
                error.code = "validation_failed".into();
                error.message = format!("validation failed: {errors}");
                error.fields = errors.0;
                StatusCode::UNPROCESSABLE_ENTITY
            }
            AdminApiError::Store(StoreError::NotFound(_)) => {
                error.code = "not_found".into();
                StatusCode::NOT_FOUND
            }
            AdminApiError::Store(StoreError::HistoryGone { .. }) => {
                error.code = "gone".into();
                StatusCode::GONE
            }
            AdminApiError::Store(StoreError::Conflict { routes, .. }) => {
                error.code = "conflict".into();
                error.routes = routes;
                StatusCode::CONFLICT
            }
            AdminApiError::Store(other) => {
                // Internal details go to the log; the client learns only that it failed.
                tracing::error!(error = %other, "admin request failed");
                error.code = "internal".into();
                error.message = "internal error; see the server log".into();
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        (status, Json(AdminErrorBody { error })).into_response()
    }
}
