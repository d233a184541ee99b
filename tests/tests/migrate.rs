//! `switchyard migrate --to postgres://…` end to end: a single-node gateway's data dir, populated
//! through the admin API and the proxy, is copied into a throwaway PostgreSQL; a gateway started
//! on that database (with an empty data dir of its own) serves the same client key through the
//! same route, lists the same resources, shows the old records and the migration in the audit
//! trail; and a second migration is refused without `--force`.

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::cluster::{Postgres, require_or_skip};
use switchyard_tests::consumers::KeyHeader;
use switchyard_tests::fixtures::{prefix, provider, simple_route, test_key};
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions, MockUpstream, run_cli, store_engine};

const USER: &str = "operator";
const PASSWORD: &str = "a long enough console password";
/// Trust authentication ignores it, so it can stand for a real one that must never be printed.
const DB_PASSWORD: &str = "hunter2-db-password";

fn chat() -> Value {
    json!({"model": "gpt-migrate", "messages": [{"role": "user", "content": "hello"}]})
}

/// A chat with the client key, checked to be served by the `chat` route.
async fn chat_with_key(gateway: &Gateway, key: &str, request_id: &str) {
    let request = KeyHeader::Bearer
        .apply(gateway.chat_request(&chat()), key)
        .header("x-request-id", request_id);
    let response = ApiResponse::send(request).await;
    response.expect_status(200, "a chat with the client key");
    assert_eq!(response.header("x-switchyard-route"), Some("chat"));
}

/// The names in a list answer, in order.
fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// What the admin API lists, for comparing two gateways.
async fn resources(gateway: &Gateway) -> Vec<Value> {
    let mut lists = Vec::new();
    for path in [
        "/api/providers",
        "/api/routes",
        "/api/consumers",
        "/api/settings",
    ] {
        let response = gateway.admin_get(path).await;
        response.expect_status(200, path);
        lists.push(response.json());
    }
    lists
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_data_dir_migrates_to_postgres_and_keeps_serving() {
    if store_engine::on_postgres() {
        eprintln!(
            "skipped: migrate copies from SQLite, and {} puts the gateways on PostgreSQL",
            store_engine::TEST_POSTGRES_ENV
        );
        return;
    }
    let Some(pg) = require_or_skip(Postgres::start()) else {
        return;
    };
    let url = pg
        .create_database("migrated")
        .expect("creates the database")
        .replacen("postgres@", &format!("postgres:{DB_PASSWORD}@"), 1);

    // A single node on SQLite, populated over the admin API and the proxy.
    let mock = MockUpstream::start("up").await;
    let mut single = Gateway::start().await;
    single
        .add_provider(&provider("up", &mock, &test_key("up")))
        .await;
    single
        .add_route(&simple_route("chat", prefix("gpt-"), "up"))
        .await;
    single
        .add_consumer(&json!({"name": "team", "limits": {"rpm": 600, "max_concurrent": 4}}))
        .await;
    let key = single.issue_key("team", &json!({"name": "ci"})).await;
    single.set_client_auth("required").await;
    let setup = json!({"username": USER, "password": PASSWORD, "setup_code": single.setup_code()});
    single
        .admin_post("/api/auth/setup", &setup)
        .await
        .expect_status(201, "the console account");
    for n in 0..3 {
        chat_with_key(&single, &key.key, &format!("before-migrate-{n}")).await;
    }
    let old_logs = single.settled_logs().await;
    assert!(old_logs.len() >= 3, "{} records", old_logs.len());
    let before = resources(&single).await;
    assert_eq!(names(&before[0]), ["up"]);
    assert_eq!(names(&before[2]), ["team"]);
    // The revision the store holds, from the newest audit entry: the console account's creation
    // is audited (a new revision) without changing the configuration, so the status's loaded
    // revision may lag it until the next revision poll.
    let trail = single.admin_get("/api/audit").await.json();
    let revision = trail["entries"][0]["revision"].clone();
    assert!(revision.as_i64().is_some(), "a revision: {trail}");
    assert!(
        single.shutdown().await.success(),
        "the single node stops cleanly"
    );

    let migrated = run_cli(&["migrate", "--to", &url], single.data_dir()).await;
    migrated.expect_success("switchyard migrate");
    let printed = format!("{}{}", migrated.stdout, migrated.stderr);
    assert!(!printed.contains(DB_PASSWORD), "{printed}");
    assert!(printed.contains("postgres:***@"), "{printed}");
    for table in [
        "providers",
        "consumer_keys",
        "admin_users",
        "audit_entries",
        "requests",
    ] {
        assert!(printed.contains(table), "{table} counted: {printed}");
    }
    assert!(printed.contains("master key"), "{printed}");

    // A cluster node: the database from the environment, an empty data dir of its own.
    let node =
        Gateway::start_with(GatewayOptions::default().env("SWITCHYARD_DATABASE_URL", &url)).await;
    chat_with_key(&node, &key.key, "after-migrate").await;
    let after = resources(&node).await;
    assert_eq!(after[0], before[0], "the same providers");
    assert_eq!(after[1], before[1], "the same routes");
    assert_eq!(names(&after[2]), names(&before[2]), "the same consumers");
    assert_eq!(
        after[2][0]["limits"], before[2][0]["limits"],
        "the same limits"
    );
    assert_eq!(after[3], before[3], "the same settings");
    assert_eq!(after[3]["client_auth"], "required");
    let status = node.admin_get("/api/status").await.json();
    assert_eq!(
        status["config_revision"].as_i64(),
        revision.as_i64().map(|r| r + 1),
        "the source's revision plus one: {status}"
    );

    // The old records are there, with the new one after them.
    let logs = node.settled_logs().await;
    for n in 0..3 {
        let id = format!("before-migrate-{n}");
        assert!(
            logs.iter().any(|log| log.request_id == id),
            "{id} is in the migrated log"
        );
    }
    assert!(logs.iter().any(|log| log.request_id == "after-migrate"));

    // The migration is in the audit trail, by the command line.
    let trail = node.admin_get("/api/audit").await.json();
    let newest = &trail["entries"][0];
    assert_eq!(newest["action"], "migrate", "{trail}");
    assert!(
        newest["summary"]
            .as_str()
            .is_some_and(|s| s.starts_with("migrated from SQLite")),
        "{newest}"
    );
    assert!(
        newest["actor"]
            .as_str()
            .is_some_and(|a| a.starts_with("cli:")),
        "{newest}"
    );

    // The console account signs in on the cluster node.
    let login = node
        .client()
        .request(Method::POST, format!("{}/api/auth/login", node.admin_url()))
        .json(&json!({"username": USER, "password": PASSWORD}));
    ApiResponse::send(login)
        .await
        .expect_status(200, "the migrated console account signs in");

    // A second migration into the now populated database is refused and changes nothing.
    let again = run_cli(&["migrate", "--to", &url], single.data_dir()).await;
    let refused = again.expect_failure("a second migrate without --force");
    assert!(
        refused.contains("already holds a configuration") && refused.contains("--force"),
        "{refused}"
    );
    assert!(!refused.contains(DB_PASSWORD), "{refused}");
    chat_with_key(&node, &key.key, "after-refusal").await;
}
