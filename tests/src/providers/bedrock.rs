//! A mock of Amazon Bedrock's runtime: Converse (`POST /model/{modelId}/converse`) and
//! ConverseStream (`/converse-stream`, answered in AWS's binary event stream). Every request's
//! SigV4 signature is recomputed and checked as AWS checks it (`super::sigv4`), and the session
//! token of temporary credentials is required; errors come as Bedrock sends them: a status, the
//! class in `x-amzn-ErrorType`, and `{"message"}`.

mod converse;

use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use axum::body::Body;
use axum::response::Response;
use serde_json::{Value, json};

use super::eventstream::{self, event, exception};
use super::fake::{MockServer, json_body};
use super::sigv4::{self, AwsKey};
use super::{Answer, Finish, Script, fragments, words};
use crate::mock::RecordedRequest;

/// The name Bedrock's runtime is signed under.
pub const SIGNING_SERVICE: &str = "bedrock";

/// What a ConverseStream request is answered with instead of its scripted stream's end: the
/// first `frames` frames, then an exception.
#[derive(Clone, Debug)]
struct MidStreamFailure {
    frames: usize,
    exception_type: String,
    message: String,
}

/// A mock Bedrock runtime for one AWS key and region.
pub struct BedrockMock {
    server: MockServer,
    name: String,
    key: AwsKey,
    mid_stream: Arc<Mutex<Option<MidStreamFailure>>>,
}

/// A test AWS key for a provider named `name`: an access key id of letters and digits, and a
/// secret with the `/` and `+` real secrets have.
pub fn test_key(name: &str, session_token: Option<&str>) -> AwsKey {
    let id: String = name
        .bytes()
        .filter(u8::is_ascii_alphanumeric)
        .map(|b| b.to_ascii_uppercase() as char)
        .collect();
    AwsKey {
        access_key_id: format!("AKIA{id}0000"),
        secret_access_key: format!("wJalr/{name}+K7MDENG/bPxRfiCYEXAMPLEKEY"),
        session_token: session_token.map(str::to_owned),
    }
}

impl BedrockMock {
    /// Starts a mock that accepts requests signed with `key` for `region`.
    pub async fn start(name: &str, key: AwsKey, region: &str) -> BedrockMock {
        let mid_stream = Arc::new(Mutex::new(None));
        let shared = Arc::clone(&mid_stream);
        let (owner, expected, region) = (name.to_owned(), key.clone(), region.to_owned());
        let server = MockServer::start(Arc::new(move |request, script| {
            let failure = lock(&shared).take();
            respond(&owner, &expected, &region, request, script, failure)
        }))
        .await;
        BedrockMock {
            server,
            name: name.to_owned(),
            key,
            mid_stream,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key(&self) -> &AwsKey {
        &self.key
    }

    /// `http://127.0.0.1:<port>`, the runtime endpoint, as the provider's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port())
    }

    /// The provider to register for this mock; `aws_region` is left out when `None`.
    pub fn spec(&self, aws_region: Option<&str>) -> Value {
        let mut spec = json!({
            "name": self.name, "type": "bedrock", "base_url": self.base_url(),
            "api_keys": [self.key.provider_key()],
        });
        if let Some(region) = aws_region {
            spec["aws_region"] = json!(region);
        }
        spec
    }

    /// Makes the next request's stream end after `frames` frames with an exception frame of
    /// `exception_type` (lower camel case, as streams name them).
    pub fn fail_stream_after(&self, frames: usize, exception_type: &str, message: &str) {
        *lock(&self.mid_stream) = Some(MidStreamFailure {
            frames,
            exception_type: exception_type.to_owned(),
            message: message.to_owned(),
        });
    }
}

impl Deref for BedrockMock {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.server
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("mock lock is not poisoned")
}

const REQUEST_ID: &str = "7f2b4c1e-3a5d-4e8f-9b0c-1d2e3f4a5b6c";

/// Bedrock's error: the status, the class in `x-amzn-ErrorType` (with the service's namespace
/// after a colon, as Bedrock writes it), and the message as the body.
pub fn error(status: u16, class: &str, message: &str) -> Response {
    let error_type = format!("{class}:http://internal.amazon.com/coral/com.amazon.bedrock/");
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("x-amzn-errortype", error_type)
        .header("x-amzn-requestid", REQUEST_ID)
        .body(Body::from(json!({ "message": message }).to_string()))
        .expect("static error headers are valid")
}

/// A stream's name for an error class: `ThrottlingException` is `throttlingException`.
pub fn stream_exception_type(class: &str) -> String {
    let mut chars = class.chars();
    chars
        .next()
        .map(|first| first.to_ascii_lowercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The model id (percent-decoded) and operation of a `/model/{modelId}/{operation}` path.
pub fn model_and_operation(path: &str) -> Option<(String, String)> {
    let (model, operation) = path.strip_prefix("/model/")?.split_once('/')?;
    Some((percent_decode(model)?, operation.to_owned()))
}

/// Decodes a path segment's `%XX` escapes; `None` for a broken escape or bytes that are not UTF-8.
pub fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::new();
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        if byte == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            out.push(u8::from_str_radix(std::str::from_utf8(&hex).ok()?, 16).ok()?);
        } else {
            out.push(byte);
        }
    }
    String::from_utf8(out).ok()
}

