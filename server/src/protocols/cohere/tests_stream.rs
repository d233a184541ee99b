//! Cohere v2 chat streams, written as Cohere sends them (`event:` names, `data:` with the same
//! `type`), parsed into events and decoded.

use bytes::Bytes;
use serde_json::{Value, json};

use super::*;
use crate::protocols::ProviderProtocol;
use crate::sse::{SseEvent, SseParser};
use crate::stream::StreamItem;
use crate::usage::Usage;

/// SSE text for events given as `(type, data)`: named like Cohere names them, or only as data.
fn sse(events: &[Value], named: bool) -> String {
    events
        .iter()
        .map(|data| {
            let name = data["type"].as_str().expect("typed");
            if named {
                format!("event: {name}\ndata: {data}\n\n")
            } else {
                format!("data: {data}\n\n")
            }
        })
        .collect()
}

fn events_of(text: &str) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(Bytes::copy_from_slice(text.as_bytes()), &mut events)
        .expect("small events");
    events
}

/// Decodes a whole stream; returns the items and whether the decoder finished.
fn decode(text: &str) -> (Vec<StreamItem>, bool) {
    let mut decoder = CohereProvider.chat_decoder("command-a-03-2025");
    let mut items = Vec::new();
    for event in events_of(text) {
        decoder.event(&event, &mut items);
    }
    (items, decoder.finished())
}

fn deltas(items: &[StreamItem]) -> Vec<Value> {
    items
        .iter()
        .filter_map(|item| match item {
            StreamItem::Chunk(chunk) => Some(chunk["choices"][0]["delta"].clone()),
            _ => None,
        })
        .collect()
}

fn joined(items: &[StreamItem], key: &str) -> String {
    deltas(items)
        .iter()
        .filter_map(|delta| delta[key].as_str().map(str::to_owned))
        .collect()
}

fn message_start(id: &str) -> Value {
    json!({"id": id, "type": "message-start", "delta": {"message": {"role": "assistant",
        "content": [], "tool_plan": "", "tool_calls": [], "citations": []}}})
}

fn text_stream() -> Vec<Value> {
    vec![
        message_start("c9117d7f-a7e4-499f-b643-a2a1e139687b"),
        json!({"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "thinking", "thinking": ""}}}}),
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": "The user"}}}}),
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"thinking": " wants a sum."}}}}),
        json!({"type": "content-end", "index": 0}),
        json!({"type": "content-start", "index": 1, "delta": {"message": {"content": {"type": "text", "text": ""}}}}),
        json!({"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": "2 + 2"}}}, "logprobs": null}),
        json!({"type": "content-delta", "index": 1, "delta": {"message": {"content": {"text": " is 4."}}}}),
        json!({"type": "citation-start", "index": 0, "delta": {"message": {"citations": {"start": 0, "end": 5, "text": "2 + 2", "sources": []}}}}),
        json!({"type": "citation-end", "index": 0}),
        json!({"type": "content-end", "index": 1}),
        json!({"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": {
            "billed_units": {"input_tokens": 8, "output_tokens": 50},
            "tokens": {"input_tokens": 1394, "output_tokens": 54}, "cached_tokens": 1360}}}),
    ]
}

#[test]
fn text_and_thinking_stream_into_chunks() {
    for named in [true, false] {
        let mut text = sse(&text_stream(), named);
        text.push_str("data: [DONE]\n\n");
        let (items, finished) = decode(&text);
        assert!(finished);
        let StreamItem::Chunk(first) = &items[0] else {
            panic!("a chunk first: {items:?}");
        };
        assert_eq!(first["id"], "c9117d7f-a7e4-499f-b643-a2a1e139687b");
        assert_eq!(first["model"], "command-a-03-2025");
        assert_eq!(first["object"], "chat.completion.chunk");
        assert_eq!(first["choices"][0]["delta"]["role"], "assistant");
        assert_eq!(joined(&items, "reasoning_content"), "The user wants a sum.");
        assert_eq!(joined(&items, "content"), "2 + 2 is 4.");
        let n = items.len();
        let StreamItem::Chunk(last) = &items[n - 3] else {
            panic!("a finish chunk: {items:?}");
        };
        assert_eq!(last["choices"][0]["finish_reason"], "stop");
        assert_eq!(
            items[n - 2],
            StreamItem::Usage(Usage {
                prompt_tokens: 1394,
                completion_tokens: 54,
                cached_prompt_tokens: 1360,
                ..Usage::default()
            })
        );
        assert_eq!(items[n - 1], StreamItem::Done);
        assert_eq!(
            items.iter().filter(|i| matches!(i, StreamItem::Chunk(c) if c["choices"][0]["delta"]["role"] == "assistant")).count(),
            1,
            "one role chunk"
        );
    }
}

