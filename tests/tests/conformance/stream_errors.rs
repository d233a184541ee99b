//! A provider's error event at the start of a stream must reach the client with the same
//! `error.code` as the same error sent as a status, for each provider type with a stream error
//! of its own shape (see `Kind::busy_stream_error`).

use switchyard_tests::providers::{Harness, Kind};

use super::go_stream;

/// Asserts the code of the error a stream of `kind` starts with.
async fn stream_error_code(kind: Kind) {
    let h = Harness::start(kind).await;
    let (script, expected) = kind.busy_stream_error();
    h.script_always(script);
    let error = h.stream_answer(&go_stream()).await.openai_error();
    assert_eq!(error["code"], expected.code, "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openai_stream_error_event_keeps_its_code() {
    stream_error_code(Kind::OpenAi).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_stream_error_event_keeps_its_code() {
    stream_error_code(Kind::Anthropic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_stream_error_event_keeps_its_code() {
    stream_error_code(Kind::Gemini).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vertex_stream_error_event_keeps_its_code() {
    stream_error_code(Kind::Vertex).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_stream_error_event_keeps_its_code() {
    stream_error_code(Kind::Bedrock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohere_stream_error_event_keeps_its_code() {
    stream_error_code(Kind::Cohere).await;
}
