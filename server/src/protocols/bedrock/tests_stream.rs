//! Tests of the ConverseStream decoder, fed through the event-stream transcoder and the SSE
//! parser as the gateway would: a text stream, a tool-use stream, reasoning, exceptions.

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};

use super::tests_eventstream::{event, frame};
use super::{BedrockDecoder, EventStreamTranscoder};
use crate::sse::SseParser;
use crate::stream::{Decoder, StreamItem, malformed};
use crate::usage::Usage;

/// Runs frames through the transcoder, the SSE parser and the decoder; returns the items and
/// whether the decoder finished.
fn decode(frames: &[Vec<u8>]) -> (Vec<StreamItem>, bool) {
    let mut transcoder = EventStreamTranscoder::new();
    let mut parser = SseParser::default();
    let mut decoder = BedrockDecoder::new("anthropic.claude-3-haiku-20240307-v1:0");
    let mut items = Vec::new();
    for bytes in frames {
        let mut sse = BytesMut::new();
        transcoder.push(bytes, &mut sse).expect("valid frames");
        let mut events = Vec::new();
        parser.push(sse.freeze(), &mut events).expect("small");
        for event in &events {
            decoder.event(event, &mut items);
        }
    }
    transcoder.finish().expect("whole frames");
    (items, decoder.finished())
}

/// The deltas of the chunks, and the finish reasons that are set.
fn deltas(items: &[StreamItem]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|item| match item {
            StreamItem::Chunk(chunk) => {
                assert_eq!(chunk["object"], "chat.completion.chunk");
                assert_eq!(chunk["model"], "anthropic.claude-3-haiku-20240307-v1:0");
                let choice = &chunk["choices"][0];
                Some(match choice["finish_reason"].as_str() {
                    Some(reason) => json!({"finish_reason": reason}),
                    None => choice["delta"].clone(),
                })
            }
            _ => None,
        })
        .collect()
}

fn metadata(input: u64, output: u64) -> Vec<u8> {
    event(
        "metadata",
        &json!({"usage": {"inputTokens": input, "outputTokens": output,
            "totalTokens": input + output, "cacheReadInputTokens": 4},
            "metrics": {"latencyMs": 512}}),
    )
}

#[test]
fn a_text_stream() {
    let (items, finished) = decode(&[
        event("messageStart", &json!({"role": "assistant", "p": "abcd"})),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "Hel"}, "p": "abcdefgh"}),
        ),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "lo"}}),
        ),
        event("contentBlockStop", &json!({"contentBlockIndex": 0})),
        event("messageStop", &json!({"stopReason": "end_turn"})),
        metadata(10, 2),
    ]);
    assert!(finished);
    assert_eq!(
        deltas(&items),
        [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Hel"}),
            json!({"content": "lo"}),
            json!({"finish_reason": "stop"}),
        ]
    );
    let tail = &items[items.len() - 2..];
    assert_eq!(
        tail,
        [
            StreamItem::Usage(Usage {
                prompt_tokens: 14,
                completion_tokens: 2,
                cached_prompt_tokens: 4,
                ..Usage::default()
            }),
            StreamItem::Done
        ]
    );
}

#[test]
fn a_tool_use_stream() {
    let (items, finished) = decode(&[
        event("messageStart", &json!({"role": "assistant"})),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "Let me look."}}),
        ),
        event("contentBlockStop", &json!({"contentBlockIndex": 0})),
        event(
            "contentBlockStart",
            &json!({"contentBlockIndex": 1, "start": {"toolUse": {"toolUseId": "tooluse_abc", "name": "get_weather"}}}),
        ),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "{\"city\":"}}}),
        ),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 1, "delta": {"toolUse": {"input": "\"Paris\"}"}}}),
        ),
        event("contentBlockStop", &json!({"contentBlockIndex": 1})),
        event(
            "contentBlockStart",
            &json!({"contentBlockIndex": 2, "start": {"toolUse": {"toolUseId": "tooluse_def", "name": "get_time"}}}),
        ),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 2, "delta": {"toolUse": {"input": "{}"}}}),
        ),
        event("contentBlockStop", &json!({"contentBlockIndex": 2})),
        event("messageStop", &json!({"stopReason": "tool_use"})),
        metadata(30, 20),
    ]);
    assert!(finished);
    assert_eq!(
        deltas(&items),
        [
            json!({"role": "assistant", "content": ""}),
            json!({"content": "Let me look."}),
            json!({"tool_calls": [{"index": 0, "id": "tooluse_abc", "type": "function",
                "function": {"name": "get_weather", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"city\":"}}]}),
            json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"Paris\"}"}}]}),
            json!({"tool_calls": [{"index": 1, "id": "tooluse_def", "type": "function",
                "function": {"name": "get_time", "arguments": ""}}]}),
            json!({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
            json!({"finish_reason": "tool_calls"}),
        ]
    );
}

