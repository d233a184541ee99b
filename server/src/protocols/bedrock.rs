//! AWS Bedrock's Converse and ConverseStream APIs behind the OpenAI API. Requests are translated
//! in `bedrock/request.rs` (tools in `bedrock/tools.rs`), answers in `bedrock/response.rs`,
//! errors in `bedrock/error.rs`. ConverseStream answers in AWS's binary event stream, not SSE:
//! `bedrock/eventstream.rs` rewrites its frames as SSE events, which `bedrock/decode.rs` decodes
//! like any other provider's stream. Requests are signed with the operator's AWS key by
//! `bedrock/sigv4.rs` (SigV4, service `bedrock`), and `bedrock/protocol.rs` is what the exchange
//! sees.

mod decode;
mod error;
mod eventstream;
mod protocol;
mod request;
mod response;
mod sigv4;
#[cfg(test)]
mod tests_eventstream;
#[cfg(test)]
mod tests_request;
#[cfg(test)]
mod tests_response;
#[cfg(test)]
mod tests_sigv4;
#[cfg(test)]
mod tests_sigv4_bedrock;
#[cfg(test)]
mod tests_stream;
mod tools;

pub use decode::BedrockDecoder;
pub use error::parse_error_body;
pub use eventstream::{EventStreamTranscoder, MAX_FRAME_BYTES};
pub use protocol::BedrockProvider;
pub use request::request;
pub use response::{finish_reason, response, usage};
pub use sigv4::{AwsCredentials, region_from_base_url, sign};

/// The name Bedrock's runtime is signed under (its endpoints are `bedrock-runtime.…`, but the
/// signing name is `bedrock`, as the AWS SDKs' service model says).
pub const SIGNING_SERVICE: &str = "bedrock";

/// The content type of ConverseStream's answers.
pub const EVENT_STREAM_CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// The runtime endpoint of a region, the base URL a Bedrock provider is configured with.
pub fn base_url(region: &str) -> String {
    format!("https://bedrock-runtime.{region}.amazonaws.com")
}
