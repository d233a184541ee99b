//! The Responses API as the OpenAI Python SDK calls it (`client.responses.create(model=…,
//! input="Say hi", stream=True)`, and without `stream`): passed through byte for byte to OpenAI
//! and metered from its answer; translated for Anthropic, Gemini and a chat-only server into the
//! typed event stream; the provider's `responses_api` setting deciding which of the two happens.

use serde_json::{Value, json};
use switchyard_tests::fixtures::{exact, route};
use switchyard_tests::providers::AzureMock;
use switchyard_tests::providers::{Answer, Script, Tokens, openai_api, responses as wire, words};
use switchyard_tests::{ApiResponse, Gateway};

use super::{MODEL, Setup, Upstream, post, request_id, responses, responses_stream, usage_counts};

/// What the SDK sends for `client.responses.create(model=MODEL, input="Say hi", stream=True)`:
/// Python's `json.dumps`, spaces after separators, the parameters in the SDK's order.
const SDK_STREAM: &str = r#"{"input": "Say hi", "model": "house-model", "stream": true}"#;
/// The same call without `stream`.
const SDK_PLAIN: &str = r#"{"input": "Say hi", "model": "house-model"}"#;

/// The scripted answer: 37 prompt tokens of which 5 were cached, 11 completion tokens.
fn hello() -> Answer {
    Answer::text("Hi there, friend").with_tokens(Tokens {
        prompt: 37,
        completion: 11,
        cached: 5,
        cache_write: 0,
    })
}

/// The usage counts [`hello`] must show: input, cached, output, total.
fn hello_usage() -> [Value; 4] {
    [json!(37), json!(5), json!(11), json!(48)]
}

/// `body` with its `"house-model"` replaced by `model`, byte for byte otherwise.
fn renamed(body: &str, model: &str) -> String {
    body.replacen("\"house-model\"", &format!("\"{model}\""), 1)
}

