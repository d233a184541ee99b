//! Vertex AI's addresses, its embeddings, and what it borrows from the Gemini protocol.

use serde_json::json;

use super::*;
use crate::protocols::Endpoint;

#[test]
fn regional_and_global_base_urls() {
    assert_eq!(
        base_url("my-project", "us-central1"),
        "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1"
    );
    assert_eq!(
        base_url("my-project", "global"),
        "https://aiplatform.googleapis.com/v1/projects/my-project/locations/global"
    );
}

#[test]
fn base_urls_read_back_into_project_and_location() {
    for (project, location) in [
        ("my-project", "europe-west4"),
        ("my-project", "global"),
        ("123456789012", "us-east5"),
        ("example.com:legacy-project", "asia-northeast1"),
    ] {
        let url = base_url(project, location);
        assert_eq!(
            project_location_from_base_url(&url),
            Some((project.to_owned(), location.to_owned())),
            "{url}"
        );
        let slashed = format!("{url}/");
        assert_eq!(
            project_location_from_base_url(&slashed),
            Some((project.to_owned(), location.to_owned())),
            "{slashed}"
        );
    }
}

#[test]
fn other_urls_name_no_project() {
    for url in [
        "https://generativelanguage.googleapis.com/v1beta",
        "https://us-central1-aiplatform.googleapis.com/v1/projects/p/locations/europe-west4",
        "https://evil.example/v1/projects/p/locations/global",
        "http://aiplatform.googleapis.com/v1/projects/p/locations/global",
        "https://aiplatform.googleapis.com/v1/projects/p/locations/global/publishers/google",
        "https://aiplatform.googleapis.com/v1beta1/projects/p/locations/global",
        "https://aiplatform.googleapis.com/v1/projects//locations/global",
        "https://aiplatform.googleapis.com/v1/projects/P/locations/global",
        "https://x-aiplatform.googleapis.com/v1/projects/p/locations/x%2F",
        "not a url",
    ] {
        assert_eq!(project_location_from_base_url(url), None, "{url}");
    }
}

#[test]
fn locations_must_be_dns_labels() {
    assert!(check_project_location("my-project", "us-central1").is_ok());
    assert!(check_project_location("my-project", "global").is_ok());
    for location in ["", "evil.com/x?", "US-CENTRAL1", "-us", "us-", "a b"] {
        let error = check_project_location("my-project", location).expect_err(location);
        assert!(error.contains("not a Vertex AI location"), "{error}");
    }
    for project in ["", "My Project", "p/q", "p?x"] {
        let error = check_project_location(project, "global").expect_err(project);
        assert!(error.contains("not a Google Cloud project ID"), "{error}");
    }
}

#[test]
fn paths_address_google_publisher_models() {
    let path = |operation| VertexProvider.path(operation, "gemini-2.5-flash", "v1beta");
    let model = "/publishers/google/models/gemini-2.5-flash";
    assert_eq!(
        path(Operation::Chat { stream: false }),
        Some(format!("{model}:generateContent"))
    );
    assert_eq!(
        path(Operation::Chat { stream: true }),
        Some(format!("{model}:streamGenerateContent?alt=sse"))
    );
    assert_eq!(
        path(Operation::CountTokens),
        Some(format!("{model}:countTokens"))
    );
    assert_eq!(
        path(Operation::Embeddings),
        Some(format!("{model}:predict"))
    );
    assert_eq!(path(Operation::Responses), None);
    for endpoint in Endpoint::ALL {
        assert_eq!(path(Operation::Endpoint(endpoint)), None);
    }
    for operation in Operation::ALL {
        assert!(VertexProvider.per_model(operation));
    }
}

#[test]
fn models_are_one_encoded_path_segment() {
    let path = VertexProvider.path(Operation::Chat { stream: false }, "a/b c?d#e", "");
    assert_eq!(
        path.as_deref(),
        Some("/publishers/google/models/a%2Fb%20c%3Fd%23e:generateContent")
    );
    let versioned = VertexProvider.path(Operation::Embeddings, "text-embedding-005@001", "");
    assert_eq!(
        versioned.as_deref(),
        Some("/publishers/google/models/text-embedding-005%40001:predict")
    );
}

#[test]
fn gemini_requests_pass_through_natively() {
    assert!(VertexProvider.native(Inbound::Gemini));
    assert!(VertexProvider.native(Inbound::GeminiCountTokens));
    for inbound in [
        Inbound::Chat,
        Inbound::Embeddings,
        Inbound::Messages,
        Inbound::CountTokens,
        Inbound::Responses,
        Inbound::Endpoint(Endpoint::Completions),
    ] {
        assert!(!VertexProvider.native(inbound), "{inbound:?}");
    }
}

