//! Copying a single-node SQLite installation into an empty PostgreSQL database (`switchyard
//! migrate`): the configuration store's tables in one transaction, keeping their ids, then the
//! request log's in batches.
//!
//! The tables are copied by name in [`CONFIG_TABLES`] and [`USAGE_TABLES`] order, and their
//! columns are read from both schemas at run time: a table or column one side has and the other
//! lacks stops the migration before anything is written, and the tests compare these lists with
//! the migrations, so a new table cannot be left behind silently. Values are copied as stored,
//! provider secrets included (sealed or plain).

use std::path::Path;

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use super::audit::{Audit, Origin};
use super::usage::{POSTGRES_SCHEMA, USAGE_DB_FILE, UsageDb};
use super::{DB_FILE, Db, Result, StoreError};
use crate::secrets::Sealer;

/// The configuration store's tables, each after the tables it references.
pub const CONFIG_TABLES: &[&str] = &[
    "meta",
    "settings",
    "providers",
    "provider_keys",
    "routes",
    "route_providers",
    "guardrails",
    "consumers",
    "consumer_keys",
    "admin_users",
    "admin_sessions",
    "audit_entries",
    "audit_changes",
];

/// The request log's tables (`usage.db`).
pub const USAGE_TABLES: &[&str] = &["requests", "rollups"];

/// Records are copied in transactions of this many rows, so a large log neither holds one huge
/// transaction nor commits row by row.
const RECORD_BATCH: usize = 5_000;

/// PostgreSQL takes at most 65,535 parameters per statement.
const MAX_PARAMETERS: usize = 65_535;

