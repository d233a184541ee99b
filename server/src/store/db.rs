//! The configuration store's connection: one `sqlx::Any` pool and the engine behind it.
//!
//! The store's SQL is written once, with `$N` placeholders, and runs on either engine; only what
//! truly differs between them lives here: how a database is opened (SQLite's file, its pragmas
//! and the data dir's modes are the caller's part), how a write transaction starts, and which
//! migrations apply (`migrations/sqlite` or `migrations/postgres`, twins with the same versions).

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Executor, Row, Transaction};

use super::{Result, StoreError};

/// The database engine behind a [`Db`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// The store's pool, and the engine it speaks to.
#[derive(Clone, Debug)]
pub struct Db {
    pool: AnyPool,
    engine: Engine,
}

/// How long a connection waits for another writer's lock before it fails with "database is
/// locked"; the same five seconds the store has always used.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a store operation waits for a PostgreSQL connection (the pool retries a failing
/// connect meanwhile) before it fails: long enough for a server that is restarting, short enough
/// that an admin write does not hang (sqlx's default is 30 s).
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The pragmas every SQLite connection starts with. The busy timeout comes first so that the
/// others wait for a lock rather than fail on one. WAL lets readers (the reloader, other
/// processes) read while a write is in progress, `synchronous = NORMAL` is durable enough in WAL
/// mode, foreign keys enforce the `ON DELETE RESTRICT` links, and `secure_delete` zeroes deleted
/// and overwritten rows (old keys) instead of leaving them in free pages.
fn sqlite_pragmas() -> String {
    format!(
        "PRAGMA busy_timeout = {};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA secure_delete = ON;",
        SQLITE_BUSY_TIMEOUT.as_millis()
    )
}

