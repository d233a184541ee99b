//! What the exchange sees of the Responses API: providers that serve it (OpenAI, Azure, opted-in
//! compatible servers) get the client's bytes at `/responses`; every other provider gets the
//! request as chat completions, and its answer comes back as a `response` object or event stream.

use serde_json::Value;

use super::{RequestEcho, ResponsesEncoder, ResponsesPassthrough, from_chat_with, to_chat, usage};
use crate::protocols::{ClientProtocol, Operation};
use crate::proxy::ProxyError;
use crate::proxy::request::Peeked;
use crate::stream::{ClientApi, Encoder, SseStage};
use crate::usage::Usage;

/// OpenAI's Responses API as clients call it.
pub struct ResponsesClient;

impl ClientProtocol for ResponsesClient {
    fn answer_api(&self) -> ClientApi {
        ClientApi::Responses
    }

    fn operation(&self, _peeked: &Peeked<'_>) -> Operation {
        Operation::Responses
    }

    fn to_chat(&self, request: &Value, _peeked: &Peeked<'_>) -> Result<Value, ProxyError> {
        to_chat(request).map_err(ProxyError::Untranslatable)
    }

    fn answer(&self, completion: &Value, request: &Value, peeked: &Peeked<'_>) -> Value {
        from_chat_with(completion, &peeked.model, &RequestEcho::new(request))
    }

    fn encoder(&self, request: &Value, peeked: &Peeked<'_>) -> Box<dyn Encoder> {
        Box::new(ResponsesEncoder::with_echo(
            &peeked.model,
            RequestEcho::new(request),
        ))
    }

    fn native_stage(&self, _peeked: &Peeked<'_>) -> Box<dyn SseStage> {
        Box::new(ResponsesPassthrough::default())
    }

    fn native_usage(&self, body: &[u8]) -> Option<Usage> {
        let answer: Value = serde_json::from_slice(body).ok()?;
        answer.get("usage").and_then(usage)
    }
}
