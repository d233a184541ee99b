//! Replaying stored answers: streams event by event, and each mode serving the other in both
//! client protocols, checked against what a request in that mode would have been sent.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::HeaderValue;
use http_body_util::BodyExt;
use serde_json::{Value, json};

use super::*;
use crate::protocols::anthropic::AnthropicEncoder;
use crate::protocols::anthropic::inbound::from_openai_response;
use crate::protocols::openai::OpenAiDecoder;
use crate::sse::{SseEvent, SseParser};
use crate::stream::{Decoder, Encoder};

const USAGE: Usage = Usage {
    prompt_tokens: 9,
    completion_tokens: 2,
    cached_prompt_tokens: 0,
    reasoning_tokens: 0,
    cache_write_tokens: 0,
};

fn stored(client: ClientApi, stream: bool, frames: Vec<Bytes>) -> CachedAnswer {
    let content_type = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    CachedAnswer {
        route: Arc::from("chat"),
        provider: Arc::from("p"),
        model: "m".into(),
        stored_at_ms: 0,
        ttl_ms: 60_000,
        client,
        stream,
        frames,
        usage: USAGE,
        cost_micros: None,
        status: 200,
        content_type: HeaderValue::from_static(content_type),
    }
}

fn plain(client: ClientApi, body: &Value) -> CachedAnswer {
    stored(client, false, vec![Bytes::from(body.to_string())])
}

/// Stored the way a proxy might have sent it: all events in one frame.
fn streamed(client: ClientApi, frames: &[Bytes]) -> CachedAnswer {
    stored(client, true, vec![Bytes::from(frames.concat())])
}

fn openai_sse(chunks: &[Value]) -> Vec<Bytes> {
    let mut frames: Vec<Bytes> = chunks
        .iter()
        .map(|c| Bytes::from(format!("data: {c}\n\n")))
        .collect();
    frames.push(Bytes::from_static(b"data: [DONE]\n\n"));
    frames
}

fn anthropic_sse(events: &[Value]) -> Vec<Bytes> {
    let name = |e: &Value| e["type"].as_str().unwrap_or_default().to_owned();
    events
        .iter()
        .map(|e| Bytes::from(format!("event: {}\ndata: {e}\n\n", name(e))))
        .collect()
}

fn chunk(delta: Value, finish: Value) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
           "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
           "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]})
}

fn usage_chunk() -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000,
           "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1", "choices": [],
           "usage": USAGE.to_openai()})
}

fn completion(message: Value, finish: &str) -> Value {
    json!({"id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000,
           "model": "gpt-4o-2024-08-06", "system_fingerprint": "fp_1",
           "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
           "usage": USAGE.to_openai()})
}

/// A text answer as OpenAI streams it and as it answers a plain request.
fn openai_text() -> (Vec<Bytes>, Value) {
    let stream = openai_sse(&[
        chunk(
            json!({"role": "assistant", "content": "", "refusal": null}),
            Value::Null,
        ),
        chunk(json!({"content": "Hello"}), Value::Null),
        chunk(json!({"content": " world"}), Value::Null),
        chunk(json!({}), json!("stop")),
        usage_chunk(),
    ]);
    let message = json!({"role": "assistant", "content": "Hello world", "refusal": null});
    (stream, completion(message, "stop"))
}