impl Db {
    /// Opens (creating it if missing) the SQLite database file at `path`, with a pool of four
    /// connections, each set up with [`sqlite_pragmas`].
    pub async fn open_sqlite(path: &Path) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = sqlite_url(path)?.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(4)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(sqlite_pragmas().as_str()).await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db {
            pool,
            engine: Engine::Sqlite,
        })
    }

    /// Opens the SQLite database file at `path` read-only (it must exist), without writing
    /// anything to it, not even a pragma: for `switchyard migrate`, which copies from it.
    pub async fn open_sqlite_read_only(path: &Path) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let url = sqlite_url(path)?.replace("?mode=rwc", "?mode=ro");
        let options: AnyConnectOptions = url.parse()?;
        let pool = AnyPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(
                        format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis())
                            .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Db {
            pool,
            engine: Engine::Sqlite,
        })
    }

    /// Opens a PostgreSQL database from a `postgres://` or `postgresql://` URL, with a pool of
    /// eight connections. The URL may carry a password: it is never logged or put in an error
    /// (see [`redacted_url`]).
    pub async fn open_postgres(url: &str) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let options: AnyConnectOptions = url.parse().map_err(|_| {
            sqlx::Error::Configuration(format!("invalid database URL {}", redacted_url(url)).into())
        })?;
        // One connection first, without the pool's retries: when the server cannot be reached or
        // refuses the login, the error says why (the pool's would only say that it timed out).
        let probe = sqlx::AnyConnection::connect_with(&options).await?;
        probe.close().await?;
        let pool = AnyPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await?;
        Ok(Db {
            pool,
            engine: Engine::Postgres,
        })
    }

    /// Opens `url_or_path`: a `postgres://` or `postgresql://` URL opens PostgreSQL, a
    /// `sqlite://PATH` URL or a bare path opens that SQLite file.
    pub async fn open(url_or_path: &str) -> Result<Db> {
        match engine_of(url_or_path) {
            Engine::Postgres => Db::open_postgres(url_or_path).await,
            Engine::Sqlite => {
                let path = url_or_path.strip_prefix("sqlite://").unwrap_or(url_or_path);
                Db::open_sqlite(Path::new(path)).await
            }
        }
    }

    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// The pool, for reads and for statements outside a write transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction that holds the write lock from its first statement, so that two
    /// writers (in this process or another) never both read the old state and then both write.
    /// SQLite takes the database's write lock with `BEGIN IMMEDIATE`; PostgreSQL locks the one
    /// `meta` row, which every write transaction updates anyway when it bumps the revision.
    pub async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>> {
        match self.engine {
            Engine::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Engine::Postgres => {
                let mut tx = self.pool.begin().await?;
                sqlx::query("SELECT revision FROM meta WHERE id = 1 FOR UPDATE")
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }

    /// Starts a read-only transaction whose statements all see one snapshot of the database, so
    /// that what is read together (a whole configuration, a page of the trail and its changes)
    /// belongs to one revision. SQLite's WAL read transaction is such a snapshot already;
    /// PostgreSQL's default (`READ COMMITTED`) takes a new snapshot per statement, so it asks for
    /// `REPEATABLE READ`.
    pub async fn begin_read(&self) -> Result<Transaction<'static, sqlx::Any>> {
        match self.engine {
            Engine::Sqlite => Ok(self.pool.begin().await?),
            Engine::Postgres => Ok(self
                .pool
                .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                .await?),
        }
    }

    /// Brings the schema up to date with the engine's migrations.
    pub async fn migrate(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => {
                sqlx::migrate!("./migrations/sqlite")
                    .run(&self.pool)
                    .await?
            }
            // sqlx's PostgreSQL migrator holds an advisory lock while it runs, so nodes that
            // start together migrate once.
            Engine::Postgres => {
                sqlx::migrate!("./migrations/postgres")
                    .run(&self.pool)
                    .await?
            }
        }
        Ok(())
    }

    /// Removes the old copies of rewritten rows from the database's files, and says whether that
    /// worked. On SQLite, `secure_delete` zeroed the overwritten values; VACUUM rebuilds the file
    /// without the free pages older writes left, and the checkpoint empties the write-ahead log.
    /// A gateway reading the database meanwhile can keep the log from being emptied. PostgreSQL
    /// keeps old row versions until its own vacuum, which this step does not manage yet, so it
    /// reports failure rather than a promise it cannot keep.
    pub async fn scrub_old_copies(&self) -> bool {
        match self.engine {
            Engine::Sqlite => {
                let vacuumed = sqlx::query("VACUUM").execute(&self.pool).await;
                let checkpoint: std::result::Result<(i64, i64, i64), _> =
                    sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)")
                        .fetch_one(&self.pool)
                        .await;
                vacuumed.is_ok() && matches!(checkpoint, Ok((0, _, _)))
            }
            Engine::Postgres => false,
        }
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Reads a boolean column. SQLite stores booleans as integers, and `Any` decodes a `bool` only
/// from a column of a boolean type (PostgreSQL's `BOOLEAN`), so an integer is read as
/// "not zero".
pub(super) fn get_bool(row: &AnyRow, column: &str) -> Result<bool> {
    match row.try_get::<bool, _>(column) {
        Ok(value) => Ok(value),
        Err(sqlx::Error::ColumnDecode { .. }) => Ok(row.try_get::<i64, _>(column)? != 0),
        Err(error) => Err(error.into()),
    }
}

/// The PostgreSQL notification channel on which every revision-making transaction announces its
/// new revision.
pub const REVISION_CHANNEL: &str = "switchyard_config";

