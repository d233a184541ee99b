//! What the audit tests share: reading the trail over the API, the revision and the audit rows
//! straight from the gateway's database (its SQLite file, or its PostgreSQL database when the
//! suite runs there), and the check that no secret shows anywhere.

use serde_json::{Value, json};
use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, ConnectOptions};
use switchyard_tests::{ApiResponse, Gateway, GatewayOptions};

/// A gateway whose clock the test may move, and that prunes the trail on demand.
pub async fn test_clock_gateway() -> Gateway {
    Gateway::start_with(GatewayOptions::default().args(["--test-clock"])).await
}

/// A read-only connection to the gateway's database: the test reads what the gateway wrote
/// without being able to change it.
pub async fn open_db(gateway: &Gateway) -> AnyConnection {
    sqlx::any::install_default_drivers();
    let url = switchyard_tests::store_engine::database_url_for(gateway.data_dir())
        .unwrap_or_else(|| format!("sqlite://{}?mode=ro", gateway.db_path().display()));
    let options: AnyConnectOptions = url.parse().expect("the database URL parses");
    let mut conn = options
        .connect()
        .await
        .expect("the gateway's database opens");
    // SQLite's own wait for a writer's lock; PostgreSQL readers never wait for writers.
    if gateway.db_path().exists() && !url.starts_with("postgres") {
        sqlx::raw_sql("PRAGMA busy_timeout = 5000")
            .execute(&mut conn)
            .await
            .expect("the busy timeout is set");
    }
    conn
}

/// The stored configuration revision, read from the database (the CLI writes without the
/// gateway, so its snapshot may not have caught up yet).
pub async fn revision(gateway: &Gateway) -> i64 {
    let mut db = open_db(gateway).await;
    sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
        .fetch_one(&mut db)
        .await
        .expect("the revision reads")
}

/// How many audit entries the database holds.
pub async fn entry_count(gateway: &Gateway) -> i64 {
    let mut db = open_db(gateway).await;
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_entries")
        .fetch_one(&mut db)
        .await
        .expect("the entries count")
}

/// Every column of every `audit_*` row, as text, for the secret scan.
pub async fn audit_rows_text(gateway: &Gateway) -> String {
    let mut db = open_db(gateway).await;
    // Each row's columns joined into one string, unescaped: what a secret could hide in.
    let entries: Vec<String> = sqlx::query_scalar(
        "SELECT revision || ' ' || at_ms || ' ' || actor || ' ' || COALESCE(source, '') || ' ' ||
                action || ' ' || summary || ' ' || COALESCE(CAST(rolled_back_to AS TEXT), '')
         FROM audit_entries",
    )
    .fetch_all(&mut db)
    .await
    .expect("the entries read");
    let changes: Vec<String> = sqlx::query_scalar(
        "SELECT revision || ' ' || kind || ' ' || name || ' ' || COALESCE(before, '') || ' ' ||
                COALESCE(after, '')
         FROM audit_changes",
    )
    .fetch_all(&mut db)
    .await
    .expect("the changes read");
    assert!(
        !entries.is_empty() && !changes.is_empty(),
        "the scan must have rows to scan"
    );
    format!("{}\n{}", entries.join("\n"), changes.join("\n"))
}

/// `GET {path}` on the admin API, asserting 200, as JSON.
pub async fn get_json(gateway: &Gateway, path: &str) -> Value {
    let response = gateway.admin_get(path).await;
    response.expect_status(200, &format!("GET {path}"));
    response.json()
}

/// One page of `GET /api/audit` with the query `query` (without the `?`).
pub async fn page(gateway: &Gateway, query: &str) -> Value {
    get_json(gateway, &format!("/api/audit?{query}")).await
}

/// `GET /api/audit/{revision}`: the entry with its documents and diffs.
pub async fn entry(gateway: &Gateway, revision: i64) -> Value {
    get_json(gateway, &format!("/api/audit/{revision}")).await
}

