//! The gateway's edge as an attacker meets it: first-run setup needs the operator's code, browsers
//! cannot be used against either listener (cross-site simple POSTs, foreign `Host` names, foreign
//! origins), the console's security headers, the admin token's minimum length, and the limits
//! that keep one client from exhausting the proxy (slow headers and bodies, idle connections,
//! requests in flight).

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use switchyard_tests::fixtures::{add_mock_provider, chat_body, exact, simple_route, stream_body};
use switchyard_tests::mock::Script;
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions, MockUpstream, poll_until};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DEADLINE: Duration = Duration::from_secs(10);
const MODEL: &str = "gpt-4o";

async fn gateway_with_route(options: GatewayOptions) -> (Gateway, MockUpstream) {
    let gateway = Gateway::start_with(options).await;
    let mock = MockUpstream::start("mock").await;
    add_mock_provider(&gateway, &mock).await;
    gateway
        .add_route(&simple_route("chat", exact(MODEL), "mock"))
        .await
        .expect_status(201, "the route");
    (gateway, mock)
}

/// The `host:port` of a base URL such as `http://127.0.0.1:41234`.
fn authority(url: &str) -> &str {
    url.trim_start_matches("http://")
}

async fn setup_with(gateway: &Gateway, code: Option<&str>, token: Option<&str>) -> ApiResponse {
    let body =
        json!({"username": "admin", "password": "a long enough password", "setup_code": code});
    gateway
        .admin_request(
            Method::POST,
            "/api/auth/setup",
            token,
            Some(serde_json::to_vec(&body).expect("serializes")),
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_setup_needs_the_printed_code() {
    let gateway = Gateway::start_with(GatewayOptions::default().without_admin_token()).await;
    let code = gateway
        .setup_code()
        .expect("a fresh gateway prints `setup code: …`")
        .to_owned();
    assert_eq!(code.len(), 14, "XXXX-XXXX-XXXX: {code}");

    for (presented, why) in [(None, "no code"), (Some("AAAA-BBBB-CCCC"), "a wrong code")] {
        let refused = setup_with(&gateway, presented, None).await;
        refused.expect_status(422, why);
        assert_eq!(refused.error_fields(), ["setup_code"], "{why}");
    }
    let me = gateway.admin_get("/api/auth/me").await;
    assert_eq!(me.json()["setup_required"], true, "nothing was created");

    // The code is forgiving about case and separators, as people type it.
    let typed = code.to_lowercase().replace('-', " ");
    setup_with(&gateway, Some(&typed), None)
        .await
        .expect_status(201, "the right code");
    setup_with(&gateway, Some(&code), None)
        .await
        .expect_status(409, "setup happens once");

    let mut restarted = gateway;
    restarted.restart().await;
    assert_eq!(
        restarted.setup_code(),
        None,
        "no code is printed once an admin exists"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_token_also_proves_the_operator_at_setup() {
    let gateway = Gateway::start().await;
    let token = switchyard_tests::DEFAULT_ADMIN_TOKEN;
    setup_with(
        &gateway,
        None,
        Some("not-the-token-but-long-enough-to-pass"),
    )
    .await
    .expect_status(422, "a wrong token and no code");
    setup_with(&gateway, None, Some(token))
        .await
        .expect_status(201, "the admin token stands in for the code");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_simple_posts_to_the_admin_api_are_refused() {
    let gateway = Gateway::start().await;
    let provider = json!({"name": "p", "type": "deepseek", "api_keys": ["sk-1"]}).to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        None,
    ] {
        let mut request = gateway
            .client()
            .post(format!("{}/api/providers", gateway.admin_url()))
            .bearer_auth(switchyard_tests::DEFAULT_ADMIN_TOKEN)
            .body(provider.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = ApiResponse::send(request).await;
        response.expect_status(415, &format!("content type {content_type:?}"));
        response.admin_error("unsupported_media_type");
    }
    gateway
        .admin_get("/api/providers/p")
        .await
        .expect_status(404, "none of them wrote anything");

    // The configuration import also takes YAML, which no cross-site form can send either.
    let yaml = "providers:\n- name: p\n  type: deepseek\n  api_keys: [sk-1]\n";
    let request = gateway
        .client()
        .post(format!("{}/api/config/apply", gateway.admin_url()))
        .bearer_auth(switchyard_tests::DEFAULT_ADMIN_TOKEN)
        .header("content-type", "text/yaml")
        .body(yaml);
    ApiResponse::send(request)
        .await
        .expect_status(200, "a YAML import");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_host_names_are_refused_on_both_listeners() {
    let options = GatewayOptions::default().args(["--allowed-hosts", "gw.example.test"]);
    let (gateway, mock) = gateway_with_route(options).await;
    let port = |url: &str| authority(url).rsplit(':').next().unwrap_or("").to_owned();

    let admin = |host: String| {
        gateway
            .client()
            .get(format!("{}/api/status", gateway.admin_url()))
            .bearer_auth(switchyard_tests::DEFAULT_ADMIN_TOKEN)
            .header("host", host)
    };
    let rebound =
        ApiResponse::send(admin(format!("evil.example:{}", port(gateway.admin_url())))).await;
    rebound.expect_status(403, "a rebound DNS name on the admin API");
    for host in [
        format!("localhost:{}", port(gateway.admin_url())),
        format!("gw.example.test:{}", port(gateway.admin_url())),
        authority(gateway.admin_url()).to_owned(),
    ] {
        ApiResponse::send(admin(host.clone()))
            .await
            .expect_status(200, &host);
    }

    let proxy = |host: &str| {
        gateway
            .client()
            .post(format!("{}/v1/chat/completions", gateway.proxy_url()))
            .header("host", host)
            .json(&chat_body(MODEL))
    };
    let rebound = ApiResponse::send(proxy("attacker.example")).await;
    rebound.expect_status(403, "a rebound DNS name on the proxy");
    assert_eq!(rebound.openai_error()["code"], "host_not_allowed");
    assert_eq!(mock.request_count(), 0, "nothing reached the provider");
    ApiResponse::send(proxy("gw.example.test"))
        .await
        .expect_status(200, "an allowed name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browsers_on_other_sites_cannot_use_the_proxy() {
    let options = GatewayOptions::default().args(["--allowed-origins", "https://app.example.test"]);
    let (gateway, mock) = gateway_with_route(options).await;
    let send = |headers: &[(&str, &str)]| {
        let mut request = gateway
            .client()
            .post(format!("{}/v1/chat/completions", gateway.proxy_url()))
            // What `curl -d` sends: a form content type, which SDK-less scripts rely on.
            .header("content-type", "application/x-www-form-urlencoded")
            .body(chat_body(MODEL).to_string());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        ApiResponse::send(request)
    };
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("origin", "null")],
    ] {
        let response = send(&headers).await;
        response.expect_status(403, &format!("{headers:?}"));
        assert_eq!(response.openai_error()["code"], "cross_site_request");
    }
    assert_eq!(
        mock.request_count(),
        0,
        "no refused request reached the provider"
    );
    send(&[])
        .await
        .expect_status(200, "curl -d and SDKs send no Origin");
    send(&[
        ("origin", "https://app.example.test"),
        ("sec-fetch-site", "cross-site"),
    ])
    .await
    .expect_status(200, "an allowed origin");
    let own = format!("http://{}", authority(gateway.proxy_url()));
    send(&[("origin", own.as_str()), ("sec-fetch-site", "same-origin")])
        .await
        .expect_status(200, "the gateway's own origin");

    let messages = gateway
        .client()
        .post(format!("{}/v1/messages", gateway.proxy_url()))
        .header("origin", "https://evil.example")
        .json(&json!({"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}));
    let response = ApiResponse::send(messages).await;
    response.expect_status(403, "the Messages API too");
    assert_eq!(response.json()["type"], "error", "in Anthropic's shape");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_and_api_answers_carry_security_headers() {
    let gateway = Gateway::start().await;
    let page = ApiResponse::send(gateway.client().get(format!("{}/", gateway.admin_url()))).await;
    page.expect_status(200, "the console page");
    let policy = page
        .header("content-security-policy")
        .expect("a Content-Security-Policy on the console");
    for part in [
        "default-src 'self'",
        "'wasm-unsafe-eval'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ] {
        assert!(policy.contains(part), "{part} in {policy}");
    }
    // With the console built (as tests/run.sh does) its inline bootstrap script is allowed by
    // its hash; the placeholder page of a binary without it has none.
    if page.text().contains("switchyard_console.js") {
        assert!(
            policy.contains("'sha256-"),
            "the inline bootstrap script is allowed by its hash: {policy}"
        );
    }
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    let api = gateway.admin_get("/api/status").await;
    assert_eq!(api.header("x-content-type-options"), Some("nosniff"));
    assert!(
        api.header("content-security-policy")
            .is_some_and(|p| p.contains("default-src 'none'")),
        "{:?}",
        api.headers
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_admin_token_is_refused_at_start() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let output = tokio::process::Command::new(switchyard_tests::switchyard_bin())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(dir.path())
        .env("SWITCHYARD_ADMIN_TOKEN", "short-token")
        .env_remove("SWITCHYARD_ADMIN_TOKEN_FILE")
        .output()
        .await
        .expect("switchyard runs");
    assert!(
        !output.status.success(),
        "started with an 11-character token"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("at least 32"), "{stderr}");
    assert!(
        !stderr.contains("short-token"),
        "the token is not echoed: {stderr}"
    );

    let file = dir.path().join("token");
    let token = "a-token-from-a-file-0123456789abcdef";
    std::fs::write(&file, format!("{token}\n")).expect("writes");
    let gateway = Gateway::start_with(
        GatewayOptions::default()
            .without_admin_token()
            .args(["--admin-token-file", file.to_str().expect("utf-8 path")]),
    )
    .await;
    gateway
        .admin_request(Method::GET, "/api/status", Some(token), None)
        .await
        .expect_status(200, "the token from --admin-token-file");
}

/// Reads until the server closes the connection; returns what it sent, or `None` if it did not
/// close within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> Option<String> {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let read_all = async {
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(within, read_all).await.ok()?;
    Some(String::from_utf8_lossy(&received).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off() {
    let options = GatewayOptions::default().args(["--request-read-timeout-ms", "400"]);
    let (gateway, mock) = gateway_with_route(options).await;
    let address = authority(gateway.proxy_url()).to_owned();

    // Headers that never finish (slow loris).
    let started = Instant::now();
    let mut loris = TcpStream::connect(&address).await.expect("connects");
    loris
        .write_all(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: 1")
        .await
        .expect("writes");
    closed_within(&mut loris, Duration::from_secs(5))
        .await
        .expect("the connection is closed");
    println!("slow headers cut off after {:?}", started.elapsed());
    assert!(started.elapsed() >= Duration::from_millis(350));

    // A body that stops half way.
    let mut slow = TcpStream::connect(&address).await.expect("connects");
    slow.write_all(
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"model\":",
    )
    .await
    .expect("writes");
    let answer = closed_within(&mut slow, Duration::from_secs(5))
        .await
        .expect("the request is answered and the connection closed");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("in time"), "{answer}");
    assert_eq!(mock.request_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_idle_connections_do_not_stop_a_request() {
    let (gateway, _mock) = gateway_with_route(GatewayOptions::default()).await;
    // The test process needs as many descriptors as it opens connections.
    let _ = rlimit::increase_nofile_limit(20_000);
    let address = authority(gateway.proxy_url()).to_owned();
    let mut idle = Vec::with_capacity(10_000);
    for i in 0..10_000 {
        match TcpStream::connect(&address).await {
            Ok(stream) => idle.push(stream),
            Err(error) => panic!("connection {i} failed: {error}"),
        }
    }
    let started = Instant::now();
    gateway
        .chat(&chat_body(MODEL))
        .await
        .expect_status(200, "a request among 10,000 idle connections");
    println!(
        "served in {:?} with {} idle connections open",
        started.elapsed(),
        idle.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_in_flight_cap_get_503() {
    let options = GatewayOptions::default().args(["--max-in-flight", "1"]);
    let (gateway, mock) = gateway_with_route(options).await;
    let script = Script::sse()
        .chunk(MODEL, "a")
        .pause(Duration::from_secs(30))
        .done();
    mock.enqueue(script.into());
    let stream = gateway.chat_stream(&stream_body(MODEL)).await;
    assert_eq!(stream.status(), 200);
    let mut reader = switchyard_tests::SseReader::new(stream);
    reader.next_event().await.expect("the first event");

    let refused = gateway.chat(&chat_body(MODEL)).await;
    refused.expect_status(503, "one stream holds the only slot");
    assert_eq!(refused.openai_error()["code"], "gateway_overloaded");
    assert!(refused.header("retry-after").is_some());

    drop(reader);
    poll_until(
        DEADLINE,
        "the slot of the stream whose client left",
        || async {
            let response = gateway.chat(&chat_body(MODEL)).await;
            (response.status == 200).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_upstream_event_ends_the_stream_with_an_error() {
    let (gateway, mock) = gateway_with_route(GatewayOptions::default()).await;
    // One event that never ends: 2 MiB of a `data:` line, then silence.
    let endless = format!("data: {}", "x".repeat(2 * 1024 * 1024));
    let script = Script::sse()
        .chunk(MODEL, "a")
        .raw(&endless)
        .pause(Duration::from_secs(30))
        .done();
    mock.enqueue(script.into());
    let started = Instant::now();
    let response = gateway.chat_stream(&stream_body(MODEL)).await;
    assert_eq!(response.status(), 200);
    let events = tokio::time::timeout(
        DEADLINE,
        switchyard_tests::SseReader::new(response).collect_all(),
    )
    .await
    .expect("the stream ends without waiting for the idle timeout");
    println!("ended after {:?}", started.elapsed());
    assert_eq!(
        events.first().and_then(|e| e.delta_content()).as_deref(),
        Some("a"),
        "what came before is delivered: {events:?}"
    );
    let last = events.last().expect("events");
    assert!(!last.is_done(), "no end marker after a failure: {events:?}");
    let text = format!("{events:?}");
    assert!(
        text.contains("error"),
        "the stream ends with an error event: {text}"
    );
}
