//! Guardrail actions end to end: blocks that name the detector but never the value and reach no
//! provider, masks and stable hashes in what the provider receives, monitor mode, Anthropic
//! inbound requests, embeddings, consumers' own policies, and the `on_response` checks of
//! answers in both APIs.

use serde_json::{Value, json};
use switchyard_tests::fixtures::{add_mock_provider, exact, route};
use switchyard_tests::metering::with_pricing;
use switchyard_tests::providers::anthropic;
use switchyard_tests::{ApiResponse, MockUpstream};

use super::{
    MODEL, Streamed, add_policy, chat, guarded_setup, hit, hits, message_content, messages_request,
    pii_setup, plain_reply, received_text, request_id, send, stream, streaming, text_stream,
};

/// A card number that passes Luhn.
const CARD: &str = "4111 1111 1111 1111";

/// Asserts a 400 `content_filtered` naming `policy` and `detector`, without `value`; returns
/// the message.
fn assert_filtered(response: &ApiResponse, policy: &str, detector: &str, value: &str) -> String {
    response.expect_status(400, &format!("{detector} blocked"));
    let body = response.json();
    let message = body["error"]["message"]
        .as_str()
        .expect("a message")
        .to_owned();
    if body["type"] == "error" {
        assert_eq!(body["error"]["type"], "invalid_request_error", "{body}");
    } else {
        assert_eq!(
            response.openai_error()["code"],
            "content_filtered",
            "{body}"
        );
    }
    assert!(
        message.contains(policy) && message.contains(detector),
        "{message}"
    );
    assert!(
        !response.text().contains(value),
        "the refusal shows the value: {message}"
    );
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_refuses_before_any_provider_and_names_no_value() {
    let (gateway, mock) = pii_setup(Value::Null).await;
    let text = format!("Charge {CARD} and mail jane.doe@example.com");
    let refused = send(&gateway, &chat(&text), &[]).await;
    assert_filtered(&refused, "pii", "CREDIT_CARD", "4111");
    let log = gateway.wait_log(&request_id(&refused)).await;
    assert_eq!(log.status, 400);
    assert_eq!(log.error_code.as_deref(), Some("content_filtered"));
    assert_eq!(
        hits(&log),
        [hit("pii", "CREDIT_CARD", "block", 1, "request")]
    );

    let words = send(&gateway, &chat("Any news on Project-X?"), &[]).await;
    assert_filtered(&words, "pii", "DENY_WORDS", "Project-X");

    // The Anthropic API refuses in its own error shape.
    let body = json!({"model": MODEL, "max_tokens": 32,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}]});
    let anthropic = ApiResponse::send(messages_request(&gateway, &body)).await;
    assert_filtered(&anthropic, "pii", "CREDIT_CARD", "4111");
    assert_eq!(
        mock.request_count(),
        0,
        "a blocked request reaches no provider"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn masks_and_hashes_rewrite_what_the_provider_receives() {
    let (mut gateway, mock) = pii_setup(Value::Null).await;
    let text = "I am E123456 (jane.doe@example.com); E123456 reports to E654321.";
    let response = send(&gateway, &chat(text), &[]).await;
    response.expect_status(200, "a masked request");
    let received = received_text(&mock);
    let digests = employee_digests(&received);
    assert_eq!(digests.len(), 3, "{received}");
    assert_eq!(digests[0], digests[1], "one value, one digest: {received}");
    assert_ne!(
        digests[0], digests[2],
        "two values, two digests: {received}"
    );
    let expected = format!(
        "I am [EMPLOYEE_ID:{a}] ([EMAIL]); [EMPLOYEE_ID:{a}] reports to [EMPLOYEE_ID:{b}].",
        a = digests[0],
        b = digests[2]
    );
    assert_eq!(received, expected);
    let log = gateway.wait_log(&request_id(&response)).await;
    let mut recorded = hits(&log);
    recorded.sort();
    assert_eq!(
        recorded,
        [
            hit("pii", "EMAIL", "mask", 1, "request"),
            hit("pii", "EMPLOYEE_ID", "hash", 3, "request"),
        ]
    );

    // The digest is the same in a later request, and after a restart.
    send(&gateway, &chat("Who is E123456?"), &[])
        .await
        .expect_status(200, "again");
    assert_eq!(
        received_text(&mock),
        format!("Who is [EMPLOYEE_ID:{}]?", digests[0])
    );
    gateway.restart().await;
    send(&gateway, &chat("Who is E123456?"), &[])
        .await
        .expect_status(200, "after a restart");
    assert_eq!(
        received_text(&mock),
        format!("Who is [EMPLOYEE_ID:{}]?", digests[0])
    );
}

/// The digests of every `[EMPLOYEE_ID:<digest>]` in `text`, each checked to be 8 hex digits.
fn employee_digests(text: &str) -> Vec<String> {
    text.split("[EMPLOYEE_ID:")
        .skip(1)
        .map(|rest| {
            let digest = rest.split(']').next().expect("a closing bracket");
            assert!(
                digest.len() == 8 && digest.bytes().all(|b| b.is_ascii_hexdigit()),
                "not 8 hex digits: {digest:?} in {text}"
            );
            digest.to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_records_hits_and_changes_nothing() {
    let mut watch = super::pii_policy(Value::Null);
    watch["name"] = json!("watch");
    watch["mode"] = json!("monitor");
    let (gateway, mock) = guarded_setup(&[watch], json!({"guardrails": ["watch"]})).await;
    let text = format!("Card {CARD}, mail jane.doe@example.com, call +44 20 7946 0958, E123456.");
    let response = send(&gateway, &chat(&text), &[]).await;
    response.expect_status(200, "monitor mode refuses nothing");
    assert_eq!(received_text(&mock), text, "monitor mode changes nothing");
    let log = gateway.wait_log(&request_id(&response)).await;
    let mut recorded = hits(&log);
    recorded.sort();
    let mut expected: Vec<_> = ["CREDIT_CARD", "EMAIL", "EMPLOYEE_ID", "PHONE"]
        .iter()
        .map(|label| hit("watch", label, "monitor", 1, "request"))
        .collect();
    expected.sort();
    assert_eq!(recorded, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_inbound_requests_are_masked() {
    let mock = anthropic::mock("claude-up").await;
    let (gateway, _openai) = pii_setup(Value::Null).await;
    gateway
        .add_provider(&with_pricing(mock.spec(), "claude-*"))
        .await;
    let mut claude = route(
        "claude",
        vec![exact("claude-cg")],
        vec![json!({"provider": "claude-up"})],
    );
    claude["guardrails"] = json!(["pii"]);
    gateway.add_route(&claude).await;
    let body = json!({
        "model": "claude-cg", "max_tokens": 64,
        "system": "Escalate to ops@corp.example when stuck.",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "I am jane.doe@example.com"}]},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "t1", "name": "lookup", "input": {"who": "E123456"}}]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "t1", "content": "Owner: bob@example.org"}]},
        ],
    });
    let response = ApiResponse::send(messages_request(&gateway, &body)).await;
    response.expect_status(200, "a masked Messages request");
    let sent = mock.last_request().json();
    assert_eq!(sent["system"], "Escalate to [EMAIL] when stuck.", "{sent}");
    assert_eq!(
        sent["messages"][0]["content"][0]["text"], "I am [EMAIL]",
        "{sent}"
    );
    let who = sent["messages"][1]["content"][0]["input"]["who"]
        .as_str()
        .unwrap_or_default();
    assert!(who.starts_with("[EMPLOYEE_ID:"), "{sent}");
    assert_eq!(
        sent["messages"][2]["content"][0]["content"], "Owner: [EMAIL]",
        "{sent}"
    );
    let log = gateway.wait_log(&request_id(&response)).await;
    assert!(
        hits(&log).contains(&hit("pii", "EMAIL", "mask", 3, "request")),
        "{:?}",
        hits(&log)
    );

    // A system prompt given as blocks is masked too.
    let blocks = json!({"model": "claude-cg", "max_tokens": 64,
        "system": [{"type": "text", "text": "Reply to ops@corp.example"}],
        "messages": [{"role": "user", "content": "Hello"}]});
    ApiResponse::send(messages_request(&gateway, &blocks))
        .await
        .expect_status(200, "system blocks");
    let sent = mock.last_request().json();
    assert_eq!(sent["system"][0]["text"], "Reply to [EMAIL]", "{sent}");
    assert!(
        !mock.last_request().body.windows(4).any(|w| w == b"corp"),
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumers_policies_apply_to_its_own_requests_only() {
    let mock = MockUpstream::start("up").await;
    let gateway = switchyard_tests::Gateway::start().await;
    add_mock_provider(&gateway, &mock).await;
    add_policy(&gateway, &super::pii_policy(Value::Null)).await;
    gateway
        .add_route(&super::route_with("cg", "cg-", "up", json!({})))
        .await;
    gateway
        .add_consumer(&json!({"name": "guarded", "guardrails": ["pii"]}))
        .await;
    gateway.add_consumer(&json!({"name": "free"})).await;
    let guarded = gateway.issue_key("guarded", &json!({"name": "ci"})).await;
    let free = gateway.issue_key("free", &json!({"name": "ci"})).await;
    let text = "Mail jane.doe@example.com";

    let bearer = format!("Bearer {}", guarded.key);
    send(&gateway, &chat(text), &[("authorization", &bearer)])
        .await
        .expect_status(200, "guarded");
    assert_eq!(received_text(&mock), "Mail [EMAIL]");
    let bearer = format!("Bearer {}", free.key);
    send(&gateway, &chat(text), &[("authorization", &bearer)])
        .await
        .expect_status(200, "free");
    assert_eq!(received_text(&mock), text);
    send(&gateway, &chat(text), &[])
        .await
        .expect_status(200, "anonymous");
    assert_eq!(received_text(&mock), text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_are_masked_whole_and_streamed_even_split_across_events() {
    let (gateway, mock) = pii_setup(json!({"action": "mask"})).await;
    let question = chat("Who do I write to?");
    mock.enqueue(plain_reply("Write to bob.smith@example.org today.", MODEL));
    let plain = send(&gateway, &question, &[]).await;
    plain.expect_status(200, "a masked answer");
    assert_eq!(message_content(&plain), "Write to [EMAIL] today.");
    let log = gateway.wait_log(&request_id(&plain)).await;
    assert_eq!(hits(&log), [hit("pii", "EMAIL", "mask", 1, "response")]);

    // The address split between two events at every point is still found whole.
    let email = "bob.smith@example.org";
    for cut in 0..=email.len() {
        let first = format!("Write to {}", &email[..cut]);
        let second = format!("{} today.", &email[cut..]);
        mock.enqueue(text_stream(MODEL, &[first.as_str(), second.as_str()], None));
        let streamed = stream(&gateway, &question, &[]).await;
        assert_eq!(
            streamed.openai_text(),
            "Write to [EMAIL] today.",
            "split at {cut}"
        );
        for data in streamed.data() {
            assert!(
                !data.contains("example.org") && !data.contains("bob."),
                "split at {cut}: {data}"
            );
        }
        if cut == 9 {
            let id = streamed.header("x-request-id").expect("an id").to_owned();
            let log = gateway.wait_log(&id).await;
            assert_eq!(hits(&log), [hit("pii", "EMAIL", "mask", 1, "response")]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_check_that_blocks_withholds_the_answer() {
    let (gateway, mock) = pii_setup(json!({"action": "block"})).await;
    let question = chat("Who do I write to?");
    mock.enqueue(plain_reply("Write to bob.smith@example.org today.", MODEL));
    let refused = send(&gateway, &question, &[]).await;
    assert_filtered(&refused, "pii", "EMAIL", "bob.smith");
    let log = gateway.wait_log(&request_id(&refused)).await;
    assert_eq!(
        (log.status, log.error_code.as_deref()),
        (400, Some("content_filtered"))
    );
    assert!(
        hits(&log).contains(&hit("pii", "EMAIL", "block", 1, "response")),
        "{:?}",
        hits(&log)
    );

    // The Messages API withholds it in its own error shape.
    mock.enqueue(plain_reply("Write to bob.smith@example.org today.", MODEL));
    let ask = json!({"model": MODEL, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Who do I write to?"}]});
    let anthropic = ApiResponse::send(messages_request(&gateway, &ask)).await;
    assert_filtered(&anthropic, "pii", "EMAIL", "bob.smith");

    // A stream that would carry the address ends in an error instead, without it.
    mock.enqueue(text_stream(
        MODEL,
        &["Write to bob.smith@", "example.org today."],
        None,
    ));
    let streamed = stream(&gateway, &question, &[]).await;
    let last = streamed.events.last().expect("events");
    assert!(!last.is_done(), "{:?}", streamed.data());
    assert_eq!(
        last.json()["error"]["code"],
        "content_filtered",
        "{:?}",
        streamed.data()
    );
    for data in streamed.data() {
        assert!(!data.contains("bob.smith"), "{data}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_answers_are_masked_whole_and_streamed() {
    let (gateway, mock) = pii_setup(json!({"action": "mask"})).await;
    let ask = json!({"model": MODEL, "max_tokens": 64,
        "messages": [{"role": "user", "content": "Who do I write to?"}]});
    mock.enqueue(plain_reply("Write to bob.smith@example.org today.", MODEL));
    let plain = ApiResponse::send(messages_request(&gateway, &ask)).await;
    plain.expect_status(200, "a masked Messages answer");
    assert_eq!(
        plain.json()["content"][0]["text"],
        "Write to [EMAIL] today.",
        "{}",
        plain.text()
    );

    let email = "bob.smith@example.org";
    for cut in [1, 4, 9, 10, 16, email.len() - 1] {
        let first = format!("Write to {}", &email[..cut]);
        let second = format!("{} today.", &email[cut..]);
        mock.enqueue(text_stream(MODEL, &[first.as_str(), second.as_str()], None));
        let streamed = Streamed::read(messages_request(&gateway, &streaming(ask.clone()))).await;
        assert_eq!(
            streamed.anthropic_text(),
            "Write to [EMAIL] today.",
            "split at {cut}"
        );
        for data in streamed.data() {
            assert!(!data.contains("example.org"), "split at {cut}: {data}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_inputs_are_masked_and_cached() {
    let extra = json!({"guardrails": ["pii"], "cache": super::cache_on()});
    let (gateway, mock) = guarded_setup(&[super::pii_policy(Value::Null)], extra).await;
    let body = json!({"model": MODEL, "input": ["Mail jane.doe@example.com", "Nothing here"]});
    let first = gateway.embeddings(&body).await;
    first.expect_status(200, "masked embeddings");
    assert_eq!(super::cache_header(&first), Some("miss"));
    let sent = mock.last_request().json();
    assert_eq!(
        sent["input"],
        json!(["Mail [EMAIL]", "Nothing here"]),
        "{sent}"
    );
    super::wait_entries(&gateway, 1).await;

    let again = gateway.embeddings(&body).await;
    again.expect_status(200, "cached embeddings");
    assert_eq!(super::cache_header(&again), Some("hit"));
    assert_eq!(again.body, first.body);
    assert_eq!(mock.request_count(), 1);
}
