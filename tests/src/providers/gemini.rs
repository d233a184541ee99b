//! A mock of Google's Gemini API (`models/{model}:generateContent`, `:streamGenerateContent?alt=sse`,
//! `:countTokens`, `:batchEmbedContents`) that checks `x-goog-api-key` and reads the model from the
//! URL.

use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::fake::{ProviderMock, json_body, json_reply, split_query, sse_reply};
use super::{Answer, Finish, Script, words};
use crate::mock::RecordedRequest;

/// A mock Gemini server; its key is the `test_key` of its name.
pub type GeminiMock = ProviderMock;

/// What the mock's `countTokens` answers, a number the gateway could not have estimated.
pub const COUNTED_TOKENS: u64 = 2371;

/// Starts a mock Gemini server named `name`.
pub async fn mock(name: &str) -> GeminiMock {
    ProviderMock::start(name, "gemini", "/v1beta", respond).await
}

/// Gemini's error body: the HTTP status, a message and the gRPC status name.
pub fn error_body(status: u16, kind: &str, message: &str) -> Value {
    json!({"error": {"code": status, "message": message, "status": kind}})
}

fn error(status: u16, kind: &str, message: &str) -> Response {
    json_reply(status, &error_body(status, kind, message))
}

/// The model (percent-decoded) and method of a `/v1beta/models/{model}:{method}` path.
pub fn model_and_method(path: &str) -> Option<(String, String)> {
    let (path, _) = split_query(path);
    let (model, method) = path.strip_prefix("/v1beta/models/")?.rsplit_once(':')?;
    Some((percent_decode(model)?, method.to_owned()))
}

fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn respond(name: &str, key: &str, request: &RecordedRequest, script: Option<Script>) -> Response {
    if request.method != http::Method::POST {
        return error(405, "INVALID_ARGUMENT", "Method not allowed");
    }
    match request.header("x-goog-api-key") {
        None => {
            return error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers.",
            );
        }
        Some(sent) if sent != key => {
            return error(400, "INVALID_ARGUMENT", "API key not valid.");
        }
        Some(_) => {}
    }
    if request.header("authorization").is_some() {
        return error(401, "UNAUTHENTICATED", "Unexpected OAuth credentials.");
    }
    let Some((model, method)) = model_and_method(&request.path) else {
        return error(404, "NOT_FOUND", "The path names no model.");
    };
    let Some(body) = json_body(request) else {
        return error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
    };
    let (_, query) = split_query(&request.path);
    match method.as_str() {
        "batchEmbedContents" => embed(&model, &body),
        "countTokens" => count_tokens(&body),
        "generateContent" | "streamGenerateContent" => {
            if let Some(problem) = check_contents(&body) {
                return error(400, "INVALID_ARGUMENT", &problem);
            }
            let stream = method == "streamGenerateContent";
            if stream != (query == "alt=sse") {
                return error(400, "INVALID_ARGUMENT", "Streams must ask for alt=sse.");
            }
            generate_reply(name, &model, stream, script)
        }
        other => error(404, "NOT_FOUND", &format!("Unknown method {other}.")),
    }
}

/// The answer to a checked generateContent (`stream`: streamGenerateContent) request: the
/// script's, or a greeting naming the mock. The Vertex mock answers with it too.
pub fn generate_reply(name: &str, model: &str, stream: bool, script: Option<Script>) -> Response {
    let script =
        script.unwrap_or_else(|| Script::Answer(Answer::text(&format!("hello from {name}"))));
    match script {
        Script::Answer(answer) if stream => sse_reply(stream_chunks(&answer, model)),
        Script::Answer(answer) => json_reply(200, &response(&answer, model)),
        Script::Truncated(answer) => {
            let mut chunks = stream_chunks(&answer, model);
            // Without the last chunk nothing carries a finishReason.
            chunks.pop();
            sse_reply(chunks)
        }
        Script::Error {
            status,
            kind,
            message,
        } => error(status, &kind, &message),
        Script::StreamError {
            status,
            kind,
            message,
        } => sse_reply(vec![chunk(&error_body(status, &kind, &message))]),
    }
}

/// Gemini's own requirements on `contents`: roles `user` or `model`, and parts in every turn.
fn check_contents(body: &Value) -> Option<String> {
    if body.get("model").is_some() || body.get("messages").is_some() {
        return Some("Unknown name \"model\" or \"messages\": Cannot find field.".into());
    }
    let contents = body["contents"].as_array().filter(|c| !c.is_empty());
    let Some(contents) = contents else {
        return Some("contents is not specified".into());
    };
    for content in contents {
        if !matches!(content["role"].as_str(), Some("user" | "model")) {
            return Some(format!("Please use a valid role: user, model. ({content})"));
        }
        if content["parts"].as_array().is_none_or(Vec::is_empty) {
            return Some("contents.parts must not be empty".into());
        }
    }
    None
}

