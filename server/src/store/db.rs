//! The configuration store's connection: one `sqlx::Any` pool and the engine behind it.
//!
//! The store's SQL is written once, with `$N` placeholders, and runs on either engine; only what
//! truly differs between them lives here: how a database is opened (SQLite's file, its pragmas
//! and the data dir's modes are the caller's part), how a write transaction starts, and which
//! migrations apply. Today only SQLite is opened; PostgreSQL is the next step of issue 17, and
//! its branches here are written but not yet exercised by any test.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor, Row, Transaction};

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

    /// Brings the schema up to date with the engine's migrations.
    pub async fn migrate(&self) -> Result<()> {
        match self.engine {
            Engine::Sqlite => sqlx::migrate!("./migrations").run(&self.pool).await?,
            // There are no PostgreSQL migrations yet, and no way to open PostgreSQL: refusing
            // here keeps a half-built path from ever writing to a database.
            Engine::Postgres => {
                return Err(sqlx::Error::Configuration(
                    "the configuration store cannot run on PostgreSQL yet".into(),
                )
                .into());
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
