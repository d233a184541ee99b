//! Tests of the Responses API pass-through stage, on streams shaped as OpenAI sends them.

use bytes::BytesMut;
use serde_json::Value;

use super::tests_stream::events_of;
use super::*;
use crate::proxy::ProxyError;
use crate::sse::SseEvent;
use crate::stream::{SseStage, Verdict};

/// A stream as OpenAI sends it (the shape of its API reference's streaming example).
const OPENAI_STREAM: &str = concat!(
    "event: response.created\n",
    r#"data: {"type":"response.created","sequence_number":0,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"in_progress","error":null,"incomplete_details":null,"instructions":"You are a helpful assistant.","max_output_tokens":null,"model":"gpt-4.1-2025-04-14","output":[],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":true,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":null,"user":null,"metadata":{}}}"#,
    "\n\n",
    "event: response.in_progress\n",
    r#"data: {"type":"response.in_progress","sequence_number":1,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"in_progress","model":"gpt-4.1-2025-04-14","output":[],"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":null}}"#,
    "\n\n",
    "event: response.output_item.added\n",
    r#"data: {"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"in_progress","role":"assistant","content":[]}}"#,
    "\n\n",
    "event: response.content_part.added\n",
    r#"data: {"type":"response.content_part.added","sequence_number":3,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"part":{"type":"output_text","text":"","annotations":[]}}"#,
    "\n\n",
    "event: response.output_text.delta\n",
    r#"data: {"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"delta":"Hi","logprobs":[]}"#,
    "\n\n",
    "event: response.output_text.done\n",
    r#"data: {"type":"response.output_text.done","sequence_number":5,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"text":"Hi there!","logprobs":[]}"#,
    "\n\n",
    "event: response.content_part.done\n",
    r#"data: {"type":"response.content_part.done","sequence_number":6,"item_id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","output_index":0,"content_index":0,"part":{"type":"output_text","text":"Hi there!","annotations":[]}}"#,
    "\n\n",
    "event: response.output_item.done\n",
    r#"data: {"type":"response.output_item.done","sequence_number":7,"output_index":0,"item":{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there!","annotations":[]}]}}"#,
    "\n\n",
    "event: response.completed\n",
    r#"data: {"type":"response.completed","sequence_number":8,"response":{"id":"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654","object":"response","created_at":1741290958,"status":"completed","model":"gpt-4.1-2025-04-14","output":[{"id":"msg_67c9fdcf37fc8190ba82116e33fb28c507b8b0ad4e5eb654","type":"message","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Hi there!","annotations":[]}]}],"parallel_tool_calls":true,"tool_choice":"auto","tools":[],"usage":{"input_tokens":37,"input_tokens_details":{"cached_tokens":0},"output_tokens":11,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":48}}}"#,
    "\n\n",
);

/// Feeds events to a pass-through stage; returns the verdicts and what the stage wrote.
fn pass(stage: &mut ResponsesPassthrough, events: &[SseEvent]) -> (Vec<Verdict>, BytesMut) {
    let mut out = BytesMut::new();
    let verdicts = events.iter().map(|e| stage.event(e, &mut out)).collect();
    (verdicts, out)
}

fn written(out: &BytesMut) -> Vec<Value> {
    events_of(out)
        .iter()
        .map(|e| serde_json::from_str(&e.data()).expect("JSON"))
        .collect()
}

#[test]
fn passthrough_forwards_and_reads_usage() {
    let events = events_of(OPENAI_STREAM.as_bytes());
    assert_eq!(events.len(), 9);
    let mut stage = ResponsesPassthrough::default();
    let (verdicts, out) = pass(&mut stage, &events);
    assert!(verdicts.iter().all(|v| *v == Verdict::Forward));
    assert!(out.is_empty());
    assert!(stage.completed());
    let usage = stage.usage().expect("usage");
    assert_eq!((usage.prompt_tokens, usage.completion_tokens), (37, 11));
    let mut out = BytesMut::new();
    stage.end(None, &mut out);
    assert!(out.is_empty(), "a complete stream gets nothing more");
    // Anything after the final event is dropped.
    let (verdicts, _) = pass(&mut stage, &events_of(b"data: [DONE]\n\n"));
    assert_eq!(verdicts, [Verdict::Replace]);
}

