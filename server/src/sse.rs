//! An incremental parser for server-sent events: splits a byte stream into whole events without
//! copying when a chunk holds whole events, and reads an event's `event:` and `data:` fields lazily.
//! An event may be at most [`MAX_EVENT_BYTES`] long: a longer one (even half-received) fails the
//! stream instead of growing the buffer until the idle timeout.

use std::borrow::Cow;

use bytes::{Bytes, BytesMut};

/// One complete event, as raw bytes (its terminating blank line included), so that pass-through
/// can forward it exactly as the upstream wrote it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub raw: Bytes,
}

impl SseEvent {
    fn lines(&self) -> impl Iterator<Item = &[u8]> {
        self.raw
            .split(|&b| b == b'\n')
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
    }

    /// The `event:` field, if any.
    pub fn name(&self) -> Option<&str> {
        self.lines()
            .find_map(|line| field(line, b"event"))
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The `data:` lines joined with newlines (empty when the event has none). One line is
    /// borrowed; several are joined into one buffer sized up front, so the cost is linear in the
    /// event's size however many lines it has.
    pub fn data(&self) -> Cow<'_, str> {
        let mut values = self.lines().filter_map(|line| field(line, b"data"));
        let Some(first) = values.next() else {
            return Cow::Borrowed("");
        };
        let (count, len) = values.fold((1usize, first.len()), |(count, len), value| {
            (count + 1, len + 1 + value.len())
        });
        if count == 1 {
            return String::from_utf8_lossy(first);
        }
        let mut joined = Vec::with_capacity(len);
        for (i, value) in self
            .lines()
            .filter_map(|line| field(line, b"data"))
            .enumerate()
        {
            if i > 0 {
                joined.push(b'\n');
            }
            joined.extend_from_slice(value);
        }
        match String::from_utf8(joined) {
            Ok(text) => Cow::Owned(text),
            Err(error) => Cow::Owned(String::from_utf8_lossy(error.as_bytes()).into_owned()),
        }
    }

    /// Whether the event has any field other than comments (lines starting with `:`).
    pub fn has_fields(&self) -> bool {
        self.lines()
            .any(|line| !line.is_empty() && !line.starts_with(b":"))
    }
}

fn field<'a>(line: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = line.strip_prefix(name)?.strip_prefix(b":")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

/// Finds the end (exclusive, after the blank line) of the first complete event in `bytes`.
fn event_end(bytes: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = memchr::memchr(b'\n', &bytes[from..]) {
        let at = from + offset;
        match bytes.get(at + 1) {
            Some(b'\n') => return Some(at + 2),
            Some(b'\r') if bytes.get(at + 2) == Some(&b'\n') => return Some(at + 3),
            _ => from = at + 1,
        }
    }
    None
}

/// The most bytes one event may take, its blank line included.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

/// An upstream event longer than the parser's limit; the stream cannot go on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a stream event is too large (over {limit} bytes)")]
pub struct EventTooLarge {
    pub limit: usize,
}

pub struct SseParser {
    pending: BytesMut,
    limit: usize,
    failed: bool,
}

impl Default for SseParser {
    fn default() -> SseParser {
        SseParser::with_limit(MAX_EVENT_BYTES)
    }
}

impl SseParser {
    /// A parser that refuses events longer than `limit` bytes (the default is
    /// [`MAX_EVENT_BYTES`]).
    pub fn with_limit(limit: usize) -> SseParser {
        SseParser {
            pending: BytesMut::new(),
            limit,
            failed: false,
        }
    }

