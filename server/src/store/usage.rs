//! The request log: every proxied request's record, and hourly usage rollups, in `usage.db` (or,
//! with `--database-url`, in the configuration's PostgreSQL database).
//!
//! On SQLite it is a database file of its own, next to the configuration's, so that thousands of
//! records a second never contend with configuration writes or reloads. On PostgreSQL its tables
//! live in a schema of their own ([`POSTGRES_SCHEMA`]) of the configuration's database, where
//! every gateway of a cluster writes its records. One background writer per gateway hands it
//! batches ([`UsageDb::insert_batch`]): each batch is one transaction of multi-row inserts plus
//! the rollup upserts, so records and rollups always agree. Usage reports and budget spend read
//! the rollups, which stay small however many records there are; the logs page reads the records
//! newest first by row id, which is also its cursor.
//!
//! Each engine keeps its native sqlx driver (`SqlitePool`, `PgPool`) rather than `sqlx::Any`:
//! the SQLite side keeps its tuned connection options and statements exactly, and each side's
//! `QueryBuilder` writes its own placeholders (`Any`'s writes `?`, which PostgreSQL refuses). The
//! code is written once and expanded per engine by `on_pool!`; what differs in the SQL is
//! chosen by [`UsageDb::engine`].

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgConnection, PgPool, QueryBuilder, Row, SqlitePool};
use switchyard_shared::{GuardrailHit, LogsPage, RequestLog, TrailStep, UsageReport, UsageRow};

use super::{Engine, Result, StoreError, create_private_file, redacted_url};
use crate::metering::LogRow;

/// The request log's file name inside the data dir.
pub const USAGE_DB_FILE: &str = "usage.db";

/// A page of `GET /api/logs` when the client names no limit.
pub const DEFAULT_LOG_LIMIT: u32 = 50;
/// The largest page of `GET /api/logs`.
pub const MAX_LOG_LIMIT: u32 = 500;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Rows per multi-row `INSERT` (28 variables each). SQLite allows 32,766 variables per statement;
/// a fixed chunk keeps the statement's text, and so sqlx's cached prepared statement, the same for
/// every full chunk.
const INSERT_CHUNK: usize = 256;
/// Rollup rows per upsert (18 variables each).
const ROLLUP_CHUNK: usize = 256;
/// Records deleted per statement while pruning: each chunk holds the write lock for a few
/// milliseconds, and the writer gets its turn between chunks.
const PRUNE_CHUNK: i64 = 2_000;

/// The PostgreSQL schema that holds the request log's tables and its own migrations table.
pub const POSTGRES_SCHEMA: &str = "switchyard_usage";

/// The advisory lock key under which gateways create [`POSTGRES_SCHEMA`] one at a time ("sy" and
/// "usg" in ASCII, to stay clear of other users' keys).
const SCHEMA_LOCK: i64 = 0x7379_7573_6700;

/// The request log's database.
#[derive(Clone)]
pub struct UsageDb {
    pool: Pool,
    /// The SQLite file; `None` on PostgreSQL.
    path: Option<PathBuf>,
    /// Taken by every write. SQLite lets one writer at a time in anyway; queueing on this fair
    /// mutex instead of on SQLite's busy handler (which polls with growing sleeps) lets the batch
    /// writer and the pruner take strict turns, so neither waits long. On PostgreSQL it orders
    /// this gateway's own writes the same way; other gateways' writes do not wait for it.
    write_lock: Arc<tokio::sync::Mutex<()>>,
}

/// The request log's pool, on its engine's own driver.
#[derive(Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the engine's own pool and `$db` naming its sqlx database
/// type, so that code written once is compiled for both drivers.
macro_rules! on_pool {
    ($source:expr, $pool:ident, $db:ident => $body:block) => {
        match $source {
            Pool::Sqlite($pool) => {
                type $db = sqlx::Sqlite;
                $body
            }
            Pool::Postgres($pool) => {
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}

/// Why a batch of records is not (known to be) in the store.
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// Nothing was committed, for a reason that passes (the store unreachable, the connection
    /// lost or the server shutting down before the commit, a lock or serialisation conflict):
    /// the same batch may be written again, and counts once.
    #[error("{0}")]
    Retry(StoreError),
    /// The store refused the batch's content, or the commit's outcome is unknown: writing it
    /// again would fail the same way, or could count it twice.
    #[error("{0}")]
    Lost(StoreError),
}

impl BatchError {
    /// A statement of the transaction failed, so nothing was committed: whether that passes.
    fn before_commit(error: sqlx::Error) -> BatchError {
        if passes(&error) {
            BatchError::Retry(error.into())
        } else {
            BatchError::Lost(error.into())
        }
    }
}

/// Whether an error is the connection's or the moment's, not the data's: connection and I/O
/// failures, and the SQLSTATE classes for a lost connection (08), a server going down (57P),
/// too many connections (53300), serialisation failures and deadlocks (40001, 40P01), a lock not
/// available (55P03); on SQLite, a busy or locked database.
fn passes(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08")
                || code.starts_with("57P")
                || matches!(
                    code.as_ref(),
                    "53300" | "40001" | "40P01" | "55P03" | "5" | "6" | "517" | "262"
                )
        }),
        _ => false,
    }
}