/// What a migration copied.
#[derive(Debug, Default)]
pub struct MigrateReport {
    /// Rows per configuration table, in copy order.
    pub config: Vec<(&'static str, u64)>,
    /// Rows per request log table; empty when the data dir has no `usage.db`.
    pub records: Vec<(&'static str, u64)>,
    /// The target's revision after the migration: the source's plus one.
    pub revision: i64,
    /// Whether the copied provider secrets are sealed with a master key.
    pub sealed: bool,
}

/// Copies the SQLite installation in `data_dir` into the PostgreSQL database at `url`, which must
/// hold no configuration and no records unless `force` (then what is there is replaced). The
/// source is only read. The URL's password is never put in an error.
pub async fn sqlite_to_postgres(
    data_dir: &Path,
    url: &str,
    force: bool,
    origin: &Origin,
) -> Result<MigrateReport> {
    let config_path = data_dir.join(DB_FILE);
    if !config_path.is_file() {
        return Err(StoreError::NotFound(format!(
            "no configuration store to migrate: {} does not exist",
            config_path.display()
        )));
    }
    let source = Db::open_sqlite_read_only(&config_path).await?;
    let usage_path = data_dir.join(USAGE_DB_FILE);
    let usage_source = if usage_path.is_file() {
        Some(Db::open_sqlite_read_only(&usage_path).await?)
    } else {
        None
    };
    let target = Db::open_postgres(url).await?;
    let result = async {
        target.migrate().await?;
        // Creates the request log's schema and tables (and migrates them) as a gateway would.
        UsageDb::open_postgres(url).await?.close().await;
        let mut report = MigrateReport::default();
        // The configuration is checked first, as it is the more telling refusal; the copy checks
        // it again inside its transaction.
        check_config_empty(&mut *target.pool().acquire().await?, force).await?;
        if let Some(usage) = &usage_source {
            check_records_empty(target.pool(), force).await?;
            check_tables(usage.pool(), USAGE_TABLES, USAGE_DB_FILE).await?;
        }
        copy_config(&source, &target, force, origin, &mut report).await?;
        if let Some(usage) = &usage_source {
            report.records = copy_records(usage.pool(), target.pool(), force)
                .await
                .map_err(|error| StoreError::Conflict {
                    message: format!(
                        "the configuration was copied, but copying the request records failed \
                         ({error}); run the migration again with --force to start over"
                    ),
                    routes: Vec::new(),
                })?;
        }
        Ok(report)
    }
    .await;
    source.close().await;
    if let Some(usage) = usage_source {
        usage.close().await;
    }
    target.close().await;
    result
}

/// The configuration: every table in one transaction (so a failed migration leaves the target
/// as it was), ids kept, each identity's next value set past the copied ids, and the revision
/// bumped past the source's with an audit entry that says where it came from.
async fn copy_config(
    source: &Db,
    target: &Db,
    force: bool,
    origin: &Origin,
    report: &mut MigrateReport,
) -> Result<()> {
    check_tables(source.pool(), CONFIG_TABLES, DB_FILE).await?;
    // One snapshot of the source: a gateway still writing to it cannot tear the copy.
    let mut from = source.begin_read().await?;
    let mut tx = target.begin_write().await?;
    check_config_empty(&mut tx, force).await?;
    let schema: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&mut *tx)
        .await?;
    for table in CONFIG_TABLES.iter().rev() {
        sqlx::query(&format!("DELETE FROM {table}"))
            .execute(&mut *tx)
            .await?;
    }
    for table in CONFIG_TABLES {
        let columns = matched_columns(&mut from, &mut tx, &schema, table).await?;
        let rows = sqlx::query(&columns.select(table))
            .fetch_all(&mut *from)
            .await?;
        let cells = rows
            .iter()
            .map(|row| columns.read(row))
            .collect::<Result<Vec<_>>>()?;
        for chunk in cells.chunks(columns.rows_per_statement()) {
            insert_rows(&mut tx, &format!("{schema}.{table}"), &columns, chunk).await?;
        }
        set_identity(&mut tx, &format!("{schema}.{table}"), &columns).await?;
        report.config.push((table, cells.len() as u64));
    }
    from.commit().await?;
    report.sealed =
        sqlx::query_scalar::<_, Option<String>>("SELECT key_check FROM meta WHERE id = 1")
            .fetch_optional(&mut *tx)
            .await?
            .flatten()
            .is_some();
    let copied: Vec<String> = report
        .config
        .iter()
        .filter(|(table, _)| ["providers", "routes", "consumers"].contains(table))
        .map(|(table, rows)| format!("{rows} {table}"))
        .collect();
    let summary = format!("migrated from SQLite ({})", copied.join(", "));
    // The audit entry touches no resource: its revision says "everything as it was on SQLite".
    let audit = Audit::begin(&mut tx, &Sealer::new(None), origin, &[]).await?;
    report.revision = audit
        .commit(&mut tx, &Sealer::new(None), "migrate", &summary)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The request log, in transactions of [`RECORD_BATCH`] rows, read from one snapshot of the
/// source.
async fn copy_records(
    source: &AnyPool,
    target: &AnyPool,
    force: bool,
) -> Result<Vec<(&'static str, u64)>> {
    let mut from = source.begin().await?;
    if force {
        let tables: Vec<String> = USAGE_TABLES
            .iter()
            .map(|table| format!("{POSTGRES_SCHEMA}.{table}"))
            .collect();
        sqlx::query(&format!("TRUNCATE {} RESTART IDENTITY", tables.join(", ")))
            .execute(target)
            .await?;
    }
    let mut counts = Vec::new();
    for table in USAGE_TABLES {
        let qualified = format!("{POSTGRES_SCHEMA}.{table}");
        let mut probe = target.acquire().await?;
        let columns = matched_columns(&mut from, &mut probe, POSTGRES_SCHEMA, table).await?;
        drop(probe);
        let select = columns.select(table);
        let mut rows = sqlx::query(&select).fetch(&mut *from);
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        let mut copied = 0_u64;
        loop {
            let row = rows.try_next().await?;
            if let Some(row) = &row {
                batch.push(columns.read(row)?);
            }
            if batch.len() == RECORD_BATCH || (row.is_none() && !batch.is_empty()) {
                let mut tx = target.begin().await?;
                for chunk in batch.chunks(columns.rows_per_statement()) {
                    insert_rows(&mut tx, &qualified, &columns, chunk).await?;
                }
                tx.commit().await?;
                copied += batch.len() as u64;
                batch.clear();
            }
            if row.is_none() {
                break;
            }
        }
        drop(rows);
        let mut conn = target.acquire().await?;
        set_identity(&mut conn, &qualified, &columns).await?;
        counts.push((*table, copied));
    }
    from.commit().await?;
    Ok(counts)
}

/// Refuses a target that already holds a configuration (a revision, or any resource or
/// account), unless `force`.
async fn check_config_empty(conn: &mut AnyConnection, force: bool) -> Result<()> {
    let revision: i64 = sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
        .fetch_optional(&mut *conn)
        .await?
        .unwrap_or(0);
    let mut resources = 0_i64;
    for table in [
        "providers",
        "routes",
        "consumers",
        "guardrails",
        "admin_users",
    ] {
        let rows: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await?;
        resources += rows;
    }
    if (revision > 0 || resources > 0) && !force {
        return Err(StoreError::Conflict {
            message: format!(
                "the target database already holds a configuration (revision {revision}, \
                 {resources} providers, routes, consumers, guardrails and accounts); migrate \
                 copies into an empty database only. Pass --force to replace everything in it"
            ),
            routes: Vec::new(),
        });
    }
    Ok(())
}

/// Refuses a target whose request log already holds records, unless `force`.
async fn check_records_empty(target: &AnyPool, force: bool) -> Result<()> {
    let records: i64 =
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {POSTGRES_SCHEMA}.requests"))
            .fetch_one(target)
            .await?;
    if records > 0 && !force {
        return Err(StoreError::Conflict {
            message: format!(
                "the target database already holds {records} request records; migrate copies \
                 into an empty database only. Pass --force to replace them"
            ),
            routes: Vec::new(),
        });
    }
    Ok(())
}

/// The SQLite database's tables, without SQLite's own and the migrator's.
pub(crate) async fn sqlite_tables(source: &AnyPool) -> Result<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(source)
    .await?)
}

