//! How much: requests per minute and day, tokens reserved at admission and reconciled at the end,
//! concurrent requests held through a stream, limits on keys and routes alongside the consumer's,
//! and counters that survive unrelated configuration writes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::future::join_all;
use reqwest::Method;
use serde_json::json;
use switchyard_tests::consumers::{IssuedKey, KeyHeader};
use switchyard_tests::fixtures::{exact, provider, simple_route, stream_body, test_key};
use switchyard_tests::mock::{Fate, Script};
use switchyard_tests::{ApiResponse, Gateway, MockUpstream, Reply, SseReader, poll_until};

use super::{
    DEADLINE, DEEPSEEK, GPT, anthropic_error, chat, consumer_with_key, gpt_route, message,
    number_header, openai_duration, openai_error, retry_after, setup,
};

/// Asserts OpenAI's request-limit headers with `limit`; returns the remaining count.
fn request_headers(response: &ApiResponse, limit: u64) -> u64 {
    assert_eq!(
        number_header(response, "x-ratelimit-limit-requests"),
        limit,
        "the tightest request limit"
    );
    let reset = response
        .header("x-ratelimit-reset-requests")
        .unwrap_or_else(|| panic!("no x-ratelimit-reset-requests in {:?}", response.headers));
    assert!(
        openai_duration(reset).is_some(),
        "x-ratelimit-reset-requests is not an OpenAI duration: {reset:?}"
    );
    number_header(response, "x-ratelimit-remaining-requests")
}

