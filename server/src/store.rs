//! The configuration store: SQLite (WAL mode) holding providers, keys, routes, consumers and
//! guardrail policies. The only module that runs SQL.
//!
//! The store talks to its database through [`Db`] (`store/db.rs`), an engine-neutral
//! `sqlx::Any` pool, and its SQL uses `$N` placeholders, so that the same statements can run on
//! PostgreSQL later (issue 17); `store/usage.rs` is still SQLite-only.
//!
//! Every write is one `BEGIN IMMEDIATE` transaction that validates first, writes, and bumps
//! `meta.revision`, so a failed write leaves nothing behind and readers (the reloader in this process
//! or in another) can tell from one integer whether anything changed. The writes are in
//! `store/config.rs`, `store/consumers.rs` and `store/guardrails.rs`; console accounts and
//! sessions are in `store/auth.rs` (they are not configuration and do not bump the revision).
//!
//! The data dir is private: on every open it is made 0700 and every file in it 0600 (the database,
//! its `-wal` and `-shm`, token files), and SQLite zeroes deleted content (`secure_delete`). With a
//! master key, provider keys and header values are sealed before they are written and unsealed
//! when they are parsed (see `secrets.rs`).

pub mod audit;
mod audit_retention;
mod auth;
mod config;
mod consumers;
mod db;
mod guardrails;
mod history;
pub mod migrate;
#[cfg(test)]
mod sql_placeholders;
#[cfg(test)]
mod test_postgres;
pub mod usage;

pub use audit::{Actor, Origin};
pub use audit_retention::spawn_pruner as spawn_audit_pruner;
pub use auth::SessionRow;
pub use config::ResealSummary;
pub use consumers::{IssuedKey, StoredConsumer, StoredKey};
pub use db::{Db, Engine, engine_of, listen_for_revisions, redacted_url};
pub use guardrails::StoredGuardrail;
pub use history::{AuditFilter, DEFAULT_PAGE, MAX_PAGE, rfc3339_millis};

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use switchyard_shared::{ConfigDocument, ProviderSpec, RouteSpec, Settings, ValidationErrors};

use crate::secrets::{MasterKey, Sealer, SecretsError, is_sealed};

/// The database file's name inside the data dir.
pub const DB_FILE: &str = "switchyard.db";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    Conflict {
        message: String,
        /// The routes that block the change, when routes are the reason.
        routes: Vec<String>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(ValidationErrors),
    /// The audit trail no longer holds (or never held) the entries needed to go back that far.
    #[error("history before revision {kept_from} is not kept")]
    HistoryGone { kept_from: i64 },
    #[error("stored {what} '{name}' cannot be read: {source}")]
    Corrupt {
        what: &'static str,
        name: String,
        source: serde_json::Error,
    },
    #[error("cannot create data dir {path}: {source}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Secrets(#[from] SecretsError),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<ValidationErrors> for StoreError {
    fn from(errors: ValidationErrors) -> Self {
        StoreError::Invalid(errors)
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A provider as stored, with its keys' stable ids in the same order as `spec.api_keys`.
#[derive(Debug)]
pub struct StoredProvider {
    pub id: i64,
    pub spec: ProviderSpec,
    pub key_ids: Vec<i64>,
}

#[derive(Debug)]
pub struct StoredRoute {
    pub id: i64,
    pub spec: RouteSpec,
}

/// Everything the snapshot is built from, read in one transaction.
#[derive(Debug)]
pub struct LoadedConfig {
    pub revision: i64,
    pub providers: Vec<StoredProvider>,
    pub routes: Vec<StoredRoute>,
    pub consumers: Vec<StoredConsumer>,
    pub settings: Settings,
    /// Guardrail policies, by name.
    pub guardrails: Vec<StoredGuardrail>,
}

/// What `apply` changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ApplySummary {
    pub providers_created: usize,
    pub providers_updated: usize,
    pub providers_unchanged: usize,
    pub providers_deleted: usize,
    pub routes_created: usize,
    pub routes_updated: usize,
    pub routes_unchanged: usize,
    pub routes_deleted: usize,
    pub consumers_created: usize,
    pub consumers_updated: usize,
    pub consumers_unchanged: usize,
    pub consumers_deleted: usize,
    pub guardrails_created: usize,
    pub guardrails_updated: usize,
    pub guardrails_unchanged: usize,
    pub guardrails_deleted: usize,
    pub settings_changed: bool,
}

impl std::fmt::Display for ApplySummary {
    /// The counts that are not zero, e.g. "routes: 1 created, 2 updated; settings changed".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sections = [
            (
                "providers",
                [
                    self.providers_created,
                    self.providers_updated,
                    self.providers_deleted,
                ],
            ),
            (
                "routes",
                [
                    self.routes_created,
                    self.routes_updated,
                    self.routes_deleted,
                ],
            ),
            (
                "consumers",
                [
                    self.consumers_created,
                    self.consumers_updated,
                    self.consumers_deleted,
                ],
            ),
            (
                "guardrails",
                [
                    self.guardrails_created,
                    self.guardrails_updated,
                    self.guardrails_deleted,
                ],
            ),
        ];
        let mut parts = Vec::new();
        for (section, counts) in sections {
            let words: Vec<String> = counts
                .iter()
                .zip(["created", "updated", "deleted"])
                .filter(|(count, _)| **count > 0)
                .map(|(count, verb)| format!("{count} {verb}"))
                .collect();
            if !words.is_empty() {
                parts.push(format!("{section}: {}", words.join(", ")));
            }
        }
        if self.settings_changed {
            parts.push("settings changed".to_owned());
        }
        if parts.is_empty() {
            f.write_str("nothing changed")
        } else {
            f.write_str(&parts.join("; "))
        }
    }
}

