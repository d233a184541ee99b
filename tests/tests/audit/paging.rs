//! Reading the trail: keyset pages that stay put while writes keep coming, and the resource and
//! actor filters.

use reqwest::Method;
use switchyard_tests::Gateway;
use switchyard_tests::fixtures::{exact, provider_at, simple_route, test_key};

use super::browser::{PASSWORD, USER, call, setup, signed_in, with_csrf};
use super::support::{page, revision, revisions};

/// Replaces route `x`, matching `model-{n}`: a real change every time.
async fn replace_route(gateway: &Gateway, n: usize) {
    gateway
        .admin_put(
            "/api/routes/x",
            &simple_route("x", exact(&format!("model-{n}")), "p"),
        )
        .await
        .expect_status(200, "replacing route x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_of_50_stay_stable_while_writes_continue_and_filters_narrow_them() {
    let gateway = Gateway::start().await;
    // The console account first, so that the trail has a second actor.
    let session = signed_in(&setup(&gateway, USER, PASSWORD).await, 201, USER);
    gateway
        .add_provider(&provider_at(
            "p",
            "http://127.0.0.1:9/v1",
            &[&test_key("p")],
        ))
        .await;
    gateway
        .add_route(&simple_route("x", exact("model-0"), "p"))
        .await;
    for n in 1..=116 {
        replace_route(&gateway, n).await;
    }
    call(
        &gateway,
        Method::PUT,
        "/api/routes/x",
        with_csrf(&session),
        Some(&simple_route("x", exact("from-console"), "p")),
    )
    .await
    .expect_status(200, "a route change from the console");
    let newest = revision(&gateway).await;
    let oldest = newest - 119;

    // Three pages of the default size, newest first, each continuing where the last stopped,
    // with writes in between that must not shift them.
    let first = page(&gateway, "").await;
    let expected: Vec<i64> = (newest - 49..=newest).rev().collect();
    assert_eq!(revisions(&first), expected);
    let cursor = first["next_cursor"].as_i64().expect("a cursor to go on");
    for n in 200..203 {
        replace_route(&gateway, n).await;
    }
    let second = page(&gateway, &format!("cursor={cursor}")).await;
    let expected: Vec<i64> = (newest - 99..=newest - 50).rev().collect();
    assert_eq!(revisions(&second), expected);
    let cursor = second["next_cursor"].as_i64().expect("a cursor to go on");
    replace_route(&gateway, 300).await;
    let third = page(&gateway, &format!("cursor={cursor}")).await;
    let expected: Vec<i64> = (oldest..=newest - 100).rev().collect();
    assert_eq!(revisions(&third), expected);
    assert!(third["next_cursor"].is_null(), "the last page: {third}");
    // A list leaves the documents out; the detail has them.
    let listed = &first["entries"][0]["changes"][0];
    assert_eq!(listed["kind"], "route", "{first}");
    assert!(
        listed.get("after").is_none_or(serde_json::Value::is_null),
        "{listed}"
    );

    // Filters: by resource kind, by kind and name, by exact actor, by actor prefix.
    let providers = page(&gateway, "resource=provider").await;
    assert_eq!(revisions(&providers), [oldest + 1], "{providers}");
    let routes = page(&gateway, "resource=route/x&limit=500").await;
    assert_eq!(revisions(&routes).len(), 118 + 4, "{routes}");
    let none = page(&gateway, "resource=route/nope").await;
    assert_eq!(revisions(&none), Vec::<i64>::new(), "{none}");
    let console = format!("console:{USER}");
    for query in [format!("actor={console}"), "actor=console:".to_owned()] {
        let by_console = page(&gateway, &query).await;
        assert_eq!(
            revisions(&by_console),
            [newest, oldest],
            "{query}: {by_console}"
        );
        for entry in by_console["entries"].as_array().expect("entries") {
            assert_eq!(entry["actor"], console.as_str(), "{entry}");
        }
    }
    let by_token = page(&gateway, "actor=admin-token&limit=500").await;
    assert_eq!(revisions(&by_token).len(), 118 + 4, "{by_token}");
    let combined = page(&gateway, "resource=route/x&actor=console:&limit=5").await;
    assert_eq!(revisions(&combined), [newest], "{combined}");
}
