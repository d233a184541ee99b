//! Errors on the proxy port: client mistakes, missing routes, size limits and upstream failures.

use bytes::Bytes;
use reqwest::Method;
use serde_json::json;
use switchyard_tests::fixtures::{
    chat_body, exact, prefix, provider_at, simple_route, single_route_gateway,
};
use switchyard_tests::{
    ApiResponse, Gateway, GatewayOptions, MockUpstream, Reply, refused_base_url,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_a_400_invalid_request_error() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("m")).await;

    for body in [r#"{"model": "m", "messages": ["#, "not json at all", ""] {
        let response = gateway.chat_raw(body.to_owned()).await;
        response.expect_status(400, &format!("malformed body {body:?}"));
        assert_eq!(response.openai_error()["type"], "invalid_request_error");
    }
    assert_eq!(mock.request_count(), 0, "nothing may reach the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_non_string_model_is_a_400() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("m")).await;

    let bodies = [
        json!({"messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": 42, "messages": []}),
        json!({"model": null, "messages": []}),
        json!({"model": ["m"], "messages": []}),
        json!(["not", "an", "object"]),
    ];
    for body in bodies {
        let response = gateway.chat(&body).await;
        response.expect_status(400, &format!("body {body}"));
        assert_eq!(response.openai_error()["type"], "invalid_request_error");
    }
    assert_eq!(mock.request_count(), 0, "nothing may reach the upstream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unrouted_model_is_a_404_model_not_found() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, exact("known-model")).await;

    for path in ["/v1/chat/completions", "/v1/embeddings"] {
        let response = ApiResponse::send(
            gateway
                .proxy_request(Method::POST, path)
                .json(&chat_body("no-such-model-xyz")),
        )
        .await;
        response.expect_status(404, path);
        let error = response.openai_error();
        assert_eq!(error["code"], "model_not_found", "{path}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("no-such-model-xyz"),
            "the message should name the model: {message}"
        );
    }
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_method_is_405_and_unknown_path_is_404() {
    let gateway = Gateway::start().await;

    for (method, path) in [
        (Method::GET, "/v1/chat/completions"),
        (Method::DELETE, "/v1/chat/completions"),
        (Method::GET, "/v1/embeddings"),
        (Method::POST, "/v1/models"),
    ] {
        let response = ApiResponse::send(gateway.proxy_request(method.clone(), path)).await;
        response.expect_status(405, &format!("{method} {path}"));
        response.openai_error();
    }
    for path in ["/v1/nothing-here", "/", "/v2/chat/completions"] {
        let response = ApiResponse::send(
            gateway
                .proxy_request(Method::POST, path)
                .json(&chat_body("m")),
        )
        .await;
        response.expect_status(404, path);
        response.openai_error();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_over_the_limit_is_a_413() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway =
        Gateway::start_with(GatewayOptions::default().args(["--max-body-bytes", "1024"])).await;
    switchyard_tests::fixtures::add_mock_provider(&gateway, &mock).await;
    gateway
        .add_route(&simple_route("main", prefix("m"), "mock-a"))
        .await;
    let with_padding = |len: usize| {
        json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(len)}]})
            .to_string()
    };

    let small = with_padding(800);
    assert!(small.len() <= 1024);
    gateway
        .chat_raw(small)
        .await
        .expect_status(200, "a body under the limit");

    let large = with_padding(2000);
    let response = gateway.chat_raw(large.clone()).await;
    response.expect_status(413, "a body with Content-Length over the limit");
    response.openai_error();

    // Without a Content-Length the limit must still hold while the body is read.
    let chunks: Vec<Result<Bytes, std::io::Error>> = large
        .as_bytes()
        .chunks(256)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let response = gateway.chat_raw(streamed).await;
    response.expect_status(413, "a chunked body over the limit");
    response.openai_error();

    assert_eq!(
        mock.request_count(),
        1,
        "only the small request may reach the upstream"
    );
}

/// Sends one chat to a fresh gateway whose mock answers every attempt with `reply`, and checks
/// that the gateway answers with `status`, carries `text` into an OpenAI-shaped error, and
/// reports in `x-switchyard-attempts` exactly as many upstream requests as the mock received.
/// The reply is the mock's default rather than a one-shot, and each case gets its own gateway,
/// so that retries or health tracking cannot turn one case into another.
async fn check_carried_over(reply: Reply, status: u16, text: &str) {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = single_route_gateway(&mock, prefix("m")).await;
    mock.set_default(reply);
    let response = gateway.chat(&chat_body("m")).await;
    response.expect_status(status, text);
    let message = response.openai_error()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        message.contains(text),
        "message {message:?} should carry {text:?}"
    );
    let attempts = mock.request_count();
    assert!(attempts >= 1, "the upstream was called");
    assert_eq!(
        response.switchyard_headers(),
        [
            Some("main"),
            Some("mock-a"),
            Some("m"),
            Some(attempts.to_string().as_str())
        ],
        "an upstream error is still a proxied answer"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_json_errors_are_carried_over() {
    for (status, text) in [
        (429, "Rate limit reached for requests, slow down"),
        (500, "The upstream model crashed"),
        (400, "Invalid 'messages': too short"),
        (404, "The model `m` does not exist"),
    ] {
        check_carried_over(Reply::error(status, text), status, text).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_non_json_error_text_appears_in_the_message() {
    let html = "<html><body>nginx: upstream gateway exploded</body></html>";
    check_carried_over(Reply::text(502, html), 502, "upstream gateway exploded").await;
    let text = "Service Unavailable: maintenance window";
    check_carried_over(Reply::text(503, text), 503, text).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_upstream_connection_is_a_gateway_error() {
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider_at(
            "gone",
            &refused_base_url(),
            &["sk-gone-key-0000000000001"],
        ))
        .await;
    gateway
        .add_route(&simple_route("main", exact("m"), "gone"))
        .await;

    let response = gateway.chat(&chat_body("m")).await;
    assert!(
        response.status.is_server_error(),
        "a refused connection should be a 5xx, got {}: {}",
        response.status,
        response.text()
    );
    response.openai_error();
}
