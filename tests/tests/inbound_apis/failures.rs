//! The Responses API when things go wrong: `previous_response_id` refused by name where no stored
//! response can be continued (and passed through where it can), a failing Anthropic upstream
//! falling back to a chat-only server, and streams cut short ending with an error the client can
//! read, in both the passed-through and the translated stream.

use serde_json::json;
use switchyard_tests::Gateway;
use switchyard_tests::fixtures::{exact, route};
use switchyard_tests::providers::{Answer, Script, openai_api, responses as wire};

use super::{MODEL, Setup, Upstream, openai_error, request_id, responses, responses_stream};

/// OpenAI's message for a `previous_response_id` it does not know.
const MISSING_RESPONSE: &str =
    "Previous response with id 'resp_68af4030592c81938ec0a5f4' not found.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn previous_response_id_needs_a_provider_that_keeps_responses() {
    let body = json!({"model": MODEL, "previous_response_id": "resp_68af4030592c81938ec0a5f4",
        "input": [{"role": "user", "content": "And in French?"}], "stream": true});
    let s = Setup::start(Upstream::Anthropic).await;
    let response = responses(&s.gateway, &body).await;
    let message = openai_error(&response, 400, "untranslatable_request");
    assert_eq!(response.json()["error"]["type"], "invalid_request_error");
    assert!(message.contains("previous_response_id"), "{message}");
    assert_eq!(s.mock.request_count(), 0, "nothing reached Anthropic");

    let s = Setup::start(Upstream::OpenAi).await;
    let stream = responses_stream(&s.gateway, &body).await;
    let sent = s.mock.last_request().json();
    assert_eq!(sent["previous_response_id"], body["previous_response_id"]);
    assert_eq!(
        stream.completed()["previous_response_id"],
        body["previous_response_id"]
    );

    // OpenAI's own refusal of an id it does not know reaches the client with its message.
    s.mock.set_default(Script::error(
        404,
        "invalid_request_error",
        MISSING_RESPONSE,
    ));
    let response = responses(&s.gateway, &body).await;
    response.expect_status(404, "an unknown previous response");
    let error = response.openai_error();
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains(MISSING_RESPONSE)),
        "{error}"
    );
    assert_eq!(s.mock.request_count(), 2, "a 404 is not retried");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_previous_response_is_not_blamed_on_the_configuration() {
    let s = Setup::start(Upstream::OpenAi).await;
    s.mock.set_default(Script::error(
        404,
        "invalid_request_error",
        MISSING_RESPONSE,
    ));
    let body = json!({"model": MODEL, "previous_response_id": "resp_68af4030592c81938ec0a5f4",
        "input": "And in French?"});
    let response = responses(&s.gateway, &body).await;
    response.expect_status(404, "an unknown previous response");
    assert_eq!(response.openai_error()["message"], MISSING_RESPONSE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_anthropic_upstream_falls_back_to_a_chat_only_server() {
    let gateway = Gateway::start().await;
    let (anthropic, spec) = Upstream::Anthropic.start().await;
    gateway.add_provider(&spec).await;
    anthropic.set_default(Script::error(500, "api_error", "Internal server error"));
    let backup = openai_api::chat_only("compat-up", "openai-compatible").await;
    gateway.add_provider(&backup.spec()).await;
    let primary = json!({"provider": "anthropic-up", "model": "claude-sonnet-4-5"});
    let mut spec = route("house", vec![exact(MODEL)], vec![primary]);
    spec["fallback"] = json!({"enabled": true,
        "upstreams": [{"provider": "compat-up", "model": "compat-model"}]});
    gateway.add_route(&spec).await;

    let body = json!({"model": MODEL, "input": "Say hi"});
    let response = responses(&gateway, &body).await;
    response.expect_status(200, "served by the fallback");
    assert_eq!(response.header("x-switchyard-provider"), Some("compat-up"));
    assert_eq!(
        response.header("x-switchyard-fallback"),
        Some("anthropic-up:500,compat-up:200")
    );
    assert_eq!(
        response.json()["output"][0]["content"][0]["text"],
        "hello from compat-up"
    );

    let stream = responses_stream(
        &gateway,
        &json!({"model": MODEL, "input": "Say hi",
        "stream": true}),
    )
    .await;
    assert_eq!(
        stream.header("x-switchyard-fallback"),
        Some("anthropic-up:500,compat-up:200")
    );
    assert_eq!(stream.text(), "hello from compat-up");
    assert_eq!(stream.completed()["status"], "completed");
    let paths: Vec<String> = backup.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/chat/completions", "/v1/chat/completions"]);
    assert_eq!(
        anthropic.request_count(),
        2,
        "one attempt at Anthropic per request"
    );
}

/// The record of a stream cut short: served, but failed as a stream, its tokens estimated.
fn assert_cut(log: &switchyard_shared::RequestLog) {
    assert_eq!(
        (log.status, log.error_code.as_deref(), log.endpoint.as_str()),
        (200, Some("stream_error"), "responses"),
        "{log:?}"
    );
    assert!(log.tokens_estimated && log.completion_tokens > 0, "{log:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_short_ends_with_an_error_the_client_can_read() {
    let answer = Answer::text("Half of an answer that never ends");
    let body = json!({"model": MODEL, "input": "Say hi", "stream": true});

    // Passed through: OpenAI's events up to the cut, then the gateway's `error` event, numbered
    // after them (the reader checks the numbering).
    let s = Setup::start(Upstream::OpenAi).await;
    s.mock.enqueue(Script::Truncated(answer.clone()));
    let stream = responses_stream(&s.gateway, &body).await;
    let sent = wire::truncated_events(
        &answer,
        Upstream::OpenAi.model(),
        &s.mock.last_request().json(),
    );
    assert_eq!(stream.events.len(), sent.len() + 1, "{:?}", stream.names());
    let error = stream.events.last().expect("events");
    assert_eq!(error["type"], "error", "{:?}", stream.names());
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{error}"
    );
    assert!(!stream.names().contains(&"response.completed"));
    let log = s.gateway.wait_log(&request_id(&stream.headers)).await;
    assert_cut(&log);

    // Translated: what arrived, then `error` and `response.failed`, from which Codex reads it.
    let s = Setup::start(Upstream::Anthropic).await;
    s.mock.enqueue(Script::Truncated(answer.clone()));
    let stream = responses_stream(&s.gateway, &body).await;
    let names = stream.names();
    assert_eq!(
        names[names.len() - 2..],
        ["error", "response.failed"],
        "{names:?}"
    );
    assert!(!names.contains(&"response.completed"), "{names:?}");
    assert_eq!(
        stream.text(),
        answer.text,
        "every delta before the cut arrived"
    );
    let failed = &stream.events[names.len() - 1]["response"];
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{failed}"
    );
    assert_eq!(failed["output"][0]["status"], "incomplete", "{failed}");
    let log = s.gateway.wait_log(&request_id(&stream.headers)).await;
    assert_cut(&log);
}