/// `GET /api/logs`'s filters. `None` does not filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogFilter {
    /// The consumer's name.
    pub consumer: Option<String>,
    pub key_id: Option<i64>,
    pub route: Option<String>,
    pub provider: Option<String>,
    /// Matches the requested model or the upstream model.
    pub model: Option<String>,
    pub status: Option<StatusFilter>,
    /// Requests that arrived at or after this time (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Requests that arrived before this time.
    pub until_ms: Option<i64>,
    /// Records per page: [`DEFAULT_LOG_LIMIT`] when `None`, at most [`MAX_LOG_LIMIT`].
    pub limit: Option<u32>,
    /// A previous page's `next_cursor`: only records older than it.
    pub cursor: Option<i64>,
}

/// Which statuses `GET /api/logs?status=` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusFilter {
    /// One status, such as 429.
    Code(u16),
    /// A class by its first digit: 2 is `2xx`.
    Class(u16),
    /// Every status of 400 or more.
    Error,
}

impl StatusFilter {
    /// `429`, `2xx` (any class from `1xx` to `5xx`) or `error`.
    pub fn parse(text: &str) -> Option<StatusFilter> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("error") {
            return Some(StatusFilter::Error);
        }
        if let [digit @ b'1'..=b'5', b'x' | b'X', b'x' | b'X'] = text.as_bytes() {
            return Some(StatusFilter::Class(u16::from(digit - b'0')));
        }
        match text.parse::<u16>() {
            Ok(code @ 100..=599) => Some(StatusFilter::Code(code)),
            _ => None,
        }
    }

    /// The statuses selected, as a half-open range.
    fn range(self) -> (i64, i64) {
        match self {
            StatusFilter::Code(code) => (i64::from(code), i64::from(code) + 1),
            StatusFilter::Class(digit) => (i64::from(digit) * 100, i64::from(digit) * 100 + 100),
            StatusFilter::Error => (400, i64::MAX),
        }
    }
}

/// What `GET /api/usage` groups rows by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum GroupBy {
    Consumer,
    Key,
    Route,
    Provider,
    #[default]
    Model,
}

impl GroupBy {
    pub fn parse(text: &str) -> Option<GroupBy> {
        Some(match text {
            "consumer" => GroupBy::Consumer,
            "key" => GroupBy::Key,
            "route" => GroupBy::Route,
            "provider" => GroupBy::Provider,
            "model" => GroupBy::Model,
            _ => return None,
        })
    }

    /// The rollup column, with the "none" sentinel turned back into NULL.
    fn column(self) -> &'static str {
        match self {
            GroupBy::Consumer => "NULLIF(consumer, '')",
            GroupBy::Key => "NULLIF(key_id, 0)",
            GroupBy::Route => "NULLIF(route, '')",
            GroupBy::Provider => "NULLIF(provider, '')",
            GroupBy::Model => "NULLIF(model, '')",
        }
    }
}

/// The span each row of `GET /api/usage` covers (UTC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Bucket {
    Hour,
    #[default]
    Day,
}

impl Bucket {
    pub fn parse(text: &str) -> Option<Bucket> {
        match text {
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            _ => None,
        }
    }

    fn millis(self) -> i64 {
        match self {
            Bucket::Hour => HOUR_MS,
            Bucket::Day => DAY_MS,
        }
    }
}

/// `GET /api/usage`'s question.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UsageQuery {
    pub group_by: GroupBy,
    pub bucket: Bucket,
    /// Rounded down to its bucket's start, so the first bucket is whole; `None` from the start.
    pub since_ms: Option<i64>,
    /// Buckets that start before this time; `None` up to now.
    pub until_ms: Option<i64>,
}

/// Whose spend [`UsageDb::spend_since`] adds up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpendScope {
    /// A consumer's id (`consumers.id`).
    Consumer(i64),
    /// A client key's id (`consumer_keys.id`).
    Key(i64),
}

impl UsageDb {
    /// Opens the request log at `path` (normally `<data dir>/usage.db`), creating it private
    /// (0600) and migrating it if needed.
    pub async fn open(path: &Path) -> Result<UsageDb> {
        // Created private before SQLite opens it: SQLite gives its -wal and -shm files the
        // database file's permissions.
        create_private_file(path)?;
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // A crash may lose the last batches but never corrupts the file; records are not
            // worth an fsync per transaction.
            .synchronous(SqliteSynchronous::Normal)
            // The pages every batch touches (each index's newest leaves) stay cached.
            .pragma("cache_size", "-32768")
            // Checkpoints every 32 MiB of WAL instead of 4: a page that batches keep rewriting
            // (the newest leaf of each index) is copied into the file once per checkpoint, so
            // rarer checkpoints more than double the records written per second. The WAL file is
            // cut back to 64 MiB after a checkpoint.
            .pragma("wal_autocheckpoint", "8192")
            .pragma("journal_size_limit", "67108864")
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations_usage/sqlite")
            .run(&pool)
            .await?;
        Ok(UsageDb::with_pool(
            Pool::Sqlite(pool),
            Some(path.to_owned()),
        ))
    }

