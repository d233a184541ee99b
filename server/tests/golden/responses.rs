//! Golden files of OpenAI's Responses API served through chat completions: a Codex request as
//! chat, a chat completion as a `response` object, and a chat stream as Responses events.

use serde_json::json;
use switchyard::protocols::openai::OpenAiDecoder;
use switchyard::protocols::responses::{self, RequestEcho, ResponsesEncoder};

use crate::{check, run_stream};

#[test]
fn responses_request_to_chat() {
    check("responses_to_chat_request", |input| {
        responses::to_chat(input).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn chat_completion_to_responses_response() {
    check("openai_to_responses_response", |input| {
        let echo = RequestEcho::new(&input["request"]);
        responses::from_chat_with(&input["completion"], "gpt-5-codex", &echo)
    });
}

#[test]
fn chat_stream_to_responses_events() {
    check("openai_stream_to_responses", |input| {
        run_stream(
            input,
            Box::new(OpenAiDecoder::default()),
            Box::new(ResponsesEncoder::with_echo(
                input["request"]["model"]
                    .as_str()
                    .expect("the request's model"),
                RequestEcho::new(&input["request"]),
            )),
        )
    });
}
