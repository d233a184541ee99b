//! An incremental parser for server-sent events: splits a byte stream into whole events without
//! copying when a chunk holds whole events, and reads an event's `event:` and `data:` fields lazily.

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

    /// The `data:` lines joined with newlines (empty when the event has none).
    pub fn data(&self) -> Cow<'_, str> {
        let mut data: Option<Cow<'_, str>> = None;
        for value in self.lines().filter_map(|line| field(line, b"data")) {
            let text = String::from_utf8_lossy(value);
            data = Some(match data {
                None => text,
                Some(previous) => Cow::Owned(format!("{previous}\n{text}")),
            });
        }
        data.unwrap_or(Cow::Borrowed(""))
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

#[derive(Default)]
pub struct SseParser {
    pending: BytesMut,
}

impl SseParser {
    /// Feeds one chunk and appends every event it completes to `out`.
    pub fn push(&mut self, chunk: Bytes, out: &mut Vec<SseEvent>) {
        if self.pending.is_empty() {
            // The common case: split the chunk itself, copying only a trailing partial event.
            let mut chunk = chunk;
            while let Some(end) = event_end(&chunk) {
                out.push(SseEvent {
                    raw: chunk.split_to(end),
                });
            }
            self.pending.extend_from_slice(&chunk);
            return;
        }
        // Only the bytes that could complete the pending event's blank line need re-scanning.
        let rescan_from = self.pending.len().saturating_sub(2);
        self.pending.extend_from_slice(&chunk);
        let mut scan_from = rescan_from;
        while let Some(end) = event_end(&self.pending[scan_from..]) {
            let event = self.pending.split_to(scan_from + end).freeze();
            out.push(SseEvent { raw: event });
            scan_from = 0;
        }
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
            parser.push(Bytes::copy_from_slice(chunk.as_bytes()), &mut events);
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
}