/// Refuses a source whose tables are not exactly `tables`: one this version does not know would
/// be left behind, and a missing one means an older schema.
async fn check_tables(source: &AnyPool, tables: &[&str], file: &str) -> Result<()> {
    let found = sqlite_tables(source).await?;
    let unknown: Vec<&str> = found
        .iter()
        .map(String::as_str)
        .filter(|table| !tables.contains(table))
        .collect();
    let missing: Vec<&str> = tables
        .iter()
        .copied()
        .filter(|table| !found.iter().any(|f| f == table))
        .collect();
    if unknown.is_empty() && missing.is_empty() {
        return Ok(());
    }
    Err(StoreError::Conflict {
        message: format!(
            "{file} does not have the tables this version copies (unknown: [{}], missing: [{}]); \
             start this version of the gateway on the data dir once, which brings its schema up \
             to date, and migrate with the same version",
            unknown.join(", "),
            missing.join(", ")
        ),
        routes: Vec::new(),
    })
}

/// How a column's value is carried from SQLite to PostgreSQL, by the PostgreSQL column's type.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Int,
    Bool,
    Float,
    Text,
    Bytes,
}

/// One value on its way.
enum Cell {
    Int(Option<i64>),
    Bool(Option<bool>),
    Float(Option<f64>),
    Text(Option<String>),
    Bytes(Option<Vec<u8>>),
}

/// A table's columns as both schemas have them.
struct Columns {
    names: Vec<String>,
    kinds: Vec<Kind>,
    /// The identity column, whose sequence is moved past the copied ids.
    identity: Option<String>,
}

impl Columns {
    fn select(&self, table: &str) -> String {
        format!("SELECT {} FROM {table}", self.names.join(", "))
    }

    fn rows_per_statement(&self) -> usize {
        (MAX_PARAMETERS / self.names.len().max(1)).clamp(1, 1_000)
    }

    fn read(&self, row: &AnyRow) -> Result<Vec<Cell>> {
        self.kinds
            .iter()
            .enumerate()
            .map(|(index, kind)| {
                Ok(match kind {
                    Kind::Int => Cell::Int(row.try_get(index)?),
                    // SQLite stores booleans as integers.
                    Kind::Bool => Cell::Bool(row.try_get::<Option<i64>, _>(index)?.map(|v| v != 0)),
                    Kind::Float => Cell::Float(row.try_get(index)?),
                    Kind::Text => Cell::Text(row.try_get(index)?),
                    Kind::Bytes => Cell::Bytes(row.try_get(index)?),
                })
            })
            .collect()
    }
}

