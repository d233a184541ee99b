//! What the exchange sees of Bedrock on the provider side: per-model paths
//! (`/model/{modelId}/converse` and `/converse-stream`, the model id one percent-encoded segment
//! as the AWS SDKs send it, so an inference-profile ARN's `:` and `/` are `%3A` and `%2F`), and
//! translation to and from the common form. No client API is native, and there are no
//! embeddings: Bedrock's (Titan, Cohere) go through InvokeModel with per-family bodies.

use serde_json::Value;

use super::BedrockDecoder;
use crate::protocols::{Inbound, Operation, ProviderProtocol, RequestSettings, UpstreamErrorBody};
use crate::providers::encode_path_segment;
use crate::stream::{Decoder, Transcoder};
use crate::usage::Usage;

/// Providers that speak Bedrock's Converse API.
pub struct BedrockProvider;

impl ProviderProtocol for BedrockProvider {
    fn native(&self, _inbound: Inbound) -> bool {
        false
    }

    fn path(&self, operation: Operation, segment: &str, _api_version: &str) -> Option<String> {
        let model = encode_path_segment(segment);
        match operation {
            Operation::Chat { stream: false } => Some(format!("/model/{model}/converse")),
            Operation::Chat { stream: true } => Some(format!("/model/{model}/converse-stream")),
            Operation::Embeddings
            | Operation::CountTokens
            | Operation::Responses
            | Operation::Endpoint(_) => None,
        }
    }

    fn per_model(&self, _operation: Operation) -> bool {
        true
    }

    fn chat_request(&self, chat: Value, settings: &RequestSettings) -> Result<Value, String> {
        super::request(&chat, settings.target)
    }

    fn chat_answer(&self, raw: &Value, target: &str) -> (Value, Usage) {
        super::response(raw, target)
    }

    fn chat_decoder(&self, target: &str) -> Box<dyn Decoder> {
        Box::new(BedrockDecoder::new(target))
    }

    fn embeddings_request(&self, _openai: &Value, _target: &str) -> Result<Value, String> {
        Err("Bedrock providers serve chat only: embeddings are not supported".to_owned())
    }

    fn embeddings_answer(&self, raw: &Value, _model: &str) -> Value {
        raw.clone()
    }

    fn error(&self, body: &[u8]) -> UpstreamErrorBody {
        super::parse_error_body(body)
    }

    /// Bedrock names the error's class in `x-amzn-ErrorType` (`ThrottlingException:http://…`)
    /// and often only a message in the body: the class is read from the header when the body
    /// has none.
    fn error_answer(&self, headers: &http::HeaderMap, body: &[u8]) -> UpstreamErrorBody {
        let class = headers
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v));
        let Some(class) = class else {
            return self.error(body);
        };
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(mut object)) if !object.contains_key("__type") => {
                object.insert("__type".to_owned(), Value::from(class));
                self.error(Value::Object(object).to_string().as_bytes())
            }
            _ => self.error(body),
        }
    }

    /// A stream that opens with an exception frame (transcoded to `event: exception`, data
    /// `{"__type", "message"}`) failed before it started.
    fn stream_start_error(&self, event: &crate::sse::SseEvent) -> Option<UpstreamErrorBody> {
        (event.name() == Some("exception")).then(|| self.error(event.data().as_bytes()))
    }

    fn stream_transcoder(&self) -> Option<Box<dyn Transcoder>> {
        Some(Box::new(super::EventStreamTranscoder::new()))
    }
}

impl Transcoder for super::EventStreamTranscoder {
    fn push(&mut self, chunk: &[u8], out: &mut bytes::BytesMut) -> Result<(), String> {
        super::EventStreamTranscoder::push(self, chunk, out)
    }

    fn finish(&mut self) -> Result<(), String> {
        super::EventStreamTranscoder::finish(self)
    }
}