    /// Feeds one chunk and appends every event it completes to `out`. An event over the limit,
    /// complete or not, is an error: the events before it are still appended, nothing after it
    /// is, the partial event is dropped, and every later call fails too. Where the chunks are
    /// split never changes the outcome.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<SseEvent>) -> Result<(), EventTooLarge> {
        if self.failed {
            return Err(self.too_large());
        }
        if self.pending.is_empty() {
            // The common case: split the chunk itself, copying only a trailing partial event.
            let mut chunk = chunk;
            while let Some(end) = event_end(&chunk) {
                if end > self.limit {
                    return Err(self.fail());
                }
                out.push(SseEvent {
                    raw: chunk.split_to(end),
                });
            }
            if chunk.len() > self.limit {
                return Err(self.fail());
            }
            self.pending.extend_from_slice(&chunk);
            return Ok(());
        }
        // Only the bytes that could complete the pending event's blank line need re-scanning.
        let rescan_from = self.pending.len().saturating_sub(2);
        self.pending.extend_from_slice(&chunk);
        let mut scan_from = rescan_from;
        while let Some(end) = event_end(&self.pending[scan_from..]) {
            if scan_from + end > self.limit {
                return Err(self.fail());
            }
            let event = self.pending.split_to(scan_from + end).freeze();
            out.push(SseEvent { raw: event });
            scan_from = 0;
        }
        if self.pending.len() > self.limit {
            return Err(self.fail());
        }
        Ok(())
    }

    fn too_large(&self) -> EventTooLarge {
        EventTooLarge { limit: self.limit }
    }

    /// Drops the partial event (and its memory) for good.
    fn fail(&mut self) -> EventTooLarge {
        self.failed = true;
        self.pending = BytesMut::new();
        self.too_large()
    }

    /// Whether no partial event is waiting for more bytes.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Ends the stream: a final event the upstream left without its blank line still counts,
    /// because some servers end that way and dropping their last event would lose the answer.
    pub fn finish(&mut self) -> Option<SseEvent> {
        let rest = self.pending.split().freeze();
        let event = SseEvent { raw: rest };
        event.has_fields().then_some(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(chunks: &[&str]) -> Vec<(Option<String>, String)> {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in chunks {
            parser
                .push(Bytes::copy_from_slice(chunk.as_bytes()), &mut events)
                .expect("small events");
        }
        events.extend(parser.finish());
        events
            .iter()
            .map(|e| (e.name().map(str::to_owned), e.data().into_owned()))
            .collect()
    }

    #[test]
    fn splits_events_across_chunks() {
        let events = parse(&[
            "data: a\n\nevent: ping\ndata: {}\n",
            "\ndata: b",
            "c\r\n\r\ndata: [DONE]\n\n",
        ]);
        assert_eq!(
            events,
            vec![
                (None, "a".into()),
                (Some("ping".into()), "{}".into()),
                (None, "bc".into()),
                (None, "[DONE]".into())
            ]
        );
    }

    #[test]
    fn joins_multiline_data_and_skips_comments() {
        let events = parse(&[": keep-alive\n\n", "data: one\ndata:two\n\n", "data: tail"]);
        assert_eq!(
            events,
            vec![
                (None, "".into()),
                (None, "one\ntwo".into()),
                (None, "tail".into())
            ]
        );
    }

    #[test]
    fn a_blank_line_split_between_chunks_is_found() {
        let events = parse(&["data: x\n", "\n", "data: y\r\n", "\r\n"]);
        assert_eq!(events, vec![(None, "x".into()), (None, "y".into())]);
    }

    /// One event of exactly `len` bytes: `data: xxx…\n\n`.
    fn event_of(len: usize) -> Vec<u8> {
        let mut event = b"data: ".to_vec();
        event.resize(len - 2, b'x');
        event.extend_from_slice(b"\n\n");
        event
    }

    /// Feeds `bytes` in chunks of `size`, returning the events and whether the parser failed.
    fn feed(bytes: &[u8], size: usize) -> (Vec<SseEvent>, Result<(), EventTooLarge>) {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        for chunk in bytes.chunks(size) {
            if let Err(error) = parser.push(Bytes::copy_from_slice(chunk), &mut events) {
                return (events, Err(error));
            }
        }
        (events, Ok(()))
    }

    #[test]
    fn an_event_of_exactly_the_limit_passes() {
        let mut stream = b"data: a\n\n".to_vec();
        stream.extend(event_of(MAX_EVENT_BYTES));
        for size in [stream.len(), 64 * 1024, 1000] {
            let (events, result) = feed(&stream, size);
            assert_eq!(result, Ok(()), "chunks of {size}");
            assert_eq!(events.len(), 2);
            assert_eq!(events[1].raw.len(), MAX_EVENT_BYTES);
        }
    }

    #[test]
    fn an_event_one_byte_over_the_limit_fails_however_it_arrives() {
        let mut stream = b"data: a\n\n".to_vec();
        stream.extend(event_of(MAX_EVENT_BYTES + 1));
        stream.extend_from_slice(b"data: after\n\n");
        // Whole, in network-sized chunks, and byte by byte for the last stretch.
        for size in [stream.len(), 64 * 1024, 1000, 7] {
            let (events, result) = feed(&stream, size);
            assert_eq!(
                result,
                Err(EventTooLarge {
                    limit: MAX_EVENT_BYTES
                }),
                "chunks of {size}"
            );
            assert_eq!(events.len(), 1, "the event before it is kept");
            assert_eq!(events[0].data(), "a");
        }
    }

    #[test]
    fn a_partial_event_over_the_limit_fails_before_it_ends() {
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        let piece = Bytes::from(vec![b'x'; 64 * 1024]);
        parser
            .push(Bytes::from_static(b"data: "), &mut events)
            .expect("a start");
        let mut pushed = 6;
        let error = loop {
            match parser.push(piece.clone(), &mut events) {
                Ok(()) => pushed += piece.len(),
                Err(error) => break error,
            }
            assert!(pushed <= MAX_EVENT_BYTES, "the buffer kept growing");
        };
        assert_eq!(
            error.to_string(),
            "a stream event is too large (over 1048576 bytes)"
        );
        assert!(parser.is_empty(), "the partial event is dropped");
        // The stream is over: later chunks, even whole small events, fail too.
        assert!(
            parser
                .push(Bytes::from_static(b"data: x\n\n"), &mut events)
                .is_err()
        );
        assert!(events.is_empty());
        assert_eq!(parser.finish(), None);
    }

    #[test]
    fn the_limit_applies_to_complete_events_in_one_chunk() {
        let mut parser = SseParser::with_limit(10);
        let mut events = Vec::new();
        let result = parser.push(
            Bytes::from_static(b"data: 1\n\ndata: 12345\n\ndata: 2\n\n"),
            &mut events,
        );
        assert_eq!(result, Err(EventTooLarge { limit: 10 }));
        assert_eq!(events.len(), 1);
    }

    #[test]
    fn many_data_lines_join_in_linear_time() {
        const LINES: usize = 100_000;
        let mut raw = Vec::with_capacity(LINES * 10);
        for i in 0..LINES {
            raw.extend_from_slice(format!("data: {}\n", i % 10).as_bytes());
        }
        raw.push(b'\n');
        let event = SseEvent {
            raw: Bytes::from(raw),
        };
        let data = event.data();
        assert_eq!(data.len(), LINES * 2 - 1);
        assert!(data.starts_with("0\n1\n2\n") && data.ends_with("8\n9"));
        // The join is one buffer sized up front: no reallocation, so no byte was copied twice
        // (the old join copied everything joined so far for every line: 10^10 bytes here).
        let Cow::Owned(joined) = data else {
            panic!("several lines are joined into an owned string")
        };
        assert_eq!(joined.capacity(), joined.len());
    }

    #[test]
    fn joined_data_keeps_empty_lines_and_replaces_invalid_utf8() {
        let event = SseEvent {
            raw: Bytes::from_static(b"data:\ndata: a\xff\ndata:\n\n"),
        };
        assert_eq!(event.data(), "\na\u{fffd}\n");
        let single = SseEvent {
            raw: Bytes::from_static(b"event: x\ndata: only\n\n"),
        };
        assert!(matches!(single.data(), Cow::Borrowed("only")));
    }
}
