//! Self-tests of the mock upstream and the SSE reader, so that a harness bug is not mistaken for
//! a gateway bug.

use serde_json::json;

use super::{MockUpstream, Reply, refused_base_url};
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
