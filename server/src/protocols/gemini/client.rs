//! What the exchange sees of the Gemini API on the client side (the google-genai SDKs): Gemini
//! providers get the client's bytes; every other provider gets the request as chat completions,
//! and its answer comes back as a `GenerateContentResponse` or a stream of them.

use serde_json::Value;

use super::inbound::{from_chat, to_chat};
use super::{GeminiEncoder, GeminiPassthrough};
use crate::protocols::ClientProtocol;
use crate::proxy::ProxyError;
use crate::proxy::request::Peeked;
use crate::stream::{ClientApi, Encoder, SseStage};
use crate::usage::Usage;

/// Gemini's generateContent and streamGenerateContent as clients call them.
pub struct GeminiClient;

impl ClientProtocol for GeminiClient {
    fn answer_api(&self) -> ClientApi {
        ClientApi::Gemini
    }

    fn to_chat(&self, request: &Value, peeked: &Peeked<'_>) -> Result<Value, ProxyError> {
        to_chat(request, &peeked.model, peeked.stream).map_err(ProxyError::Untranslatable)
    }

    fn answer(&self, completion: &Value, _request: &Value, peeked: &Peeked<'_>) -> Value {
        from_chat(completion, &peeked.model)
    }

    fn encoder(&self, _request: &Value, peeked: &Peeked<'_>) -> Box<dyn Encoder> {
        Box::new(GeminiEncoder::new(&peeked.model))
    }

    fn native_stage(&self, _peeked: &Peeked<'_>) -> Box<dyn SseStage> {
        Box::new(GeminiPassthrough::default())
    }

    fn native_usage(&self, body: &[u8]) -> Option<Usage> {
        let answer: Value = serde_json::from_slice(body).ok()?;
        answer.get("usageMetadata").map(Usage::from_gemini)
    }
}
