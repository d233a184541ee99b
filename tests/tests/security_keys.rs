//! Provider secrets: a base URL that moves to another host needs the keys again, header values are
//! masked and kept like keys, each protocol's key header is reserved, the data dir is private,
//! the optional master key seals secrets at rest (and `secrets seal` seals an existing database),
//! and `anthropic-beta` is reduced to the names a provider allows.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::fixtures::{chat_body, exact, provider, simple_route};
use switchyard_tests::providers::anthropic;
use switchyard_tests::{
    ApiResponse, Gateway, GatewayOptions, MockUpstream, run_cli, switchyard_bin,
};
use tokio::process::Command;

/// The provider key every test here stores; it must never show up anywhere but upstream.
const KEY: &str = "sk-live-provider-key-4b1d9e7c2a";
/// A custom header carrying a credential, like an `x-api-key` for an OpenAI-compatible proxy.
const HEADER_SECRET: &str = "hdr-secret-value-88c0f2d6e4";
/// A master key, and another one.
const MASTER_KEY: &str = "6b7c2f09a1d34e58b0c9d2e7f4a61b3c5d8e9f0a1b2c3d4e5f60718293a4b5c6";
const OTHER_MASTER_KEY: &str = "0011223344556677889900112233445566778899001122334455667788990011";

/// A provider at `mock` with [`KEY`] and a secret custom header.
fn secret_provider(name: &str, base_url: &str) -> Value {
    json!({
        "name": name,
        "type": "openai-compatible",
        "base_url": base_url,
        "api_keys": [KEY],
        "headers": {"x-api-key": HEADER_SECRET, "x-team": "search"},
    })
}

/// A gateway with [`secret_provider`] `p` at `mock` and a route sending `m` to it.
async fn setup(gateway: &Gateway, mock: &MockUpstream) {
    gateway
        .add_provider(&secret_provider("p", &mock.base_url()))
        .await;
    gateway
        .add_route(&simple_route("main", exact("m"), "p"))
        .await;
}

/// Asserts a chat for `m` reaches `mock` with the provider's key and both headers.
async fn assert_upstream_gets_the_secrets(gateway: &Gateway, mock: &MockUpstream) {
    gateway
        .chat(&chat_body("m"))
        .await
        .expect_status(200, "chat through the provider");
    let sent = mock.last_request();
    assert_eq!(sent.bearer(), Some(KEY));
    assert_eq!(sent.header("x-api-key"), Some(HEADER_SECRET));
    assert_eq!(sent.header("x-team"), Some("search"));
}

fn assert_hidden(text: &str, context: &str) {
    for secret in [KEY, HEADER_SECRET] {
        assert!(!text.contains(secret), "{context} shows a secret:\n{text}");
    }
}

