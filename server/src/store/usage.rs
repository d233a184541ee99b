//! The request log: every proxied request's record, and hourly usage rollups, in `usage.db`.
//!
//! It is a database file of its own, next to the configuration's, so that thousands of records a
//! second never contend with configuration writes or reloads. One background writer hands it
//! batches ([`UsageDb::insert_batch`]): each batch is one transaction of multi-row inserts plus
//! the rollup upserts, so records and rollups always agree. Usage reports and budget spend read
//! the rollups, which stay small however many records there are; the logs page reads the records
//! newest first by row id, which is also its cursor.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use switchyard_shared::{GuardrailHit, LogsPage, RequestLog, TrailStep, UsageReport, UsageRow};

use super::{Result, StoreError, create_private_file};
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

/// The request log's database.
#[derive(Clone)]
pub struct UsageDb {
    pool: SqlitePool,
    path: PathBuf,
    /// Taken by every write. SQLite lets one writer at a time in anyway; queueing on this fair
    /// mutex instead of on SQLite's busy handler (which polls with growing sleeps) lets the batch
    /// writer and the pruner take strict turns, so neither waits long.
    write_lock: Arc<tokio::sync::Mutex<()>>,
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
        sqlx::migrate!("./migrations_usage").run(&pool).await?;
        Ok(UsageDb {
            pool,
            path: path.to_owned(),
            write_lock: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Writes a batch of records and adds them to the rollups, in one transaction.
    pub async fn insert_batch(&self, rows: &[LogRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        // Serialised before the transaction starts, so the write lock is held only for SQL.
        let trails = json_column(rows, "fallback_trail", |row| &row.fallback_trail)?;
        let hits = json_column(rows, "guardrails", |row| &row.guardrails)?;
        let rollups = aggregate(rows);

        let _write = self.write_lock.lock().await;
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let chunks = rows
            .chunks(INSERT_CHUNK)
            .zip(trails.chunks(INSERT_CHUNK))
            .zip(hits.chunks(INSERT_CHUNK));
        for ((chunk, trails), hits) in chunks {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO requests (request_id, time_ms, endpoint, consumer_id, consumer, \
                 key_id, route, provider, requested_model, model, status, error_code, stream, \
                 attempts, fallback_trail, prompt_tokens, completion_tokens, cached_tokens, \
                 reasoning_tokens, cache_write_tokens, tokens_estimated, cost_micros, latency_ms, \
                 ttft_ms, client_disconnected, cache_hit, cost_saved_micros, guardrails) ",
            );
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
            insert.build().execute(&mut *tx).await?;
        }
        for chunk in rollups.chunks(ROLLUP_CHUNK) {
            let mut upsert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO rollups (hour_ms, consumer_id, consumer, key_id, route, provider, \
                 model, requests, errors, prompt_tokens, completion_tokens, cached_tokens, \
                 reasoning_tokens, cache_write_tokens, cost_micros, unpriced_requests, \
                 cache_hits, cost_saved_micros) ",
            );
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
            upsert.push(ROLLUP_CONFLICT);
            upsert.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes the records older than `retention_days` and the oldest beyond `max_rows`, and the
    /// rollups older than a year past the retention; 0 for either bound disables it. Deletes in
    /// chunks of a few thousand rows, each its own short transaction, so the writer is never
    /// held up for long. Returns the number of records deleted.
    pub async fn prune(&self, now_ms: i64, retention_days: u32, max_rows: u64) -> Result<u64> {
        let mut deleted = 0;
        if retention_days > 0 {
            let cutoff = now_ms.saturating_sub(i64::from(retention_days).saturating_mul(DAY_MS));
            // The time index finds the old records without reading the rest.
            deleted += self
                .delete_in_chunks(
                    "DELETE FROM requests WHERE id IN (SELECT id FROM requests \
                     INDEXED BY requests_time WHERE time_ms < ?1 LIMIT ?2)",
                    cutoff,
                )
                .await?;
        }
        if max_rows > 0 {
            // Row ids grow by one per record and only the oldest are ever deleted, so keeping
            // the ids above `newest - max_rows` keeps at most `max_rows` records without
            // counting them.
            let newest: Option<i64> = sqlx::query_scalar("SELECT MAX(id) FROM requests")
                .fetch_one(&self.pool)
                .await?;
            let bound = newest.map_or(0, |newest| {
                newest.saturating_sub(i64::try_from(max_rows).unwrap_or(i64::MAX))
            });
            if bound > 0 {
                deleted += self
                    .delete_in_chunks(
                        "DELETE FROM requests WHERE id IN (SELECT id FROM requests \
                         WHERE id <= ?1 ORDER BY id LIMIT ?2)",
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
            // Keeps the query planner's statistics current as the table's shape changes.
            sqlx::query("PRAGMA optimize").execute(&self.pool).await?;
        }
        Ok(deleted)
    }

    /// Runs `sql` (which deletes at most `?2` rows bounded by `?1`) until it deletes less than a
    /// whole chunk, taking the write lock once per chunk.
    async fn delete_in_chunks(&self, sql: &str, bound: i64) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let done = {
                let _write = self.write_lock.lock().await;
                sqlx::query(sql)
                    .bind(bound)
                    .bind(PRUNE_CHUNK)
                    .execute(&self.pool)
                    .await?
                    .rows_affected()
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
            let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(hour_ms) FROM rollups")
                .fetch_one(&self.pool)
                .await?;
            let Some(oldest) = oldest.filter(|&oldest| oldest < cutoff) else {
                return Ok(());
            };
            sqlx::query("DELETE FROM rollups WHERE hour_ms < ?")
                .bind(cutoff.min(oldest.saturating_add(DAY_MS)))
                .execute(&self.pool)
                .await?;
        }
    }

    /// One page of records, newest first.
    pub async fn logs(&self, filter: &LogFilter) -> Result<LogsPage> {
        let limit = filter
            .limit
            .unwrap_or(DEFAULT_LOG_LIMIT)
            .clamp(1, MAX_LOG_LIMIT);
        let mut query = QueryBuilder::<Sqlite>::new(LOG_SELECT);
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
        let rows = query.build().fetch_all(&self.pool).await?;
        let mut items = Vec::with_capacity(rows.len().min(limit as usize));
        let mut last_id = None;
        for row in rows.iter().take(limit as usize) {
            let (id, item) = request_log(row)?;
            last_id = Some(id);
            items.push(item);
        }
        let next_cursor = if rows.len() > limit as usize {
            last_id.map(|id| id.to_string())
        } else {
            None
        };
        Ok(LogsPage { items, next_cursor })
    }

    /// The newest record with this request id (a client may have sent it more than once).
    pub async fn log(&self, request_id: &str) -> Result<Option<RequestLog>> {
        let row = sqlx::query(&format!(
            "{LOG_SELECT} WHERE request_id = ? ORDER BY id DESC LIMIT 1"
        ))
        .bind(request_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref()
            .map(|row| request_log(row).map(|(_, item)| item))
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
        // TOTAL sums as a float: it cannot overflow (SUM would fail on a hostile upstream's
        // token counts), and it is exact up to 2^53, far beyond any real total.
        let sql = format!(
            "SELECT (hour_ms / ?1) * ?1 AS bucket, {group} AS grp, TOTAL(requests), \
             TOTAL(errors), TOTAL(prompt_tokens), TOTAL(completion_tokens), TOTAL(cached_tokens), \
             TOTAL(reasoning_tokens), TOTAL(cost_micros), TOTAL(unpriced_requests), \
             TOTAL(cache_hits), TOTAL(cost_saved_micros) FROM rollups WHERE hour_ms >= ?2 AND hour_ms < ?3 \
             GROUP BY 1, 2 ORDER BY 1, 2",
            group = query.group_by.column()
        );
        let rows = sqlx::query(&sql)
            .bind(bucket)
            .bind(since)
            .bind(until)
            .fetch_all(&self.pool)
            .await?;
        let rows = rows
            .iter()
            .map(|row| {
                let group = if query.group_by == GroupBy::Key {
                    row.try_get::<Option<i64>, _>(1)?.map(|id| id.to_string())
                } else {
                    row.try_get::<Option<String>, _>(1)?
                };
                // Float totals convert to counts with saturation.
                let total = |index: usize| row.try_get::<f64, _>(index).map(|total| total as u64);
                Ok(UsageRow {
                    bucket: format_rfc3339(row.try_get(0)?, false),
                    group,
                    requests: total(2)?,
                    errors: total(3)?,
                    prompt_tokens: total(4)?,
                    completion_tokens: total(5)?,
                    cached_tokens: total(6)?,
                    reasoning_tokens: total(7)?,
                    cost_usd: row.try_get::<f64, _>(8)?
                        / switchyard_shared::metering::MICROS_PER_USD,
                    unpriced_requests: total(9)?,
                    cache_hits: total(10)?,
                    cost_saved_usd: row.try_get::<f64, _>(11)?
                        / switchyard_shared::metering::MICROS_PER_USD,
                })
            })
            .collect::<Result<_>>()?;
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
        // One read transaction: a batch committed between the two reads would otherwise be
        // half counted.
        let mut tx = self.pool.begin().await?;
        let hours: f64 = sqlx::query_scalar(&format!(
            "SELECT TOTAL(cost_micros) FROM rollups WHERE {column} = ? AND hour_ms >= ?"
        ))
        .bind(id)
        .bind(first_hour)
        .fetch_one(&mut *tx)
        .await?;
        let partial: f64 = if first_hour > since {
            // The time index bounds the work to one hour of records, whatever the scope's
            // history.
            sqlx::query_scalar(&format!(
                "SELECT TOTAL(cost_micros) FROM requests INDEXED BY requests_time \
                 WHERE time_ms >= ? AND time_ms < ? AND {column} = ?"
            ))
            .bind(since)
            .bind(first_hour)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
        } else {
            0.0
        };
        tx.commit().await?;
        Ok((hours + partial) as i64)
    }
}

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

const LOG_SELECT: &str = "SELECT id, request_id, time_ms, endpoint, consumer, key_id, route, \
    provider, requested_model, model, status, error_code, stream, attempts, fallback_trail, \
    prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, tokens_estimated, \
    cost_micros, latency_ms, ttft_ms, client_disconnected, cache_hit, cost_saved_micros, \
    guardrails FROM requests";

/// A rollup row's key; anonymous and unknown are '' and 0, as stored.
#[derive(Debug, PartialEq, Eq, Hash)]
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

/// A record row as the API shows it, with its row id (the cursor).
fn request_log(row: &SqliteRow) -> Result<(i64, RequestLog)> {
    let request_id: String = row.try_get("request_id")?;
    let trail: Option<String> = row.try_get("fallback_trail")?;
    let fallback_trail: Vec<TrailStep> = match trail {
        Some(trail) => serde_json::from_str(&trail).map_err(|source| StoreError::Corrupt {
            what: "request record",
            name: request_id.clone(),
            source,
        })?,
        None => Vec::new(),
    };
    let cost: Option<i64> = row.try_get("cost_micros")?;
    let hits: Option<String> = row.try_get("guardrails")?;
    let guardrails: Vec<GuardrailHit> = match hits {
        Some(hits) => serde_json::from_str(&hits).map_err(|source| StoreError::Corrupt {
            what: "request record",
            name: request_id.clone(),
            source,
        })?,
        None => Vec::new(),
    };
    let saved: Option<i64> = row.try_get("cost_saved_micros")?;
    let log = RequestLog {
        cache_hit: row.try_get("cache_hit")?,
        cost_saved_usd: saved.map(switchyard_shared::metering::usd_from_micros),
        guardrails,
        time: format_rfc3339(row.try_get("time_ms")?, true),
        endpoint: row.try_get("endpoint")?,
        consumer: row.try_get("consumer")?,
        key_id: row.try_get("key_id")?,
        route: row.try_get("route")?,
        provider: row.try_get("provider")?,
        requested_model: row.try_get("requested_model")?,
        model: row.try_get("model")?,
        status: u16::try_from(row.try_get::<i64, _>("status")?).unwrap_or(0),
        error_code: row.try_get("error_code")?,
        stream: row.try_get("stream")?,
        attempts: u32::try_from(row.try_get::<i64, _>("attempts")?).unwrap_or(0),
        fallback_trail,
        prompt_tokens: count(row.try_get("prompt_tokens")?),
        completion_tokens: count(row.try_get("completion_tokens")?),
        cached_tokens: count(row.try_get("cached_tokens")?),
        reasoning_tokens: count(row.try_get("reasoning_tokens")?),
        tokens_estimated: row.try_get("tokens_estimated")?,
        cost_usd: cost.map(switchyard_shared::metering::usd_from_micros),
        latency_ms: count(row.try_get("latency_ms")?),
        ttft_ms: row.try_get::<Option<i64>, _>("ttft_ms")?.map(count),
        client_disconnected: row.try_get("client_disconnected")?,
        request_id,
    };
    Ok((row.try_get("id")?, log))
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
mod tests {
    use super::*;
    use crate::usage::Usage;

    async fn open() -> (tempfile::TempDir, UsageDb) {
        let dir = tempfile::tempdir().expect("a scratch dir");
        let db = UsageDb::open(&dir.path().join(USAGE_DB_FILE))
            .await
            .expect("the usage database opens");
        (dir, db)
    }

    const T0: i64 = 1_750_000_000_000 / HOUR_MS * HOUR_MS;

    /// A varied record: consumer, key, route, provider, model and status cycle with `i`.
    fn record(i: usize, time_ms: i64) -> LogRow {
        let consumers = [None, Some((1, "team-a")), Some((2, "team-b"))];
        let (consumer_id, consumer) = match consumers[i % 3] {
            Some((id, name)) => (Some(id), Some(Arc::from(name))),
            None => (None, None),
        };
        let statuses = [200, 200, 429, 500, 201, 404, 503];
        let status = statuses[i % statuses.len()];
        let cache_hit = i % 9 == 4;
        let hit = |detector: &str, count| GuardrailHit {
            guardrail: "pii".into(),
            detector: detector.into(),
            action: "mask".into(),
            count,
            phase: "request".into(),
        };
        LogRow {
            request_id: format!("req-{i}"),
            time_ms,
            endpoint: "chat",
            consumer_id,
            consumer,
            key_id: consumer_id.map(|id| id * 10 + (i % 2) as i64),
            route: Some(Arc::from(["r1", "r2"][i % 2])),
            provider: Some(Arc::from(["openai", "anthropic", "gemini"][i % 3])),
            requested_model: Some(["gpt", "claude", "gem", "up-1"][i % 4].to_owned()),
            model: (!i.is_multiple_of(5)).then(|| format!("up-{}", i % 4)),
            status,
            error_code: (status >= 400).then(|| "upstream_error".to_owned()),
            stream: i.is_multiple_of(2),
            attempts: (i % 3) as u32,
            fallback_trail: if i % 7 == 3 {
                vec![
                    TrailStep {
                        provider: "openai".into(),
                        status: Some(503),
                        outcome: "503".into(),
                    },
                    TrailStep {
                        provider: "anthropic".into(),
                        status: None,
                        outcome: "timeout".into(),
                    },
                ]
            } else {
                Vec::new()
            },
            usage: Usage {
                prompt_tokens: 100 + i as u64,
                completion_tokens: 10 + (i % 13) as u64,
                cached_prompt_tokens: (i % 4) as u64,
                reasoning_tokens: (i % 3) as u64,
                cache_write_tokens: (i % 2) as u64,
            },
            tokens_estimated: i.is_multiple_of(11),
            // A cached answer costs nothing; what it saved is recorded apart.
            cost_micros: if cache_hit {
                Some(0)
            } else {
                (!i.is_multiple_of(6)).then_some(1_000 + i as i64)
            },
            latency_ms: 5 + i as u64,
            ttft_ms: i.is_multiple_of(2).then_some(3),
            client_disconnected: i.is_multiple_of(17),
            cache_hit,
            cost_saved_micros: (cache_hit && i.is_multiple_of(2)).then_some(500 + i as i64),
            guardrails: match i % 4 {
                3 => vec![hit("EMAIL", 2), hit("EMPLOYEE_ID", 1)],
                _ => Vec::new(),
            },
        }
    }

    /// `n` records, one every `step_ms` from `T0`.
    fn records(n: usize, step_ms: i64) -> Vec<LogRow> {
        (0..n).map(|i| record(i, T0 + i as i64 * step_ms)).collect()
    }

    async fn insert(db: &UsageDb, rows: &[LogRow], batch: usize) {
        for chunk in rows.chunks(batch) {
            db.insert_batch(chunk).await.expect("the batch is written");
        }
    }

    /// Every page of `filter`, following the cursor.
    async fn all_pages(db: &UsageDb, mut filter: LogFilter) -> Vec<RequestLog> {
        let mut seen = Vec::new();
        loop {
            let page = db.logs(&filter).await.expect("a page");
            assert!(page.items.len() <= filter.limit.unwrap_or(DEFAULT_LOG_LIMIT) as usize);
            seen.extend(page.items);
            match page.next_cursor {
                Some(cursor) => filter.cursor = Some(cursor.parse().expect("a row id")),
                None => return seen,
            }
        }
    }

    /// Which records a filter should select.
    type Keep = Box<dyn Fn(&LogRow) -> bool>;
    /// Which statuses a status filter should select.
    type StatusKeep = fn(u16) -> bool;

    fn ids(logs: &[RequestLog]) -> Vec<String> {
        logs.iter().map(|log| log.request_id.clone()).collect()
    }

    /// The request ids of `rows` that `keep` selects, newest (last inserted) first.
    fn expected(rows: &[LogRow], keep: impl Fn(&LogRow) -> bool) -> Vec<String> {
        rows.iter()
            .rev()
            .filter(|row| keep(row))
            .map(|row| row.request_id.clone())
            .collect()
    }

    #[test]
    fn times_format_as_rfc3339_utc() {
        assert_eq!(format_rfc3339(0, true), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339(1_709_210_096_789, true),
            "2024-02-29T12:34:56.789Z"
        );
        assert_eq!(
            format_rfc3339(1_709_210_096_789, false),
            "2024-02-29T12:34:56Z"
        );
        assert_eq!(format_rfc3339(-5, false), "1970-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(i64::MAX, true), "9999-12-31T23:59:59.999Z");
    }

    #[test]
    fn status_filters_parse() {
        assert_eq!(StatusFilter::parse("429"), Some(StatusFilter::Code(429)));
        assert_eq!(StatusFilter::parse("2xx"), Some(StatusFilter::Class(2)));
        assert_eq!(StatusFilter::parse("5XX"), Some(StatusFilter::Class(5)));
        assert_eq!(StatusFilter::parse("error"), Some(StatusFilter::Error));
        for bad in ["", "6xx", "0xx", "99", "600", "4x", "x4xx", "-1", "abc"] {
            assert_eq!(StatusFilter::parse(bad), None, "{bad}");
        }
    }

    #[tokio::test]
    async fn records_round_trip_with_every_field() {
        let (_dir, db) = open().await;
        let rows = records(8, 1234);
        insert(&db, &rows, 8).await;
        let log = db.log("req-3").await.expect("read").expect("found");
        let row = &rows[3];
        assert_eq!(
            log,
            RequestLog {
                request_id: "req-3".into(),
                time: format_rfc3339(row.time_ms, true),
                endpoint: "chat".into(),
                consumer: None,
                key_id: None,
                route: Some("r2".into()),
                provider: Some("openai".into()),
                requested_model: Some("up-1".into()),
                model: Some("up-3".into()),
                status: 500,
                error_code: Some("upstream_error".into()),
                stream: false,
                attempts: 0,
                fallback_trail: row.fallback_trail.clone(),
                prompt_tokens: 103,
                completion_tokens: 13,
                cached_tokens: 3,
                reasoning_tokens: 0,
                tokens_estimated: false,
                cost_usd: Some(0.001003),
                latency_ms: 8,
                ttft_ms: None,
                client_disconnected: false,
                cache_hit: false,
                cost_saved_usd: None,
                guardrails: row.guardrails.clone(),
            }
        );
        assert_eq!(log.fallback_trail.len(), 2);
        assert_eq!(log.guardrails.len(), 2);
        let cached = db.log("req-4").await.expect("read").expect("found");
        assert!(cached.cache_hit);
        assert_eq!(cached.cost_usd, Some(0.0));
        assert_eq!(cached.cost_saved_usd, Some(0.000504));
        assert!(cached.guardrails.is_empty());
        let unpriced = db.log("req-0").await.expect("read").expect("found");
        assert_eq!(unpriced.cost_usd, None);
        assert!(unpriced.tokens_estimated && unpriced.client_disconnected);
        assert_eq!(unpriced.ttft_ms, Some(3));
        assert_eq!(db.log("req-404").await.expect("read"), None);
    }

    #[tokio::test]
    async fn a_resent_request_id_is_kept_twice_and_the_newest_is_read() {
        let (_dir, db) = open().await;
        let mut first = record(1, T0);
        first.request_id = "same".into();
        let mut second = record(2, T0 + 10);
        second.request_id = "same".into();
        db.insert_batch(&[first]).await.expect("written");
        db.insert_batch(&[second]).await.expect("written");
        let page = db.logs(&LogFilter::default()).await.expect("page");
        assert_eq!(ids(&page.items), ["same", "same"]);
        let newest = db.log("same").await.expect("read").expect("found");
        assert_eq!(newest.status, 429);
    }

    #[tokio::test]
    async fn rollups_agree_with_the_records_however_they_are_batched() {
        let (_dir, db) = open().await;
        // Three records a minute over about 14 hours, in batches that straddle the insert chunk.
        let rows = records(2_500, 20_000);
        insert(&db, &rows[..700], 700).await;
        insert(&db, &rows[700..], 97).await;
        for group_by in [
            GroupBy::Consumer,
            GroupBy::Key,
            GroupBy::Route,
            GroupBy::Provider,
            GroupBy::Model,
        ] {
            for bucket in [Bucket::Hour, Bucket::Day] {
                let report = db
                    .usage(&UsageQuery {
                        group_by,
                        bucket,
                        since_ms: None,
                        until_ms: None,
                    })
                    .await
                    .expect("report");
                let mut want: std::collections::BTreeMap<(i64, Option<String>), UsageRow> =
                    Default::default();
                let mut unpriced = 0;
                for row in &rows {
                    let bucket_ms = row.time_ms / bucket.millis() * bucket.millis();
                    let group = match group_by {
                        GroupBy::Consumer => row.consumer.as_deref().map(str::to_owned),
                        GroupBy::Key => row.key_id.map(|id| id.to_string()),
                        GroupBy::Route => row.route.as_deref().map(str::to_owned),
                        GroupBy::Provider => row.provider.as_deref().map(str::to_owned),
                        GroupBy::Model => row.model.clone().or(row.requested_model.clone()),
                    };
                    let entry = want.entry((bucket_ms, group.clone())).or_default();
                    entry.bucket = format_rfc3339(bucket_ms, false);
                    entry.group = group;
                    entry.requests += 1;
                    entry.errors += u64::from(row.status >= 400);
                    entry.prompt_tokens += row.usage.prompt_tokens;
                    entry.completion_tokens += row.usage.completion_tokens;
                    entry.cached_tokens += row.usage.cached_prompt_tokens;
                    entry.reasoning_tokens += row.usage.reasoning_tokens;
                    match row.cost_micros {
                        Some(cost) => entry.cost_usd += cost as f64 / 1e6,
                        None => {
                            entry.unpriced_requests += 1;
                            unpriced += 1;
                        }
                    }
                    if row.cache_hit {
                        entry.cache_hits += 1;
                        entry.cost_saved_usd += row.cost_saved_micros.unwrap_or(0) as f64 / 1e6;
                    }
                }
                assert!(unpriced > 0);
                // Key ids here all have two digits, so their order as strings is the numeric one.
                let got = report.rows.clone();
                let want: Vec<UsageRow> = want.into_values().collect();
                assert_eq!(got.len(), want.len(), "{group_by:?} {bucket:?}");
                for (got, want) in got.iter().zip(&want) {
                    assert!(
                        (got.cost_usd - want.cost_usd).abs() < 1e-9,
                        "{got:?} {want:?}"
                    );
                    assert!(
                        (got.cost_saved_usd - want.cost_saved_usd).abs() < 1e-9,
                        "{got:?} {want:?}"
                    );
                    assert_eq!(
                        UsageRow {
                            cost_usd: 0.0,
                            cost_saved_usd: 0.0,
                            ..got.clone()
                        },
                        UsageRow {
                            cost_usd: 0.0,
                            cost_saved_usd: 0.0,
                            ..want.clone()
                        }
                    );
                }
                let hits: u64 = got.iter().map(|row| row.cache_hits).sum();
                assert_eq!(hits, rows.iter().filter(|row| row.cache_hit).count() as u64);
                // Ordered by bucket, then group with "none" first.
                let order: Vec<_> = report.rows.iter().map(|row| &row.bucket).collect();
                assert!(order.windows(2).all(|pair| pair[0] <= pair[1]));
            }
        }
        let records_total = all_pages(
            &db,
            LogFilter {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(records_total.len(), rows.len());
    }

    #[tokio::test]
    async fn usage_rounds_since_down_to_its_bucket_and_stops_before_until() {
        let (_dir, db) = open().await;
        // One record an hour for three days.
        let rows = records(72, HOUR_MS);
        insert(&db, &rows, 72).await;
        let report = |since_ms, until_ms, bucket| {
            let db = db.clone();
            async move {
                db.usage(&UsageQuery {
                    group_by: GroupBy::Route,
                    bucket,
                    since_ms,
                    until_ms,
                })
                .await
                .expect("report")
            }
        };
        let requests = |report: &UsageReport| report.rows.iter().map(|r| r.requests).sum::<u64>();
        // Half an hour into the 3rd hour: the whole hour counts.
        let hourly = report(
            Some(T0 + 2 * HOUR_MS + HOUR_MS / 2),
            Some(T0 + 5 * HOUR_MS),
            Bucket::Hour,
        )
        .await;
        assert_eq!(requests(&hourly), 3);
        assert_eq!(
            hourly.rows[0].bucket,
            format_rfc3339(T0 + 2 * HOUR_MS, false)
        );
        let daily = report(Some(T0 + 2 * HOUR_MS), None, Bucket::Day).await;
        let day_start = T0 / DAY_MS * DAY_MS;
        assert_eq!(daily.rows[0].bucket, format_rfc3339(day_start, false));
        assert_eq!(requests(&daily), 72);
        assert!(
            daily
                .rows
                .iter()
                .all(|row| row.bucket.ends_with("T00:00:00Z"))
        );
    }

    #[tokio::test]
    async fn filters_and_cursor_pages_cover_every_record_once() {
        let (_dir, db) = open().await;
        let rows = records(600, 1_000);
        insert(&db, &rows, 64).await;
        let since = T0 + 100_000;
        let until = T0 + 450_000;
        let cases: Vec<(LogFilter, Keep)> = vec![
            (LogFilter::default(), Box::new(|_| true)),
            (
                LogFilter {
                    consumer: Some("team-a".into()),
                    ..Default::default()
                },
                Box::new(|row| row.consumer.as_deref() == Some("team-a")),
            ),
            (
                LogFilter {
                    key_id: Some(21),
                    ..Default::default()
                },
                Box::new(|row| row.key_id == Some(21)),
            ),
            (
                LogFilter {
                    route: Some("r2".into()),
                    provider: Some("gemini".into()),
                    ..Default::default()
                },
                Box::new(|row| {
                    row.route.as_deref() == Some("r2") && row.provider.as_deref() == Some("gemini")
                }),
            ),
            (
                LogFilter {
                    model: Some("gpt".into()),
                    ..Default::default()
                },
                Box::new(|row| row.requested_model.as_deref() == Some("gpt")),
            ),
            (
                // The requested model of some records and the upstream model of others.
                LogFilter {
                    model: Some("up-1".into()),
                    ..Default::default()
                },
                Box::new(|row| {
                    row.model.as_deref() == Some("up-1")
                        || row.requested_model.as_deref() == Some("up-1")
                }),
            ),
            (
                LogFilter {
                    since_ms: Some(since),
                    until_ms: Some(until),
                    status: Some(StatusFilter::Error),
                    ..Default::default()
                },
                Box::new(move |row| {
                    row.time_ms >= since && row.time_ms < until && row.status >= 400
                }),
            ),
            (
                LogFilter {
                    consumer: Some("nobody".into()),
                    ..Default::default()
                },
                Box::new(|_| false),
            ),
        ];
        for (filter, keep) in cases {
            let want = expected(&rows, keep);
            for limit in [None, Some(1), Some(7), Some(500)] {
                let got = all_pages(
                    &db,
                    LogFilter {
                        limit,
                        ..filter.clone()
                    },
                )
                .await;
                assert_eq!(ids(&got), want, "{filter:?} limit {limit:?}");
            }
        }
        // The last page says there is no next one, also when it is exactly full.
        let page = db
            .logs(&LogFilter {
                limit: Some(600),
                ..Default::default()
            })
            .await
            .expect("page");
        assert_eq!(page.items.len(), MAX_LOG_LIMIT as usize);
        assert!(page.next_cursor.is_some());
        let exact = db
            .logs(&LogFilter {
                key_id: Some(21),
                limit: Some(expected(&rows, |row| row.key_id == Some(21)).len() as u32),
                ..Default::default()
            })
            .await
            .expect("page");
        assert_eq!(exact.next_cursor, None);
    }

    #[tokio::test]
    async fn status_filters_select_codes_and_classes() {
        let (_dir, db) = open().await;
        let rows = records(70, 10);
        insert(&db, &rows, 70).await;
        let cases: [(StatusFilter, StatusKeep); 5] = [
            (StatusFilter::Code(429), |status| status == 429),
            (StatusFilter::Class(2), |status| {
                (200..300).contains(&status)
            }),
            (StatusFilter::Class(4), |status| {
                (400..500).contains(&status)
            }),
            (StatusFilter::Class(5), |status| status >= 500),
            (StatusFilter::Error, |status| status >= 400),
        ];
        for (status, keep) in cases {
            let got = all_pages(
                &db,
                LogFilter {
                    status: Some(status),
                    limit: Some(500),
                    ..Default::default()
                },
            )
            .await;
            let want = expected(&rows, |row| keep(row.status));
            assert!(!want.is_empty());
            assert_eq!(ids(&got), want, "{status:?}");
        }
    }

    #[tokio::test]
    async fn spend_adds_whole_hours_from_rollups_and_a_partial_hour_from_records() {
        let (_dir, db) = open().await;
        let priced = |i: usize, time_ms: i64, consumer: i64, key: i64, cost: Option<i64>| LogRow {
            consumer_id: Some(consumer),
            key_id: Some(key),
            cost_micros: cost,
            ..record(i, time_ms)
        };
        let rows = vec![
            // Before the period: not counted.
            priced(0, T0 + 10 * 60_000, 1, 11, Some(1)),
            // The leading half hour (the period starts at T0 + 30 min).
            priced(1, T0 + 30 * 60_000, 1, 11, Some(10)),
            priced(2, T0 + 59 * 60_000, 1, 12, Some(100)),
            // Whole hours.
            priced(3, T0 + HOUR_MS, 1, 11, Some(1_000)),
            priced(4, T0 + 5 * HOUR_MS + 1, 1, 12, Some(10_000)),
            priced(5, T0 + 5 * HOUR_MS + 2, 1, 12, None),
            // Someone else's.
            priced(6, T0 + 2 * HOUR_MS, 2, 21, Some(100_000)),
        ];
        insert(&db, &rows, 3).await;
        let since = T0 + 30 * 60_000;
        let spend = |scope| {
            let db = db.clone();
            async move { db.spend_since(scope, since).await.expect("spend") }
        };
        assert_eq!(spend(SpendScope::Consumer(1)).await, 11_110);
        assert_eq!(spend(SpendScope::Key(11)).await, 1_010);
        assert_eq!(spend(SpendScope::Key(12)).await, 10_100);
        assert_eq!(spend(SpendScope::Consumer(2)).await, 100_000);
        assert_eq!(spend(SpendScope::Consumer(3)).await, 0);
        // On an hour boundary only the rollups are read; from the epoch, everything counts.
        assert_eq!(
            db.spend_since(SpendScope::Consumer(1), T0 + HOUR_MS)
                .await
                .expect("spend"),
            11_000
        );
        assert_eq!(
            db.spend_since(SpendScope::Consumer(1), 0)
                .await
                .expect("spend"),
            11_111
        );
        // After a restart: the same figures from the same file.
        let path = db.path().to_owned();
        db.close().await;
        let reopened = UsageDb::open(&path).await.expect("reopens");
        assert_eq!(
            reopened
                .spend_since(SpendScope::Consumer(1), since)
                .await
                .expect("spend"),
            11_110
        );
    }

    #[tokio::test]
    async fn prune_deletes_by_age_then_by_row_cap_and_keeps_rollups_longer() {
        let (_dir, db) = open().await;
        // One record a day for 40 days, then 4,500 more on the last day.
        let mut rows: Vec<LogRow> = (0..40).map(|i| record(i, T0 + i as i64 * DAY_MS)).collect();
        let last_day = T0 + 39 * DAY_MS;
        rows.extend((40..4_540).map(|i| record(i, last_day + i as i64)));
        insert(&db, &rows, 512).await;
        let now = last_day + HOUR_MS;
        // 30 days: the first ten days' records go (days 0 to 9 are older than now - 30 days).
        let deleted = db.prune(now, 30, 0).await.expect("pruned");
        assert_eq!(deleted, 10);
        let left = all_pages(
            &db,
            LogFilter {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(left.len(), rows.len() - 10);
        assert_eq!(
            left.last().map(|log| log.request_id.as_str()),
            Some("req-10")
        );
        // The rollups of those days stay: usage still sees all 40 days.
        let report = db.usage(&UsageQuery::default()).await.expect("report");
        assert_eq!(
            report.rows.iter().map(|r| r.requests).sum::<u64>(),
            rows.len() as u64
        );
        // A cap of 3,000: the oldest go, in several chunks, and the newest 3,000 stay.
        let deleted = db.prune(now, 30, 3_000).await.expect("pruned");
        assert_eq!(deleted, (rows.len() - 10 - 3_000) as u64);
        let left = all_pages(
            &db,
            LogFilter {
                limit: Some(500),
                ..Default::default()
            },
        )
        .await;
        assert_eq!(ids(&left), expected(&rows[rows.len() - 3_000..], |_| true));
        // Nothing more to do: nothing deleted.
        assert_eq!(db.prune(now, 30, 3_000).await.expect("pruned"), 0);
        // 365 days past the retention, the oldest rollups go too.
        let later = T0 + (30 + 365 + 5) * DAY_MS;
        db.prune(later, 30, 0).await.expect("pruned");
        let report = db.usage(&UsageQuery::default()).await.expect("report");
        let first_day = format_rfc3339((later - 395 * DAY_MS) / DAY_MS * DAY_MS, false);
        assert!(
            report.rows.iter().all(|row| row.bucket >= first_day),
            "{report:?}"
        );
        assert!(!report.rows.is_empty());
        // The first five days' rollups are gone.
        assert_eq!(
            report.rows.iter().map(|r| r.requests).sum::<u64>(),
            4_500 + 35
        );
    }

    /// Run with `cargo test -p switchyard --release --lib store::usage -- --ignored --nocapture`.
    /// Measured twice: with random request ids (clients' own, and the gateway's today), whose
    /// index takes a page write per record, and with time-ordered ones, which only append.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a benchmark: run it in release"]
    async fn writer_throughput() {
        const TOTAL: usize = 200_000;
        const BATCH: usize = 512;
        for ordered in [false, true] {
            let (_dir, db) = open().await;
            let rows: Vec<LogRow> = (0..TOTAL)
                .map(|i| {
                    let time_ms = T0 + i as i64 * 5;
                    let mut row = record(i, time_ms);
                    row.request_id = if ordered {
                        format!("req_{time_ms:012x}{:020x}", fastrand::u128(..) >> 48)
                    } else {
                        format!("req_{:032x}", fastrand::u128(..))
                    };
                    row
                })
                .collect();
            let started = std::time::Instant::now();
            for batch in rows.chunks(BATCH) {
                db.insert_batch(batch).await.expect("written");
            }
            let elapsed = started.elapsed();
            let ids = if ordered { "time-ordered" } else { "random" };
            println!(
                "writer_throughput: {TOTAL} records with {ids} ids in batches of {BATCH} in {:.2} s: {:.0} records/s",
                elapsed.as_secs_f64(),
                TOTAL as f64 / elapsed.as_secs_f64()
            );
            let started = std::time::Instant::now();
            let page = db
                .logs(&LogFilter {
                    consumer: Some("team-b".into()),
                    status: Some(StatusFilter::Error),
                    ..Default::default()
                })
                .await
                .expect("page");
            let last = rows
                .last()
                .map(|row| row.request_id.as_str())
                .unwrap_or_default();
            let found = db.log(last).await.expect("read");
            println!(
                "writer_throughput: a filtered logs page and a lookup by id over {TOTAL} records in {:?}",
                started.elapsed()
            );
            assert_eq!(page.items.len(), DEFAULT_LOG_LIMIT as usize);
            assert!(found.is_some());
        }
    }
}
