//! What the exchange sees of Google's Gemini API on the provider side: per-model paths, and
//! translation to and from the common form.

use serde_json::Value;

use super::GeminiDecoder;
use crate::protocols::{Inbound, Operation, ProviderProtocol, RequestSettings, UpstreamErrorBody};
use crate::providers::encode_path_segment;
use crate::stream::Decoder;
use crate::usage::Usage;

/// Providers that speak the Gemini API (generateContent).
pub struct GeminiProvider;

impl ProviderProtocol for GeminiProvider {
    fn native(&self, inbound: Inbound) -> bool {
        matches!(inbound, Inbound::Gemini | Inbound::GeminiCountTokens)
    }

    fn path(&self, operation: Operation, segment: &str, _api_version: &str) -> Option<String> {
        let model = encode_path_segment(segment);
        Some(match operation {
            Operation::Chat { stream: false } => format!("/models/{model}:generateContent"),
            Operation::Chat { stream: true } => {
                format!("/models/{model}:streamGenerateContent?alt=sse")
            }
            Operation::Embeddings => format!("/models/{model}:batchEmbedContents"),
            Operation::CountTokens => format!("/models/{model}:countTokens"),
            Operation::Responses | Operation::Endpoint(_) => return None,
        })
    }

    fn per_model(&self, _operation: Operation) -> bool {
        true
    }

    fn chat_request(&self, chat: Value, _settings: &RequestSettings) -> Result<Value, String> {
        super::request(&chat)
    }

    fn chat_answer(&self, raw: &Value, target: &str) -> (Value, Usage) {
        super::response(raw, target)
    }

    fn chat_decoder(&self, target: &str) -> Box<dyn Decoder> {
        Box::new(GeminiDecoder::new(target))
    }

    fn embeddings_request(&self, openai: &Value, target: &str) -> Result<Value, String> {
        super::embeddings_request(openai, target)
    }

    fn embeddings_answer(&self, raw: &Value, model: &str) -> Value {
        super::embeddings_response(raw, model)
    }

    fn error(&self, body: &[u8]) -> UpstreamErrorBody {
        super::parse_error_body(body)
    }
}
