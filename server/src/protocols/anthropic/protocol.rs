//! What the exchange sees of Anthropic's Messages API: the provider side (translation to and
//! from the common form) and the client side (the inbound Messages API).

use serde_json::Value;

use super::inbound;
use super::{AnthropicDecoder, AnthropicEncoder, AnthropicPassthrough};
use crate::protocols::{
    ClientProtocol, Inbound, Operation, ProviderProtocol, RequestSettings, UpstreamErrorBody,
};
use crate::proxy::ProxyError;
use crate::proxy::request::Peeked;
use crate::stream::{ClientApi, Decoder, Encoder, SseStage};
use crate::usage::{AnthropicUsageJson, Usage};

/// Providers that speak Anthropic's Messages API.
pub struct AnthropicProvider;

impl ProviderProtocol for AnthropicProvider {
    fn native(&self, inbound: Inbound) -> bool {
        matches!(inbound, Inbound::Messages | Inbound::CountTokens)
    }

    fn path(&self, operation: Operation, _segment: &str, _api_version: &str) -> Option<String> {
        match operation {
            Operation::Chat { .. } => Some("/messages".to_owned()),
            Operation::CountTokens => Some("/messages/count_tokens".to_owned()),
            Operation::Embeddings | Operation::Responses | Operation::Endpoint(_) => None,
        }
    }

    fn per_model(&self, _operation: Operation) -> bool {
        false
    }

    fn chat_request(&self, chat: Value, settings: &RequestSettings) -> Result<Value, String> {
        super::request(&chat, settings.target, settings.default_max_tokens)
    }

    fn chat_answer(&self, raw: &Value, _target: &str) -> (Value, Usage) {
        super::response(raw)
    }

    fn chat_decoder(&self, _target: &str) -> Box<dyn Decoder> {
        Box::new(AnthropicDecoder::default())
    }

    fn embeddings_request(&self, _openai: &Value, _target: &str) -> Result<Value, String> {
        Err("Anthropic's API has no embeddings".to_owned())
    }

    fn embeddings_answer(&self, raw: &Value, _model: &str) -> Value {
        raw.clone()
    }

    fn error(&self, body: &[u8]) -> UpstreamErrorBody {
        super::parse_error_body(body)
    }
}

/// The Messages API as Anthropic's clients (the SDKs, Claude Code) call it.
pub struct MessagesClient;

impl ClientProtocol for MessagesClient {
    fn answer_api(&self) -> ClientApi {
        ClientApi::Anthropic
    }

    fn to_chat(&self, request: &Value, _peeked: &Peeked<'_>) -> Result<Value, ProxyError> {
        inbound::to_openai(request).map_err(ProxyError::Untranslatable)
    }

    fn answer(&self, completion: &Value, _request: &Value, peeked: &Peeked<'_>) -> Value {
        inbound::from_openai_response(completion, &peeked.model).0
    }

    fn encoder(&self, _request: &Value, peeked: &Peeked<'_>) -> Box<dyn Encoder> {
        Box::new(AnthropicEncoder::new(&peeked.model))
    }

    fn native_stage(&self, _peeked: &Peeked<'_>) -> Box<dyn SseStage> {
        Box::new(AnthropicPassthrough::default())
    }

    fn native_usage(&self, body: &[u8]) -> Option<Usage> {
        read_usage(body)
    }
}

/// The `usage` of an Anthropic message body.
pub fn read_usage(body: &[u8]) -> Option<Usage> {
    #[derive(serde::Deserialize)]
    struct WithUsage {
        usage: Option<AnthropicUsageJson>,
    }
    serde_json::from_slice::<WithUsage>(body)
        .ok()?
        .usage
        .map(Usage::from)
}
