//! An incremental server-sent-events parser for the playground: bytes arrive in arbitrary chunks,
//! and complete events come out as their `data` payloads.

/// Collects lines across chunks and yields each event's data when its blank line arrives.
#[derive(Default)]
pub struct SseParser {
    /// Bytes of an unfinished line. Lines are split on `\n` bytes, which never occur inside a
    /// multi-byte UTF-8 character, so a character split across chunks is reassembled here.
    pending: Vec<u8>,
    data: Option<String>,
}

impl SseParser {
    /// Feeds a chunk; returns the data of every event it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        let mut events = Vec::new();
        self.pending.extend_from_slice(chunk);
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line[..line.len() - 1]);
            let line = line.strip_suffix('\r').unwrap_or(&line);
            self.line(line, &mut events);
        }
        events
    }

    /// Ends the stream: an event without its final blank line still counts.
    pub fn finish(&mut self) -> Vec<String> {
        let mut events = Vec::new();
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let line = String::from_utf8_lossy(&rest);
            self.line(line.trim_end_matches('\r'), &mut events);
        }
        events.extend(self.data.take());
        events
    }

    fn line(&mut self, line: &str, events: &mut Vec<String>) {
        if line.is_empty() {
            events.extend(self.data.take());
        } else if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        // Comments (`:`), `event:`, `id:` and `retry:` lines carry nothing the playground shows.
    }
}

/// What one event of an OpenAI chat stream means for the playground.
#[derive(Debug, PartialEq)]
pub enum ChatEvent {
    /// Text to append to the answer.
    Delta(String),
    /// Token counts from the final usage chunk.
    Usage { prompt: u64, completion: u64 },
    /// An error event (`data: {"error": {...}}`).
    Error(String),
    /// `data: [DONE]`.
    Done,
    /// Anything else, such as a role-only first chunk.
    Other,
}

/// Interprets one event's data.
pub fn chat_event(data: &str) -> ChatEvent {
    let data = data.trim();
    if data == "[DONE]" {
        return ChatEvent::Done;
    }
    let Ok(value) = serde_json::from_str::<serde_json::Value>(data) else {
        return ChatEvent::Other;
    };
    if let Some(error) = value.get("error") {
        let message = error
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| error.to_string());
        return ChatEvent::Error(message);
    }
    let delta = value
        .pointer("/choices/0/delta/content")
        .and_then(|c| c.as_str());
    if let Some(text) = delta {
        return ChatEvent::Delta(text.to_owned());
    }
    if let Some(usage) = value.get("usage").filter(|u| u.is_object()) {
        let count = |key: &str| usage.get(key).and_then(|v| v.as_u64()).unwrap_or(0);
        return ChatEvent::Usage {
            prompt: count("prompt_tokens"),
            completion: count("completion_tokens"),
        };
    }
    ChatEvent::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_events_across_chunks() {
        let mut parser = SseParser::default();
        assert!(parser.push(b"data: {\"a\"").is_empty());
        assert_eq!(parser.push(b":1}\r\n\r\ndata: x\n"), vec!["{\"a\":1}"]);
        assert_eq!(parser.push(b"data: y\n\n: comment\n"), vec!["x\ny"]);
        assert_eq!(parser.push(b"data: [DONE]"), Vec::<String>::new());
        assert_eq!(parser.finish(), vec!["[DONE]"]);
    }

    #[test]
    fn keeps_utf8_split_across_chunks() {
        let mut parser = SseParser::default();
        let text = "data: héllo\n\n".as_bytes();
        let (a, b) = text.split_at(8);
        assert!(parser.push(a).is_empty());
        assert_eq!(parser.push(b), vec!["héllo"]);
    }

    #[test]
    fn reads_chat_events() {
        assert_eq!(
            chat_event(r#"{"choices":[{"delta":{"content":"Hi"}}]}"#),
            ChatEvent::Delta("Hi".into())
        );
        assert_eq!(chat_event("[DONE]"), ChatEvent::Done);
        assert_eq!(
            chat_event(r#"{"error":{"message":"upstream failed"}}"#),
            ChatEvent::Error("upstream failed".into())
        );
        assert_eq!(
            chat_event(r#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":5}}"#),
            ChatEvent::Usage {
                prompt: 3,
                completion: 5
            }
        );
        assert_eq!(
            chat_event(r#"{"choices":[{"delta":{"role":"assistant"}}]}"#),
            ChatEvent::Other
        );
    }
}
