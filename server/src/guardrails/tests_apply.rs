//! Tests of request application (every action, monitor mode, overlaps, the JSON of all three
//! APIs), whole-answer restore, and that nothing prints a value.

use std::sync::Arc;

use serde_json::{Value, json};
use switchyard_shared::guardrails::{DetectorType, GuardrailAction, GuardrailHit, GuardrailMode};

use super::tests_detect::{detector, spec};
use super::{Api, Applied, Blocked, Policy, apply_request};

const KEY: [u8; 32] = [7; 32];
const EMAIL: &str = "bob@example.com";

fn compile(spec: &switchyard_shared::guardrails::GuardrailSpec) -> Arc<Policy> {
    Arc::new(Policy::compile(spec).unwrap_or_else(|e| panic!("{e}")))
}

fn one(kind: DetectorType, action: GuardrailAction) -> Arc<Policy> {
    compile(&spec("pii", vec![detector(kind, action)]))
}

fn regex(
    label: &str,
    pattern: &str,
    action: GuardrailAction,
) -> switchyard_shared::guardrails::DetectorSpec {
    let mut d = detector(DetectorType::Regex, action);
    d.label = Some(label.into());
    d.pattern = Some(pattern.into());
    d
}

fn apply(policies: &[Arc<Policy>], body: &Value, api: Api) -> Applied {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    apply_request(policies, &bytes, api, &KEY).unwrap_or_else(|b| panic!("blocked: {b}"))
}

fn sent(applied: &Applied) -> Value {
    let body = applied
        .body
        .as_ref()
        .unwrap_or_else(|| panic!("body unchanged"));
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}"))
}

fn chat(content: &str) -> Value {
    json!({"model": "gpt-4o", "messages": [{"role": "user", "content": content}]})
}

fn hit(guardrail: &str, detector: &str, action: &str, count: u32) -> GuardrailHit {
    GuardrailHit {
        guardrail: guardrail.into(),
        detector: detector.into(),
        action: action.into(),
        count,
        phase: "request".into(),
    }
}

#[test]
fn mask_replaces_values_with_the_label() {
    let applied = apply(
        &[one(DetectorType::Email, GuardrailAction::Mask)],
        &chat(&format!("mail {EMAIL} and {EMAIL}")),
        Api::Chat,
    );
    assert_eq!(
        sent(&applied)["messages"][0]["content"],
        "mail [EMAIL] and [EMAIL]"
    );
    assert_eq!(applied.hits, vec![hit("pii", "EMAIL", "mask", 2)]);
    assert!(applied.restore.is_none());
}

#[test]
fn hash_is_stable_keyed_and_tells_values_apart() {
    let policies = [one(DetectorType::Email, GuardrailAction::Hash)];
    let body = chat(&format!("{EMAIL} {EMAIL} amy@example.com"));
    let text = sent(&apply(&policies, &body, Api::Chat))["messages"][0]["content"].clone();
    let parts: Vec<&str> = text.as_str().unwrap_or_default().split(' ').collect();
    assert_eq!(parts[0], parts[1]);
    assert_ne!(parts[0], parts[2]);
    assert_eq!(
        parts[0],
        format!("[EMAIL:{}]", super::scan::digest8(&KEY, EMAIL))
    );
    assert_eq!(parts[0].len(), "[EMAIL:]".len() + 8);
    assert_ne!(
        super::scan::digest8(&[8; 32], EMAIL),
        super::scan::digest8(&KEY, EMAIL)
    );
}

#[test]
fn redact_restore_numbers_distinct_values_and_restores_answers() {
    let policies = [compile(&spec(
        "pii",
        vec![
            detector(DetectorType::Email, GuardrailAction::RedactRestore),
            detector(DetectorType::Phone, GuardrailAction::RedactRestore),
        ],
    ))];
    let body = chat(&format!(
        "{EMAIL}, amy@example.com, {EMAIL}, +1 415-555-2671"
    ));
    let applied = apply(&policies, &body, Api::Chat);
    assert_eq!(
        sent(&applied)["messages"][0]["content"],
        "[[EMAIL_1]], [[EMAIL_2]], [[EMAIL_1]], [[PHONE_1]]"
    );
    let restore = applied.restore.unwrap_or_else(|| panic!("no restorer"));
    assert_eq!(restore.len(), 3);
    assert_eq!(
        restore.restore_text("to [[EMAIL_2]] [[EMAIL_9]]"),
        "to amy@example.com [[EMAIL_9]]"
    );
    assert!(matches!(
        restore.restore_text("nothing"),
        std::borrow::Cow::Borrowed(_)
    ));

    let mut answer = json!({"choices": [{"message": {"content": "Hi [[EMAIL_1]]", "tool_calls": [
        {"id": "call_1", "function": {"name": "mail", "arguments": "{\"to\":\"[[[EMAIL_1]]]\"}"}}
    ]}}]});
    restore.restore_json_answer(&mut answer, Api::Chat);
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        format!("Hi {EMAIL}")
    );
    let args = answer["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"].clone();
    assert_eq!(args, json!({"to": format!("[{EMAIL}]")}).to_string());

    let mut message = json!({"content": [{"type": "text", "text": "[[PHONE_1]]"},
        {"type": "tool_use", "id": "t", "name": "call", "input": {"to": "[[PHONE_1]]"}}]});
    restore.restore_json_answer(&mut message, Api::Messages);
    assert_eq!(message["content"][0]["text"], "+1 415-555-2671");
    assert_eq!(message["content"][1]["input"]["to"], "+1 415-555-2671");
}

