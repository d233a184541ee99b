//! Keys over their life: their format and masked form, rotation with a grace period, and
//! revocation (of a key or of its whole consumer) live on the very next request.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchyard_tests::consumers::{IssuedKey, KeyHeader};
use switchyard_tests::poll_until;

use super::{
    DEADLINE, DEEPSEEK, assert_key_refused, assert_key_refused_anthropic, chat, consumer_with_key,
    message, setup,
};

/// The listed (masked) entry of key `id` of `consumer`.
async fn listed_key(gateway: &switchyard_tests::Gateway, consumer: &str, id: i64) -> Option<Value> {
    let response = gateway
        .admin_get(&format!("/api/consumers/{consumer}/keys"))
        .await;
    response.expect_status(200, "listing keys");
    response
        .json()
        .as_array()
        .expect("the keys are a list")
        .iter()
        .find(|k| k["id"] == id)
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_has_the_documented_format_and_is_listed_masked() {
    let (gateway, _mock) = setup().await;
    gateway.add_consumer(&json!({"name": "team-a"})).await;
    let first = gateway.issue_key("team-a", &json!({"name": "ci"})).await;
    let second = gateway
        .issue_key("team-a", &json!({"name": "laptop"}))
        .await;

    for issued in [&first, &second] {
        let key = &issued.key;
        assert!(key.starts_with("sy-"), "{}", issued.masked);
        assert_eq!(
            key.len(),
            3 + 30 + 6,
            "sy- + 30 random + 6 checksum characters"
        );
        assert!(
            key[3..].chars().all(|c| c.is_ascii_alphanumeric()),
            "base62 after the prefix ({})",
            issued.masked
        );
        let last4 = &key[key.len() - 4..];
        assert_eq!(issued.masked, format!("sy-…{last4}"));
        assert!(issued.body["created_at"].is_string(), "{}", issued.masked);
    }
    assert_ne!(first.key, second.key);

    let listed = listed_key(&gateway, "team-a", first.id)
        .await
        .expect("the key is listed");
    assert_eq!(listed["masked"], first.masked.as_str());
    assert_eq!(listed["name"], "ci");
    assert!(listed["created_at"].is_string(), "{listed}");
    for hidden in ["key", "key_sha256"] {
        assert!(
            listed.get(hidden).is_none(),
            "a listed key shows `{hidden}`: {listed}"
        );
    }
}

/// Rotates key `id` of `consumer` with `grace_seconds`, returning the new key.
async fn rotate(
    gateway: &switchyard_tests::Gateway,
    consumer: &str,
    id: i64,
    grace_seconds: u64,
) -> IssuedKey {
    let path = format!("/api/consumers/{consumer}/keys/{id}/rotate");
    let response = gateway
        .admin_post(&path, &json!({"grace_seconds": grace_seconds}))
        .await;
    IssuedKey::from_response(&response, "rotating a key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_keeps_working_for_its_grace_period_only() {
    let (gateway, mock) = setup().await;
    let old = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    gateway
        .chat_as(Some(&old.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the key before rotation");

    let new = rotate(&gateway, "team-a", old.id, 2).await;
    let rotated = Instant::now();
    assert_ne!(new.key, old.key);
    assert_ne!(new.id, old.id);
    gateway
        .chat_as(Some(&new.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the new key at once");
    gateway
        .chat_as(Some(&old.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the old key during the grace period");
    assert!(
        rotated.elapsed() < Duration::from_secs(1),
        "too slow to prove the old key worked during its grace"
    );
    let old_listed = listed_key(&gateway, "team-a", old.id)
        .await
        .expect("the old key is listed during its grace");
    assert!(old_listed["expires_at"].is_string(), "{old_listed}");
    let new_listed = listed_key(&gateway, "team-a", new.id)
        .await
        .expect("the new key is listed");
    assert!(
        new_listed.get("expires_at").is_none_or(Value::is_null),
        "{new_listed}"
    );

    let response = poll_until(DEADLINE, "the grace period to end", || async {
        let response = gateway.chat_as(Some(&old.key), &chat(DEEPSEEK)).await;
        (response.status != 200).then_some(response)
    })
    .await;
    let refused_after = rotated.elapsed();
    println!("the old key was refused {refused_after:?} after the rotation (grace 2 s)");
    assert_key_refused(&response, &["expired"], Some(&old.key));
    assert!(
        refused_after >= Duration::from_millis(900),
        "refused after {refused_after:?}, inside the grace period"
    );
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&old.key), &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(&response, &["expired"], Some(&old.key));
    gateway
        .chat_as(Some(&new.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the new key after the grace period");
    assert!(mock.request_count() >= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotation_without_grace_refuses_the_old_key_at_once() {
    let (gateway, mock) = setup().await;
    let old = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    let new = rotate(&gateway, "team-a", old.id, 0).await;
    let response = gateway.chat_as(Some(&old.key), &chat(DEEPSEEK)).await;
    assert_key_refused(&response, &["expired"], Some(&old.key));
    gateway
        .chat_as(Some(&new.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the new key");
    assert_eq!(mock.request_count(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_key_is_refused_on_the_very_next_request() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    let other = gateway
        .issue_key("team-a", &json!({"name": "laptop"}))
        .await;
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "before the deletion");

    let path = format!("/api/consumers/team-a/keys/{}", key.id);
    gateway
        .admin_delete(&path)
        .await
        .expect_status(204, "deleting the key");
    // No polling: the admin write's answer means the change is live.
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_key_refused(
        &response,
        &["not valid", "unknown", "revoked"],
        Some(&key.key),
    );
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
        .await;
    assert_key_refused_anthropic(
        &response,
        &["not valid", "unknown", "revoked"],
        Some(&key.key),
    );
    assert!(listed_key(&gateway, "team-a", key.id).await.is_none());
    gateway
        .admin_delete(&path)
        .await
        .expect_status(404, "deleting it again");
    gateway
        .chat_as(Some(&other.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the consumer's other key");

    // Deleting the consumer takes its keys with it, at once too.
    gateway
        .admin_delete("/api/consumers/team-a")
        .await
        .expect_status(204, "deleting the consumer");
    let response = gateway.chat_as(Some(&other.key), &chat(DEEPSEEK)).await;
    assert_key_refused(
        &response,
        &["not valid", "unknown", "revoked"],
        Some(&other.key),
    );
    gateway
        .admin_get("/api/consumers/team-a")
        .await
        .expect_status(404, "the deleted consumer");
    gateway
        .admin_get("/api/consumers/team-a/keys")
        .await
        .expect_status(404, "the deleted consumer's keys");
    assert_eq!(
        mock.request_count(),
        2,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_consumers_and_keys_are_not_found() {
    let (gateway, _mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    gateway.add_consumer(&json!({"name": "team-b"})).await;
    let missing_id = key.id + 1000;
    let cases = [
        ("GET", "/api/consumers/nobody".to_owned()),
        ("GET", "/api/consumers/nobody/keys".to_owned()),
        ("DELETE", "/api/consumers/nobody".to_owned()),
        ("DELETE", format!("/api/consumers/team-a/keys/{missing_id}")),
        // A key is found under its own consumer only.
        ("DELETE", format!("/api/consumers/team-b/keys/{}", key.id)),
    ];
    for (method, path) in cases {
        let response = match method {
            "GET" => gateway.admin_get(&path).await,
            _ => gateway.admin_delete(&path).await,
        };
        response.expect_status(404, &format!("{method} {path}"));
    }
    let posts = [
        (
            "/api/consumers/nobody/keys".to_owned(),
            json!({"name": "ci"}),
        ),
        (
            format!("/api/consumers/team-a/keys/{missing_id}/rotate"),
            json!({"grace_seconds": 0}),
        ),
    ];
    for (path, body) in posts {
        gateway
            .admin_post(&path, &body)
            .await
            .expect_status(404, &format!("POST {path}"));
    }
    gateway
        .admin_put(
            &format!("/api/consumers/team-b/keys/{}", key.id),
            &json!({"disabled": true}),
        )
        .await
        .expect_status(404, "PUT a key under another consumer");
    gateway
        .admin_put("/api/consumers/nobody", &json!({"name": "nobody"}))
        .await
        .expect_status(404, "PUT an unknown consumer");
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the key was not touched by any of these");
}
