//! What the mock answers: scripted replies, the default echo bodies and step-mode streams.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use super::script::Script;

/// How the mock answers one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// The default: an OpenAI success body (or SSE stream) echoing the requested model.
    Echo,
    /// Any status, headers and body, for error bodies, non-JSON bodies and `Retry-After`.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        body: Bytes,
    },
    /// An SSE stream whose chunks the test releases through a [`StepStream`].
    Step(Arc<Mutex<Option<StepParts>>>),
    /// Another reply after a pause before the response headers (a slow first byte).
    Delayed { delay: Duration, reply: Box<Reply> },
    /// A response played out step by step: stalls, disconnects, streams cut short.
    Script(Script),
    /// An echo answer paced like a model: a stream's first event after `ttft`, then `tokens`
    /// content chunks one every `per_token`; a plain answer arrives whole after
    /// `ttft + tokens × per_token`. Honours the request's `stream` and
    /// `stream_options.include_usage` (usage: prompt 10, completion `tokens`), so the gateway can
    /// measure time to first token and decode speed from it.
    Paced {
        ttft: Duration,
        per_token: Duration,
        tokens: u32,
    },
}

impl From<Script> for Reply {
    fn from(script: Script) -> Reply {
        Reply::Script(script)
    }
}

impl Reply {
    /// An OpenAI-shaped error body with `status`.
    pub fn error(status: u16, message: &str) -> Reply {
        let body = json!({"error": {
            "message": message,
            "type": "upstream_test_error",
            "param": null,
            "code": "upstream_code",
        }});
        Reply::Raw {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::from(body.to_string()),
        }
    }

    /// A plain-text (non-JSON) body with `status`.
    pub fn text(status: u16, text: &str) -> Reply {
        Reply::Raw {
            status,
            headers: vec![("content-type".into(), "text/html".into())],
            body: Bytes::from(text.to_owned()),
        }
    }

    /// This reply, sent only after `delay` has passed without any response headers.
    pub fn delayed(self, delay: Duration) -> Reply {
        Reply::Delayed {
            delay,
            reply: Box::new(self),
        }
    }

    /// Adds a header to a [`Reply::Raw`], for example `Retry-After`.
    pub fn with_header(mut self, name: &str, value: &str) -> Reply {
        match &mut self {
            Reply::Raw { headers, .. } => headers.push((name.to_owned(), value.to_owned())),
            Reply::Delayed { reply, .. } => {
                let inner = std::mem::replace(&mut **reply, Reply::Echo);
                **reply = inner.with_header(name, value);
            }
            _ => {}
        }
        self
    }
}

/// The mock's half of a step-mode stream: the chunks to send and the start notification.
#[derive(Debug)]
pub struct StepParts {
    chunks: mpsc::UnboundedReceiver<Bytes>,
    started: oneshot::Sender<()>,
}

/// The test's half of a step-mode stream: each call releases exactly one SSE event.
pub struct StepStream {
    chunks: Option<mpsc::UnboundedSender<Bytes>>,
    started: Option<oneshot::Receiver<()>>,
    model: String,
}

impl StepStream {
    /// A step-mode reply to queue on the mock and the stream controls that drive it.
    pub(super) fn new(model: &str) -> (Reply, StepStream) {
        let (chunk_tx, chunk_rx) = mpsc::unbounded_channel();
        let (started_tx, started_rx) = oneshot::channel();
        let parts = StepParts {
            chunks: chunk_rx,
            started: started_tx,
        };
        let stream = StepStream {
            chunks: Some(chunk_tx),
            started: Some(started_rx),
            model: model.to_owned(),
        };
        (Reply::Step(Arc::new(Mutex::new(Some(parts)))), stream)
    }

    /// Waits until the mock has received the request and is answering with the stream's headers.
    pub async fn wait_started(&mut self) {
        let started = self.started.take().expect("wait_started is called once");
        tokio::time::timeout(Duration::from_secs(10), started)
            .await
            .expect("the gateway forwarded the streaming request within 10 s")
            .expect("the mock reports the start of the stream");
    }

    /// Sends one `chat.completion.chunk` event whose delta holds `content`.
    pub fn send_content(&self, content: &str) {
        let chunk = chunk_json(&self.model, json!({"content": content}), Value::Null);
        self.send_raw(format!("data: {chunk}\n\n"));
    }

    /// Sends the final `data: [DONE]` event.
    pub fn send_done(&self) {
        self.send_raw("data: [DONE]\n\n".to_owned());
    }

    /// Sends raw bytes as the next piece of the body.
    pub fn send_raw(&self, bytes: String) {
        self.chunks
            .as_ref()
            .expect("the stream is not finished")
            .send(Bytes::from(bytes))
            .expect("the mock's response body is still being read");
    }

    /// Ends the response body.
    pub fn finish(&mut self) {
        self.chunks = None;
    }
}

pub(super) fn raw(status: u16, headers: &[(String, String)], body: Bytes) -> Response {
    let mut builder = Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Body::from(body))
        .expect("scripted replies have valid statuses and headers")
}

fn json_response(body: &Value) -> Response {
    raw(
        200,
        &[("content-type".into(), "application/json".into())],
        Bytes::from(body.to_string()),
    )
}

