//! Tests of answers: placeholders restored across deltas at every split point, the hold-back
//! bound, SSE events of both protocols, whole-answer checks, and the stream checker's window.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_shared::guardrails::{
    DetectorSpec, DetectorType, GuardrailAction, GuardrailMode, ResponseCheck,
};

use super::check::{MAX_HOLD, WINDOW};
use super::tests_detect::{detector, spec};
use super::{
    Api, ClientApi, Policy, Restorer, SseRewrite, StreamChecker, apply_request, check_answer,
};

pub(super) const EMAIL: &str = "bob@example.com";
pub(super) const PHONE: &str = "+1 415-555-2671";

pub(super) fn restorer() -> Restorer {
    let mut quoted = detector(DetectorType::Regex, GuardrailAction::RedactRestore);
    quoted.label = Some("QUOTED".into());
    quoted.pattern = Some(r#"say "\w+""#.into());
    let policy = spec(
        "pii",
        vec![
            detector(DetectorType::Email, GuardrailAction::RedactRestore),
            detector(DetectorType::Phone, GuardrailAction::RedactRestore),
            quoted,
        ],
    );
    let policy = Arc::new(Policy::compile(&policy).unwrap_or_else(|e| panic!("{e}")));
    let body =
        json!({"messages": [{"role": "user", "content": format!("{EMAIL} {PHONE} say \"hi\"")}]});
    let applied = apply_request(&[policy], body.to_string().as_bytes(), Api::Chat, &[1; 32]);
    let applied = applied.unwrap_or_else(|b| panic!("{b}"));
    applied.restore.unwrap_or_else(|| panic!("no restorer"))
}

pub(super) const ANSWER: &str =
    "Mail [[EMAIL_1]] or call [[PHONE_1]], [[EMAIL_1]]! [x] [[NOPE]] [[";

pub(super) fn restored() -> String {
    format!("Mail {EMAIL} or call {PHONE}, {EMAIL}! [x] [[NOPE]] [[")
}

#[test]
fn a_placeholder_split_anywhere_is_restored() {
    let restorer = restorer();
    let bound = restorer.longest_placeholder() - 1;
    for i in 0..=ANSWER.len() {
        for j in i..=ANSWER.len() {
            let mut stream = restorer.stream();
            let mut out = String::new();
            for piece in [&ANSWER[..i], &ANSWER[i..j], &ANSWER[j..]] {
                out += &stream.push(0, piece);
                assert!(
                    stream.held_bytes() <= bound,
                    "held {} at {i}/{j}",
                    stream.held_bytes()
                );
            }
            out += &stream.flush(0);
            assert_eq!(out, restored(), "split at {i} and {j}");
        }
    }
}

#[test]
fn only_what_could_start_a_placeholder_is_held_back() {
    let restorer = restorer();
    let mut stream = restorer.stream();
    assert_eq!(
        stream.push(0, "plain text, no brackets"),
        "plain text, no brackets"
    );
    assert_eq!(stream.push(0, "a [[X] b [[EMAIL_2"), "a [[X] b [[EMAIL_2");
    assert_eq!(stream.push(0, "end [[EMA"), "end ");
    assert_eq!(stream.held_bytes(), "[[EMA".len());
    // Another index holds on its own.
    assert_eq!(stream.push(1, "["), "");
    assert_eq!(stream.push(0, "IL_1]]."), format!("{EMAIL}."));
    assert_eq!(stream.flush(1), "[");
    assert_eq!(stream.flush(0), "");
}

fn openai_chunk(index: usize, delta: Value, finish: Option<&str>) -> String {
    json!({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
        "choices": [{"index": index, "delta": delta, "finish_reason": finish}]})
    .to_string()
}

/// The text an OpenAI client reads from the events written for one rewrite.
fn openai_text(original: &str, rewrite: &SseRewrite) -> String {
    let mut text = String::new();
    let events = rewrite.before.iter().map(|e| e.data.as_str());
    for data in events.chain([rewrite.data.as_deref().unwrap_or(original)]) {
        let Ok(chunk) = serde_json::from_str::<Value>(data) else {
            continue;
        };
        let delta = &chunk["choices"][0]["delta"];
        text += delta["content"].as_str().unwrap_or_default();
        text += delta["tool_calls"][0]["function"]["arguments"]
            .as_str()
            .unwrap_or_default();
    }
    text
}

#[test]
fn openai_events_are_restored_and_held_text_comes_with_the_finish() {
    let restorer = restorer();
    for split in 0..ANSWER.len() {
        let events = [
            openai_chunk(0, json!({"content": &ANSWER[..split]}), None),
            openai_chunk(0, json!({"content": &ANSWER[split..]}), None),
            openai_chunk(0, json!({}), Some("stop")),
            "[DONE]".to_owned(),
        ];
        let mut stream = restorer.stream();
        let mut text = String::new();
        for event in &events {
            let rewrite = stream.restore_sse_event(event, ClientApi::OpenAi);
            text += &openai_text(event, &rewrite);
        }
        assert_eq!(text, restored(), "split at {split}");
    }
}

#[test]
fn openai_held_text_without_a_finish_comes_before_done() {
    let mut stream = restorer().stream();
    let first = openai_chunk(0, json!({"content": "to [[EMAIL_"}), None);
    assert_eq!(
        openai_text(&first, &stream.restore_sse_event(&first, ClientApi::OpenAi)),
        "to "
    );
    let done = stream.restore_sse_event("[DONE]", ClientApi::OpenAi);
    assert!(done.data.is_none());
    assert_eq!(done.before.len(), 1);
    let chunk: Value = serde_json::from_str(&done.before[0].data).unwrap_or_default();
    assert_eq!(
        (chunk["id"].as_str(), chunk["model"].as_str()),
        (Some("c1"), Some("m"))
    );
    assert_eq!(chunk["choices"][0]["delta"]["content"], "[[EMAIL_");
}

#[test]
fn tool_call_arguments_are_restored_as_json() {
    let mut stream = restorer().stream();
    let args = |text: &str| json!({"tool_calls": [{"index": 0, "function": {"arguments": text}}]});
    let mut text = String::new();
    for event in [
        openai_chunk(0, args("{\"a\":\"[[QUO"), None),
        openai_chunk(0, args("TED_1]]\",\"b\":\"[[EMAIL_1"), None),
        openai_chunk(0, json!({}), Some("tool_calls")),
    ] {
        text += &openai_text(&event, &stream.restore_sse_event(&event, ClientApi::OpenAi));
    }
    // The restored value's quotes are escaped inside the JSON string; held text is flushed.
    assert_eq!(text, "{\"a\":\"say \\\"hi\\\"\",\"b\":\"[[EMAIL_1");
}

#[test]
fn untouched_events_pass_as_they_came() {
    let mut stream = restorer().stream();
    let plain = openai_chunk(0, json!({"content": "nothing to restore"}), None);
    assert!(
        stream
            .restore_sse_event(&plain, ClientApi::OpenAi)
            .is_unchanged()
    );
    let ping = r#"{"type":"ping"}"#;
    assert!(
        stream
            .restore_sse_event(ping, ClientApi::Anthropic)
            .is_unchanged()
    );
}

fn anthropic_delta(index: usize, kind: &str, field: &str, text: &str) -> String {
    json!({"type": "content_block_delta", "index": index, "delta": {"type": kind, field: text}})
        .to_string()
}

/// The text an Anthropic client reads from the events written for one rewrite.
fn anthropic_text(original: &str, rewrite: &SseRewrite) -> String {
    let mut text = String::new();
    for event in &rewrite.before {
        assert_eq!(event.event, Some("content_block_delta"));
    }
    let events = rewrite.before.iter().map(|e| e.data.as_str());
    for data in events.chain([rewrite.data.as_deref().unwrap_or(original)]) {
        let event: Value = serde_json::from_str(data).unwrap_or_default();
        let delta = &event["delta"];
        text += delta["text"].as_str().unwrap_or_default();
        text += delta["partial_json"].as_str().unwrap_or_default();
    }
    text
}

#[test]
fn anthropic_events_are_restored_and_held_text_comes_before_the_block_stop() {
    let restorer = restorer();
    for split in 0..ANSWER.len() {
        let events = [
            anthropic_delta(0, "text_delta", "text", &ANSWER[..split]),
            anthropic_delta(0, "text_delta", "text", &ANSWER[split..]),
            json!({"type": "content_block_stop", "index": 0}).to_string(),
            json!({"type": "message_stop"}).to_string(),
        ];
        let mut stream = restorer.stream();
        let mut text = String::new();
        for event in &events {
            text += &anthropic_text(
                event,
                &stream.restore_sse_event(event, ClientApi::Anthropic),
            );
        }
        assert_eq!(text, restored(), "split at {split}");
    }
    let mut stream = restorer.stream();
    let json_delta = anthropic_delta(
        1,
        "input_json_delta",
        "partial_json",
        "{\"q\":\"[[QUOTED_1]]\"}",
    );
    let text = anthropic_text(
        &json_delta,
        &stream.restore_sse_event(&json_delta, ClientApi::Anthropic),
    );
    assert_eq!(text, "{\"q\":\"say \\\"hi\\\"\"}");
}

pub(super) fn checker(action: GuardrailAction, extra: Vec<DetectorSpec>) -> StreamChecker {
    let mut detectors = vec![detector(DetectorType::Email, GuardrailAction::Mask)];
    detectors.extend(extra);
    let mut policy = spec("answers", detectors);
    policy.mode = GuardrailMode::Enforce;
    policy.on_response = Some(ResponseCheck { action });
    let policy = Arc::new(Policy::compile(&policy).unwrap_or_else(|e| panic!("{e}")));
    StreamChecker::new(&[policy]).unwrap_or_else(|| panic!("no checker"))
}

#[test]
fn the_checker_masks_a_value_split_anywhere() {
    let text = format!(
        "{} write to {EMAIL} today, {}",
        "a".repeat(70),
        "b".repeat(80)
    );
    let expected = text.replace(EMAIL, "[EMAIL]");
    for split in 0..=text.len() {
        let mut masking = checker(GuardrailAction::Mask, Vec::new());
        let mut out = String::new();
        for piece in [&text[..split], &text[split..]] {
            out += &masking.push(0, piece).unwrap_or_else(|b| panic!("{b}"));
            // The window, plus a finding it would have cut through.
            let held = masking.held_bytes();
            assert!(held <= WINDOW + EMAIL.len(), "held {held} at {split}");
            assert!(!out.contains("bob@"));
        }
        out += &masking.flush(0).unwrap_or_else(|b| panic!("{b}"));
        assert_eq!(out, expected, "split at {split}");
        assert_eq!(masking.hits()[0].count, 1);
    }
}

#[test]
fn the_checker_holds_a_long_secret_whole_and_blocks_on_block() {
    let secret = format!("sk-proj-{}", "a1B2c3D4".repeat(20));
    let secrets = vec![detector(DetectorType::Secret, GuardrailAction::Mask)];
    let mut masking = checker(GuardrailAction::Mask, secrets);
    let text = format!("key: {secret} end of the answer");
    let mut out = String::new();
    for piece in text.as_bytes().chunks(7) {
        let piece = std::str::from_utf8(piece).unwrap_or_default();
        out += &masking.push(0, piece).unwrap_or_default();
        assert!(masking.held_bytes() <= MAX_HOLD);
    }
    out += &masking.flush(0).unwrap_or_default();
    assert_eq!(out, "key: [SECRET] end of the answer");

    let mut blocking = checker(GuardrailAction::Block, Vec::new());
    let chunk = openai_chunk(0, json!({"content": "mail bob@exa"}), None);
    assert!(blocking.check_sse_event(&chunk, ClientApi::OpenAi).is_ok());
    let chunk = openai_chunk(0, json!({"content": "mple.com now"}), None);
    let blocked = blocking.check_sse_event(&chunk, ClientApi::OpenAi);
    assert_eq!(
        blocked.err().map(|b| b.guardrail),
        Some("answers".to_owned())
    );
}

fn compile(spec: &switchyard_shared::guardrails::GuardrailSpec) -> Arc<Policy> {
    Arc::new(Policy::compile(spec).unwrap_or_else(|e| panic!("{e}")))
}

fn answer_policy(mode: GuardrailMode, action: GuardrailAction) -> Arc<Policy> {
    let mut spec = spec(
        "answers",
        vec![detector(DetectorType::Email, GuardrailAction::Mask)],
    );
    spec.mode = mode;
    spec.on_response = Some(ResponseCheck { action });
    compile(&spec)
}

#[test]
fn answers_are_masked_blocked_or_monitored() {
    let completion = || json!({"choices": [{"message": {"content": format!("write {EMAIL}")}}]});
    let mut answer = completion();
    let hits = check_answer(
        &[answer_policy(GuardrailMode::Enforce, GuardrailAction::Mask)],
        &mut answer,
        Api::Chat,
    );
    assert_eq!(answer["choices"][0]["message"]["content"], "write [EMAIL]");
    let hits = hits.unwrap_or_default();
    assert_eq!(
        (hits[0].action.as_str(), hits[0].phase.as_str()),
        ("mask", "response")
    );

    let blocked = check_answer(
        &[answer_policy(
            GuardrailMode::Enforce,
            GuardrailAction::Block,
        )],
        &mut completion(),
        Api::Chat,
    );
    assert_eq!(blocked.err().map(|b| b.detector), Some("EMAIL".to_owned()));

    let mut answer = completion();
    let hits = check_answer(
        &[answer_policy(
            GuardrailMode::Monitor,
            GuardrailAction::Block,
        )],
        &mut answer,
        Api::Chat,
    );
    assert_eq!(answer, completion());
    assert_eq!(hits.unwrap_or_default()[0].action, "monitor");

    // A policy without on_response leaves answers alone.
    let mut answer = completion();
    let hits = check_answer(
        &[compile(&spec(
            "pii",
            vec![detector(DetectorType::Email, GuardrailAction::Block)],
        ))],
        &mut answer,
        Api::Chat,
    );
    assert!(hits.is_ok_and(|h| h.is_empty()) && answer == completion());

    let mut message = json!({"content": [{"type": "text", "text": EMAIL}]});
    let hits = check_answer(
        &[answer_policy(GuardrailMode::Enforce, GuardrailAction::Mask)],
        &mut message,
        Api::Messages,
    );
    assert!(hits.is_ok() && message["content"][0]["text"] == "[EMAIL]");
}

#[test]
fn stream_state_can_live_in_a_response_body() {
    fn send<T: Send + 'static>() {}
    fn shared<T: Send + Sync + 'static>() {}
    send::<super::StreamRestorer>();
    send::<StreamChecker>();
    shared::<Policy>();
    shared::<Restorer>();
}
