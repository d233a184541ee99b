//! Answers for Gemini clients: a chat completion as a GenerateContentResponse, stream items as
//! `streamGenerateContent?alt=sse` events (`data: {GenerateContentResponse}`, no event names and
//! no end marker: the last event carries `finishReason` and `usageMetadata`), `:countTokens`
//! answers, and errors in Google's shape.

use std::collections::BTreeMap;

use bytes::BytesMut;
use serde_json::{Map, Value, json};

use crate::stream::{Encoder, StreamItem, write_data};
use crate::usage::Usage;

/// Gemini's `finishReason` for an OpenAI `finish_reason`; the inverse of `gemini::finish_reason`.
/// Gemini ends a turn of function calls with `STOP`, and has no reason for anything else a
/// provider may say, so every other reason is `STOP` too.
pub fn finish_reason(reason: &str) -> &'static str {
    match reason {
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        _ => "STOP",
    }
}

/// Gemini's `usageMetadata`. Gemini counts thoughts apart from the candidates' tokens, where the
/// common usage counts them in the completion (as `Usage::from_gemini` reads them).
pub fn usage_metadata(usage: Usage) -> Value {
    let mut meta = Map::new();
    meta.insert("promptTokenCount".into(), usage.prompt_tokens.into());
    meta.insert(
        "candidatesTokenCount".into(),
        usage
            .completion_tokens
            .saturating_sub(usage.reasoning_tokens)
            .into(),
    );
    meta.insert(
        "totalTokenCount".into(),
        usage
            .prompt_tokens
            .saturating_add(usage.completion_tokens)
            .into(),
    );
    // Gemini leaves out counts that are zero.
    if usage.cached_prompt_tokens > 0 {
        meta.insert(
            "cachedContentTokenCount".into(),
            usage.cached_prompt_tokens.into(),
        );
    }
    if usage.reasoning_tokens > 0 {
        meta.insert("thoughtsTokenCount".into(), usage.reasoning_tokens.into());
    }
    Value::Object(meta)
}

/// A `functionCall` part. Gemini's `args` is an object: arguments that are not a JSON object (a
/// model's broken JSON, or an empty string for a call without parameters) become `{}`, as in the
/// Anthropic translation, so that the client gets a call it can answer rather than no answer.
fn function_call_part(id: &str, name: &str, arguments: &str) -> Value {
    let args = match serde_json::from_str::<Value>(arguments) {
        Ok(args @ Value::Object(_)) => args,
        _ => json!({}),
    };
    let mut call = Map::new();
    if !id.is_empty() {
        call.insert("id".into(), Value::from(id));
    }
    call.insert("name".into(), Value::from(name));
    call.insert("args".into(), args);
    json!({"functionCall": call})
}

/// A candidate's parts must never be empty: google-genai's chat session drops a turn whose
/// answer has a candidate without parts from its history.
fn non_empty(mut parts: Vec<Value>) -> Vec<Value> {
    if parts.is_empty() {
        parts.push(json!({"text": ""}));
    }
    parts
}

fn candidate(parts: Vec<Value>, index: u64, finish: Option<&str>) -> Value {
    let mut candidate = Map::new();
    candidate.insert(
        "content".into(),
        json!({"role": "model", "parts": non_empty(parts)}),
    );
    if let Some(finish) = finish {
        candidate.insert("finishReason".into(), Value::from(finish));
    }
    candidate.insert("index".into(), Value::from(index));
    Value::Object(candidate)
}

fn response(candidates: Vec<Value>, usage: Option<Usage>, model: &str, id: &str) -> Value {
    let mut response = Map::new();
    response.insert("candidates".into(), Value::Array(candidates));
    if let Some(usage) = usage {
        response.insert("usageMetadata".into(), usage_metadata(usage));
    }
    response.insert("modelVersion".into(), Value::from(model));
    response.insert("responseId".into(), Value::from(id));
    Value::Object(response)
}

fn message_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(text)) => text.clone(),
        other => super::super::content_text(other),
    }
}

/// Translates an OpenAI chat completion into a GenerateContentResponse: per choice a candidate
/// whose parts are its reasoning (a `thought` part, first), its text and its tool calls.
/// `modelVersion` is `model`, the model the client asked for.
pub fn from_chat(completion: &Value, model: &str) -> Value {
    let candidates = completion
        .get("choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, choice)| {
            let message = choice.get("message").unwrap_or(&Value::Null);
            let mut parts = Vec::new();
            let reasoning = message_text(message.get("reasoning_content"));
            if !reasoning.is_empty() {
                parts.push(json!({"text": reasoning, "thought": true}));
            }
            let text = message_text(message.get("content"));
            let refusal = message_text(message.get("refusal"));
            for text in [text, refusal] {
                if !text.is_empty() {
                    parts.push(json!({"text": text}));
                }
            }
            for call in message
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let text = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
                parts.push(function_call_part(
                    text("/id").unwrap_or_default(),
                    text("/function/name").unwrap_or_default(),
                    text("/function/arguments").unwrap_or_default(),
                ));
            }
            let finish = choice
                .get("finish_reason")
                .and_then(Value::as_str)
                .map_or("STOP", finish_reason);
            let index = choice
                .get("index")
                .and_then(Value::as_u64)
                .unwrap_or(i as u64);
            candidate(parts, index, Some(finish))
        })
        .collect();
    let usage = completion
        .get("usage")
        .and_then(Usage::from_openai)
        .unwrap_or_default();
    let id = completion
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default();
    response(candidates, Some(usage), model, id)
}

/// The answer to `:countTokens`.
pub fn count_tokens_answer(tokens: u64) -> Value {
    json!({"totalTokens": tokens})
}