pub(super) fn echo(name: &str, method: &Method, path: &str, body: &Bytes) -> Response {
    if method != Method::POST {
        return raw(405, &[], Bytes::from_static(b"mock: method not allowed"));
    }
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or("unknown").to_owned();
    match path {
        "/v1/chat/completions" if request["stream"] == Value::Bool(true) => {
            let content = format!("hello from {name}");
            sse_response(echo_events(&model, &content))
        }
        "/v1/chat/completions" => json_response(&json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": format!("hello from {name}")},
                "finish_reason": "stop",
            }],
            "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
        })),
        "/v1/embeddings" => json_response(&json!({
            "object": "list",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.25, -0.5, 1.0]}],
            "model": model,
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        })),
        _ => raw(
            404,
            &[("content-type".into(), "application/json".into())],
            Bytes::from(
                json!({"error": {"message": format!("mock: no route for {path}")}}).to_string(),
            ),
        ),
    }
}

/// One `chat.completion.chunk` JSON object.
fn chunk_json(model: &str, delta: Value, finish_reason: Value) -> Value {
    json!({
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    })
}

/// The events of the default stream: a role chunk, one chunk per word, a finish chunk, `[DONE]`.
fn echo_events(model: &str, content: &str) -> Vec<Bytes> {
    let mut events = vec![chunk_json(
        model,
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    let words: Vec<&str> = content.split(' ').collect();
    for (i, word) in words.iter().enumerate() {
        let piece = if i == 0 {
            (*word).to_owned()
        } else {
            format!(" {word}")
        };
        events.push(chunk_json(model, json!({"content": piece}), Value::Null));
    }
    events.push(chunk_json(model, json!({}), json!("stop")));
    let mut out: Vec<Bytes> = events
        .into_iter()
        .map(|e| Bytes::from(format!("data: {e}\n\n")))
        .collect();
    out.push(Bytes::from_static(b"data: [DONE]\n\n"));
    out
}

fn sse_response(events: Vec<Bytes>) -> Response {
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    sse_body(Body::from_stream(stream))
}

fn sse_body(body: Body) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(body)
        .expect("static SSE headers are valid")
}

pub(super) fn step(parts: StepParts) -> Response {
    let StepParts { chunks, started } = parts;
    // The receiver may be gone if the test stopped caring; that is not the mock's problem.
    let _ = started.send(());
    let stream = futures_util::stream::unfold(chunks, |mut chunks| async move {
        chunks
            .recv()
            .await
            .map(|bytes| (Ok::<_, Infallible>(bytes), chunks))
    });
    sse_body(Body::from_stream(stream))
}

/// The prompt tokens a [`Reply::Paced`] answer reports.
pub(super) const PACED_PROMPT_TOKENS: u32 = 10;

/// The usage object of a paced answer of `tokens` output tokens.
fn paced_usage(tokens: u32) -> Value {
    json!({
        "prompt_tokens": PACED_PROMPT_TOKENS,
        "completion_tokens": tokens,
        "total_tokens": PACED_PROMPT_TOKENS + tokens,
    })
}

/// What a [`Reply::Paced`] answers: a script of paced events for a streamed chat, or the time to
/// wait and the response for anything else.
pub(super) enum PacedAnswer {
    Stream(Script),
    Whole(Duration, Response),
}

/// Builds a paced answer for the request at `path` with `body`. The stream's events follow the
/// default echo's shape (a role chunk first, then one content chunk per token, a finish chunk,
/// the usage chunk when asked for, `[DONE]`).
pub(super) fn paced(
    name: &str,
    method: &Method,
    path: &str,
    body: &Bytes,
    (ttft, per_token, tokens): (Duration, Duration, u32),
) -> PacedAnswer {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let model = request["model"].as_str().unwrap_or("unknown").to_owned();
    let chat = method == Method::POST && path == "/v1/chat/completions";
    if chat && request["stream"] == Value::Bool(true) {
        let mut script = Script::sse().pause(ttft).event(&chunk_json(
            &model,
            json!({"role": "assistant", "content": ""}),
            Value::Null,
        ));
        for i in 0..tokens {
            let piece = if i == 0 {
                name.to_owned()
            } else {
                format!(" {i}")
            };
            script = script.pause(per_token).chunk(&model, &piece);
        }
        script = script.event(&chunk_json(&model, json!({}), json!("stop")));
        if request["stream_options"]["include_usage"] == Value::Bool(true) {
            script = script.event(&json!({
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [],
                "usage": paced_usage(tokens),
            }));
        }
        return PacedAnswer::Stream(script.done());
    }
    let wait = ttft + per_token * tokens;
    if !chat {
        return PacedAnswer::Whole(wait, echo(name, method, path, body));
    }
    let content: Vec<String> = (0..tokens)
        .map(|i| {
            if i == 0 {
                name.to_owned()
            } else {
                i.to_string()
            }
        })
        .collect();
    let response = json_response(&json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content.join(" ")},
            "finish_reason": "stop",
        }],
        "usage": paced_usage(tokens),
    }));
    PacedAnswer::Whole(wait, response)
}
