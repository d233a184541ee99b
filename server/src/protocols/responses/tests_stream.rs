//! Tests of the Responses API stream encoder.

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};

use super::*;
use crate::sse::{SseEvent, SseParser};
use crate::stream::{Encoder, StreamItem, truncated};
use crate::usage::Usage;

pub(super) fn events_of(bytes: &[u8]) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(Bytes::copy_from_slice(bytes), &mut events)
        .expect("small events");
    events
}

/// Runs items through an encoder; returns each event's data, checking that every event is named
/// by its `type` and that sequence numbers count up from 0.
fn encode(encoder: &mut ResponsesEncoder, items: Vec<StreamItem>) -> Vec<Value> {
    let mut out = BytesMut::new();
    for item in items {
        encoder.item(item, &mut out);
    }
    let events: Vec<Value> = events_of(&out)
        .iter()
        .map(|event| {
            let data: Value = serde_json::from_str(&event.data()).expect("JSON data");
            assert_eq!(event.name(), data["type"].as_str(), "event name = type");
            data
        })
        .collect();
    for (expected, event) in events.iter().enumerate() {
        assert_eq!(event["sequence_number"], expected, "{event}");
    }
    events
}

fn names(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["type"].as_str()).collect()
}

fn chunk(delta: Value, finish_reason: Option<&str>) -> StreamItem {
    StreamItem::Chunk(
        json!({"id": "chatcmpl-7", "object": "chat.completion.chunk",
        "created": 1741290958, "model": "upstream",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]}),
    )
}

fn usage_item() -> StreamItem {
    StreamItem::Usage(Usage {
        prompt_tokens: 37,
        completion_tokens: 11,
        cached_prompt_tokens: 5,
        ..Usage::default()
    })
}

#[test]
fn a_text_stream() {
    let events = encode(
        &mut ResponsesEncoder::new("fast"),
        vec![
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "Hel"}), None),
            chunk(json!({"content": "lo"}), None),
            chunk(json!({}), Some("stop")),
            usage_item(),
            StreamItem::Done,
            // Nothing follows the end.
            chunk(json!({"content": "late"}), None),
        ],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let created = &events[0]["response"];
    assert_eq!(
        (&created["id"], &created["status"], &created["model"]),
        (
            &json!("resp_chatcmpl-7"),
            &json!("in_progress"),
            &json!("fast")
        )
    );
    assert_eq!(created["output"], json!([]));
    let added = &events[2];
    assert_eq!(added["output_index"], 0);
    assert_eq!(
        (&added["item"]["type"], &added["item"]["status"]),
        (&json!("message"), &json!("in_progress"))
    );
    let item_id = added["item"]["id"].clone();
    assert_eq!(
        events[4],
        json!({"type": "response.output_text.delta", "item_id": item_id, "output_index": 0,
            "content_index": 0, "delta": "Hel", "logprobs": [], "sequence_number": 4})
    );
    assert_eq!(events[6]["text"], "Hello");
    assert_eq!(events[7]["part"]["text"], "Hello");
    assert_eq!(events[8]["item"]["status"], "completed");
    let completed = &events[9]["response"];
    assert_eq!(completed["id"], "resp_chatcmpl-7");
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"], json!([events[8]["item"]]));
    assert_eq!(completed["usage"]["input_tokens"], 37);
    assert_eq!(
        completed["usage"]["input_tokens_details"]["cached_tokens"],
        5
    );
    assert_eq!(completed["usage"]["output_tokens"], 11);
    assert_eq!(completed["usage"]["total_tokens"], 48);
}

