//! The admin API's CRUD on providers and routes, its validation errors, conflicts and status.

use serde_json::{Value, json};
use switchyard_shared::admin::SNAPSHOT_VERSION_HEADER;
use switchyard_shared::{ProviderSpec, RouteSpec, admin::StatusView};
use switchyard_tests::fixtures::{exact, provider, route, simple_route, test_key, upstream};
use switchyard_tests::{ApiResponse, Gateway, MockUpstream};

/// The items of a list response: a bare array, or the first array inside a wrapping object.
fn list_items(response: &ApiResponse) -> Vec<Value> {
    let body = response.json();
    match &body {
        Value::Array(items) => items.clone(),
        Value::Object(map) => map
            .values()
            .find_map(|v| v.as_array().cloned())
            .unwrap_or_else(|| panic!("no array in list response {body}")),
        _ => panic!("unexpected list response {body}"),
    }
}

fn names(items: &[Value]) -> Vec<String> {
    let mut names: Vec<String> = items
        .iter()
        .map(|i| i["name"].as_str().expect("items have names").to_owned())
        .collect();
    names.sort();
    names
}

fn snapshot_version(response: &ApiResponse) -> u64 {
    response
        .header(SNAPSHOT_VERSION_HEADER)
        .unwrap_or_else(|| panic!("write response without {SNAPSHOT_VERSION_HEADER}"))
        .parse()
        .expect("the snapshot version is a number")
}