/// Calls `on_revision` for every revision another node (or this one) commits, from PostgreSQL's
/// notifications on [`REVISION_CHANNEL`]; runs until the task is dropped. `PgListener`
/// reconnects by itself after a lost connection; notifications sent meanwhile are lost, which the
/// caller's periodic revision poll covers. The URL's password is never logged.
pub async fn listen_for_revisions(url: String, on_revision: impl Fn(i64) + Send + 'static) {
    let redacted = redacted_url(&url);
    let mut listener = loop {
        let connected = async {
            let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
            listener.listen(REVISION_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match connected.await {
            Ok(listener) => break listener,
            Err(error) => {
                tracing::warn!(database = %redacted, %error, "cannot listen for configuration changes; retrying in 5 s (the revision poll still runs)");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    loop {
        match listener.recv().await {
            Ok(notification) => match notification.payload().parse::<i64>() {
                Ok(revision) => on_revision(revision),
                Err(_) => tracing::warn!(
                    payload = notification.payload(),
                    "ignoring a configuration notification that is not a revision"
                ),
            },
            Err(error) => {
                tracing::warn!(database = %redacted, %error, "lost the configuration change listener; reconnecting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The engine a database URL (or a bare SQLite path) names.
pub fn engine_of(url_or_path: &str) -> Engine {
    let lower = url_or_path
        .get(..13)
        .unwrap_or(url_or_path)
        .to_ascii_lowercase();
    if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
        Engine::Postgres
    } else {
        Engine::Sqlite
    }
}

/// `url` with its password replaced by `***`, for logs and error messages: the password is a
/// secret, the user, host and database are not.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    // The last `@` ends the user info: a password may itself contain an `@` that was not
    // percent-encoded.
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return redact_query(url);
    };
    let user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        None => userinfo.to_owned(),
    };
    redact_query(&format!("{scheme}://{user}@{host}{tail}"))
}

/// Replaces the value of a `password=` query parameter, which libpq-style URLs also accept.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
            _ => part.to_owned(),
        })
        .collect();
    format!("{base}?{}", parts.join("&"))
}

/// The `sqlite://` URL of the file at `path`, which is made absolute first: the `Any` driver
/// parses the URL as a URL, where the first part of a relative path would become a host name.
/// Every byte outside the unreserved set is percent-encoded (sqlx's own encoder leaves `%`
/// alone, which would change a path containing one); sqlx decodes the path back as UTF-8, so a
/// path that is not UTF-8 is refused here.
fn sqlite_url(path: &Path) -> Result<String> {
    let absolute = std::path::absolute(path).map_err(|source| StoreError::DataDir {
        path: path.to_owned(),
        source,
    })?;
    let Some(text) = absolute.to_str() else {
        return Err(StoreError::DataDir {
            path: path.to_owned(),
            source: std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the database path must be valid UTF-8",
            ),
        });
    };
    let mut url = String::from("sqlite://");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(char::from(byte));
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

/// Fails when a migration in `recorded` (version, SHA-384 in hex) is missing from `migrator` or
/// its text changed: sqlx would then refuse every database that applied the old one.
#[cfg(test)]
pub(crate) fn assert_checksums_pinned(
    migrator: &sqlx::migrate::Migrator,
    recorded: &[(i64, &str)],
    what: &str,
) {
    let embedded: Vec<(i64, String)> = migrator
        .iter()
        .map(|m| {
            let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            (m.version, hex)
        })
        .collect();
    for (version, checksum) in recorded {
        assert!(
            embedded.contains(&(*version, (*checksum).to_owned())),
            "{what} {version} changed its checksum or is missing"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_encodes_every_special_byte() -> Result<()> {
        let url = sqlite_url(Path::new("/data dir/100%?#é/switchyard.db"))?;
        assert_eq!(
            url,
            "sqlite:///data%20dir/100%25%3F%23%C3%A9/switchyard.db?mode=rwc"
        );
        Ok(())
    }

    #[test]
    fn a_url_names_its_engine() {
        assert_eq!(engine_of("postgres://h/db"), Engine::Postgres);
        assert_eq!(engine_of("PostgreSQL://h/db"), Engine::Postgres);
        assert_eq!(engine_of("sqlite:///tmp/x.db"), Engine::Sqlite);
        assert_eq!(
            engine_of("/var/lib/switchyard/switchyard.db"),
            Engine::Sqlite
        );
    }

    #[test]
    fn a_redacted_url_keeps_everything_but_the_password() {
        assert_eq!(
            redacted_url("postgres://sy:s3cr@t@db.example:5432/switchyard?sslmode=require"),
            "postgres://sy:***@db.example:5432/switchyard?sslmode=require"
        );
        assert_eq!(
            redacted_url("postgres://sy@db/switchyard?password=hunter2&sslmode=disable"),
            "postgres://sy@db/switchyard?password=***&sslmode=disable"
        );
        assert_eq!(redacted_url("postgres://db/x"), "postgres://db/x");
    }

    /// Every SQLite migration has a PostgreSQL twin with the same version, and no engine has a
    /// migration the other lacks: the two schemas must move together.
    #[test]
    fn both_engines_have_the_same_migration_versions() {
        let versions = |dir: &str| -> Vec<String> {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
            let mut versions: Vec<String> = std::fs::read_dir(&path)
                .expect("the migrations directory is readable")
                .filter_map(|entry| {
                    let name = entry.ok()?.file_name().into_string().ok()?;
                    let stem = name.strip_suffix(".sql")?;
                    Some(stem.split_once('_').map_or(stem, |(v, _)| v).to_owned())
                })
                .collect();
            versions.sort();
            versions
        };
        let sqlite = versions("migrations/sqlite");
        let postgres = versions("migrations/postgres");
        assert!(!sqlite.is_empty(), "the SQLite migrations are found");
        assert_eq!(sqlite, postgres);
    }

    /// The SQLite migrations moved to `migrations/sqlite` unchanged: an existing database
    /// recorded these versions and SHA-384 checksums in `_sqlx_migrations`, and sqlx refuses to
    /// start on a database whose applied migration has a different checksum. Editing an applied
    /// SQLite migration would break every existing data dir; add a new one instead.
    #[test]
    fn the_sqlite_migrations_keep_the_checksums_existing_databases_recorded() {
        let recorded = [
            (
                20261121000001_i64,
                "479b7df19ee376bfb280baa7437dcb5cbc95e1a69cd25016e6ed50485b654b512ad891d5211eeae027e21f2f06b8fa72",
            ),
            (
                20261121000002,
                "7fefdbc6d4c8b21dcf26d6f8ad79a2e0954783cb56b797d73765e6b254ad24e17ae882cdb9192ce4559d3aa407dc8b9a",
            ),
            (
                20261206000001,
                "2327662f09d6bd8738fa6e97c15fdb16117430ff513f224ac88219a53b49a867c4b87c51656d12778d8afc96a67a4376",
            ),
            (
                20261207000001,
                "4a2eb06a09e8ec0c75cb6ba361cb22c736aef18d6ef7795847b4b288b2517dec7bff9d8a07658bd0b8325c732ecd85c8",
            ),
            (
                20261215000001,
                "ad9bca5d1d59a6f65dc0723d4c4968fc9edb3d931f2f585ee6fac29a1b6cb973238bc4e18d1a440dcd6a092678b526a9",
            ),
            (
                20261222000001,
                "04540a4e282b6a25b0f8f207f474b803ee5c4ca8d71e493ac1c8bec2a55afef648966f398e59546ae81d9f427c15bc04",
            ),
        ];
        let migrator = sqlx::migrate!("./migrations/sqlite");
        assert_checksums_pinned(&migrator, &recorded, "migration");
    }

    #[tokio::test]
    async fn a_path_with_special_characters_opens_that_file() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|source| StoreError::DataDir {
            path: std::env::temp_dir(),
            source,
        })?;
        let path = dir.path().join("a b%20c?#.db");
        let db = Db::open_sqlite(&path).await?;
        db.migrate().await?;
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(db.pool())
            .await?;
        db.close().await;
        assert_eq!(mode, "wal");
        assert!(path.exists(), "the file is created under its own name");
        Ok(())
    }
}
