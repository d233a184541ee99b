//! Self-tests of the mock upstream and the SSE reader, so that a harness bug is not mistaken for
//! a gateway bug.

use std::time::Duration;

use serde_json::json;

use super::{Fate, MockUpstream, Reply, Script, When, refused_base_url};
use crate::http_client::{ApiResponse, new_client};
use crate::sse::SseReader;

fn chat_url(mock: &MockUpstream) -> String {
    format!("{}/chat/completions", mock.base_url())
}

#[tokio::test]
async fn echo_reply_and_recording() {
    let mock = MockUpstream::start("self").await;
    let body = r#"{"model":"m-1", "extra": [1, 2.50]}"#;
    let response = ApiResponse::send(
        new_client()
            .post(chat_url(&mock))
            .header("authorization", "Bearer k")
            .body(body),
    )
    .await;
    response.expect_status(200, "echo");
    let reply = response.json();
    assert_eq!(reply["model"], "m-1");
    assert_eq!(reply["choices"][0]["message"]["content"], "hello from self");
    let recorded = mock.last_request();
    assert_eq!(recorded.path, "/v1/chat/completions");
    assert_eq!(recorded.body.as_ref(), body.as_bytes());
    assert_eq!(recorded.header("authorization"), Some("Bearer k"));
}

#[tokio::test]
async fn scripted_replies_come_in_order_then_the_default() {
    let mock = MockUpstream::start("self").await;
    mock.enqueue(Reply::error(429, "slow down").with_header("Retry-After", "3"));
    mock.enqueue(Reply::text(502, "<html>bad</html>"));
    let client = new_client();
    let send = || ApiResponse::send(client.post(chat_url(&mock)).json(&json!({"model": "m"})));

    let first = send().await;
    first.expect_status(429, "scripted error");
    assert_eq!(first.header("retry-after"), Some("3"));
    assert_eq!(first.json()["error"]["message"], "slow down");
    let second = send().await;
    second.expect_status(502, "scripted text");
    assert_eq!(second.text(), "<html>bad</html>");
    send().await.expect_status(200, "back to the default");
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn default_stream_is_parsed_event_by_event() {
    let mock = MockUpstream::start("self").await;
    let response = new_client()
        .post(chat_url(&mock))
        .json(&json!({"model": "m", "stream": true}))
        .send()
        .await
        .expect("the mock answers");
    let mut reader = SseReader::new(response);
    let events = reader.collect_all().await;
    assert_eq!(events.len(), 6, "{events:?}");
    assert!(events[5].is_done());
    let text: String = events[..5]
        .iter()
        .filter_map(|e| e.delta_content())
        .collect();
    assert_eq!(text, "hello from self");
}

#[tokio::test]
async fn step_stream_releases_one_event_at_a_time() {
    let mock = MockUpstream::start("self").await;
    let mut step = mock.step_stream("m");
    let request = new_client()
        .post(chat_url(&mock))
        .json(&json!({"model": "m", "stream": true}));
    let pending = tokio::spawn(request.send());
    step.wait_started().await;
    let response = pending.await.expect("no panic").expect("headers arrive");
    let mut reader = SseReader::new(response);
    step.send_content("a");
    assert_eq!(
        reader
            .next_event()
            .await
            .and_then(|e| e.delta_content())
            .as_deref(),
        Some("a")
    );
    assert!(reader.pending_bytes().is_empty());
    step.send_content("b");
    assert_eq!(
        reader
            .next_event()
            .await
            .and_then(|e| e.delta_content())
            .as_deref(),
        Some("b")
    );
    step.send_done();
    assert!(reader.next_event().await.expect("done").is_done());
    step.finish();
    assert_eq!(reader.next_event().await, None);
}

#[tokio::test]
async fn refused_base_url_refuses() {
    let url = refused_base_url();
    let result = new_client()
        .post(format!("{url}/chat/completions"))
        .send()
        .await;
    let error = result.expect_err("nothing listens there");
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn rules_answer_by_key_path_and_model_before_the_queue() {
    let mock = MockUpstream::start("self").await;
    mock.set_default(Reply::error(401, "wrong key"));
    mock.reply_when(When::Key("good".into()), Reply::Echo);
    mock.enqueue_when(When::Model("once".into()), Reply::error(503, "once"));
    mock.reply_when(When::Path("/v1/embeddings".into()), Reply::error(404, "no"));
    let client = new_client();
    let send = |key: &'static str, model: &'static str| {
        ApiResponse::send(
            client
                .post(chat_url(&mock))
                .bearer_auth(key)
                .json(&json!({"model": model})),
        )
    };
    send("bad", "m").await.expect_status(401, "the default");
    send("good", "m").await.expect_status(200, "the key rule");
    send("good", "once")
        .await
        .expect_status(503, "the one-off rule");
    send("good", "once")
        .await
        .expect_status(200, "the one-off rule is used up");
    let embeddings = client.post(format!("{}/embeddings", mock.base_url()));
    ApiResponse::send(embeddings.bearer_auth("good").json(&json!({"model": "e"})))
        .await
        .expect_status(200, "the key rule came first");
    mock.forget(&When::Key("good".into()));
    send("good", "m")
        .await
        .expect_status(401, "the rule is gone");
    assert_eq!(mock.requests_with_key("good").len(), 5);
    assert_eq!(mock.requests()[0].bearer(), Some("bad"));
}

#[tokio::test]
async fn scripts_play_out_and_report_completion_or_disconnect() {
    let mock = MockUpstream::start("self").await;
    mock.enqueue(
        Script::sse()
            .chunk("m", "a")
            .pause(Duration::from_millis(30))
            .done()
            .into(),
    );
    mock.enqueue(
        Script::sse()
            .chunk("m", "b")
            .pause(Duration::from_millis(30))
            .disconnect()
            .into(),
    );
    let client = new_client();
    let response = client.post(chat_url(&mock)).send().await.expect("answers");
    let events = SseReader::new(response).collect_all().await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].delta_content().as_deref(), Some("a"));
    assert!(events[1].is_done());
    assert_eq!(
        mock.wait_fate(0, Duration::from_secs(5)).await,
        Fate::Completed
    );

    let response = client.post(chat_url(&mock)).send().await.expect("answers");
    let body = response.bytes().await;
    assert!(
        body.is_err(),
        "a scripted disconnect breaks the body: {body:?}"
    );
    assert_eq!(
        mock.wait_fate(1, Duration::from_secs(5)).await,
        Fate::Completed
    );
}