    /// Opens the request log in the PostgreSQL database at `url` (the configuration's, with
    /// `--database-url`), in its own schema [`POSTGRES_SCHEMA`], creating and migrating it if
    /// needed. Several gateways may open and write the same database at once. The URL's password
    /// is never logged or put in an error.
    pub async fn open_postgres(url: &str) -> Result<UsageDb> {
        let options: PgConnectOptions = url.parse().map_err(|_| {
            sqlx::Error::Configuration(format!("invalid database URL {}", redacted_url(url)).into())
        })?;
        // `CREATE SCHEMA IF NOT EXISTS` is not safe against itself: two nodes starting together
        // could both try to create it, and one would fail. The advisory lock makes them take
        // turns; this also is the probe connection that reports a refused login with its cause.
        let mut conn = PgConnection::connect_with(&options).await?;
        let mut tx = conn.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(SCHEMA_LOCK)
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {POSTGRES_SCHEMA}"))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        conn.close().await?;
        // Every connection resolves the tables (and the migrator's `_sqlx_migrations`) in the
        // request log's schema first, so that they never meet the configuration's.
        let options = options.options([("search_path", POSTGRES_SCHEMA)]);
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        // sqlx's PostgreSQL migrator holds an advisory lock while it runs, so nodes that start
        // together migrate once.
        if let Err(error) = sqlx::migrate!("./migrations_usage/postgres")
            .run(&pool)
            .await
        {
            pool.close().await;
            return Err(error.into());
        }
        Ok(UsageDb::with_pool(Pool::Postgres(pool), None))
    }