/// Asserts the record of a served Responses API request and its tokens.
async fn assert_metered(gateway: &Gateway, id: &str, upstream: Upstream, stream: bool) {
    let log = gateway.wait_log(id).await;
    assert_eq!(
        (log.endpoint.as_str(), log.status, log.stream),
        ("responses", 200, stream),
        "{log:?}"
    );
    assert_eq!(
        (log.provider.as_deref(), log.model.as_deref()),
        (Some(upstream.provider()), Some(upstream.model())),
        "{log:?}"
    );
    assert_eq!(log.requested_model.as_deref(), Some(MODEL));
    assert_eq!(
        (log.prompt_tokens, log.completion_tokens, log.cached_tokens),
        (37, 11, 5),
        "{log:?}"
    );
    assert!(
        !log.tokens_estimated,
        "the provider reported usage: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_stream_passes_through_to_openai_byte_for_byte() {
    let s = Setup::start(Upstream::OpenAi).await;
    s.mock.enqueue(Script::Answer(hello()));
    let response = post(&s.gateway, "/v1/responses", SDK_STREAM)
        .send()
        .await
        .expect("the stream's headers arrive");
    assert_eq!(response.status(), 200);
    let id = request_id(response.headers());
    let received = response.bytes().await.expect("the whole stream");

    let sent = s.mock.last_request();
    assert_eq!(sent.path, "/v1/responses");
    let expected = renamed(SDK_STREAM, Upstream::OpenAi.model());
    assert_eq!(String::from_utf8_lossy(&sent.body), expected);
    let bearer = format!("Bearer {}", s.mock.key());
    assert_eq!(sent.header("authorization"), Some(bearer.as_str()));
    // The provider's events reach the client untouched, its sequence numbers included.
    let events = wire::stream_events(&hello(), Upstream::OpenAi.model(), &sent.json()).concat();
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&events)
    );
    assert_metered(&s.gateway, &id, Upstream::OpenAi, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_request_passes_through_to_openai_and_is_metered() {
    let s = Setup::start(Upstream::OpenAi).await;
    s.mock.enqueue(Script::Answer(hello()));
    let response = ApiResponse::send(post(&s.gateway, "/v1/responses", SDK_PLAIN)).await;
    response.expect_status(200, "a plain Responses API call");
    let headers = ["house", "openai-up", "gpt-4.1-mini", "1"].map(Some);
    assert_eq!(response.switchyard_headers(), headers);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let sent = s.mock.last_request();
    assert_eq!(sent.path, "/v1/responses");
    let expected = renamed(SDK_PLAIN, Upstream::OpenAi.model());
    assert_eq!(String::from_utf8_lossy(&sent.body), expected);
    let answer = wire::response(&hello(), Upstream::OpenAi.model(), &sent.json());
    assert_eq!(response.body, answer.to_string().as_bytes());
    assert_metered(
        &s.gateway,
        &request_id(&response.headers),
        Upstream::OpenAi,
        false,
    )
    .await;
}

/// What the upstream of a translated request must have received for the SDK's call.
fn assert_translated_request(s: &Setup, stream: bool) {
    let sent = s.mock.last_request();
    let body = sent.json();
    let model = s.upstream.model();
    match s.upstream {
        Upstream::Anthropic => {
            assert_eq!(sent.path, "/v1/messages");
            let mut expected = json!({
                "model": model, "max_tokens": super::ANTHROPIC_DEFAULT_MAX_TOKENS,
                "messages": [{"role": "user", "content": [{"type": "text", "text": "Say hi"}]}],
            });
            if stream {
                expected["stream"] = json!(true);
            }
            assert_eq!(body, expected);
        }
        Upstream::Gemini => {
            let method = if stream {
                "streamGenerateContent?alt=sse"
            } else {
                "generateContent"
            };
            assert_eq!(sent.path, format!("/v1beta/models/{model}:{method}"));
            let contents = json!([{"role": "user", "parts": [{"text": "Say hi"}]}]);
            assert_eq!(body["contents"], contents, "{body}");
            assert!(body.get("model").is_none(), "{body}");
        }
        Upstream::ChatOnly => {
            assert_eq!(sent.path, "/v1/chat/completions");
            let mut expected =
                json!({"model": model, "messages": [{"role": "user", "content": "Say hi"}]});
            if stream {
                expected["stream"] = json!(true);
                expected["stream_options"] = json!({"include_usage": true});
            }
            assert_eq!(body, expected);
        }
        Upstream::OpenAi => unreachable!("OpenAI is not translated for"),
    }
}

/// The SDK's streaming call against a provider that does not serve the Responses API.
async fn translated_stream(upstream: Upstream) {
    let s = Setup::start(upstream).await;
    s.mock.enqueue(Script::Answer(hello()));
    let request: Value = serde_json::from_str(SDK_STREAM).expect("JSON");
    let stream = responses_stream(&s.gateway, &request).await;
    assert_eq!(
        stream.header("x-switchyard-provider"),
        Some(upstream.provider())
    );
    assert_translated_request(&s, true);

    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(vec![
        "response.output_text.delta";
        words(&hello().text).len()
    ]);
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(stream.names(), expected);
    assert_eq!(stream.text(), hello().text);
    let created = &stream.events[0]["response"];
    assert_eq!(
        (&created["status"], &created["output"], &created["object"]),
        (&json!("in_progress"), &json!([]), &json!("response"))
    );
    let added = &stream.events[2]["item"];
    assert_eq!(
        (&added["type"], &added["status"]),
        (&json!("message"), &json!("in_progress"))
    );
    for delta in stream.of_type("response.output_text.delta") {
        assert_eq!(delta["item_id"], added["id"], "{delta}");
        assert_eq!(
            (&delta["output_index"], &delta["content_index"]),
            (&json!(0), &json!(0))
        );
    }
    let done = &stream.of_type("response.output_item.done")[0]["item"];
    let completed = stream.completed();
    assert_eq!(completed["id"], created["id"]);
    assert_eq!(completed["status"], "completed");
    assert_eq!(completed["output"], json!([done]));
    assert_eq!(done["content"][0]["text"], hello().text);
    assert_eq!(completed["model"], MODEL, "the model the client asked for");
    assert_eq!(usage_counts(&completed["usage"]), hello_usage());
    let id = request_id(&stream.headers);
    assert_metered(&s.gateway, &id, upstream, true).await;
}

/// The SDK's plain call against a provider that does not serve the Responses API.
async fn translated_plain(upstream: Upstream) {
    let s = Setup::start(upstream).await;
    s.mock.enqueue(Script::Answer(hello()));
    let request: Value = serde_json::from_str(SDK_PLAIN).expect("JSON");
    let response = responses(&s.gateway, &request).await;
    response.expect_status(200, "a translated Responses API call");
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_translated_request(&s, false);
    let body = response.json();
    assert_eq!(
        (&body["object"], &body["status"], &body["model"]),
        (&json!("response"), &json!("completed"), &json!(MODEL))
    );
    let output = body["output"].as_array().expect("an output array");
    assert_eq!(output.len(), 1, "{body}");
    let message = &output[0];
    assert_eq!(
        (&message["type"], &message["role"], &message["status"]),
        (&json!("message"), &json!("assistant"), &json!("completed"))
    );
    assert_eq!(
        message["content"],
        json!([{"type": "output_text", "text": hello().text, "annotations": [], "logprobs": []}])
    );
    assert!(
        body["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("resp_")),
        "{body}"
    );
    assert_eq!(usage_counts(&body["usage"]), hello_usage());
    assert_metered(&s.gateway, &request_id(&response.headers), upstream, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_stream_is_translated_for_anthropic() {
    translated_stream(Upstream::Anthropic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_request_is_translated_for_anthropic() {
    translated_plain(Upstream::Anthropic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_stream_is_translated_for_gemini() {
    translated_stream(Upstream::Gemini).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_request_is_translated_for_gemini() {
    translated_plain(Upstream::Gemini).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_stream_is_translated_for_a_chat_only_server() {
    translated_stream(Upstream::ChatOnly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_request_is_translated_for_a_chat_only_server() {
    translated_plain(Upstream::ChatOnly).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_responses_api_setting_decides_what_passes_through() {
    let gateway = Gateway::start().await;
    // A compatible server that serves /responses, and OpenAI itself told not to use it.
    let serving = openai_api::mock("vllm-up").await;
    let mut spec = serving.spec();
    spec["type"] = json!("openai-compatible");
    spec["responses_api"] = json!(true);
    gateway.add_provider(&spec).await;
    let chat_only = openai_api::mock("openai-chat-up").await;
    let mut spec = chat_only.spec();
    spec["responses_api"] = json!(false);
    gateway.add_provider(&spec).await;
    for (model, provider) in [("served", "vllm-up"), ("chatted", "openai-chat-up")] {
        let target = json!({"provider": provider, "model": "qwen3"});
        gateway
            .add_route(&route(model, vec![exact(model)], vec![target]))
            .await;
    }
    let body = json!({"model": "served", "input": "Say hi"});
    responses(&gateway, &body)
        .await
        .expect_status(200, "responses_api: true");
    assert_eq!(serving.last_request().path, "/v1/responses");
    let body = json!({"model": "chatted", "input": "Say hi"});
    let response = responses(&gateway, &body).await;
    response.expect_status(200, "responses_api: false");
    assert_eq!(chat_only.last_request().path, "/v1/chat/completions");
    assert_eq!(
        response.json()["output"][0]["content"][0]["text"],
        "hello from openai-chat-up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_request_passes_through_to_azure_naming_the_deployment() {
    let gateway = Gateway::start().await;
    let azure = AzureMock::start("azure-up", &["prod-41-mini"]).await;
    let spec = azure.spec(json!({"gpt-4.1-mini": "prod-41-mini"}));
    gateway.add_provider(&spec).await;
    let target = json!({"provider": "azure-up", "model": "gpt-4.1-mini"});
    gateway
        .add_route(&route("house", vec![exact(MODEL)], vec![target]))
        .await;
    let response = ApiResponse::send(post(&gateway, "/v1/responses", SDK_PLAIN)).await;
    let sent = azure.last_request();
    assert_eq!(sent.path, "/openai/v1/responses");
    assert_eq!(sent.header("api-key"), Some(azure.key()));
    // Azure's v1 API finds the deployment by the body's model.
    let expected = renamed(SDK_PLAIN, "prod-41-mini");
    assert_eq!(String::from_utf8_lossy(&sent.body), expected);
    response.expect_status(200, "the Responses API on Azure");
    assert_eq!(
        response.json()["output"][0]["content"][0]["text"],
        "hello from azure-up"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_comes_back_as_a_reasoning_item_with_its_summary() {
    let answer = Answer::text("Paris.").with_reasoning("The capital of France is Paris.");
    for upstream in [Upstream::Anthropic, Upstream::ChatOnly] {
        let s = Setup::start(upstream).await;
        s.mock.enqueue(Script::Answer(answer.clone()));
        let body = json!({"model": MODEL, "input": "Capital of France?", "stream": true,
            "reasoning": {"effort": "low", "summary": "auto"}});
        let stream = responses_stream(&s.gateway, &body).await;
        let summary: String = stream
            .of_type("response.reasoning_summary_text.delta")
            .iter()
            .filter_map(|e| e["delta"].as_str())
            .collect();
        assert_eq!(summary, answer.reasoning, "{upstream:?}");
        let done = stream.of_type("response.reasoning_summary_text.done");
        assert_eq!(done.len(), 1, "{upstream:?}: {:?}", stream.names());
        assert_eq!(done[0]["text"], answer.reasoning.as_str());
        let output = &stream.completed()["output"];
        assert_eq!(
            (&output[0]["type"], &output[0]["summary"]),
            (
                &json!("reasoning"),
                &json!([{"type": "summary_text", "text": answer.reasoning}])
            ),
            "{upstream:?}: {output}"
        );
        assert_eq!(output[1]["type"], "message", "{upstream:?}: {output}");
        assert_eq!(stream.text(), "Paris.");
        // The reasoning item is announced and closed before the message opens.
        let names = stream.names();
        let at = |name: &str| {
            names
                .iter()
                .position(|n| *n == name)
                .unwrap_or_else(|| panic!("{upstream:?}: no {name} in {names:?}"))
        };
        assert!(
            at("response.reasoning_summary_part.done") < at("response.output_text.delta"),
            "{upstream:?}: {names:?}"
        );
    }
}
