//! Golden files of Cohere's v2 chat API: a chat request as Cohere's, Cohere's answers as chat
//! completions, and Cohere's stream as chat chunks.

use serde_json::{Value, json};
use switchyard::protocols::cohere::{self, CohereDecoder};
use switchyard::protocols::openai::OpenAiEncoder;

use crate::{check, run_stream};

#[test]
fn openai_to_cohere_request() {
    check("openai_to_cohere_request", |input| {
        cohere::request(input, "command-a-reasoning-08-2025")
            .unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn cohere_to_openai_response() {
    // One answer with text and thinking, one with a tool plan and tool calls.
    check("cohere_to_openai_response", |input| {
        Value::Array(
            input
                .as_array()
                .expect("answers")
                .iter()
                .map(|answer| cohere::response(answer, "command-a-reasoning-08-2025").0)
                .collect(),
        )
    });
}

#[test]
fn cohere_stream_to_openai_chunks() {
    check("cohere_stream_to_openai", |input| {
        run_stream(
            input,
            Box::new(CohereDecoder::new("command-a-03-2025")),
            Box::new(OpenAiEncoder::new(true)),
        )
    });
}