    fn with_pool(pool: Pool, path: Option<PathBuf>) -> UsageDb {
        UsageDb {
            pool,
            path,
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The database file; `None` when the request log is on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The engine the request log runs on.
    pub fn engine(&self) -> Engine {
        match self.pool {
            Pool::Sqlite(_) => Engine::Sqlite,
            Pool::Postgres(_) => Engine::Postgres,
        }
    }

    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// Writes a batch of records and adds them to the rollups, in one transaction. The error
    /// says whether the batch may be written again (nothing was committed) or is lost.
    pub async fn insert_batch(&self, rows: &[LogRow]) -> std::result::Result<(), BatchError> {
        if rows.is_empty() {
            return Ok(());
        }
        // Serialised before the transaction starts, so the write lock is held only for SQL.
        let trails = json_column(rows, "fallback_trail", |row| &row.fallback_trail)
            .map_err(BatchError::Lost)?;
        let hits =
            json_column(rows, "guardrails", |row| &row.guardrails).map_err(BatchError::Lost)?;
        let mut rollups = aggregate(rows);
        // In key order: on PostgreSQL, two gateways upserting the same rollup rows lock them in
        // the same order, so their transactions wait for each other instead of deadlocking.
        rollups.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let conflict = match self.engine() {
            Engine::Sqlite => ROLLUP_CONFLICT,
            Engine::Postgres => ROLLUP_CONFLICT_POSTGRES,
        };

        let _write = self.write_lock.lock().await;
        on_pool!(&self.pool, pool, DB => {
            // Nothing is sent before the transaction begins: a failure to begin (no connection,
            // the database refusing connections, a busy SQLite) loses nothing.
            let mut tx = match self.engine() {
                Engine::Sqlite => pool.begin_with("BEGIN IMMEDIATE").await,
                Engine::Postgres => pool.begin().await,
            }
            .map_err(|error| BatchError::Retry(error.into()))?;
            let chunks = rows
                .chunks(INSERT_CHUNK)
                .zip(trails.chunks(INSERT_CHUNK))
                .zip(hits.chunks(INSERT_CHUNK));
            for ((chunk, trails), hits) in chunks {
                let mut insert = QueryBuilder::<DB>::new(INSERT_RECORDS);
                let columns = chunk.iter().zip(trails).zip(hits);
                insert.push_values(columns, |mut values, ((row, trail), hits)| {
                    values
                        .push_bind(row.request_id.as_str())
                        .push_bind(row.time_ms)
                        .push_bind(row.endpoint)
                        .push_bind(row.consumer_id)
                        .push_bind(row.consumer.as_deref())
                        .push_bind(row.key_id)
                        .push_bind(row.route.as_deref())
                        .push_bind(row.provider.as_deref())
                        .push_bind(row.requested_model.as_deref())
                        .push_bind(row.model.as_deref())
                        .push_bind(i64::from(row.status))
                        .push_bind(row.error_code.as_deref())
                        .push_bind(row.stream)
                        .push_bind(i64::from(row.attempts))
                        .push_bind(trail.as_deref())
                        .push_bind(int(row.usage.prompt_tokens))
                        .push_bind(int(row.usage.completion_tokens))
                        .push_bind(int(row.usage.cached_prompt_tokens))
                        .push_bind(int(row.usage.reasoning_tokens))
                        .push_bind(int(row.usage.cache_write_tokens))
                        .push_bind(row.tokens_estimated)
                        .push_bind(row.cost_micros)
                        .push_bind(int(row.latency_ms))
                        .push_bind(row.ttft_ms.map(int))
                        .push_bind(row.client_disconnected)
                        .push_bind(row.cache_hit)
                        .push_bind(row.cost_saved_micros)
                        .push_bind(hits.as_deref());
                });
                insert.build().execute(&mut *tx).await.map_err(BatchError::before_commit)?;
            }
            for chunk in rollups.chunks(ROLLUP_CHUNK) {
                let mut upsert = QueryBuilder::<DB>::new(INSERT_ROLLUPS);
                upsert.push_values(chunk, |mut values, (key, sums)| {
                    values
                        .push_bind(key.hour_ms)
                        .push_bind(key.consumer_id)
                        .push_bind(key.consumer)
                        .push_bind(key.key_id)
                        .push_bind(key.route)
                        .push_bind(key.provider)
                        .push_bind(key.model)
                        .push_bind(sums.requests)
                        .push_bind(sums.errors)
                        .push_bind(sums.prompt_tokens)
                        .push_bind(sums.completion_tokens)
                        .push_bind(sums.cached_tokens)
                        .push_bind(sums.reasoning_tokens)
                        .push_bind(sums.cache_write_tokens)
                        .push_bind(sums.cost_micros)
                        .push_bind(sums.unpriced_requests)
                        .push_bind(sums.cache_hits)
                        .push_bind(sums.cost_saved_micros);
                });
                upsert.push(conflict);
                upsert.build().execute(&mut *tx).await.map_err(BatchError::before_commit)?;
            }
            // A commit that fails may still have happened (the connection lost after the server
            // committed): writing the batch again could count it twice, so it is not retried.
            tx.commit().await.map_err(|error| BatchError::Lost(error.into()))?;
        });
        Ok(())
    }

    /// Deletes the records older than `retention_days` and the oldest beyond `max_rows`, and the
    /// rollups older than a year past the retention; 0 for either bound disables it. Deletes in
    /// chunks of a few thousand rows, each its own short transaction, so the writer is never
    /// held up for long. Returns the number of records deleted. On PostgreSQL every gateway
    /// prunes the shared tables; a row two of them delete at once is deleted once.
    pub async fn prune(&self, now_ms: i64, retention_days: u32, max_rows: u64) -> Result<u64> {
        let mut deleted = 0;
        if retention_days > 0 {
            let cutoff = now_ms.saturating_sub(i64::from(retention_days).saturating_mul(DAY_MS));
            // The time index finds the old records without reading the rest.
            let sql = match self.engine() {
                Engine::Sqlite => {
                    "DELETE FROM requests WHERE id IN (SELECT id FROM requests \
                     INDEXED BY requests_time WHERE time_ms < $1 LIMIT $2)"
                }
                Engine::Postgres => {
                    "DELETE FROM requests WHERE id IN (SELECT id FROM requests \
                     WHERE time_ms < $1 LIMIT $2)"
                }
            };
            deleted += self.delete_in_chunks(sql, cutoff).await?;
        }
        if max_rows > 0 {
            // Row ids grow by one per record and only the oldest are ever deleted, so keeping
            // the ids above `newest - max_rows` keeps at most `max_rows` records without
            // counting them. (PostgreSQL's identity may skip ids, which only keeps fewer.)
            let newest: Option<i64> = on_pool!(&self.pool, pool, DB => {
                sqlx::query_scalar::<DB, Option<i64>>("SELECT MAX(id) FROM requests")
                    .fetch_one(pool)
                    .await?
            });
            let bound = newest.map_or(0, |newest| {
                newest.saturating_sub(i64::try_from(max_rows).unwrap_or(i64::MAX))
            });
            if bound > 0 {
                deleted += self
                    .delete_in_chunks(
                        "DELETE FROM requests WHERE id IN (SELECT id FROM requests \
                         WHERE id <= $1 ORDER BY id LIMIT $2)",
                        bound,
                    )
                    .await?;
            }
        }
        if retention_days > 0 {
            let days = i64::from(retention_days).saturating_add(365);
            let cutoff = now_ms.saturating_sub(days.saturating_mul(DAY_MS));
            self.prune_rollups(cutoff).await?;
        }
        if deleted > 0 {
            // Keeps the query planner's statistics current as the table's shape changes;
            // PostgreSQL's autovacuum does this itself.
            if let Pool::Sqlite(pool) = &self.pool {
                sqlx::query("PRAGMA optimize").execute(pool).await?;
            }
        }
        Ok(deleted)
    }

    /// Runs `sql` (which deletes at most `$2` rows bounded by `$1`) until it deletes less than a
    /// whole chunk, taking the write lock once per chunk.
    async fn delete_in_chunks(&self, sql: &str, bound: i64) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let done = {
                let _write = self.write_lock.lock().await;
                on_pool!(&self.pool, pool, DB => {
                    sqlx::query::<DB>(sql)
                        .bind(bound)
                        .bind(PRUNE_CHUNK)
                        .execute(pool)
                        .await?
                        .rows_affected()
                })
            };
            deleted += done;
            if done < PRUNE_CHUNK.unsigned_abs() {
                return Ok(deleted);
            }
            tokio::task::yield_now().await;
        }
    }

    /// Deletes rollups of hours before `cutoff`, one day of them per statement.
    async fn prune_rollups(&self, cutoff: i64) -> Result<()> {
        loop {
            let _write = self.write_lock.lock().await;
            let done = on_pool!(&self.pool, pool, DB => {
                let oldest: Option<i64> =
                    sqlx::query_scalar::<DB, Option<i64>>("SELECT MIN(hour_ms) FROM rollups")
                        .fetch_one(pool)
                        .await?;
                match oldest.filter(|&oldest| oldest < cutoff) {
                    None => true,
                    Some(oldest) => {
                        sqlx::query::<DB>("DELETE FROM rollups WHERE hour_ms < $1")
                            .bind(cutoff.min(oldest.saturating_add(DAY_MS)))
                            .execute(pool)
                            .await?;
                        false
                    }
                }
            });
            if done {
                return Ok(());
            }
        }
    }