#[test]
fn the_event_name_is_read_when_the_data_has_no_type() {
    let text = "event: message-start\ndata: {\"id\":\"r1\"}\n\n\
        event: content-delta\ndata: {\"index\":0,\"delta\":{\"message\":{\"content\":{\"text\":\"ok\"}}}}\n\n\
        event: message-end\ndata: {\"delta\":{\"finish_reason\":\"MAX_TOKENS\",\"usage\":{\"tokens\":{\"input_tokens\":2,\"output_tokens\":1}}}}\n\n";
    let (items, finished) = decode(text);
    assert!(finished);
    assert_eq!(joined(&items, "content"), "ok");
    let finish: Vec<&Value> = items
        .iter()
        .filter_map(|item| match item {
            StreamItem::Chunk(chunk) => {
                chunk["choices"][0]["finish_reason"].as_str().map(|_| chunk)
            }
            _ => None,
        })
        .collect();
    assert_eq!(finish[0]["choices"][0]["finish_reason"], "length");
    assert_eq!(finish[0]["id"], "r1");
}

#[test]
fn parallel_tool_calls_stream_with_their_plan() {
    let mut events = vec![message_start("2941521a-b87a-45f6-9b0d-235fd66c3025")];
    for piece in ["I will", " check the weather."] {
        events.push(json!({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}}));
    }
    for (index, id, name, pieces) in [
        (
            0,
            "weather_e8p4pn45zt0t",
            "weather",
            ["{\"location\"", ": \"San Francisco\"}"],
        ),
        (
            1,
            "cityAttractions_pyxssbwnq9fq",
            "cityAttractions",
            ["{\"city\":", " \"San Francisco\"}"],
        ),
    ] {
        events.push(
            json!({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls":
            {"id": id, "type": "function", "function": {"name": name, "arguments": ""}}}}}),
        );
        for piece in pieces {
            events.push(json!({"type": "tool-call-delta", "index": index, "delta": {"message": {"tool_calls":
                {"function": {"arguments": piece}}}}}));
        }
        events.push(json!({"type": "tool-call-end", "index": index}));
    }
    events.push(
        json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL", "usage": {
        "billed_units": {"input_tokens": 119, "output_tokens": 44},
        "tokens": {"input_tokens": 1549, "output_tokens": 95}, "cached_tokens": 1504}}}),
    );
    let (items, finished) = decode(&sse(&events, true));
    assert!(finished);
    assert_eq!(joined(&items, "content"), "I will check the weather.");

    let calls: Vec<Value> = deltas(&items)
        .into_iter()
        .filter_map(|delta| delta.get("tool_calls").cloned())
        .flat_map(|calls| calls.as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(
        calls[0],
        json!({"index": 0, "id": "weather_e8p4pn45zt0t", "type": "function",
            "function": {"name": "weather", "arguments": ""}})
    );
    let arguments = |index: u64| -> String {
        calls
            .iter()
            .filter(|call| call["index"] == index)
            .filter_map(|call| call["function"]["arguments"].as_str())
            .collect()
    };
    assert_eq!(arguments(0), "{\"location\": \"San Francisco\"}");
    assert_eq!(arguments(1), "{\"city\": \"San Francisco\"}");
    assert_eq!(calls[3]["id"], "cityAttractions_pyxssbwnq9fq");
    let n = items.len();
    let StreamItem::Chunk(last) = &items[n - 3] else {
        panic!("a finish chunk before usage and done: {items:?}");
    };
    assert_eq!(last["choices"][0]["finish_reason"], "tool_calls");
    assert!(matches!(items[n - 2], StreamItem::Usage(usage) if usage.prompt_tokens == 1549));
}

