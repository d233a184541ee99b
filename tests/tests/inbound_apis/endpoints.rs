//! OpenAI's other endpoints, routed by `model` like chat: to an OpenAI provider each passes
//! through (method, path under the base URL, body bytes with only the model renamed, the answer's
//! bytes and content type back), completions are metered and their stream checked for its end;
//! a provider whose protocol has no such endpoint refuses it by name without being called.

use bytes::Bytes;
use serde_json::{Value, json};
use switchyard_tests::fixtures::{exact, route};
use switchyard_tests::providers::endpoints::{self as wire, FormPart, form_body};
use switchyard_tests::providers::{Answer, OpenAiMock, Script, Tokens};
use switchyard_tests::{ApiResponse, Gateway, SseReader};

use super::{Upstream, openai_error, post, post_typed, request_id};

/// What clients ask for on each endpoint, and what the routes send upstream.
const MODELS: [(&str, &str); 6] = [
    ("gpt-3.5-turbo-instruct", "gpt-3.5-turbo-instruct"),
    ("house-images", "gpt-image-1"),
    ("tts-1", "tts-1"),
    ("whisper-1", "whisper-large-v3"),
    ("omni-moderation-latest", "omni-moderation-latest"),
    ("bge-reranker-v2-m3", "bge-reranker-v2-m3"),
];

/// A gateway with `upstream`'s provider and a route for each of [`MODELS`] to it.
pub async fn setup(upstream: Upstream) -> (Gateway, OpenAiMock) {
    let gateway = Gateway::start().await;
    let (mock, mut spec) = upstream.start().await;
    if upstream == Upstream::OpenAi {
        // OpenAI itself has no rerank: the mock serves every endpoint as an OpenAI-compatible
        // server (whose type offers them all) would.
        spec["type"] = json!("openai-compatible");
    }
    gateway.add_provider(&spec).await;
    for (index, (model, target)) in MODELS.into_iter().enumerate() {
        let target = json!({"provider": upstream.provider(), "model": target});
        let name = format!("endpoint-{index}");
        gateway
            .add_route(&route(&name, vec![exact(model)], vec![target]))
            .await;
    }
    (gateway, mock)
}

/// The JSON endpoints: path, the record's endpoint name, and the body an SDK sends.
fn json_requests() -> [(&'static str, &'static str, String); 5] {
    let body = |value: Value| value.to_string();
    [
        (
            "/v1/completions",
            "completions",
            body(
                json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test",
                "max_tokens": 7, "temperature": 0}),
            ),
        ),
        (
            "/v1/images/generations",
            "images",
            body(
                json!({"model": "house-images", "prompt": "A cute baby sea otter", "n": 1,
                "size": "1024x1024"}),
            ),
        ),
        (
            "/v1/audio/speech",
            "audio_speech",
            body(
                json!({"model": "tts-1", "input": "The quick brown fox jumped over the lazy dog.",
                "voice": "alloy"}),
            ),
        ),
        (
            "/v1/moderations",
            "moderations",
            body(json!({"model": "omni-moderation-latest", "input": "I want to hurt them."})),
        ),
        (
            "/v1/rerank",
            "rerank",
            body(
                json!({"model": "bge-reranker-v2-m3", "query": "What is the capital of France?",
                "documents": ["Paris is the capital of France.", "Berlin is in Germany.",
                    "The Eiffel Tower is in Paris."], "top_n": 2}),
            ),
        ),
    ]
}

/// The upstream model of a client model in [`MODELS`].
fn target_of(model: &str) -> &'static str {
    MODELS
        .iter()
        .find(|(client, _)| *client == model)
        .map(|(_, target)| *target)
        .unwrap_or_else(|| panic!("no route for {model}"))
}