    /// One page of records, newest first.
    pub async fn logs(&self, filter: &LogFilter) -> Result<LogsPage> {
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_LOG_LIMIT)
            .clamp(1, MAX_LOG_LIMIT);
        let rows: Vec<RecordRow> = on_pool!(&self.pool, pool, DB => {
            let mut query = QueryBuilder::<DB>::new(LOG_SELECT);
            query.push(" WHERE 1 = 1");
            if let Some(consumer) = &filter.consumer {
                query.push(" AND consumer = ").push_bind(consumer.as_str());
            }
            if let Some(key_id) = filter.key_id {
                query.push(" AND key_id = ").push_bind(key_id);
            }
            if let Some(route) = &filter.route {
                query.push(" AND route = ").push_bind(route.as_str());
            }
            if let Some(provider) = &filter.provider {
                query.push(" AND provider = ").push_bind(provider.as_str());
            }
            if let Some(model) = &filter.model {
                query
                    .push(" AND (requested_model = ")
                    .push_bind(model.as_str())
                    .push(" OR model = ")
                    .push_bind(model.as_str())
                    .push(")");
            }
            if let Some(status) = filter.status {
                let (from, to) = status.range();
                query
                    .push(" AND status >= ")
                    .push_bind(from)
                    .push(" AND status < ")
                    .push_bind(to);
            }
            if let Some(since) = filter.since_ms {
                query.push(" AND time_ms >= ").push_bind(since);
            }
            if let Some(until) = filter.until_ms {
                query.push(" AND time_ms < ").push_bind(until);
            }
            if let Some(cursor) = filter.cursor {
                query.push(" AND id < ").push_bind(cursor);
            }
            // One more than the page: whether it comes back says if another page follows.
            query
                .push(" ORDER BY id DESC LIMIT ")
                .push_bind(i64::from(limit) + 1);
            query.build_query_as::<RecordRow>().fetch_all(pool).await?
        });
        let more = rows.len() > limit as usize;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        let mut last_id = None;
        for row in rows.into_iter().take(limit as usize) {
            let (id, item) = request_log(row)?;
            last_id = Some(id);
            items.push(item);
        }
        let next_cursor = if more {
            last_id.map(|id| id.to_string())
        } else {
            None
        };
        Ok(LogsPage { items, next_cursor })
    }

    /// The newest record with this request id (a client may have sent it more than once).
    pub async fn log(&self, request_id: &str) -> Result<Option<RequestLog>> {
        let sql = format!("{LOG_SELECT} WHERE request_id = $1 ORDER BY id DESC LIMIT 1");
        let row: Option<RecordRow> = on_pool!(&self.pool, pool, DB => {
            sqlx::query_as::<DB, RecordRow>(&sql)
                .bind(request_id)
                .fetch_optional(pool)
                .await?
        });
        row.map(|row| request_log(row).map(|(_, item)| item))
            .transpose()
    }

    /// Usage per bucket and group, from the rollups alone; ordered by bucket, then group (none
    /// first).
    pub async fn usage(&self, query: &UsageQuery) -> Result<UsageReport> {
        let bucket = query.bucket.millis();
        let since = query.since_ms.map_or(i64::MIN, |since| {
            since.div_euclid(bucket).saturating_mul(bucket)
        });
        let until = query.until_ms.unwrap_or(i64::MAX);
        let engine = self.engine();
        // Sums as floats: they cannot overflow (an integer SUM would fail on a hostile
        // upstream's token counts), and they are exact up to 2^53, far beyond any real total.
        let sums = [
            "requests",
            "errors",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "reasoning_tokens",
            "cost_micros",
            "unpriced_requests",
            "cache_hits",
            "cost_saved_micros",
        ]
        .map(|column| float_total(engine, column))
        .join(", ");
        // SQLite sorts NULL first already; PostgreSQL is asked to, so "none" leads on both.
        let nulls_first = match engine {
            Engine::Sqlite => "",
            Engine::Postgres => " NULLS FIRST",
        };
        let sql = format!(
            "SELECT (hour_ms / $1) * $1 AS bucket, {group} AS grp, {sums} FROM rollups \
             WHERE hour_ms >= $2 AND hour_ms < $3 GROUP BY 1, 2 ORDER BY 1, 2{nulls_first}",
            group = query.group_by.column()
        );
        let by_key = query.group_by == GroupBy::Key;
        let rows = on_pool!(&self.pool, pool, DB => {
            let rows = sqlx::query::<DB>(&sql)
                .bind(bucket)
                .bind(since)
                .bind(until)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| {
                    let group = if by_key {
                        row.try_get::<Option<i64>, _>(1)?.map(|id| id.to_string())
                    } else {
                        row.try_get::<Option<String>, _>(1)?
                    };
                    let totals = (2..12)
                        .map(|index| row.try_get::<f64, _>(index))
                        .collect::<Result<Vec<f64>, _>>()?;
                    Ok(usage_row(row.try_get(0)?, group, &totals))
                })
                .collect::<Result<Vec<UsageRow>>>()?
        });
        Ok(UsageReport { rows })
    }

    /// The priced cost, in micro-dollars, of the consumer's or key's requests that arrived at or
    /// after `since_ms`: whole hours from the rollups, and the records of a leading partial hour
    /// (a period may start on a half hour in some timezones). This is how budgets survive a
    /// restart.
    pub async fn spend_since(&self, scope: SpendScope, since_ms: i64) -> Result<i64> {
        let since = since_ms.max(0);
        let first_hour = since.div_euclid(HOUR_MS) * HOUR_MS;
        let first_hour = if first_hour < since {
            first_hour + HOUR_MS
        } else {
            first_hour
        };
        let (column, id) = match scope {
            SpendScope::Consumer(id) => ("consumer_id", id),
            SpendScope::Key(id) => ("key_id", id),
        };
        let engine = self.engine();
        let total = float_total(engine, "cost_micros");
        let hours_sql =
            format!("SELECT {total} FROM rollups WHERE {column} = $1 AND hour_ms >= $2");
        // The time index bounds the work to one hour of records, whatever the scope's history.
        let indexed = match engine {
            Engine::Sqlite => " INDEXED BY requests_time",
            Engine::Postgres => "",
        };
        let partial_sql = format!(
            "SELECT {total} FROM requests{indexed} \
             WHERE time_ms >= $1 AND time_ms < $2 AND {column} = $3"
        );
        // One read transaction (on PostgreSQL, one snapshot for both statements): a batch
        // committed between the two reads would otherwise be half counted.
        let (hours, partial) = on_pool!(&self.pool, pool, DB => {
            let mut tx = match engine {
                Engine::Sqlite => pool.begin().await?,
                Engine::Postgres => {
                    pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                        .await?
                }
            };
            let hours: f64 = sqlx::query_scalar::<DB, f64>(&hours_sql)
                .bind(id)
                .bind(first_hour)
                .fetch_one(&mut *tx)
                .await?;
            let partial: f64 = if first_hour > since {
                sqlx::query_scalar::<DB, f64>(&partial_sql)
                    .bind(since)
                    .bind(first_hour)
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?
            } else {
                0.0
            };
            tx.commit().await?;
            (hours, partial)
        });
        Ok((hours + partial) as i64)
    }
}

