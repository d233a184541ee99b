//! The recording HTTP server under every protocol mock: it keeps each request and hands it, with
//! the next scripted reply, to the protocol's responder.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;
use tokio::task::JoinHandle;

use super::Script;
use crate::fixtures::test_key;
use crate::mock::RecordedRequest;

/// Answers one recorded request, given the scripted reply for it (`None`: the default answer).
pub type Responder = Arc<dyn Fn(&RecordedRequest, Option<Script>) -> Response + Send + Sync>;

struct ServerState {
    requests: Mutex<Vec<RecordedRequest>>,
    queue: Mutex<VecDeque<Script>>,
    default: Mutex<Option<Script>>,
    responder: Responder,
}

/// A protocol's responder, given the mock's name and expected key, a request and its script.
pub type ProtocolResponder = fn(&str, &str, &RecordedRequest, Option<Script>) -> Response;

/// A mock provider of one protocol: a recording server, its name and key (the [`test_key`] of
/// its name), and the provider spec that registers it with the gateway.
pub struct ProviderMock {
    server: MockServer,
    name: String,
    key: String,
    kind: &'static str,
    base_path: &'static str,
}

impl ProviderMock {
    /// Starts a mock whose provider type is `kind`, served under `base_path` (e.g. `/v1`).
    pub async fn start(
        name: &str,
        kind: &'static str,
        base_path: &'static str,
        respond: ProtocolResponder,
    ) -> ProviderMock {
        let key = test_key(name);
        let (expected, owner) = (key.clone(), name.to_owned());
        let server = MockServer::start(Arc::new(move |request, script| {
            respond(&owner, &expected, request, script)
        }))
        .await;
        ProviderMock {
            server,
            name: name.to_owned(),
            key,
            kind,
            base_path,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// `http://127.0.0.1:<port><base_path>`, as the provider's `base_url`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}{}", self.server.port(), self.base_path)
    }

    /// The provider to register for this mock.
    pub fn spec(&self) -> Value {
        serde_json::json!({"name": self.name, "type": self.kind, "base_url": self.base_url(), "api_keys": [self.key]})
    }
}

impl std::ops::Deref for ProviderMock {
    type Target = MockServer;

    fn deref(&self) -> &MockServer {
        &self.server
    }
}

/// A loopback HTTP server that records requests and answers through a protocol's responder.
pub struct MockServer {
    state: Arc<ServerState>,
    port: u16,
    server: JoinHandle<()>,
}

impl MockServer {
    pub async fn start(responder: Responder) -> MockServer {
        let state = Arc::new(ServerState {
            requests: Mutex::new(Vec::new()),
            queue: Mutex::new(VecDeque::new()),
            default: Mutex::new(None),
            responder,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port can be bound for the mock provider");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&state));
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the mock provider serves until dropped");
        });
        MockServer {
            state,
            port,
            server,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.state.requests).clone()
    }

    pub fn request_count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// The most recent request; panics if there was none.
    pub fn last_request(&self) -> RecordedRequest {
        self.requests()
            .pop()
            .expect("the mock provider received no request")
    }

    /// Queues a scripted reply for the next request.
    pub fn enqueue(&self, script: Script) {
        lock(&self.state.queue).push_back(script);
    }

    /// Sets the reply used whenever the queue is empty, for failures that must repeat on retries.
    pub fn set_default(&self, script: Script) {
        *lock(&self.state.default) = Some(script);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().expect("mock provider lock is not poisoned")
}

async fn handle(
    State(state): State<Arc<ServerState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let request = RecordedRequest {
        method,
        path,
        headers,
        body,
        received_at: Instant::now(),
    };
    lock(&state.requests).push(request.clone());
    let script = lock(&state.queue)
        .pop_front()
        .or_else(|| lock(&state.default).clone());
    (state.responder)(&request, script)
}

/// A JSON answer with `status`.
pub fn json_reply(status: u16, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("static JSON headers are valid")
}

/// A `200` event stream whose body is `events`, each written separately and in order.
pub fn sse_reply(events: Vec<Bytes>) -> Response {
    let stream = futures_util::stream::iter(events.into_iter().map(Ok::<_, Infallible>));
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .expect("static SSE headers are valid")
}

/// The request body as JSON, or `None` when it is not JSON.
pub fn json_body(request: &RecordedRequest) -> Option<Value> {
    serde_json::from_slice(&request.body).ok()
}

/// The path of a recorded request and its query (empty when there is none).
pub fn split_query(path: &str) -> (&str, &str) {
    path.split_once('?').unwrap_or((path, ""))
}