/// The columns of `table` in the PostgreSQL schema, checked against the SQLite table's: the
/// same names, or an error naming the difference.
async fn matched_columns(
    source: &mut AnyConnection,
    target: &mut AnyConnection,
    schema: &str,
    table: &str,
) -> Result<Columns> {
    let sqlite: Vec<String> = sqlx::query_scalar("SELECT name FROM pragma_table_info($1)")
        .bind(table)
        .fetch_all(&mut *source)
        .await?;
    let rows = sqlx::query(
        "SELECT column_name::text, data_type::text, is_identity::text \
         FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 \
         ORDER BY ordinal_position",
    )
    .bind(schema)
    .bind(table)
    .fetch_all(&mut *target)
    .await?;
    let mut columns = Columns {
        names: Vec::new(),
        kinds: Vec::new(),
        identity: None,
    };
    for row in &rows {
        let name: String = row.try_get(0)?;
        let data_type: String = row.try_get(1)?;
        let identity: String = row.try_get(2)?;
        let kind = match data_type.as_str() {
            "bigint" | "integer" | "smallint" => Kind::Int,
            "boolean" => Kind::Bool,
            "double precision" | "real" => Kind::Float,
            "text" | "character varying" => Kind::Text,
            "bytea" => Kind::Bytes,
            other => {
                return Err(mismatch(format!(
                    "column {table}.{name} has the type {other}, which migrate does not copy"
                )));
            }
        };
        if identity == "YES" {
            columns.identity = Some(name.clone());
        }
        columns.names.push(name);
        columns.kinds.push(kind);
    }
    let mut expected = columns.names.clone();
    expected.sort();
    let mut found = sqlite.clone();
    found.sort();
    if expected != found {
        return Err(mismatch(format!(
            "table {table} has the columns [{}] in SQLite but [{}] in PostgreSQL",
            found.join(", "),
            expected.join(", ")
        )));
    }
    Ok(columns)
}

fn mismatch(message: String) -> StoreError {
    StoreError::Conflict {
        message: format!("the two schemas differ: {message}"),
        routes: Vec::new(),
    }
}

/// One multi-row `INSERT` of `rows`, ids kept.
async fn insert_rows(
    conn: &mut AnyConnection,
    table: &str,
    columns: &Columns,
    rows: &[Vec<Cell>],
) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let width = columns.names.len();
    let mut sql = format!("INSERT INTO {table} ({}) ", columns.names.join(", "));
    // The identities are `GENERATED BY DEFAULT`, which takes the given ids anyway; the clause
    // keeps them should a column become `ALWAYS`.
    if columns.identity.is_some() {
        sql.push_str("OVERRIDING SYSTEM VALUE ");
    }
    sql.push_str("VALUES ");
    for row in 0..rows.len() {
        if row > 0 {
            sql.push_str(", ");
        }
        let placeholders: Vec<String> = (1..=width)
            .map(|column| format!("${}", row * width + column))
            .collect();
        sql.push('(');
        sql.push_str(&placeholders.join(", "));
        sql.push(')');
    }
    let mut query = sqlx::query(&sql);
    for cell in rows.iter().flatten() {
        query = match cell {
            Cell::Int(value) => query.bind(*value),
            Cell::Bool(value) => query.bind(*value),
            Cell::Float(value) => query.bind(*value),
            Cell::Text(value) => query.bind(value.as_deref()),
            Cell::Bytes(value) => query.bind(value.as_deref()),
        };
    }
    query.execute(&mut *conn).await?;
    Ok(())
}

/// Moves the table's identity sequence past the largest copied id, so that the next row a
/// gateway inserts gets a new one.
async fn set_identity(conn: &mut AnyConnection, table: &str, columns: &Columns) -> Result<()> {
    let Some(column) = &columns.identity else {
        return Ok(());
    };
    sqlx::query(&format!(
        "SELECT setval(pg_get_serial_sequence($1, $2), \
         COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
    ))
    .bind(table)
    .bind(column.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