/// Opens the request log the command line chose: in the PostgreSQL database of
/// `--database-url` (beside the configuration store), else `usage.db` in `data_dir`. Errors name
/// the database by its redacted URL or its file, never with a password.
pub async fn open_configured(
    database_url: Option<&crate::cli::DatabaseUrl>,
    data_dir: &Path,
) -> anyhow::Result<UsageDb> {
    use anyhow::Context;
    match database_url {
        Some(url) => UsageDb::open_postgres(url.expose())
            .await
            .with_context(|| format!("cannot open the request log at {url}")),
        None => {
            let path = data_dir.join(USAGE_DB_FILE);
            UsageDb::open(&path)
                .await
                .with_context(|| format!("cannot open the request log {}", path.display()))
        }
    }
}

/// A float sum of an integer column that is 0 over no rows: SQLite's `TOTAL`, and its
/// equivalent on PostgreSQL, where `SUM` of a `BIGINT` is a `NUMERIC` (which sqlx's `f64` does
/// not decode) and is NULL over no rows.
fn float_total(engine: Engine, column: &str) -> String {
    match engine {
        Engine::Sqlite => format!("TOTAL({column})"),
        Engine::Postgres => format!("CAST(COALESCE(SUM({column}), 0) AS DOUBLE PRECISION)"),
    }
}

/// One row of a usage report from its bucket, group and the ten float totals in the order
/// [`UsageDb::usage`] selects them; float totals convert to counts with saturation.
fn usage_row(bucket_ms: i64, group: Option<String>, totals: &[f64]) -> UsageRow {
    let total = |index: usize| totals.get(index).copied().unwrap_or(0.0);
    let count = |index: usize| total(index) as u64;
    UsageRow {
        bucket: format_rfc3339(bucket_ms, false),
        group,
        requests: count(0),
        errors: count(1),
        prompt_tokens: count(2),
        completion_tokens: count(3),
        cached_tokens: count(4),
        reasoning_tokens: count(5),
        cost_usd: total(6) / switchyard_shared::metering::MICROS_PER_USD,
        unpriced_requests: count(7),
        cache_hits: count(8),
        cost_saved_usd: total(9) / switchyard_shared::metering::MICROS_PER_USD,
    }
}

const INSERT_RECORDS: &str = "INSERT INTO requests (request_id, time_ms, endpoint, consumer_id, \
    consumer, key_id, route, provider, requested_model, model, status, error_code, stream, \
    attempts, fallback_trail, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, \
    cache_write_tokens, tokens_estimated, cost_micros, latency_ms, ttft_ms, client_disconnected, \
    cache_hit, cost_saved_micros, guardrails) ";

const INSERT_ROLLUPS: &str = "INSERT INTO rollups (hour_ms, consumer_id, consumer, key_id, route, \
    provider, model, requests, errors, prompt_tokens, completion_tokens, cached_tokens, \
    reasoning_tokens, cache_write_tokens, cost_micros, unpriced_requests, cache_hits, \
    cost_saved_micros) ";