/// Google's canonical status name for an HTTP status (the table of Google's API design guide).
pub fn error_status(status: u16) -> &'static str {
    match status {
        400 | 413 | 422 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 | 501 => "UNIMPLEMENTED",
        408 | 504 => "DEADLINE_EXCEEDED",
        409 => "ABORTED",
        412 => "FAILED_PRECONDITION",
        416 => "OUT_OF_RANGE",
        429 => "RESOURCE_EXHAUSTED",
        499 => "CANCELLED",
        502 | 503 => "UNAVAILABLE",
        400..=499 => "INVALID_ARGUMENT",
        _ => "INTERNAL",
    }
}

/// Google's error body, `{"error":{"code","message","status"}}`.
pub fn error_body(status: u16, message: &str) -> Value {
    json!({"error": {"code": status, "message": message, "status": error_status(status)}})
}

/// The HTTP status an OpenAI error object stands for, for a stream error: the error's `code`
/// when it names what failed, else its `type`.
fn status_of(error: &Value) -> u16 {
    let text = |key: &str| error.get(key).and_then(Value::as_str).unwrap_or_default();
    match text("code") {
        "stream_truncated"
        | "malformed_chunk"
        | "upstream_unreachable"
        | "bad_upstream_response" => return 502,
        "upstream_timeout" => return 504,
        "rate_limit_exceeded" | "budget_exceeded" => return 429,
        _ => {}
    }
    match text("type") {
        "invalid_request_error" => 400,
        "authentication_error" => 401,
        "permission_error" => 403,
        "not_found_error" => 404,
        "request_too_large" => 413,
        "rate_limit_exceeded"
        | "rate_limit_error"
        | "insufficient_quota"
        | "requests"
        | "tokens"
        | "concurrent_requests" => 429,
        "overloaded_error" => 503,
        _ => 500,
    }
}

/// A tool call whose arguments are still arriving.
#[derive(Default)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// What a candidate still owes its final event: its complete function calls and finish reason.
#[derive(Default)]
struct CandidateState {
    calls: BTreeMap<u64, PendingCall>,
    finish: Option<&'static str>,
}

/// Writes stream items as Gemini's SSE: an event per text or reasoning delta, tool calls as
/// whole `functionCall` parts once their arguments are complete, and a final event with the
/// finish reason and usage, written on `Done` because the usage may follow the finish reason.
pub struct GeminiEncoder {
    model: String,
    response_id: String,
    candidates: BTreeMap<u64, CandidateState>,
    usage: Option<Usage>,
    ended: bool,
}

impl GeminiEncoder {
    pub fn new(model: &str) -> GeminiEncoder {
        GeminiEncoder {
            model: model.to_owned(),
            response_id: String::new(),
            candidates: BTreeMap::new(),
            usage: None,
            ended: false,
        }
    }

    fn write(&self, candidates: Vec<Value>, usage: Option<Usage>, out: &mut BytesMut) {
        let event = response(candidates, usage, &self.model, &self.response_id);
        write_data(out, &event);
    }

    fn chunk(&mut self, chunk: &Value, out: &mut BytesMut) {
        if self.response_id.is_empty()
            && let Some(id) = chunk.get("id").and_then(Value::as_str)
        {
            self.response_id = id.to_owned();
        }
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let index = choice.get("index").and_then(Value::as_u64).unwrap_or(0);
            let state = self.candidates.entry(index).or_default();
            let delta = choice.get("delta").unwrap_or(&Value::Null);
            let text = |key: &str| {
                delta
                    .get(key)
                    .and_then(Value::as_str)
                    .filter(|text| !text.is_empty())
            };
            let mut parts = Vec::new();
            if let Some(reasoning) = text("reasoning_content") {
                parts.push(json!({"text": reasoning, "thought": true}));
            }
            for text in [text("content"), text("refusal")].into_iter().flatten() {
                parts.push(json!({"text": text}));
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let call_index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let pending = state.calls.entry(call_index).or_default();
                let piece = |pointer: &str| call.pointer(pointer).and_then(Value::as_str);
                if let Some(id) = piece("/id").filter(|id| !id.is_empty()) {
                    pending.id = id.to_owned();
                }
                if let Some(name) = piece("/function/name").filter(|name| !name.is_empty()) {
                    pending.name = name.to_owned();
                }
                if let Some(arguments) = piece("/function/arguments") {
                    pending.arguments.push_str(arguments);
                }
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                state.finish = Some(finish_reason(reason));
            }
            if !parts.is_empty() {
                self.write(vec![candidate(parts, index, None)], None, out);
            }
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        if self.candidates.is_empty() {
            self.candidates.insert(0, CandidateState::default());
        }
        let candidates = self
            .candidates
            .iter()
            .map(|(index, state)| {
                let calls = state
                    .calls
                    .values()
                    .map(|call| function_call_part(&call.id, &call.name, &call.arguments))
                    .collect();
                candidate(calls, *index, Some(state.finish.unwrap_or("STOP")))
            })
            .collect();
        self.write(candidates, self.usage, out);
    }
}

impl Encoder for GeminiEncoder {
    fn item(&mut self, item: StreamItem, out: &mut BytesMut) {
        // After the final event or an error the client has its answer; nothing may follow.
        if self.ended {
            return;
        }
        match item {
            StreamItem::Chunk(chunk) => self.chunk(&chunk, out),
            StreamItem::Usage(usage) => self.usage.get_or_insert_default().merge(usage),
            StreamItem::Done => {
                self.ended = true;
                self.finish(out);
            }
            StreamItem::Error(error) => {
                self.ended = true;
                let message = error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("upstream error");
                write_data(out, &error_body(status_of(&error), message));
            }
        }
    }
}
