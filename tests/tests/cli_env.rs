//! The command line itself: `--version`, and settings given through environment variables.

use reqwest::Method;
use serde_json::json;
use switchyard_tests::fixtures::{prefix, provider, simple_route};
use switchyard_tests::{Gateway, GatewayOptions, MockUpstream, run_cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_flag_prints_the_version() {
    let dir = tempfile::tempdir().expect("a scratch directory");
    let output = run_cli(&["--version"], dir.path()).await;
    output.expect_success("switchyard --version");
    assert!(
        output.stdout.contains(env!("CARGO_PKG_VERSION")),
        "the version is printed: {}",
        output.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_token_and_body_limit_come_from_the_environment() {
    let token = "token-from-the-environment-7c1e-0a9b8c7d6e";
    let options = GatewayOptions::default()
        .without_admin_token()
        .env("SWITCHYARD_ADMIN_TOKEN", token)
        .env("SWITCHYARD_MAX_BODY_BYTES", "512");
    let gateway = Gateway::start_with(options).await;

    let authorized = gateway
        .admin_request(Method::GET, "/api/status", Some(token), None)
        .await;
    authorized.expect_status(200, "the token from SWITCHYARD_ADMIN_TOKEN");
    gateway
        .admin_request(Method::GET, "/api/status", Some("another-token"), None)
        .await
        .expect_status(401, "a different token");

    let mock = MockUpstream::start("mock-a").await;
    let body = serde_json::to_vec(&provider("mock-a", &mock, "sk-env-test-key-000000000001"))
        .expect("serializes");
    gateway
        .admin_request(Method::POST, "/api/providers", Some(token), Some(body))
        .await
        .expect_status(201, "create a provider");
    let route = serde_json::to_vec(&simple_route("main", prefix("m"), "mock-a")).expect("JSON");
    gateway
        .admin_request(Method::POST, "/api/routes", Some(token), Some(route))
        .await
        .expect_status(201, "create a route");

    let padded = |len: usize| json!({"model": "m", "padding": "x".repeat(len)}).to_string();
    gateway
        .chat_raw(padded(100))
        .await
        .expect_status(200, "a body under SWITCHYARD_MAX_BODY_BYTES");
    gateway
        .chat_raw(padded(1000))
        .await
        .expect_status(413, "a body over SWITCHYARD_MAX_BODY_BYTES")
        .openai_error();
}