fn openai_tool() -> (Vec<Bytes>, Value) {
    let call = |value: Value| json!({"tool_calls": [value]});
    let stream = openai_sse(&[
        chunk(
            json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
                {"index": 0, "id": "call_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": ""}}]}),
            Value::Null,
        ),
        chunk(
            call(json!({"index": 0, "function": {"arguments": "{\"city\":"}})),
            Value::Null,
        ),
        chunk(
            call(json!({"index": 0, "function": {"arguments": "\"Paris\"}"}})),
            Value::Null,
        ),
        chunk(json!({}), json!("tool_calls")),
        usage_chunk(),
    ]);
    let message = json!({"role": "assistant", "content": null, "refusal": null, "tool_calls": [
        {"id": "call_1", "type": "function",
         "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]});
    (stream, completion(message, "tool_calls"))
}

fn message(content: Value, stop: &str, output_tokens: u64) -> Value {
    json!({"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
           "content": content, "stop_reason": stop, "stop_sequence": null,
           "usage": {"input_tokens": 9, "cache_creation_input_tokens": 0,
                     "cache_read_input_tokens": 0, "output_tokens": output_tokens}})
}

/// Anthropic's events for `blocks` (each a start block and its deltas).
fn anthropic_events(blocks: &[(Value, Vec<Value>)], stop: &str, output_tokens: u64) -> Vec<Bytes> {
    let mut start = message(json!([]), stop, 1);
    start["stop_reason"] = Value::Null;
    let mut events = vec![
        json!({"type": "message_start", "message": start}),
        json!({"type": "ping"}),
    ];
    for (index, (block, deltas)) in blocks.iter().enumerate() {
        events.push(json!({"type": "content_block_start", "index": index, "content_block": block}));
        for delta in deltas {
            events.push(json!({"type": "content_block_delta", "index": index, "delta": delta}));
        }
        events.push(json!({"type": "content_block_stop", "index": index}));
    }
    events.push(
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
                       "usage": {"output_tokens": output_tokens}}),
    );
    events.push(json!({"type": "message_stop"}));
    anthropic_sse(&events)
}

fn anthropic_text() -> (Vec<Bytes>, Value) {
    let text = |t: &str| json!({"type": "text_delta", "text": t});
    let stream = anthropic_events(
        &[(
            json!({"type": "text", "text": ""}),
            vec![text("Hello"), text(" world")],
        )],
        "end_turn",
        2,
    );
    let answer = message(
        json!([{"type": "text", "text": "Hello world"}]),
        "end_turn",
        2,
    );
    (stream, answer)
}

fn anthropic_tool() -> (Vec<Bytes>, Value) {
    let json_delta = |p: &str| json!({"type": "input_json_delta", "partial_json": p});
    let stream = anthropic_events(
        &[
            (
                json!({"type": "text", "text": ""}),
                vec![json!({"type": "text_delta", "text": "Let me check."})],
            ),
            (
                json!({"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}),
                vec![
                    json_delta(""),
                    json_delta("{\"city\": "),
                    json_delta("\"Paris\"}"),
                ],
            ),
        ],
        "tool_use",
        12,
    );
    let answer = message(
        json!([{"type": "text", "text": "Let me check."},
               {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]),
        "tool_use",
        12,
    );
    (stream, answer)
}

fn events_of(frames: &[Bytes]) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    for frame in frames {
        parser
            .push(frame.clone(), &mut events)
            .expect("small events");
    }
    assert!(parser.is_empty(), "every frame ends on an event boundary");
    events
}

fn json_body(body: ReplayBody) -> Value {
    assert_eq!(body.frame_count(), 1);
    assert_eq!(body.content_type(), "application/json");
    serde_json::from_slice(&body.into_frames().concat()).expect("JSON")
}

/// Serves `stored` as a stream, then checks that stream assembles back into `expected`.
fn round_trip(client: ClientApi, stored: &CachedAnswer, expected: &Value) -> Vec<Bytes> {
    let body = replay(stored, true, true).expect("replays as a stream");
    assert_eq!(body.content_type(), "text/event-stream");
    let frames = body.into_frames();
    for frame in &frames {
        assert_eq!(
            events_of(std::slice::from_ref(frame)).len(),
            1,
            "one event per frame"
        );
    }
    let again = json_body(replay(&streamed(client, &frames), false, false).expect("assembles"));
    assert_eq!(&again, expected);
    frames
}

#[tokio::test]
async fn a_stored_stream_is_replayed_one_event_per_frame() {
    let (frames, _) = openai_text();
    // Stored cut anywhere (here mid-event): the replay is still one frame per event.
    let all = Bytes::from(frames.concat());
    let stored = stored(
        ClientApi::OpenAi,
        true,
        vec![all.slice(..50), all.slice(50..)],
    );
    let mut body = replay(&stored, true, true).expect("replays");
    assert_eq!(body.frame_count(), frames.len());
    let mut sent = Vec::new();
    while let Some(frame) = body.frame().await {
        sent.push(frame.expect("infallible").into_data().expect("data"));
    }
    assert_eq!(sent, frames, "the same events, byte for byte");

    let (frames, _) = anthropic_tool();
    let body = replay(&streamed(ClientApi::Anthropic, &frames), true, false).expect("replays");
    assert_eq!(body.into_frames(), frames);
}

#[test]
fn a_plain_answer_is_replayed_as_its_body() {
    let (_, answer) = openai_text();
    let stored = plain(ClientApi::OpenAi, &answer);
    let body = replay(&stored, false, false).expect("replays");
    assert_eq!(body.into_frames(), stored.frames);
}

#[test]
fn openai_streams_serve_plain_requests_as_the_completion() {
    for (frames, completion) in [openai_text(), openai_tool()] {
        let body = replay(&streamed(ClientApi::OpenAi, &frames), false, false).expect("assembles");
        assert_eq!(json_body(body), completion);
    }
}

#[test]
fn openai_completions_serve_stream_requests_as_chunks() {
    for (_, completion) in [openai_text(), openai_tool()] {
        let frames = round_trip(
            ClientApi::OpenAi,
            &plain(ClientApi::OpenAi, &completion),
            &completion,
        );
        let events = events_of(&frames);
        let data: Vec<_> = events.iter().map(|e| e.data().into_owned()).collect();
        assert!(data[0].contains("\"role\":\"assistant\""));
        assert_eq!(data.last().map(String::as_str), Some("[DONE]"));
        assert!(
            data[data.len() - 2].contains("\"choices\":[]"),
            "usage chunk last"
        );
        let without = replay(&plain(ClientApi::OpenAi, &completion), true, false).expect("ok");
        assert_eq!(
            without.frame_count(),
            frames.len() - 1,
            "no usage chunk unasked"
        );
    }
}

#[test]
fn anthropic_streams_serve_plain_requests_as_the_message() {
    for (frames, message) in [anthropic_text(), anthropic_tool()] {
        let body =
            replay(&streamed(ClientApi::Anthropic, &frames), false, false).expect("assembles");
        assert_eq!(json_body(body), message);
    }
}

#[test]
fn anthropic_messages_serve_stream_requests_as_events() {
    for (_, message) in [anthropic_text(), anthropic_tool()] {
        let frames = round_trip(
            ClientApi::Anthropic,
            &plain(ClientApi::Anthropic, &message),
            &message,
        );
        let names: Vec<_> = events_of(&frames)
            .iter()
            .map(|e| e.name().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("message_start"));
        assert_eq!(names[names.len() - 2..], ["message_delta", "message_stop"]);
        let blocks = message["content"].as_array().map_or(0, Vec::len);
        let starts = names.iter().filter(|n| *n == "content_block_start").count();
        assert_eq!(starts, blocks);
    }
}

/// An Anthropic client of an OpenAI provider: the stream it was sent (the gateway's encoder) must
/// assemble into what the gateway sends such a client for a plain request.
#[test]
fn translated_anthropic_streams_assemble_into_the_translated_message() {
    for (openai_frames, completion) in [openai_text(), openai_tool()] {
        let model = "gpt-4o-2024-08-06";
        let mut decoder = OpenAiDecoder::default();
        let mut encoder = AnthropicEncoder::new(model);
        let mut out = BytesMut::new();
        for event in events_of(&openai_frames) {
            let mut items = Vec::new();
            decoder.event(&event, &mut items);
            for item in items {
                encoder.item(item, &mut out);
            }
        }
        let stored = stored(ClientApi::Anthropic, true, vec![out.freeze()]);
        let (expected, _) = from_openai_response(&completion, model);
        assert_eq!(
            json_body(replay(&stored, false, false).expect("assembles")),
            expected
        );
    }
}

#[test]
fn openai_stream_replays_match_the_usage_chunk_the_client_asked_for() {
    let (frames, _) = openai_text();
    let with_usage = streamed(ClientApi::OpenAi, &frames);
    let body = replay(&with_usage, true, false).expect("replays");
    assert_eq!(body.frame_count(), frames.len() - 1);
    assert!(
        body.frames()
            .all(|f| !f.windows(7).any(|w| w == b"\"usage\""))
    );

    // Stored for a client that did not ask: the usage chunk comes back from the stored usage.
    let mut without = frames.clone();
    without.remove(frames.len() - 2);
    let body = replay(&streamed(ClientApi::OpenAi, &without), true, true).expect("replays");
    let frames_out = body.into_frames();
    assert_eq!(frames_out.len(), frames.len());
    let usage: Value = serde_json::from_str(
        events_of(&frames_out[frames_out.len() - 2..frames_out.len() - 1])[0]
            .data()
            .as_ref(),
    )
    .expect("JSON");
    assert_eq!(usage["usage"], USAGE.to_openai());
    assert_eq!(usage["id"], "chatcmpl-1");
}

#[test]
fn what_cannot_be_converted_is_an_error_not_a_wrong_answer() {
    let embeddings = json!({"object": "list", "data": [{"embedding": [0.1]}]});
    assert!(replay(&plain(ClientApi::OpenAi, &embeddings), true, false).is_err());
    assert!(replay(&plain(ClientApi::Anthropic, &embeddings), true, false).is_err());
    let failed = openai_sse(&[json!({"error": {"message": "boom"}})]);
    assert!(replay(&streamed(ClientApi::OpenAi, &failed), false, false).is_err());
}
