//! Recording: one entry per write of every type, with its actor and masked documents; nothing for
//! a rejected write; no secret in any audit answer or audit row.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::consumers::IssuedKey;
use switchyard_tests::fixtures::{exact, provider_at, simple_route, test_key};
use switchyard_tests::{Gateway, run_cli};

use super::browser::{PASSWORD, USER, call, setup, signed_in, with_csrf};
use super::support::{
    assert_no_secret, audit_rows_text, change, doc, entry_count, every_audit_response, one_entry,
    revision,
};

/// The header value the test provider carries; a credential, so it must be masked everywhere.
const HEADER_SECRET: &str = "hdr-secret-value-7f3a9c2e5b1d";
const NEW_PASSWORD: &str = "a brand new passphrase";

/// The operating-system user the CLI records, as `Origin::cli` reads it.
fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_owned())
}

fn audited_provider(keys: &[&str]) -> Value {
    let mut spec = provider_at("audited", "http://127.0.0.1:9/v1", keys);
    spec["headers"] = json!({ "x-api-key": HEADER_SECRET, "x-team": "search" });
    spec
}

/// A masked provider key looks like `sk-…k3Qz`: it keeps the key's last four characters only.
fn assert_masked_keys(provider: &Value, secrets: &[&str]) {
    let keys = provider["api_keys"]
        .as_array()
        .unwrap_or_else(|| panic!("a provider document lists its keys: {provider}"));
    assert_eq!(keys.len(), secrets.len(), "{provider}");
    for (shown, secret) in keys.iter().zip(secrets) {
        let shown = shown.as_str().expect("a key is a string");
        assert_ne!(shown, *secret, "the key is masked: {provider}");
        assert!(shown.contains('…'), "a mask: {shown}");
        assert!(
            shown.ends_with(&secret[secret.len() - 4..]),
            "the mask ends like the key: {shown}"
        );
    }
    // Every header value is masked, as the admin API shows them: a header carries a credential
    // as often as not. A short value shows nothing at all.
    assert_eq!(provider["headers"]["x-team"], "…", "{provider}");
    assert_ne!(
        provider["headers"]["x-api-key"], HEADER_SECRET,
        "header values are masked: {provider}"
    );
}

