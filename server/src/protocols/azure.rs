//! Azure OpenAI: OpenAI's request and response bodies, addressed by deployment and api-version,
//! authenticated with an `api-key` header.

use serde_json::Value;

use super::openai::OpenAiProvider;
use super::{Endpoint, Inbound, Operation, ProviderProtocol, RequestSettings, UpstreamErrorBody};
use crate::stream::Decoder;
use crate::usage::Usage;

/// The `api-version` used unless the provider sets one.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";

/// The path (and query) of an operation on a deployment.
pub fn path(deployment: &str, operation: &str, api_version: &str) -> String {
    format!(
        "/openai/deployments/{}/{operation}?api-version={api_version}",
        crate::providers::encode_path_segment(deployment)
    )
}

/// Azure speaks OpenAI's bodies; only where they go differs.
pub struct AzureProvider;

impl ProviderProtocol for AzureProvider {
    fn native(&self, inbound: Inbound) -> bool {
        OpenAiProvider.native(inbound)
    }

    fn path(&self, operation: Operation, segment: &str, api_version: &str) -> Option<String> {
        let what = match operation {
            Operation::Chat { .. } => "chat/completions",
            Operation::Embeddings => "embeddings",
            Operation::Endpoint(Endpoint::Completions) => "completions",
            Operation::Endpoint(Endpoint::Images) => "images/generations",
            Operation::Endpoint(Endpoint::AudioSpeech) => "audio/speech",
            Operation::Endpoint(Endpoint::AudioTranscriptions) => "audio/transcriptions",
            // Azure's v1 API serves the Responses API at one path for every deployment (the
            // body's `model` names the deployment).
            Operation::Responses => return Some("/openai/v1/responses".to_owned()),
            Operation::Endpoint(Endpoint::Moderations | Endpoint::Rerank)
            | Operation::CountTokens => return None,
        };
        Some(path(segment, what, api_version))
    }

    fn per_model(&self, operation: Operation) -> bool {
        operation != Operation::Responses
    }

    fn body_names_deployment(&self, operation: Operation) -> bool {
        operation == Operation::Responses
    }

    fn chat_request(&self, chat: Value, settings: &RequestSettings) -> Result<Value, String> {
        OpenAiProvider.chat_request(chat, settings)
    }

    fn chat_answer(&self, raw: &Value, target: &str) -> (Value, Usage) {
        OpenAiProvider.chat_answer(raw, target)
    }

    fn chat_decoder(&self, target: &str) -> Box<dyn Decoder> {
        OpenAiProvider.chat_decoder(target)
    }

    fn embeddings_request(&self, openai: &Value, target: &str) -> Result<Value, String> {
        OpenAiProvider.embeddings_request(openai, target)
    }

    fn embeddings_answer(&self, raw: &Value, model: &str) -> Value {
        OpenAiProvider.embeddings_answer(raw, model)
    }

    fn error(&self, body: &[u8]) -> UpstreamErrorBody {
        OpenAiProvider.error(body)
    }
}
