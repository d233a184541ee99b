//! Tests of Gemini's API: every place of a request the model reads masked (and nothing else,
//! in camelCase and snake_case, and inside `countTokens`' wrapper), `block`, whole answers
//! restored and checked, and streams restored and checked across split text parts.

use serde_json::{Value, json};
use switchyard_shared::guardrails::GuardrailAction;

use super::tests_answer::{ANSWER, EMAIL, PHONE, checker, restored, restorer};
use super::tests_support::{CARD, ClientEvent, answer_policy, blocked, masked, run, unnamed};
use super::{Api, ClientApi, check_answer};

/// A request with `email` and `card` in every place the model reads, and the raw values in
/// every place it does not (inline data, files, names, ids, signatures, settings).
fn request(email: &str, card: &str) -> Value {
    json!({
        "systemInstruction": {"role": "system", "parts": [{"text": format!("owner {email}")}]},
        "contents": [
            {"role": "user", "parts": [
                {"text": format!("card {card}")},
                {"inlineData": {"mimeType": "text/plain", "data": EMAIL}},
                {"fileData": {"mimeType": "application/pdf", "fileUri": format!("https://x/{EMAIL}.pdf")}}
            ]},
            {"role": "model", "parts": [
                {"functionCall": {"id": EMAIL, "name": EMAIL, "args": {"to": email, "cards": [card], "n": 2}},
                    "thoughtSignature": EMAIL}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": EMAIL, "name": EMAIL, "response": {"result": format!("sent to {email}")}}}
            ]}
        ],
        "tools": [{"functionDeclarations": [{"name": "send", "description": EMAIL}]}],
        "generationConfig": {"temperature": 0.5, "stopSequences": [EMAIL]},
        "cachedContent": EMAIL
    })
}

#[test]
fn a_request_is_masked_everywhere_the_model_reads_and_nowhere_else() {
    let sent = masked(&request(EMAIL, CARD), Api::Gemini);
    assert_eq!(sent, request("[EMAIL]", "[CREDIT_CARD]"));

    let snake = |email: &str| {
        json!({"system_instruction": {"parts": [{"text": email}]}, "contents": [{"parts": [
            {"function_call": {"name": "f", "args": {"q": email}}},
            {"function_response": {"name": "f", "response": {"a": email}}},
            {"inline_data": {"mime_type": "text/plain", "data": EMAIL}}
        ]}]})
    };
    assert_eq!(masked(&snake(EMAIL), Api::Gemini), snake("[EMAIL]"));

    let count = |email: &str| {
        json!({"generateContentRequest": {"model": format!("models/{EMAIL}"),
            "contents": [{"role": "user", "parts": [{"text": email}]}]}})
    };
    assert_eq!(masked(&count(EMAIL), Api::Gemini), count("[EMAIL]"));
}

#[test]
fn a_block_policy_refuses_a_card_anywhere_the_model_reads() {
    let refused = blocked(&request(EMAIL, CARD), Api::Gemini);
    assert_eq!(refused.map(|b| b.detector), Some("CREDIT_CARD".to_owned()));
    let args =
        json!({"contents": [{"parts": [{"functionCall": {"name": "f", "args": {"card": CARD}}}]}]});
    assert!(blocked(&args, Api::Gemini).is_some());
    let inline = json!({"contents": [{"parts": [{"inlineData": {"mimeType": "text/plain", "data": CARD}}]}]});
    assert!(blocked(&inline, Api::Gemini).is_none());
}

/// A `GenerateContentResponse` with `text` in its text part and `arg` in its call.
fn answer(text: &str, arg: &str) -> Value {
    json!({"candidates": [{"content": {"role": "model", "parts": [
            {"text": text},
            {"functionCall": {"name": "send", "args": {"to": arg}}},
            {"inlineData": {"mimeType": "image/png", "data": "[[EMAIL_1]]"}}
        ]}, "finishReason": "STOP", "index": 0}],
        "modelVersion": "gemini-2.5-flash", "responseId": "[[EMAIL_1]]"})
}

#[test]
fn a_whole_answer_is_restored_and_checked() {
    let restorer = restorer();
    let mut plain = answer(ANSWER, "[[QUOTED_1]]");
    restorer.restore_json_answer(&mut plain, Api::Gemini);
    assert_eq!(plain, answer(&restored(), "say \"hi\""));
    // A stream read whole is an array of answers.
    let mut chunks = json!([answer("[[EMAIL_1]]", "x"), answer("[[PHONE_1]]", "y")]);
    restorer.restore_json_answer(&mut chunks, Api::Gemini);
    assert_eq!(chunks, json!([answer(EMAIL, "x"), answer(PHONE, "y")]));

    let mut checked = answer(&format!("to {EMAIL}"), EMAIL);
    let hits = check_answer(
        &[answer_policy(GuardrailAction::Mask)],
        &mut checked,
        Api::Gemini,
    );
    assert_eq!(checked, answer("to [EMAIL]", "[EMAIL]"));
    assert_eq!(hits.unwrap_or_default()[0].count, 2);
    let mut refused = answer("fine", CARD);
    let policies = [answer_policy(GuardrailAction::Block)];
    assert!(check_answer(&policies, &mut refused, Api::Gemini).is_err());
}