#[test]
fn tool_calls_after_text_use_their_own_indexes() {
    // Content blocks and tool calls share Cohere's `index`; the tool call's index still maps to
    // OpenAI's first tool call, and an array-shaped `tool_calls` is read as well.
    let events = vec![
        message_start("m1"),
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Let me see."}}}}),
        json!({"type": "tool-call-start", "index": 1, "delta": {"message": {"tool_calls":
            [{"id": "now_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}]}}}),
        json!({"type": "tool-call-delta", "delta": {"message": {"tool_calls": {"function": {"arguments": ""}}}}}),
        json!({"type": "tool-call-end", "index": 1}),
        json!({"type": "message-end", "delta": {"finish_reason": "TOOL_CALL"}}),
    ];
    let (items, finished) = decode(&sse(&events, true));
    assert!(finished);
    let calls: Vec<Value> = deltas(&items)
        .into_iter()
        .filter_map(|delta| delta.get("tool_calls").cloned())
        .collect();
    assert_eq!(calls.len(), 1, "an empty arguments delta writes nothing");
    assert_eq!(calls[0][0]["index"], 0);
    assert_eq!(calls[0][0]["function"]["arguments"], "{}");
}

#[test]
fn an_error_at_the_end_fails_the_stream_after_its_usage() {
    let events = vec![
        message_start("m1"),
        json!({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": "Half"}}}}),
        json!({"type": "message-end", "delta": {"finish_reason": "ERROR",
            "error": "internal server error, this has been reported to our developers",
            "usage": {"tokens": {"input_tokens": 10, "output_tokens": 1}}}}),
    ];
    let (items, finished) = decode(&sse(&events, true));
    assert!(finished);
    let n = items.len();
    assert!(matches!(items[n - 2], StreamItem::Usage(usage) if usage.completion_tokens == 1));
    let StreamItem::Error(error) = &items[n - 1] else {
        panic!("an error last: {items:?}");
    };
    assert_eq!(
        error["message"],
        "internal server error, this has been reported to our developers"
    );
    assert_eq!(error["code"], "error");

    let timeout = sse(
        &[json!({"type": "message-end", "delta": {"finish_reason": "TIMEOUT"}})],
        true,
    );
    let (items, _) = decode(&timeout);
    assert!(matches!(items.last(), Some(StreamItem::Error(error)) if error["code"] == "timeout"));
}

#[test]
fn broken_streams_are_errors() {
    // Garbage data is malformed, and nothing is read after it.
    let (items, finished) = decode(
        "event: message-start\ndata: {\"type\":\"message-start\",\"id\":\"m\"}\n\n\
         event: content-delta\ndata: {not json\n\n\
         event: message-end\ndata: {\"type\":\"message-end\",\"delta\":{\"finish_reason\":\"COMPLETE\"}}\n\n",
    );
    assert!(finished);
    assert!(
        matches!(items.last(), Some(StreamItem::Error(error)) if error["code"] == "malformed_chunk")
    );
    assert!(!items.contains(&StreamItem::Done));

    // Arguments for a call that never started.
    let (items, _) = decode(&sse(
        &[
            json!({"type": "tool-call-delta", "delta": {"message": {"tool_calls": {"function": {"arguments": "{"}}}}}),
        ],
        true,
    ));
    assert!(
        matches!(items.last(), Some(StreamItem::Error(error)) if error["code"] == "malformed_chunk")
    );

    // An error body sent down the stream.
    let (items, finished) = decode(
        "data: {\"message\":\"You are using a Trial key, which is limited to 1000 API calls / month.\"}\n\n",
    );
    assert!(finished);
    assert!(
        matches!(items.last(), Some(StreamItem::Error(error)) if error["code"] == "insufficient_quota")
    );

    // A stream cut before message-end is not finished (the stage reports it truncated).
    let mut cut = text_stream();
    cut.pop();
    let (items, finished) = decode(&sse(&cut, true));
    assert!(!finished);
    assert!(
        !items
            .iter()
            .any(|item| matches!(item, StreamItem::Done | StreamItem::Error(_)))
    );
}
