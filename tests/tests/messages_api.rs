//! The inbound Anthropic Messages API (`/v1/messages`, `/v1/messages/count_tokens`): translated
//! to OpenAI chat for an OpenAI-compatible provider and back, passed through byte for byte to an
//! Anthropic provider, with Anthropic-shaped errors either way.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::fixtures::{add_mock_provider, exact, route, test_key, upstream};
use switchyard_tests::providers::conformance::with_parsed_arguments;
use switchyard_tests::providers::stream::anthropic_events;
use switchyard_tests::providers::{Answer, AnthropicMock, Script, ToolCall, anthropic, openai};
use switchyard_tests::{ApiResponse, Gateway, MockUpstream};

/// The credential an Anthropic SDK sends; it must never reach a provider.
const CLIENT_KEY: &str = "sk-ant-client-credential-must-not-leak";

/// A gateway whose route sends `claude-alias` to an OpenAI-compatible mock as `gpt-4o-mini`.
async fn openai_setup() -> (Gateway, MockUpstream) {
    let mock = MockUpstream::start("openai-up").await;
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, &mock).await;
    let target = json!({"provider": "openai-up", "model": "gpt-4o-mini"});
    let alias = route("alias", vec![exact("claude-alias")], vec![target]);
    gateway.add_route(&alias).await;
    (gateway, mock)
}

/// A gateway with an Anthropic mock serving `claude-sonnet-4-5` as is, and `my-claude` renamed.
async fn anthropic_setup() -> (Gateway, AnthropicMock) {
    let mock = anthropic::mock("anthropic-up").await;
    let gateway = Gateway::start().await;
    gateway.add_provider(&mock.spec()).await;
    let direct = route(
        "direct",
        vec![exact("claude-sonnet-4-5")],
        vec![upstream("anthropic-up")],
    );
    gateway.add_route(&direct).await;
    let target = json!({"provider": "anthropic-up", "model": "claude-sonnet-4-5"});
    let renamed = route("renamed", vec![exact("my-claude")], vec![target]);
    gateway.add_route(&renamed).await;
    (gateway, mock)
}