#[test]
fn reasoning_deltas_become_reasoning_content() {
    let (items, _) = decode(&[
        event("messageStart", &json!({"role": "assistant"})),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Think."}}}),
        ),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "c2ln"}}}),
        ),
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 1, "delta": {"text": "4"}}),
        ),
        event("messageStop", &json!({"stopReason": "max_tokens"})),
        metadata(5, 5),
    ]);
    assert_eq!(
        deltas(&items)[1..],
        [
            json!({"reasoning_content": "Think."}),
            json!({"content": "4"}),
            json!({"finish_reason": "length"}),
        ]
    );
}

#[test]
fn the_stream_is_finished_only_with_both_stop_and_usage() {
    let (items, finished) = decode(&[
        event("messageStart", &json!({"role": "assistant"})),
        event("messageStop", &json!({"stopReason": "end_turn"})),
    ]);
    assert!(!finished, "metadata is still to come");
    assert!(!items.iter().any(|i| matches!(i, StreamItem::Done)));

    // Metadata first (not what Bedrock does, but nothing is lost if it happens).
    let (items, finished) = decode(&[
        event("messageStart", &json!({"role": "assistant"})),
        metadata(1, 1),
        event("messageStop", &json!({"stopReason": "end_turn"})),
    ]);
    assert!(finished);
    assert_eq!(items.last(), Some(&StreamItem::Done));
}

#[test]
fn an_exception_ends_the_stream_with_an_error() {
    let exception = frame(
        &[
            (":exception-type", "modelStreamErrorException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        br#"{"message":"The model stream failed","originalStatusCode":500}"#,
    );
    let (items, finished) = decode(&[
        event("messageStart", &json!({"role": "assistant"})),
        exception,
        event(
            "contentBlockDelta",
            &json!({"contentBlockIndex": 0, "delta": {"text": "late"}}),
        ),
    ]);
    assert!(finished);
    assert_eq!(items.len(), 2, "nothing after the error: {items:?}");
    assert_eq!(
        items[1],
        StreamItem::Error(
            json!({"message": "The model stream failed", "type": "api_error",
            "param": null, "code": "ModelStreamErrorException"})
        )
    );

    let throttled = frame(
        &[
            (":exception-type", "throttlingException"),
            (":message-type", "exception"),
        ],
        br#"{"message":"Too many requests"}"#,
    );
    let (items, _) = decode(&[throttled]);
    let StreamItem::Error(error) = &items[0] else {
        panic!("an error: {items:?}");
    };
    assert_eq!(error["type"], "rate_limit_exceeded");
}

#[test]
fn malformed_events_are_errors() {
    let not_json = frame(
        &[
            (":message-type", "event"),
            (":event-type", "contentBlockDelta"),
        ],
        b"{not json",
    );
    let orphan_tool_delta = event(
        "contentBlockDelta",
        &json!({"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
    );
    let nameless_tool = event(
        "contentBlockStart",
        &json!({"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "t"}}}),
    );
    for bad in [not_json, orphan_tool_delta, nameless_tool] {
        let (items, finished) = decode(&[bad]);
        assert!(finished);
        assert_eq!(items.last(), Some(&StreamItem::Error(malformed())));
    }
}

#[test]
fn sse_events_the_transcoder_wrote_by_hand_decode_too() {
    // The decoder reads SSE, whoever wrote it: events split over several parser pushes.
    let mut parser = SseParser::default();
    let mut decoder = BedrockDecoder::new("m");
    let mut events = Vec::new();
    for piece in [
        "event: messageStart\ndata: {\"role\":\"assistant\"}\n\nevent: contentBlockDelta\nda",
        "ta: {\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hi\"}}\n\n",
        "event: contentBlockStop\ndata: {\"contentBlockIndex\":0}\n\n",
    ] {
        parser
            .push(Bytes::from_static(piece.as_bytes()), &mut events)
            .expect("small");
    }
    let mut items = Vec::new();
    for event in &events {
        decoder.event(event, &mut items);
    }
    assert_eq!(items.len(), 2);
    assert!(!decoder.finished());
}
