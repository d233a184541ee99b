//! `switchyard config export` and `config apply` from a second process while the server runs.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_shared::ConfigDocument;
use switchyard_tests::fixtures::{
    add_mock_provider, chat_body, exact, prefix, provider, simple_route, test_key,
};
use switchyard_tests::{Gateway, MockUpstream, poll_until, run_cli};
use tempfile::TempDir;

/// How long a change applied by another process may take to reach the proxy: the contract says
/// one second, plus a margin for scheduling on a busy two-core CI machine.
const PICKUP_DEADLINE: Duration = Duration::from_millis(1500);

/// Writes `contents` to `name` inside `dir` and returns the path.
fn write_file(dir: &TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).expect("the config file is written");
    path
}

fn scratch() -> TempDir {
    tempfile::tempdir().expect("a scratch directory")
}

/// Runs `config export` on the gateway's data directory and returns the YAML.
async fn export(gateway: &Gateway, with_secrets: bool) -> String {
    let mut args = vec!["config", "export"];
    if with_secrets {
        args.push("--with-secrets");
    }
    let output = run_cli(&args, gateway.data_dir()).await;
    output.expect_success("config export");
    output.stdout
}

fn parse(yaml: &str) -> ConfigDocument {
    let mut doc: ConfigDocument = serde_norway::from_str(yaml)
        .unwrap_or_else(|e| panic!("the export is not a config document ({e}):\n{yaml}"));
    doc.providers.sort_by(|a, b| a.name.cmp(&b.name));
    doc.routes.sort_by(|a, b| a.name.cmp(&b.name));
    doc
}