fn respond(
    name: &str,
    key: &AwsKey,
    region: &str,
    request: &RecordedRequest,
    script: Option<Script>,
    failure: Option<MidStreamFailure>,
) -> Response {
    if let Err(refusal) = sigv4::verify(request, key, region, SIGNING_SERVICE, SystemTime::now()) {
        return error(refusal.status, refusal.class, &refusal.message);
    }
    let operation = model_and_operation(&request.path);
    let stream = match operation.as_ref().map(|(_, op)| op.as_str()) {
        Some("converse") if request.method == http::Method::POST => false,
        Some("converse-stream") if request.method == http::Method::POST => true,
        _ => return error(404, "UnknownOperationException", "Unknown operation"),
    };
    if request.header("content-type") != Some("application/json") {
        return error(
            400,
            "SerializationException",
            "Expected content-type application/json",
        );
    }
    let Some(body) = json_body(request).filter(Value::is_object) else {
        return error(
            400,
            "SerializationException",
            "Could not parse the request body as JSON",
        );
    };
    if let Err(problem) = converse::check(&body) {
        return error(400, "ValidationException", &problem);
    }
    let script =
        script.unwrap_or_else(|| Script::Answer(Answer::text(&format!("hello from {name}"))));
    match script {
        Script::Answer(answer) if stream => {
            let mut frames = stream_frames(&answer);
            if let Some(failure) = failure {
                frames.truncate(failure.frames);
                frames.push(exception(&failure.exception_type, &failure.message));
            }
            eventstream::reply(frames, REQUEST_ID)
        }
        Script::Answer(answer) => {
            let body = converse_response(&answer).to_string();
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .header("x-amzn-requestid", REQUEST_ID)
                .body(Body::from(body))
                .expect("static headers are valid")
        }
        Script::Truncated(answer) => {
            let mut frames = stream_frames(&answer);
            // Cut after the last delta: no contentBlockStop, messageStop or metadata.
            frames.truncate(frames.len() - 3);
            eventstream::reply(frames, REQUEST_ID)
        }
        Script::Error {
            status,
            kind,
            message,
        } => error(status, &kind, &message),
        Script::StreamError { kind, message, .. } => eventstream::reply(
            vec![exception(&stream_exception_type(&kind), &message)],
            REQUEST_ID,
        ),
    }
}

fn stop_reason(finish: Finish) -> &'static str {
    match finish {
        Finish::Stop => "end_turn",
        Finish::Length => "max_tokens",
        Finish::ToolCalls => "tool_use",
    }
}

