//! Peeking at a Gemini request: the model and streaming are in the URL path
//! (`/v1beta/models/{model}:streamGenerateContent`), the body only needs to be a JSON object, and
//! the completion budget is `generationConfig.maxOutputTokens`.

use std::borrow::Cow;

use serde::Deserialize;

use super::{ModelField, Peeked};
use crate::proxy::ProxyError;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Fields {
    #[serde(alias = "generation_config")]
    generation_config: Option<GenerationConfig>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(alias = "max_output_tokens")]
    max_output_tokens: Option<serde_json::Value>,
}

/// The model and method come from the path; the body must be a JSON object.
pub fn peek_gemini(
    body: &[u8],
    model: String,
    stream: bool,
) -> Result<Peeked<'static>, ProxyError> {
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(ProxyError::MalformedJson("the body is empty".into())),
        Some(_) => return Err(ProxyError::NotAnObject("found another JSON value".into())),
    }
    let fields: Fields = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ProxyError::NotAnObject(e.to_string()),
        _ => ProxyError::MalformedJson(e.to_string()),
    })?;
    if model.is_empty() {
        return Err(ProxyError::MissingModel);
    }
    if switchyard_shared::validate::is_dot_segment(&model) {
        return Err(ProxyError::InvalidModel(format!(
            "`{model}` cannot name a model."
        )));
    }
    let max_tokens = fields
        .generation_config
        .and_then(|config| config.max_output_tokens)
        .and_then(|value| value.as_u64());
    Ok(Peeked {
        model: Cow::Owned(model),
        model_span: 0..0,
        model_field: ModelField::Path,
        stream,
        include_usage: false,
        has_stream_options: false,
        max_tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_budget_and_takes_the_model_from_the_path() {
        let body = br#"{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":64}}"#;
        let peeked = peek_gemini(body, "gemini-2.5-flash".into(), true).expect("valid");
        assert_eq!(peeked.model, "gemini-2.5-flash");
        assert!(peeked.stream);
        assert_eq!(peeked.max_tokens, Some(64));
        assert_eq!(peeked.model_field, ModelField::Path);
        assert!(matches!(
            peek_gemini(b"[1]", "m".into(), false),
            Err(ProxyError::NotAnObject(_))
        ));
        assert!(matches!(
            peek_gemini(b"{}", "..".into(), false),
            Err(ProxyError::InvalidModel(_))
        ));
    }
}
