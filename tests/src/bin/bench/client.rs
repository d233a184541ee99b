//! The load generator's HTTP/1.1 client: one kept-alive, TCP_NODELAY connection per worker.
//!
//! hyper's connection-level client is used instead of a pooled one so that every worker owns
//! exactly one socket and no pool bookkeeping sits inside the measured time.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::mono_ns;

/// Somewhere requests go: the gateway, the mock directly, or another gateway to compare.
#[derive(Clone, Debug)]
pub struct Target {
    /// The arm's name in the report: `switchyard`, `direct`, or a `--compare` name.
    pub name: String,
    pub addr: SocketAddr,
    /// The request path, such as `/v1/chat/completions` or `/sse/10/2/v1/chat/completions`.
    pub path: String,
    pub authorization: Option<HeaderValue>,
    /// The request body this target always sends, in place of the one its arm sends to every
    /// target; `None` for the arm's own.
    pub body: Option<Bytes>,
    /// A header every answer must carry to count as a success, such as
    /// `x-switchyard-cache: hit`; an answer without it counts as an error.
    pub expect_header: Option<(HeaderName, HeaderValue)>,
    /// A header whose value changes with every request, taking each of the values in turn,
    /// such as 64 session ids in `x-session-id`.
    pub rotate_header: Option<(HeaderName, Arc<[HeaderValue]>)>,
}

impl Target {
    pub fn new(name: &str, addr: SocketAddr, path: &str) -> Arc<Target> {
        Arc::new(Target {
            name: name.to_owned(),
            addr,
            path: path.to_owned(),
            authorization: None,
            body: None,
            expect_header: None,
            rotate_header: None,
        })
    }

    /// The same server and path under another name, always sending `body`.
    pub fn with_body(&self, name: &str, body: Bytes) -> Arc<Target> {
        Arc::new(Target {
            name: name.to_owned(),
            body: Some(body),
            ..self.clone()
        })
    }

    /// The same target, whose answers must carry `name: value` to count as successes.
    pub fn expecting(&self, name: HeaderName, value: &'static str) -> Arc<Target> {
        Arc::new(Target {
            expect_header: Some((name, HeaderValue::from_static(value))),
            ..self.clone()
        })
    }

    /// The same target, sending `name` with each of `values` in turn, one per request.
    pub fn rotating(&self, name: HeaderName, values: Vec<HeaderValue>) -> Arc<Target> {
        Arc::new(Target {
            rotate_header: Some((name, values.into())),
            ..self.clone()
        })
    }

    /// The body to send: the target's own, or else the arm's.
    pub fn body_or(&self, arm_body: &Bytes) -> Bytes {
        self.body.clone().unwrap_or_else(|| arm_body.clone())
    }

    /// Whether an answer with these headers is what the target expects.
    fn accepts(&self, headers: &HeaderMap) -> bool {
        self.expect_header
            .as_ref()
            .is_none_or(|(name, value)| headers.get(name) == Some(value))
    }

    /// The same server under another path (another mock behaviour).
    pub fn with_path(&self, path: &str) -> Arc<Target> {
        Arc::new(Target {
            path: path.to_owned(),
            ..self.clone()
        })
    }
}

/// A chat request body for `model`, streaming or not.
pub fn chat_body(model: &str, stream: bool) -> Bytes {
    let stream = if stream { r#","stream":true"# } else { "" };
    Bytes::from(format!(
        r#"{{"model":"{model}","messages":[{{"role":"system","content":"You are a benchmark."}},{{"role":"user","content":"Say hello in one short sentence."}}],"max_tokens":64{stream}}}"#
    ))
}

/// One answered request.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// What the client saw of one SSE stream.
#[derive(Default)]
pub struct StreamTrace {
    pub status: u16,
    /// From sending the request to the first complete event.
    pub first_event: Option<Duration>,
    /// For each complete `data:` chunk (not `[DONE]`): when it arrived and when the mock sent it,
    /// both on the shared monotonic clock.
    pub chunks: Vec<(u64, Option<u64>)>,
    pub events: u32,
    /// Body frames (HTTP chunks) that held at least one complete event.
    pub frames_with_events: u32,
    /// Frames that completed more than one event: the gateway coalesced chunks.
    pub coalesced_frames: u32,
    pub done: bool,
}

pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    target: Arc<Target>,
    host: HeaderValue,
    /// Requests sent so far, which picks the rotating header's value.
    sent: usize,
}

impl Conn {
    pub async fn open(target: &Arc<Target>) -> anyhow::Result<Conn> {
        let tcp = TcpStream::connect(target.addr)
            .await
            .with_context(|| format!("cannot connect to {} at {}", target.name, target.addr))?;
        tcp.set_nodelay(true)?;
        let (sender, connection) = http1::handshake(TokioIo::new(tcp)).await?;
        tokio::spawn(async move {
            // The connection ends when the sender is dropped or the peer closes; either way the
            // next request on this Conn reports the error.
            let _ = connection.await;
        });
        let host = HeaderValue::from_str(&target.addr.to_string())?;
        Ok(Conn {
            sender,
            target: Arc::clone(target),
            host,
            sent: 0,
        })
    }