/// Converse's `usage`: like Anthropic's, `inputTokens` leaves out the tokens read from and
/// written to the prompt cache, which have their own counts.
fn usage(answer: &Answer) -> Value {
    let t = answer.tokens;
    let mut usage = json!({
        "inputTokens": t.prompt - t.cached - t.cache_write,
        "outputTokens": t.completion,
        "totalTokens": t.prompt + t.completion,
    });
    if t.cached > 0 {
        usage["cacheReadInputTokens"] = json!(t.cached);
    }
    if t.cache_write > 0 {
        usage["cacheWriteInputTokens"] = json!(t.cache_write);
    }
    usage
}

const SIGNATURE: &str = "ErcBCkgIAhABGAIiQPm3";

/// A complete Converse response.
pub fn converse_response(answer: &Answer) -> Value {
    let mut content = Vec::new();
    if !answer.reasoning.is_empty() {
        content.push(json!({"reasoningContent": {"reasoningText":
            {"text": answer.reasoning, "signature": SIGNATURE}}}));
    }
    if !answer.text.is_empty() {
        content.push(json!({"text": answer.text}));
    }
    for call in &answer.tool_calls {
        content.push(json!({"toolUse":
            {"toolUseId": call.id, "name": call.name, "input": call.arguments}}));
    }
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(answer.finish),
        "usage": usage(answer),
        "metrics": {"latencyMs": 412},
    })
}

/// Padding like the `p` field Bedrock adds to stream events (so their sizes give nothing away).
fn padded(mut payload: Value, length: usize) -> Value {
    let alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    payload["p"] = json!(&alphabet[..length % alphabet.len()]);
    payload
}

/// The frames of a streamed answer: `messageStart`, per content block (reasoning, text, each
/// tool call) an optional `contentBlockStart`, its deltas and `contentBlockStop`, then
/// `messageStop` with the stop reason and `metadata` with the usage.
pub fn stream_frames(answer: &Answer) -> Vec<Vec<u8>> {
    let mut frames = vec![event(
        "messageStart",
        &padded(json!({"role": "assistant"}), 7),
    )];
    let mut index = 0;
    let mut block = |frames: &mut Vec<Vec<u8>>, start: Option<Value>, deltas: Vec<Value>| {
        if let Some(start) = start {
            let payload = json!({"contentBlockIndex": index, "start": start});
            frames.push(event("contentBlockStart", &padded(payload, 11)));
        }
        for (n, delta) in deltas.into_iter().enumerate() {
            let payload = json!({"contentBlockIndex": index, "delta": delta});
            frames.push(event("contentBlockDelta", &padded(payload, n * 5 + 3)));
        }
        let payload = json!({"contentBlockIndex": index});
        frames.push(event("contentBlockStop", &padded(payload, 2)));
        index += 1;
    };
    if !answer.reasoning.is_empty() {
        let mut deltas: Vec<Value> = words(&answer.reasoning)
            .iter()
            .map(|w| json!({"reasoningContent": {"text": w}}))
            .collect();
        deltas.push(json!({"reasoningContent": {"signature": SIGNATURE}}));
        block(&mut frames, None, deltas);
    }
    if !answer.text.is_empty() {
        let deltas = words(&answer.text)
            .iter()
            .map(|w| json!({"text": w}))
            .collect();
        block(&mut frames, None, deltas);
    }
    for call in &answer.tool_calls {
        let start = json!({"toolUse": {"toolUseId": call.id, "name": call.name}});
        let deltas = fragments(&call.arguments.to_string(), 3)
            .iter()
            .map(|f| json!({"toolUse": {"input": f}}))
            .collect();
        block(&mut frames, Some(start), deltas);
    }
    let stop = json!({"stopReason": stop_reason(answer.finish)});
    frames.push(event("messageStop", &padded(stop, 5)));
    let metadata = json!({"usage": usage(answer), "metrics": {"latencyMs": 388}});
    frames.push(event("metadata", &metadata));
    frames
}