#[test]
fn chat_bodies_are_geminis() {
    let chat = json!({
        "model": "gemini-2.5-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"}
        ],
        "max_tokens": 5
    });
    let settings = RequestSettings {
        target: "gemini-2.5-flash",
        default_max_tokens: 1,
    };
    assert_eq!(
        VertexProvider.chat_request(chat.clone(), &settings),
        GeminiProvider.chat_request(chat, &settings)
    );
    let answer = json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello"}]}, "finishReason": "STOP"}],
        "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1, "totalTokenCount": 5},
        "modelVersion": "gemini-2.5-flash"
    });
    let (completion, usage) = VertexProvider.chat_answer(&answer, "gemini-2.5-flash");
    assert_eq!(completion["choices"][0]["message"]["content"], "Hello");
    assert_eq!(usage.prompt_tokens, 4);
    assert_eq!(usage.completion_tokens, 1);
}

#[test]
fn embeddings_requests_are_predict_instances() {
    let one = VertexProvider
        .embeddings_request(
            &json!({"model": "m", "input": "hello"}),
            "text-embedding-005",
        )
        .expect("translates");
    assert_eq!(one, json!({"instances": [{"content": "hello"}]}));
    let many = VertexProvider
        .embeddings_request(
            &json!({"model": "m", "input": ["a", "b"], "dimensions": 256}),
            "text-embedding-005",
        )
        .expect("translates");
    assert_eq!(
        many,
        json!({
            "instances": [{"content": "a"}, {"content": "b"}],
            "parameters": {"outputDimensionality": 256}
        })
    );
}

#[test]
fn embeddings_requests_vertex_cannot_take_are_refused_by_name() {
    let cases = [
        (json!({"input": [[1, 2, 3]]}), "text inputs only"),
        (json!({"input": []}), "empty array"),
        (json!({"input": 5}), "input must be"),
        (json!({}), "input must be"),
        (json!({"input": "x", "dimensions": 0}), "dimensions"),
        (json!({"input": "x", "dimensions": "big"}), "dimensions"),
    ];
    for (request, expected) in cases {
        let error = VertexProvider
            .embeddings_request(&request, "text-embedding-005")
            .expect_err("refused");
        assert!(error.contains(expected), "{request}: {error}");
    }
}

#[test]
fn embeddings_answers_become_openai_lists_with_usage() {
    let raw = json!({
        "predictions": [
            {"embeddings": {"values": [0.1, 0.2], "statistics": {"truncated": false, "token_count": 6}}},
            {"embeddings": {"values": [0.3, 0.4], "statistics": {"truncated": false, "token_count": 4.0}}}
        ],
        "metadata": {"billableCharacterCount": 20}
    });
    assert_eq!(
        VertexProvider.embeddings_answer(&raw, "embedder"),
        json!({
            "object": "list",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, 0.2]},
                {"object": "embedding", "index": 1, "embedding": [0.3, 0.4]}
            ],
            "model": "embedder",
            "usage": {"prompt_tokens": 10, "total_tokens": 10}
        })
    );
    let empty = VertexProvider.embeddings_answer(&json!({}), "embedder");
    assert_eq!(empty["data"], json!([]));
    assert_eq!(empty["usage"]["prompt_tokens"], 0);
}

#[test]
fn errors_are_read_as_googles_including_arrays() {
    let body = br#"{"error":{"code":429,"message":"Quota exceeded for aiplatform.googleapis.com/generate_content_requests_per_minute","status":"RESOURCE_EXHAUSTED"}}"#;
    let parsed = VertexProvider.error(body);
    assert_eq!(parsed, GeminiProvider.error(body));
    assert_eq!(parsed.status, Some(429));
    assert_eq!(parsed.cause, crate::protocols::Cause::Quota);

    let array = br#"[{"error":{"code":400,"message":"The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}]"#;
    let parsed = VertexProvider.error(array);
    assert_eq!(parsed.status, Some(400));
    assert_eq!(parsed.kind.as_deref(), Some("invalid_request_error"));
    assert_eq!(parsed.cause, crate::protocols::Cause::ContextLength);

    let garbage = VertexProvider.error(b"<html>bad gateway</html>");
    assert_eq!(garbage, GeminiProvider.error(b"<html>bad gateway</html>"));
}
