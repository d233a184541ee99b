//! Mock providers that speak their own wire protocols (OpenAI's whole API, Anthropic, Gemini, Azure
//! OpenAI), and the helpers the conformance tests use to drive every provider type through one
//! table.
//!
//! Tests script protocol-neutral [`Answer`]s and failures ([`Script`]); each mock renders them in
//! its own format, as JSON or as a stream depending on what the request asked for, checks the
//! request's address and credentials the way the real service would, and records every request.

pub mod anthropic;
pub mod azure;
pub mod bedrock;
pub mod cohere;
pub mod conformance;
pub mod endpoints;
pub mod eventstream;
mod expect;
mod fake;
pub mod gemini;
pub mod openai;
pub mod openai_api;
pub mod responses;
pub mod sigv4;
pub mod stream;
pub mod vertex;

pub use anthropic::AnthropicMock;
pub use azure::AzureMock;
pub use conformance::{Harness, Kind};
pub use expect::ClientError;
pub use fake::MockServer;
pub use gemini::GeminiMock;
pub use openai_api::OpenAiMock;
pub use responses::ResponsesStream;
pub use stream::{StreamSummary, StreamedCall};

use serde_json::Value;

/// Why an answer ended, in protocol-neutral terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
    ToolCalls,
}

impl Finish {
    /// The OpenAI `finish_reason` a client should see for this ending.
    pub fn openai(self) -> &'static str {
        match self {
            Finish::Stop => "stop",
            Finish::Length => "length",
            Finish::ToolCalls => "tool_calls",
        }
    }
}

/// Token counts in OpenAI's terms: `prompt` includes the `cached` (cache read) and `cache_write`
/// tokens, which Anthropic reports apart from its `input_tokens`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
}

/// One tool call of an answer; `arguments` is the JSON object the model produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: Value,
}

impl ToolCall {
    pub fn new(id: &str, name: &str, arguments: Value) -> ToolCall {
        ToolCall {
            id: id.to_owned(),
            name: name.to_owned(),
            arguments,
        }
    }
}

/// A successful answer, which every mock renders in its own protocol.
#[derive(Clone, Debug)]
pub struct Answer {
    pub id: String,
    pub text: String,
    pub reasoning: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish: Finish,
    pub tokens: Tokens,
}

impl Answer {
    /// A plain text answer that ends normally.
    pub fn text(text: &str) -> Answer {
        Answer {
            id: "resp_0001".to_owned(),
            text: text.to_owned(),
            reasoning: String::new(),
            tool_calls: Vec::new(),
            finish: Finish::Stop,
            tokens: Tokens {
                prompt: 21,
                completion: 9,
                ..Tokens::default()
            },
        }
    }

    /// An answer that only calls tools.
    pub fn tool_calls(calls: Vec<ToolCall>) -> Answer {
        Answer {
            tool_calls: calls,
            finish: Finish::ToolCalls,
            ..Answer::text("")
        }
    }

    pub fn with_reasoning(mut self, reasoning: &str) -> Answer {
        self.reasoning = reasoning.to_owned();
        self
    }

    pub fn with_finish(mut self, finish: Finish) -> Answer {
        self.finish = finish;
        self
    }

    pub fn with_tokens(mut self, tokens: Tokens) -> Answer {
        self.tokens = tokens;
        self
    }
}

/// What a mock does with one request.
#[derive(Clone, Debug)]
pub enum Script {
    /// Answers successfully: a JSON body, or a complete stream when the request streams.
    Answer(Answer),
    /// Streams the answer but stops before the protocol's final event(s).
    Truncated(Answer),
    /// An error status whose body is in the protocol's error shape; `kind` is the protocol's
    /// error type (Anthropic's `type`, Gemini's `status`, OpenAI's `type`, Azure's `code`).
    Error {
        status: u16,
        kind: String,
        message: String,
    },
    /// A `200` event stream whose first event is an error in the protocol's shape.
    StreamError {
        status: u16,
        kind: String,
        message: String,
    },
}

impl Script {
    pub fn error(status: u16, kind: &str, message: &str) -> Script {
        Script::Error {
            status,
            kind: kind.to_owned(),
            message: message.to_owned(),
        }
    }

    pub fn stream_error(status: u16, kind: &str, message: &str) -> Script {
        Script::StreamError {
            status,
            kind: kind.to_owned(),
            message: message.to_owned(),
        }
    }
}

/// Splits text into words for stream deltas, each space kept at the start of the next word, so
/// that concatenating the pieces gives the text back.
pub fn words(text: &str) -> Vec<String> {
    let mut pieces: Vec<String> = Vec::new();
    for (i, word) in text.split(' ').enumerate() {
        if i == 0 {
            pieces.push(word.to_owned());
        } else {
            pieces.push(format!(" {word}"));
        }
    }
    pieces.retain(|p| !p.is_empty());
    pieces
}

/// Splits text into `n` pieces of about equal length (at character boundaries), so that a JSON
/// document arrives in fragments that are not valid JSON on their own.
pub fn fragments(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let size = chars.len().div_ceil(n.max(1)).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::{fragments, words};

    #[test]
    fn splitting_keeps_every_character() {
        assert_eq!(words("a quick fox"), ["a", " quick", " fox"]);
        assert!(words("").is_empty());
        let json = r#"{"city":"Paris"}"#;
        let parts = fragments(json, 3);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts.concat(), json);
    }
}
