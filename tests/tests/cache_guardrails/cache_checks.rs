//! Where the cache meets the answer checks: a stored answer must not carry past a policy's
//! `on_response` check what that check would have masked had the provider sent it. An answer is
//! stored as one caller received it, under a key that names neither the caller's policies nor
//! the route's at the time; these tests serve it to a caller whose policies differ.

use serde_json::json;

use super::{
    MODEL, add_policy, cache_on, cached_setup, chat, guarded_setup, message_content, plain_reply,
    route_with, send, wait_entries,
};

/// A policy that masks email addresses in answers (and in requests).
fn answer_check() -> serde_json::Value {
    json!({"name": "answers", "detectors": [{"type": "email", "action": "mask"}],
        "on_response": {"action": "mask"}})
}

/// The provider's answer: an address the checks must mask.
const ANSWER: &str = "Write to bob.smith@example.org.";
const MASKED: &str = "Write to [EMAIL].";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumers_answer_check_applies_to_answers_shared_through_a_global_cache() {
    let mut global = cache_on();
    global["scope"] = json!("global");
    let (gateway, mock) = guarded_setup(&[answer_check()], json!({"cache": global})).await;
    gateway.add_consumer(&json!({"name": "open"})).await;
    gateway
        .add_consumer(&json!({"name": "careful", "guardrails": ["answers"]}))
        .await;
    let open = gateway.issue_key("open", &json!({"name": "ci"})).await;
    let careful = gateway.issue_key("careful", &json!({"name": "ci"})).await;
    mock.set_default(plain_reply(ANSWER, MODEL));
    let question = chat("Who do I write to?");

    // The open consumer has no policy: it gets the address, and the answer is stored.
    let bearer = format!("Bearer {}", open.key);
    let first = send(&gateway, &question, &[("authorization", &bearer)]).await;
    first.expect_status(200, "the open consumer");
    assert_eq!(message_content(&first), ANSWER);
    wait_entries(&gateway, 1).await;

    // The careful consumer's policy masks addresses in answers, cached or not.
    let bearer = format!("Bearer {}", careful.key);
    let second = send(&gateway, &question, &[("authorization", &bearer)]).await;
    second.expect_status(200, "the careful consumer");
    assert_eq!(
        message_content(&second),
        MASKED,
        "x-switchyard-cache: {:?}; the careful consumer's answer check was skipped",
        second.header("x-switchyard-cache")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_stored_before_a_route_gained_an_answer_check_is_checked_when_served() {
    let (gateway, mock) = cached_setup().await;
    mock.set_default(plain_reply(ANSWER, MODEL));
    let question = chat("Who do I write to?");
    let first = send(&gateway, &question, &[]).await;
    assert_eq!(message_content(&first), ANSWER, "no policy yet");
    wait_entries(&gateway, 1).await;

    add_policy(&gateway, &answer_check()).await;
    let guarded = route_with(
        "cg",
        "cg-",
        "up",
        json!({"cache": cache_on(), "guardrails": ["answers"]}),
    );
    gateway
        .admin_put("/api/routes/cg", &guarded)
        .await
        .expect_status(200, "the route gains an answer check");
    let second = send(&gateway, &question, &[]).await;
    second.expect_status(200, "the same question");
    assert_eq!(
        message_content(&second),
        MASKED,
        "x-switchyard-cache: {:?}; the route's answer check was skipped",
        second.header("x-switchyard-cache")
    );
}
