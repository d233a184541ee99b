//! What the exchange sees of Cohere's v2 API on the provider side: its paths, translation to and
//! from the common form, and rerank passed through.

use serde_json::Value;

use super::CohereDecoder;
use crate::protocols::{
    Endpoint, Inbound, Operation, ProviderProtocol, RequestSettings, UpstreamErrorBody,
};
use crate::stream::Decoder;
use crate::usage::Usage;

/// Providers that speak Cohere's v2 API (base URL [`super::DEFAULT_BASE_URL`], bearer auth).
pub struct CohereProvider;

impl ProviderProtocol for CohereProvider {
    /// A stream whose first event already ends it with an error (`message-end` with
    /// `delta.error`, or an error body sent as an event) failed before it started.
    fn stream_start_error(&self, event: &crate::sse::SseEvent) -> Option<UpstreamErrorBody> {
        let data: serde_json::Value = serde_json::from_str(&event.data()).ok()?;
        let message = data
            .pointer("/delta/error")
            .and_then(serde_json::Value::as_str)
            .filter(|message| !message.is_empty())
            .or_else(|| {
                data.get("message")
                    .filter(|_| data.get("type").is_none() && event.name().is_none())
                    .and_then(serde_json::Value::as_str)
            })?;
        Some(super::classified_error(message))
    }

    fn native(&self, inbound: Inbound) -> bool {
        // `/v1/rerank` clients send Cohere's rerank body (model, query, documents, top_n).
        inbound == Inbound::Endpoint(Endpoint::Rerank)
    }

    fn path(&self, operation: Operation, _segment: &str, _api_version: &str) -> Option<String> {
        match operation {
            // One path for both: a stream is asked for with `stream: true` in the body.
            Operation::Chat { .. } => Some("/chat".to_owned()),
            Operation::Embeddings => Some("/embed".to_owned()),
            Operation::Endpoint(Endpoint::Rerank) => Some("/rerank".to_owned()),
            Operation::CountTokens | Operation::Responses | Operation::Endpoint(_) => None,
        }
    }

    fn per_model(&self, _operation: Operation) -> bool {
        false
    }

    fn chat_request(&self, chat: Value, settings: &RequestSettings) -> Result<Value, String> {
        super::request(&chat, settings.target)
    }

    fn chat_answer(&self, raw: &Value, target: &str) -> (Value, Usage) {
        super::response(raw, target)
    }

    fn chat_decoder(&self, target: &str) -> Box<dyn Decoder> {
        Box::new(CohereDecoder::new(target))
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
