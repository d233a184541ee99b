//! Golden files of AWS Bedrock's Converse API: a chat request as Converse, a Converse answer as a
//! chat completion, and a ConverseStream answer (AWS's binary event stream, built here frame by
//! frame from the file's events) as chat chunks.

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};
use switchyard::protocols::bedrock::{self, BedrockDecoder, EventStreamTranscoder};
use switchyard::protocols::openai::OpenAiEncoder;
use switchyard::sse::SseParser;

use crate::{as_json, check, run_events};

/// The model the requests go to: a Claude inference profile, which takes extended thinking.
const CLAUDE: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

#[test]
fn openai_to_bedrock_request() {
    check("openai_to_bedrock_request", |input| {
        bedrock::request(input, CLAUDE).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn openai_to_bedrock_request_with_thinking() {
    check("openai_to_bedrock_request_thinking", |input| {
        bedrock::request(input, CLAUDE).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn bedrock_to_openai_response() {
    check("bedrock_to_openai_response", |input| {
        let (completion, usage) = bedrock::response(input, CLAUDE);
        json!({"completion": completion, "metered": usage_json(usage)})
    });
}

#[test]
fn bedrock_stream_to_openai_chunks() {
    check("bedrock_stream_to_openai", run_event_stream);
}

#[test]
fn bedrock_stream_exception_ends_with_an_error() {
    check("bedrock_stream_exception", run_event_stream);
}

fn usage_json(usage: switchyard::usage::Usage) -> Value {
    json!({
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cached_prompt_tokens": usage.cached_prompt_tokens,
        "cache_write_tokens": usage.cache_write_tokens,
    })
}

/// Encodes one event-stream frame (AWS calls it a message) with string headers: the prelude
/// (total and headers length, their CRC32), the headers, the payload and the CRC32 of it all.
fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(u8::try_from(name.len()).expect("a short header name"));
        block.extend_from_slice(name.as_bytes());
        // Type 7: a string, its length a big-endian u16.
        block.push(7);
        block.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
        block.extend_from_slice(value.as_bytes());
    }
    let total = u32::try_from(12 + block.len() + payload.len() + 4).expect("a small frame");
    let headers_len = u32::try_from(block.len()).expect("small headers");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&total.to_be_bytes());
    bytes.extend_from_slice(&headers_len.to_be_bytes());
    let prelude_crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&prelude_crc.to_be_bytes());
    bytes.extend_from_slice(&block);
    bytes.extend_from_slice(payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes
}

/// A frame for one of the file's frames: `{"event": type, "payload": …}` as ConverseStream sends
/// events, `{"exception": type, "payload": …}` as it sends modelled exceptions.
fn frame_of(spec: &Value) -> Vec<u8> {
    let payload = spec["payload"].to_string();
    if let Some(event) = spec["event"].as_str() {
        return frame(
            &[
                (":event-type", event),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            payload.as_bytes(),
        );
    }
    let exception = spec["exception"]
        .as_str()
        .expect("an event or an exception");
    frame(
        &[
            (":exception-type", exception),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.as_bytes(),
    )
}

/// The file's frames as bytes, cut every `split` bytes as the network might deliver them, read
/// by the transcoder; returns the SSE events it wrote and what a chat client reads of them.
fn run_event_stream(input: &Value) -> Value {
    let bytes: Vec<u8> = input["frames"]
        .as_array()
        .expect("frames")
        .iter()
        .flat_map(frame_of)
        .collect();
    let split = input["split"]
        .as_u64()
        .and_then(|n| usize::try_from(n).ok())
        .expect("split");
    let mut transcoder = EventStreamTranscoder::new();
    let mut sse = BytesMut::new();
    for piece in bytes.chunks(split) {
        transcoder
            .push(piece, &mut sse)
            .expect("well-formed frames");
    }
    transcoder.finish().expect("whole frames");
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(Bytes::from(sse), &mut events)
        .expect("events within the size limit");
    events.extend(parser.finish());
    json!({
        "transcoded": as_json(&events),
        "client": run_events(
            &events,
            Box::new(BedrockDecoder::new(CLAUDE)),
            Box::new(OpenAiEncoder::new(true)),
        ),
    })
}
