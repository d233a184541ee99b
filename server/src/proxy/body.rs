//! Response bodies on their way from a provider to a client, never buffered: the upstream body with
//! its idle and total timeouts, plain pass-through (with a usage tap), and the SSE pipeline that
//! runs each upstream event through an [`SseStage`].

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::{Instant, Sleep};

use super::error::ProxyError;
use crate::protocols::ClientProtocol;
use crate::sse::{SseEvent, SseParser};
use crate::stream::{SseStage, Transcoder, Verdict};
use crate::usage::{self, Usage, UsageContext};

/// The provider's response body, with the idle timeout between chunks and the total deadline.
///
/// The timer is lazy: a chunk only records when it arrived, and the `Sleep` (created on the first
/// wait, not per request) is re-armed when it fires early. Resetting a timer on every chunk would
/// cost a timer-wheel update per chunk for a deadline that almost never fires.
pub struct UpstreamBody {
    inner: Incoming,
    idle: Duration,
    deadline: Instant,
    last_data: Instant,
    timer: Option<Pin<Box<Sleep>>>,
    finished: bool,
    /// Turns a stream that is not SSE into SSE text as it arrives.
    transcoder: Option<Box<dyn Transcoder>>,
}

impl UpstreamBody {
    pub fn new(inner: Incoming, idle: Duration, deadline: Instant) -> UpstreamBody {
        UpstreamBody {
            inner,
            idle,
            deadline,
            last_data: Instant::now(),
            timer: None,
            finished: false,
            transcoder: None,
        }
    }

    /// Reads the body through `transcoder` (a protocol whose streams are not SSE).
    pub fn transcode(&mut self, transcoder: Option<Box<dyn Transcoder>>) {
        self.transcoder = transcoder;
    }