/// Asserts a 429 `rate_limit_exceeded` whose message contains every one of `parts`.
fn assert_limited(response: &ApiResponse, parts: &[&str]) -> u64 {
    let text = openai_error(response, 429, "rate_limit_exceeded");
    for part in parts {
        assert!(
            text.contains(part),
            "the message should contain {part:?}: {text}"
        );
    }
    retry_after(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpm_is_exact_and_the_refusal_is_shaped_for_openai_sdks() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a", "limits": {"rpm": 60}})).await;
    let started = Instant::now();

    // Three in a row: the remaining count goes down with each.
    let mut remaining = Vec::new();
    for i in 0..3 {
        let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
        response.expect_status(200, &format!("request {}", i + 1));
        remaining.push(request_headers(&response, 60));
    }
    assert!(
        remaining[0] < 60 && remaining.windows(2).all(|w| w[1] < w[0]),
        "x-ratelimit-remaining-requests should go down: {remaining:?}"
    );
    // The other 57 at once, so that the 61st comes well inside the minute.
    let body = chat(DEEPSEEK);
    let burst = join_all((0..57).map(|_| gateway.chat_as(Some(&key.key), &body))).await;
    for (i, response) in burst.iter().enumerate() {
        response.expect_status(200, &format!("request {} of 60", i + 4));
        request_headers(response, 60);
    }

    // A smooth limiter (GCRA) earns one request back per second, so only if the first 60 took
    // longer than a second may the 61st pass; usually they take far less and it is refused.
    let mut extra = 0;
    let refused = loop {
        let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
        if response.status != 200 || extra == 10 {
            break response;
        }
        extra += 1;
    };
    let elapsed = started.elapsed();
    println!("the first refusal came after 60 + {extra} requests and {elapsed:?}");
    assert!(
        f64::from(extra) <= elapsed.as_secs_f64().floor(),
        "{extra} requests over rpm 60 passed within {elapsed:?}"
    );
    let wait = assert_limited(&refused, &["consumer 'team-a'", "60 requests per minute"]);
    assert!(wait <= 60, "Retry-After {wait} s is longer than the window");
    assert_eq!(
        request_headers(&refused, 60),
        0,
        "the refusal carries the limit headers too"
    );
    assert_eq!(
        mock.request_count(),
        60 + extra as usize,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_messages_client_gets_anthropic_headers_and_error() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-m", "limits": {"rpm": 2}})).await;

    let mut remaining = Vec::new();
    for i in 0..2 {
        let response = gateway
            .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
            .await;
        response.expect_status(200, &format!("message {}", i + 1));
        assert_eq!(
            number_header(&response, "anthropic-ratelimit-requests-limit"),
            2
        );
        let reset = response
            .header("anthropic-ratelimit-requests-reset")
            .unwrap_or_else(|| {
                panic!(
                    "no anthropic-ratelimit-requests-reset: {:?}",
                    response.headers
                )
            });
        assert!(
            reset.len() >= 20 && reset.as_bytes()[10] == b'T',
            "the reset is an RFC 3339 time: {reset:?}"
        );
        remaining.push(number_header(
            &response,
            "anthropic-ratelimit-requests-remaining",
        ));
    }
    assert_eq!(remaining, vec![1, 0], "remaining requests");

    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
        .await;
    let text = anthropic_error(&response, 429, "rate_limit_error");
    assert!(
        text.contains("team-m") && text.contains("2 requests per minute"),
        "the message names the scope, the limit and the window: {text}"
    );
    retry_after(&response);
    assert_eq!(
        mock.request_count(),
        2,
        "a refused request reached the mock"
    );
}

/// The completion tokens every request of the token tests asks for.
const MAX_TOKENS: u64 = 1000;

/// A chat body whose prompt estimate (bytes / 4) is about 120 tokens, and its reservation.
fn token_body() -> (String, u64) {
    let body = json!({
        "model": DEEPSEEK,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": "x".repeat(440)}],
    })
    .to_string();
    let reservation = body.len() as u64 / 4 + MAX_TOKENS;
    (body, reservation)
}

/// A chat completion reporting `prompt` + `completion` tokens of usage.
fn completion_with_usage(prompt: u64, completion: u64) -> Reply {
    let body = json!({
        "id": "chatcmpl-usage", "object": "chat.completion", "created": 1, "model": DEEPSEEK,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                  "total_tokens": prompt + completion},
    });
    Reply::Raw {
        status: 200,
        headers: vec![("content-type".into(), "application/json".into())],
        body: Bytes::from(body.to_string()),
    }
}

async fn send_body(gateway: &Gateway, key: &IssuedKey, body: &str) -> ApiResponse {
    ApiResponse::send(
        gateway
            .proxy_request(Method::POST, "/v1/chat/completions")
            .header("content-type", "application/json")
            .bearer_auth(&key.key)
            .body(body.to_owned()),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpm_holds_under_twenty_concurrent_requests() {
    let (gateway, mock) = setup().await;
    let (body, reservation) = token_body();
    // Room for five and a half reservations: five fit, a sixth does not.
    let tpm = 5 * reservation + reservation / 2;
    let key = consumer_with_key(&gateway, json!({"name": "team-a", "limits": {"tpm": tpm}})).await;
    // Each answer uses exactly what was reserved, and comes late enough that all twenty are in
    // flight together: only a reservation at admission can hold the limit.
    let prompt = body.len() as u64 / 4;
    mock.set_default(completion_with_usage(prompt, MAX_TOKENS).delayed(Duration::from_millis(300)));

    let responses = join_all((0..20).map(|_| send_body(&gateway, &key, &body))).await;
    let admitted: Vec<&ApiResponse> = responses.iter().filter(|r| r.status == 200).collect();
    let refused: Vec<&ApiResponse> = responses.iter().filter(|r| r.status != 200).collect();
    println!(
        "tpm {tpm}, reservation {reservation}: {} admitted, {} refused",
        admitted.len(),
        refused.len()
    );
    assert!(
        admitted.len() as u64 * reservation <= tpm + reservation,
        "{} requests of {reservation} tokens admitted under tpm {tpm}",
        admitted.len()
    );
    assert!(
        admitted.len() >= 5,
        "only {} admitted where five reservations fit",
        admitted.len()
    );
    for response in &admitted {
        assert_eq!(number_header(response, "x-ratelimit-limit-tokens"), tpm);
        let remaining = number_header(response, "x-ratelimit-remaining-tokens");
        assert!(remaining < tpm, "remaining tokens {remaining} of {tpm}");
        let reset = response
            .header("x-ratelimit-reset-tokens")
            .expect("x-ratelimit-reset-tokens");
        assert!(openai_duration(reset).is_some(), "reset {reset:?}");
    }
    for response in &refused {
        assert_limited(response, &["team-a", &format!("{tpm} tokens per minute")]);
    }
    assert_eq!(
        mock.request_count(),
        admitted.len(),
        "a refused request reached the mock"
    );
    let response = send_body(&gateway, &key, &body).await;
    assert_limited(&response, &["tokens per minute"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_reservations_are_reconciled_with_the_real_usage() {
    let (gateway, mock) = setup().await;
    let (body, reservation) = token_body();
    // One reservation fits, two do not.
    let tpm = reservation + reservation / 2;
    let key = consumer_with_key(&gateway, json!({"name": "team-a", "limits": {"tpm": tpm}})).await;
    mock.enqueue(completion_with_usage(4, 6));
    mock.set_default(completion_with_usage(body.len() as u64 / 4, MAX_TOKENS));

    send_body(&gateway, &key, &body)
        .await
        .expect_status(200, "the first request");
    // It used 10 tokens, not its reservation: once its answer has ended, another reservation
    // fits. (Without reconciliation the limiter would need 20 s to earn that much back.)
    poll_until(
        Duration::from_secs(5),
        "the first reservation to be reconciled",
        || async {
            let response = send_body(&gateway, &key, &body).await;
            (response.status == 200).then_some(())
        },
    )
    .await;
    // The second used its whole reservation, which stays charged.
    let response = send_body(&gateway, &key, &body).await;
    assert_limited(&response, &["tokens per minute"]);
    assert_eq!(mock.request_count(), 2);
}

/// A step stream's first event is sent before the request, so the gateway commits the stream.
async fn open_step_stream(
    gateway: &Gateway,
    mock: &MockUpstream,
    key: &IssuedKey,
) -> (switchyard_tests::StepStream, SseReader) {
    let mut stream = mock.step_stream(DEEPSEEK);
    stream.send_content("first");
    let response = gateway
        .chat_stream_as(&key.key, &stream_body(DEEPSEEK))
        .await;
    assert_eq!(response.status(), 200, "the stream is admitted");
    stream.wait_started().await;
    let mut reader = SseReader::new(response);
    let event = reader.next_event().await.expect("the first event");
    assert_eq!(event.delta_content().as_deref(), Some("first"));
    (stream, reader)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_holds_its_slot_until_it_ends_or_the_client_leaves() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a", "limits": {"max_concurrent": 2}}),
    )
    .await;

    let (mut first, mut first_reader) = open_step_stream(&gateway, &mock, &key).await;
    let (mut second, mut second_reader) = open_step_stream(&gateway, &mock, &key).await;
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["team-a", "2"]);
    let text = response.openai_error()["message"].to_string();
    assert!(text.contains("concurrent"), "names the limit: {text}");
    let response = gateway
        .messages_with(KeyHeader::XApiKey, Some(&key.key), &message(DEEPSEEK))
        .await;
    anthropic_error(&response, 429, "rate_limit_error");
    assert_eq!(
        mock.request_count(),
        2,
        "a refused request reached the mock"
    );

    // The first stream ends: its slot is free again.
    first.send_content(" more");
    first.send_done();
    first.finish();
    let events = first_reader.collect_all().await;
    assert!(events.last().is_some_and(|e| e.is_done()), "{events:?}");
    poll_until(DEADLINE, "the finished stream's slot", || async {
        let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
        (response.status == 200).then_some(())
    })
    .await;
    assert_eq!(mock.request_count(), 3);

    // A third stream takes the free slot; its client then leaves half way.
    let script = Script::sse()
        .chunk(DEEPSEEK, "a")
        .pause(Duration::from_secs(30))
        .done();
    mock.enqueue(script.into());
    let response = gateway
        .chat_stream_as(&key.key, &stream_body(DEEPSEEK))
        .await;
    assert_eq!(response.status(), 200, "the third stream is admitted");
    let mut leaving = SseReader::new(response);
    let event = leaving.next_event().await.expect("the first event");
    assert_eq!(event.delta_content().as_deref(), Some("a"));
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["team-a"]);
    assert_eq!(mock.request_count(), 4);

    let left = Instant::now();
    drop(leaving);
    poll_until(DEADLINE, "the slot of the client that left", || async {
        let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
        (response.status == 200).then_some(())
    })
    .await;
    println!(
        "the slot was free {:?} after the client left",
        left.elapsed()
    );
    assert_eq!(mock.wait_fate(3, DEADLINE).await, Fate::Abandoned);

    // The second stream was held all along and still ends normally.
    second.send_done();
    second.finish();
    let events = second_reader.collect_all().await;
    assert!(events.last().is_some_and(|e| e.is_done()), "{events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_and_route_limits_apply_with_the_consumers() {
    let (gateway, mock) = setup().await;
    gateway
        .add_consumer(&json!({"name": "team-a", "limits": {"rpm": 60}}))
        .await;
    let tight = gateway
        .issue_key("team-a", &json!({"name": "tight", "limits": {"rpm": 1}}))
        .await;
    let loose = gateway.issue_key("team-a", &json!({"name": "loose"})).await;

    let response = gateway.chat_as(Some(&tight.key), &chat(DEEPSEEK)).await;
    response.expect_status(200, "the tight key's one request");
    assert_eq!(
        request_headers(&response, 1),
        0,
        "the key's limit is the tightest"
    );
    let response = gateway.chat_as(Some(&tight.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["key", "per minute"]);
    let response = gateway.chat_as(Some(&loose.key), &chat(DEEPSEEK)).await;
    response.expect_status(200, "the consumer's other key");
    request_headers(&response, 60);

    // A route limit counts every caller together, anonymous ones included.
    gateway
        .admin_put("/api/routes/gpt", &gpt_route(json!({"limits": {"rpm": 3}})))
        .await
        .expect_status(200, "limiting the gpt route");
    let response = gateway.chat_as(None, &chat(GPT)).await;
    response.expect_status(200, "anonymous on the limited route");
    assert_eq!(request_headers(&response, 3), 2);
    gateway
        .chat_as(Some(&loose.key), &chat(GPT))
        .await
        .expect_status(200, "a key on the limited route");
    gateway
        .chat_as(None, &chat(GPT))
        .await
        .expect_status(200, "the route's third request");
    let response = gateway.chat_as(None, &chat(GPT)).await;
    assert_limited(&response, &["route 'gpt'", "3 requests per minute"]);
    let response = gateway.chat_as(Some(&loose.key), &chat(GPT)).await;
    assert_limited(&response, &["route 'gpt'"]);
    gateway
        .chat_as(Some(&loose.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "another route");
    assert_eq!(
        mock.request_count(),
        6,
        "a refused request reached the mock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rpd_is_a_daily_limit() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a", "limits": {"rpd": 3}})).await;
    for i in 0..3 {
        gateway
            .chat_as(Some(&key.key), &chat(DEEPSEEK))
            .await
            .expect_status(200, &format!("request {} of 3", i + 1));
    }
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    let wait = assert_limited(&response, &["consumer 'team-a'", "3 requests per day"]);
    assert!(
        wait > 60,
        "a daily limit earns a request back in hours, not {wait} s"
    );
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_survive_unrelated_writes_and_edited_limits_apply_at_once() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a", "limits": {"rpm": 5}})).await;
    for i in 0..5 {
        gateway
            .chat_as(Some(&key.key), &chat(DEEPSEEK))
            .await
            .expect_status(200, &format!("request {} of 5", i + 1));
    }
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["5 requests per minute"]);

    // Unrelated writes, each of which reloads the configuration.
    let other = MockUpstream::start("other").await;
    gateway
        .add_provider(&provider("other", &other, &test_key("other")))
        .await;
    gateway
        .add_route(&simple_route("other", exact("other-model"), "other"))
        .await;
    gateway.add_consumer(&json!({"name": "team-b"})).await;
    gateway.issue_key("team-b", &json!({"name": "ci"})).await;
    gateway.set_client_auth("off").await;
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["5 requests per minute"]);
    // Editing another field of the consumer keeps its counters as well.
    let described = json!({"name": "team-a", "description": "search", "limits": {"rpm": 5}});
    gateway
        .admin_put("/api/consumers/team-a", &described)
        .await
        .expect_status(200, "describing the consumer");
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["5 requests per minute"]);
    assert_eq!(mock.request_count(), 5);

    // Raising the limit takes effect on the next request.
    let raised = json!({"name": "team-a", "limits": {"rpm": 10}});
    gateway
        .admin_put("/api/consumers/team-a", &raised)
        .await
        .expect_status(200, "raising the limit");
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    response.expect_status(200, "the first request under the raised limit");
    request_headers(&response, 10);
    assert_eq!(mock.request_count(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lowered_limit_counts_the_requests_already_made() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a", "limits": {"rpm": 10}})).await;
    for i in 0..5 {
        gateway
            .chat_as(Some(&key.key), &chat(DEEPSEEK))
            .await
            .expect_status(200, &format!("request {} of 10", i + 1));
    }
    // Five requests were made in this minute: under rpm 5 the next one is over the limit.
    let lowered = json!({"name": "team-a", "limits": {"rpm": 5}});
    gateway
        .admin_put("/api/consumers/team-a", &lowered)
        .await
        .expect_status(200, "lowering the limit");
    let response = gateway.chat_as(Some(&key.key), &chat(DEEPSEEK)).await;
    assert_limited(&response, &["5 requests per minute"]);
    assert_eq!(mock.request_count(), 5);
}
