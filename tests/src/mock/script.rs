//! Scripted answers that misbehave on purpose, and the record of how each answer ended.
//!
//! A [`Script`] is a status, headers and a list of steps (send bytes, pause, cut the connection)
//! played out over time, so a test can stall a stream, drop it half way or end it early. A
//! [`Fate`] tells whether the gateway stayed for the whole answer or went away before its end,
//! which is how the tests observe that a cancelled request closed its upstream connection.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::watch;

/// How the mock's answer to one request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The answer is still being produced (a delay or a script is running).
    Pending,
    /// The mock produced the whole answer, including a scripted disconnect.
    Completed,
    /// The peer went away first: the mock's handler or response body was dropped before the end.
    Abandoned,
}

/// Marks a request [`Fate::Abandoned`] when dropped before [`FateGuard::complete`] was called.
pub(super) struct FateGuard {
    fate: watch::Sender<Fate>,
    done: bool,
}

impl FateGuard {
    /// A guard and the receiver the mock keeps to report the fate.
    pub(super) fn new() -> (FateGuard, watch::Receiver<Fate>) {
        let (fate, receiver) = watch::channel(Fate::Pending);
        (FateGuard { fate, done: false }, receiver)
    }

    pub(super) fn complete(&mut self) {
        self.done = true;
        self.fate.send_replace(Fate::Completed);
    }
}

impl Drop for FateGuard {
    fn drop(&mut self) {
        if !self.done {
            self.fate.send_replace(Fate::Abandoned);
        }
    }
}

#[derive(Clone, Debug)]
enum Step {
    Send(Bytes),
    Pause(Duration),
    Disconnect,
}

/// A response played out step by step; build it with the chained methods, then turn it into a
/// [`super::Reply`] with `.into()`.
#[derive(Clone, Debug)]
pub struct Script {
    status: u16,
    headers: Vec<(String, String)>,
    steps: Vec<Step>,
}

impl Script {
    /// A `200 text/event-stream` response with no events yet; the headers go out at once.
    pub fn sse() -> Script {
        Script {
            status: 200,
            headers: vec![
                ("content-type".into(), "text/event-stream".into()),
                ("cache-control".into(), "no-cache".into()),
            ],
            steps: Vec::new(),
        }
    }

    /// A `chat.completion.chunk` event whose delta holds `content`.
    pub fn chunk(self, model: &str, content: &str) -> Script {
        self.event(&json!({
            "id": "chatcmpl-script",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": null}],
        }))
    }

    /// A `data:` event holding `value` as JSON.
    pub fn event(self, value: &Value) -> Script {
        self.raw(&format!("data: {value}\n\n"))
    }

    /// An OpenAI-style error object as an event, as some providers send when a stream fails.
    pub fn error_event(self, message: &str) -> Script {
        self.event(&json!({"error": {"message": message, "type": "server_error", "code": null}}))
    }

    /// The `data: [DONE]` terminator.
    pub fn done(self) -> Script {
        self.raw("data: [DONE]\n\n")
    }

    /// Any bytes, sent as one piece of the body (a comment, a malformed event, half an event).
    pub fn raw(mut self, text: &str) -> Script {
        self.steps.push(Step::Send(Bytes::from(text.to_owned())));
        self
    }

    /// Waits before the next step; the connection stays open and silent.
    pub fn pause(mut self, duration: Duration) -> Script {
        self.steps.push(Step::Pause(duration));
        self
    }

    /// Cuts the connection without finishing the body; later steps are never played. Put a short
    /// pause before it so that what was sent just before has left the mock's buffers.
    pub fn disconnect(mut self) -> Script {
        self.steps.push(Step::Disconnect);
        self
    }

    /// Plays the script as a response; `guard` records whether it ran to its end.
    pub(super) fn respond(self, guard: FateGuard) -> Response {
        let mut builder = Response::builder().status(self.status);
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let state = (self.steps.into_iter(), guard);
        let stream = futures_util::stream::unfold(state, |(mut steps, mut guard)| async move {
            loop {
                match steps.next() {
                    Some(Step::Send(bytes)) => {
                        return Some((Ok::<_, std::io::Error>(bytes), (steps, guard)));
                    }
                    Some(Step::Pause(duration)) => tokio::time::sleep(duration).await,
                    Some(Step::Disconnect) => {
                        guard.complete();
                        let error = std::io::Error::other("scripted disconnect");
                        return Some((Err(error), (Vec::new().into_iter(), guard)));
                    }
                    None => {
                        guard.complete();
                        return None;
                    }
                }
            }
        });
        builder
            .body(Body::from_stream(stream))
            .expect("scripted replies have valid statuses and headers")
    }
}
