//! What only Vertex AI has: the service account's access token, fetched once with a signed
//! assertion and reused, and refused when the key file's private key is not the account's.

use serde_json::json;
use switchyard_tests::providers::conformance::{MODEL, ROUTE, ask, chat};
use switchyard_tests::providers::vertex::{GRANT_TYPE, OTHER_PRIVATE_KEY, VertexMock};
use switchyard_tests::providers::{Answer, Harness, Kind};
use switchyard_tests::{ApiResponse, Gateway};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_requests_fetch_one_access_token() {
    let h = Harness::start(Kind::Vertex).await;
    for i in 0..5 {
        h.answer(Answer::text(&format!("answer {i}")));
        if i % 2 == 0 {
            let response = h.chat(&chat(ask("hi"), &[])).await;
            response.expect_status(200, "a Vertex chat");
        } else {
            let stream = h.stream(&chat(ask("hi"), &[("stream", json!(true))])).await;
            stream.assert_complete();
        }
    }
    let vertex = h.vertex();
    let fetches = vertex.token_requests();
    assert_eq!(fetches.len(), 1, "one token serves five requests");
    let fetch = &fetches[0];
    assert_eq!(
        fetch.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let form = String::from_utf8_lossy(&fetch.body).into_owned();
    let grant = form.split('&').next().unwrap_or_default();
    assert_eq!(
        grant.replace("%3A", ":"),
        format!("grant_type={GRANT_TYPE}"),
        "{form}"
    );
    let issued = vertex.issued_tokens();
    assert_eq!(issued.len(), 1);
    let requests = h.requests();
    assert_eq!(requests.len(), 5);
    for request in &requests {
        assert_eq!(request.bearer(), Some(issued[0].as_str()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_with_another_private_key_is_refused_at_the_token_endpoint() {
    let mock = VertexMock::start("vertex-stranger").await;
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&mock.spec_with_key(OTHER_PRIVATE_KEY))
        .await;
    gateway
        .add_route(&json!({
            "name": ROUTE,
            "match": [{"type": "exact", "value": MODEL}],
            "upstreams": [{"provider": mock.name(), "model": Kind::Vertex.upstream_model()}],
        }))
        .await;
    let response = gateway.chat(&chat(ask("hi"), &[])).await;
    assert!(
        response.status.is_server_error(),
        "the gateway could not authenticate: {} {}",
        response.status,
        response.text()
    );
    let error = response.openai_error();
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains("Invalid JWT Signature."), "{message}");
    assert!(!mock.token_requests().is_empty());
    assert!(mock.issued_tokens().is_empty());
    assert_eq!(mock.request_count(), 0, "no model request without a token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_endpoint_refuses_tokens_it_did_not_issue() {
    let mock = VertexMock::start("vertex-direct").await;
    let url = format!(
        "{}/publishers/google/models/gemini-2.5-flash:generateContent",
        mock.base_url()
    );
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let client = switchyard_tests::http_client::new_client();
    for bearer in [None, Some("ya29.c.forged")] {
        let mut request = client.post(&url).json(&body);
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = ApiResponse::send(request).await;
        response.expect_status(401, "a request without an issued token");
        assert_eq!(response.json()["error"]["status"], "UNAUTHENTICATED");
    }
}
