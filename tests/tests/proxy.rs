//! Forwarding: bodies byte for byte, model rewrites, credentials and headers, embeddings, models.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use switchyard_tests::fixtures::{
    add_mock_provider, chat_body, exact, prefix, provider, route, single_route_gateway, test_key,
    upstream,
};
use switchyard_tests::{Gateway, MockUpstream};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_is_proxied_with_switchyard_headers() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, exact("gpt-4o")).await;

    let response = gateway.chat(&chat_body("gpt-4o")).await;
    response.expect_status(200, "proxied chat");
    let body = response.json();
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-4o");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "hello from mock-a"
    );
    assert_eq!(
        response.switchyard_headers(),
        [Some("main"), Some("mock-a"), Some("gpt-4o"), Some("1")]
    );

    let received = mock.last_request();
    assert_eq!(received.method, "POST");
    assert_eq!(received.path, "/v1/chat/completions");
    assert_eq!(received.model(), "gpt-4o");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_with_unknown_fields_is_forwarded_byte_for_byte() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("pt-")).await;
    // Odd spacing, key order, a trailing zero and escapes: any re-serialization would change them.
    let body = concat!(
        "{ \"temperature\":0.70,\"model\" : \"pt-model\",\n",
        "  \"messages\":[{\"role\":\"user\",\"content\":\"caf\\u00e9 \u{1F600}\"}],",
        "\"x_vendor_extension\":{\"nested\":[1,2.50,null,true],\"empty\":{}},",
        "\"logit_bias\":{\"50256\":-100}, \"tools\":[] }"
    );

    let response = gateway.chat_raw(body.to_owned()).await;
    response.expect_status(200, "pass-through chat");
    let received = mock.last_request();
    assert_eq!(
        received.body.as_ref(),
        body.as_bytes(),
        "upstream body differs:\n{}",
        String::from_utf8_lossy(&received.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_authorization_is_replaced_by_provider_key_and_headers() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let mut spec = provider("mock-a", &mock, "sk-provider-secret-000000000001");
    spec["headers"] = json!({"x-tenant": "acme", "OpenAI-Organization": "org-test"});
    gateway.add_provider(&spec).await;
    gateway
        .add_route(&route("main", vec![exact("m")], vec![upstream("mock-a")]))
        .await;

    let request = gateway
        .chat_request(&chat_body("m"))
        .bearer_auth("client-credential-must-not-leak")
        .header("x-client-header", "client-value");
    let response = switchyard_tests::ApiResponse::send(request).await;
    response.expect_status(200, "chat with client credentials");

    let received = mock.last_request();
    assert_eq!(
        received.header("authorization"),
        Some("Bearer sk-provider-secret-000000000001")
    );
    assert_eq!(received.headers.get_all("authorization").iter().count(), 1);
    assert_eq!(received.header("x-tenant"), Some("acme"));
    assert_eq!(received.header("openai-organization"), Some("org-test"));
    for (name, value) in &received.headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        assert!(
            !value.contains("client-credential-must-not-leak"),
            "the client's credential reached the upstream in header {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_random_key_among_the_providers_keys_is_used() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let keys = [
        "sk-first-key-0000000000000001",
        "sk-second-key-000000000000002",
    ];
    gateway
        .add_provider(&switchyard_tests::fixtures::provider_at(
            "mock-a",
            &mock.base_url(),
            &keys,
        ))
        .await;
    gateway
        .add_route(&route("main", vec![exact("m")], vec![upstream("mock-a")]))
        .await;

    for _ in 0..60 {
        gateway
            .chat(&chat_body("m"))
            .await
            .expect_status(200, "chat");
    }
    let seen: BTreeSet<String> = mock
        .requests()
        .iter()
        .map(|r| r.header("authorization").unwrap_or("none").to_owned())
        .collect();
    let expected: BTreeSet<String> = keys.iter().map(|k| format!("Bearer {k}")).collect();
    assert_eq!(seen, expected, "both keys should be used over 60 requests");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_upstream_model_rewrites_the_model() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, &mock).await;
    gateway
        .add_route(&route(
            "aliased",
            vec![exact("my-alias")],
            vec![json!({"provider": "mock-a", "model": "real-model-v2"})],
        ))
        .await;
    let sent = json!({
        "model": "my-alias", "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.5, "custom": {"keep": [1, 2, 3]},
    });

    let response = gateway.chat(&sent).await;
    response.expect_status(200, "aliased chat");
    assert_eq!(response.header("x-switchyard-model"), Some("real-model-v2"));
    let received = mock.last_request().json();
    assert_eq!(received["model"], "real-model-v2");
    // Everything but the model must be unchanged.
    let mut expected = sent.clone();
    expected["model"] = json!("real-model-v2");
    assert_eq!(received, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn model_mapping_prefers_exact_then_longest_prefix_then_catch_all() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let mut spec = provider("mock-a", &mock, &test_key("mock-a"));
    spec["model_mapping"] = json!({
        "gpt-4o": "exact-target",
        "gpt-*": "short-prefix-target",
        "gpt-4*": "long-prefix-target",
        "keep-*": "",
        "*": "catch-all-target",
    });
    gateway.add_provider(&spec).await;
    gateway
        .add_route(&route(
            "mapped",
            vec![prefix("gpt-"), prefix("keep-"), exact("anything-else")],
            vec![upstream("mock-a")],
        ))
        .await;
    // An upstream `model` takes precedence over the provider's mapping.
    gateway
        .add_route(&route(
            "forced",
            vec![exact("gpt-forced")],
            vec![json!({"provider": "mock-a", "model": "forced-target"})],
        ))
        .await;

    let cases = [
        ("gpt-4o", "exact-target"),
        ("gpt-4o-mini", "long-prefix-target"),
        ("gpt-4-turbo", "long-prefix-target"),
        ("gpt-3.5-turbo", "short-prefix-target"),
        ("keep-this-name", "keep-this-name"),
        ("anything-else", "catch-all-target"),
        ("gpt-forced", "forced-target"),
    ];
    for (requested, expected) in cases {
        let response = gateway.chat(&chat_body(requested)).await;
        response.expect_status(200, requested);
        assert_eq!(
            response.header("x-switchyard-model"),
            Some(expected),
            "x-switchyard-model for {requested}"
        );
        assert_eq!(
            mock.last_request().model(),
            expected,
            "upstream model for {requested}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_are_proxied() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("text-embedding-")).await;
    let body = json!({"model": "text-embedding-3-small", "input": ["one", "two"], "dimensions": 3});

    let response = gateway.embeddings(&body).await;
    response.expect_status(200, "embeddings");
    assert_eq!(
        response.json()["data"][0]["embedding"],
        json!([0.25, -0.5, 1.0])
    );
    assert_eq!(
        response.switchyard_headers(),
        [
            Some("main"),
            Some("mock-a"),
            Some("text-embedding-3-small"),
            Some("1")
        ]
    );
    let received = mock.last_request();
    assert_eq!(received.path, "/v1/embeddings");
    assert_eq!(received.json(), body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_lists_exact_routes_mapping_targets_and_used_provider_models() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let mut used = provider("used", &mock, &test_key("used"));
    used["models"] = json!(["listed-one", "listed-two"]);
    used["model_mapping"] = json!({"alias": "mapped-target", "gpt-*": "prefix-mapped-target"});
    gateway.add_provider(&used).await;
    let mut unused = provider("unused", &mock, &test_key("unused"));
    unused["models"] = json!(["only-on-unused-provider"]);
    gateway.add_provider(&unused).await;
    gateway
        .add_route(&route(
            "main",
            vec![exact("exact-route-model"), prefix("prefix-value-")],
            vec![upstream("used")],
        ))
        .await;

    let response = gateway.models().await;
    response.expect_status(200, "GET /v1/models");
    let body = response.json();
    assert_eq!(body["object"], "list");
    let data = body["data"].as_array().expect("`data` is an array");
    let mut ids = BTreeSet::new();
    for entry in data {
        assert_eq!(entry["object"], "model", "entry {entry}");
        assert!(
            entry["created"].is_u64(),
            "created must be a number: {entry}"
        );
        assert!(
            entry["owned_by"].is_string(),
            "owned_by must be a string: {entry}"
        );
        let id = entry["id"].as_str().expect("id is a string").to_owned();
        assert!(ids.insert(id.clone()), "model {id} is listed twice");
    }
    for expected in [
        "exact-route-model",
        "mapped-target",
        "prefix-mapped-target",
        "listed-one",
        "listed-two",
    ] {
        assert!(ids.contains(expected), "{expected} missing from {ids:?}");
    }
    for absent in ["only-on-unused-provider", "prefix-value-"] {
        assert!(
            !ids.contains(absent),
            "{absent} must not be listed: {ids:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_port_does_not_serve_the_admin_api() {
    let gateway = Gateway::start().await;
    let response = switchyard_tests::ApiResponse::send(
        gateway
            .proxy_request(reqwest::Method::GET, "/api/providers")
            .bearer_auth(switchyard_tests::DEFAULT_ADMIN_TOKEN),
    )
    .await;
    response.expect_status(404, "admin path on the proxy port");
    let error: Value = response.openai_error();
    assert!(error["message"].is_string());
}
