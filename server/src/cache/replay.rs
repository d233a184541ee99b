//! Serving a hit: the stored answer as the body of the request at hand, in the mode it asked for.
//! A stored stream is replayed as its events, one frame each, so a client sees a stream as it
//! would from the provider (never the whole answer in one chunk); a stored plain answer is its
//! body; and either serves the other mode, converted in the client's protocol.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;

use super::{CachedAnswer, ClientApi, anthropic, openai};
use crate::sse::{SseEvent, SseParser};

/// A replayed answer's body: its frames, yielded one at a time.
#[derive(Debug)]
pub struct ReplayBody {
    frames: VecDeque<Bytes>,
    content_type: HeaderValue,
}

impl ReplayBody {
    /// The answer's `content-type`: the stored one when the mode is the stored one, else the
    /// mode's own.
    pub fn content_type(&self) -> &HeaderValue {
        &self.content_type
    }

    /// How many frames are left (for a stream: events).
    pub fn frame_count(&self) -> usize {
        self.frames.len()
    }

    /// The frames themselves, for what must see what the client is sent (token estimates, tests).
    pub fn frames(&self) -> impl Iterator<Item = &Bytes> {
        self.frames.iter()
    }

    pub fn into_frames(self) -> Vec<Bytes> {
        self.frames.into()
    }
}

impl Body for ReplayBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(
            self.get_mut()
                .frames
                .pop_front()
                .map(|b| Ok(Frame::data(b))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.frames.iter().map(|frame| frame.len() as u64).sum())
    }
}

const EVENT_STREAM: &str = "text/event-stream";
const JSON: &str = "application/json";

/// The stored stream's events, however its frames were cut. No size limit: the bytes were
/// bounded when they were received, and again by the cache's cap.
fn events(answer: &CachedAnswer) -> Vec<SseEvent> {
    let mut parser = SseParser::with_limit(usize::MAX);
    let mut events = Vec::new();
    for frame in &answer.frames {
        // With no limit the parser cannot refuse an event.
        let _ = parser.push(frame.clone(), &mut events);
    }
    events.extend(parser.finish());
    events
}

/// The stored plain body as one frame (copied only if it was stored in several).
fn body(answer: &CachedAnswer) -> Bytes {
    match answer.frames.as_slice() {
        [one] => one.clone(),
        frames => {
            let mut body = BytesMut::with_capacity(answer.body_len());
            for frame in frames {
                body.extend_from_slice(frame);
            }
            body.freeze()
        }
    }
}

/// The cache keeps answers of the chat, embeddings and Messages APIs only (the pipeline's cache
/// phase never plans a store for another API), so any other one cannot be replayed.
fn not_cached(client: ClientApi) -> String {
    format!("answers of the {client:?} API are not cached")
}

/// The body for a request that hit `answer`: `stream` is whether it asked for a stream, and
/// `include_usage` whether an OpenAI stream asked for the usage chunk. An error means the stored
/// answer cannot be shown in the asked mode (it should not happen for what the proxy stores);
/// the caller then treats the request as a miss.
pub fn replay(
    answer: &CachedAnswer,
    stream: bool,
    include_usage: bool,
) -> Result<ReplayBody, String> {
    let frames = match (answer.stream, stream) {
        (true, true) => {
            let events = events(answer);
            match answer.client {
                ClientApi::OpenAi => openai::restream(events, include_usage, answer.usage),
                ClientApi::Anthropic => events.into_iter().map(|event| event.raw).collect(),
                ClientApi::Responses | ClientApi::Gemini => return Err(not_cached(answer.client)),
            }
        }
        (false, false) => vec![body(answer)],
        (true, false) => {
            let events = events(answer);
            let value = match answer.client {
                ClientApi::OpenAi => openai::assemble(&events, answer.usage)?,
                ClientApi::Anthropic => anthropic::assemble(&events)?,
                ClientApi::Responses | ClientApi::Gemini => return Err(not_cached(answer.client)),
            };
            let body = serde_json::to_vec(&value).map_err(|error| error.to_string())?;
            vec![Bytes::from(body)]
        }
        (false, true) => {
            let value: Value = serde_json::from_slice(&body(answer))
                .map_err(|error| format!("the stored answer is not JSON: {error}"))?;
            match answer.client {
                ClientApi::OpenAi => openai::explode(&value, include_usage)?,
                ClientApi::Anthropic => anthropic::explode(&value)?,
                ClientApi::Responses | ClientApi::Gemini => return Err(not_cached(answer.client)),
            }
        }
    };
    let content_type = if answer.stream == stream {
        answer.content_type.clone()
    } else {
        HeaderValue::from_static(if stream { EVENT_STREAM } else { JSON })
    };
    Ok(ReplayBody {
        frames: frames.into(),
        content_type,
    })
}
