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
    Api, Blocked, ClientApi, ExtraEvent, Policy, Restorer, SseRewrite, StreamChecker,
    StreamRestorer, check_answer, sequence_number,
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
    /// The last Responses API `sequence_number` written, which an error event follows.
    sequence_number: Option<u64>,
    /// Set once a check blocked the answer: nothing more goes out.
    stopped: bool,
    ended: bool,
}

/// An event to write: its `event:` name, if any, and its data.
type Pending = (Option<String>, String);

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
            sequence_number: None,
            stopped: false,
            ended: false,
        })
    }

    /// Runs one event through the checks and the restorer into `out`.
    fn event(&mut self, event: &SseEvent, out: &mut BytesMut) {
        let name = event.name().map(str::to_owned);
        let data = event.data().into_owned();
        let checked = match &mut self.checker {
            Some(checker) => match checker.check_sse_event(&data, self.client) {
                Ok(rewrite) => apply(rewrite, name.as_deref(), &data),
                Err(blocked) => {
                    self.block(&blocked, out);
                    return;
                }
            },
            None => vec![(name, data)],
        };
        self.restore_and_write(checked, false, out);
    }

    /// The upstream ended: what the checks and the restorer still hold goes out, as the events
    /// of the client's protocol that would have carried it (a Gemini stream has no end marker).
    fn end(&mut self, out: &mut BytesMut) {
        let checked = match &mut self.checker {
            Some(checker) => match checker.check_sse_end(self.client) {
                Ok(extras) => extras.into_iter().map(to_pending).collect(),
                Err(blocked) => {
                    self.block(&blocked, out);
                    return;
                }
            },
            None => Vec::new(),
        };
        self.restore_and_write(checked, true, out);
    }

    /// Runs checked events through the restorer and writes them; at the upstream's `end`, then
    /// what the restorer still holds.
    fn restore_and_write(&mut self, checked: Vec<Pending>, end: bool, out: &mut BytesMut) {
        let pending = match &mut self.restorer {
            Some(restorer) => {
                let mut pending = Vec::with_capacity(checked.len());
                for (event_name, event_data) in checked {
                    let rewrite = restorer.restore_sse_event(&event_data, self.client);
                    pending.extend(apply(rewrite, event_name.as_deref(), &event_data));
                }
                if end {
                    let extras = restorer.restore_sse_end(self.client);
                    pending.extend(extras.into_iter().map(to_pending));
                }
                pending
            }
            None => checked,
        };
        if let Some(checker) = &self.checker {
            self.tally.record_guardrail_hits(checker.hits());
        }
        for (event_name, event_data) in pending {
            if self.client == ClientApi::Responses {
                self.sequence_number = sequence_number(&event_data).or(self.sequence_number);
            }
            write_event(out, event_name.as_deref(), &event_data);
        }
    }

    fn block(&mut self, blocked: &Blocked, out: &mut BytesMut) {
        self.stopped = true;
        self.tally.record_guardrail_hits(&[blocked.hit("response")]);
        self.tally.mark_stream_failed();
        let message = blocked_message(blocked);
        match self.client {
            ClientApi::OpenAi => {
                let error = serde_json::json!({"error": {
                    "message": message, "type": "invalid_request_error",
                    "param": null, "code": "content_filtered"}});
                write_event(out, None, &error.to_string());
            }
            // The typed `error` event, numbered after the last event written (the SDKs require
            // a number). Nothing follows it: the answer's end is withheld with its text.
            ClientApi::Responses => {
                let number = self.sequence_number.map_or(0, |n| n.saturating_add(1));
                let error = serde_json::json!({"type": "error", "code": "content_filtered",
                    "message": message, "param": null, "sequence_number": number});
                write_event(out, Some("error"), &error.to_string());
            }
            // Google's error body as one more `data:` chunk, as Gemini ends a failed stream.
            ClientApi::Gemini => {
                let error = crate::protocols::gemini::inbound::error_body(400, &message);
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
fn apply(rewrite: SseRewrite, name: Option<&str>, data: &str) -> Vec<Pending> {
    let mut events: Vec<Pending> = rewrite.before.into_iter().map(to_pending).collect();
    events.push((
        name.map(str::to_owned),
        rewrite.data.unwrap_or_else(|| data.to_owned()),
    ));
    events
}

fn to_pending(extra: ExtraEvent) -> Pending {
    (extra.event.map(str::to_owned), extra.data)
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
                    if !this.stopped {
                        this.end(&mut out);
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

/// Named so that `cargo test guardrails` runs them with the library's own tests.
#[cfg(test)]
mod guardrails_tests {
    use std::sync::Arc;

    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use serde_json::{Value, json};
    use switchyard_shared::guardrails::{
        DetectorSpec, DetectorType, GuardrailAction, GuardrailMode, GuardrailSpec, ResponseCheck,
    };

    use super::{ClientApi, GuardedStream, Policy, Restorer, Tally, blocked_message};
    use crate::guardrails::{Api, Blocked, apply_request};
    use crate::sse::SseParser;

    fn policy(action: GuardrailAction, on_response: Option<GuardrailAction>) -> Arc<Policy> {
        let spec = GuardrailSpec {
            name: "answers".into(),
            description: String::new(),
            mode: GuardrailMode::Enforce,
            detectors: vec![DetectorSpec {
                kind: DetectorType::Email,
                action,
                label: None,
                pattern: None,
                words: Vec::new(),
            }],
            on_response: on_response.map(|action| ResponseCheck { action }),
        };
        Arc::new(Policy::compile(&spec).expect("a valid policy"))
    }

    /// The events a client reads from `upstream` guarded by `policies` and `restorer`.
    async fn guarded(
        upstream: &str,
        policies: &[Arc<Policy>],
        restorer: Option<&Restorer>,
        client: ClientApi,
    ) -> Vec<(Option<String>, Value)> {
        let body = Full::new(Bytes::from(upstream.to_owned()));
        let tally = Arc::new(Tally::default());
        let Ok(stream) = GuardedStream::new(body, policies, restorer, client, tally) else {
            panic!("nothing to guard");
        };
        let bytes = stream.collect().await.expect("a body").to_bytes();
        let mut events = Vec::new();
        SseParser::default()
            .push(bytes, &mut events)
            .expect("small events");
        events
            .iter()
            .map(|e| {
                let data = serde_json::from_str(&e.data()).expect("JSON data");
                (e.name().map(str::to_owned), data)
            })
            .collect()
    }

    fn message() -> String {
        blocked_message(&Blocked {
            guardrail: "answers".into(),
            detector: "EMAIL".into(),
        })
    }

    #[tokio::test]
    async fn a_blocked_responses_stream_ends_with_a_numbered_error_event() {
        let delta = |number: u64, text: &str| {
            format!(
                "event: response.output_text.delta\ndata: {}\n\n",
                json!({"type": "response.output_text.delta", "item_id": "msg_1",
                    "output_index": 0, "content_index": 0, "delta": text,
                    "sequence_number": number})
            )
        };
        let created = json!({"type": "response.created", "sequence_number": 0,
            "response": {"id": "resp_1", "status": "in_progress", "output": []}});
        let upstream = format!(
            "event: response.created\ndata: {created}\n\n{}{}{}",
            delta(1, "mail bob@exa"),
            delta(2, "mple.com"),
            delta(3, " never sent"),
        );
        let policies = [policy(GuardrailAction::Mask, Some(GuardrailAction::Block))];
        let events = guarded(&upstream, &policies, None, ClientApi::Responses).await;
        assert_eq!(events.len(), 3, "{events:?}");
        assert_eq!(events[1].1["delta"], "", "the value's start is held back");
        assert_eq!(
            events[2],
            (
                Some("error".to_owned()),
                json!({"type": "error", "code": "content_filtered", "message": message(),
                    "param": null, "sequence_number": 2})
            )
        );
    }

    #[tokio::test]
    async fn a_blocked_gemini_stream_ends_with_googles_error() {
        let chunk = |text: &str| {
            let chunk = json!({"candidates": [{"content": {"parts": [{"text": text}],
                "role": "model"}, "index": 0}], "responseId": "r1"});
            format!("data: {chunk}\r\n\r\n")
        };
        let upstream = format!("{}{}", chunk("mail bob@exa"), chunk("mple.com"));
        let policies = [policy(GuardrailAction::Mask, Some(GuardrailAction::Block))];
        let events = guarded(&upstream, &policies, None, ClientApi::Gemini).await;
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(
            events[1],
            (
                None,
                json!({"error": {"code": 400, "message": message(), "status": "INVALID_ARGUMENT"}})
            )
        );
    }

    #[tokio::test]
    async fn what_a_gemini_stream_holds_at_its_end_is_written() {
        let request = json!({"contents": [{"parts": [{"text": "bob@example.com"}]}]});
        let policies = [policy(GuardrailAction::RedactRestore, None)];
        let applied = apply_request(
            &policies,
            request.to_string().as_bytes(),
            Api::Gemini,
            &[1; 32],
        );
        let restorer = applied.ok().and_then(|a| a.restore).expect("a restorer");
        let chunk = json!({"candidates": [{"content": {"parts": [{"text": "to [[EMAIL_1"}],
            "role": "model"}, "index": 0}], "responseId": "r1"});
        let upstream = format!("data: {chunk}\n\n");
        let events = guarded(&upstream, &[], Some(&restorer), ClientApi::Gemini).await;
        let texts: Vec<&str> = events
            .iter()
            .filter_map(|(_, e)| e.pointer("/candidates/0/content/parts/0/text")?.as_str())
            .collect();
        assert_eq!(texts, ["to ", "[[EMAIL_1"]);
        assert_eq!(events[1].1["responseId"], "r1");
    }
}
