//! Rolling back: the exact document of the target revision, live on the proxy when the answer
//! arrives; the preview's list of what cannot come back; revoked client keys staying revoked; and
//! the optimistic check on the revision.

use serde_json::{Value, json};
use switchyard_tests::fixtures::{chat_body, exact, provider, route, test_key};
use switchyard_tests::{ApiResponse, Gateway, MockUpstream};

use super::support::{comparable, entry, export, revision};

fn chat_route(provider: &str, model: &str) -> Value {
    route(
        "chat",
        vec![exact("chat-model")],
        vec![json!({"provider": provider, "model": model})],
    )
}

/// `POST /api/config/rollback` with `body`.
async fn rollback(gateway: &Gateway, body: &Value) -> ApiResponse {
    gateway.admin_post("/api/config/rollback", body).await
}

/// The preview of a rollback to `to`, asserting 200 and that it wrote nothing.
async fn preview(gateway: &Gateway, to: i64) -> Value {
    let before = revision(gateway).await;
    let response = rollback(gateway, &json!({"to": to, "dry_run": true})).await;
    response.expect_status(200, "previewing the rollback");
    let preview = response.json();
    assert_eq!(preview["to"], to, "{preview}");
    assert_eq!(preview["revision_now"], before, "{preview}");
    assert_eq!(revision(gateway).await, before, "a preview writes nothing");
    preview
}

/// Which provider and upstream model answered `chat-model`.
async fn served_by(gateway: &Gateway) -> (String, String) {
    let response = gateway.chat(&chat_body("chat-model")).await;
    response.expect_status(200, "chat-model through the proxy");
    (
        response
            .header("x-switchyard-provider")
            .expect("x-switchyard-provider")
            .to_owned(),
        response
            .header("x-switchyard-model")
            .expect("x-switchyard-model")
            .to_owned(),
    )
}

