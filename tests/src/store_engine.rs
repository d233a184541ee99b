//! Which engine the gateways under test keep their configuration store on.
//!
//! By default every gateway uses the SQLite file in its data dir. With `SWITCHYARD_TEST_POSTGRES`
//! set to the URL of a PostgreSQL server without a database (`postgres://postgres@127.0.0.1:5433`,
//! a role that may create databases), every data dir gets its own database on that server, named
//! after the data dir, and the gateway and the CLI commands run on it are given it as
//! `SWITCHYARD_DATABASE_URL`. That runs an existing end-to-end suite against PostgreSQL unchanged
//! (issue 17); the request records go to the same database then (its `switchyard_usage` schema).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// The environment variable naming the PostgreSQL server the suite's stores go to.
pub const TEST_POSTGRES_ENV: &str = "SWITCHYARD_TEST_POSTGRES";

/// Whether the suite runs its stores on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var(TEST_POSTGRES_ENV).is_ok_and(|v| !v.is_empty())
}

/// Whether the suite runs its stores on PostgreSQL; a test about SQLite's own files (their bytes,
/// their modes, a write straight into them) returns early then, after printing why.
pub fn skip_unless_sqlite(test: &str) -> bool {
    let on_postgres = on_postgres();
    if on_postgres {
        eprintln!(
            "skipped {test}: it is about the SQLite store's files, and {TEST_POSTGRES_ENV} is set"
        );
    }
    on_postgres
}

/// The databases this process already created, so that a restart reuses its data dir's one.
fn created() -> &'static Mutex<HashSet<String>> {
    static CREATED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    CREATED.get_or_init(|| Mutex::new(HashSet::new()))
}

/// The configuration store's URL for `data_dir`, creating its database on first use; `None` when
/// the suite runs on SQLite.
///
/// # Panics
///
/// When the database cannot be created: a suite asked to run on PostgreSQL must not quietly
/// fall back to SQLite.
pub fn database_url_for(data_dir: &Path) -> Option<String> {
    let server = std::env::var(TEST_POSTGRES_ENV)
        .ok()
        .filter(|v| !v.is_empty())?;
    let server = server.trim_end_matches('/');
    let name = database_name(data_dir);
    let mut created = created()
        .lock()
        .expect("the set of databases is not poisoned");
    if !created.contains(&name) {
        let exists = psql(
            server,
            &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
        );
        if exists != "1" {
            psql(server, &format!("CREATE DATABASE \"{name}\""));
        }
        created.insert(name.clone());
    }
    Some(format!("{server}/{name}"))
}

/// A database name from the data dir's own (temp dir) name: letters, digits, `-` and `_` only,
/// so that it needs no escaping in SQL or in the URL.
fn database_name(data_dir: &Path) -> String {
    let base = data_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let clean: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("sy_{clean}")
}

/// Runs `sql` with `psql` in the server's `postgres` database and returns its trimmed output.
fn psql(server: &str, sql: &str) -> String {
    let output = Command::new(psql_program())
        .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!("{server}/postgres"))
        .args(["-c", sql])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run psql: {e}"));
    assert!(
        output.status.success(),
        "psql -c {sql:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// `psql` from the `PATH`, else from Debian's versioned directory.
fn psql_program() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join("psql"))
            .find(|p| p.is_file())
    });
    if let Some(found) = on_path {
        return found;
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin/psql"))
        .filter(|p| p.is_file())
        .collect();
    versions.sort();
    versions.pop().unwrap_or_else(|| PathBuf::from("psql"))
}
