//! `redact_restore` end to end: the provider sees placeholders, the client gets its values back in
//! plain answers and in streams (OpenAI's and Anthropic's), with a placeholder split between two
//! events at every point, and in tool-call arguments; only the placeholder's bytes are held
//! back; and such requests are never cached.

use serde_json::{Value, json};
use switchyard_tests::mock::{RecordedRequest, Script as MockScript};
use switchyard_tests::providers::{Answer, StreamSummary, ToolCall};
use switchyard_tests::{ApiResponse, SseReader};

use super::{
    MODEL, Streamed, cache_on, cache_stats, chat, guarded_setup, hit, hits, message_content,
    messages_request, pii_policy, pii_setup, plain_reply, received_text, request_id, send, stream,
    streaming, text_stream,
};

/// The phone number the client sends, and the placeholder the provider must see instead.
const PHONE: &str = "+44 20 7946 0958";
const PLACEHOLDER: &str = "[[PHONE_1]]";

/// Asserts that the provider's request holds [`PLACEHOLDER`] and never [`PHONE`] (whatever shape
/// a translated request gave the text).
fn assert_redacted(request: &RecordedRequest) {
    let raw = String::from_utf8_lossy(&request.body);
    assert!(
        raw.contains(PLACEHOLDER) && !raw.contains(PHONE),
        "what the provider saw: {raw}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redacted_values_come_back_in_plain_answers() {
    let (gateway, mock) = pii_setup(Value::Null).await;
    let other = "+1 415 555 0100";
    let text = format!("Call {PHONE}, or else {other}, then {PHONE} again.");
    mock.enqueue(plain_reply(
        "Calling [[PHONE_2]] after [[PHONE_1]], not [[PHONE_3]].",
        MODEL,
    ));
    let response = send(&gateway, &chat(&text), &[]).await;
    response.expect_status(200, "a redacted request");
    let received = received_text(&mock);
    assert_eq!(
        received,
        "Call [[PHONE_1]], or else [[PHONE_2]], then [[PHONE_1]] again."
    );
    assert_eq!(
        message_content(&response),
        format!("Calling {other} after {PHONE}, not [[PHONE_3]].")
    );
    let log = gateway.wait_log(&request_id(&response)).await;
    assert_eq!(
        hits(&log),
        [hit("pii", "PHONE", "redact_restore", 3, "request")]
    );

    // The Anthropic API gets its values back too, through the translation to OpenAI and back.
    mock.enqueue(plain_reply("I will call [[PHONE_1]] tomorrow.", MODEL));
    let body = json!({"model": MODEL, "max_tokens": 64,
        "messages": [{"role": "user", "content": format!("My number is {PHONE}.")}]});
    let anthropic = ApiResponse::send(messages_request(&gateway, &body)).await;
    anthropic.expect_status(200, "a redacted Messages request");
    assert_redacted(&mock.last_request());
    let message = anthropic.json();
    assert_eq!(
        message["content"][0]["text"],
        format!("I will call {PHONE} tomorrow."),
        "{message}"
    );
}

/// The two events of an answer that splits [`PLACEHOLDER`] after `cut` bytes.
fn split_answer(cut: usize) -> (String, String) {
    (
        format!("I will call {}", &PLACEHOLDER[..cut]),
        format!("{} tomorrow.", &PLACEHOLDER[cut..]),
    )
}

/// Asserts that no event of a stream shows any part of a placeholder.
fn assert_no_placeholder(streamed: &Streamed, cut: usize) {
    for data in streamed.data() {
        assert!(
            !data.contains("[[") && !data.contains("]]") && !data.contains("PHONE"),
            "split at {cut}: a placeholder reached the client: {data}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_placeholder_split_across_two_events_is_restored_at_every_point() {
    let (gateway, mock) = pii_setup(Value::Null).await;
    let text = format!("My number is {PHONE}.");
    let expected = format!("I will call {PHONE} tomorrow.");
    for cut in 0..=PLACEHOLDER.len() {
        let (first, second) = split_answer(cut);
        mock.enqueue(text_stream(MODEL, &[first.as_str(), second.as_str()], None));
        let streamed = stream(&gateway, &chat(&text), &[]).await;
        assert_eq!(received_text(&mock), text.replace(PHONE, PLACEHOLDER));
        assert_eq!(streamed.openai_text(), expected, "split at {cut}");
        assert_no_placeholder(&streamed, cut);
    }

    // One character per event: the placeholder spans eleven events.
    let mut pieces = vec!["I will call ".to_owned()];
    pieces.extend(PLACEHOLDER.chars().map(String::from));
    pieces.push(" tomorrow.".to_owned());
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    mock.enqueue(text_stream(MODEL, &pieces, None));
    let streamed = stream(&gateway, &chat(&text), &[]).await;
    assert_eq!(streamed.openai_text(), expected, "one character per event");
    assert_no_placeholder(&streamed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_streams_restore_a_split_placeholder_at_every_point() {
    let (gateway, mock) = pii_setup(Value::Null).await;
    let text = format!("My number is {PHONE}.");
    let expected = format!("I will call {PHONE} tomorrow.");
    let body = json!({"model": MODEL, "max_tokens": 64,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]});
    for cut in 0..=PLACEHOLDER.len() {
        let (first, second) = split_answer(cut);
        mock.enqueue(text_stream(MODEL, &[first.as_str(), second.as_str()], None));
        let streamed = Streamed::read(messages_request(&gateway, &streaming(body.clone()))).await;
        assert_eq!(streamed.anthropic_text(), expected, "split at {cut}");
        assert_no_placeholder(&streamed, cut);
    }
    assert_redacted(&mock.last_request());
}

/// Reads events into `text` (their content deltas) until it ends with `wanted`; each event must
/// arrive within the reader's timeout, so a gateway that held the stream back would fail here.
async fn read_until(reader: &mut SseReader, text: &mut String, wanted: &str) {
    while !text.ends_with(wanted) {
        let event = reader.next_event().await.expect("the stream goes on");
        assert!(
            !event.data.contains("[["),
            "a placeholder leaked: {}",
            event.data
        );
        text.push_str(&event.delta_content().unwrap_or_default());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_what_could_be_a_placeholder_is_held_back() {
    let (gateway, mock) = pii_setup(Value::Null).await;
    let mut steps = mock.step_stream(MODEL);
    let request = gateway
        .chat_request(&streaming(chat(&format!("My number is {PHONE}."))))
        .send();
    let pending = tokio::spawn(request);
    steps.wait_started().await;
    let role = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": null}]});
    steps.send_raw(format!("data: {role}\n\n"));
    let response = pending
        .await
        .expect("the request task ran")
        .expect("the stream's headers arrive");
    let mut reader = SseReader::new(response);
    let mut text = String::new();

    // Each piece that cannot start a placeholder reaches the client before the mock sends more.
    steps.send_content("I will call you on ");
    read_until(&mut reader, &mut text, "I will call you on ").await;
    steps.send_content("[[PHO");
    steps.send_content("NE_1]] or at [");
    read_until(&mut reader, &mut text, &format!("on {PHONE} or at ")).await;
    steps.send_content("home].");
    let done = json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    steps.send_raw(format!("data: {done}\n\n"));
    steps.send_done();
    steps.finish();
    let rest = reader.collect_all().await;
    assert!(rest.last().is_some_and(|e| e.is_done()), "{rest:?}");
    for event in &rest[..rest.len() - 1] {
        text.push_str(&event.delta_content().unwrap_or_default());
    }
    assert_eq!(text, format!("I will call you on {PHONE} or at [home]."));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_values_to_restore_is_never_cached() {
    let extra = json!({"cache": cache_on(), "guardrails": ["pii"]});
    let (gateway, mock) = guarded_setup(&[pii_policy(Value::Null)], extra).await;
    let question = chat(&format!("My number is {PHONE}."));
    mock.set_default(plain_reply("I will call [[PHONE_1]].", MODEL));
    for round in 0..2 {
        let response = send(&gateway, &question, &[]).await;
        response.expect_status(200, "a redacted request on a cached route");
        assert_ne!(super::cache_header(&response), Some("hit"), "round {round}");
        assert_eq!(message_content(&response), format!("I will call {PHONE}."));
        gateway.wait_log(&request_id(&response)).await;
        assert_eq!(cache_stats(&gateway).await.entries, 0, "round {round}");
    }
    assert_eq!(
        mock.request_count(),
        2,
        "both requests reached the provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_call_arguments_get_their_values_back() {
    let (gateway, mock) = pii_setup(Value::Null).await;
    let question = chat(&format!("Dial {PHONE} for me."));
    let call = ToolCall::new("call_1", "dial", json!({"to": PLACEHOLDER}));
    let answer = Answer::tool_calls(vec![call]);
    mock.enqueue(switchyard_tests::metering::completion_reply(&answer, MODEL));
    let plain = send(&gateway, &question, &[]).await;
    plain.expect_status(200, "a tool call");
    let arguments = plain.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no arguments: {}", plain.text()));
    let parsed: Value = serde_json::from_str(&arguments).expect("JSON arguments");
    assert_eq!(parsed, json!({"to": PHONE}));

    // Streamed, the placeholder is split between two argument fragments.
    let role = json!({"role": "assistant", "content": null});
    let header = json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
        "function": {"name": "dial", "arguments": ""}}]});
    let fragment =
        |text: &str| json!({"tool_calls": [{"index": 0, "function": {"arguments": text}}]});
    let chunk = |delta: Value, finish: Value| {
        json!({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": MODEL,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let script = MockScript::sse()
        .event(&chunk(role, Value::Null))
        .event(&chunk(header, Value::Null))
        .event(&chunk(fragment("{\"to\":\"[[PHO"), Value::Null))
        .event(&chunk(fragment("NE_1]]\"}"), Value::Null))
        .event(&chunk(json!({}), json!("tool_calls")))
        .done();
    mock.enqueue(script.into());
    let response = gateway
        .chat_request(&streaming(question))
        .send()
        .await
        .expect("the stream starts");
    let summary = StreamSummary::read(response).await;
    summary.assert_complete();
    assert_eq!(summary.tool_calls.len(), 1, "{:?}", summary.events);
    assert_eq!(summary.tool_calls[0].arguments_json(), json!({"to": PHONE}));
    for event in &summary.events {
        assert!(!event.data.contains("PHONE"), "{}", event.data);
    }
}
