//! Base URLs as the providers' SDKs write them (issue 14, its first part): an Anthropic or Gemini
//! provider configured with the bare host works, and the API shows the URL requests really go
//! to; an upstream that answers 404 tells the client which provider and URL were tried and what
//! to check, instead of a bare "Not Found".

use serde_json::{Value, json};
use switchyard_tests::fixtures::{chat_body, prefix, provider_at, simple_route};
use switchyard_tests::providers::{anthropic, gemini};
use switchyard_tests::{Gateway, MockUpstream};

/// The mock's address without the version path its `base_url` has.
fn bare(base_url: &str, version: &str) -> String {
    base_url
        .strip_suffix(version)
        .unwrap_or_else(|| panic!("{base_url} ends with {version}"))
        .to_owned()
}

/// Registers `spec` and returns the provider as the API shows it.
async fn add(gateway: &Gateway, spec: Value) -> Value {
    let name = spec["name"].as_str().expect("a name").to_owned();
    gateway
        .add_provider(&spec)
        .await
        .expect_status(201, "create provider");
    let shown = gateway.admin_get(&format!("/api/providers/{name}")).await;
    shown.expect_status(200, "read provider");
    shown.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anthropic_and_gemini_work_with_the_bare_host() {
    let gateway = Gateway::start().await;
    let claude = anthropic::mock("claude").await;
    let mut spec = claude.spec();
    spec["base_url"] = json!(bare(&claude.base_url(), "/v1"));
    let shown = add(&gateway, spec).await;
    assert_eq!(shown["base_url"], json!(claude.base_url()), "{shown}");

    let google = gemini::mock("google").await;
    let mut spec = google.spec();
    spec["base_url"] = json!(format!("{}/", bare(&google.base_url(), "/v1beta")));
    let shown = add(&gateway, spec).await;
    assert_eq!(shown["base_url"], json!(google.base_url()), "{shown}");

    gateway
        .add_route(&simple_route("claude", prefix("claude-"), "claude"))
        .await;
    gateway
        .add_route(&simple_route("gemini", prefix("gemini-"), "google"))
        .await;
    for model in ["claude-sonnet", "gemini-pro"] {
        let response = gateway.chat(&chat_body(model)).await;
        response.expect_status(200, model);
    }
    assert!(
        !claude.requests().is_empty() && !google.requests().is_empty(),
        "both mocks were reached at their versioned paths"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_404_names_the_provider_the_url_and_what_to_check() {
    let gateway = Gateway::start().await;
    let mock = MockUpstream::start("lost").await;
    // A wrong path prefix: the mock answers 404 for everything under it.
    let wrong = format!("{}/wrong", mock.base_url());
    gateway
        .add_provider(&provider_at("lost", &wrong, &["sk-lost-key-000000000001"]))
        .await
        .expect_status(201, "create provider");
    gateway
        .add_route(&simple_route("lost", prefix("m"), "lost"))
        .await;
    let response = gateway.chat(&chat_body("m")).await;
    response.expect_status(404, "the upstream's status");
    let body = response.json();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("'lost'"), "names the provider: {message}");
    assert!(
        message.contains(&format!("{wrong}/chat/completions")),
        "names the URL tried: {message}"
    );
    assert!(
        message.contains("base_url"),
        "says what to check: {message}"
    );
    assert_eq!(body["error"]["code"], "upstream_not_found", "{body}");

    // The request's record says the same.
    let id = response
        .header("x-request-id")
        .expect("a request id")
        .to_owned();
    let record = gateway.wait_log(&id).await;
    assert_eq!(record.error_code.as_deref(), Some("upstream_not_found"));
}