/// On a rollup key already present, the batch's sums are added. An addition past `i64::MAX`
/// turns into a float in SQLite, and `MIN` turns it back into the largest integer.
const ROLLUP_CONFLICT: &str = " ON CONFLICT (hour_ms, consumer_id, consumer, key_id, route, \
    provider, model) DO UPDATE SET \
    requests = MIN(requests + excluded.requests, 9223372036854775807), \
    errors = MIN(errors + excluded.errors, 9223372036854775807), \
    prompt_tokens = MIN(prompt_tokens + excluded.prompt_tokens, 9223372036854775807), \
    completion_tokens = MIN(completion_tokens + excluded.completion_tokens, 9223372036854775807), \
    cached_tokens = MIN(cached_tokens + excluded.cached_tokens, 9223372036854775807), \
    reasoning_tokens = MIN(reasoning_tokens + excluded.reasoning_tokens, 9223372036854775807), \
    cache_write_tokens = MIN(cache_write_tokens + excluded.cache_write_tokens, 9223372036854775807), \
    cost_micros = MIN(cost_micros + excluded.cost_micros, 9223372036854775807), \
    unpriced_requests = MIN(unpriced_requests + excluded.unpriced_requests, 9223372036854775807), \
    cache_hits = MIN(cache_hits + excluded.cache_hits, 9223372036854775807), \
    cost_saved_micros = MIN(cost_saved_micros + excluded.cost_saved_micros, 9223372036854775807)";

/// [`ROLLUP_CONFLICT`] on PostgreSQL, whose `BIGINT` addition fails on overflow instead: the sum
/// is taken as a `NUMERIC`, capped at the largest integer, and turned back.
const ROLLUP_CONFLICT_POSTGRES: &str = " ON CONFLICT (hour_ms, consumer_id, consumer, key_id, \
    route, provider, model) DO UPDATE SET \
    requests = LEAST(rollups.requests::numeric + excluded.requests, 9223372036854775807)::bigint, \
    errors = LEAST(rollups.errors::numeric + excluded.errors, 9223372036854775807)::bigint, \
    prompt_tokens = LEAST(rollups.prompt_tokens::numeric + excluded.prompt_tokens, 9223372036854775807)::bigint, \
    completion_tokens = LEAST(rollups.completion_tokens::numeric + excluded.completion_tokens, 9223372036854775807)::bigint, \
    cached_tokens = LEAST(rollups.cached_tokens::numeric + excluded.cached_tokens, 9223372036854775807)::bigint, \
    reasoning_tokens = LEAST(rollups.reasoning_tokens::numeric + excluded.reasoning_tokens, 9223372036854775807)::bigint, \
    cache_write_tokens = LEAST(rollups.cache_write_tokens::numeric + excluded.cache_write_tokens, 9223372036854775807)::bigint, \
    cost_micros = LEAST(rollups.cost_micros::numeric + excluded.cost_micros, 9223372036854775807)::bigint, \
    unpriced_requests = LEAST(rollups.unpriced_requests::numeric + excluded.unpriced_requests, 9223372036854775807)::bigint, \
    cache_hits = LEAST(rollups.cache_hits::numeric + excluded.cache_hits, 9223372036854775807)::bigint, \
    cost_saved_micros = LEAST(rollups.cost_saved_micros::numeric + excluded.cost_saved_micros, 9223372036854775807)::bigint";

const LOG_SELECT: &str = "SELECT id, request_id, time_ms, endpoint, consumer, key_id, route, \
    provider, requested_model, model, status, error_code, stream, attempts, fallback_trail, \
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, tokens_estimated, \
    cost_micros, latency_ms, ttft_ms, client_disconnected, cache_hit, cost_saved_micros, \
    guardrails FROM requests";

/// A rollup row's key; anonymous and unknown are '' and 0, as stored.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct RollupKey<'a> {
    hour_ms: i64,
    consumer_id: i64,
    consumer: &'a str,
    key_id: i64,
    route: &'a str,
    provider: &'a str,
    model: &'a str,
}

#[derive(Debug, Default)]
struct RollupSums {
    requests: i64,
    errors: i64,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    reasoning_tokens: i64,
    cache_write_tokens: i64,
    cost_micros: i64,
    unpriced_requests: i64,
    cache_hits: i64,
    cost_saved_micros: i64,
}

/// A batch summed per rollup key, so each key costs one upsert however many records share it.
fn aggregate(rows: &[LogRow]) -> Vec<(RollupKey<'_>, RollupSums)> {
    let mut sums: HashMap<RollupKey<'_>, RollupSums> = HashMap::new();
    for row in rows {
        let key = RollupKey {
            hour_ms: row.time_ms.div_euclid(HOUR_MS) * HOUR_MS,
            consumer_id: row.consumer_id.unwrap_or(0),
            consumer: row.consumer.as_deref().unwrap_or(""),
            key_id: row.key_id.unwrap_or(0),
            route: row.route.as_deref().unwrap_or(""),
            provider: row.provider.as_deref().unwrap_or(""),
            model: row
                .model
                .as_deref()
                .or(row.requested_model.as_deref())
                .unwrap_or(""),
        };
        let sum = sums.entry(key).or_default();
        sum.requests = sum.requests.saturating_add(1);
        sum.errors = sum.errors.saturating_add(i64::from(row.status >= 400));
        sum.prompt_tokens = sum
            .prompt_tokens
            .saturating_add(int(row.usage.prompt_tokens));
        sum.completion_tokens = sum
            .completion_tokens
            .saturating_add(int(row.usage.completion_tokens));
        sum.cached_tokens = sum
            .cached_tokens
            .saturating_add(int(row.usage.cached_prompt_tokens));
        sum.reasoning_tokens = sum
            .reasoning_tokens
            .saturating_add(int(row.usage.reasoning_tokens));
        sum.cache_write_tokens = sum
            .cache_write_tokens
            .saturating_add(int(row.usage.cache_write_tokens));
        match row.cost_micros {
            Some(cost) => sum.cost_micros = sum.cost_micros.saturating_add(cost),
            None => sum.unpriced_requests = sum.unpriced_requests.saturating_add(1),
        }
        if row.cache_hit {
            sum.cache_hits = sum.cache_hits.saturating_add(1);
            sum.cost_saved_micros = sum
                .cost_saved_micros
                .saturating_add(row.cost_saved_micros.unwrap_or(0));
        }
    }
    sums.into_iter().collect()
}