#[derive(Clone)]
pub struct Store {
    db: Db,
    /// The SQLite database file; `None` on PostgreSQL.
    path: Option<PathBuf>,
    /// Seals secrets before they are written and unseals them when they are read.
    sealer: Sealer,
}

impl Store {
    /// Opens (creating and migrating if needed) the database in `data_dir`, without a master key:
    /// secrets are written in plaintext, and a sealed database is refused.
    pub async fn open(data_dir: &Path) -> Result<Store> {
        Store::open_with_key(data_dir, None).await
    }

    /// Opens the database in `data_dir`, keeping the directory (0700) and every file in it (0600)
    /// private, and checks the master key: a sealed database needs the key it was sealed with,
    /// and a key given for a database not sealed yet is recorded as its key from now on.
    pub async fn open_with_key(data_dir: &Path, key: Option<MasterKey>) -> Result<Store> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        // Created private before SQLite opens it: SQLite gives its -wal and -shm files the
        // database file's permissions.
        create_private_file(&path)?;
        let db = Db::open_sqlite(&path).await?;
        db.migrate().await?;
        restrict_permissions(data_dir);
        Store::with_db(db, Some(path), key).await
    }

    /// Opens (migrating if needed) the configuration store in the PostgreSQL database at `url`,
    /// and checks the master key as [`Store::open_with_key`] does. The URL's password is never
    /// logged.
    pub async fn open_postgres(url: &str, key: Option<MasterKey>) -> Result<Store> {
        let db = Db::open_postgres(url).await?;
        if let Err(error) = db.migrate().await {
            db.close().await;
            return Err(error);
        }
        Store::with_db(db, None, key).await
    }

    /// The store on an opened and migrated database, once its master key is checked.
    async fn with_db(db: Db, path: Option<PathBuf>, key: Option<MasterKey>) -> Result<Store> {
        let store = Store {
            db,
            path,
            sealer: Sealer::new(key),
        };
        if let Err(error) = store.check_master_key().await {
            store.close().await;
            return Err(error);
        }
        Ok(store)
    }

    /// A sealed database (one with `meta.key_check`) opens only with its key; a key given for an
    /// unsealed one becomes its key.
    async fn check_master_key(&self) -> Result<()> {
        let stored: Option<String> = sqlx::query_scalar("SELECT key_check FROM meta WHERE id = 1")
            .fetch_one(self.db.pool())
            .await?;
        if let Some(check) = stored {
            return Ok(self.sealer.verify(&check)?);
        }
        let Some(check) = self.sealer.key_check()? else {
            return Ok(());
        };
        let mut tx = self.db.begin_write().await?;
        sqlx::query("UPDATE meta SET key_check = $1 WHERE id = 1 AND key_check IS NULL")
            .bind(&check)
            .execute(&mut *tx)
            .await?;
        // Another process may have sealed the database first, with another key.
        let check: String = sqlx::query_scalar("SELECT key_check FROM meta WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        self.sealer.verify(&check)?;
        let plaintext = config::count_plaintext_secrets(&mut tx).await?;
        tx.commit().await?;
        if plaintext > 0 {
            tracing::warn!(
                plaintext,
                "a master key is set but this database still holds provider secrets in plaintext; new writes are sealed, and `switchyard secrets seal` seals the rest"
            );
        }
        Ok(())
    }

    /// The database file, for the watcher; `None` when the store is on PostgreSQL.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The engine the store runs on.
    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    pub async fn close(&self) {
        self.db.close().await;
    }

    pub async fn revision(&self) -> Result<i64> {
        let revision = sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(self.db.pool())
            .await?;
        Ok(revision)
    }

    /// Reads the whole configuration, keys included, as one consistent snapshot.
    pub async fn load(&self) -> Result<LoadedConfig> {
        self.load_raw().await?.parse()
    }

    /// Reads the whole configuration as rows, leaving the parsing (and unsealing) to the caller.
    pub async fn load_raw(&self) -> Result<RawConfig> {
        let mut tx = self.db.begin_read().await?;
        let revision = sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
            .fetch_one(&mut *tx)
            .await?;
        let (providers, keys) = fetch_providers(&mut tx, None).await?;
        let routes = fetch_routes(&mut tx, None).await?;
        let (consumers, consumer_keys) = consumers::fetch_consumers(&mut tx, None).await?;
        let settings = consumers::fetch_settings(&mut tx).await?;
        let guardrails = guardrails::fetch_guardrails(&mut tx, None).await?;
        tx.commit().await?;
        Ok(RawConfig {
            revision,
            providers,
            keys,
            routes,
            consumers,
            consumer_keys,
            settings,
            guardrails,
            sealer: self.sealer.clone(),
        })
    }

    /// The whole configuration as a document, keys in full (callers mask them for display).
    pub async fn export(&self) -> Result<ConfigDocument> {
        let loaded = self.load().await?;
        Ok(ConfigDocument {
            providers: loaded.providers.into_iter().map(|p| p.spec).collect(),
            routes: loaded.routes.into_iter().map(|r| r.spec).collect(),
            consumers: loaded.consumers.iter().map(|c| c.exported()).collect(),
            settings: Some(loaded.settings),
            guardrails: loaded.guardrails.into_iter().map(|g| g.spec).collect(),
        })
    }
}

