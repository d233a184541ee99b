//! A key's plaintext appears in the answer that creates it and nowhere else: not in the admin
//! API's lists, not in exports (which carry its SHA-256 digest), not in the data directory, not in
//! error messages, not in the logs. An export still carries the keys to another gateway.

use std::path::Path;

use serde_json::{Value, json};
use switchyard_shared::ConfigDocument;
use switchyard_tests::consumers::{IssuedKey, KeyHeader};
use switchyard_tests::{Gateway, poll_until, run_cli};

use super::{
    DEADLINE, DEEPSEEK, GPT, MISSING, assert_key_refused, chat, consumer_with_key, message, setup,
};

/// Every place a key must not appear is searched for its part after `sy-`.
fn assert_hidden(text: &str, keys: &[&IssuedKey], place: &str) {
    for key in keys {
        assert!(
            !text.contains(key.secret_part()),
            "{place} shows the plaintext key {}:\n{text}",
            key.masked
        );
    }
}

/// Runs `switchyard config export [--with-secrets]` on the gateway's data directory.
async fn cli_export(gateway: &Gateway, with_secrets: bool) -> String {
    let mut args = vec!["config", "export"];
    if with_secrets {
        args.push("--with-secrets");
    }
    let output = run_cli(&args, gateway.data_dir()).await;
    output.expect_success("config export");
    output.stdout
}

fn parse(yaml: &str) -> ConfigDocument {
    serde_norway::from_str(yaml)
        .unwrap_or_else(|e| panic!("the export is not a config document ({e}):\n{yaml}"))
}

/// The `key_sha256` of the key named `key_name` of `consumer` in a document.
fn digest(doc: &ConfigDocument, consumer: &str, key_name: &str) -> String {
    let spec = doc
        .consumers
        .iter()
        .find(|c| c.name == consumer)
        .unwrap_or_else(|| panic!("no consumer {consumer} in the export"));
    let key = spec
        .keys
        .iter()
        .find(|k| k.name == key_name)
        .unwrap_or_else(|| panic!("no key {key_name} of {consumer} in the export"));
    assert!(key.key.is_none(), "the export carries a plaintext key");
    let digest = key
        .key_sha256
        .clone()
        .unwrap_or_else(|| panic!("key {key_name} of {consumer} exported without key_sha256"));
    assert!(
        digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
        "key_sha256 is a hex SHA-256 digest: {digest}"
    );
    digest
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("the data directory can be read") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plaintext_key_is_shown_once_and_never_again() {
    let (mut gateway, _mock) = setup().await;
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a", "allowed_models": ["deepseek-*"], "limits": {"rpm": 2}}),
    )
    .await;
    assert!(
        key.body.to_string().contains(key.secret_part()),
        "the create answer shows the key"
    );
    let rotated_from = gateway.issue_key("team-a", &json!({"name": "old"})).await;
    let rotate_path = format!("/api/consumers/team-a/keys/{}/rotate", rotated_from.id);
    let rotated = gateway
        .admin_post(&rotate_path, &json!({"grace_seconds": 60}))
        .await;
    let rotated = IssuedKey::from_response(&rotated, "rotating");
    assert_hidden(
        &rotated.body.to_string(),
        &[&key, &rotated_from],
        "the rotate answer",
    );
    let keys = [&key, &rotated_from, &rotated];

    // Use the key in every way that could make the gateway print it: success, 403, 429, a stream.
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "with the key");
    let mut answers = vec![
        gateway.chat_as(Some(&key.key), &chat(GPT)).await,
        gateway
            .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
            .await,
        gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await,
        gateway
            .chat_as(Some(&key.mistyped()), &chat(DEEPSEEK))
            .await,
        gateway
            .chat_with(
                KeyHeader::ApiKey,
                Some(&rotated.mistyped()),
                &chat(DEEPSEEK),
            )
            .await,
    ];
    assert_eq!(answers[0].status, 403);
    assert_eq!(answers[2].status, 429);
    assert_key_refused(&answers[3], &[], Some(&key.mistyped()));
    let listed_id = format!("/api/consumers/team-a/keys/{}", key.id);
    answers.push(
        gateway
            .admin_put(&listed_id, &json!({"name": "ci-renamed"}))
            .await,
    );
    answers[5].expect_status(200, "renaming the key");
    for path in [
        "/api/consumers",
        "/api/consumers/team-a",
        "/api/consumers/team-a/keys",
        "/api/config",
        "/api/config?format=json",
    ] {
        let response = gateway.admin_get(path).await;
        response.expect_status(200, path);
        answers.push(response);
    }
    for answer in &answers {
        let mut text = answer.text();
        for (name, value) in &answer.headers {
            text.push_str(&format!("\n{name}: {}", value.to_str().unwrap_or_default()));
        }
        assert_hidden(&text, &keys, "an answer");
    }
    let listed = gateway.admin_get("/api/consumers").await.json();
    let listed_keys = &listed[0]["keys"];
    assert_eq!(
        listed_keys.as_array().map(Vec::len),
        Some(3),
        "GET /api/consumers lists the keys: {listed}"
    );
    for entry in listed_keys.as_array().into_iter().flatten() {
        assert!(entry["masked"].is_string(), "{entry}");
        assert!(entry.get("key_sha256").is_none(), "{entry}");
    }

    // The exports carry digests: the admin API's and the CLI's, with secrets or without.
    let api_export: Value = gateway.admin_get("/api/config?format=json").await.json();
    let api_doc: ConfigDocument =
        serde_json::from_value(api_export.clone()).expect("the export is a config document");
    let expected = digest(&api_doc, "team-a", "ci-renamed");
    for with_secrets in [false, true] {
        let yaml = cli_export(&gateway, with_secrets).await;
        assert_hidden(&yaml, &keys, "config export");
        assert_eq!(digest(&parse(&yaml), "team-a", "ci-renamed"), expected);
    }

    // Nothing on disk, nothing in the logs.
    gateway.shutdown().await;
    for file in files_under(gateway.data_dir()) {
        let bytes = std::fs::read(&file).expect("a data file can be read");
        for issued in keys {
            let secret = issued.secret_part().as_bytes();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{} holds the plaintext key {}",
                file.display(),
                issued.masked
            );
        }
    }
    let logs = gateway.stderr_text();
    assert!(!logs.is_empty(), "the gateway's logs were not captured");
    assert_hidden(&logs, &keys, "the gateway's log");
    assert!(
        !logs.contains(key.mistyped().strip_prefix("sy-").unwrap_or_default()),
        "the log shows a presented (mistyped) key"
    );
}