#[test]
fn passthrough_truncated_stream() {
    let events = events_of(OPENAI_STREAM.as_bytes());
    let mut stage = ResponsesPassthrough::default();
    pass(&mut stage, &events[..5]);
    let mut out = BytesMut::new();
    stage.end(None, &mut out);
    assert!(!stage.completed());
    assert_eq!(stage.usage(), None);
    let error = &written(&out)[0];
    assert_eq!(error["type"], "error");
    assert_eq!(error["code"], "stream_truncated");
    assert_eq!(error["sequence_number"], 5);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("incomplete"))
    );

    let mut stage = ResponsesPassthrough::default();
    pass(&mut stage, &events[..3]);
    let mut out = BytesMut::new();
    stage.end(Some(ProxyError::UpstreamTimeout("idle")), &mut out);
    let error = &written(&out)[0];
    assert_eq!(error["sequence_number"], 3);
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("did not answer in time")
                && m.ends_with("the answer is incomplete.")),
        "{error}"
    );
}

#[test]
fn passthrough_malformed_event_ends_the_stream() {
    let mut events = events_of(OPENAI_STREAM.as_bytes());
    events.insert(
        4,
        events_of(b"event: response.output_text.delta\ndata: {\"type\":\"resp\n\n")[0].clone(),
    );
    let mut stage = ResponsesPassthrough::default();
    let (verdicts, out) = pass(&mut stage, &events);
    assert_eq!(verdicts[..4], [Verdict::Forward; 4]);
    assert!(verdicts[4..].iter().all(|v| *v == Verdict::Replace));
    let written = written(&out);
    assert_eq!(written.len(), 1);
    assert_eq!(written[0]["code"], "malformed_chunk");
    assert_eq!(written[0]["sequence_number"], 4);
    assert!(!stage.completed());
    let mut out = BytesMut::new();
    stage.end(None, &mut out);
    assert!(out.is_empty(), "the client already has its error");
}

#[test]
fn passthrough_incomplete_failed_and_error_end_it_uncompleted() {
    let incomplete = concat!(
        "event: response.incomplete\n",
        r#"data: {"type":"response.incomplete","sequence_number":3,"response":{"id":"resp_1","object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"output":[],"usage":{"input_tokens":8,"output_tokens":16,"total_tokens":24}}}"#,
        "\n\n"
    );
    let mut stage = ResponsesPassthrough::default();
    let (verdicts, _) = pass(&mut stage, &events_of(incomplete.as_bytes()));
    assert_eq!(verdicts, [Verdict::Forward]);
    assert!(!stage.completed());
    assert_eq!(stage.usage().map(|u| u.completion_tokens), Some(16));
    let mut out = BytesMut::new();
    stage.end(None, &mut out);
    assert!(out.is_empty());

    // OpenAI follows an `error` event with `response.failed`; what else comes is dropped.
    let failed = concat!(
        "event: error\n",
        r#"data: {"type":"error","sequence_number":2,"code":"server_error","message":"The server had an error.","param":null}"#,
        "\n\n",
        "event: response.output_text.delta\n",
        r#"data: {"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"x","logprobs":[]}"#,
        "\n\n",
        "event: response.failed\n",
        r#"data: {"type":"response.failed","sequence_number":4,"response":{"id":"resp_1","object":"response","status":"failed","error":{"code":"server_error","message":"The server had an error."},"output":[],"usage":null}}"#,
        "\n\n",
        "event: response.completed\n",
        r#"data: {"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","status":"completed","output":[]}}"#,
        "\n\n",
    );
    let mut stage = ResponsesPassthrough::default();
    let (verdicts, out) = pass(&mut stage, &events_of(failed.as_bytes()));
    assert_eq!(
        verdicts,
        [
            Verdict::Forward,
            Verdict::Replace,
            Verdict::Forward,
            Verdict::Replace
        ]
    );
    assert!(out.is_empty());
    assert!(!stage.completed());
    let mut out = BytesMut::new();
    stage.end(None, &mut out);
    assert!(out.is_empty());

    // An `error` event with nothing after it.
    let mut stage = ResponsesPassthrough::default();
    pass(&mut stage, &events_of(failed.as_bytes())[..1]);
    let mut out = BytesMut::new();
    stage.end(None, &mut out);
    assert!(out.is_empty() && !stage.completed());
}

#[test]
fn passthrough_reads_events_without_names() {
    let stream = concat!(
        r#"data: {"type":"response.output_text.delta","sequence_number":1,"delta":"x"}"#,
        "\n\n",
        r#"data: {"type":"response.completed","sequence_number":2,"response":{"usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}}"#,
        "\n\n",
    );
    let mut stage = ResponsesPassthrough::default();
    pass(&mut stage, &events_of(stream.as_bytes()));
    assert!(stage.completed());
    assert_eq!(stage.usage().map(|u| u.prompt_tokens), Some(3));
}
