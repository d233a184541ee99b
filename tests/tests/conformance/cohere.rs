//! What only Cohere has among the table's protocols: rerank, which passes through in Cohere's own
//! shape, and its errors, which name no type.

use http::Method;
use serde_json::json;
use switchyard_tests::ApiResponse;
use switchyard_tests::providers::conformance::{ask, chat};
use switchyard_tests::providers::{Harness, Kind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerank_reaches_cohere_v2_rerank() {
    let h = Harness::start(Kind::Cohere).await;
    h.gateway
        .add_route(&json!({
            "name": "conf-rerank",
            "match": [{"type": "exact", "value": "conf-rerank"}],
            "upstreams": [{"provider": Kind::Cohere.provider_name(), "model": "rerank-v3.5"}],
        }))
        .await;
    let body = json!({"model": "conf-rerank", "query": "capital of France?",
        "documents": ["Berlin", "Paris", "Madrid"], "top_n": 2});
    let request = h
        .gateway
        .proxy_request(Method::POST, "/v1/rerank")
        .json(&body);
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "rerank through Cohere");
    let results = response.json()["results"].clone();
    let expected = json!([{"index": 2, "relevance_score": 0.9},
        {"index": 1, "relevance_score": 0.8}]);
    assert_eq!(results, expected);
    let sent = h.last_request();
    assert_eq!(sent.path, "/v2/rerank");
    let key = switchyard_tests::fixtures::test_key(Kind::Cohere.provider_name());
    assert_eq!(sent.bearer(), Some(key.as_str()));
    let mut forwarded = body;
    forwarded["model"] = json!("rerank-v3.5");
    assert_eq!(sent.json(), forwarded);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_cohere_does_not_know_is_an_authentication_error() {
    let h = Harness::start(Kind::Cohere).await;
    // A second provider at the same mock, with a key the mock does not take.
    let spec = json!({"name": "cohere-wrong", "type": "cohere", "base_url": h.cohere().base_url(),
        "api_keys": ["sk-not-the-mocks-key-0123456789"]});
    h.gateway.add_provider(&spec).await;
    h.gateway
        .add_route(&json!({
            "name": "wrong-key",
            "match": [{"type": "exact", "value": "wrong-key"}],
            "upstreams": [{"provider": "cohere-wrong", "model": Kind::Cohere.upstream_model()}],
        }))
        .await;
    let mut body = chat(ask("hi"), &[]);
    body["model"] = json!("wrong-key");
    let response = h.gateway.chat(&body).await;
    response.expect_status(401, "a key Cohere refuses");
    let error = response.openai_error();
    assert_eq!(error["message"], "invalid api token", "{error}");
    assert_eq!(error["type"], "authentication_error", "{error}");
}