/// Applies `yaml` to `gateway` with `switchyard config apply` from another process.
async fn cli_apply(gateway: &Gateway, yaml: &str) {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let file = dir.path().join("config.yaml");
    std::fs::write(&file, yaml).expect("the document is written");
    run_cli(
        &["config", "apply", file.to_str().expect("a UTF-8 path")],
        gateway.data_dir(),
    )
    .await
    .expect_success("config apply");
}

/// Polls until `key` is admitted by `gateway` (an apply by another process is picked up soon).
async fn wait_admitted(gateway: &Gateway, key: &str) {
    poll_until(DEADLINE, "the applied key to work", || async {
        let response = gateway.chat_as(Some(key), &chat(DEEPSEEK)).await;
        (response.status == 200).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_carries_keys_and_settings_to_a_fresh_gateway() {
    let (origin, mock) = setup().await;
    let key = consumer_with_key(
        &origin,
        json!({"name": "team-a", "allowed_models": ["deepseek-*"], "limits": {"rpm": 100}}),
    )
    .await;
    origin.set_client_auth("required").await;
    // The provider's own key must travel too, hence --with-secrets; the client keys are digests.
    let yaml = cli_export(&origin, true).await;
    assert!(yaml.contains("consumers:"), "{yaml}");
    assert!(yaml.contains("settings:"), "{yaml}");
    let origin_digest = digest(&parse(&yaml), "team-a", "ci");

    let copy = Gateway::start().await;
    cli_apply(&copy, &yaml).await;
    wait_admitted(&copy, &key.key).await;
    let settings = copy.admin_get("/api/settings").await.json();
    assert_eq!(settings["client_auth"], "required", "{settings}");
    let response = copy.chat_as(None, &chat(DEEPSEEK)).await;
    assert_key_refused(&response, MISSING, None);
    let response = copy.chat_as(Some(&key.key), &chat(GPT)).await;
    assert_eq!(response.status, 403, "the consumer's models came along");
    let consumer = copy.admin_get("/api/consumers/team-a").await.json();
    assert_eq!(consumer["limits"], json!({"rpm": 100}), "{consumer}");

    // A document may also carry a plaintext key, hashed on apply: here, one issued by origin.
    let second = origin.issue_key("team-a", &json!({"name": "second"})).await;
    let mut doc = parse(&cli_export(&origin, true).await);
    let planted = digest(&doc, "team-a", "second");
    for consumer in &mut doc.consumers {
        for entry in &mut consumer.keys {
            if entry.name == "second" {
                entry.key_sha256 = None;
                entry.key = Some(second.key.clone());
            }
        }
    }
    let fresh = Gateway::start().await;
    let plaintext_yaml = serde_norway::to_string(&doc).expect("the document serializes");
    assert!(plaintext_yaml.contains(second.secret_part()));
    cli_apply(&fresh, &plaintext_yaml).await;
    wait_admitted(&fresh, &second.key).await;
    fresh
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the digest-only key came along too");
    let exported = cli_export(&fresh, true).await;
    assert_hidden(
        &exported,
        &[&second, &key],
        "the export after a plaintext apply",
    );
    let doc = parse(&exported);
    assert_eq!(digest(&doc, "team-a", "second"), planted, "the same digest");
    assert_eq!(digest(&doc, "team-a", "ci"), origin_digest);
    let listed = fresh.admin_get("/api/consumers/team-a/keys").await;
    listed.expect_status(200, "the applied keys");
    assert_hidden(&listed.text(), &[&second, &key], "the applied keys' list");
    assert!(mock.request_count() >= 3);
}
