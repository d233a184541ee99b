//! A scriptable OpenAI-compatible upstream that records every request it receives.
//!
//! Each [`MockUpstream`] listens on its own loopback port. By default it answers chat completions
//! with a `chat.completion` echoing the requested model (or an SSE stream when `"stream": true`)
//! and embeddings with a small embedding list. Tests queue other [`Reply`]s to script failures,
//! or a [`StepStream`] to release stream chunks one at a time. Rules ([`When`]) answer requests
//! by their key, path or model, and a [`Script`] plays out stalls, disconnects and broken streams;
//! each request's [`Fate`] tells whether the gateway stayed for the whole answer.

mod date;
mod reply;
mod rules;
mod script;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::serve::ListenerExt;
use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use date::{http_date, whole_second};
use reply::{PacedAnswer, echo, paced, raw, step};
pub use reply::{Reply, StepParts, StepStream};
use rules::Rule;
pub use rules::When;
use script::FateGuard;
pub use script::{Fate, Script};

#[cfg(test)]
mod tests;

/// One request as the mock received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    pub method: Method,
    /// The path and query, such as `/v1/chat/completions`.
    pub path: String,
    pub headers: HeaderMap,
    /// The body exactly as received.
    pub body: Bytes,
    /// When the mock received the request (after its body was read).
    pub received_at: Instant,
}

impl RecordedRequest {
    /// The body parsed as JSON; panics if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "upstream received a non-JSON body ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The API key of an `Authorization: Bearer <key>` header.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")?.strip_prefix("Bearer ")
    }

    /// The `model` field of the JSON body.
    pub fn model(&self) -> String {
        self.json()["model"]
            .as_str()
            .expect("the forwarded body has a string model")
            .to_owned()
    }
}

#[derive(Default)]
struct MockState {
    name: String,
    requests: Mutex<Vec<RecordedRequest>>,
    /// The fate of each request's answer, by the request's index in `requests`.
    fates: Mutex<Vec<watch::Receiver<Fate>>>,
    rules: Mutex<Vec<Rule>>,
    queue: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
}

/// A mock OpenAI-compatible server on `127.0.0.1:<random port>`.
pub struct MockUpstream {
    state: Arc<MockState>,
    port: u16,
    server: JoinHandle<()>,
}