/// What the OpenAI mock answers a request: its content type and bytes.
fn mock_answer(path: &str, sent: &Value) -> (&'static str, Bytes) {
    let model = sent["model"].as_str().expect("a model");
    let text = |key: &str| sent[key].as_str().expect("a string field").to_owned();
    let json = |value: Value| ("application/json", Bytes::from(value.to_string()));
    match path {
        "/v1/completions" => json(wire::completion(
            &Answer::text("hello from openai-up"),
            model,
        )),
        "/v1/images/generations" => json(wire::image(model, &text("prompt"))),
        "/v1/audio/speech" => ("audio/mpeg", wire::speech(&text("input"))),
        "/v1/moderations" => json(wire::moderation(model)),
        "/v1/rerank" => json(wire::rerank(model, 3)),
        other => panic!("no JSON endpoint {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_endpoint_passes_through_to_openai() {
    let (gateway, mock) = setup(Upstream::OpenAi).await;
    for (path, endpoint, body) in json_requests() {
        let response = ApiResponse::send(post(&gateway, path, body.clone())).await;
        response.expect_status(200, path);
        let client: Value = serde_json::from_str(&body).expect("JSON");
        let model = client["model"].as_str().expect("a model");
        let target = target_of(model);
        assert_eq!(
            response.header("x-switchyard-model"),
            Some(target),
            "{path}"
        );
        assert_eq!(
            response.header("x-switchyard-provider"),
            Some("openai-up"),
            "{path}"
        );

        let sent = mock.last_request();
        assert_eq!(sent.method, http::Method::POST, "{path}");
        assert_eq!(sent.path, path, "the path under the provider's base URL");
        let bearer = format!("Bearer {}", mock.key());
        assert_eq!(
            sent.header("authorization"),
            Some(bearer.as_str()),
            "{path}"
        );
        assert_eq!(
            sent.header("content-type"),
            Some("application/json"),
            "{path}"
        );
        let renamed = body.replacen(&format!("\"{model}\""), &format!("\"{target}\""), 1);
        assert_eq!(
            String::from_utf8_lossy(&sent.body),
            renamed,
            "{path}: the body sent"
        );

        let (content_type, bytes) = mock_answer(path, &sent.json());
        assert_eq!(
            response.header("content-type"),
            Some(content_type),
            "{path}"
        );
        assert!(
            response.body == bytes,
            "{path}: the client got {} bytes that differ from the provider's {}",
            response.body.len(),
            bytes.len()
        );
        let log = gateway.wait_log(&request_id(&response.headers)).await;
        assert_eq!(
            (log.endpoint.as_str(), log.status),
            (endpoint, 200),
            "{log:?}"
        );
        assert_eq!(
            (log.requested_model.as_deref(), log.model.as_deref()),
            (Some(model), Some(target)),
            "{log:?}"
        );
        if endpoint == "completions" {
            // The default answer's usage: 21 prompt and 9 completion tokens.
            assert_eq!(
                (log.prompt_tokens, log.completion_tokens),
                (21, 9),
                "{log:?}"
            );
            assert!(!log.tokens_estimated, "{log:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completions_stream_ends_with_done_and_is_metered() {
    let (gateway, mock) = setup(Upstream::OpenAi).await;
    let answer = Answer::text("This is indeed a test").with_tokens(Tokens {
        prompt: 37,
        completion: 11,
        ..Tokens::default()
    });
    mock.enqueue(Script::Answer(answer.clone()));
    let body = json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say this is a test",
        "max_tokens": 16, "stream": true});
    let response = post(&gateway, "/v1/completions", body.to_string())
        .send()
        .await
        .expect("the stream's headers arrive");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii");
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let id = request_id(response.headers());
    let events = SseReader::new(response).collect_all().await;
    let (last, chunks) = events.split_last().expect("some events");
    assert!(last.is_done(), "the stream ends with [DONE]: {events:?}");
    let mut text = String::new();
    for chunk in chunks {
        let chunk = chunk.json();
        assert_eq!(chunk["object"], "text_completion", "{chunk}");
        assert!(
            chunk.get("usage").is_none(),
            "usage the client did not ask for: {chunk}"
        );
        text.push_str(chunk["choices"][0]["text"].as_str().expect("a text"));
    }
    assert_eq!(text, answer.text);
    // The gateway asked for the usage it meters, and kept it from the client.
    let mut expected = body.clone();
    expected["stream_options"] = json!({"include_usage": true});
    assert_eq!(mock.last_request().json(), expected);
    let log = gateway.wait_log(&id).await;
    assert_eq!(
        (
            log.endpoint.as_str(),
            log.stream,
            log.prompt_tokens,
            log.completion_tokens
        ),
        ("completions", true, 37, 11),
        "{log:?}"
    );
    assert!(!log.tokens_estimated, "{log:?}");

    // A client that asks for the usage gets its chunk, and the body passes unchanged.
    let body = r#"{"model": "gpt-3.5-turbo-instruct", "prompt": "Hi", "stream": true, "stream_options": {"include_usage": true}}"#;
    let response = post(&gateway, "/v1/completions", body)
        .send()
        .await
        .expect("the stream's headers arrive");
    let events = SseReader::new(response).collect_all().await;
    assert_eq!(String::from_utf8_lossy(&mock.last_request().body), body);
    let usage = events[events.len() - 2].json();
    assert_eq!(
        (&usage["choices"], &usage["usage"]["prompt_tokens"]),
        (&json!([]), &json!(21))
    );
    assert!(events[events.len() - 1].is_done());
}

/// What an Anthropic or Gemini provider is asked on each endpoint, and the name of the operation
/// its refusal must give.
fn every_endpoint() -> Vec<(&'static str, String, Vec<u8>, &'static str)> {
    let mut requests: Vec<(&str, String, Vec<u8>, &str)> = json_requests()
        .into_iter()
        .map(|(path, _, body)| (path, "application/json".to_owned(), body.into_bytes(), ""))
        .collect();
    let descriptions = [
        "completions",
        "image generation",
        "text to speech",
        "moderations",
        "rerank",
    ];
    for (request, description) in requests.iter_mut().zip(descriptions) {
        request.3 = description;
    }
    let boundary = "4f3a0e2b9c8d7e6f5a4b3c2d1e0f9a8b";
    let parts = [
        FormPart::field("model", "whisper-1"),
        FormPart::file(
            "file",
            "a.mp3",
            "audio/mpeg",
            Bytes::from_static(b"ID3\x04"),
        ),
    ];
    requests.push((
        "/v1/audio/transcriptions",
        format!("multipart/form-data; boundary={boundary}"),
        form_body(boundary, &parts),
        "audio transcription",
    ));
    requests
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn providers_without_an_endpoint_refuse_it_by_name() {
    for upstream in [Upstream::Anthropic, Upstream::Gemini] {
        let (gateway, mock) = setup(upstream).await;
        let kind = match upstream {
            Upstream::Anthropic => "anthropic",
            _ => "gemini",
        };
        for (path, content_type, body, description) in every_endpoint() {
            let request = post_typed(&gateway, path, &content_type, body);
            let response = ApiResponse::send(request).await;
            let message = openai_error(&response, 400, "unsupported_operation");
            assert_eq!(response.json()["error"]["type"], "invalid_request_error");
            for part in [upstream.provider(), kind, description] {
                assert!(
                    message.contains(part),
                    "{path}: {part:?} is not in {message:?}"
                );
            }
        }
        assert_eq!(
            mock.request_count(),
            0,
            "{kind} was called for what it cannot do"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_generation_usage_is_metered() {
    let (gateway, _mock) = setup(Upstream::OpenAi).await;
    let body = json!({"model": "house-images", "prompt": "A cute baby sea otter"});
    let request = post(&gateway, "/v1/images/generations", body.to_string());
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "an image");
    let usage = &response.json()["usage"];
    let log = gateway.wait_log(&request_id(&response.headers)).await;
    // gpt-image-1 reports its tokens as the Responses API does: input and output.
    assert_eq!(
        (log.prompt_tokens, log.completion_tokens),
        (12, 272),
        "{usage} was recorded as {log:?}"
    );
}

/// An endpoint goes only to a provider whose type offers it: OpenAI has no rerank, so a route to
/// an `openai` provider answers 400 naming the type, and nothing reaches the provider.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_the_type_does_not_offer_is_refused_naming_it() {
    let gateway = Gateway::start().await;
    let (mock, spec) = Upstream::OpenAi.start().await;
    gateway.add_provider(&spec).await;
    for (index, (model, target)) in MODELS.into_iter().enumerate() {
        let target = json!({"provider": Upstream::OpenAi.provider(), "model": target});
        let name = format!("endpoint-{index}");
        gateway
            .add_route(&route(&name, vec![exact(model)], vec![target]))
            .await;
    }
    let (path, _, body) = json_requests()
        .into_iter()
        .find(|(path, _, _)| *path == "/v1/rerank")
        .expect("a rerank request");
    let response = ApiResponse::send(post(&gateway, path, body)).await;
    let message = openai_error(&response, 400, "unsupported_operation");
    assert!(
        message.contains("(openai) does not offer rerank"),
        "{message}"
    );
    assert_eq!(mock.request_count(), 0, "nothing reached the provider");
}