/// The JSON export, asserting 200.
async fn export_now(gateway: &Gateway) -> Value {
    let response = export(gateway, None).await;
    response.expect_status(200, "exporting the configuration");
    response.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_across_several_changes_restores_the_exact_document_and_is_live_at_once() {
    let (alpha, beta) = (
        MockUpstream::start("alpha").await,
        MockUpstream::start("beta").await,
    );
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider("alpha", &alpha, &test_key("alpha")))
        .await;
    gateway
        .add_provider(&provider("beta", &beta, &test_key("beta")))
        .await;
    gateway.add_route(&chat_route("alpha", "old-model")).await;
    gateway
        .add_consumer(&json!({"name": "app", "description": "first"}))
        .await;
    let kept = gateway.issue_key("app", &json!({"name": "kept"})).await;
    gateway
        .admin_post(
            "/api/guardrails",
            &json!({"name": "pii", "detectors": [{"type": "email", "action": "mask"}]}),
        )
        .await
        .expect_status(201, "creating the guardrail");
    let target = revision(&gateway).await;
    let document_then = export_now(&gateway).await;
    assert_eq!(
        served_by(&gateway).await,
        ("alpha".to_owned(), "old-model".to_owned())
    );

    // Five changes across every section.
    gateway
        .admin_put("/api/routes/chat", &chat_route("beta", "new-model"))
        .await
        .expect_status(200, "moving the route");
    let mut alpha_changed = provider("alpha", &alpha, &test_key("alpha"));
    alpha_changed["headers"] = json!({"x-team": "changed"});
    gateway
        .admin_put("/api/providers/alpha", &alpha_changed)
        .await
        .expect_status(200, "changing the provider");
    gateway
        .admin_put(
            "/api/consumers/app",
            &json!({"name": "app", "description": "second"}),
        )
        .await
        .expect_status(200, "changing the consumer");
    gateway
        .admin_delete("/api/guardrails/pii")
        .await
        .expect_status(204, "deleting the guardrail");
    gateway
        .add_route(&route(
            "extra",
            vec![exact("extra-model")],
            vec![json!({"provider": "beta"})],
        ))
        .await;
    gateway
        .admin_put("/api/settings", &json!({"log_retention_days": 9}))
        .await
        .expect_status(200, "changing the settings");
    assert_eq!(
        served_by(&gateway).await,
        ("beta".to_owned(), "new-model".to_owned())
    );

    // The history rebuilds the document as it was.
    let then = export(&gateway, Some(target)).await;
    then.expect_status(200, "the document as of the target");
    assert_eq!(comparable(then.json()), comparable(document_then.clone()));

    // A rollback confirmed against a revision that has moved since the preview is refused.
    let first = preview(&gateway, target).await;
    assert_eq!(first["unrecoverable"], json!([]), "{first}");
    gateway
        .admin_put(
            "/api/consumers/app",
            &json!({"name": "app", "description": "third"}),
        )
        .await
        .expect_status(200, "a write after the preview");
    let moved = revision(&gateway).await;
    let stale = rollback(
        &gateway,
        &json!({"to": target, "expected_revision": first["revision_now"]}),
    )
    .await;
    stale.expect_status(409, "a stale expected_revision");
    assert_eq!(revision(&gateway).await, moved, "the refusal wrote nothing");

    // Confirmed against the current revision, it writes one new revision and is live at once.
    let fresh = preview(&gateway, target).await;
    let done = rollback(
        &gateway,
        &json!({"to": target, "expected_revision": fresh["revision_now"]}),
    )
    .await;
    done.expect_status(200, "the rollback");
    assert_eq!(
        served_by(&gateway).await,
        ("alpha".to_owned(), "old-model".to_owned()),
        "the proxy serves the old route as soon as the rollback answered"
    );
    assert_eq!(alpha.last_request().model(), "old-model");
    let done = done.json();
    assert_eq!(done["rolled_back_to"], target, "{done}");
    assert_eq!(done["revision"], moved + 1, "{done}");
    assert_eq!(revision(&gateway).await, moved + 1);
    assert_eq!(
        comparable(export_now(&gateway).await),
        comparable(document_then)
    );

    // The rollback is an audited revision of its own.
    let recorded = entry(&gateway, moved + 1).await;
    assert_eq!(recorded["action"], "rollback", "{recorded}");
    assert_eq!(recorded["actor"], "admin-token", "{recorded}");
    assert_eq!(recorded["rolled_back_to"], target, "{recorded}");
    let kinds: Vec<&str> = recorded["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["kind"].as_str())
        .collect();
    for kind in ["route", "provider", "consumer", "guardrail", "settings"] {
        assert!(
            kinds.contains(&kind),
            "the rollback changed a {kind}: {recorded}"
        );
    }
    // The client key that existed throughout still works, with its id.
    gateway
        .chat_as(Some(&kept.key), &chat_body("chat-model"))
        .await
        .expect_status(200, "the kept key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_preview_lists_unrecoverable_keys_and_a_revoked_key_stays_revoked() {
    let mock = MockUpstream::start("alpha").await;
    let gateway = Gateway::start().await;
    let (first_key, lost_key) = (test_key("alpha"), test_key("alpha-lost"));
    let mut two_keys = provider("alpha", &mock, &first_key);
    two_keys["api_keys"] = json!([first_key, lost_key]);
    gateway.add_provider(&two_keys).await;
    gateway.add_route(&chat_route("alpha", "old-model")).await;
    gateway.add_consumer(&json!({"name": "app"})).await;
    let revoked = gateway.issue_key("app", &json!({"name": "revoked"})).await;
    let kept = gateway.issue_key("app", &json!({"name": "kept"})).await;
    gateway
        .chat_as(Some(&revoked.key), &chat_body("chat-model"))
        .await
        .expect_status(200, "the key before it is revoked");
    let target = revision(&gateway).await;

    // The provider loses a key, the client key is revoked, and the route moves.
    gateway
        .admin_put(
            "/api/providers/alpha",
            &provider("alpha", &mock, &first_key),
        )
        .await
        .expect_status(200, "dropping a provider key");
    gateway
        .admin_delete(&format!("/api/consumers/app/keys/{}", revoked.id))
        .await
        .expect_status(204, "revoking the client key");
    gateway
        .admin_put("/api/routes/chat", &chat_route("alpha", "new-model"))
        .await
        .expect_status(200, "changing the route");

    let shown = preview(&gateway, target).await;
    let unrecoverable = shown["unrecoverable"]
        .as_array()
        .unwrap_or_else(|| panic!("a list of what cannot be restored: {shown}"));
    let listed = |kind: &str, name: &str, tail: &str| {
        unrecoverable.iter().any(|u| {
            u["kind"] == kind
                && u["name"] == name
                && u["what"].as_str().is_some_and(|what| what.contains(tail))
        })
    };
    assert!(
        listed("provider", "alpha", &lost_key[lost_key.len() - 4..]),
        "the deleted provider key, by its mask: {shown}"
    );
    assert!(
        listed(
            "consumer",
            "app",
            &revoked.masked[revoked.masked.len() - 4..]
        ),
        "the revoked client key, by its mask: {shown}"
    );
    assert_eq!(unrecoverable.len(), 2, "{shown}");
    for secret in [&lost_key, &revoked.key, &first_key, &kept.key] {
        assert!(
            !shown.to_string().contains(secret.as_str()),
            "the preview shows no secret"
        );
    }

    let done = rollback(
        &gateway,
        &json!({"to": target, "expected_revision": shown["revision_now"]}),
    )
    .await;
    done.expect_status(200, "the rollback");
    let done = done.json();
    assert_eq!(done["unrecoverable"], shown["unrecoverable"], "{done}");
    assert_eq!(
        served_by(&gateway).await,
        ("alpha".to_owned(), "old-model".to_owned())
    );

    // The revoked key stays revoked; the other one works; the provider keeps its one key.
    gateway
        .chat_as(Some(&revoked.key), &chat_body("chat-model"))
        .await
        .expect_status(401, "a revoked key after the rollback");
    gateway
        .chat_as(Some(&kept.key), &chat_body("chat-model"))
        .await
        .expect_status(200, "the kept key after the rollback");
    let now = export_now(&gateway).await;
    let consumer = &now["consumers"][0];
    let key_names: Vec<&str> = consumer["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|k| k["name"].as_str())
        .collect();
    assert_eq!(key_names, ["kept"], "{now}");
    let provider_keys = now["providers"][0]["api_keys"]
        .as_array()
        .expect("keys")
        .len();
    assert_eq!(provider_keys, 1, "{now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_to_an_unknown_revision_or_from_a_stale_one_is_refused() {
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&switchyard_tests::fixtures::provider_at(
            "p",
            "http://127.0.0.1:9/v1",
            &[&test_key("p")],
        ))
        .await;
    let now = revision(&gateway).await;
    rollback(&gateway, &json!({"to": now + 5, "dry_run": true}))
        .await
        .expect_status(404, "a revision that does not exist yet");
    let stale = rollback(&gateway, &json!({"to": now, "expected_revision": now - 1})).await;
    stale.expect_status(409, "a stale expected_revision");
    assert_eq!(revision(&gateway).await, now);
}
