//! `switchyard migrate`'s copy: the tables it copies are exactly the schemas' tables (so a new
//! table cannot be forgotten), and a populated SQLite installation arrives whole on PostgreSQL.

use std::path::Path;

use serde_json::json;
use switchyard_shared::{ConsumerSpec, NewKey, ProviderSpec, RouteSpec};

use super::*;
use crate::store::test_postgres::TestPostgres;
use crate::store::{AuditFilter, Store};

fn sorted(tables: &[&str]) -> Vec<String> {
    let mut tables: Vec<String> = tables.iter().map(|t| (*t).to_owned()).collect();
    tables.sort();
    tables
}

/// The tables of a PostgreSQL schema, without the migrator's.
async fn postgres_tables(db: &Db, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
         AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .bind(schema)
    .fetch_all(db.pool())
    .await
    .expect("the tables")
}

/// Every table of both SQLite schemas (the configuration's and the request log's, as their
/// migrations make them) is in the lists migrate copies, and nothing else is: a migration that
/// adds a table fails here until migrate copies it.
#[tokio::test]
async fn migrate_copies_every_table_of_the_sqlite_schemas() {
    let dir = tempfile::tempdir().expect("a scratch dir");
    let store = Store::open(dir.path()).await.expect("the store opens");
    let usage = UsageDb::open(&dir.path().join(USAGE_DB_FILE))
        .await
        .expect("the request log opens");
    assert_eq!(
        sqlite_tables(store.db.pool()).await.expect("tables"),
        sorted(CONFIG_TABLES)
    );
    usage.close().await;
    let records = Db::open_sqlite_read_only(&dir.path().join(USAGE_DB_FILE))
        .await
        .expect("opens read-only");
    assert_eq!(
        sqlite_tables(records.pool()).await.expect("tables"),
        sorted(USAGE_TABLES)
    );
    records.close().await;
    store.close().await;
}

/// The same on PostgreSQL: its twin migrations make exactly the tables migrate copies.
#[tokio::test]
async fn migrate_copies_every_table_of_the_postgres_schemas() {
    let Some(server) = TestPostgres::start() else {
        return;
    };
    let url = server.create_database().await;
    let db = Db::open_postgres(&url).await.expect("opens");
    db.migrate().await.expect("migrates");
    UsageDb::open_postgres(&url)
        .await
        .expect("the request log opens")
        .close()
        .await;
    assert_eq!(postgres_tables(&db, "public").await, sorted(CONFIG_TABLES));
    assert_eq!(
        postgres_tables(&db, POSTGRES_SCHEMA).await,
        sorted(USAGE_TABLES)
    );
    db.close().await;
}

async fn populate(dir: &Path) -> Store {
    let store = Store::open(dir).await.expect("opens");
    let origin = Origin::system();
    let provider: ProviderSpec = serde_json::from_value(json!({
        "name": "openai", "type": "openai-compatible", "base_url": "https://a.example.com/v1",
        "api_keys": ["sk-test-one", "sk-test-two"],
    }))
    .expect("a provider");
    store
        .create_provider(&origin, provider)
        .await
        .expect("created");
    let route: RouteSpec = serde_json::from_value(json!({
        "name": "chat", "match": [{"type": "exact", "value": "chat"}],
        "upstreams": [{"provider": "openai", "model": "gpt"}],
    }))
    .expect("a route");
    store.create_route(&origin, route).await.expect("created");
    let consumer: ConsumerSpec =
        serde_json::from_value(json!({"name": "team", "description": "d"})).expect("a consumer");
    store
        .create_consumer(&origin, consumer)
        .await
        .expect("created");
    store
        .create_key(
            &origin,
            "team",
            NewKey {
                name: "ci".into(),
                ..NewKey::default()
            },
        )
        .await
        .expect("issued");
    store
        .create_first_admin(&origin, "admin", "$argon2id$not-a-real-hash")
        .await
        .expect("account");
    store
}

/// A populated data dir arrives whole: the same export, accounts, trail and records, ids kept
/// and new ids after them; the revision is the source's plus one with a "migrate" entry; a
/// second run is refused without `--force` and replaces everything with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_populated_data_dir_arrives_whole_and_a_second_run_needs_force() {
    let Some(server) = TestPostgres::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("a scratch dir");
    let source = populate(dir.path()).await;
    let usage = UsageDb::open(&dir.path().join(USAGE_DB_FILE))
        .await
        .expect("the request log opens");
    let rows: Vec<crate::metering::LogRow> = (0..12_345)
        .map(|i| crate::metering::LogRow {
            request_id: format!("req-{i}"),
            time_ms: 1_750_000_000_000 + i,
            endpoint: "chat",
            status: 200,
            cost_micros: Some(7),
            stream: i % 2 == 0,
            ..Default::default()
        })
        .collect();
    for batch in rows.chunks(1_000) {
        usage.insert_batch(batch).await.expect("written");
    }
    usage.close().await;
    let source_revision = source.revision().await.expect("revision");
    let source_export = source.export().await.expect("export");
    source.close().await;

    let url = server.create_database().await;
    let origin = Origin::cli();
    let report = sqlite_to_postgres(dir.path(), &url, false, &origin)
        .await
        .expect("migrates");
    assert_eq!(report.revision, source_revision + 1);
    assert!(!report.sealed);
    assert!(report.config.contains(&("provider_keys", 2)));
    assert_eq!(report.records[0], ("requests", 12_345));

    let target = Store::open_postgres(&url, None).await.expect("opens");
    assert_eq!(
        target.revision().await.expect("revision"),
        source_revision + 1
    );
    assert_eq!(target.export().await.expect("export"), source_export);
    assert!(target.admin_exists().await.expect("accounts"));
    let page = target
        .audit_page(&AuditFilter::default())
        .await
        .expect("the trail");
    let newest = &page.entries[0];
    assert_eq!(newest.action, "migrate");
    assert!(
        newest.summary.starts_with("migrated from SQLite"),
        "{newest:?}"
    );
    assert_eq!(page.entries.len() as i64, source_revision + 1);
    // A new resource gets an id after the copied ones.
    let consumer: ConsumerSpec =
        serde_json::from_value(json!({"name": "later"})).expect("a consumer");
    let later = target
        .create_consumer(&Origin::system(), consumer)
        .await
        .expect("created after the copied ids");
    assert!(later.id > 1);
    target.close().await;

    let records = UsageDb::open_postgres(&url).await.expect("opens");
    let newest = records
        .log("req-12344")
        .await
        .expect("read")
        .expect("found");
    assert!(newest.stream);
    // The rollups came too: the anonymous records' spend (consumer 0, as rollups store it).
    assert_eq!(
        records
            .spend_since(super::super::usage::SpendScope::Consumer(0), 0)
            .await
            .expect("spend"),
        12_345 * 7
    );
    records
        .insert_batch(&rows[..1])
        .await
        .expect("a new record gets a new id");
    records.close().await;

    let again = sqlite_to_postgres(dir.path(), &url, false, &origin).await;
    let Err(StoreError::Conflict { message, .. }) = again else {
        panic!("a second migration is refused: {again:?}");
    };
    assert!(message.contains("--force"), "{message}");
    let forced = sqlite_to_postgres(dir.path(), &url, true, &origin)
        .await
        .expect("replaces with --force");
    assert_eq!(forced.revision, source_revision + 1);
    assert_eq!(forced.records[0], ("requests", 12_345));
}
