//! Google's Gemini models on Vertex AI: Gemini's bodies, stream and errors (delegated to
//! `super::gemini`), addressed under a project and location, with Vertex's own embeddings
//! (`vertex/embeddings.rs`), authenticated with OAuth2 access tokens minted from a service
//! account's key (`vertex/account.rs` signs the assertion, `vertex/token.rs` caches the tokens).

mod account;
mod embeddings;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cache;
#[cfg(test)]
mod tests_token;
mod token;

use serde_json::Value;

pub use account::{DEFAULT_TOKEN_URI, SCOPE, ServiceAccount};
pub use token::TokenCache;

use super::gemini::GeminiProvider;
use super::{Inbound, Operation, ProviderProtocol, RequestSettings, UpstreamErrorBody};
use crate::providers::encode_path_segment;
use crate::stream::Decoder;
use crate::usage::Usage;

/// The location whose endpoint is the un-prefixed host (`aiplatform.googleapis.com`).
pub const GLOBAL_LOCATION: &str = "global";

/// The base URL of a project's models in a location: regional locations have their own host,
/// the global location the un-prefixed one. Both are expected to have passed
/// [`check_project_location`]; the location becomes part of the host name.
pub fn base_url(project: &str, location: &str) -> String {
    let project = encode_path_segment(project);
    if location == GLOBAL_LOCATION {
        format!("https://aiplatform.googleapis.com/v1/projects/{project}/locations/global")
    } else {
        format!(
            "https://{location}-aiplatform.googleapis.com/v1/projects/{project}/locations/{location}"
        )
    }
}

/// Whether a project and location can be put into a base URL: the location becomes part of the
/// host name, so anything but a DNS label would send the access token elsewhere.
pub fn check_project_location(project: &str, location: &str) -> Result<(), String> {
    // Project IDs are lowercase letters, digits and hyphens; project numbers are digits; old
    // domain-scoped IDs look like `example.com:project`.
    let project_ok = !project.is_empty()
        && project.len() <= 100
        && project
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.:".contains(&b));
    if !project_ok {
        return Err(format!(
            "'{project}' is not a Google Cloud project ID (lowercase letters, digits and hyphens)"
        ));
    }
    let location_ok = !location.is_empty()
        && location.len() <= 63
        && !location.starts_with('-')
        && !location.ends_with('-')
        && location
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !location_ok {
        return Err(format!(
            "'{location}' is not a Vertex AI location (like us-central1, europe-west4 or global)"
        ));
    }
    Ok(())
}

/// The project and location a Vertex base URL (as [`base_url`] builds it, a trailing slash
/// allowed) names; `None` for any other URL.
pub fn project_location_from_base_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("https://")?;
    let (host, path) = rest.split_once('/')?;
    let path = path.strip_suffix('/').unwrap_or(path);
    let mut segments = path.split('/');
    let (Some("v1"), Some("projects"), Some(project), Some("locations"), Some(location), None) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return None;
    };
    let project = decode_path_segment(project)?;
    check_project_location(&project, location).ok()?;
    let expected_host = if location == GLOBAL_LOCATION {
        "aiplatform.googleapis.com".to_owned()
    } else {
        format!("{location}-aiplatform.googleapis.com")
    };
    (host == expected_host).then(|| (project, location.to_owned()))
}

/// Undoes [`encode_path_segment`] (only `%XX` escapes occur in what it writes).
fn decode_path_segment(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        if byte == b'%' {
            let hex = segment.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Providers that serve Google's Gemini models through Vertex AI.
pub struct VertexProvider;

impl ProviderProtocol for VertexProvider {
    fn native(&self, inbound: Inbound) -> bool {
        // Vertex takes the Gemini API's generateContent and countTokens bodies as they are.
        GeminiProvider.native(inbound)
    }

    fn path(&self, operation: Operation, segment: &str, _api_version: &str) -> Option<String> {
        // The API version is part of the base URL (`/v1/projects/...`).
        let model = encode_path_segment(segment);
        let method = match operation {
            Operation::Chat { stream: false } => "generateContent",
            Operation::Chat { stream: true } => "streamGenerateContent?alt=sse",
            Operation::Embeddings => "predict",
            Operation::CountTokens => "countTokens",
            Operation::Responses | Operation::Endpoint(_) => return None,
        };
        Some(format!("/publishers/google/models/{model}:{method}"))
    }

    fn per_model(&self, _operation: Operation) -> bool {
        true
    }

    fn chat_request(&self, chat: Value, settings: &RequestSettings) -> Result<Value, String> {
        GeminiProvider.chat_request(chat, settings)
    }

    fn chat_answer(&self, raw: &Value, target: &str) -> (Value, Usage) {
        GeminiProvider.chat_answer(raw, target)
    }

    fn chat_decoder(&self, target: &str) -> Box<dyn Decoder> {
        GeminiProvider.chat_decoder(target)
    }

    fn embeddings_request(&self, openai: &Value, _target: &str) -> Result<Value, String> {
        embeddings::request(openai)
    }

    fn embeddings_answer(&self, raw: &Value, model: &str) -> Value {
        embeddings::answer(raw, model)
    }

    fn error(&self, body: &[u8]) -> UpstreamErrorBody {
        // Vertex answers some stream requests' errors as a one-element array of Google's error
        // objects; the first is the one that counts.
        if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body)
            && let Some(first) = items.into_iter().next()
            && first.get("error").is_some()
        {
            return GeminiProvider.error(first.to_string().as_bytes());
        }
        GeminiProvider.error(body)
    }
}