#[tokio::test]
async fn a_client_that_goes_away_abandons_delays_and_scripts() {
    let mock = MockUpstream::start("self").await;
    mock.enqueue(Reply::Echo.delayed(Duration::from_secs(30)));
    mock.enqueue(
        Script::sse()
            .chunk("m", "a")
            .pause(Duration::from_secs(30))
            .into(),
    );
    let client = new_client();
    let timed_out = client
        .post(chat_url(&mock))
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(
        timed_out.is_err(),
        "the delayed reply cannot arrive in time"
    );
    assert_eq!(
        mock.wait_fate(0, Duration::from_secs(5)).await,
        Fate::Abandoned
    );

    let response = client.post(chat_url(&mock)).send().await.expect("answers");
    let mut reader = SseReader::new(response);
    assert!(reader.next_event().await.is_some());
    assert_eq!(mock.fate(1), Fate::Pending);
    drop(reader);
    assert_eq!(
        mock.wait_fate(1, Duration::from_secs(5)).await,
        Fate::Abandoned
    );
}

#[tokio::test]
async fn paced_replies_stream_tokens_with_usage_and_answer_plain_requests_whole() {
    let mock = MockUpstream::start("self").await;
    let (ttft, per_token) = (Duration::from_millis(40), Duration::from_millis(5));
    mock.set_speed(ttft, per_token, 8);
    let client = new_client();

    // A stream that asks for usage: the first event waits for `ttft`, then eight tokens, the
    // finish chunk, the usage chunk and [DONE].
    let sent = std::time::Instant::now();
    let response = client
        .post(chat_url(&mock))
        .json(&json!({"model": "m", "stream": true, "stream_options": {"include_usage": true}}))
        .send()
        .await
        .expect("the mock answers");
    let mut reader = SseReader::new(response);
    let first = reader.next_event().await.expect("a first event");
    let first_after = sent.elapsed();
    assert!(first_after >= ttft, "first event after {first_after:?}");
    assert_eq!(first.json()["choices"][0]["delta"]["role"], "assistant");
    let rest = reader.collect_all().await;
    let total = sent.elapsed();
    assert!(total >= ttft + per_token * 8, "whole stream in {total:?}");
    let contents: Vec<String> = rest
        .iter()
        .filter(|e| !e.is_done())
        .filter_map(|e| e.delta_content())
        .collect();
    assert_eq!(contents.len(), 8, "{rest:?}");
    assert_eq!(contents.concat(), "self 1 2 3 4 5 6 7");
    assert_eq!(rest.len(), 8 + 3, "tokens, finish, usage, [DONE]: {rest:?}");
    assert_eq!(rest[8].json()["choices"][0]["finish_reason"], "stop");
    let usage = &rest[9].json()["usage"];
    assert_eq!(usage["prompt_tokens"], 10);
    assert_eq!(usage["completion_tokens"], 8);
    assert!(rest[10].is_done());
    assert_eq!(
        mock.wait_fate(0, Duration::from_secs(5)).await,
        Fate::Completed
    );

    // Without include_usage there is no usage chunk.
    let response = client
        .post(chat_url(&mock))
        .json(&json!({"model": "m", "stream": true}))
        .send()
        .await
        .expect("the mock answers");
    let events = SseReader::new(response).collect_all().await;
    assert_eq!(events.len(), 1 + 8 + 2, "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e.is_done() || e.json().get("usage").is_none())
    );

    // A plain chat arrives whole after ttft + tokens × per_token, with the same usage.
    let sent = std::time::Instant::now();
    let response =
        ApiResponse::send(client.post(chat_url(&mock)).json(&json!({"model": "m"}))).await;
    let took = sent.elapsed();
    response.expect_status(200, "a paced plain answer");
    assert!(took >= ttft + per_token * 8, "plain answer in {took:?}");
    let body = response.json();
    assert_eq!(body["model"], "m");
    assert_eq!(
        body["choices"][0]["message"]["content"],
        "self 1 2 3 4 5 6 7"
    );
    assert_eq!(body["usage"]["prompt_tokens"], 10);
    assert_eq!(body["usage"]["completion_tokens"], 8);

    // Changing the speed applies to the next request.
    mock.set_speed(Duration::ZERO, Duration::ZERO, 2);
    let response =
        ApiResponse::send(client.post(chat_url(&mock)).json(&json!({"model": "m"}))).await;
    assert_eq!(response.json()["usage"]["completion_tokens"], 2);
}
