//! The answer side of guardrails: a policy's `on_response` checks (mask or block what its
//! detectors find in the model's answer) and the restoring of values a request's `redact_restore`
//! replaced with placeholders. A plain answer is rewritten whole; a stream event by event,
//! holding back only the few bytes a placeholder or value split across two events can span.
//!
//! Checks run on the answer as the provider wrote it (placeholders and all), then values are
//! restored: the caller's own data is given back, not judged.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use serde_json::Value;
use switchyard_shared::GuardrailHit;

use crate::guardrails::{
    Api, Blocked, ClientApi, Policy, Restorer, SseRewrite, StreamChecker, StreamRestorer,
    check_answer,
};
use crate::pipeline::Tally;
use crate::sse::{SseEvent, SseParser};

/// The message of an answer refused by an `on_response` check.
pub fn blocked_message(blocked: &Blocked) -> String {
    format!(
        "The answer was withheld: {blocked}. The gateway's operator set this policy; the \
         content it matched is not shown."
    )
}

/// Rewrites a whole (non-streamed) JSON answer: checks, then restores. `Err` when a check
/// blocks it; the hits found are returned either way through `hits`.
pub fn guard_plain(
    body: &[u8],
    policies: &[Arc<Policy>],
    restorer: Option<&Restorer>,
    api: Api,
    hits: &mut Vec<GuardrailHit>,
) -> Result<Option<Bytes>, Blocked> {
    let Ok(mut answer) = serde_json::from_slice::<Value>(body) else {
        return Ok(None);
    };
    match check_answer(policies, &mut answer, api) {
        Ok(found) => hits.extend(found),
        Err(blocked) => {
            hits.push(blocked.hit("response"));
            return Err(blocked);
        }
    }
    if let Some(restorer) = restorer {
        restorer.restore_json_answer(&mut answer, api);
    }
    Ok(Some(Bytes::from(answer.to_string())))
}

/// A client-facing event stream run through the answer checks and the restorer.
pub struct GuardedStream<B> {
    inner: B,
    parser: SseParser,
    events: Vec<SseEvent>,
    checker: Option<StreamChecker>,
    restorer: Option<StreamRestorer>,
    client: ClientApi,
    tally: Arc<Tally>,
    /// Set once a check blocked the answer: nothing more goes out.
    stopped: bool,
    ended: bool,
}

impl<B> GuardedStream<B> {
    /// The body given back (`Err`) when there is nothing to do: no checks and no values to
    /// restore.
    pub fn new(
        inner: B,
        policies: &[Arc<Policy>],
        restorer: Option<&Restorer>,
        client: ClientApi,
        tally: Arc<Tally>,
    ) -> Result<GuardedStream<B>, B> {
        let checker = StreamChecker::new(policies);
        let restorer = restorer.map(Restorer::stream);
        if checker.is_none() && restorer.is_none() {
            return Err(inner);
        }
        Ok(GuardedStream {
            inner,
            parser: SseParser::default(),
            events: Vec::new(),
            checker,
            restorer,
            client,
            tally,
            stopped: false,
            ended: false,
        })
    }

    /// Runs one event through the checks and the restorer into `out`.
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) {
        let name = event.name().map(str::to_owned);
        let data = event.data().into_owned();
        let mut pending: Vec<(Option<String>, String)> = Vec::new();
        let checked = match &mut self.checker {
            Some(checker) => match checker.check_sse_event(&data, self.client) {
                Ok(rewrite) => apply(rewrite, name.as_deref(), &data),
                Err(blocked) => {
                    self.block(&blocked, out);
                    return;
                }
            },
            None => vec![(name.clone(), data.clone())],
        };
        for (event_name, event_data) in checked {
            match &mut self.restorer {
                Some(restorer) => {
                    let rewrite = restorer.restore_sse_event(&event_data, self.client);
                    pending.extend(apply(rewrite, event_name.as_deref(), &event_data));
                }
                None => pending.push((event_name, event_data)),
            }
        }
        if let Some(checker) = &self.checker {
            self.tally.record_guardrail_hits(checker.hits());
        }
        for (event_name, event_data) in pending {
            write_event(out, event_name.as_deref(), &event_data);
        }
    }

    fn block(&mut self, blocked: &Blocked, out: &mut BytesMut) {
        self.stopped = true;
        self.tally.record_guardrail_hits(&[blocked.hit("response")]);
        self.tally.mark_stream_failed();
        let message = blocked_message(blocked);
        match self.client {
            // GUARDRAILS-TODO(helper): the Responses API's `error` event and Gemini's shape.
            ClientApi::OpenAi | ClientApi::Responses | ClientApi::Gemini => {
                let error = serde_json::json!({"error": {
                    "message": message, "type": "invalid_request_error",
                    "param": null, "code": "content_filtered"}});
                write_event(out, None, &error.to_string());
            }
            ClientApi::Anthropic => {
                let error = crate::protocols::anthropic::inbound::error_body(
                    "invalid_request_error",
                    &message,
                );
                write_event(out, Some("error"), &error.to_string());
            }
        }
    }
}

/// The events a rewrite stands for: its extra events, then the event itself (renamed data or
/// as it came).
fn apply(rewrite: SseRewrite, name: Option<&str>, data: &str) -> Vec<(Option<String>, String)> {
    let mut events: Vec<(Option<String>, String)> = rewrite
        .before
        .into_iter()
        .map(|extra| (extra.event.map(str::to_owned), extra.data))
        .collect();
    events.push((
        name.map(str::to_owned),
        rewrite.data.unwrap_or_else(|| data.to_owned()),
    ));
    events
}

fn write_event(out: &mut BytesMut, name: Option<&str>, data: &str) {
    if let Some(name) = name {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_slice(b"\n");
    }
    for line in data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_slice(b"\n");
    }
    out.put_slice(b"\n");
}

impl<B> Body for GuardedStream<B>
where
    B: Body<Data = Bytes> + Unpin,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        loop {
            if this.stopped || this.ended {
                return Poll::Ready(None);
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let mut out = BytesMut::new();
                    // The gateway's own stages already bound each event's size.
                    let _ = this.parser.push(data, &mut this.events);
                    for event in std::mem::take(&mut this.events) {
                        if this.stopped {
                            break;
                        }
                        this.event(&event, &mut out);
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
                    }
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    this.ended = true;
                    let mut out = BytesMut::new();
                    if let Some(event) = this.parser.finish() {
                        this.event(&event, &mut out);
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Frame::data(out.freeze()))));
                    }
                    return Poll::Ready(None);
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.stopped || self.ended
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}
