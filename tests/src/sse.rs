//! A client-side reader of server-sent events that hands out one event at a time as it arrives.

use std::time::Duration;

use serde_json::Value;

/// How long to wait for the next event before declaring the stream stuck.
const EVENT_TIMEOUT: Duration = Duration::from_secs(10);

/// One SSE event: its raw text block and the joined `data:` lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub raw: String,
    pub data: String,
}

impl SseEvent {
    /// Whether this is the `data: [DONE]` terminator.
    pub fn is_done(&self) -> bool {
        self.data == "[DONE]"
    }

    /// The data parsed as JSON; panics if it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("SSE data is not JSON ({e}): {}", self.data))
    }

    /// The `choices[0].delta.content` of a chat completion chunk, if any.
    pub fn delta_content(&self) -> Option<String> {
        self.json()["choices"][0]["delta"]["content"]
            .as_str()
            .map(str::to_owned)
    }
}

/// Reads events off a streaming response without waiting for more than the next event.
pub struct SseReader {
    response: reqwest::Response,
    buffer: Vec<u8>,
    ended: bool,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        SseReader {
            response,
            buffer: Vec::new(),
            ended: false,
        }
    }

    /// The next complete event, or `None` at the end of the body. Panics if no event arrives
    /// within 10 seconds: a gateway that buffers a stream would hold the event back.
    pub async fn next_event(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            if self.ended {
                assert!(
                    self.buffer.iter().all(u8::is_ascii_whitespace),
                    "the stream ended inside an event: {:?}",
                    String::from_utf8_lossy(&self.buffer)
                );
                return None;
            }
            let chunk = tokio::time::timeout(EVENT_TIMEOUT, self.response.chunk())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "no complete SSE event within {EVENT_TIMEOUT:?}; buffered so far: {:?}",
                        String::from_utf8_lossy(&self.buffer)
                    )
                })
                .unwrap_or_else(|e| panic!("reading the stream failed: {e:?}"));
            match chunk {
                Some(bytes) => self.buffer.extend_from_slice(&bytes),
                None => self.ended = true,
            }
        }
    }

    /// Reads every remaining event.
    pub async fn collect_all(&mut self) -> Vec<SseEvent> {
        let mut events = Vec::new();
        while let Some(event) = self.next_event().await {
            events.push(event);
        }
        events
    }

    /// Bytes received but not yet part of a complete event.
    pub fn pending_bytes(&self) -> &[u8] {
        &self.buffer
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        let (end, separator) = find_separator(&self.buffer)?;
        let block: Vec<u8> = self.buffer.drain(..end + separator).collect();
        let raw = String::from_utf8_lossy(&block[..end]).into_owned();
        let data = raw
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect::<Vec<_>>()
            .join("\n");
        Some(SseEvent { raw, data })
    }
}

/// The position and length of the first blank-line separator (`\n\n` or `\r\n\r\n`).
fn find_separator(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::find_separator;

    #[test]
    fn finds_the_first_separator() {
        assert_eq!(find_separator(b"data: a\n\ndata: b\n\n"), Some((7, 2)));
        assert_eq!(find_separator(b"data: a\r\n\r\n"), Some((7, 4)));
        assert_eq!(find_separator(b"data: a\n"), None);
    }
}
