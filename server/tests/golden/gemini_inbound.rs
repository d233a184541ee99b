//! Golden files of the Gemini API served to Gemini clients (google-genai) through chat
//! completions: a request as chat, and a chat completion and a chat stream as Gemini's answers.

use serde_json::json;
use switchyard::protocols::gemini::inbound;
use switchyard::protocols::openai::OpenAiDecoder;

use crate::{check, run_stream};

#[test]
fn gemini_inbound_request_to_chat() {
    check("gemini_inbound_to_chat_request", |input| {
        json!({
            "generateContent": inbound::to_chat(input, "gemini-2.5-flash", false)
                .unwrap_or_else(|e| json!({"error": e})),
            "streamGenerateContent": inbound::to_chat(input, "gemini-2.5-flash", true)
                .map(|chat| json!({"stream": chat["stream"], "stream_options": chat["stream_options"]}))
                .unwrap_or_else(|e| json!({"error": e})),
        })
    });
}

#[test]
fn chat_completion_to_gemini_response() {
    check("openai_to_gemini_inbound_response", |input| {
        inbound::from_chat(input, "gemini-2.5-flash")
    });
}

#[test]
fn chat_stream_to_gemini_events() {
    check("openai_stream_to_gemini_inbound", |input| {
        run_stream(
            input,
            Box::new(OpenAiDecoder::default()),
            Box::new(inbound::GeminiEncoder::new("gemini-2.5-flash")),
        )
    });
}

#[test]
fn gemini_inbound_thinking_request_names_the_completion_budget_for_reasoning_models() {
    check("gemini_inbound_thinking_budget_to_chat", |input| {
        inbound::to_chat(input, "gemini-2.5-flash", false).unwrap_or_else(|e| json!({"error": e}))
    });
}