#[test]
fn text_then_two_tool_calls() {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, arguments: &str| {
        let mut function = json!({"arguments": arguments});
        if let Some(name) = name {
            function["name"] = json!(name);
        }
        let mut call = json!({"index": index, "function": function});
        if let Some(id) = id {
            call["id"] = json!(id);
            call["type"] = json!("function");
        }
        chunk(json!({"tool_calls": [call]}), None)
    };
    let events = encode(
        &mut ResponsesEncoder::new("m"),
        vec![
            chunk(json!({"role": "assistant", "content": "Checking."}), None),
            call(0, Some("call_a"), Some("weather"), ""),
            call(0, None, None, "{\"city\":"),
            call(0, None, None, "\"Oslo\"}"),
            call(1, Some("call_b"), Some("time"), "{}"),
            chunk(json!({}), Some("tool_calls")),
            usage_item(),
            StreamItem::Done,
        ],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let indexes: Vec<u64> = events
        .iter()
        .filter_map(|e| e["output_index"].as_u64())
        .collect();
    assert_eq!(indexes, [0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
    let first_call = &events[8]["item"];
    assert_eq!(
        (
            &first_call["type"],
            &first_call["call_id"],
            &first_call["name"],
            &first_call["arguments"]
        ),
        (
            &json!("function_call"),
            &json!("call_a"),
            &json!("weather"),
            &json!("")
        )
    );
    assert_eq!(events[9]["item_id"], first_call["id"]);
    assert_eq!(
        (&events[11]["name"], &events[11]["arguments"]),
        (&json!("weather"), &json!("{\"city\":\"Oslo\"}"))
    );
    assert_eq!(events[16]["item"]["call_id"], "call_b");
    let completed = &events[17]["response"];
    assert_eq!(completed["status"], "completed");
    let output = completed["output"].as_array().expect("output");
    assert_eq!(output.len(), 3);
    assert_eq!(output[0]["content"][0]["text"], "Checking.");
    assert_eq!(output[1]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(output[2]["arguments"], "{}");
    assert!(output.iter().all(|item| item["status"] == "completed"));
    assert_eq!(completed["usage"]["output_tokens"], 11);
}

#[test]
fn reasoning_then_text_cut_by_the_token_limit() {
    let events = encode(
        &mut ResponsesEncoder::with_echo("m", RequestEcho::new(&json!({"max_output_tokens": 5}))),
        vec![
            chunk(json!({"reasoning_content": "Think"}), None),
            chunk(json!({"reasoning_content": "ing."}), None),
            chunk(json!({"content": "Ans"}), Some("length")),
            StreamItem::Done,
        ],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.incomplete",
        ]
    );
    assert_eq!(events[2]["item"]["summary"], json!([]));
    assert_eq!(events[4]["summary_index"], 0);
    assert_eq!(events[6]["text"], "Thinking.");
    assert_eq!(
        events[8]["item"]["summary"],
        json!([{"type": "summary_text", "text": "Thinking."}])
    );
    assert_eq!(events[9]["output_index"], 1);
    assert_eq!(events[14]["item"]["status"], "incomplete");
    let response = &events[15]["response"];
    assert_eq!(response["status"], "incomplete");
    assert_eq!(
        response["incomplete_details"],
        json!({"reason": "max_output_tokens"})
    );
    assert_eq!(response["max_output_tokens"], 5);
    assert_eq!(response["usage"], Value::Null);
}

#[test]
fn an_error_is_an_error_event_then_response_failed() {
    let events = encode(
        &mut ResponsesEncoder::new("m"),
        vec![
            chunk(json!({"content": "Par"}), None),
            StreamItem::Error(truncated()),
            StreamItem::Done,
        ],
    );
    assert_eq!(
        names(&events)[events.len() - 2..],
        ["error", "response.failed"]
    );
    let error = &events[events.len() - 2];
    assert_eq!(error["code"], "stream_truncated");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("incomplete"))
    );
    assert_eq!(error["param"], Value::Null);
    let failed = &events[events.len() - 1]["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "stream_truncated");
    assert_eq!(failed["output"][0]["status"], "incomplete");
    assert_eq!(failed["output"][0]["content"][0]["text"], "Par");
}

#[test]
fn calls_sent_whole_without_an_index_stay_apart() {
    let whole = |id: &str, name: &str| {
        chunk(
            json!({"tool_calls": [{"id": id, "type": "function",
                "function": {"name": name, "arguments": "{}"}}]}),
            None,
        )
    };
    let events = encode(
        &mut ResponsesEncoder::new("m"),
        vec![
            whole("c1", "a"),
            whole("c2", "b"),
            chunk(json!({}), Some("tool_calls")),
            StreamItem::Done,
        ],
    );
    let output = &events[events.len() - 1]["response"]["output"];
    assert_eq!(output[0]["call_id"], "c1");
    assert_eq!(output[1]["call_id"], "c2");
    assert_eq!(output[1]["name"], "b");
}

#[test]
fn a_refusal_is_its_own_content_part() {
    let events = encode(
        &mut ResponsesEncoder::new("m"),
        vec![
            chunk(json!({"refusal": "I can't"}), None),
            chunk(json!({"refusal": " help."}), Some("stop")),
            StreamItem::Done,
        ],
    );
    assert_eq!(
        names(&events)[2..],
        [
            "response.output_item.added",
            "response.content_part.added",
            "response.refusal.delta",
            "response.refusal.delta",
            "response.refusal.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    assert_eq!(events[3]["part"], json!({"type": "refusal", "refusal": ""}));
    assert_eq!(events[6]["refusal"], "I can't help.");
    assert_eq!(
        events[9]["response"]["output"][0]["content"],
        json!([{"type": "refusal", "refusal": "I can't help."}])
    );
}

#[test]
fn an_error_before_any_output_still_opens_the_response() {
    let events = encode(
        &mut ResponsesEncoder::new("m"),
        vec![StreamItem::Error(json!({"message": "Rate limit reached.",
            "type": "rate_limit_exceeded", "param": null, "code": null}))],
    );
    assert_eq!(
        names(&events),
        [
            "response.created",
            "response.in_progress",
            "error",
            "response.failed"
        ]
    );
    assert_eq!(events[2]["code"], "rate_limit_exceeded");
    assert_eq!(
        events[3]["response"]["error"]["message"],
        "Rate limit reached."
    );
    assert!(
        events[0]["response"]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("resp_"))
    );
    assert_eq!(events[0]["response"]["id"], events[3]["response"]["id"]);
}