#[test]
fn block_refuses_and_names_the_detector_not_the_value() {
    let policies = [
        one(DetectorType::Email, GuardrailAction::Mask),
        compile(&spec(
            "cards",
            vec![detector(DetectorType::CreditCard, GuardrailAction::Block)],
        )),
    ];
    let body = serde_json::to_vec(&chat("pay with 4111 1111 1111 1111, mail bob@example.com"));
    let blocked = apply_request(&policies, &body.unwrap_or_default(), Api::Chat, &KEY)
        .err()
        .unwrap_or_else(|| panic!("not blocked"));
    assert_eq!(
        blocked,
        Blocked {
            guardrail: "cards".into(),
            detector: "CREDIT_CARD".into()
        }
    );
    for shown in [
        blocked.to_string(),
        format!("{blocked:?}"),
        format!("{:?}", blocked.hit("request")),
    ] {
        assert!(
            shown.contains("CREDIT_CARD") && !shown.contains("4111"),
            "{shown}"
        );
    }
}

#[test]
fn monitor_records_and_changes_nothing() {
    let mut monitor = spec(
        "watch",
        vec![
            detector(DetectorType::Email, GuardrailAction::Mask),
            detector(DetectorType::CreditCard, GuardrailAction::Block),
        ],
    );
    monitor.mode = GuardrailMode::Monitor;
    let applied = apply(
        &[compile(&monitor)],
        &chat(&format!("{EMAIL} 4111 1111 1111 1111")),
        Api::Chat,
    );
    assert!(applied.body.is_none() && applied.restore.is_none());
    assert_eq!(
        applied.hits,
        vec![
            hit("watch", "EMAIL", "monitor", 1),
            hit("watch", "CREDIT_CARD", "monitor", 1)
        ]
    );
}

#[test]
fn nothing_found_sends_the_original_bytes() {
    let policies = [one(DetectorType::Email, GuardrailAction::Mask)];
    let applied = apply(&policies, &chat("no personal data here"), Api::Chat);
    assert!(applied.body.is_none() && applied.hits.is_empty() && applied.restore.is_none());
    // Not JSON: the provider refuses it, so it goes as it came.
    let raw = apply_request(&policies, b"not json bob@example.com", Api::Chat, &KEY);
    assert!(raw.is_ok_and(|a| a.body.is_none()));
}

