//! Tests of the Responses API: every place of a request the model reads masked (and nothing
//! else), `block`, whole answers restored and checked, and streams restored and checked across
//! split deltas, with their `.done` events and final objects rewritten too and sequence numbers
//! kept unique and increasing.

use serde_json::{Value, json};
use switchyard_shared::guardrails::GuardrailAction;

use super::tests_answer::{ANSWER, EMAIL, checker, restored, restorer};
use super::tests_support::{CARD, ClientEvent, answer_policy, blocked, masked, run};
use super::{Api, ClientApi, check_answer};

/// A request with `email` and `card` in every place the model reads, and the raw values in
/// every place it does not (ids, call ids, names, images, files, encrypted reasoning, settings).
fn request(email: &str, card: &str) -> Value {
    json!({
        "model": EMAIL,
        "instructions": format!("Owner {email}, card {card}"),
        "input": [
            {"role": "user", "content": format!("mail {email}")},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": format!("card {card}")},
                {"type": "input_image", "image_url": format!("https://x/{EMAIL}.png"), "detail": "auto"},
                {"type": "input_file", "filename": format!("{EMAIL}.txt"), "file_data": format!("data:text/plain,{EMAIL}")}
            ]},
            {"type": "message", "role": "assistant", "id": format!("msg_{EMAIL}"), "status": "completed", "content": [
                {"type": "output_text", "text": format!("noted {email}"), "annotations": []},
                {"type": "refusal", "refusal": format!("not {card}")}
            ]},
            {"type": "function_call", "id": format!("fc_{EMAIL}"), "call_id": EMAIL, "name": EMAIL,
                "arguments": json!({"to": email, "card": card}).to_string()},
            {"type": "function_call_output", "call_id": EMAIL, "output": format!("sent to {email}")},
            {"type": "function_call_output", "call_id": "call_2", "output": [
                {"type": "input_text", "text": format!("paid with {card}")},
                {"type": "input_image", "image_url": format!("https://x/{EMAIL}.png")}
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": format!("user {email}")}],
                "encrypted_content": EMAIL},
            {"type": "custom_tool_call", "call_id": EMAIL, "name": "patch", "input": format!("write {email}")},
            {"type": "shell_call", "call_id": EMAIL, "action": {"commands": [format!("grep {email} log")], "timeout_ms": 5}},
            {"type": "shell_call_output", "call_id": EMAIL, "output": [{"stdout": format!("{email} paid"),
                "stderr": card, "outcome": {"type": "exit", "exit_code": 0}}]},
            {"type": "local_shell_call", "id": EMAIL, "call_id": EMAIL, "status": "completed",
                "action": {"type": "exec", "command": ["grep", email], "env": {"USER": EMAIL}}},
            {"type": "apply_patch_call", "call_id": EMAIL, "status": "completed",
                "operation": {"type": "create_file", "path": format!("{EMAIL}.txt"), "diff": format!("+to {email}")}},
            {"type": "apply_patch_call_output", "call_id": EMAIL, "status": "completed", "output": format!("wrote {email}")},
            {"type": "web_search_call", "id": EMAIL, "status": "completed", "action": {"type": "search", "query": EMAIL}},
            {"type": "item_reference", "id": EMAIL}
        ],
        "text": {"format": {"type": "json_schema", "name": EMAIL, "schema": {"description": EMAIL}}},
        "tools": [{"type": "function", "name": "send", "description": EMAIL, "parameters": {}}],
        "user": EMAIL,
        "metadata": {"owner": EMAIL},
        "prompt": {"id": EMAIL, "variables": {"who": email, "note": {"type": "input_text", "text": card},
            "pic": {"type": "input_image", "image_url": format!("https://x/{EMAIL}.png")}}}
    })
}

#[test]
fn a_request_is_masked_everywhere_the_model_reads_and_nowhere_else() {
    let sent = masked(&request(EMAIL, CARD), Api::Responses);
    assert_eq!(sent, request("[EMAIL]", "[CREDIT_CARD]"));
    let string_input = json!({"model": "m", "input": format!("{EMAIL} {CARD}")});
    assert_eq!(
        masked(&string_input, Api::Responses)["input"],
        "[EMAIL] [CREDIT_CARD]"
    );
}