/// A list field of each record as its JSON column: NULL when the list is empty.
fn json_column<T: serde::Serialize>(
    rows: &[LogRow],
    name: &str,
    field: impl Fn(&LogRow) -> &[T],
) -> Result<Vec<Option<String>>> {
    rows.iter()
        .map(|row| {
            let items = field(row);
            if items.is_empty() {
                Ok(None)
            } else {
                serde_json::to_string(items).map(Some)
            }
        })
        .collect::<Result<_, _>>()
        .map_err(|source| StoreError::Corrupt {
            what: "request record",
            name: name.into(),
            source,
        })
}

/// SQLite integers are signed: counts beyond `i64::MAX` (only a hostile upstream sends them) are
/// stored as the largest one.
fn int(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Reads back a count stored by [`int`].
fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

/// A record's columns as [`LOG_SELECT`] reads them, on either engine (SQLite's integer booleans
/// decode as `bool` too).
#[derive(sqlx::FromRow)]
struct RecordRow {
    id: i64,
    request_id: String,
    time_ms: i64,
    endpoint: String,
    consumer: Option<String>,
    key_id: Option<i64>,
    route: Option<String>,
    provider: Option<String>,
    requested_model: Option<String>,
    model: Option<String>,
    status: i64,
    error_code: Option<String>,
    stream: bool,
    attempts: i64,
    fallback_trail: Option<String>,
    prompt_tokens: i64,
    completion_tokens: i64,
    cached_tokens: i64,
    reasoning_tokens: i64,
    tokens_estimated: bool,
    cost_micros: Option<i64>,
    latency_ms: i64,
    ttft_ms: Option<i64>,
    client_disconnected: bool,
    cache_hit: bool,
    cost_saved_micros: Option<i64>,
    guardrails: Option<String>,
}

/// A record row as the API shows it, with its row id (the cursor).
fn request_log(row: RecordRow) -> Result<(i64, RequestLog)> {
    let corrupt = |source| StoreError::Corrupt {
        what: "request record",
        name: row.request_id.clone(),
        source,
    };
    let fallback_trail: Vec<TrailStep> = match &row.fallback_trail {
        Some(trail) => serde_json::from_str(trail).map_err(corrupt)?,
        None => Vec::new(),
    };
    let guardrails: Vec<GuardrailHit> = match &row.guardrails {
        Some(hits) => serde_json::from_str(hits).map_err(corrupt)?,
        None => Vec::new(),
    };
    let log = RequestLog {
        cache_hit: row.cache_hit,
        cost_saved_usd: row
            .cost_saved_micros
            .map(switchyard_shared::metering::usd_from_micros),
        guardrails,
        time: format_rfc3339(row.time_ms, true),
        endpoint: row.endpoint,
        consumer: row.consumer,
        key_id: row.key_id,
        route: row.route,
        provider: row.provider,
        requested_model: row.requested_model,
        model: row.model,
        status: u16::try_from(row.status).unwrap_or(0),
        error_code: row.error_code,
        stream: row.stream,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        fallback_trail,
        prompt_tokens: count(row.prompt_tokens),
        completion_tokens: count(row.completion_tokens),
        cached_tokens: count(row.cached_tokens),
        reasoning_tokens: count(row.reasoning_tokens),
        tokens_estimated: row.tokens_estimated,
        cost_usd: row
            .cost_micros
            .map(switchyard_shared::metering::usd_from_micros),
        latency_ms: count(row.latency_ms),
        ttft_ms: row.ttft_ms.map(count),
        client_disconnected: row.client_disconnected,
        request_id: row.request_id,
    };
    Ok((row.id, log))
}

/// The last millisecond of the year 9999: RFC 3339 has four-digit years.
const MAX_RFC3339_MS: i64 = 253_402_300_799_999;

/// `2025-01-31T12:00:00.000Z` (with `millis`) or `2025-01-31T12:00:00Z`, in UTC; times outside
/// the years 1970 to 9999 are clamped to them.
pub fn format_rfc3339(ms: i64, millis: bool) -> String {
    let at =
        chrono::DateTime::from_timestamp_millis(ms.clamp(0, MAX_RFC3339_MS)).unwrap_or_default();
    let precision = if millis {
        chrono::SecondsFormat::Millis
    } else {
        chrono::SecondsFormat::Secs
    };
    at.to_rfc3339_opts(precision, true)
}

#[cfg(test)]
mod tests;
