//! Client keys and limits on the new APIs: with keys required, the Responses API, completions and
//! a transcription upload without a key are refused in OpenAI's shape before any provider is
//! reached; with a key they are served, and one request limit counts them all.

use bytes::Bytes;
use serde_json::json;
use switchyard_tests::ApiResponse;
use switchyard_tests::providers::endpoints::{FormPart, form_body};

use super::{MODEL, Setup, Upstream, openai_error, post, post_typed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_and_limits_apply_to_responses_and_completions() {
    let s = Setup::start(Upstream::OpenAi).await;
    s.gateway
        .add_consumer(&json!({"name": "team-a", "limits": {"rpm": 2}}))
        .await;
    let key = s.gateway.issue_key("team-a", &json!({"name": "ci"})).await;
    s.gateway.set_client_auth("required").await;

    let responses = json!({"model": MODEL, "input": "Say hi"}).to_string();
    let completions = json!({"model": MODEL, "prompt": "Say hi", "max_tokens": 5}).to_string();
    let boundary = "8a3f1c9e5b7d24f6081e2c4a6b8d0f1e";
    let upload = form_body(
        boundary,
        &[
            FormPart::field("model", MODEL),
            FormPart::file(
                "file",
                "a.mp3",
                "audio/mpeg",
                Bytes::from_static(b"ID3\x04"),
            ),
        ],
    );
    let form_type = format!("multipart/form-data; boundary={boundary}");
    for (path, body, content_type) in [
        (
            "/v1/responses",
            responses.clone().into_bytes(),
            "application/json",
        ),
        (
            "/v1/completions",
            completions.clone().into_bytes(),
            "application/json",
        ),
        ("/v1/audio/transcriptions", upload, form_type.as_str()),
    ] {
        let anonymous = post_typed(&s.gateway, path, content_type, body.clone());
        let response = ApiResponse::send(anonymous).await;
        let message = openai_error(&response, 401, "invalid_api_key");
        assert_eq!(
            response.json()["error"]["type"],
            "invalid_request_error",
            "{path}"
        );
        assert!(!message.is_empty(), "{path}");
        let wrong = post_typed(&s.gateway, path, content_type, body).bearer_auth(key.mistyped());
        openai_error(&ApiResponse::send(wrong).await, 401, "invalid_api_key");
    }
    assert_eq!(
        s.mock.request_count(),
        0,
        "a refused request reached the provider"
    );

    let with_key =
        |path: &str, body: &str| post(&s.gateway, path, body.to_owned()).bearer_auth(&key.key);
    let response = ApiResponse::send(with_key("/v1/responses", &responses)).await;
    response.expect_status(200, "the Responses API with a key");
    assert_eq!(response.json()["object"], "response");
    let response = ApiResponse::send(with_key("/v1/completions", &completions)).await;
    response.expect_status(200, "completions with a key");
    assert_eq!(response.json()["object"], "text_completion");
    let paths: Vec<String> = s.mock.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/responses", "/v1/completions"]);
    for request in s.mock.requests() {
        assert_eq!(
            request.bearer(),
            Some(s.mock.key()),
            "the provider's key, not the client's"
        );
    }

    // The consumer's two requests a minute are used up, whichever API they went to.
    let response = ApiResponse::send(with_key("/v1/responses", &responses)).await;
    openai_error(&response, 429, "rate_limit_exceeded");
    assert!(
        response.header("retry-after").is_some(),
        "{:?}",
        response.headers
    );
    assert_eq!(
        s.mock.request_count(),
        2,
        "a limited request reached the provider"
    );
}