#[test]
fn chat_walk_covers_parts_tool_results_and_arguments_only() {
    let body = json!({
        "model": "bob@example.com",
        "user": "bob@example.com",
        "messages": [
            {"role": "system", "content": "admin is bob@example.com"},
            {"role": "user", "name": "bob@example.com", "content": [
                {"type": "text", "text": "say \"hi\" to bob@example.com\n"},
                {"type": "image_url", "image_url": {"url": "https://x/bob@example.com.png"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "bob@example.com", "type": "function",
                "function": {"name": "send", "arguments": "{\"to\":\"bob@example.com\",\"n\":1}"}}]},
            {"role": "tool", "tool_call_id": "bob@example.com", "content": "sent to bob@example.com"}
        ]
    });
    let applied = apply(
        &[one(DetectorType::Email, GuardrailAction::Mask)],
        &body,
        Api::Chat,
    );
    let sent = sent(&applied);
    let m = &sent["messages"];
    assert_eq!(m[0]["content"], "admin is [EMAIL]");
    assert_eq!(m[1]["content"][0]["text"], "say \"hi\" to [EMAIL]\n");
    assert_eq!(m[1]["content"][1], body["messages"][1]["content"][1]);
    let args = m[2]["tool_calls"][0]["function"]["arguments"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<Value>(args).ok(),
        Some(json!({"to": "[EMAIL]", "n": 1}))
    );
    assert_eq!(m[3]["content"], "sent to [EMAIL]");
    for untouched in [
        &sent["model"],
        &sent["user"],
        &m[1]["name"],
        &m[2]["tool_calls"][0]["id"],
    ] {
        assert_eq!(untouched, EMAIL);
    }
    assert_eq!(applied.hits, vec![hit("pii", "EMAIL", "mask", 4)]);
}

#[test]
fn embeddings_walk_covers_string_and_array_inputs() {
    let policies = [one(DetectorType::Email, GuardrailAction::Mask)];
    let single = apply(
        &policies,
        &json!({"model": "e", "input": EMAIL}),
        Api::Embeddings,
    );
    assert_eq!(sent(&single)["input"], "[EMAIL]");
    let many = json!({"model": "e", "input": ["a", format!("x {EMAIL}")]});
    assert_eq!(
        sent(&apply(&policies, &many, Api::Embeddings))["input"],
        json!(["a", "x [EMAIL]"])
    );
    let tokens = json!({"model": "e", "input": [[1, 2, 3]]});
    assert!(apply(&policies, &tokens, Api::Embeddings).body.is_none());
}

#[test]
fn messages_walk_covers_system_blocks_and_tool_results() {
    let policies = [one(DetectorType::Email, GuardrailAction::Mask)];
    let string_system = json!({"model": "c", "system": EMAIL, "messages": []});
    assert_eq!(
        sent(&apply(&policies, &string_system, Api::Messages))["system"],
        "[EMAIL]"
    );
    let body = json!({
        "model": "claude",
        "system": [{"type": "text", "text": format!("owner {EMAIL}")}],
        "messages": [
            {"role": "user", "content": format!("hi {EMAIL}")},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": EMAIL, "signature": "s"},
                {"type": "text", "text": EMAIL},
                {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"q": [EMAIL]}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": EMAIL},
                {"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": EMAIL}]},
                {"type": "image", "source": {"type": "url", "url": format!("https://x/{EMAIL}")}}
            ]}
        ]
    });
    let applied = apply(&policies, &body, Api::Messages);
    let sent = sent(&applied);
    assert_eq!(sent["system"][0]["text"], "owner [EMAIL]");
    let m = &sent["messages"];
    assert_eq!(m[0]["content"], "hi [EMAIL]");
    assert_eq!(m[1]["content"][0]["thinking"], EMAIL);
    assert_eq!(m[1]["content"][1]["text"], "[EMAIL]");
    assert_eq!(m[1]["content"][2]["input"]["q"][0], "[EMAIL]");
    assert_eq!(m[2]["content"][0]["content"], "[EMAIL]");
    assert_eq!(m[2]["content"][1]["content"][0]["text"], "[EMAIL]");
    assert_eq!(m[2]["content"][2], body["messages"][2]["content"][2]);
    assert_eq!(applied.hits, vec![hit("pii", "EMAIL", "mask", 6)]);
}

#[test]
fn overlapping_findings_are_handled_once_under_the_longest() {
    let policy = compile(&spec(
        "pii",
        vec![
            regex("DOMAIN", r"example\.com", GuardrailAction::Hash),
            detector(DetectorType::Email, GuardrailAction::Mask),
            regex("LEFT", "abc-def", GuardrailAction::Mask),
            regex("RIGHT", "def-ghij", GuardrailAction::Mask),
        ],
    ));
    let applied = apply(
        &[policy],
        &chat(&format!("{EMAIL} abc-def-ghij!")),
        Api::Chat,
    );
    // The email is longer than the domain inside it; the two words overlap and are replaced
    // once, as a whole, under the longer finding.
    assert_eq!(sent(&applied)["messages"][0]["content"], "[EMAIL] [RIGHT]!");
    assert_eq!(
        applied.hits,
        vec![
            hit("pii", "EMAIL", "mask", 1),
            hit("pii", "RIGHT", "mask", 1)
        ]
    );
}

#[test]
fn several_policies_apply_in_order_and_a_value_is_handled_once() {
    let first = one(DetectorType::Email, GuardrailAction::Mask);
    let second = compile(&spec(
        "second",
        vec![
            detector(DetectorType::Email, GuardrailAction::Hash),
            detector(DetectorType::UsSsn, GuardrailAction::Mask),
        ],
    ));
    let applied = apply(
        &[first, second],
        &chat(&format!("{EMAIL} 123-45-6789")),
        Api::Chat,
    );
    assert_eq!(sent(&applied)["messages"][0]["content"], "[EMAIL] [US_SSN]");
    assert_eq!(
        applied.hits,
        vec![
            hit("pii", "EMAIL", "mask", 1),
            hit("second", "US_SSN", "mask", 1)
        ]
    );
}

#[test]
fn debug_output_never_shows_a_value() {
    let policies = [compile(&spec(
        "pii",
        vec![detector(
            DetectorType::Email,
            GuardrailAction::RedactRestore,
        )],
    ))];
    let applied = apply(&policies, &chat(EMAIL), Api::Chat);
    let debug = format!("{applied:?} {:?}", applied.hits);
    assert!(
        !debug.contains("bob@") && debug.contains("EMAIL"),
        "{debug}"
    );
    let stream = applied.restore.as_ref().map(|r| r.stream());
    assert!(!format!("{stream:?}").contains("bob@"));
}
