//! A JSON body extractor whose errors name the failing field (`upstreams[0].weight`), so a wrong
//! type or an unknown field is a 422 with field errors like any other invalid input.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use switchyard_shared::ValidationErrors;

use super::error::AdminApiError;

pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = AdminApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AdminApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|e| AdminApiError::BadRequest(format!("cannot read the body: {e}")))?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses a JSON body: broken syntax is a 400; a valid document of the wrong shape is a 422
/// naming the field.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AdminApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let field = if path == "." { String::new() } else { path };
                AdminApiError::Invalid(ValidationErrors::single(field, strip_position(&inner)))
            }
            _ => AdminApiError::BadRequest(format!("the body is not valid JSON: {inner}")),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| AdminApiError::BadRequest(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// serde's messages end in "at line 1 column 42", which means nothing next to a form field.
fn strip_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}