/// Everything in the data dir's files, as (lossy) text: the database, its WAL and the rest.
fn raw_data_dir(dir: &Path) -> String {
    let mut all = String::new();
    for entry in std::fs::read_dir(dir).expect("the data dir can be listed") {
        let path = entry.expect("a directory entry").path();
        // The -wal and -shm files may go away as the last connection closes.
        if let Ok(bytes) = std::fs::read(&path) {
            all.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    all
}

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("a scratch directory")
}

fn key_file(dir: &Path, name: &str, key: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{key}\n")).expect("the key file is written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    path
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

/// Starts `switchyard serve` on `data_dir` expecting it to refuse to start; returns its stderr.
async fn serve_fails(data_dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let bin = tokio::task::spawn_blocking(switchyard_bin)
        .await
        .expect("building the binary did not panic");
    let mut command = Command::new(bin);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("SWITCHYARD_MASTER_KEY")
        .env_remove("SWITCHYARD_MASTER_KEY_FILE")
        .env_remove("SWITCHYARD_DATA_DIR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("switchyard exits instead of serving")
        .expect("switchyard runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "switchyard was expected to refuse to start:\n{stderr}"
    );
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_url_moving_to_another_host_needs_the_keys_again() {
    let home = MockUpstream::start("home").await;
    let elsewhere = MockUpstream::start("elsewhere").await;
    let gateway = Gateway::start().await;
    setup(&gateway, &home).await;
    let shown = gateway.admin_get("/api/providers/p").await.json();

    // Masked keys (as the API shows them) do not follow the provider to another host.
    let mut moved = shown.clone();
    moved["base_url"] = json!(elsewhere.base_url());
    let refused = gateway.admin_put("/api/providers/p", &moved).await;
    refused.expect_status(422, "a new host with masked keys");
    assert_eq!(
        refused.error_fields(),
        ["api_keys", "headers.x-api-key", "headers.x-team"]
    );
    let message = refused.admin_error("validation_failed")["fields"][0]["message"].clone();
    assert!(
        message
            .as_str()
            .is_some_and(|m| m.contains("again in full")),
        "the message says why: {message}"
    );
    // Leaving the keys out is refused just the same.
    let mut left_out = secret_provider("p", &elsewhere.base_url());
    left_out.as_object_mut().expect("object").remove("api_keys");
    let refused = gateway.admin_put("/api/providers/p", &left_out).await;
    refused.expect_status(422, "a new host without keys");
    assert_eq!(refused.error_fields(), ["api_keys"]);

    // Whole documents: the preview, the admin API's apply and the CLI's apply.
    let mut document = gateway.admin_get("/api/config?format=json").await.json();
    document["providers"][0]["base_url"] = json!(elsewhere.base_url());
    for path in ["/api/config/diff", "/api/config/apply"] {
        let refused = gateway.admin_post(path, &document).await;
        refused.expect_status(422, path);
        assert_eq!(
            refused.error_fields(),
            [
                "providers[0].api_keys",
                "providers[0].headers.x-api-key",
                "providers[0].headers.x-team"
            ],
            "{path}"
        );
    }
    let files = scratch();
    let file = files.path().join("moved.json");
    std::fs::write(&file, document.to_string()).expect("written");
    let printed = run_cli(&["config", "apply", path_str(&file)], gateway.data_dir())
        .await
        .expect_failure("config apply moving the provider with masked keys");
    assert!(printed.contains("providers[0].api_keys"), "{printed}");

    // Nothing moved: the keys still go home only.
    assert_upstream_gets_the_secrets(&gateway, &home).await;
    assert_eq!(
        elsewhere.request_count(),
        0,
        "no request reached the new host"
    );

    // The same host on another path keeps the masked secrets.
    let mut same_host = shown.clone();
    same_host["base_url"] = json!(format!("{}/", home.base_url()));
    gateway
        .admin_put("/api/providers/p", &same_host)
        .await
        .expect_status(200, "masked keys on the same host");

    // Sent in full, the move is accepted, and logged without the keys.
    gateway
        .admin_put(
            "/api/providers/p",
            &secret_provider("p", &elsewhere.base_url()),
        )
        .await
        .expect_status(200, "a new host with the keys in full");
    assert_upstream_gets_the_secrets(&gateway, &elsewhere).await;
    let logs = gateway.stderr_text();
    let origin = |mock: &MockUpstream| format!("http://127.0.0.1:{}", mock.port());
    let line = logs
        .lines()
        .find(|line| line.contains("moved to another host"))
        .unwrap_or_else(|| panic!("the move is logged:\n{logs}"));
    assert!(
        line.contains("WARN") && line.contains("provider=p"),
        "{line}"
    );
    assert!(
        line.contains(&origin(&home)) && line.contains(&origin(&elsewhere)),
        "{line}"
    );
    assert_hidden(&logs, "the gateway's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_values_are_masked_and_kept_like_keys() {
    let mock = MockUpstream::start("mock-h").await;
    let gateway = Gateway::start().await;
    let created = gateway
        .add_provider(&secret_provider("p", &mock.base_url()))
        .await;
    gateway
        .add_route(&simple_route("main", exact("m"), "p"))
        .await;
    assert_hidden(&created.text(), "the create answer");

    let shown = gateway.admin_get("/api/providers/p").await;
    assert_hidden(&shown.text(), "GET /api/providers/p");
    let shown = shown.json();
    assert_eq!(shown["headers"]["x-api-key"], "hdr…d6e4");
    assert_eq!(shown["headers"]["x-team"], "…");
    for path in ["/api/providers", "/api/config", "/api/config?format=json"] {
        let text = gateway.admin_get(path).await.text();
        assert!(
            text.contains("x-api-key"),
            "{path} lists the header: {text}"
        );
        assert_hidden(&text, path);
    }
    let export = run_cli(&["config", "export"], gateway.data_dir()).await;
    export.expect_success("config export");
    assert_hidden(&export.stdout, "config export");
    let full = run_cli(&["config", "export", "--with-secrets"], gateway.data_dir()).await;
    full.expect_success("config export --with-secrets");
    assert!(full.stdout.contains(HEADER_SECRET), "{}", full.stdout);

    // What the API showed, sent back as it is, keeps every stored secret.
    gateway
        .admin_put("/api/providers/p", &shown)
        .await
        .expect_status(200, "a masked round trip");
    assert_upstream_gets_the_secrets(&gateway, &mock).await;
    // So does re-applying the masked export.
    let files = scratch();
    let file = files.path().join("masked.yaml");
    std::fs::write(&file, &export.stdout).expect("written");
    run_cli(&["config", "apply", path_str(&file)], gateway.data_dir())
        .await
        .expect_success("applying the masked export");
    assert_upstream_gets_the_secrets(&gateway, &mock).await;

    // A masked value that stands for nothing stored is refused.
    let mut wrong = shown.clone();
    wrong["headers"]["x-api-key"] = json!("hdr…00");
    let refused = gateway.admin_put("/api/providers/p", &wrong).await;
    refused.expect_status(422, "a masked value matching nothing");
    assert_eq!(refused.error_fields(), ["headers.x-api-key"]);
    assert_hidden(&gateway.stderr_text(), "the gateway's log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_protocols_key_header_is_reserved() {
    let gateway = Gateway::start().await;
    let cases = [
        ("anthropic", "x-api-key"),
        ("gemini", "x-goog-api-key"),
        ("azure", "api-key"),
        ("openai-compatible", "Authorization"),
    ];
    for (kind, header) in cases {
        let spec = json!({
            "name": "reserved", "type": kind, "base_url": "https://llm.example.com/v1",
            "api_keys": [KEY], "headers": {header: "smuggled-key-value"},
        });
        let refused = gateway.admin_post("/api/providers", &spec).await;
        refused.expect_status(422, kind);
        assert_eq!(
            refused.error_fields(),
            [format!("headers.{header}")],
            "{kind}"
        );
    }
    // Another protocol's key header is an ordinary (masked) header.
    let spec = json!({
        "name": "allowed", "type": "openai-compatible", "base_url": "https://llm.example.com/v1",
        "headers": {"x-api-key": HEADER_SECRET},
    });
    gateway.add_provider(&spec).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_and_every_file_in_it_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let data_dir = Arc::new(scratch());
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("exists")
            .permissions()
            .mode()
            & 0o777
    };
    std::fs::set_permissions(data_dir.path(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    let token = data_dir.path().join("admin-token");
    std::fs::write(&token, "a-token-file-left-readable").expect("written");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let mock = MockUpstream::start("mock-f").await;
    let gateway = Gateway::start_in(GatewayOptions::default(), Arc::clone(&data_dir)).await;
    setup(&gateway, &mock).await;
    assert_eq!(mode(data_dir.path()), 0o700, "the data dir");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(data_dir.path()).expect("listed") {
        let path = entry.expect("an entry").path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        files.push(
            path.file_name()
                .expect("a name")
                .to_string_lossy()
                .into_owned(),
        );
    }
    files.sort();
    // With the configuration and the request log on PostgreSQL, the data dir holds the token.
    let expected: &[&str] = if switchyard_tests::store_engine::on_postgres() {
        &["admin-token"]
    } else {
        &[
            "admin-token",
            "switchyard.db",
            "switchyard.db-shm",
            "switchyard.db-wal",
        ]
    };
    for expected in expected {
        assert!(
            files.iter().any(|f| f == expected),
            "{expected} in {files:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_database_serves_with_its_key_only() {
    // It reads the SQLite files' bytes for the secrets.
    if switchyard_tests::store_engine::skip_unless_sqlite(
        "a_sealed_database_serves_with_its_key_only",
    ) {
        return;
    }
    let mock = MockUpstream::start("mock-s").await;
    let options = GatewayOptions::default().env("SWITCHYARD_MASTER_KEY", MASTER_KEY);
    let mut gateway = Gateway::start_with(options).await;
    setup(&gateway, &mock).await;
    assert_upstream_gets_the_secrets(&gateway, &mock).await;
    let raw = raw_data_dir(gateway.data_dir());
    assert_hidden(&raw, "the database files");
    assert!(raw.contains("sealed:v1:"), "the secrets are stored sealed");

    // A restart reads them back with the key.
    gateway.restart().await;
    assert_upstream_gets_the_secrets(&gateway, &mock).await;
    let keys = scratch();
    let key = key_file(keys.path(), "master.key", MASTER_KEY);
    let exported = run_cli(
        &[
            "config",
            "export",
            "--with-secrets",
            "--master-key-file",
            path_str(&key),
        ],
        gateway.data_dir(),
    )
    .await;
    exported.expect_success("export with the key file");
    assert!(exported.stdout.contains(KEY), "{}", exported.stdout);
    gateway.shutdown().await;
    assert_hidden(&gateway.stderr_text(), "the gateway's log");
    assert!(
        !gateway.stderr_text().contains(MASTER_KEY),
        "the master key is never logged"
    );

    // Without the key, or with another one, it refuses to start, and says why.
    let dir = gateway.data_dir();
    let without = serve_fails(dir, &[], &[]).await;
    assert!(without.contains("a master key is needed"), "{without}");
    let wrong = serve_fails(dir, &[], &[("SWITCHYARD_MASTER_KEY", OTHER_MASTER_KEY)]).await;
    assert!(
        wrong.contains("the master key does not match the one this database was sealed with"),
        "{wrong}"
    );
    assert!(
        !wrong.contains(OTHER_MASTER_KEY),
        "the key is not repeated: {wrong}"
    );
    let other = key_file(keys.path(), "other.key", OTHER_MASTER_KEY);
    let wrong = serve_fails(dir, &["--master-key-file", path_str(&other)], &[]).await;
    assert!(wrong.contains("does not match"), "{wrong}");
    // The key is never taken from the command line, where `ps` shows it.
    let argv = serve_fails(dir, &["--master-key", MASTER_KEY], &[]).await;
    assert!(argv.contains("command line"), "{argv}");
    let export = run_cli(&["config", "export"], dir).await;
    let printed = export.expect_failure("export without the key");
    assert!(printed.contains("a master key is needed"), "{printed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_seal_encrypts_an_existing_database_in_place() {
    // It reads the SQLite files' bytes for the secrets.
    if switchyard_tests::store_engine::skip_unless_sqlite(
        "secrets_seal_encrypts_an_existing_database_in_place",
    ) {
        return;
    }
    let mock = MockUpstream::start("mock-e").await;
    let mut gateway = Gateway::start().await;
    setup(&gateway, &mock).await;
    gateway.shutdown().await;
    let data_dir = gateway.data_dir_handle();
    let raw = raw_data_dir(data_dir.path());
    assert!(
        raw.contains(KEY) && raw.contains(HEADER_SECRET),
        "without a master key the secrets are stored in plaintext"
    );

    let keys = scratch();
    let key = key_file(keys.path(), "master.key", MASTER_KEY);
    let refused = run_cli(&["secrets", "seal"], data_dir.path()).await;
    let printed = refused.expect_failure("sealing without a key");
    assert!(printed.contains("master key"), "{printed}");
    let sealed = run_cli(
        &["secrets", "seal", "--master-key-file", path_str(&key)],
        data_dir.path(),
    )
    .await;
    sealed.expect_success("secrets seal");
    assert!(
        sealed
            .stdout
            .contains("1 provider keys and 2 header values"),
        "{}",
        sealed.stdout
    );
    let raw = raw_data_dir(data_dir.path());
    assert_hidden(&raw, "the sealed database files");
    assert!(raw.contains("sealed:v1:"));

    let without = serve_fails(data_dir.path(), &[], &[]).await;
    assert!(without.contains("a master key is needed"), "{without}");
    let options = GatewayOptions::default().args(["--master-key-file", path_str(&key)]);
    let gateway = Gateway::start_in(options, data_dir).await;
    assert_upstream_gets_the_secrets(&gateway, &mock).await;
}

/// A Messages API request with an `anthropic-beta` header.
async fn messages_with_betas(gateway: &Gateway, betas: &str) -> ApiResponse {
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}]});
    let request = gateway
        .proxy_request(Method::POST, "/v1/messages")
        .header("anthropic-version", "2023-06-01")
        .header("anthropic-beta", betas)
        .json(&body);
    ApiResponse::send(request).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_beta_is_reduced_to_the_allowed_names() {
    let mock = anthropic::mock("anthropic-b").await;
    let gateway = Gateway::start().await;
    gateway.add_provider(&mock.spec()).await;
    gateway
        .add_route(&simple_route(
            "claude",
            exact("claude-sonnet-4-5"),
            "anthropic-b",
        ))
        .await;
    let forwarded = |mock: &anthropic::AnthropicMock| {
        mock.last_request()
            .header("anthropic-beta")
            .map(str::to_owned)
    };

    // By default, Claude Code's betas pass and paid tools do not.
    messages_with_betas(
        &gateway,
        "claude-code-20250219, web-search-2025-03-05,interleaved-thinking-2025-05-14",
    )
    .await
    .expect_status(200, "messages with betas");
    assert_eq!(
        forwarded(&mock).as_deref(),
        Some("claude-code-20250219,interleaved-thinking-2025-05-14")
    );
    let claude_code = "claude-code-20250219,fine-grained-tool-streaming-2025-05-14";
    messages_with_betas(&gateway, claude_code)
        .await
        .expect_status(200, "Claude Code's betas");
    assert_eq!(forwarded(&mock).as_deref(), Some(claude_code), "unchanged");
    messages_with_betas(&gateway, "code-execution-2025-08-25,context-1m-2025-08-07")
        .await
        .expect_status(200, "only paid betas");
    assert_eq!(forwarded(&mock), None, "nothing left to forward");

    // A provider's own list replaces the default.
    let mut spec = gateway.admin_get("/api/providers/anthropic-b").await.json();
    spec["anthropic_betas"] = json!(["web-search-2025-03-05"]);
    gateway
        .admin_put("/api/providers/anthropic-b", &spec)
        .await
        .expect_status(200, "allow web search");
    messages_with_betas(&gateway, "claude-code-20250219,web-search-2025-03-05")
        .await
        .expect_status(200, "messages with betas");
    assert_eq!(forwarded(&mock).as_deref(), Some("web-search-2025-03-05"));

    // Only Anthropic providers take the setting.
    let mut other = provider("openai-b", &MockUpstream::start("openai-b").await, KEY);
    other["anthropic_betas"] = json!(["web-search-2025-03-05"]);
    let refused = gateway.admin_post("/api/providers", &other).await;
    refused.expect_status(422, "anthropic_betas on an OpenAI provider");
    assert_eq!(refused.error_fields(), ["anthropic_betas"]);
}