/// A request on the Messages API with an Anthropic SDK's headers.
fn messages_request(
    gateway: &Gateway,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::RequestBuilder {
    gateway
        .proxy_request(Method::POST, path)
        .header("content-type", "application/json")
        .header("anthropic-version", "2023-06-01")
        .header("x-api-key", CLIENT_KEY)
        .body(body)
}

async fn messages(gateway: &Gateway, body: &Value) -> ApiResponse {
    ApiResponse::send(messages_request(gateway, "/v1/messages", body.to_string())).await
}

async fn count_tokens(gateway: &Gateway, body: &Value) -> ApiResponse {
    let path = "/v1/messages/count_tokens";
    ApiResponse::send(messages_request(gateway, path, body.to_string())).await
}

/// An Anthropic client's stream, read to its end.
async fn anthropic_stream(gateway: &Gateway, body: &Value) -> Vec<(String, Value)> {
    let request = messages_request(gateway, "/v1/messages", body.to_string());
    anthropic_events(request.send().await.expect("the stream's headers arrive")).await
}

fn names(events: &[(String, Value)]) -> Vec<&str> {
    events.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_translated_for_an_openai_provider_and_back() {
    let (gateway, mock) = openai_setup().await;
    let request = json!({
        "model": "claude-alias", "max_tokens": 256, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hello"}],
        "stop_sequences": ["END"], "temperature": 0.5,
    });
    let response = messages(&gateway, &request).await;
    response.expect_status(200, "translated messages");
    let provider = ["alias", "openai-up", "gpt-4o-mini", "1"].map(Some);
    assert_eq!(response.switchyard_headers(), provider);

    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1/chat/completions");
    let bearer = format!("Bearer {}", test_key("openai-up"));
    assert_eq!(sent.header("authorization"), Some(bearer.as_str()));
    assert_eq!(sent.header("x-api-key"), None, "no client key upstream");
    let expected = json!({
        "model": "gpt-4o-mini", "max_tokens": 256, "temperature": 0.5, "stop": ["END"],
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello"}],
    });
    assert_eq!(sent.json(), expected);

    let mut body = response.json();
    let id = body.as_object_mut().and_then(|o| o.remove("id"));
    let id = id
        .and_then(|id| id.as_str().map(str::to_owned))
        .unwrap_or_default();
    assert!(
        id.starts_with("msg_"),
        "Anthropic ids start with msg_: {id}"
    );
    let expected = json!({
        "type": "message", "role": "assistant", "model": "gpt-4o-mini",
        "content": [{"type": "text", "text": "hello from openai-up"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 3, "output_tokens": 4,
            "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
    });
    assert_eq!(body, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_use_round_trips_through_an_openai_provider() {
    let (gateway, mock) = openai_setup().await;
    let arguments = json!({"city": "Paris"});
    let call = ToolCall::new("call_7", "get_weather", arguments.clone());
    let script = Script::Answer(Answer::tool_calls(vec![call]));
    mock.enqueue(openai::reply(&script, "gpt-4o-mini", false));
    let schema = json!({"type": "object", "properties": {"city": {"type": "string"}}});
    let tools = json!([{"name": "get_weather", "description": "Weather", "input_schema": schema}]);
    let question = json!({"role": "user", "content": "Weather?"});
    let request = json!({"model": "claude-alias", "max_tokens": 64, "tools": tools,
        "tool_choice": {"type": "any"}, "messages": [question]});
    let response = messages(&gateway, &request).await;
    response.expect_status(200, "messages with tools");
    let body = response.json();
    let tool_use =
        json!({"type": "tool_use", "id": "call_7", "name": "get_weather", "input": arguments});
    assert_eq!(
        (&body["content"], &body["stop_reason"]),
        (&json!([tool_use]), &json!("tool_use"))
    );
    let sent = mock.last_request().json();
    let function = json!({"name": "get_weather", "description": "Weather", "parameters": schema});
    assert_eq!(
        sent["tools"],
        json!([{"type": "function", "function": function}])
    );
    assert_eq!(sent["tool_choice"], "required");

    // The follow-up carries the tool_use and tool_result blocks, which become OpenAI's
    // assistant tool_calls and a tool message.
    let result = json!({"type": "tool_result", "tool_use_id": "call_7", "content": "21C"});
    let turns = json!([question, {"role": "assistant", "content": [tool_use]},
        {"role": "user", "content": [result]}]);
    let follow_up =
        json!({"model": "claude-alias", "max_tokens": 64, "tools": tools, "messages": turns});
    messages(&gateway, &follow_up)
        .await
        .expect_status(200, "follow-up");
    let sent = mock.last_request().json();
    let call = json!({"id": "call_7", "type": "function",
        "function": {"name": "get_weather", "arguments": arguments}});
    assert_eq!(
        with_parsed_arguments(&sent["messages"][1])["tool_calls"],
        json!([call])
    );
    assert_eq!(sent["messages"][1]["role"], "assistant");
    let tool = json!({"role": "tool", "tool_call_id": "call_7", "content": "21C"});
    assert_eq!(sent["messages"][2], tool);
    assert_eq!(sent["messages"].as_array().map(Vec::len), Some(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_openai_stream_becomes_anthropic_events() {
    let (gateway, mock) = openai_setup().await;
    let calls = vec![ToolCall::new(
        "call_9",
        "get_weather",
        json!({"city": "Paris", "days": 2}),
    )];
    let answer = Answer {
        text: "Checking the sky".to_owned(),
        ..Answer::tool_calls(calls)
    };
    mock.enqueue(openai::reply(&Script::Answer(answer), "gpt-4o-mini", true));
    let request = json!({"model": "claude-alias", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Weather?"}]});
    let events = anthropic_stream(&gateway, &request).await;
    let mut expected = vec!["message_start", "content_block_start"];
    expected.extend(["content_block_delta"; 3]);
    expected.extend(["content_block_stop", "content_block_start"]);
    expected.extend(["content_block_delta"; 3]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names(&events), expected, "{events:?}");

    let deltas = |index: u64, field: &str| -> String {
        let delta = |(_, data): &(String, Value)| {
            (data["index"] == index).then(|| data["delta"][field].as_str().map(str::to_owned))
        };
        events.iter().filter_map(delta).flatten().collect()
    };
    assert_eq!(
        events[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    assert_eq!(deltas(0, "text"), "Checking the sky");
    let start = json!({"type": "tool_use", "id": "call_9", "name": "get_weather", "input": {}});
    assert_eq!(events[6].1["content_block"], start);
    let arguments: Value = serde_json::from_str(&deltas(1, "partial_json")).expect("JSON");
    assert_eq!(arguments, json!({"city": "Paris", "days": 2}));
    let end = &events[events.len() - 2].1;
    assert_eq!(end["delta"]["stop_reason"], "tool_use");
    assert_eq!(
        (
            &end["usage"]["input_tokens"],
            &end["usage"]["output_tokens"]
        ),
        (&json!(21), &json!(9))
    );
    let sent = mock.last_request().json();
    assert_eq!(
        (&sent["stream"], &sent["stream_options"]),
        (&json!(true), &json!({"include_usage": true}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_openai_stream_ends_with_an_anthropic_error_event() {
    let (gateway, mock) = openai_setup().await;
    let script = Script::Truncated(Answer::text("Half an answer"));
    mock.enqueue(openai::reply(&script, "gpt-4o-mini", true));
    let request = json!({"model": "claude-alias", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Go"}]});
    let events = anthropic_stream(&gateway, &request).await;
    let (last, data) = events.last().expect("some events");
    assert_eq!(last, "error", "{events:?}");
    assert_eq!(data["error"]["type"], "api_error");
    assert!(!names(&events).contains(&"message_stop"), "{events:?}");
    assert_eq!(names(&events)[0], "message_start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_provider_gets_the_request_byte_for_byte() {
    let (gateway, mock) = anthropic_setup().await;
    // Odd spacing, key order and unknown fields: any re-serialisation would change them.
    let body = concat!(
        "{ \"max_tokens\":64,\"model\" : \"claude-sonnet-4-5\",\n",
        " \"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"caf\\u00e9\",",
        "\"cache_control\":{\"type\":\"ephemeral\"}}]}], \"x_future_field\":[1,2.50,null] }"
    );
    let request = messages_request(&gateway, "/v1/messages", body)
        .header("anthropic-beta", "prompt-caching-2024-07-31");
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "pass-through messages");
    let sent = mock.last_request();
    assert_eq!(
        sent.body.as_ref(),
        body.as_bytes(),
        "{}",
        String::from_utf8_lossy(&sent.body)
    );
    assert_eq!(sent.path, "/v1/messages");
    assert_eq!(sent.header("x-api-key"), Some(mock.key()));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    let version = sent.headers.get_all("anthropic-version");
    assert_eq!(version.iter().collect::<Vec<_>>(), ["2023-06-01"]);
    for (name, value) in &sent.headers {
        assert!(
            !value.as_bytes().ends_with(b"must-not-leak"),
            "client key leaked in {name}"
        );
    }
    // The provider's answer reaches the client untouched.
    let answer = anthropic::message(
        &Answer::text("hello from anthropic-up"),
        "claude-sonnet-4-5",
    );
    assert_eq!(response.body, answer.to_string().as_bytes());

    // A renamed model changes the body's model and not one other byte.
    let renamed = body.replace("claude-sonnet-4-5", "my-claude");
    let response = ApiResponse::send(messages_request(&gateway, "/v1/messages", renamed)).await;
    response.expect_status(200, "renamed pass-through");
    assert_eq!(mock.last_request().body.as_ref(), body.as_bytes());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_anthropic_version_is_forwarded() {
    let (gateway, mock) = anthropic_setup().await;
    let body = json!({"model": "claude-sonnet-4-5", "max_tokens": 8,
        "messages": [{"role": "user", "content": "hi"}]});
    let request = gateway
        .proxy_request(Method::POST, "/v1/messages")
        .header("anthropic-version", "2023-01-01")
        .json(&body);
    ApiResponse::send(request)
        .await
        .expect_status(200, "messages with an older version");
    let sent = mock.last_request();
    let versions: Vec<_> = sent.headers.get_all("anthropic-version").iter().collect();
    assert_eq!(
        versions,
        ["2023-01-01"],
        "the client's anthropic-version reaches Anthropic"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anthropic_stream_passes_through_event_for_event() {
    let (gateway, mock) = anthropic_setup().await;
    let call = ToolCall::new("toolu_1", "get_weather", json!({"city": "Oslo"}));
    let answer = Answer {
        text: "Let me look".to_owned(),
        reasoning: "Weather needs a tool.".to_owned(),
        ..Answer::tool_calls(vec![call])
    };
    mock.enqueue(Script::Answer(answer.clone()));
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 64, "stream": true,
        "messages": [{"role": "user", "content": "Weather?"}]});
    let response = messages_request(&gateway, "/v1/messages", request.to_string())
        .send()
        .await
        .expect("headers");
    assert_eq!(response.status(), 200);
    let received = response.bytes().await.expect("the whole stream");
    let sent = anthropic::stream_events(&answer, "claude-sonnet-4-5").concat();
    assert_eq!(
        String::from_utf8_lossy(&received),
        String::from_utf8_lossy(&sent)
    );

    // A stream cut short keeps what arrived and ends with an error event, without message_stop.
    mock.enqueue(Script::Truncated(answer));
    let events = anthropic_stream(&gateway, &request).await;
    assert_eq!(
        events.last().map(|(name, _)| name.as_str()),
        Some("error"),
        "{events:?}"
    );
    assert!(!names(&events).contains(&"message_stop"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_have_anthropics_shape() {
    let (gateway, mock) = openai_setup().await;
    let hi = json!([{"role": "user", "content": "hi"}]);
    let unknown = json!({"model": "no-such-model", "max_tokens": 8, "messages": hi});
    anthropic::assert_error(&messages(&gateway, &unknown).await, 404, "not_found_error");
    let malformed = messages_request(&gateway, "/v1/messages", "{\"model\":");
    anthropic::assert_error(
        &ApiResponse::send(malformed).await,
        400,
        "invalid_request_error",
    );
    let get = gateway.proxy_request(Method::GET, "/v1/messages");
    anthropic::assert_error(&ApiResponse::send(get).await, 405, "invalid_request_error");
    assert_eq!(mock.request_count(), 0, "nothing reached the provider");

    let request = json!({"model": "claude-alias", "max_tokens": 8, "messages": hi});
    mock.set_default(openai::reply(
        &Script::error(429, "rate_limit_exceeded", "Slow down"),
        "m",
        false,
    ));
    let response = messages(&gateway, &request).await;
    anthropic::assert_error(&response, 429, "rate_limit_error");
    assert_eq!(response.json()["error"]["message"], "Slow down");

    let (gateway, mock) = anthropic_setup().await;
    mock.set_default(Script::error(529, "overloaded_error", "Overloaded"));
    let request = json!({"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": hi});
    let response = messages(&gateway, &request).await;
    anthropic::assert_error(&response, 529, "overloaded_error");
    assert_eq!(response.json()["error"]["message"], "Overloaded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_is_forwarded_to_anthropic() {
    let (gateway, mock) = anthropic_setup().await;
    let body = r#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"Count me"}]}"#;
    let request = messages_request(&gateway, "/v1/messages/count_tokens", body)
        .header("anthropic-beta", "token-counting-2024-11-01");
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "count_tokens");
    assert_eq!(
        response.json(),
        json!({"input_tokens": anthropic::COUNTED_TOKENS})
    );
    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1/messages/count_tokens");
    assert_eq!(sent.body.as_ref(), body.as_bytes());
    assert_eq!(sent.header("x-api-key"), Some(mock.key()));
    assert_eq!(
        sent.header("anthropic-beta"),
        Some("token-counting-2024-11-01")
    );
    assert!(sent.header("anthropic-version").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn count_tokens_is_estimated_for_other_providers() {
    let (gateway, mock) = openai_setup().await;
    let text = "word ".repeat(80);
    let messages = json!([{"role": "user", "content": text}]);
    let body = json!({"model": "claude-alias", "system": "Be brief.", "messages": messages});
    let response = count_tokens(&gateway, &body).await;
    response.expect_status(200, "estimated count");
    let tokens = response.json()["input_tokens"]
        .as_u64()
        .expect("a number of tokens");
    // About four characters a token: 400 characters of message and a short system prompt.
    assert!(
        (95..=115).contains(&tokens),
        "{tokens} tokens for ~413 characters"
    );
    let empty = json!({"model": "claude-alias", "messages": []});
    let response = count_tokens(&gateway, &empty).await;
    response.expect_status(200, "estimated count of nothing");
    assert_eq!(
        response.json(),
        json!({"input_tokens": 1}),
        "the estimate is at least one"
    );
    assert_eq!(mock.request_count(), 0, "estimates need no provider");
}