impl MockUpstream {
    /// Starts a mock; `name` appears in its default replies (`hello from <name>`).
    pub async fn start(name: &str) -> MockUpstream {
        let state = Arc::new(MockState {
            name: name.to_owned(),
            ..MockState::default()
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port can be bound for the mock");
        let port = listener
            .local_addr()
            .expect("a bound listener has an address")
            .port();
        let app = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::clone(&state));
        // Each write leaves at once, as a streaming provider's would: with Nagle's algorithm an
        // event sent while the headers await their (delayed) acknowledgement waits up to 40 ms
        // and then leaves with every event after it, which hides a stream's pacing.
        let listener = listener.tap_io(|tcp| {
            // Nothing to do if the option cannot be set: only the pacing would suffer.
            let _ = tcp.set_nodelay(true);
        });
        let server = tokio::spawn(async move {
            axum::serve(listener, app)
                .await
                .expect("the mock upstream serves until dropped");
        });
        MockUpstream {
            state,
            port,
            server,
        }
    }

    pub fn name(&self) -> &str {
        &self.state.name
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL to configure on a provider: `http://127.0.0.1:<port>/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port)
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state
            .requests
            .lock()
            .expect("mock lock is not poisoned")
            .clone()
    }

    pub fn request_count(&self) -> usize {
        self.state
            .requests
            .lock()
            .expect("mock lock is not poisoned")
            .len()
    }

    /// The most recent request; panics if there was none.
    pub fn last_request(&self) -> RecordedRequest {
        self.requests()
            .pop()
            .unwrap_or_else(|| panic!("mock {} received no request", self.name()))
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.state
            .requests
            .lock()
            .expect("mock lock is not poisoned")
            .clear();
    }

    /// Queues a reply for the next request that finds the queue non-empty.
    pub fn enqueue(&self, reply: Reply) {
        self.state
            .queue
            .lock()
            .expect("mock lock is not poisoned")
            .push_back(reply);
    }

    /// Sets the reply used when the queue is empty (initially [`Reply::Echo`]).
    pub fn set_default(&self, reply: Reply) {
        *self
            .state
            .default
            .lock()
            .expect("mock lock is not poisoned") = Some(reply);
    }

    /// Makes every request (when the queue is empty) a [`Reply::Paced`] answer: the first
    /// token after `ttft`, then `tokens` tokens one every `per_token`.
    pub fn set_speed(&self, ttft: Duration, per_token: Duration, tokens: u32) {
        self.set_default(Reply::Paced {
            ttft,
            per_token,
            tokens,
        });
    }

    /// Answers every request that `when` matches with `reply` (before the queue and the
    /// default), replacing an earlier standing rule for the same `when`.
    pub fn reply_when(&self, when: When, reply: Reply) {
        let mut rules = self.state.rules.lock().expect("mock lock is not poisoned");
        rules.retain(|r| r.once || r.when != when);
        rules.push(Rule {
            when,
            reply,
            once: false,
        });
    }

    /// Answers the next request that `when` matches with `reply`, once; several one-off rules
    /// for the same `when` are used in the order they were added.
    pub fn enqueue_when(&self, when: When, reply: Reply) {
        self.state
            .rules
            .lock()
            .expect("mock lock is not poisoned")
            .push(Rule {
                when,
                reply,
                once: true,
            });
    }

    /// Removes every rule, standing or one-off, for `when`.
    pub fn forget(&self, when: &When) {
        self.state
            .rules
            .lock()
            .expect("mock lock is not poisoned")
            .retain(|r| r.when != *when);
    }

    /// The requests that carried `Authorization: Bearer <key>`, oldest first.
    pub fn requests_with_key(&self, key: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.bearer() == Some(key))
            .collect()
    }

    /// How the answer to the request at `index` (in [`MockUpstream::requests`]) ended so far.
    /// Plain replies count as completed once handed over; delayed and scripted ones are
    /// [`Fate::Pending`] until they finish or the gateway goes away.
    pub fn fate(&self, index: usize) -> Fate {
        *self.fate_receiver(index).borrow()
    }

    /// Waits until the answer to the request at `index` has ended, and says how; panics after
    /// `timeout`.
    pub async fn wait_fate(&self, index: usize, timeout: Duration) -> Fate {
        let mut receiver = self.fate_receiver(index);
        let waiting = receiver.wait_for(|fate| *fate != Fate::Pending);
        match tokio::time::timeout(timeout, waiting).await {
            Ok(Ok(fate)) => *fate,
            Ok(Err(_)) => panic!("the fate of request {index} was lost"),
            Err(_) => panic!(
                "the answer to request {index} on mock {} was still running after {timeout:?}",
                self.name()
            ),
        }
    }

    fn fate_receiver(&self, index: usize) -> watch::Receiver<Fate> {
        self.state
            .fates
            .lock()
            .expect("mock lock is not poisoned")
            .get(index)
            .unwrap_or_else(|| panic!("mock {} has no request {index}", self.name()))
            .clone()
    }

    /// Queues a step-mode stream for the next request and returns its controls; the chunks'
    /// `model` field is `model`.
    pub fn step_stream(&self, model: &str) -> StepStream {
        let (reply, stream) = StepStream::new(model);
        self.enqueue(reply);
        stream
    }
}

impl Drop for MockUpstream {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A base URL on which connections are refused: a port that was bound and then released.
pub fn refused_base_url() -> String {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port can be bound");
    let port = listener
        .local_addr()
        .expect("a bound listener has an address")
        .port();
    drop(listener);
    format!("http://127.0.0.1:{port}/v1")
}

async fn handle(
    State(state): State<Arc<MockState>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map_or_else(|| uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let reply = state.reply_for(&path, &headers, &body);
    let (guard, fate) = FateGuard::new();
    {
        // Both lists grow under the requests lock, so a request's index is its fate's index.
        let mut requests = state.requests.lock().expect("mock lock is not poisoned");
        requests.push(RecordedRequest {
            method: method.clone(),
            path,
            headers,
            body: body.clone(),
            received_at: Instant::now(),
        });
        state
            .fates
            .lock()
            .expect("mock lock is not poisoned")
            .push(fate);
    }
    answer(&state, reply, guard, &method, uri.path(), &body).await
}

/// Produces the response for `reply`; `guard` reports how it ended.
async fn answer(
    state: &MockState,
    reply: Reply,
    mut guard: FateGuard,
    method: &Method,
    path: &str,
    body: &Bytes,
) -> Response {
    let mut reply = reply;
    // A delay holds the guard, so a gateway that gives up during it marks the answer abandoned.
    while let Reply::Delayed {
        delay,
        reply: inner,
    } = reply
    {
        tokio::time::sleep(delay).await;
        reply = *inner;
    }
    let response = match reply {
        Reply::Script(script) => return script.respond(guard),
        Reply::Paced {
            ttft,
            per_token,
            tokens,
        } => match paced(&state.name, method, path, body, (ttft, per_token, tokens)) {
            PacedAnswer::Stream(script) => return script.respond(guard),
            // The wait holds the guard, like a delay: a gateway that leaves marks it abandoned.
            PacedAnswer::Whole(wait, response) => {
                tokio::time::sleep(wait).await;
                response
            }
        },
        Reply::Echo => echo(&state.name, method, path, body),
        Reply::Raw {
            status,
            headers,
            body,
        } => raw(status, &headers, body),
        Reply::Step(parts) => {
            let parts = parts.lock().expect("mock lock is not poisoned").take();
            match parts {
                Some(parts) => step(parts),
                None => raw(500, &[], Bytes::from_static(b"step stream already used")),
            }
        }
        Reply::Delayed { .. } => unreachable!("delays were unwrapped above"),
    };
    guard.complete();
    response
}
