//! Admin authentication and the handling of API keys: masking, keeping keys on PUT, no leaks.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_shared::secret::mask_secret;
use switchyard_tests::fixtures::{chat_body, exact, provider_at, simple_route};
use switchyard_tests::{ApiResponse, DEFAULT_ADMIN_TOKEN, Gateway, GatewayOptions, MockUpstream};

/// The set of `Authorization` values the mock received since it was last cleared.
fn upstream_keys(mock: &MockUpstream) -> BTreeSet<String> {
    mock.requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("none").to_owned())
        .collect()
}

fn bearer_set(keys: &[&str]) -> BTreeSet<String> {
    keys.iter().map(|k| format!("Bearer {k}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_requires_the_bearer_token() {
    let gateway = Gateway::start().await;
    let paths = [
        "/api/providers",
        "/api/routes",
        "/api/status",
        "/api/providers/x",
    ];
    for path in paths {
        for token in [None, Some("wrong-token"), Some("")] {
            let response = gateway.admin_request(Method::GET, path, token, None).await;
            response.expect_status(401, &format!("GET {path} with token {token:?}"));
            response.admin_error("unauthorized");
        }
    }
    // A write without the token must not happen.
    let body = serde_json::to_vec(&provider_at("p", "http://127.0.0.1:9/v1", &["sk-x"]))
        .expect("serializes");
    gateway
        .admin_request(Method::POST, "/api/providers", None, Some(body))
        .await
        .expect_status(401, "POST without a token");
    gateway
        .admin_get("/api/providers/p")
        .await
        .expect_status(404, "the unauthenticated write did not happen");

    let live = gateway
        .admin_request(Method::GET, "/api/health/live", None, None)
        .await;
    live.expect_status(200, "liveness needs no token");
    gateway
        .admin_get("/api/providers")
        .await
        .expect_status(200, "the right token works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_configured_token_the_admin_api_says_how_to_set_one() {
    let gateway = Gateway::start_with(GatewayOptions::default().without_admin_token()).await;
    for token in [None, Some(DEFAULT_ADMIN_TOKEN), Some("anything")] {
        let response = gateway
            .admin_request(Method::GET, "/api/providers", token, None)
            .await;
        response.expect_status(401, &format!("no token configured, sent {token:?}"));
        let error = response.admin_error("unauthorized");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("--admin-token") || message.contains("SWITCHYARD_ADMIN_TOKEN"),
            "the message should say how to set a token: {message}"
        );
    }
    gateway
        .admin_request(Method::GET, "/api/health/live", None, None)
        .await
        .expect_status(200, "liveness still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_masked_everywhere_and_never_logged() {
    let mock = MockUpstream::start("mock-a").await;
    let mut gateway = Gateway::start().await;
    let long = "sk-live-AAAA1111BBBB2222CCCCf3a9";
    let other = "sk-live-DDDD3333EEEE4444FFFFbeef";
    let short = "tinykey123";
    let secrets = [long, other, short];
    let spec = provider_at("secretive", &mock.base_url(), &secrets);
    let mut responses: Vec<ApiResponse> = Vec::new();

    let created = gateway.add_provider(&spec).await;
    assert_eq!(
        created.json()["api_keys"],
        json!(["sk-…f3a9", "sk-…beef", mask_secret(short)])
    );
    responses.push(created);
    responses.push(gateway.admin_get("/api/providers").await);
    responses.push(gateway.admin_get("/api/providers/secretive").await);
    responses.push(gateway.admin_post("/api/providers", &spec).await);
    let mut invalid = spec.clone();
    invalid["timeouts"] = json!({"total_ms": 0});
    responses.push(
        gateway
            .admin_put("/api/providers/secretive", &invalid)
            .await,
    );
    let mut masked_put = spec.clone();
    masked_put["api_keys"] = json!(["sk-…f3a9", other]);
    responses.push(
        gateway
            .admin_put("/api/providers/secretive", &masked_put)
            .await,
    );
    responses.push(gateway.admin_get("/api/openapi.json").await);
    gateway
        .add_route(&simple_route("r", exact("m"), "secretive"))
        .await;
    for _ in 0..5 {
        gateway
            .chat(&chat_body("m"))
            .await
            .expect_status(200, "chat");
    }
    // Every attempt fails, so the error paths (and any retry logging) run with the keys in use.
    mock.set_default(switchyard_tests::Reply::error(
        401,
        "Incorrect API key provided",
    ));
    gateway
        .chat(&chat_body("m"))
        .await
        .expect_status(401, "upstream 401");
    mock.set_default(switchyard_tests::Reply::Echo);

    for response in &responses {
        let text = response.text();
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "an admin response shows a key in full: {text}"
            );
        }
        assert!(
            !text.contains("AAAA1111") && !text.contains("DDDD3333"),
            "{text}"
        );
    }

    let status = gateway.shutdown().await;
    assert!(status.success(), "clean shutdown, got {status}");
    let logs = gateway.stderr_text();
    assert!(!logs.is_empty(), "the server's logs were not captured");
    for secret in secrets {
        assert!(!logs.contains(secret), "the server logged the key {secret}");
    }
    assert!(
        !logs.contains(DEFAULT_ADMIN_TOKEN),
        "the server logged the admin token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_keeps_stored_keys_when_omitted_or_masked() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let first = "sk-first-0000000000000000aaaa";
    let second = "sk-second-000000000000000bbbb";
    let base = provider_at("keyed", &mock.base_url(), &[first]);
    gateway.add_provider(&base).await;
    gateway
        .add_route(&simple_route("r", exact("m"), "keyed"))
        .await;
    let send_many = |n: usize| {
        let gateway = &gateway;
        async move {
            for _ in 0..n {
                gateway
                    .chat(&chat_body("m"))
                    .await
                    .expect_status(200, "chat");
            }
        }
    };
    let put = |body: Value| {
        let gateway = &gateway;
        async move { gateway.admin_put("/api/providers/keyed", &body).await }
    };

    // Leaving api_keys out keeps the stored key.
    let mut without_keys = base.clone();
    without_keys
        .as_object_mut()
        .expect("object")
        .remove("api_keys");
    without_keys["models"] = json!(["added-model"]);
    put(without_keys)
        .await
        .expect_status(200, "PUT without api_keys");
    let shown = gateway.admin_get("/api/providers/keyed").await.json();
    assert_eq!(shown["api_keys"], json!([mask_secret(first)]));
    assert_eq!(shown["models"], json!(["added-model"]));
    send_many(3).await;
    assert_eq!(upstream_keys(&mock), bearer_set(&[first]));

    // A masked key that matches a stored one keeps it; a new key is added beside it.
    let mut with_masked = base.clone();
    with_masked["api_keys"] = json!([mask_secret(first), second]);
    put(with_masked)
        .await
        .expect_status(200, "PUT with a masked key");
    let shown = gateway.admin_get("/api/providers/keyed").await.json();
    assert_eq!(
        shown["api_keys"],
        json!([mask_secret(first), mask_secret(second)])
    );
    mock.clear();
    send_many(60).await;
    assert_eq!(upstream_keys(&mock), bearer_set(&[first, second]));

    // Listing only the new key drops the old one.
    let mut only_second = base.clone();
    only_second["api_keys"] = json!([second]);
    put(only_second)
        .await
        .expect_status(200, "PUT replacing the keys");
    mock.clear();
    send_many(10).await;
    assert_eq!(upstream_keys(&mock), bearer_set(&[second]));

    // A masked key matching no stored key is rejected, and nothing changes.
    let mut unknown_mask = base.clone();
    unknown_mask["api_keys"] = json!(["sk-…zzzz"]);
    let response = put(unknown_mask).await;
    response.expect_status(422, "PUT with an unknown masked key");
    assert!(response.error_fields().contains(&"api_keys[0]".to_owned()));
    mock.clear();
    send_many(3).await;
    assert_eq!(upstream_keys(&mock), bearer_set(&[second]));
}