/// Polls until a chat for `model` answers with `status`.
async fn wait_for_status(gateway: &Gateway, model: &str, status: u16) {
    poll_until(
        PICKUP_DEADLINE,
        &format!("{model} to answer {status}"),
        || async { (gateway.chat(&chat_body(model)).await.status == status).then_some(()) },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_from_another_process_is_picked_up_within_a_second() {
    let mock = MockUpstream::start("applied").await;
    let gateway = Gateway::start().await;
    gateway
        .chat(&chat_body("applied-model"))
        .await
        .expect_status(404, "before the apply");
    let files = scratch();
    let yaml = format!(
        "providers:\n  - name: applied\n    type: openai-compatible\n    base_url: {}\n    \
         api_keys: [\"{}\"]\nroutes:\n  - name: applied-route\n    match:\n      - type: exact\n        \
         value: applied-model\n    upstreams:\n      - provider: applied\n        model: upstream-name\n",
        mock.base_url(),
        test_key("applied")
    );
    let file = write_file(&files, "config.yaml", &yaml);

    let path = file.to_str().expect("a UTF-8 path");
    run_cli(&["config", "apply", path], gateway.data_dir())
        .await
        .expect_success("config apply");
    let applied_at = Instant::now();
    wait_for_status(&gateway, "applied-model", 200).await;
    let elapsed = applied_at.elapsed();

    assert_eq!(mock.last_request().model(), "upstream-name");
    let status = gateway.admin_get("/api/status").await.json();
    assert_eq!(
        (status["providers"].clone(), status["routes"].clone()),
        (json!(1), json!(1))
    );
    println!("the applied route answered {elapsed:?} after the apply finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_apply_round_trips() {
    let mock = MockUpstream::start("mock-a").await;
    let origin = Gateway::start().await;
    let mut full = provider("full", &mock, &test_key("full"));
    full["api_keys"] = json!([test_key("full"), "sk-second-full-key-000000000009"]);
    full["models"] = json!(["model-one"]);
    full["model_mapping"] = json!({"alias": "model-one", "gpt-*": "model-two"});
    full["headers"] = json!({"x-team": "search"});
    full["timeouts"] = json!({"connect_ms": 1500, "total_ms": 90000});
    origin.add_provider(&full).await;
    add_mock_provider(&origin, &MockUpstream::start("backup").await).await;
    origin
        .add_route(&json!({
            "name": "chat", "priority": 4,
            "match": [exact("gpt-4o"), prefix("gpt-4o-")],
            "upstreams": [{"provider": "full", "weight": 300, "model": "model-one"},
                          {"provider": "backup", "weight": 0}],
            "fallback": {"enabled": true, "strategy": "sequential", "on_status": [429, "5xx"],
                         "upstreams": [{"provider": "backup"}]},
        }))
        .await;
    origin
        .add_route(&simple_route("embed", prefix("text-embedding-"), "backup"))
        .await;

    let secret_yaml = export(&origin, true).await;
    let exported = parse(&secret_yaml);
    assert_eq!(exported.providers.len(), 2);
    assert_eq!(exported.routes.len(), 2);
    let keys = exported.providers[1]
        .api_keys
        .clone()
        .expect("keys are exported");
    assert_eq!(
        keys,
        vec![
            test_key("full"),
            "sk-second-full-key-000000000009".to_owned()
        ]
    );

    let masked_yaml = export(&origin, false).await;
    assert!(
        !masked_yaml.contains(&test_key("full")),
        "keys must be masked:\n{masked_yaml}"
    );
    assert!(
        masked_yaml.contains("sk-…"),
        "masked keys look like sk-…xxxx:\n{masked_yaml}"
    );
    let masked = parse(&masked_yaml);
    let expected_masked: Vec<_> = exported.providers.iter().map(|p| p.masked()).collect();
    assert_eq!(masked.providers, expected_masked);
    assert_eq!(masked.routes, exported.routes);

    // Applying the export with secrets to an empty gateway reproduces the configuration.
    let copy = Gateway::start().await;
    let files = scratch();
    let secret_file = write_file(&files, "with-secrets.yaml", &secret_yaml);
    run_cli(
        &["config", "apply", secret_file.to_str().expect("UTF-8")],
        copy.data_dir(),
    )
    .await
    .expect_success("applying the export");
    wait_for_status(&copy, "gpt-4o", 200).await;
    assert_eq!(parse(&export(&copy, true).await), exported);
    for path in ["/api/providers/full", "/api/routes/chat"] {
        assert_eq!(
            copy.admin_get(path).await.json(),
            origin.admin_get(path).await.json(),
            "{path} differs after the round trip"
        );
    }

    // A masked export cannot seed an empty store: its keys match nothing stored there.
    let empty = Gateway::start().await;
    let masked_file = write_file(&files, "masked.yaml", &masked_yaml);
    let masked_path = masked_file.to_str().expect("UTF-8");
    let output = run_cli(&["config", "apply", masked_path], empty.data_dir()).await;
    let printed = output.expect_failure("applying masked keys to an empty store");
    assert!(
        printed.contains("api_keys"),
        "the error names the key field:\n{printed}"
    );
    empty
        .admin_get("/api/providers/full")
        .await
        .expect_status(404, "nothing was applied");

    // On the store it came from, the masked export matches the stored keys and keeps them.
    run_cli(&["config", "apply", masked_path], origin.data_dir())
        .await
        .expect_success("re-applying the masked export");
    assert_eq!(parse(&export(&origin, true).await), exported);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_with_prune_removes_what_the_file_does_not_list() {
    let mock = MockUpstream::start("keep-p").await;
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, &mock).await;
    gateway
        .add_provider(&provider("drop-p", &mock, &test_key("drop-p")))
        .await;
    gateway
        .add_route(&simple_route("keep-r", exact("keep-model"), "keep-p"))
        .await;
    gateway
        .add_route(&simple_route("drop-r", exact("drop-model"), "drop-p"))
        .await;
    let document = json!({
        "providers": [provider("keep-p", &mock, &test_key("keep-p"))],
        "routes": [
            simple_route("keep-r", exact("keep-model"), "keep-p"),
            simple_route("new-r", exact("new-model"), "keep-p"),
        ],
    });
    let files = scratch();
    let file = write_file(&files, "config.json", &document.to_string());
    let path = file.to_str().expect("UTF-8");

    // Without --prune, items missing from the file stay.
    run_cli(&["config", "apply", path], gateway.data_dir())
        .await
        .expect_success("apply without prune");
    wait_for_status(&gateway, "new-model", 200).await;
    gateway
        .chat(&chat_body("drop-model"))
        .await
        .expect_status(200, "drop-r survives a plain apply");

    // With --prune, they go.
    run_cli(&["config", "apply", path, "--prune"], gateway.data_dir())
        .await
        .expect_success("apply with prune");
    wait_for_status(&gateway, "drop-model", 404).await;
    for path in ["/api/routes/drop-r", "/api/providers/drop-p"] {
        gateway.admin_get(path).await.expect_status(404, path);
    }
    for path in [
        "/api/routes/keep-r",
        "/api/routes/new-r",
        "/api/providers/keep-p",
    ] {
        gateway.admin_get(path).await.expect_status(200, path);
    }
    gateway
        .chat(&chat_body("keep-model"))
        .await
        .expect_status(200, "keep-r still routes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_apply_changes_nothing_and_names_the_fields() {
    let mock = MockUpstream::start("valid-p").await;
    let gateway = Gateway::start().await;
    let revision = gateway.admin_get("/api/status").await.json()["config_revision"].clone();
    let files = scratch();
    let invalid = json!({
        "providers": [provider("valid-p", &mock, &test_key("valid-p"))],
        "routes": [{
            "name": "bad-r",
            "match": [exact("m")],
            "upstreams": [{"provider": "valid-p", "weight": 1001}, {"provider": "ghost"}],
        }],
    });
    let cases = [
        (
            "invalid.json",
            invalid.to_string(),
            vec![
                "routes[0].upstreams[0].weight",
                "routes[0].upstreams[1].provider",
            ],
        ),
        (
            "unknown-field.yaml",
            "providers: []\ncolour: red\n".to_owned(),
            vec!["colour"],
        ),
        ("broken.yaml", "providers: [unclosed\n".to_owned(), vec![]),
    ];
    for (name, contents, fields) in cases {
        let file = write_file(&files, name, &contents);
        let output = run_cli(
            &["config", "apply", file.to_str().expect("UTF-8")],
            gateway.data_dir(),
        )
        .await;
        let printed = output.expect_failure(name);
        for field in fields {
            assert!(
                printed.contains(field),
                "{name}: {field} is not named in:\n{printed}"
            );
        }
    }

    // Validation runs before anything is written, so even the valid provider was not stored.
    gateway
        .admin_get("/api/providers/valid-p")
        .await
        .expect_status(404, "the valid part of an invalid file");
    assert_eq!(
        gateway.admin_get("/api/status").await.json()["config_revision"],
        revision
    );
}
