//! The `client_auth` setting (admin API, flag, environment), the refusal to start an open proxy
//! on a public address, and the admin API's validation of consumers, keys and route limits.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::consumers::{serve_on, serve_on_with_env};
use switchyard_tests::{Gateway, GatewayOptions};

use super::{
    DEEPSEEK, MISSING, assert_key_refused, assert_no_client_key_upstream, chat, consumer_with_key,
    gpt_route, setup, setup_with,
};

/// `GET /api/settings`, asserting 200.
async fn settings(gateway: &Gateway) -> Value {
    let response = gateway.admin_get("/api/settings").await;
    response.expect_status(200, "GET /api/settings");
    response.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_read_and_written_and_live_at_once() {
    let (gateway, mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    assert_eq!(
        settings(&gateway).await,
        json!({"client_auth": "off", "effective_client_auth": "off",
               "client_auth_from_flag": false, "proxy_loopback": true,
               "log_retention_days": 30, "log_max_rows": 10_000_000, "cache_max_mb": 256})
    );
    gateway
        .chat_as(None, &chat(DEEPSEEK))
        .await
        .expect_status(200, "anonymous while off");

    let view = gateway.set_client_auth("required").await;
    assert_eq!(view["client_auth"], "required", "{view}");
    assert_eq!(view["effective_client_auth"], "required", "{view}");
    let response = gateway.chat_as(None, &chat(DEEPSEEK)).await;
    assert_key_refused(&response, MISSING, None);
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "with a key");
    assert_eq!(settings(&gateway).await["client_auth"], "required");

    let view = gateway.set_client_auth("off").await;
    assert_eq!(view["effective_client_auth"], "off", "{view}");
    gateway
        .chat_as(None, &chat(DEEPSEEK))
        .await
        .expect_status(200, "anonymous again");
    assert_eq!(mock.request_count(), 3);

    for bad in [
        json!({"client_auth": "sometimes"}),
        json!({"client_auth": 1}),
    ] {
        let response = gateway.admin_put("/api/settings", &bad).await;
        assert!(
            response.status.is_client_error(),
            "PUT {bad} answered {}: {}",
            response.status,
            response.text()
        );
    }
    assert_eq!(
        settings(&gateway).await["client_auth"],
        "off",
        "nothing changed"
    );

    // The cluster's `redis_failure` is a setting like the others: stored, shown, validated
    // (it only acts on a gateway started with --redis-url).
    let mut with_closed = settings(&gateway).await;
    for derived in [
        "effective_client_auth",
        "client_auth_from_flag",
        "proxy_loopback",
    ] {
        with_closed.as_object_mut().map(|o| o.remove(derived));
    }
    with_closed["redis_failure"] = json!("closed");
    gateway
        .admin_put("/api/settings", &with_closed)
        .await
        .expect_status(200, "redis_failure closed");
    assert_eq!(settings(&gateway).await["redis_failure"], "closed");
    with_closed["redis_failure"] = json!("sometimes");
    let response = gateway.admin_put("/api/settings", &with_closed).await;
    response.expect_status(422, "an unknown redis_failure");
    assert!(
        response.text().contains("redis_failure"),
        "{}",
        response.text()
    );
    assert_eq!(
        settings(&gateway).await["redis_failure"],
        "closed",
        "nothing changed"
    );
    with_closed["redis_failure"] = json!("open");
    gateway
        .admin_put("/api/settings", &with_closed)
        .await
        .expect_status(200, "redis_failure open");
    assert!(
        settings(&gateway).await.get("redis_failure").is_none(),
        "the default is not written out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_auth_flag_and_environment_override_the_stored_setting() {
    let flagged = GatewayOptions::default().args(["--client-auth", "required"]);
    let from_env = GatewayOptions::default().env("SWITCHYARD_CLIENT_AUTH", "required");
    for options in [flagged, from_env] {
        let (gateway, mock) = setup_with(options).await;
        let view = settings(&gateway).await;
        assert_eq!(view["effective_client_auth"], "required", "{view}");
        assert_eq!(view["client_auth_from_flag"], true, "{view}");
        let response = gateway.chat_as(None, &chat(DEEPSEEK)).await;
        assert_key_refused(&response, MISSING, None);

        // The stored value may change, but the flag stays in force.
        let view = gateway.set_client_auth("off").await;
        assert_eq!(view["client_auth"], "off", "{view}");
        assert_eq!(view["effective_client_auth"], "required", "{view}");
        let response = gateway.chat_as(None, &chat(DEEPSEEK)).await;
        assert_key_refused(&response, MISSING, None);
        assert_eq!(mock.request_count(), 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_proxy_on_a_public_address_refuses_to_start() {
    let dir = tempfile::tempdir().expect("a data directory");
    let printed = serve_on("0.0.0.0:0", dir.path(), &[])
        .await
        .expect_refusal("client_auth off on 0.0.0.0 without --allow-open-proxy");
    assert!(
        printed.contains("client_auth") || printed.contains("--client-auth"),
        "the message names client_auth:\n{printed}"
    );
    assert!(
        printed.contains("--allow-open-proxy"),
        "the message names --allow-open-proxy:\n{printed}"
    );
    // An explicit `off` is no different.
    serve_on("0.0.0.0:0", dir.path(), &["--client-auth", "off"])
        .await
        .expect_refusal("--client-auth off on 0.0.0.0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_public_address_starts_with_keys_required_or_the_open_proxy_allowed() {
    let dir = tempfile::tempdir().expect("a data directory");
    let server = serve_on("0.0.0.0:0", dir.path(), &["--client-auth", "required"])
        .await
        .expect_listening("--client-auth required on 0.0.0.0");
    assert!(
        server.announced_proxy_url.contains("0.0.0.0"),
        "{}",
        server.announced_proxy_url
    );
    let view = server.admin(Method::GET, "/api/settings", None).await;
    view.expect_status(200, "GET /api/settings");
    let view = view.json();
    assert_eq!(view["proxy_loopback"], false, "{view}");
    assert_eq!(view["effective_client_auth"], "required", "{view}");
    let response = server.chat_as(None, &chat(DEEPSEEK)).await;
    assert_key_refused(&response, MISSING, None);
    server.stop().await;

    let server = serve_on("0.0.0.0:0", dir.path(), &["--allow-open-proxy"])
        .await
        .expect_listening("--allow-open-proxy on 0.0.0.0");
    let view = server
        .admin(Method::GET, "/api/settings", None)
        .await
        .json();
    assert_eq!(view["effective_client_auth"], "off", "{view}");
    let response = server.chat_as(None, &chat(DEEPSEEK)).await;
    assert_eq!(
        response.status,
        404,
        "anonymous and served (no route exists): {}",
        response.text()
    );
    server.stop().await;

    // The environment variable works like the flag.
    let env = [("SWITCHYARD_ALLOW_OPEN_PROXY", "true")];
    serve_on_with_env("0.0.0.0:0", dir.path(), &[], &env)
        .await
        .expect_listening("SWITCHYARD_ALLOW_OPEN_PROXY=true on 0.0.0.0")
        .stop()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_required_setting_keeps_a_public_proxy_closed() {
    let mut gateway = Gateway::start().await;
    gateway.set_client_auth("required").await;
    gateway.shutdown().await;

    let server = serve_on("0.0.0.0:0", gateway.data_dir(), &[])
        .await
        .expect_listening("client_auth stored as required, on 0.0.0.0");
    let view = server
        .admin(Method::GET, "/api/settings", None)
        .await
        .json();
    assert_eq!(view["effective_client_auth"], "required", "{view}");
    assert_eq!(view["client_auth_from_flag"], false, "{view}");
    let response = server
        .admin(
            Method::PUT,
            "/api/settings",
            Some(&json!({"client_auth": "off"})),
        )
        .await;
    assert_eq!(
        response.error_fields(),
        vec!["client_auth"],
        "turning keys off on a public address without --allow-open-proxy"
    );
    let message = response.json()["error"].to_string();
    assert!(message.contains("allow-open-proxy"), "says why: {message}");
    let view = server
        .admin(Method::GET, "/api/settings", None)
        .await
        .json();
    assert_eq!(view["client_auth"], "required", "nothing changed: {view}");
    let response = server.chat_as(None, &chat(DEEPSEEK)).await;
    assert_key_refused(&response, MISSING, None);
    server.stop().await;
}

/// POSTs `body` to `path` and asserts a 422 naming exactly `fields`.
async fn assert_invalid(
    gateway: &Gateway,
    method: Method,
    path: &str,
    body: Value,
    fields: &[&str],
) {
    let bytes = serde_json::to_vec(&body).expect("JSON serializes");
    let response = gateway
        .admin_request(
            method.clone(),
            path,
            Some(switchyard_tests::DEFAULT_ADMIN_TOKEN),
            Some(bytes),
        )
        .await;
    response.expect_status(422, &format!("{method} {path} {body}"));
    let mut got = response.error_fields();
    got.sort();
    let mut want: Vec<String> = fields.iter().map(|f| (*f).to_owned()).collect();
    want.sort();
    assert_eq!(got, want, "{method} {path} {body}: {}", response.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_consumers_keys_and_limits_are_refused_with_their_fields() {
    let (gateway, _mock) = setup().await;
    let key = consumer_with_key(&gateway, json!({"name": "team-a"})).await;
    let post = Method::POST;
    let put = Method::PUT;
    let cases = [
        (
            post.clone(),
            "/api/consumers",
            json!({"name": "team-b", "limits": {"rpm": 0}}),
            vec!["limits.rpm"],
        ),
        (
            post.clone(),
            "/api/consumers",
            json!({"name": "Team B!"}),
            vec!["name"],
        ),
        (
            post.clone(),
            "/api/consumers",
            json!({"name": "team-b", "limits": {"tpm": 0, "max_concurrent": 0}}),
            vec!["limits.tpm", "limits.max_concurrent"],
        ),
        (
            post.clone(),
            "/api/consumers",
            json!({"name": "team-b", "keys": [{"name": "ci", "key": "sy-x"}]}),
            vec!["keys"],
        ),
        (
            post.clone(),
            "/api/consumers",
            json!({"name": "team-b", "allowed_routes": ["gpt", "gpt"]}),
            vec!["allowed_routes[1]"],
        ),
        (
            put.clone(),
            "/api/consumers/team-a",
            json!({"name": "team-z"}),
            vec!["name"],
        ),
        (
            put.clone(),
            "/api/consumers/team-a",
            json!({"name": "team-a", "limits": {"rpd": 0}}),
            vec!["limits.rpd"],
        ),
        (
            post.clone(),
            "/api/consumers/team-a/keys",
            json!({"name": ""}),
            vec!["name"],
        ),
        (
            post.clone(),
            "/api/consumers/team-a/keys",
            json!({"name": "k", "limits": {"rpm": 0}}),
            vec!["limits.rpm"],
        ),
        (
            post.clone(),
            "/api/consumers/team-a/keys",
            json!({"name": "k", "expires_at": "tomorrow"}),
            vec!["expires_at"],
        ),
        (
            put.clone(),
            "/api/routes/gpt",
            gpt_route(json!({"limits": {"rpm": 0}})),
            vec!["limits.rpm"],
        ),
        (
            put.clone(),
            "/api/routes/gpt",
            gpt_route(json!({"auth": {"allowed_consumers": ["Not A Slug"]}})),
            vec!["auth.allowed_consumers[0]"],
        ),
    ];
    for (method, path, body, fields) in cases {
        assert_invalid(&gateway, method, path, body, &fields).await;
    }
    let key_path = format!("/api/consumers/team-a/keys/{}", key.id);
    assert_invalid(
        &gateway,
        put.clone(),
        &key_path,
        json!({"limits": {"tpd": 0}}),
        &["limits.tpd"],
    )
    .await;
    assert_invalid(
        &gateway,
        put,
        &key_path,
        json!({"expires_at": "soon"}),
        &["expires_at"],
    )
    .await;

    gateway
        .admin_post("/api/consumers", &json!({"name": "team-a"}))
        .await
        .expect_status(409, "creating a consumer twice")
        .admin_error("conflict");

    // None of them changed anything.
    let consumers = gateway.admin_get("/api/consumers").await.json();
    assert_eq!(consumers.as_array().map(Vec::len), Some(1), "{consumers}");
    assert!(consumers[0].get("limits").is_none(), "{consumers}");
    gateway
        .chat_as(Some(&key.key), &chat(DEEPSEEK))
        .await
        .expect_status(200, "the key still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_playground_relays_a_consumer_key_while_keys_are_required() {
    let (gateway, mock) = setup().await;
    // Exact routes are listed by /v1/models: one the consumer may call, one it may not.
    for (name, model) in [
        ("listed-deepseek", "deepseek-listed"),
        ("listed-gpt", "gpt-listed"),
    ] {
        gateway
            .add_route(&switchyard_tests::fixtures::simple_route(
                name,
                switchyard_tests::fixtures::exact(model),
                "up",
            ))
            .await
            .expect_status(201, name);
    }
    let key = consumer_with_key(
        &gateway,
        json!({"name": "team-a", "allowed_models": ["deepseek-*"]}),
    )
    .await;
    gateway.set_client_auth("required").await;
    let relay = |path: &str, key: Option<&str>| {
        let mut request = gateway
            .client()
            .request(
                if path.ends_with("models") {
                    Method::GET
                } else {
                    Method::POST
                },
                format!("{}{path}", gateway.admin_url()),
            )
            .bearer_auth(switchyard_tests::DEFAULT_ADMIN_TOKEN);
        if !path.ends_with("models") {
            request = request.json(&chat(DEEPSEEK));
        }
        if let Some(key) = key {
            request = request.header("x-switchyard-client-key", key);
        }
        switchyard_tests::ApiResponse::send(request)
    };
    let chat_path = "/api/playground/chat/completions";
    let refused = relay(chat_path, None).await;
    assert_key_refused(&refused, MISSING, None);
    assert_eq!(
        mock.request_count(),
        0,
        "the admin token is not a client key"
    );
    relay(chat_path, Some(&key.key))
        .await
        .expect_status(200, "the playground with the consumer's key");
    assert_no_client_key_upstream(&mock);
    let models = relay("/api/playground/models", Some(&key.key)).await;
    models.expect_status(200, "models as the consumer sees them");
    let ids: Vec<String> = models.json()["data"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter_map(|m| m["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(ids, ["deepseek-listed"], "only the consumer's models");
}
