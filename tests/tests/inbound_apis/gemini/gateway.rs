//! What the gateway does around a Gemini request: client keys in `?key=` or `x-goog-api-key`
//! (never forwarded), errors in Google's shape, countTokens (passed through to Gemini, estimated
//! elsewhere), a route's model mapping in the upstream path, the request record, and fallback
//! from a failing first upstream.

use serde_json::json;
use switchyard_tests::fixtures::{exact, route};
use switchyard_tests::providers::{Answer, Kind, Script, Tokens, gemini};
use switchyard_tests::{ApiResponse, Gateway};

use super::{
    MODEL, SDK_BODY, Setup, assert_no_client_key, gemini_method, generate, google_error, path_of,
    request_id, sdk_request, sdk_request_without_key, start_mock, stream, stream_of,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_keys_in_the_query_or_the_header_never_reach_the_provider() {
    let s = Setup::start(Kind::Gemini).await;
    // With client auth off, a Google key in `?key=` is no Switchyard key: ignored, not forwarded.
    let google_key = format!(
        "{}?key={}",
        path_of(MODEL, "generateContent"),
        super::CLIENT_KEY
    );
    let response =
        ApiResponse::send(sdk_request_without_key(&s.gateway, &google_key, SDK_BODY)).await;
    response.expect_status(200, "a Google key with client auth off");
    let sent = s.mock.last_request();
    s.assert_addressed(&sent, false);
    s.gateway.add_consumer(&json!({"name": "genai-team"})).await;
    let key = s
        .gateway
        .issue_key("genai-team", &json!({"name": "sdk"}))
        .await;
    s.gateway.set_client_auth("required").await;
    let generate_path = path_of(MODEL, "generateContent");
    let stream_path = path_of(MODEL, gemini_method(true));

    let anonymous = sdk_request_without_key(&s.gateway, &generate_path, SDK_BODY);
    google_error(&ApiResponse::send(anonymous).await, 401, "UNAUTHENTICATED");
    let anonymous = sdk_request_without_key(&s.gateway, &stream_path, SDK_BODY);
    google_error(&ApiResponse::send(anonymous).await, 401, "UNAUTHENTICATED");
    let mistyped = format!("{generate_path}?key={}", key.mistyped());
    let response =
        ApiResponse::send(sdk_request_without_key(&s.gateway, &mistyped, SDK_BODY)).await;
    google_error(&response, 401, "UNAUTHENTICATED");
    assert_eq!(
        s.mock.request_count(),
        1,
        "only the request sent before keys were required reached the provider"
    );

    let in_query = format!("{generate_path}?key={}", key.key);
    let response =
        ApiResponse::send(sdk_request_without_key(&s.gateway, &in_query, SDK_BODY)).await;
    response.expect_status(200, "the key as ?key=");
    let id = request_id(&response.headers);
    let in_header = sdk_request_without_key(&s.gateway, &generate_path, SDK_BODY)
        .header("x-goog-api-key", &key.key);
    ApiResponse::send(in_header)
        .await
        .expect_status(200, "the key in x-goog-api-key");
    // The SDK's own streaming query comes first; the key follows it.
    let streamed = format!("{stream_path}&key={}", key.key);
    stream_of(sdk_request_without_key(&s.gateway, &streamed, SDK_BODY))
        .await
        .assert_complete("a stream with ?alt=sse&key=");
    let streamed = path_of(
        MODEL,
        &format!("streamGenerateContent?key={}&alt=sse", key.key),
    );
    stream_of(sdk_request_without_key(&s.gateway, &streamed, SDK_BODY))
        .await
        .assert_complete("a stream with ?key=&alt=sse");

    let requests = s.mock.requests();
    assert_eq!(requests.len(), 5);
    for (sent, streams) in requests[1..].iter().zip([false, false, true, true]) {
        s.assert_addressed(sent, streams);
        assert_no_client_key(sent, &key.key);
        assert_no_client_key(sent, key.secret_part());
        assert_eq!(String::from_utf8_lossy(&sent.body), SDK_BODY);
    }
    // Refused before the key is read, the key still must not be logged.
    let unknown = path_of(MODEL, &format!("embedContent?key={}", key.key));
    let response = ApiResponse::send(sdk_request_without_key(&s.gateway, &unknown, SDK_BODY)).await;
    let message = google_error(&response, 404, "NOT_FOUND");
    assert!(!message.contains(key.secret_part()), "{message}");
    let logged = s.gateway.stderr_text();
    assert!(
        !logged.contains(key.secret_part()),
        "the gateway logged the client's key"
    );
    let log = s.gateway.wait_log(&id).await;
    assert_eq!(
        (log.consumer.as_deref(), log.key_id),
        (Some("genai-team"), Some(key.id)),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_are_in_googles_shape() {
    let s = Setup::start(Kind::OpenAi).await;
    for path in [
        format!("/v1beta/models/{MODEL}:embedContent"),
        format!("/v1/models/{MODEL}:embedContent"),
    ] {
        let response = ApiResponse::send(sdk_request(&s.gateway, &path, SDK_BODY)).await;
        let message = google_error(&response, 404, "NOT_FOUND");
        assert!(message.contains("embedContent"), "{message}");
    }
    let unknown = path_of("no-such-model", "generateContent");
    let response = ApiResponse::send(sdk_request(&s.gateway, &unknown, SDK_BODY)).await;
    let message = google_error(&response, 404, "NOT_FOUND");
    assert!(message.contains("no-such-model"), "{message}");
    let generate_path = path_of(MODEL, "generateContent");
    let malformed = sdk_request(&s.gateway, &generate_path, "{\"contents\": [");
    google_error(&ApiResponse::send(malformed).await, 400, "INVALID_ARGUMENT");
    // A context cache lives at Google; no other provider can honour it.
    let cached = r#"{"contents": [{"parts": [{"text": "hi"}], "role": "user"}], "cachedContent": "cachedContents/abc"}"#;
    let response = generate(&s.gateway, cached).await;
    let message = google_error(&response, 400, "INVALID_ARGUMENT");
    assert!(message.contains("cachedContent"), "{message}");
    let get = s
        .gateway
        .proxy_request(reqwest::Method::GET, &generate_path)
        .header("x-goog-api-key", super::CLIENT_KEY);
    google_error(&ApiResponse::send(get).await, 405, "UNIMPLEMENTED");
    assert_eq!(s.mock.request_count(), 0, "nothing reached the provider");

    // A provider's error is told in Google's shape too, with the provider's message.
    s.mock
        .set_default(Script::error(429, "rate_limit_exceeded", "Slow down"));
    let response = generate(&s.gateway, SDK_BODY).await;
    let message = google_error(&response, 429, "RESOURCE_EXHAUSTED");
    assert!(message.contains("Slow down"), "{message}");
    let response = ApiResponse::send(sdk_request(
        &s.gateway,
        &path_of(MODEL, gemini_method(true)),
        SDK_BODY,
    ))
    .await;
    let message = google_error(&response, 429, "RESOURCE_EXHAUSTED");
    assert!(
        message.contains("Slow down"),
        "a stream refused before it starts: {message}"
    );

    let s = Setup::start(Kind::Gemini).await;
    let invalid = "Invalid value at 'generation_config.temperature' (TYPE_FLOAT)";
    s.mock
        .set_default(Script::error(400, "INVALID_ARGUMENT", invalid));
    let message = google_error(
        &generate(&s.gateway, SDK_BODY).await,
        400,
        "INVALID_ARGUMENT",
    );
    assert!(message.contains(invalid), "{message}");
}

/// A countTokens request as google-genai sends it for `count_tokens(model=…, contents=text)`.
fn count_body(text: &str) -> String {
    json!({"contents": [{"parts": [{"text": text}], "role": "user"}]}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_passes_through_to_gemini_and_is_estimated_elsewhere() {
    let s = Setup::start(Kind::Gemini).await;
    let body = count_body("Count me");
    for prefix in ["/v1beta", "/v1"] {
        let path = format!("{prefix}/models/{MODEL}:countTokens");
        let response = ApiResponse::send(sdk_request(&s.gateway, &path, body.clone())).await;
        response.expect_status(200, &format!("countTokens under {prefix}"));
        let answer = response.json();
        assert_eq!(answer["totalTokens"], gemini::COUNTED_TOKENS, "{answer}");
        let sent = s.mock.last_request();
        let upstream = format!(
            "/v1beta/models/{}:countTokens",
            Kind::Gemini.upstream_model()
        );
        assert_eq!(sent.path, upstream);
        assert_eq!(sent.header("x-goog-api-key"), Some(s.mock.key()));
        assert_no_client_key(&sent, super::CLIENT_KEY);
        assert_eq!(
            String::from_utf8_lossy(&sent.body),
            body,
            "the client's bytes"
        );
    }

    let s = Setup::start(Kind::Anthropic).await;
    let path = path_of(MODEL, "countTokens");
    let words = "word ".repeat(80);
    let response = ApiResponse::send(sdk_request(&s.gateway, &path, count_body(&words))).await;
    response.expect_status(200, "an estimated count");
    let answer = response.json();
    let tokens = answer["totalTokens"].as_u64().expect("a number of tokens");
    // About four characters a token over 400 characters.
    assert!(
        (90..=110).contains(&tokens),
        "{tokens} tokens for 400 characters"
    );
    assert_eq!(
        answer,
        json!({"totalTokens": tokens}),
        "nothing else in the estimate"
    );
    // The other form countTokens takes: a whole generateContentRequest.
    let wrapped = json!({"generateContentRequest": {"model": format!("models/{MODEL}"),
        "contents": [{"parts": [{"text": words}], "role": "user"}]}});
    let response = ApiResponse::send(sdk_request(&s.gateway, &path, wrapped.to_string())).await;
    let wrapped_tokens = response.json()["totalTokens"].as_u64();
    assert_eq!(wrapped_tokens, Some(tokens), "{}", response.text());
    let response = ApiResponse::send(sdk_request(&s.gateway, &path, count_body("hi"))).await;
    let tokens = response.json()["totalTokens"].as_u64().unwrap_or_default();
    assert!(tokens > 0, "an estimate is never zero: {}", response.text());
    assert_eq!(s.mock.request_count(), 0, "estimates need no provider");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_model_is_named_in_the_upstream_path() {
    let gateway = Gateway::start().await;
    let (mock, spec) = start_mock(Kind::Gemini, "gemini-up").await;
    gateway.add_provider(&spec).await;
    let target = json!({"provider": "gemini-up", "model": "upstream-y"});
    gateway
        .add_route(&route("mapped", vec![exact("gemini-x")], vec![target]))
        .await;
    let (compat, spec) = start_mock(Kind::OpenAi, "compat-up").await;
    gateway.add_provider(&spec).await;
    let target = json!({"provider": "compat-up", "model": "upstream-z"});
    gateway
        .add_route(&route("compat", vec![exact("gemini-z")], vec![target]))
        .await;

    for method in ["generateContent", gemini_method(true), "countTokens"] {
        let body = if method == "countTokens" {
            count_body("hi")
        } else {
            SDK_BODY.to_owned()
        };
        let request = sdk_request(&gateway, &path_of("gemini-x", method), body.clone());
        let response = ApiResponse::send(request).await;
        response.expect_status(200, method);
        assert_eq!(
            response.header("x-switchyard-model"),
            Some("upstream-y"),
            "{method}"
        );
        let sent = mock.last_request();
        assert_eq!(sent.path, format!("/v1beta/models/upstream-y:{method}"));
        assert_eq!(
            String::from_utf8_lossy(&sent.body),
            body,
            "{method}: the body is untouched"
        );
    }
    assert_eq!(mock.request_count(), 3);

    let request = sdk_request(&gateway, "/v1/models/gemini-z:generateContent", SDK_BODY);
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "a mapped model translated");
    assert_eq!(compat.last_request().json()["model"], "upstream-z");
    let text = &response.json()["candidates"][0]["content"]["parts"][0]["text"];
    assert_eq!(text, "hello from compat-up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_names_the_gemini_endpoint_and_its_usage() {
    let tokens = Tokens {
        prompt: 41,
        completion: 13,
        cached: 0,
        cache_write: 0,
    };
    for kind in [Kind::Gemini, Kind::Anthropic] {
        let s = Setup::start(kind).await;
        for streams in [false, true] {
            s.mock
                .enqueue(Script::Answer(Answer::text("Metered").with_tokens(tokens)));
            let id = if streams {
                let streamed = stream(&s.gateway, SDK_BODY).await;
                streamed.assert_complete(&format!("{kind:?}"));
                request_id(&streamed.headers)
            } else {
                let response = generate(&s.gateway, SDK_BODY).await;
                response.expect_status(200, &format!("{kind:?}"));
                request_id(&response.headers)
            };
            let log = s.gateway.wait_log(&id).await;
            let context = format!("{kind:?}, stream {streams}: {log:?}");
            assert_eq!(
                (log.endpoint.as_str(), log.status, log.stream),
                ("gemini", 200, streams),
                "{context}"
            );
            assert_eq!(log.requested_model.as_deref(), Some(MODEL), "{context}");
            assert_eq!(
                (log.provider.as_deref(), log.model.as_deref()),
                (Some(kind.provider_name()), Some(kind.upstream_model())),
                "{context}"
            );
            assert_eq!(
                (log.prompt_tokens, log.completion_tokens),
                (41, 13),
                "{context}"
            );
            assert!(!log.tokens_estimated, "{context}");
        }
    }

    let s = Setup::start(Kind::Gemini).await;
    let request = sdk_request(&s.gateway, &path_of(MODEL, "countTokens"), count_body("hi"));
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "countTokens");
    let log = s.gateway.wait_log(&request_id(&response.headers)).await;
    assert_eq!(
        (log.endpoint.as_str(), log.status),
        ("gemini_count_tokens", 200),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_first_upstream_falls_back_to_the_next() {
    // A Gemini provider failing with 500, then an OpenAI-compatible one.
    let gateway = Gateway::start().await;
    let (primary, spec) = start_mock(Kind::Gemini, "gemini-up").await;
    gateway.add_provider(&spec).await;
    primary.set_default(Script::error(
        500,
        "INTERNAL",
        "An internal error has occurred.",
    ));
    let (backup, spec) = start_mock(Kind::OpenAi, "compat-up").await;
    gateway.add_provider(&spec).await;
    let first = json!({"provider": "gemini-up", "model": "gemini-2.5-flash"});
    let mut spec = route("house", vec![exact(MODEL)], vec![first]);
    spec["fallback"] = json!({"enabled": true,
        "upstreams": [{"provider": "compat-up", "model": "compat-model"}]});
    gateway.add_route(&spec).await;

    let response = generate(&gateway, SDK_BODY).await;
    response.expect_status(200, "served by the fallback");
    let trail = Some("gemini-up:500,compat-up:200");
    assert_eq!(response.header("x-switchyard-fallback"), trail);
    assert_eq!(response.header("x-switchyard-provider"), Some("compat-up"));
    let text = &response.json()["candidates"][0]["content"]["parts"][0]["text"];
    assert_eq!(text, "hello from compat-up");
    let streamed = stream(&gateway, SDK_BODY).await;
    streamed.assert_complete("a stream served by the fallback");
    assert_eq!(streamed.header("x-switchyard-fallback"), trail);
    assert_eq!(streamed.text(), "hello from compat-up");
    let paths: Vec<String> = primary.requests().into_iter().map(|r| r.path).collect();
    let model = "gemini-2.5-flash";
    let expected = [false, true].map(|s| format!("/v1beta/models/{model}:{}", gemini_method(s)));
    assert_eq!(
        paths, expected,
        "one attempt at the failing provider per request"
    );
    for sent in backup.requests() {
        assert_eq!(sent.json()["model"], "compat-model");
    }
    assert_eq!(backup.request_count(), 2);

    // The other way round: a translated first attempt fails, and the Gemini fallback still gets
    // the client's bytes.
    let gateway = Gateway::start().await;
    let (primary, spec) = start_mock(Kind::OpenAi, "compat-up").await;
    gateway.add_provider(&spec).await;
    primary.set_default(Script::error(
        500,
        "server_error",
        "The server had an error",
    ));
    let (backup, spec) = start_mock(Kind::Gemini, "gemini-up").await;
    gateway.add_provider(&spec).await;
    let first = json!({"provider": "compat-up", "model": "compat-model"});
    let mut spec = route("house", vec![exact(MODEL)], vec![first]);
    spec["fallback"] = json!({"enabled": true,
        "upstreams": [{"provider": "gemini-up", "model": "gemini-2.5-flash"}]});
    gateway.add_route(&spec).await;
    let response = generate(&gateway, SDK_BODY).await;
    response.expect_status(200, "served by the Gemini fallback");
    assert_eq!(
        response.header("x-switchyard-fallback"),
        Some("compat-up:500,gemini-up:200")
    );
    let sent = backup.last_request();
    assert_eq!(sent.path, "/v1beta/models/gemini-2.5-flash:generateContent");
    assert_eq!(String::from_utf8_lossy(&sent.body), SDK_BODY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unserved_gemini_url_is_refused_in_googles_shape() {
    let s = Setup::start(Kind::Gemini).await;
    let list = s
        .gateway
        .proxy_request(reqwest::Method::GET, "/v1beta/models");
    google_error(&ApiResponse::send(list).await, 404, "NOT_FOUND");
    let tuned = "/v1beta/tunedModels/my-model:generateContent";
    let response = ApiResponse::send(sdk_request(&s.gateway, tuned, SDK_BODY)).await;
    google_error(&response, 404, "NOT_FOUND");
    assert_eq!(s.mock.request_count(), 0);
}