    async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
        accept: &'static str,
    ) -> anyhow::Result<http::Response<hyper::body::Incoming>> {
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = method;
        *request.uri_mut() = path.parse()?;
        let headers = request.headers_mut();
        headers.insert(header::HOST, self.host.clone());
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::ACCEPT, HeaderValue::from_static(accept));
        if let Some(auth) = &self.target.authorization {
            headers.insert(header::AUTHORIZATION, auth.clone());
        }
        if let Some((name, values)) = &self.target.rotate_header
            && !values.is_empty()
        {
            headers.insert(name.clone(), values[self.sent % values.len()].clone());
        }
        self.sent = self.sent.wrapping_add(1);
        self.sender.ready().await?;
        Ok(self.sender.send_request(request).await?)
    }

    /// Sends `body` to the target's path and reads the whole answer.
    pub async fn post(&mut self, body: Bytes) -> anyhow::Result<Reply> {
        let path = self.target.path.clone();
        self.request(Method::POST, &path, body).await
    }

    /// Sends one request and tells whether it answered 200, with the header the target expects
    /// if it expects one. A broken connection is replaced so that a worker can go on after a
    /// failure, which then shows up as an error count.
    pub async fn post_ok(&mut self, body: Bytes) -> bool {
        self.post_answered(body).await.is_some()
    }

    /// Like [`Conn::post_ok`], but gives the successful answer's headers.
    pub async fn post_answered(&mut self, body: Bytes) -> Option<HeaderMap> {
        match self.post(body).await {
            Ok(reply) if reply.status == StatusCode::OK && self.target.accepts(&reply.headers) => {
                Some(reply.headers)
            }
            Ok(_) => None,
            Err(_) => {
                if let Ok(fresh) = Conn::open(&self.target).await {
                    // The rotation goes on where it was.
                    let sent = self.sent;
                    *self = fresh;
                    self.sent = sent;
                }
                None
            }
        }
    }

    /// Any request, for the admin API.
    pub async fn request(
        &mut self,
        method: Method,
        path: &str,
        body: Bytes,
    ) -> anyhow::Result<Reply> {
        let response = self.send(method, path, body, "application/json").await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// Sends a streaming request and records when each event arrives.
    pub async fn stream(&mut self, body: Bytes) -> anyhow::Result<StreamTrace> {
        let path = self.target.path.clone();
        let started = Instant::now();
        let response = self
            .send(Method::POST, &path, body, "text/event-stream")
            .await?;
        let mut trace = StreamTrace {
            status: response.status().as_u16(),
            ..StreamTrace::default()
        };
        let mut body = response.into_body();
        let mut pending: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame?;
            let Some(data) = frame.data_ref() else {
                continue;
            };
            let arrived = mono_ns();
            pending.extend_from_slice(data);
            let mut in_frame = 0;
            while let Some(end) = find(&pending, b"\n\n") {
                let event: Vec<u8> = pending.drain(..end + 2).collect();
                in_frame += 1;
                trace.events += 1;
                if trace.first_event.is_none() {
                    trace.first_event = Some(started.elapsed());
                }
                if event.starts_with(b"data: [DONE]") {
                    trace.done = true;
                } else {
                    trace.chunks.push((arrived, sent_stamp(&event)));
                }
            }
            if in_frame > 0 {
                trace.frames_with_events += 1;
            }
            if in_frame > 1 {
                trace.coalesced_frames += 1;
            }
        }
        if trace.status == 200 && !trace.done {
            bail!(
                "{} ended a stream without [DONE] after {} events",
                self.target.name,
                trace.events
            );
        }
        Ok(trace)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The mock's `bench_sent_ns` stamp inside an event, if it has one.
fn sent_stamp(event: &[u8]) -> Option<u64> {
    const KEY: &[u8] = b"\"bench_sent_ns\":";
    let start = find(event, KEY)? + KEY.len();
    let digits = event[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&event[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_stamp() {
        assert_eq!(
            sent_stamp(b"data: {\"a\":1,\"bench_sent_ns\":12345}\n\n"),
            Some(12345)
        );
        assert_eq!(sent_stamp(b"data: [DONE]\n\n"), None);
    }

    #[test]
    fn bodies_are_json() {
        let body = chat_body("bench-x", true);
        let parsed: serde_json::Value = serde_json::from_slice(&body).expect("valid JSON");
        assert_eq!(parsed["stream"], true);
        assert_eq!(parsed["model"], "bench-x");
    }
}