/// Creates the data dir (0700) if it is missing and makes what is in it private, as opening the
/// SQLite store does: whichever engine holds the configuration, the request log and token files
/// live there.
pub fn ensure_data_dir(dir: &Path) -> Result<()> {
    create_private_dir(dir)?;
    restrict_permissions(dir);
    Ok(())
}

fn create_private_dir(dir: &Path) -> Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    let error = |source| StoreError::DataDir {
        path: dir.to_owned(),
        source,
    };
    builder.create(dir).map_err(error)?;
    // An existing directory keeps the mode it was made with: tighten it.
    #[cfg(unix)]
    set_mode(dir, 0o700).map_err(error)?;
    Ok(())
}

/// Creates `path` (empty) with mode 0600 unless it exists.
fn create_private_file(path: &Path) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .map(drop)
        .map_err(|source| StoreError::DataDir {
            path: path.to_owned(),
            source,
        })
}

/// Makes every file under `dir` 0600 and every directory 0700, whatever created them (SQLite,
/// an older version, another tool, a generous umask). Symbolic links are left alone, and what
/// cannot be changed (a file owned by someone else) is logged, not fatal.
fn restrict_permissions(dir: &Path) {
    #[cfg(unix)]
    {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let result = if meta.is_dir() {
                let result = set_mode(&path, 0o700);
                restrict_permissions(&path);
                result
            } else if meta.is_file() {
                set_mode(&path, 0o600)
            } else {
                Ok(())
            };
            if let Err(error) = result {
                tracing::warn!(file = %path.display(), %error, "cannot make this file private to the gateway's user");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// Sets the permission bits of `path` unless they already are `mode`.
#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let current = std::fs::metadata(path)?.permissions().mode() & 0o7777;
    if current == mode {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// Opens the configuration store the command line chose: the PostgreSQL database of
/// `--database-url`, else the SQLite file in `data_dir`. Errors name the database by its
/// redacted URL or its directory, never with a password.
pub async fn open_configured(
    database_url: Option<&crate::cli::DatabaseUrl>,
    data_dir: &Path,
    key: Option<MasterKey>,
) -> anyhow::Result<Store> {
    use anyhow::Context;
    match database_url {
        Some(url) if engine_of(url.expose()) != Engine::Postgres => anyhow::bail!(
            "--database-url must be a postgres:// or postgresql:// URL, got {url}; the SQLite store is chosen with --data-dir"
        ),
        Some(url) => {
            let store = Store::open_postgres(url.expose(), key)
                .await
                .with_context(|| format!("cannot open the configuration store at {url}"))?;
            tracing::info!(database = %url, "the configuration store is on PostgreSQL");
            Ok(store)
        }
        None => Store::open_with_key(data_dir, key)
            .await
            .with_context(|| format!("cannot open the store in {}", data_dir.display())),
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// A provider, route or guardrail row before its JSON spec is parsed.
struct RawItem {
    id: i64,
    name: String,
    spec: String,
}

/// A key row: provider id, key id, secret.
type RawKey = (i64, i64, String);

/// The configuration's rows as read in one transaction, before any JSON is parsed: reading is
/// I/O, parsing and compiling are CPU work that the reloader moves off the async workers.
pub struct RawConfig {
    pub revision: i64,
    providers: Vec<RawItem>,
    keys: Vec<RawKey>,
    routes: Vec<RawItem>,
    consumers: Vec<consumers::RawConsumer>,
    consumer_keys: Vec<consumers::RawKey>,
    settings: String,
    guardrails: Vec<RawItem>,
    sealer: Sealer,
}

impl RawConfig {
    /// Parses the rows and unseals the secrets: CPU work for the background thread.
    pub fn parse(self) -> Result<LoadedConfig> {
        Ok(LoadedConfig {
            revision: self.revision,
            providers: parse_providers(self.providers, self.keys, &self.sealer)?,
            routes: parse_routes(self.routes)?,
            consumers: consumers::parse_consumers(self.consumers, self.consumer_keys)?,
            settings: consumers::parse_settings(&self.settings)?,
            guardrails: guardrails::parse_guardrails(self.guardrails)?,
        })
    }
}

async fn fetch_providers(
    conn: &mut AnyConnection,
    only: Option<&str>,
) -> Result<(Vec<RawItem>, Vec<RawKey>)> {
    let rows = sqlx::query(
        "SELECT id, name, spec FROM providers WHERE $1 IS NULL OR name = $1 ORDER BY name",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let key_rows = sqlx::query(
        "SELECT k.provider_id, k.id, k.secret FROM provider_keys k
         JOIN providers p ON p.id = k.provider_id
         WHERE $1 IS NULL OR p.name = $1 ORDER BY k.provider_id, k.position, k.id",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    let items = rows.iter().map(raw_item).collect::<Result<_>>()?;
    let keys = key_rows
        .iter()
        .map(|row| {
            Ok((
                row.try_get("provider_id")?,
                row.try_get("id")?,
                row.try_get("secret")?,
            ))
        })
        .collect::<Result<_>>()?;
    Ok((items, keys))
}

async fn fetch_routes(conn: &mut AnyConnection, only: Option<&str>) -> Result<Vec<RawItem>> {
    let rows = sqlx::query(
        "SELECT id, name, spec FROM routes WHERE $1 IS NULL OR name = $1 ORDER BY name",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(raw_item).collect()
}

fn raw_item(row: &AnyRow) -> Result<RawItem> {
    Ok(RawItem {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        spec: row.try_get("spec")?,
    })
}

fn parse_providers(
    items: Vec<RawItem>,
    keys: Vec<RawKey>,
    sealer: &Sealer,
) -> Result<Vec<StoredProvider>> {
    let mut by_provider: HashMap<i64, (Vec<String>, Vec<i64>)> = HashMap::new();
    for (provider_id, key_id, secret) in keys {
        let entry = by_provider.entry(provider_id).or_default();
        entry.0.push(sealer.unseal(&secret)?.into_owned());
        entry.1.push(key_id);
    }
    items
        .into_iter()
        .map(|item| {
            let mut spec: ProviderSpec =
                serde_json::from_str(&item.spec).map_err(|source| StoreError::Corrupt {
                    what: "provider",
                    name: item.name.clone(),
                    source,
                })?;
            let (secrets, key_ids) = by_provider.remove(&item.id).unwrap_or_default();
            for value in spec.headers.values_mut() {
                if is_sealed(value) {
                    *value = sealer.unseal(value)?.into_owned();
                }
            }
            spec.name = item.name;
            spec.api_keys = Some(secrets);
            Ok(StoredProvider {
                id: item.id,
                spec,
                key_ids,
            })
        })
        .collect()
}

fn parse_routes(items: Vec<RawItem>) -> Result<Vec<StoredRoute>> {
    items
        .into_iter()
        .map(|item| {
            let mut spec: RouteSpec =
                serde_json::from_str(&item.spec).map_err(|source| StoreError::Corrupt {
                    what: "route",
                    name: item.name.clone(),
                    source,
                })?;
            spec.name = item.name;
            Ok(StoredRoute { id: item.id, spec })
        })
        .collect()
}

async fn load_providers(
    conn: &mut AnyConnection,
    only: Option<&str>,
    sealer: &Sealer,
) -> Result<Vec<StoredProvider>> {
    let (items, keys) = fetch_providers(conn, only).await?;
    parse_providers(items, keys, sealer)
}

async fn load_routes(conn: &mut AnyConnection, only: Option<&str>) -> Result<Vec<StoredRoute>> {
    parse_routes(fetch_routes(conn, only).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database URL's password shows nowhere: not in the parsed flag's `Debug` or `Display`,
    /// and not in the error when the server cannot be reached.
    #[tokio::test]
    async fn a_database_password_is_never_shown() {
        let password = "hunter2-a-database-password";
        // Port 1 on loopback refuses at once, so the open fails fast.
        let url: crate::cli::DatabaseUrl = format!("postgres://sy:{password}@127.0.0.1:1/config")
            .parse()
            .expect("a postgres URL");
        assert!(!format!("{url:?} {url}").contains(password));
        let dir = tempfile::tempdir().expect("a scratch dir");
        let error = open_configured(Some(&url), dir.path(), None)
            .await
            .err()
            .expect("nothing listens on port 1");
        let shown = format!("{error:#} {error:?}");
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("sy:***@127.0.0.1:1/config"), "{shown}");

        let other: crate::cli::DatabaseUrl = "mysql://sy:hunter2@db/config?password=hunter2"
            .parse()
            .expect("any text parses; the scheme is checked on open");
        let error = open_configured(Some(&other), dir.path(), None)
            .await
            .err()
            .expect("only PostgreSQL URLs are taken");
        let shown = format!("{error:#}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("postgres://"), "{shown}");
    }
}