fn full_provider(mock: &MockUpstream) -> Value {
    json!({
        "name": "full",
        "type": "openai-compatible",
        "base_url": mock.base_url(),
        "api_keys": [test_key("full")],
        "models": ["model-one", "model-two"],
        "model_mapping": {"alias": "model-one", "gpt-*": "model-two"},
        "headers": {"x-team": "search"},
        "timeouts": {"connect_ms": 1000, "first_byte_ms": 20000, "idle_ms": 5000, "total_ms": 60000},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_crud_round_trip() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let sent = full_provider(&mock);
    let expected: ProviderSpec = serde_json::from_value(sent.clone()).expect("valid provider");

    let created = gateway.add_provider(&sent).await;
    snapshot_version(&created);
    let shown: ProviderSpec =
        serde_json::from_value(created.json()).expect("create returns the provider");
    assert_eq!(shown, expected.masked());

    let fetched = gateway.admin_get("/api/providers/full").await;
    fetched.expect_status(200, "GET provider");
    let shown: ProviderSpec = serde_json::from_value(fetched.json()).expect("a provider body");
    assert_eq!(shown, expected.masked());

    let listed = gateway.admin_get("/api/providers").await;
    listed.expect_status(200, "list providers");
    assert_eq!(names(&list_items(&listed)), ["full"]);

    let mut replaced = sent.clone();
    replaced["models"] = json!(["model-three"]);
    replaced.as_object_mut().expect("object").remove("headers");
    let response = gateway.admin_put("/api/providers/full", &replaced).await;
    response.expect_status(200, "PUT provider");
    snapshot_version(&response);
    let shown = gateway.admin_get("/api/providers/full").await.json();
    assert_eq!(shown["models"], json!(["model-three"]));
    assert!(
        shown.get("headers").is_none_or(|h| h == &json!({})),
        "PUT replaces: {shown}"
    );

    let response = gateway.admin_delete("/api/providers/full").await;
    response.expect_status(204, "DELETE provider");
    snapshot_version(&response);
    let response = gateway.admin_get("/api/providers/full").await;
    response.expect_status(404, "GET deleted provider");
    response.admin_error("not_found");
    assert!(list_items(&gateway.admin_get("/api/providers").await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_crud_round_trip() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    gateway.add_provider(&full_provider(&mock)).await;
    let sent = json!({
        "name": "chat",
        "priority": 3,
        "match": [exact("gpt-4o"), {"type": "prefix", "value": "gpt-4o-"}],
        "upstreams": [{"provider": "full", "weight": 250, "model": "model-one"}, {"provider": "full"}],
        "fallback": {"enabled": true, "strategy": "random", "on_status": [429, "5xx"],
                     "upstreams": [{"provider": "full", "model": "model-two"}]},
    });
    let expected: RouteSpec = serde_json::from_value(sent.clone()).expect("valid route");

    let created = gateway.add_route(&sent).await;
    snapshot_version(&created);
    let fetched = gateway.admin_get("/api/routes/chat").await;
    fetched.expect_status(200, "GET route");
    let shown: RouteSpec = serde_json::from_value(fetched.json()).expect("a route body");
    assert_eq!(shown, expected);
    assert_eq!(
        fetched.json()["upstreams"][1]["weight"],
        100,
        "default weight"
    );
    assert_eq!(
        names(&list_items(&gateway.admin_get("/api/routes").await)),
        ["chat"]
    );

    let replacement = simple_route("chat", exact("other-model"), "full");
    gateway
        .admin_put("/api/routes/chat", &replacement)
        .await
        .expect_status(200, "PUT route");
    let shown: RouteSpec =
        serde_json::from_value(gateway.admin_get("/api/routes/chat").await.json()).expect("route");
    assert_eq!(
        shown,
        serde_json::from_value::<RouteSpec>(replacement).expect("valid")
    );

    gateway
        .admin_delete("/api/routes/chat")
        .await
        .expect_status(204, "DELETE route");
    gateway
        .admin_get("/api/routes/chat")
        .await
        .expect_status(404, "GET deleted route")
        .admin_error("not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicates_missing_items_and_providers_in_use_are_rejected() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let spec = provider("dup", &mock, &test_key("dup"));
    gateway.add_provider(&spec).await;
    gateway
        .admin_post("/api/providers", &spec)
        .await
        .expect_status(409, "creating a provider twice")
        .admin_error("conflict");
    let user_a = simple_route("user-a", exact("a"), "dup");
    gateway.add_route(&user_a).await;
    gateway
        .add_route(&simple_route("user-b", exact("b"), "dup"))
        .await;
    gateway
        .admin_post("/api/routes", &user_a)
        .await
        .expect_status(409, "creating a route twice")
        .admin_error("conflict");

    let response = gateway.admin_delete("/api/providers/dup").await;
    response.expect_status(409, "deleting a provider in use");
    let error = response.admin_error("conflict");
    let mut routes: Vec<String> = serde_json::from_value(error["routes"].clone())
        .unwrap_or_else(|_| panic!("error.routes lists the routes: {error}"));
    routes.sort();
    assert_eq!(routes, ["user-a", "user-b"]);
    gateway
        .admin_get("/api/providers/dup")
        .await
        .expect_status(200, "the provider survived");

    for path in ["/api/providers/nope", "/api/routes/nope"] {
        gateway
            .admin_get(path)
            .await
            .expect_status(404, path)
            .admin_error("not_found");
        gateway
            .admin_delete(path)
            .await
            .expect_status(404, path)
            .admin_error("not_found");
    }
    gateway
        .admin_put(
            "/api/providers/nope",
            &provider("nope", &mock, &test_key("nope")),
        )
        .await
        .expect_status(404, "PUT missing provider")
        .admin_error("not_found");
    gateway
        .admin_put("/api/routes/nope", &simple_route("nope", exact("n"), "dup"))
        .await
        .expect_status(404, "PUT missing route")
        .admin_error("not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_validation_reports_every_failing_field() {
    let gateway = Gateway::start().await;
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (
            json!({"name": "Bad Name", "type": "openai-compatible", "api_keys": ["sk-abc"],
                   "timeouts": {"idle_ms": 0}, "headers": {"Authorization": "x"}}),
            vec![
                "name",
                "base_url",
                "timeouts.idle_ms",
                "headers.Authorization",
            ],
        ),
        (
            json!({"name": "p", "type": "openai", "api_keys": []}),
            vec!["api_keys"],
        ),
        (
            json!({"name": "p", "type": "openai-compatible", "base_url": "ftp://example.com",
                   "api_keys": ["sk-…abcd"]}),
            vec!["base_url", "api_keys[0]"],
        ),
        (
            json!({"name": "p", "type": "not-a-provider-type", "api_keys": ["sk-1"]}),
            vec!["type"],
        ),
        (
            json!({"name": "p", "type": "openai", "api_keys": "sk-not-a-list"}),
            vec!["api_keys"],
        ),
    ];
    for (body, expected) in cases {
        let response = gateway.admin_post("/api/providers", &body).await;
        response.expect_status(422, &format!("invalid provider {body}"));
        let fields = response.error_fields();
        for field in &expected {
            assert!(
                fields.iter().any(|f| f == field),
                "{field} missing from {fields:?} for {body}"
            );
        }
    }
    assert!(list_items(&gateway.admin_get("/api/providers").await).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_validation_reports_field_paths() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider("known", &mock, &test_key("known")))
        .await;
    let cases: Vec<(Value, &str)> = vec![
        (
            route("Not A Slug", vec![exact("m")], vec![upstream("known")]),
            "name",
        ),
        (
            route(
                "r",
                vec![exact("m")],
                vec![json!({"provider": "known", "weight": 1001})],
            ),
            "upstreams[0].weight",
        ),
        (
            route("r", vec![exact("m")], vec![upstream("ghost")]),
            "upstreams[0].provider",
        ),
        (route("r", vec![], vec![upstream("known")]), "match"),
        (
            json!({"name": "r", "priority": "high", "match": [exact("m")], "upstreams": [upstream("known")]}),
            "priority",
        ),
    ];
    for (body, field) in cases {
        let response = gateway.admin_post("/api/routes", &body).await;
        response.expect_status(422, &format!("invalid route {body}"));
        let fields = response.error_fields();
        assert!(
            fields.iter().any(|f| f == field),
            "{field} missing from {fields:?} for {body}"
        );
    }

    // A misspelt field is an error at its own path, not silently ignored.
    let typo = json!({"name": "r", "match": [exact("m")], "upstreams": [{"provider": "known", "wieght": 5}]});
    let response = gateway.admin_post("/api/routes", &typo).await;
    response.expect_status(422, "unknown field");
    let fields = response.error_fields();
    assert!(
        fields.iter().any(|f| f.starts_with("upstreams[0]")),
        "the unknown field's path should be under upstreams[0]: {fields:?}"
    );

    // PUT must not rename: the body's name has to equal the path's.
    gateway
        .add_route(&simple_route("fixed", exact("m"), "known"))
        .await;
    let response = gateway
        .admin_put(
            "/api/routes/fixed",
            &simple_route("renamed", exact("m"), "known"),
        )
        .await;
    response.expect_status(422, "PUT with a different name");
    assert!(response.error_fields().contains(&"name".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_bad_request() {
    let gateway = Gateway::start().await;
    for path in ["/api/providers", "/api/routes"] {
        let response = gateway
            .admin_request(
                reqwest::Method::POST,
                path,
                Some(switchyard_tests::DEFAULT_ADMIN_TOKEN),
                Some(br#"{"name": "x", "#.to_vec()),
            )
            .await;
        response.expect_status(400, path);
        response.admin_error("bad_request");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_tracks_revisions_and_snapshots() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    let response = gateway.admin_get("/api/status").await;
    response.expect_status(200, "status");
    let before: StatusView = serde_json::from_value(response.json()).expect("a status body");
    assert!(before.version >= 1);
    assert_eq!((before.providers, before.routes), (0, 0));
    assert_eq!(before.last_reload_error, None);
    assert!(!before.loaded_at.is_empty());

    let created = gateway
        .add_provider(&provider("p", &mock, &test_key("p")))
        .await;
    let version = snapshot_version(&created);
    gateway.add_route(&simple_route("r", exact("m"), "p")).await;
    let after: StatusView =
        serde_json::from_value(gateway.admin_get("/api/status").await.json()).expect("status");
    assert_eq!(
        after.config_revision,
        before.config_revision + 2,
        "each write bumps it"
    );
    assert!(version > before.version && after.version > version);
    assert_eq!((after.providers, after.routes), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_document_describes_the_api() {
    let gateway = Gateway::start().await;
    let response = gateway.admin_get("/api/openapi.json").await;
    response.expect_status(200, "openapi.json");
    let doc = response.json();
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    for path in [
        "/api/providers",
        "/api/providers/{name}",
        "/api/routes",
        "/api/routes/{name}",
        "/api/status",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI paths"
        );
    }

    // A route's strategy is a named enum, and the health view's route rows are described too.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["RoutingStrategy"]["enum"],
        json!([
            "weighted",
            "least_latency",
            "least_cost",
            "cost_under_latency",
            "least_busy",
            "sticky"
        ]),
        "{}",
        schemas["RoutingStrategy"]
    );
    assert_eq!(
        schemas["RouteSpec"]["properties"]["strategy"]["$ref"],
        "#/components/schemas/RoutingStrategy"
    );
    for name in ["RouteHealthView", "UpstreamHealthView"] {
        assert!(
            schemas.get(name).is_some(),
            "{name} missing from the schemas"
        );
    }
}

/// A route's strategy options are refused at their own paths, with the messages the console
/// shows next to the inputs: a missing target, a credential as the session header, an unknown
/// strategy, and the same inside a configuration document.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_strategy_options_are_validated() {
    let mock = MockUpstream::start("mock-a").await;
    let gateway = Gateway::start().await;
    gateway
        .add_provider(&provider("known", &mock, &test_key("known")))
        .await;
    gateway
        .add_route(&simple_route("x", exact("m"), "known"))
        .await;
    let with = |extra: Value| {
        let mut body = simple_route("x", exact("m"), "known");
        for (key, value) in extra.as_object().expect("an object") {
            body[key] = value.clone();
        }
        body
    };
    let cases = [
        (
            json!({"strategy": "cost_under_latency"}),
            "max_latency_ms",
            "cost_under_latency needs max_latency_ms, the latency target in milliseconds",
        ),
        (
            json!({"strategy": "sticky", "sticky_by": "header:authorization"}),
            "sticky_by",
            "'authorization' carries a credential; use \"key\" to stick by the client key",
        ),
        (
            json!({"strategy": "fastest"}),
            "strategy",
            "unknown variant `fastest`, expected one of `weighted`, `least_latency`, `least_cost`, \
             `cost_under_latency`, `least_busy`, `sticky`",
        ),
        (
            json!({"strategy": "sticky", "sticky_by": "session"}),
            "sticky_by",
            "expected \"consumer\", \"key\" or \"header:<name>\"",
        ),
        (
            json!({"max_latency_ms": 2000}),
            "max_latency_ms",
            "only the cost_under_latency strategy takes max_latency_ms",
        ),
    ];
    for (extra, field, message) in cases {
        let response = gateway
            .admin_put("/api/routes/x", &with(extra.clone()))
            .await;
        response.expect_status(422, &format!("route with {extra}"));
        let error = response.admin_error("validation_failed");
        assert_eq!(error["fields"][0]["field"], field, "{extra}: {error}");
        assert_eq!(error["fields"][0]["message"], message, "{extra}: {error}");
    }

    // Valid options are stored as written (the header name lowercased) and read back.
    let sticky = with(json!({"strategy": "sticky", "sticky_by": "header:X-Session-Id"}));
    gateway
        .admin_put("/api/routes/x", &sticky)
        .await
        .expect_status(200, "a sticky route");
    let stored: RouteSpec =
        serde_json::from_value(gateway.admin_get("/api/routes/x").await.json()).expect("a route");
    assert_eq!(
        stored.sticky_by.map(|s| s.to_string()).as_deref(),
        Some("header:x-session-id")
    );
    let timed = with(json!({"strategy": "cost_under_latency", "max_latency_ms": 2000}));
    gateway
        .admin_put("/api/routes/x", &timed)
        .await
        .expect_status(200, "a cost_under_latency route");
    let stored = gateway.admin_get("/api/routes/x").await.json();
    assert_eq!(stored["strategy"], "cost_under_latency");
    assert_eq!(stored["max_latency_ms"], 2000);

    // In a document, the path names the route.
    let mut document_route =
        with(json!({"strategy": "sticky", "sticky_by": "header:authorization"}));
    document_route["name"] = json!("y");
    let document = json!({"routes": [document_route]});
    let response = gateway.admin_post("/api/config/diff", &document).await;
    response.expect_status(422, "a document with a credential header");
    assert_eq!(response.error_fields(), ["routes[0].sticky_by"]);
}