#[test]
fn a_block_policy_refuses_a_card_anywhere_the_model_reads() {
    let refused = blocked(&request(EMAIL, CARD), Api::Responses);
    assert_eq!(refused.map(|b| b.detector), Some("CREDIT_CARD".to_owned()));
    // Only in a call's arguments.
    let body = json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "n",
        "arguments": json!({"card": CARD}).to_string()}]});
    assert!(blocked(&body, Api::Responses).is_some());
    // Not in what the model does not read.
    let body = json!({"model": "m", "input": "hi", "metadata": {"card": CARD}, "user": CARD});
    assert!(blocked(&body, Api::Responses).is_none());
}

/// A `response` object with `text` in each place the model writes.
fn response(text: &str, arguments: &str) -> Value {
    json!({"id": "resp_[[EMAIL_1]]", "object": "response", "model": "gpt-4.1", "status": "completed",
    "output": [
        {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": text}]},
        {"id": "msg_1", "type": "message", "status": "completed", "role": "assistant", "content": [
            {"type": "output_text", "text": text, "annotations": []},
            {"type": "refusal", "refusal": text}
        ]},
        {"id": "fc_1", "type": "function_call", "status": "completed", "call_id": "[[EMAIL_1]]",
            "name": "send", "arguments": arguments}
    ]})
}

#[test]
fn a_whole_answer_is_restored_and_checked() {
    let restorer = restorer();
    let mut answer = response(ANSWER, r#"{"to":"[[QUOTED_1]]"}"#);
    restorer.restore_json_answer(&mut answer, Api::Responses);
    let arguments = json!({"to": "say \"hi\""}).to_string();
    assert_eq!(answer, response(&restored(), &arguments));

    let mut answer = response(&format!("mail {EMAIL}"), &json!({"to": EMAIL}).to_string());
    let hits = check_answer(
        &[answer_policy(GuardrailAction::Mask)],
        &mut answer,
        Api::Responses,
    );
    let masked_arguments = json!({"to": "[EMAIL]"}).to_string();
    assert_eq!(answer, response("mail [EMAIL]", &masked_arguments));
    assert_eq!(hits.unwrap_or_default()[0].count, 4);
    let mut answer = response("fine", &json!({"card": CARD}).to_string());
    let refused = check_answer(
        &[answer_policy(GuardrailAction::Block)],
        &mut answer,
        Api::Responses,
    );
    assert!(refused.is_err());
}

/// A message streamed in `deltas` as OpenAI sends it, each event named by its type and
/// numbered from 0; `whole` is the text the `.done` events and final objects repeat.
pub(super) fn text_stream(deltas: &[&str], whole: &str) -> Vec<(Option<String>, String)> {
    let part = |text: &str| json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
    let item = |status: &str, content: Value| json!({"id": "msg_1", "type": "message", "status": status, "role": "assistant", "content": content});
    let mut events = vec![
        json!({"type": "response.created", "response": {"id": "resp_1", "object": "response",
            "model": "gpt-4.1", "status": "in_progress", "output": []}}),
        json!({"type": "response.output_item.added", "output_index": 0, "item": item("in_progress", json!([]))}),
        json!({"type": "response.content_part.added", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "part": part("")}),
    ];
    for delta in deltas {
        events.push(
            json!({"type": "response.output_text.delta", "item_id": "msg_1",
            "output_index": 0, "content_index": 0, "delta": delta, "logprobs": [],
            "obfuscation": "x1"}),
        );
    }
    let done = item("completed", json!([part(whole)]));
    events.extend([
        json!({"type": "response.output_text.done", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "text": whole, "logprobs": []}),
        json!({"type": "response.content_part.done", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "part": part(whole)}),
        json!({"type": "response.output_item.done", "output_index": 0, "item": done}),
        json!({"type": "response.completed", "response": {"id": "resp_1", "object": "response",
            "model": "gpt-4.1", "status": "completed", "output": [done]}}),
    ]);
    named(events)
}

/// Names each event by its type and numbers them from 0.
fn named(events: Vec<Value>) -> Vec<(Option<String>, String)> {
    events
        .into_iter()
        .enumerate()
        .map(|(number, mut event)| {
            event["sequence_number"] = json!(number);
            let name = event["type"].as_str().map(str::to_owned);
            (name, event.to_string())
        })
        .collect()
}

/// What a client reads of a message: the text of its deltas, and the whole text of each event
/// that repeats it (`.done`, the part, the item, the final response).
fn read(events: &[ClientEvent]) -> (String, Vec<String>) {
    let mut deltas = String::new();
    let mut wholes = Vec::new();
    let mut last = -1;
    for (name, event) in events {
        assert_eq!(name.as_deref(), event["type"].as_str(), "event name = type");
        let number = event["sequence_number"].as_i64().unwrap_or(-1);
        assert!(
            number > last,
            "sequence numbers increase: {last} then {event}"
        );
        last = number;
        let whole = match event["type"].as_str().unwrap_or_default() {
            "response.output_text.delta" | "response.function_call_arguments.delta" => {
                deltas += event["delta"].as_str().unwrap_or_default();
                continue;
            }
            "response.output_text.done" => &event["text"],
            "response.function_call_arguments.done" => &event["arguments"],
            "response.content_part.done" => &event["part"]["text"],
            "response.output_item.done" => match event["item"]["type"].as_str() {
                Some("message") => &event["item"]["content"][0]["text"],
                _ => &event["item"]["arguments"],
            },
            "response.completed" => match event["response"]["output"][0]["type"].as_str() {
                Some("message") => &event["response"]["output"][0]["content"][0]["text"],
                _ => &event["response"]["output"][0]["arguments"],
            },
            _ => continue,
        };
        wholes.push(whole.as_str().unwrap_or_default().to_owned());
    }
    (deltas, wholes)
}

#[test]
fn a_stream_is_restored_across_split_deltas_and_in_every_whole_text() {
    let restorer = restorer();
    for split in 0..=ANSWER.len() {
        let events = text_stream(&[&ANSWER[..split], &ANSWER[split..]], ANSWER);
        let mut stream = restorer.stream();
        let out = run(&events, |data| {
            stream.restore_sse_event(data, ClientApi::Responses)
        });
        let (deltas, wholes) = read(&out);
        assert_eq!(deltas, restored(), "split at {split}");
        assert_eq!(wholes, vec![restored(); 4], "split at {split}");
        // Ids, the model and the item's other fields are as they came.
        let completed = &out[out.len() - 1].1["response"];
        assert_eq!(
            (&completed["id"], &completed["model"]),
            (&json!("resp_1"), &json!("gpt-4.1"))
        );
        assert_eq!(completed["output"][0]["id"], "msg_1");
    }
}

#[test]
fn a_placeholder_split_across_two_deltas_comes_in_an_added_delta_before_done() {
    let events = text_stream(&["to [[EMA", "IL_1"], "to [[EMAIL_1");
    let mut stream = restorer().stream();
    let out = run(&events, |data| {
        stream.restore_sse_event(data, ClientApi::Responses)
    });
    // `[[EMAIL_1` is no placeholder: held back, then sent as it was, in one added delta event
    // that copies the ids of the deltas, numbered after them, ahead of `.done`.
    let names: Vec<&str> = out.iter().filter_map(|(n, _)| n.as_deref()).collect();
    assert_eq!(
        names[3..7],
        [
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done"
        ]
    );
    assert_eq!(out[3].1["delta"], "to ");
    assert_eq!(out[4].1["delta"], "");
    assert_eq!(
        out[5].1,
        json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": "[[EMAIL_1", "logprobs": [], "sequence_number": 5})
    );
    assert_eq!(out[6].1["sequence_number"], 6);
    assert_eq!(out[out.len() - 1].1["sequence_number"], 9);
    assert_eq!(read(&out).0, "to [[EMAIL_1");
}

#[test]
fn function_call_arguments_and_reasoning_summaries_are_restored() {
    let arguments = r#"{"to":"[[QUOTED_1]]","cc":"[[EMAIL_1]]"}"#;
    let (first, second) = arguments.split_at(12);
    let item = |arguments: &str| {
        json!({"id": "fc_1", "type": "function_call", "status": "completed",
            "call_id": "call_[[EMAIL_1]]", "name": "send", "arguments": arguments})
    };
    let delta = |text: &str| {
        json!({"type": "response.function_call_arguments.delta", "item_id": "fc_1",
            "output_index": 1, "delta": text})
    };
    let summary = |kind: &str, field: &str, text: &str| json!({"type": kind, "item_id": "rs_1", "output_index": 0, "summary_index": 0, field: text});
    let events = named(vec![
        summary(
            "response.reasoning_summary_text.delta",
            "delta",
            "ask [[EMAIL_",
        ),
        summary("response.reasoning_summary_text.delta", "delta", "1]] now"),
        summary(
            "response.reasoning_summary_text.done",
            "text",
            "ask [[EMAIL_1]] now",
        ),
        delta(first),
        delta(second),
        json!({"type": "response.function_call_arguments.done", "item_id": "fc_1",
            "output_index": 1, "name": "send", "arguments": arguments}),
        json!({"type": "response.output_item.done", "output_index": 1, "item": item(arguments)}),
    ]);
    let mut stream = restorer().stream();
    let out = run(&events, |data| {
        stream.restore_sse_event(data, ClientApi::Responses)
    });
    let summary: String = out[..2]
        .iter()
        .map(|(_, e)| e["delta"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(summary, format!("ask {EMAIL} now"));
    assert_eq!(out[2].1["text"], format!("ask {EMAIL} now"));
    // Restored inside the JSON text as it came: quotes escaped, keys in their order.
    let expected = r#"{"to":"say \"hi\"","cc":"bob@example.com"}"#.to_owned();
    let (deltas, wholes) = read(&out[3..]);
    assert_eq!(deltas, expected);
    assert_eq!(wholes, [expected.clone(), expected]);
    // The call id is not text the model wrote to the user: it stays as it came.
    assert_eq!(out[out.len() - 1].1["item"]["call_id"], "call_[[EMAIL_1]]");
}

#[test]
fn the_checker_masks_a_stream_and_its_final_object_and_counts_once() {
    let mut masking = checker(GuardrailAction::Mask, Vec::new());
    let text = format!("mail {EMAIL} now");
    let events = text_stream(&["mail bob@exa", "mple.com now"], &text);
    let out = run(&events, |data| {
        masking
            .check_sse_event(data, ClientApi::Responses)
            .unwrap_or_else(|b| panic!("{b}"))
    });
    let (deltas, wholes) = read(&out);
    assert_eq!(deltas, "mail [EMAIL] now");
    assert_eq!(wholes, vec!["mail [EMAIL] now".to_owned(); 4]);
    // The value was in the deltas once; the events repeating it are not counted again.
    assert_eq!(masking.hits()[0].count, 1);

    let mut blocking = checker(GuardrailAction::Block, Vec::new());
    let mut results = events
        .iter()
        .map(|(_, data)| blocking.check_sse_event(data, ClientApi::Responses));
    assert!(results.by_ref().take(4).all(|r| r.is_ok()));
    let refused = results.next().and_then(Result::err);
    assert_eq!(refused.map(|b| b.detector), Some("EMAIL".to_owned()));
}

#[test]
fn text_held_when_the_stream_stops_comes_at_its_end() {
    let events = text_stream(&["to [[EMA"], "to [[EMA");
    let mut stream = restorer().stream();
    let out = run(&events[..4], |data| {
        stream.restore_sse_event(data, ClientApi::Responses)
    });
    assert_eq!(out[3].1["delta"], "to ");
    let end = stream.restore_sse_end(ClientApi::Responses);
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].event, Some("response.output_text.delta"));
    let added: Value = serde_json::from_str(&end[0].data).unwrap_or_default();
    assert_eq!(
        (&added["delta"], &added["sequence_number"]),
        (&json!("[[EMA"), &json!(4))
    );
}