fn chunk(parts: Value, finish: Option<&str>) -> String {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(finish) = finish {
        candidate["finishReason"] = json!(finish);
    }
    json!({"candidates": [candidate], "usageMetadata": {"promptTokenCount": 3},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"})
    .to_string()
}

/// The answer text and the thought text a client reads, and every function call's `args`.
fn read(events: &[ClientEvent]) -> (String, String, Vec<Value>) {
    let (mut text, mut thought, mut calls) = (String::new(), String::new(), Vec::new());
    for (name, event) in events {
        assert_eq!(name, &None, "Gemini events are unnamed");
        let parts = event["candidates"][0]["content"]["parts"].as_array();
        for part in parts.into_iter().flatten() {
            match (part["text"].as_str(), part["thought"].as_bool()) {
                (Some(t), Some(true)) => thought += t,
                (Some(t), _) => text += t,
                _ => calls.push(part["functionCall"]["args"].clone()),
            }
        }
    }
    (text, thought, calls)
}

#[test]
fn a_stream_is_restored_across_split_text_parts() {
    let restorer = restorer();
    for split in 0..=ANSWER.len() {
        let events = unnamed(vec![
            chunk(json!([{"text": &ANSWER[..split]}]), None),
            chunk(json!([{"text": &ANSWER[split..]}]), Some("STOP")),
        ]);
        let mut stream = restorer.stream();
        let out = run(&events, |data| {
            stream.restore_sse_event(data, ClientApi::Gemini)
        });
        assert_eq!(read(&out).0, restored(), "split at {split}");
        let last = &out[out.len() - 1].1;
        assert_eq!(
            (&last["responseId"], &last["modelVersion"]),
            (&json!("resp-1"), &json!("gemini-2.5-flash"))
        );
    }
}

#[test]
fn held_text_keeps_its_place_among_thoughts_and_calls() {
    let events = unnamed(vec![
        chunk(json!([{"text": "think [[EMAIL_", "thought": true}]), None),
        chunk(
            json!([{"text": "1]] ok", "thought": true}, {"text": "call [[PHO"}]),
            None,
        ),
        chunk(
            json!([{"functionCall": {"name": "send", "args": {"to": "[[QUOTED_1]]", "n": 1}}},
                {"text": "NE_1]] x [[EMA"}]),
            None,
        ),
        chunk(json!([{"text": "IL_1]]"}]), Some("STOP")),
    ]);
    let mut stream = restorer().stream();
    let out = run(&events, |data| {
        stream.restore_sse_event(data, ClientApi::Gemini)
    });
    let (text, thought, calls) = read(&out);
    assert_eq!(thought, format!("think {EMAIL} ok"));
    // `[[PHO` was held when the call came: it went out as text ahead of the call, and the rest
    // of the placeholder, alone, is not one.
    assert_eq!(text, format!("call [[PHONE_1]] x {EMAIL}"));
    assert_eq!(calls, [json!({"to": "say \"hi\"", "n": 1})]);
    let parts = &out[2].1["candidates"][0]["content"]["parts"];
    assert_eq!(parts[0], json!({"text": "[[PHO"}));
    assert!(parts[1]["functionCall"].is_object());
}

#[test]
fn a_stream_without_a_finish_reason_gets_its_held_text_at_the_end() {
    let mut stream = restorer().stream();
    let first = chunk(json!([{"text": "to [[EMA"}]), None);
    let out = run(&unnamed(vec![first]), |data| {
        stream.restore_sse_event(data, ClientApi::Gemini)
    });
    assert_eq!(read(&out).0, "to ");
    let end = stream.restore_sse_end(ClientApi::Gemini);
    assert_eq!(end.len(), 1);
    assert_eq!(end[0].event, None);
    let made_up: Value = serde_json::from_str(&end[0].data).unwrap_or_default();
    assert_eq!(
        made_up,
        json!({"candidates": [{"content": {"parts": [{"text": "[[EMA"}], "role": "model"},
            "index": 0}], "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"})
    );
}

#[test]
fn the_checker_masks_split_values_and_whole_calls_and_blocks() {
    let mut masking = checker(GuardrailAction::Mask, Vec::new());
    let events = unnamed(vec![
        chunk(json!([{"text": "mail bob@exa"}]), None),
        chunk(
            json!([{"text": "mple.com now"}, {"functionCall": {"name": "f", "args": {"to": EMAIL}}}]),
            Some("STOP"),
        ),
    ]);
    let out = run(&events, |data| {
        masking
            .check_sse_event(data, ClientApi::Gemini)
            .unwrap_or_else(|b| panic!("{b}"))
    });
    let (text, _, calls) = read(&out);
    assert_eq!(text, "mail [EMAIL] now");
    assert_eq!(calls, [json!({"to": "[EMAIL]"})]);
    assert_eq!(masking.hits()[0].count, 2);

    let mut blocking = checker(GuardrailAction::Block, Vec::new());
    assert!(
        blocking
            .check_sse_event(&events[0].1, ClientApi::Gemini)
            .is_ok()
    );
    let refused = blocking.check_sse_event(&events[1].1, ClientApi::Gemini);
    assert_eq!(refused.err().map(|b| b.detector), Some("EMAIL".to_owned()));
}
