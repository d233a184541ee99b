//! Who may call: keys from every header SDKs use, each reason a key is refused (401), models and
//! routes a consumer may not use (403), and anonymous callers while `client_auth` is off. A refused
//! request never reaches the provider.

use std::time::Instant;

use reqwest::Method;
use serde_json::json;
use switchyard_tests::consumers::{KeyHeader, rfc3339_in};
use switchyard_tests::{ApiResponse, Gateway, poll_until};

use super::{
    DEADLINE, DEEPSEEK, GPT, MISSING, anthropic_error, assert_key_refused,
    assert_key_refused_anthropic, assert_no_client_key_upstream, chat, consumer_with_key,
    gpt_route, message, openai_error, setup,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_key_is_refused_when_client_auth_is_required() {
    let (gateway, mock) = setup().await;
    consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    gateway.set_client_auth("required").await;

    let response = gateway.chat_as(None, &chat(DEEPSEEK)).await;
    assert_key_refused(&response, MISSING, None);
    let response = gateway
        .messages_with(KeyHeader::XApiKey, None, &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(&response, MISSING, None);
    // The placeholder an SDK forces apps to send is no key either once keys are required.
    let response = gateway.chat_as(Some("unused"), &chat(DEEPSEEK)).await;
    assert_key_refused(&response, &[], Some("unused"));
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some("unused"), &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(&response, &[], Some("unused"));
    assert_eq!(
        mock.request_count(),
        0,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_proxy_endpoint_needs_a_key_when_required() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    gateway.set_client_auth("required").await;

    let embeddings = gateway
        .embeddings(&json!({"model": "gpt-embed", "input": "hi"}))
        .await;
    assert_key_refused(&embeddings, MISSING, None);
    let count = ApiResponse::send(
        gateway
            .proxy_request(Method::POST, "/v1/messages/count_tokens")
            .header("content-type", "application/json")
            .header("anthropic-version", "2023-06-01")
            .body(message(DEEPSEEK).to_string()),
    )
    .await;
    assert_key_refused_anthropic(&count, MISSING, None);
    assert_eq!(
        mock.request_count(),
        0,
        "a refused request reached the mock"
    );
    let models = ApiResponse::send(
        gateway
            .proxy_request(Method::GET, "/v1/models")
            .bearer_auth(&key.key),
    )
    .await;
    models.expect_status(200, "listing models with a key");
    // The model list tells a stranger which models (and so which providers) are behind the
    // gateway; with keys required it is no exception.
    let models = ApiResponse::send(gateway.proxy_request(Method::GET, "/v1/models")).await;
    assert_key_refused(&models, MISSING, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_read_from_each_header_sdks_use() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    gateway.set_client_auth("required").await;

    for header in KeyHeader::ALL {
        gateway
            .chat_with(header, Some(&key.key), &chat(DEEPSEEK))
            .await
            .expect_status(200, &format!("chat with the key in {header:?}"));
        gateway
            .messages_with(header, Some(&key.key), &message(DEEPSEEK))
            .await
            .expect_status(200, &format!("messages with the key in {header:?}"));
        // The same header with a mistyped key is read too, and refused.
        let response = gateway
            .chat_with(header, Some(&key.mistyped()), &chat(DEEPSEEK))
            .await;
        assert_key_refused(&response, &["malformed", "checksum"], Some(&key.mistyped()));
    }
    assert_eq!(mock.request_count(), 6);
    assert_no_client_key_upstream(&mock);
    let sent = mock.last_request();
    assert_eq!(
        sent.bearer(),
        Some(switchyard_tests::fixtures::test_key("up").as_str()),
        "the provider gets the provider's key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mistyped_key_is_refused_whether_or_not_keys_are_required() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    let mistyped = key.mistyped();
    // Half a key: the right prefix, far too short to hold a checksum.
    let truncated = key.key[..12].to_owned();

    for mode in ["off", "required"] {
        gateway.set_client_auth(mode).await;
        let response = gateway.chat_as(Some(&mistyped), &chat(DEEPSEEK)).await;
        assert_key_refused(&response, &["malformed", "checksum"], Some(&mistyped));
        let response = gateway
            .messages_with(KeyHeader::XApiKey, Some(&mistyped), &message(DEEPSEEK))
            .await;
        assert_key_refused_anthropic(&response, &["malformed", "checksum"], Some(&mistyped));
        let response = gateway.chat_as(Some(&truncated), &chat(DEEPSEEK)).await;
        assert_key_refused(&response, &["malformed", "checksum"], Some(&truncated));
    }
    assert_eq!(
        mock.request_count(),
        0,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_this_gateway_never_issued_is_refused() {
    let (gateway, mock) = setup().await;
    consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    // A well-formed key with a valid checksum, issued by another gateway.
    let (elsewhere, _other_mock) = setup().await;
    let foreign = consumer_with_key(&elsewhere, json!({"name": "team-a"})).await;
    elsewhere
        .chat_as(Some(&foreign.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the key works where it was issued");

    for mode in ["off", "required"] {
        gateway.set_client_auth(mode).await;
        let response = gateway.chat_as(Some(&foreign.key), &chat(DEEPSEEK)).await;
        assert_key_refused(&response, &["not valid", "unknown"], Some(&foreign.key));
        let response = gateway
            .messages_with(KeyHeader::XApiKey, Some(&foreign.key), &message(DEEPSEEK))
            .await;
        assert_key_refused_anthropic(&response, &["not valid", "unknown"], Some(&foreign.key));
    }
    assert_eq!(
        mock.request_count(),
        0,
        "a refused request reached the mock"
    );
}

/// `PUT` of a key's fields, asserting 200.
async fn update_key(gateway: &Gateway, consumer: &str, id: i64, body: serde_json::Value) {
    gateway
        .admin_put(&format!("/api/consumers/{consumer}/keys/{id}"), &body)
        .await
        .expect_status(200, &format!("PUT key {id} {body}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_key_and_a_disabled_consumer_are_refused_at_once() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    let second = gateway
        .issue_key("team-a", &json!({"name": "laptop"}))
        .await;
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "an enabled key");

    update_key(&gateway, "team-a", key.id, json!({"disabled": true})).await;
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_key_refused(&response, &["disabled"], Some(&key.key));
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(&response, &["disabled"], Some(&key.key));
    gateway
        .chat_as(Some(&second.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the consumer's other key");
    update_key(&gateway, "team-a", key.id, json!({"disabled": false})).await;
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the key enabled again");

    let disabled = json!({"name": "team-a", "disabled": true});
    gateway
        .admin_put("/api/consumers/team-a", &disabled)
        .await
        .expect_status(200, "disabling the consumer");
    for issued in [&key, &second] {
        let response = gateway.chat_as(Some(&issued.key), &chat(DEEPSEEK)).await;
        assert_key_refused(&response, &["disabled"], Some(&issued.key));
    }
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&second.key), &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(&response, &["disabled"], Some(&second.key));
    assert_eq!(
        mock.request_count(),
        3,
        "only the admitted requests reach the mock"
    );

    gateway
        .admin_put("/api/consumers/team-a", &json!({"name": "team-a"}))
        .await
        .expect_status(200, "enabling the consumer");
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the consumer enabled again: its keys were kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_is_refused_once_it_expires() {
    let (gateway, mock) = setup().await;
    gateway.add_consumer(&json!({"name": "team-a"})).await;
    // RFC 3339 has whole seconds here, so the key expires 2 to 3 seconds from now.
    let expires_at = rfc3339_in(std::time::Duration::from_secs(3));
    let issued_at = Instant::now();
    let key = gateway
        .issue_key(
            "team-a",
            &json!({"name": "short", "expires_at": expires_at}),
        )
        .await;
    let listed = gateway.admin_get("/api/consumers/team-a/keys").await.json();
    assert!(
        listed[0]["expires_at"].is_string(),
        "the expiry is listed: {listed}"
    );
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "before the expiry");
    assert!(
        issued_at.elapsed() < std::time::Duration::from_secs(2),
        "the first request came too late to prove the key worked before expiring"
    );

    let response = poll_until(DEADLINE, "the key to expire", || async {
        let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
        (response.status != 200).then_some(response)
    })
    .await;
    let elapsed = issued_at.elapsed();
    assert_key_refused(&response, &["expired"], Some(&key.key));
    assert!(
        elapsed >= std::time::Duration::from_millis(1500),
        "refused after {elapsed:?}, before its expiry"
    );
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(&response, &["expired"], Some(&key.key));
    let admitted = mock.request_count();
    assert!(admitted >= 1, "the key was admitted before it expired");

    // Clearing the expiry brings the key back.
    update_key(&gateway, "team-a", key.id, json!({"expires_at": null})).await;
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the expiry cleared");
    assert_eq!(mock.request_count(), admitted + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_client_auth_off_placeholder_keys_are_anonymous_and_sy_keys_are_checked() {
    let (gateway, mock) = setup().await;
    let settings = gateway.admin_get("/api/settings").await;
    settings.expect_status(200, "GET /api/settings");
    assert_eq!(settings.json()["effective_client_auth"], "off");
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a", "allowed_models": ["deepseek-*"]}),
    )
    .await;

    // Anonymous: no key, and the placeholders SDKs force apps to send.
    gateway
        .chat_as(None, &chat(GPT))
        .await
        .expect_status(200, "no key");
    for placeholder in ["unused", "sk-placeholder-0000"] {
        for header in KeyHeader::ALL {
            gateway
                .chat_with(header, Some(placeholder), &chat(GPT))
                .await
                .expect_status(200, &format!("{placeholder} in {header:?}"));
        }
        gateway
            .messages_with(KeyHeader::XApiKey, Some(placeholder), &message(GPT))
            .await
            .expect_status(200, &format!("messages with {placeholder}"));
    }
    let anonymous = mock.request_count();
    assert_eq!(anonymous, 9);

    // A Switchyard key is checked and attributed: this consumer may not call gpt-4o.
    let response = gateway.chat_as(Some(&key.key), &chat(GPT)).await;
    openai_error(&response, 403, "model_not_allowed");
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "an allowed model with the key");
    let response = gateway
        .chat_as(Some(&key.mistyped()), &chat(DEEPSEEK))
        .await;
    assert_key_refused(&response, &["malformed", "checksum"], Some(&key.mistyped()));
    assert_eq!(mock.request_count(), anonymous + 1);
    assert_no_client_key_upstream(&mock);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_may_call_only_its_allowed_models() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a", "allowed_models": ["deepseek-*", "qwen-*"]}),
    )
    .await;
    gateway.set_client_auth("required").await;

    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "an allowed model");
    let response = gateway.chat_as(Some(&key.key), &chat(GPT)).await;
    let text = openai_error(&response, 403, "model_not_allowed");
    assert!(
        text.contains(GPT) && text.contains("team-a"),
        "the message names the model and the consumer: {text}"
    );
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(GPT))
        .await;
    let text = anthropic_error(&response, 403, "permission_error");
    assert!(
        text.contains(GPT) && text.contains("team-a"),
        "the message names the model and the consumer: {text}"
    );
    assert_eq!(
        mock.request_count(),
        1,
        "a refused request reached the mock"
    );

    // Editing the consumer's models takes effect on the next request.
    let edited = json!({"name": "team-a", "allowed_models": ["gpt-*"]});
    gateway
        .admin_put("/api/consumers/team-a", &edited)
        .await
        .expect_status(200, "editing allowed_models");
    gateway
        .chat_as(Some(&key.key), &chat(GPT))
        .await
        .expect_status(200, "gpt-4o is now allowed");
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    openai_error(&response, 403, "model_not_allowed");
    assert_eq!(mock.request_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_narrows_its_consumers_models_and_cannot_widen_them() {
    let (gateway, mock) = setup().await;
    gateway
        .add_consumer(&json!({"name": "team-a", "allowed_models": ["deepseek-*"]}))
        .await;
    let narrow = gateway
        .issue_key(
            "team-a",
            &json!({"name": "narrow", "allowed_models": ["deepseek-chat"]}),
        )
        .await;
    let wider = gateway
        .issue_key(
            "team-a",
            &json!({"name": "wider", "allowed_models": ["gpt-*"]}),
        )
        .await;

    gateway
        .chat_as(Some(&narrow.key), &chat("deepseek-chat"))
        .await
        .expect_status(200, "the key's own model");
    let response = gateway
        .chat_as(Some(&narrow.key), &chat("deepseek-coder"))
        .await;
    let text = openai_error(&response, 403, "model_not_allowed");
    assert!(text.contains("deepseek-coder"), "names the model: {text}");
    let response = gateway.chat_as(Some(&wider.key), &chat(GPT)).await;
    openai_error(&response, 403, "model_not_allowed");
    let response = gateway.chat_as(Some(&wider.key), &chat(DEEPSEEK)).await;
    openai_error(&response, 403, "model_not_allowed");
    assert_eq!(
        mock.request_count(),
        1,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_admits_only_its_allowed_consumers() {
    let (gateway, mock) = setup().await;
    let team_a = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    let team_b = consumer_with_key(&gateway, json!({"name": "team-b"})).await;
    let guarded = gpt_route(json!({"auth": {"allowed_consumers": ["team-b"]}}));
    gateway
        .admin_put("/api/routes/gpt", &guarded)
        .await
        .expect_status(200, "restricting the gpt route");

    gateway
        .chat_as(Some(&team_b.key), &chat(GPT))
        .await
        .expect_status(200, "an allowed consumer");
    let response = gateway.chat_as(Some(&team_a.key), &chat(GPT)).await;
    openai_error(&response, 403, "route_not_allowed");
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&team_a.key), &message(GPT))
        .await;
    anthropic_error(&response, 403, "permission_error");
    // With client_auth off an anonymous caller is still refused here: the route needs a key.
    let response = gateway.chat_as(None, &chat(GPT)).await;
    assert_key_refused(&response, &[], None);
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some("unused"), &message(GPT))
        .await;
    assert_key_refused_anthropic(&response, &[], Some("unused"));
    // Other routes are unaffected.
    gateway
        .chat_as(Some(&team_a.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "another route");
    gateway
        .chat_as(None, &chat(DEEPSEEK))
        .await
        .expect_status(200, "another route, anonymous");
    assert_eq!(
        mock.request_count(),
        3,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_may_use_only_its_allowed_routes() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a", "allowed_routes": ["deepseek"]}),
    )
    .await;

    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "an allowed route");
    let response = gateway.chat_as(Some(&key.key), &chat(GPT)).await;
    openai_error(&response, 403, "route_not_allowed");
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(GPT))
        .await;
    anthropic_error(&response, 403, "permission_error");
    gateway
        .chat_as(None, &chat(GPT))
        .await
        .expect_status(200, "anonymous callers are not this consumer");
    assert_eq!(
        mock.request_count(),
        2,
        "a refused request reached the mock"
    );
}
