//! Azure OpenAI: OpenAI's request and response bodies, addressed by deployment and api-version,
//! authenticated with an `api-key` header.

/// The `api-version` used unless the provider sets one.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// The path (and query) of an operation on a deployment.
pub fn path(deployment: &str, operation: &str, api_version: &str) -> String {
    format!(
        "/openai/deployments/{}/{operation}?api-version={api_version}",
        crate::providers::encode_path_segment(deployment)
    )
}
