//! No detected value is ever written anywhere but to the provider (when a policy lets it through)
//! and back to its own client: not to the request log, not to the gateway's stderr (logging at
//! its most verbose), not into an error message. Every action and both phases are exercised on
//! one gateway, then all three places are searched for every value.

use serde_json::json;
use switchyard_tests::{ApiResponse, Gateway, MockUpstream};

use super::{
    MODEL, add_policy, add_priced, chat, chat_for, messages_request, pii_policy, plain_reply,
    route_with, send, stream, streaming, text_stream,
};

/// Every value the requests and answers below carry, as the client or the provider wrote it.
const VALUES: &[&str] = &[
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "Project-X",
    "E123456",
    "+44 20 7946 0958",
    "7946 0958",
    "123-45-6789",
    "sk-proj-abc123DEF456ghi789JKL0",
    "bob.smith@example.org",
    "carol@example.net",
];

/// What one request carries: an email (masked), an employee id (hashed), a phone number
/// (redacted and restored), an SSN and a secret (seen by the monitor-mode policy only).
fn loaded_text() -> String {
    "Mail jane.doe@example.com, I am E123456, call +44 20 7946 0958, SSN 123-45-6789, \
     key sk-proj-abc123DEF456ghi789JKL0."
        .to_owned()
}

async fn leaky_setup() -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("up").await;
    let gateway = Gateway::start().await;
    add_priced(&gateway, &mock, "*").await;
    add_policy(&gateway, &pii_policy(json!({"action": "mask"}))).await;
    let watch = json!({"name": "watch", "mode": "monitor", "detectors": [
        {"type": "us_ssn", "action": "mask"}, {"type": "secret", "action": "block"}]});
    add_policy(&gateway, &watch).await;
    let strict = json!({"name": "strict", "detectors": [{"type": "email", "action": "mask"}],
        "on_response": {"action": "block"}});
    add_policy(&gateway, &strict).await;
    let guarded = json!({"guardrails": ["pii", "watch"]});
    gateway
        .add_route(&route_with("cg", "cg-", "up", guarded))
        .await;
    let strict = json!({"guardrails": ["strict"]});
    gateway
        .add_route(&route_with("strict", "strict-", "up", strict))
        .await;
    (gateway, mock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_value_ever_reaches_the_log_stderr_or_an_error() {
    let (gateway, mock) = leaky_setup().await;
    let mut errors: Vec<ApiResponse> = Vec::new();

    // Blocks, in both APIs.
    let card = chat("Charge 4111 1111 1111 1111 now, jane.doe@example.com");
    errors.push(send(&gateway, &card, &[]).await);
    errors.push(send(&gateway, &chat("Status of Project-X for E123456?"), &[]).await);
    let anthropic_card = json!({"model": MODEL, "max_tokens": 32,
        "system": "You bill 4111 1111 1111 1111.",
        "messages": [{"role": "user", "content": "Go"}]});
    errors.push(ApiResponse::send(messages_request(&gateway, &anthropic_card)).await);
    for refused in &errors {
        refused.expect_status(400, "a blocked request");
    }
    assert_eq!(mock.request_count(), 0);

    // Mask, hash, redact and restore, monitor, and answer masking: plain, streamed and Anthropic.
    mock.enqueue(plain_reply(
        "Ask bob.smith@example.org to call [[PHONE_1]].",
        MODEL,
    ));
    send(&gateway, &chat(&loaded_text()), &[])
        .await
        .expect_status(200, "plain");
    let pieces = ["Ask bob.smith@exa", "mple.org to call [[PHO", "NE_1]]."];
    mock.enqueue(text_stream(MODEL, &pieces, Some((10, 5))));
    let streamed = stream(&gateway, &chat(&loaded_text()), &[]).await;
    assert_eq!(
        streamed.openai_text(),
        "Ask [EMAIL] to call +44 20 7946 0958."
    );
    mock.enqueue(text_stream(MODEL, &pieces, None));
    let body = json!({"model": MODEL, "max_tokens": 64, "system": loaded_text(),
        "messages": [{"role": "user", "content": [{"type": "text", "text": loaded_text()}]}]});
    let claude = super::Streamed::read(messages_request(&gateway, &streaming(body))).await;
    assert_eq!(
        claude.anthropic_text(),
        "Ask [EMAIL] to call +44 20 7946 0958."
    );

    // An answer check that blocks.
    mock.enqueue(plain_reply("Write to carol@example.net.", "strict-1"));
    let withheld = send(&gateway, &chat_for("strict-1", "Who?"), &[]).await;
    withheld.expect_status(400, "a withheld answer");
    errors.push(withheld);

    // Only the values the policies let through reached the provider: the SSN and the key
    // (monitor mode). Every masked, hashed or redacted one stayed behind.
    for request in mock.requests() {
        let raw = String::from_utf8_lossy(&request.body);
        for value in ["jane.doe@example.com", "E123456", "7946 0958"] {
            assert!(!raw.contains(value), "{value} reached the provider: {raw}");
        }
    }

    let logs = gateway.settled_logs().await;
    assert_eq!(logs.len(), 7, "one record per request: {logs:#?}");
    assert!(
        logs.iter().all(|log| !log.guardrails.is_empty()),
        "{logs:#?}"
    );
    let mut places: Vec<(String, String)> = Vec::new();
    let page = gateway.admin_get("/api/logs?limit=500").await;
    page.expect_status(200, "GET /api/logs");
    places.push(("GET /api/logs".to_owned(), page.text()));
    for log in &logs {
        let entry = gateway.log_entry(&log.request_id).await;
        places.push((format!("GET /api/logs/{}", log.request_id), entry.text()));
    }
    for (i, error) in errors.iter().enumerate() {
        places.push((format!("error answer {i}"), error.text()));
    }
    places.push(("the gateway's stderr".to_owned(), gateway.stderr_text()));
    let mut leaks = Vec::new();
    for (place, text) in &places {
        for value in VALUES {
            if text.contains(value) {
                leaks.push(format!("{value:?} in {place}"));
            }
        }
    }
    assert!(leaks.is_empty(), "values leaked:\n{}", leaks.join("\n"));
    assert!(
        gateway.stderr_text().contains("proxying"),
        "the gateway logged at trace level, so its most verbose output was searched"
    );
}