/// The revisions of a page's entries, in the order given.
pub fn revisions(page: &Value) -> Vec<i64> {
    page["entries"]
        .as_array()
        .unwrap_or_else(|| panic!("a page has entries: {page}"))
        .iter()
        .map(|entry| entry["revision"].as_i64().expect("an integer revision"))
        .collect()
}

/// Asserts that exactly one revision was made since `before` and that it is recorded as `action`
/// by `actor`; returns the entry's detail.
pub async fn one_entry(gateway: &Gateway, before: i64, action: &str, actor: &str) -> Value {
    let now = revision(gateway).await;
    assert_eq!(now, before + 1, "{action} by {actor} makes one revision");
    let newest = page(gateway, "limit=1").await;
    assert_eq!(revisions(&newest), [now], "the newest entry: {newest}");
    let detail = entry(gateway, now).await;
    assert_eq!(detail["revision"], now, "{detail}");
    assert_eq!(detail["action"], action, "{detail}");
    assert_eq!(detail["actor"], actor, "{detail}");
    assert!(
        detail["summary"].as_str().is_some_and(|s| !s.is_empty()),
        "a summary: {detail}"
    );
    assert!(detail["at_ms"].as_i64().is_some(), "a time: {detail}");
    detail
}

/// The change to `kind`/`name` in an entry's detail.
pub fn change<'a>(detail: &'a Value, kind: &str, name: &str) -> &'a Value {
    detail["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("an entry has changes: {detail}"))
        .iter()
        .find(|c| c["kind"] == kind && c["name"] == name)
        .unwrap_or_else(|| panic!("no change to {kind} '{name}' in {detail}"))
}

/// A change's document before (`"before"`) or after (`"after"`) the write; `Value::Null` when
/// absent.
pub fn doc<'a>(change: &'a Value, side: &str) -> &'a Value {
    change.get(side).unwrap_or(&Value::Null)
}

/// Panics when any of `secrets` occurs in `text`, naming where.
pub fn assert_no_secret(text: &str, secrets: &[String], where_: &str) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{where_} contains the secret {secret}"
        );
    }
}

/// Every audit response the API gives for this gateway's trail: each list page (walked to the
/// end) and each entry's detail, as text.
pub async fn every_audit_response(gateway: &Gateway) -> String {
    let mut text = String::new();
    let mut cursor: Option<i64> = None;
    loop {
        let query = match cursor {
            Some(cursor) => format!("limit=500&cursor={cursor}"),
            None => "limit=500".to_owned(),
        };
        let listed = page(gateway, &query).await;
        text.push_str(&listed.to_string());
        for revision in revisions(&listed) {
            text.push_str(&entry(gateway, revision).await.to_string());
        }
        match listed["next_cursor"].as_i64() {
            Some(next) => cursor = Some(next),
            None => return text,
        }
    }
}

/// `PUT /api/debug/clock` to `offset_ms` from the system time.
pub async fn move_clock(gateway: &Gateway, offset_ms: i64) {
    gateway
        .admin_put("/api/debug/clock", &json!({ "offset_ms": offset_ms }))
        .await
        .expect_status(200, "moving the test clock");
}

/// `POST /api/debug/prune-audit`, returning how many entries went.
pub async fn prune_now(gateway: &Gateway) -> u64 {
    let response = gateway
        .admin_post("/api/debug/prune-audit", &json!({}))
        .await;
    response.expect_status(200, "pruning the audit trail");
    response.json()["deleted"]
        .as_u64()
        .expect("a count of deleted entries")
}

/// The configuration document as JSON, now (`at` = `None`) or as of a revision.
pub async fn export(gateway: &Gateway, at: Option<i64>) -> ApiResponse {
    let path = match at {
        Some(at) => format!("/api/config?format=json&at={at}"),
        None => "/api/config?format=json".to_owned(),
    };
    gateway.admin_get(&path).await
}

/// An export with what legitimately differs between equal configurations taken out: key ids and
/// last-use times (a restored key keeps its id, but ids are not configuration).
pub fn comparable(mut document: Value) -> Value {
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.remove("id");
                map.remove("last_used_at");
                for item in map.values_mut() {
                    strip(item);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut document);
    document
}