/// A key's entry in a consumer document, by id.
fn key_in(consumer: &Value, id: i64) -> &Value {
    consumer["keys"]
        .as_array()
        .unwrap_or_else(|| panic!("a consumer document lists its keys: {consumer}"))
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("key {id} is not in {consumer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_type_records_one_entry_with_its_actor_and_masked_documents() {
    let gateway = Gateway::start().await;
    let mut secrets: Vec<String> = vec![HEADER_SECRET.to_owned(), PASSWORD.to_owned()];
    let token = "admin-token";

    // Console setup and a password change: account entries by the console user.
    let before = revision(&gateway).await;
    let session = signed_in(&setup(&gateway, USER, PASSWORD).await, 201, USER);
    let console = format!("console:{USER}");
    let detail = one_entry(&gateway, before, "account_create", &console).await;
    assert_eq!(
        doc(change(&detail, "account", USER), "after")["username"],
        USER
    );
    let before = revision(&gateway).await;
    call(
        &gateway,
        Method::POST,
        "/api/auth/password",
        with_csrf(&session),
        Some(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
    )
    .await
    .expect_status(204, "changing the password");
    secrets.push(NEW_PASSWORD.to_owned());
    one_entry(&gateway, before, "password_change", &console).await;

    // Providers: created, replaced with another key, and (at the end) deleted.
    let (first_key, second_key) = (test_key("audited"), test_key("audited-second"));
    secrets.extend([first_key.clone(), second_key.clone()]);
    let before = revision(&gateway).await;
    gateway.add_provider(&audited_provider(&[&first_key])).await;
    let detail = one_entry(&gateway, before, "create", token).await;
    let created = change(&detail, "provider", "audited");
    assert!(
        created.get("before").is_none_or(Value::is_null),
        "{created}"
    );
    assert_masked_keys(doc(created, "after"), &[&first_key]);
    assert_eq!(detail["source"], "127.0.0.1", "the admin socket's peer");

    let before = revision(&gateway).await;
    gateway
        .admin_put(
            "/api/providers/audited",
            &audited_provider(&[&first_key, &second_key]),
        )
        .await
        .expect_status(200, "replacing the provider");
    let detail = one_entry(&gateway, before, "replace", token).await;
    let replaced = change(&detail, "provider", "audited");
    assert_masked_keys(doc(replaced, "before"), &[&first_key]);
    assert_masked_keys(doc(replaced, "after"), &[&first_key, &second_key]);
    assert!(
        replaced["diff"].as_array().is_some_and(|d| !d.is_empty()),
        "the detail carries the structured diff: {replaced}"
    );

    // Routes: created by the admin token, replaced from a console session, deleted.
    let before = revision(&gateway).await;
    gateway
        .add_route(&simple_route("audited-route", exact("m-1"), "audited"))
        .await;
    let detail = one_entry(&gateway, before, "create", token).await;
    assert_eq!(
        doc(change(&detail, "route", "audited-route"), "after")["match"][0]["value"],
        "m-1"
    );
    let before = revision(&gateway).await;
    call(
        &gateway,
        Method::PUT,
        "/api/routes/audited-route",
        with_csrf(&session),
        Some(&simple_route("audited-route", exact("m-2"), "audited")),
    )
    .await
    .expect_status(200, "replacing the route from the console");
    let detail = one_entry(&gateway, before, "replace", &console).await;
    let replaced = change(&detail, "route", "audited-route");
    assert_eq!(doc(replaced, "before")["match"][0]["value"], "m-1");
    assert_eq!(doc(replaced, "after")["match"][0]["value"], "m-2");

    // Guardrail policies.
    let policy = json!({"name": "pii", "detectors": [{"type": "email", "action": "mask"}]});
    let before = revision(&gateway).await;
    gateway
        .admin_post("/api/guardrails", &policy)
        .await
        .expect_status(201, "creating the guardrail");
    one_entry(&gateway, before, "create", token).await;
    let mut changed = policy.clone();
    changed["detectors"] = json!([{"type": "phone", "action": "mask"}]);
    let before = revision(&gateway).await;
    gateway
        .admin_put("/api/guardrails/pii", &changed)
        .await
        .expect_status(200, "replacing the guardrail");
    let detail = one_entry(&gateway, before, "replace", token).await;
    let replaced = change(&detail, "guardrail", "pii");
    assert_eq!(doc(replaced, "before")["detectors"][0]["type"], "email");
    assert_eq!(doc(replaced, "after")["detectors"][0]["type"], "phone");
    let before = revision(&gateway).await;
    gateway
        .admin_delete("/api/guardrails/pii")
        .await
        .expect_status(204, "deleting the guardrail");
    let detail = one_entry(&gateway, before, "delete", token).await;
    assert!(doc(change(&detail, "guardrail", "pii"), "after").is_null());

    // Consumers and their keys: created, replaced, key issued, disabled, rotated, revoked.
    let before = revision(&gateway).await;
    gateway.add_consumer(&json!({"name": "ci"})).await;
    one_entry(&gateway, before, "create", token).await;
    let before = revision(&gateway).await;
    gateway
        .admin_put(
            "/api/consumers/ci",
            &json!({"name": "ci", "description": "the build farm"}),
        )
        .await
        .expect_status(200, "replacing the consumer");
    let detail = one_entry(&gateway, before, "replace", token).await;
    assert_eq!(
        doc(change(&detail, "consumer", "ci"), "after")["description"],
        "the build farm"
    );

    let before = revision(&gateway).await;
    let issued = gateway.issue_key("ci", &json!({"name": "laptop"})).await;
    secrets.push(issued.key.clone());
    let detail = one_entry(&gateway, before, "key_create", token).await;
    assert!(
        detail["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&issued.masked)),
        "the summary names the key by its mask: {detail}"
    );
    let after = doc(change(&detail, "consumer", "ci"), "after");
    assert_eq!(key_in(after, issued.id)["masked"], issued.masked.as_str());

    let before = revision(&gateway).await;
    gateway
        .admin_put(
            &format!("/api/consumers/ci/keys/{}", issued.id),
            &json!({"disabled": true}),
        )
        .await
        .expect_status(200, "disabling the key");
    let detail = one_entry(&gateway, before, "key_update", token).await;
    let updated = change(&detail, "consumer", "ci");
    assert_ne!(key_in(doc(updated, "before"), issued.id)["disabled"], true);
    assert_eq!(key_in(doc(updated, "after"), issued.id)["disabled"], true);

    let before = revision(&gateway).await;
    let rotated = IssuedKey::from_response(
        &gateway
            .admin_post(
                &format!("/api/consumers/ci/keys/{}/rotate", issued.id),
                &json!({"grace_seconds": 0}),
            )
            .await,
        "rotating the key",
    );
    secrets.push(rotated.key.clone());
    let detail = one_entry(&gateway, before, "key_rotate", token).await;
    key_in(doc(change(&detail, "consumer", "ci"), "after"), rotated.id);

    let before = revision(&gateway).await;
    gateway
        .admin_delete(&format!("/api/consumers/ci/keys/{}", rotated.id))
        .await
        .expect_status(204, "revoking the key");
    one_entry(&gateway, before, "key_delete", token).await;

    // Settings.
    let before = revision(&gateway).await;
    gateway
        .admin_put("/api/settings", &json!({"log_retention_days": 7}))
        .await
        .expect_status(200, "changing the settings");
    let detail = one_entry(&gateway, before, "settings", token).await;
    let settings = change(&detail, "settings", "");
    assert_eq!(doc(settings, "before")["log_retention_days"], 30);
    assert_eq!(doc(settings, "after")["log_retention_days"], 7);

    // A whole document through the API, then through the CLI as the operating-system user.
    let applied_key = test_key("applied");
    secrets.push(applied_key.clone());
    let document = json!({
        "providers": [provider_at("applied", "http://127.0.0.1:9/v1", &[&applied_key])],
        "routes": [simple_route("applied-route", exact("applied-model"), "applied")],
    });
    let before = revision(&gateway).await;
    gateway
        .admin_post("/api/config/apply", &document)
        .await
        .expect_status(200, "applying a document");
    let detail = one_entry(&gateway, before, "apply", token).await;
    assert_masked_keys_plain(
        doc(change(&detail, "provider", "applied"), "after"),
        &applied_key,
    );
    change(&detail, "route", "applied-route");

    let cli_key = test_key("from-cli");
    secrets.push(cli_key.clone());
    let files = tempfile::tempdir().expect("a scratch dir");
    let file = files.path().join("cli.json");
    let cli_document = json!({
        "providers": [provider_at("from-cli", "http://127.0.0.1:9/v1", &[&cli_key])],
    });
    std::fs::write(&file, cli_document.to_string()).expect("the document is written");
    let before = revision(&gateway).await;
    run_cli(
        &["config", "apply", file.to_str().expect("a UTF-8 path")],
        gateway.data_dir(),
    )
    .await
    .expect_success("switchyard config apply");
    let detail = one_entry(&gateway, before, "apply", &format!("cli:{}", os_user())).await;
    assert_eq!(detail["source"], "local", "{detail}");
    assert_masked_keys_plain(
        doc(change(&detail, "provider", "from-cli"), "after"),
        &cli_key,
    );

    // Deletes: route, consumer, provider.
    for (path, kind, name) in [
        ("/api/routes/audited-route", "route", "audited-route"),
        ("/api/consumers/ci", "consumer", "ci"),
        ("/api/routes/applied-route", "route", "applied-route"),
        ("/api/providers/audited", "provider", "audited"),
    ] {
        let before = revision(&gateway).await;
        gateway
            .admin_delete(path)
            .await
            .expect_status(204, &format!("DELETE {path}"));
        let detail = one_entry(&gateway, before, "delete", token).await;
        let deleted = change(&detail, kind, name);
        assert!(!doc(deleted, "before").is_null(), "{deleted}");
        assert!(doc(deleted, "after").is_null(), "{deleted}");
    }

    // Every revision since the first write has exactly one entry.
    let mut db = super::support::open_db(&gateway).await;
    let (first, last, count): (i64, i64, i64) =
        sqlx::query_as("SELECT MIN(revision), MAX(revision), COUNT(*) FROM audit_entries")
            .fetch_one(&mut db)
            .await
            .expect("the trail's bounds");
    assert_eq!(last, revision(&gateway).await);
    assert_eq!(count, last - first + 1, "no revision without its entry");

    // No secret in any answer about the trail, nor in the rows it is stored in.
    assert_no_secret(
        &every_audit_response(&gateway).await,
        &secrets,
        "an audit API answer",
    );
    assert_no_secret(&audit_rows_text(&gateway).await, &secrets, "an audit_* row");
    // The client keys' secret parts without their `sy-` prefix are not there either.
    let parts: Vec<String> = [&issued, &rotated]
        .iter()
        .map(|k| k.secret_part().to_owned())
        .collect();
    assert_no_secret(&audit_rows_text(&gateway).await, &parts, "an audit_* row");
}

/// A provider document with one key, masked.
fn assert_masked_keys_plain(provider: &Value, secret: &str) {
    let keys = provider["api_keys"]
        .as_array()
        .unwrap_or_else(|| panic!("a provider document lists its keys: {provider}"));
    assert_eq!(keys.len(), 1, "{provider}");
    let shown = keys[0].as_str().expect("a key is a string");
    assert_ne!(shown, secret);
    assert!(shown.ends_with(&secret[secret.len() - 4..]), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_writes_record_nothing() {
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider_at(
            "kept",
            "http://127.0.0.1:9/v1",
            &[&test_key("kept")],
        ))
        .await;
    gateway
        .add_route(&simple_route("uses-kept", exact("m"), "kept"))
        .await;
    let (revision_before, entries_before) = (revision(&gateway).await, entry_count(&gateway).await);
    assert_eq!(entries_before, 2);

    let invalid = provider_at("Not A Slug", "ftp://nowhere", &[]);
    gateway
        .admin_post("/api/providers", &invalid)
        .await
        .expect_status(422, "an invalid provider");
    gateway
        .admin_post(
            "/api/routes",
            &simple_route("dangling", exact("x"), "no-such-provider"),
        )
        .await
        .expect_status(422, "a route to an unknown provider");
    gateway
        .admin_put("/api/settings", &json!({"audit_retention_days": 0}))
        .await
        .expect_status(422, "a retention of zero days");
    gateway
        .admin_post(
            "/api/providers",
            &provider_at("kept", "http://127.0.0.1:9/v1", &[&test_key("kept")]),
        )
        .await
        .expect_status(409, "a provider that exists");
    gateway
        .admin_delete("/api/providers/kept")
        .await
        .expect_status(409, "a provider a route uses");
    gateway
        .admin_post(
            "/api/config/apply",
            &json!({"routes": [simple_route("r", exact("x"), "missing")]}),
        )
        .await
        .expect_status(422, "a document naming an unknown provider");

    assert_eq!(revision(&gateway).await, revision_before);
    assert_eq!(entry_count(&gateway).await, entries_before);
    let newest = super::support::page(&gateway, "limit=50").await;
    assert_eq!(
        super::support::revisions(&newest),
        [revision_before, revision_before - 1]
    );
}