/// `countTokens` takes `contents`, or a whole `generateContentRequest`, and answers
/// [`COUNTED_TOKENS`] whatever they hold.
fn count_tokens(body: &Value) -> Response {
    let contents = body["contents"].as_array().is_some_and(|c| !c.is_empty());
    if !contents && !body["generateContentRequest"].is_object() {
        return error(400, "INVALID_ARGUMENT", "contents is not specified");
    }
    let details = json!([{"modality": "TEXT", "tokenCount": COUNTED_TOKENS}]);
    json_reply(
        200,
        &json!({"totalTokens": COUNTED_TOKENS, "promptTokensDetails": details}),
    )
}

/// Embeddings derived from each input: its position, its length and a constant.
pub fn embedding_for(index: usize, text: &str) -> Vec<f64> {
    vec![index as f64, text.len() as f64, 0.5]
}

fn embed(model: &str, body: &Value) -> Response {
    let Some(requests) = body["requests"].as_array() else {
        return error(400, "INVALID_ARGUMENT", "requests is required");
    };
    let mut embeddings = Vec::new();
    for (i, request) in requests.iter().enumerate() {
        if request["model"] != format!("models/{model}") {
            return error(
                400,
                "INVALID_ARGUMENT",
                "The model in each request must match the model in the URL.",
            );
        }
        let text = request["content"]["parts"][0]["text"]
            .as_str()
            .unwrap_or_default();
        embeddings.push(json!({"values": embedding_for(i, text)}));
    }
    json_reply(200, &json!({"embeddings": embeddings}))
}

fn finish_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Length => "MAX_TOKENS",
        Finish::Stop | Finish::ToolCalls => "STOP",
    }
}

fn usage(answer: &Answer, candidates: u64) -> Value {
    let t = answer.tokens;
    let mut meta = json!({
        "promptTokenCount": t.prompt,
        "candidatesTokenCount": candidates,
        "totalTokenCount": t.prompt + candidates,
    });
    if t.cached > 0 {
        meta["cachedContentTokenCount"] = json!(t.cached);
    }
    meta
}

fn envelope(answer: &Answer, model: &str, parts: Vec<Value>, finish: Option<Finish>) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    let candidates = match finish {
        Some(finish) => {
            candidate["finishReason"] = json!(finish_reason(finish));
            answer.tokens.completion
        }
        None => 1,
    };
    json!({
        "candidates": [candidate],
        "usageMetadata": usage(answer, candidates),
        "modelVersion": model,
        "responseId": answer.id,
    })
}

fn call_part(call: &super::ToolCall) -> Value {
    json!({"functionCall": {"name": call.name, "args": call.arguments}})
}

/// A complete generateContent response.
pub fn response(answer: &Answer, model: &str) -> Value {
    let mut parts = Vec::new();
    if !answer.reasoning.is_empty() {
        parts.push(json!({"text": answer.reasoning, "thought": true}));
    }
    if !answer.text.is_empty() {
        parts.push(json!({"text": answer.text}));
    }
    parts.extend(answer.tool_calls.iter().map(call_part));
    envelope(answer, model, parts, Some(answer.finish))
}

/// One SSE chunk in Gemini's framing, which separates events with CRLF pairs.
pub fn chunk(data: &Value) -> Bytes {
    Bytes::from(format!("data: {data}\r\n\r\n"))
}

/// A streamed answer: a chunk per thought and per word, the last word with the function calls,
/// the finishReason and the final usage. There is no end marker.
pub fn stream_chunks(answer: &Answer, model: &str) -> Vec<Bytes> {
    let mut pieces: Vec<Vec<Value>> = words(&answer.reasoning)
        .into_iter()
        .map(|w| vec![json!({"text": w, "thought": true})])
        .collect();
    pieces.extend(
        words(&answer.text)
            .into_iter()
            .map(|w| vec![json!({"text": w})]),
    );
    let mut last = if answer.tool_calls.is_empty() {
        pieces.pop().unwrap_or_default()
    } else {
        Vec::new()
    };
    last.extend(answer.tool_calls.iter().map(call_part));
    let mut chunks: Vec<Bytes> = pieces
        .into_iter()
        .map(|parts| chunk(&envelope(answer, model, parts, None)))
        .collect();
    chunks.push(chunk(&envelope(answer, model, last, Some(answer.finish))));
    chunks
}
