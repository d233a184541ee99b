//! Reconfiguration under load: route changes while clients send requests must fail none of them.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use switchyard_tests::fixtures::{add_mock_provider, chat_body, exact};
use switchyard_tests::{ApiResponse, Gateway, MockUpstream, poll_until};

const CLIENTS: usize = 6;
const CHANGES: usize = 50;

/// The route in one of its two shapes: all traffic to `pa` as `model-a`, or to `pb` as `model-b`.
fn hot_route(version: usize) -> Value {
    let upstreams = if version.is_multiple_of(2) {
        json!([{"provider": "pa", "weight": 100, "model": "model-a"}, {"provider": "pb", "weight": 0}])
    } else {
        json!([{"provider": "pa", "weight": 0}, {"provider": "pb", "weight": 100, "model": "model-b"}])
    };
    json!({"name": "hot", "match": [exact("hot-model")], "upstreams": upstreams})
}

/// Why a response is not acceptable: it failed, or its provider and model come from different
/// versions of the route (which a torn snapshot would produce).
fn problem(response: &ApiResponse) -> Option<String> {
    if response.status != 200 {
        return Some(format!("status {}: {}", response.status, response.text()));
    }
    let provider = response.header("x-switchyard-provider");
    let model = response.header("x-switchyard-model");
    let content = response.json()["choices"][0]["message"]["content"].clone();
    match (provider, model) {
        (Some("pa"), Some("model-a")) if content == "hello from pa" => None,
        (Some("pb"), Some("model-b")) if content == "hello from pb" => None,
        _ => Some(format!(
            "inconsistent answer: {provider:?} {model:?} {content}"
        )),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_changes_under_load_fail_no_request() {
    let mock_a = MockUpstream::start("pa").await;
    let mock_b = MockUpstream::start("pb").await;
    let gateway = Gateway::start().await;
    add_mock_provider(&gateway, &mock_a).await;
    add_mock_provider(&gateway, &mock_b).await;
    gateway.add_route(&hot_route(0)).await;
    let gateway = Arc::new(gateway);

    let stop = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (gateway, stop, completed, failures) = (
            Arc::clone(&gateway),
            Arc::clone(&stop),
            Arc::clone(&completed),
            Arc::clone(&failures),
        );
        clients.push(tokio::spawn(async move {
            let mut sent = 0usize;
            while !stop.load(Ordering::SeqCst) {
                let outcome =
                    ApiResponse::try_send(gateway.chat_request(&chat_body("hot-model"))).await;
                let problem = match outcome {
                    Ok(response) => problem(&response),
                    Err(e) => Some(format!("transport error: {e:?}")),
                };
                if let Some(problem) = problem {
                    failures.lock().expect("failures lock").push(problem);
                }
                sent += 1;
                completed.fetch_add(1, Ordering::SeqCst);
            }
            sent
        }));
    }

    for version in 1..=CHANGES {
        // Requests must keep flowing between changes, so every version of the route sees traffic.
        let before = completed.load(Ordering::SeqCst);
        let response = gateway
            .admin_put("/api/routes/hot", &hot_route(version))
            .await;
        response.expect_status(200, &format!("change {version}"));
        poll_until(Duration::from_secs(10), "clients to make progress", || {
            let completed = Arc::clone(&completed);
            async move { (completed.load(Ordering::SeqCst) >= before + CLIENTS).then_some(()) }
        })
        .await;
    }
    stop.store(true, Ordering::SeqCst);
    let mut per_client = Vec::new();
    for client in clients {
        per_client.push(client.await.expect("client task did not panic"));
    }

    let failures = failures.lock().expect("failures lock").clone();
    let total: usize = per_client.iter().sum();
    assert!(
        failures.is_empty(),
        "{} of {total} requests failed; first ones: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(
        per_client.iter().all(|&n| n > 0),
        "every client sent requests: {per_client:?}"
    );
    assert!(
        total >= CHANGES * CLIENTS,
        "only {total} requests were sent"
    );
    assert!(mock_a.request_count() > 0 && mock_b.request_count() > 0);
    // The last change decides where traffic goes now.
    let expected = if CHANGES.is_multiple_of(2) {
        "pa"
    } else {
        "pb"
    };
    let response = gateway.chat(&chat_body("hot-model")).await;
    assert_eq!(response.header("x-switchyard-provider"), Some(expected));
}