    /// The next chunk as the stages read it: the provider's own bytes, or their SSE text.
    pub fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ProxyError>>> {
        loop {
            let polled = ready!(self.poll_raw(cx));
            let Some(transcoder) = self.transcoder.as_mut() else {
                return Poll::Ready(polled);
            };
            let failed =
                |message: String| Poll::Ready(Some(Err(ProxyError::BadUpstreamResponse(message))));
            match polled {
                Some(Ok(chunk)) => {
                    let mut out = BytesMut::new();
                    if let Err(message) = transcoder.push(&chunk, &mut out) {
                        self.finished = true;
                        return failed(message);
                    }
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(out.freeze())));
                    }
                }
                None => {
                    return match transcoder.finish() {
                        Ok(()) => Poll::Ready(None),
                        Err(message) => failed(message),
                    };
                }
                error => return Poll::Ready(error),
            }
        }
    }

    /// When the body times out if nothing more arrives.
    fn due(&self) -> Instant {
        (self.last_data + self.idle).min(self.deadline)
    }

    /// The next data chunk as it came; trailers are skipped.
    fn poll_raw(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ProxyError>>> {
        loop {
            if self.finished {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    self.last_data = Instant::now();
                    if let Ok(data) = frame.into_data() {
                        return Poll::Ready(Some(Ok(data)));
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    self.finished = true;
                    return Poll::Ready(Some(Err(ProxyError::UpstreamUnreachable(format!(
                        "the upstream connection failed mid-response: {error}"
                    )))));
                }
                Poll::Ready(None) => {
                    self.finished = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    let due = self.due();
                    let timer = self
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
                    // The timer may hold an older deadline: when it fires, data that came since
                    // moves the real one later, and it is re-armed once, not on every chunk.
                    loop {
                        ready!(timer.as_mut().poll(cx));
                        let due = (self.last_data + self.idle).min(self.deadline);
                        if Instant::now() >= due {
                            break;
                        }
                        timer.as_mut().reset(due);
                    }
                    self.finished = true;
                    let what = if Instant::now() >= self.deadline {
                        "total time exceeded"
                    } else {
                        "no data within the idle timeout"
                    };
                    return Poll::Ready(Some(Err(ProxyError::UpstreamTimeout(what))));
                }
            }
        }
    }

    /// Waits for the first real event of a stream (comments such as keep-alives do not count),
    /// bounded by `timeout`, and returns the chunks read so far with that event. Until then the
    /// client has seen nothing, so a stream that fails to start can still fail over.
    pub async fn stream_start(
        &mut self,
        timeout: Duration,
    ) -> Result<(Vec<Bytes>, SseEvent), ProxyError> {
        let mut chunks = Vec::new();
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let waiting = async {
            loop {
                match poll_fn(|cx| self.poll_chunk(cx)).await {
                    Some(Ok(chunk)) => {
                        chunks.push(chunk.clone());
                        let pushed = parser.push(chunk, &mut events);
                        if let Some(event) = events.drain(..).find(SseEvent::has_fields) {
                            // An oversized event after it fails the stream in `SseBody`.
                            return Ok(event);
                        }
                        pushed.map_err(|e| ProxyError::BadUpstreamResponse(e.to_string()))?;
                        if parser.is_empty() {
                            // Only comments so far (keep-alives): not worth keeping unbounded.
                            chunks.clear();
                        }
                    }
                    Some(Err(error)) => return Err(error),
                    None => {
                        return match parser.finish() {
                            Some(event) => Ok(event),
                            None => Err(ProxyError::UpstreamUnreachable(
                                "the upstream stream ended before its first event".into(),
                            )),
                        };
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, waiting).await {
            Ok(Ok(event)) => Ok((chunks, event)),
            Ok(Err(error)) => Err(error),
            Err(_) => Err(ProxyError::UpstreamTimeout("no first stream event")),
        }
    }

    /// Reads the whole body (for translation), refusing more than `limit` bytes.
    pub async fn collect(mut self, limit: usize) -> Result<Bytes, ProxyError> {
        let mut buffer = BytesMut::new();
        while let Some(chunk) = poll_fn(|cx| self.poll_chunk(cx)).await {
            let chunk = chunk?;
            if buffer.len() + chunk.len() > limit {
                return Err(ProxyError::UpstreamUnreachable(format!(
                    "the upstream response is larger than {limit} bytes"
                )));
            }
            buffer.extend_from_slice(&chunk);
        }
        Ok(buffer.freeze())
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A failure in the middle of a plain response body; it aborts the response.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct BodyError(String);

/// Who reads a plain answer's usage: the client API it is an answer of, or a reader of its own
/// (OpenAI's endpoints each report usage their own way).
#[derive(Clone, Copy)]
pub enum UsageReader {
    Client(&'static dyn ClientProtocol),
    Body(fn(&[u8]) -> Option<Usage>),
}

/// The most of a plain body kept to read its usage; larger answers are not metered by body.
const MAX_TAPPED: usize = 4 * 1024 * 1024;

/// Keeps (reference-counted) copies of a plain body's chunks to read its usage at the end.
pub struct UsageTap {
    /// Where the answer's usage sits.
    reader: UsageReader,
    context: UsageContext,
    chunks: Vec<Bytes>,
    size: usize,
}

impl UsageTap {
    pub fn new(reader: UsageReader, context: UsageContext) -> UsageTap {
        UsageTap {
            reader,
            context,
            chunks: Vec::new(),
            size: 0,
        }
    }

    fn push(&mut self, chunk: &Bytes) {
        self.size += chunk.len();
        if self.size <= MAX_TAPPED {
            self.chunks.push(chunk.clone());
        }
    }

    fn usage(&self) -> Option<Usage> {
        if self.size > MAX_TAPPED || self.chunks.is_empty() {
            return None;
        }
        // Most answers arrive in one chunk; only several need joining.
        let joined;
        let body: &[u8] = match self.chunks.as_slice() {
            [only] => only,
            chunks => {
                joined = chunks.concat();
                &joined
            }
        };
        match self.reader {
            UsageReader::Client(api) => api.native_usage(body),
            UsageReader::Body(read) => read(body),
        }
    }
}

/// A pass-through body: the provider's bytes exactly as they arrive.
pub struct PlainBody {
    upstream: UpstreamBody,
    tap: Option<UsageTap>,
}

impl PlainBody {
    pub fn new(upstream: UpstreamBody, tap: Option<UsageTap>) -> PlainBody {
        PlainBody { upstream, tap }
    }
}

impl Body for PlainBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        match ready!(this.upstream.poll_chunk(cx)) {
            Some(Ok(chunk)) => {
                if let Some(tap) = &mut this.tap {
                    tap.push(&chunk);
                }
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "upstream response body failed");
                Poll::Ready(Some(Err(BodyError(error.to_string()))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        // Hyper stops polling once a sized body's last byte is written, so the upstream's own
        // count says when it is complete, before a poll would return the end.
        self.upstream.finished || self.upstream.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.upstream.size_hint()
    }
}

impl Drop for PlainBody {
    fn drop(&mut self) {
        if let Some(tap) = &self.tap
            && let Some(usage) = tap.usage()
        {
            usage::report(&tap.context, usage);
        }
    }
}

/// A server-sent-event stream, run event by event through a stage. Each upstream chunk becomes
/// at most one client frame, as soon as it arrives.
pub struct SseBody {
    upstream: UpstreamBody,
    /// Chunks read before the response started (see `UpstreamBody::stream_start`).
    preread: std::vec::IntoIter<Bytes>,
    parser: SseParser,
    stage: Box<dyn SseStage>,
    events: Vec<SseEvent>,
    /// What the client gets next, when it is not the upstream's chunk itself.
    out: BytesMut,
    /// A stage's replacement for one event, before it is appended to `out`.
    scratch: BytesMut,
    finished: bool,
    context: UsageContext,
}

impl SseBody {
    pub fn new(
        upstream: UpstreamBody,
        preread: Vec<Bytes>,
        stage: Box<dyn SseStage>,
        context: UsageContext,
    ) -> SseBody {
        SseBody {
            upstream,
            preread: preread.into_iter(),
            parser: SseParser::default(),
            stage,
            events: Vec::new(),
            out: BytesMut::new(),
            scratch: BytesMut::new(),
            finished: false,
            context,
        }
    }

    fn flush(&mut self) -> Option<Frame<Bytes>> {
        (!self.out.is_empty()).then(|| Frame::data(self.out.split().freeze()))
    }

    /// Runs one upstream chunk through the stage. When the chunk holds whole events only and the
    /// stage forwards them all untouched — the usual case — the chunk itself is the client's
    /// frame, with nothing copied; otherwise the frame is assembled in `out`.
    fn process(&mut self, chunk: Bytes) -> Option<Frame<Bytes>> {
        let started_clean = self.parser.is_empty();
        let pushed = self.parser.push(chunk.clone(), &mut self.events);
        let mut zero_copy =
            started_clean && pushed.is_ok() && self.parser.is_empty() && self.out.is_empty();
        let mut forwarded: usize = 0;
        for event in std::mem::take(&mut self.events) {
            match self.stage.event(&event, &mut self.scratch) {
                Verdict::Forward if zero_copy => forwarded += 1,
                Verdict::Forward => self.out.put_slice(&event.raw),
                Verdict::Replace => {
                    if zero_copy {
                        // The events forwarded so far are the chunk's beginning.
                        zero_copy = false;
                        let prefix_len = forwarded_len(&chunk, forwarded);
                        self.out.put_slice(&chunk[..prefix_len]);
                    }
                    self.out.put_slice(&self.scratch);
                    self.scratch.clear();
                }
            }
        }
        if let Err(too_large) = pushed {
            // The events before the oversized one went out; the stream ends as a failed one.
            tracing::warn!(error = %too_large, "upstream stream event too large");
            self.finished = true;
            let error = ProxyError::BadUpstreamResponse(too_large.to_string());
            self.context.tally.mark_stream_failed();
            self.stage.end(Some(error), &mut self.out);
            return self.flush();
        }
        if zero_copy && !chunk.is_empty() {
            return Some(Frame::data(chunk));
        }
        self.flush()
    }
}

/// The length of the first `events` whole events of `chunk` (which holds whole events only).
fn forwarded_len(chunk: &Bytes, events: usize) -> usize {
    let mut parser = SseParser::default();
    let mut parsed = Vec::new();
    // The chunk was already parsed once within the limit.
    let _ = parser.push(chunk.clone(), &mut parsed);
    parsed.iter().take(events).map(|e| e.raw.len()).sum()
}

impl Body for SseBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(this.flush().map(Ok));
            }
            let next = match this.preread.next() {
                Some(chunk) => Some(Ok(chunk)),
                None => ready!(this.upstream.poll_chunk(cx)),
            };
            let frame = match next {
                Some(Ok(chunk)) => this.process(chunk),
                Some(Err(error)) => {
                    tracing::warn!(%error, "upstream stream failed after it started");
                    this.finished = true;
                    this.context.tally.mark_stream_failed();
                    this.stage.end(Some(error), &mut this.out);
                    this.flush()
                }
                None => {
                    if let Some(event) = this.parser.finish()
                        && this.stage.event(&event, &mut this.scratch) == Verdict::Forward
                    {
                        this.out.put_slice(&event.raw);
                    }
                    this.out.put_slice(&this.scratch);
                    this.scratch.clear();
                    this.finished = true;
                    this.stage.end(None, &mut this.out);
                    if !this.stage.completed() {
                        // Truncated or carrying an error event: not a complete answer.
                        this.context.tally.mark_stream_failed();
                    }
                    this.flush()
                }
            };
            if let Some(frame) = frame {
                return Poll::Ready(Some(Ok(frame)));
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.finished && self.out.is_empty()
    }
}

impl Drop for SseBody {
    fn drop(&mut self) {
        if let Some(usage) = self.stage.usage() {
            usage::report(&self.context, usage);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use http_body_util::BodyExt;
    use hyper_util::rt::TokioIo;
    use tokio::io::AsyncWriteExt;

    use super::*;
    use crate::protocols::anthropic::AnthropicPassthrough;
    use crate::protocols::openai::OpenAiPassthrough;
    use crate::sse::MAX_EVENT_BYTES;

    /// An upstream that sends `head` and then a partial event one byte over the limit, and then
    /// holds the connection open as a slow or hostile server would.
    async fn upstream_with_oversized_event(head: &'static str) -> Incoming {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let address = listener.local_addr().expect("an address");
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("a client");
            let mut body = head.as_bytes().to_vec();
            body.extend_from_slice(b"data: ");
            body.resize(body.len() + MAX_EVENT_BYTES + 1, b'x');
            let response = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\n";
            socket.write_all(response.as_bytes()).await.expect("writes");
            let _ = socket.write_all(&body).await;
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let stream = tokio::net::TcpStream::connect(address)
            .await
            .expect("connects");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        tokio::spawn(connection);
        let request = http::Request::new(http_body_util::Empty::<Bytes>::new());
        sender
            .send_request(request)
            .await
            .expect("a response")
            .into_body()
    }

    async fn client_reads(head: &'static str, stage: Box<dyn SseStage>) -> String {
        let upstream = UpstreamBody::new(
            upstream_with_oversized_event(head).await,
            Duration::from_secs(30),
            Instant::now() + Duration::from_secs(60),
        );
        let context = UsageContext {
            route: Arc::from("r"),
            provider: Arc::from("p"),
            metrics: Arc::default(),
            tally: Arc::default(),
        };
        let body = SseBody::new(upstream, Vec::new(), stage, context);
        // Well before the idle timeout: the limit ends the stream, not the timer.
        let collected = tokio::time::timeout(Duration::from_secs(20), body.collect())
            .await
            .expect("the stream ends at the limit")
            .expect("the stream ends cleanly");
        String::from_utf8(collected.to_bytes().to_vec()).expect("text")
    }

    #[tokio::test]
    async fn an_oversized_event_ends_the_stream_with_an_error_event() {
        let read = client_reads(
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\n",
            Box::new(OpenAiPassthrough::new(false)),
        )
        .await;
        let (first, rest) = read.split_once("\n\n").expect("two events");
        assert_eq!(
            first,
            "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}"
        );
        let error: serde_json::Value = serde_json::from_str(
            rest.strip_prefix("data: ")
                .and_then(|r| r.strip_suffix("\n\n"))
                .expect("one data event"),
        )
        .expect("JSON");
        assert_eq!(error["error"]["code"], "bad_upstream_response");
        let message = error["error"]["message"].as_str().expect("a message");
        assert!(message.contains("too large"), "{message}");
        assert!(!read.contains("[DONE]"));

        let read = client_reads(
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{}}\n\n",
            Box::new(AnthropicPassthrough::default()),
        )
        .await;
        let rest = read.split_once("\n\n").expect("two events").1;
        assert!(rest.starts_with("event: error\ndata: "), "{rest}");
        assert!(rest.contains("too large"), "{rest}");
    }
}
