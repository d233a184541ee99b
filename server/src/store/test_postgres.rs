//! A throwaway PostgreSQL server for the store's unit tests, so that they can run the store's SQL
//! on both engines.
//!
//! A unit test of this crate cannot use the tests crate's fixture (`tests/src/cluster.rs`), so
//! this is a minimal copy of it: `initdb` into a temp dir, `pg_ctl start -w` on a free loopback
//! port, and `pg_ctl stop -m immediate` when dropped. As root both run as the `postgres` user
//! through `runuser`, because `initdb` refuses to run as root.
//!
//! When PostgreSQL is not installed, [`TestPostgres::start`] prints why and returns `None`, unless
//! `SWITCHYARD_REQUIRE_CLUSTER=1`, which makes the missing server a failure (as in CI).

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use sqlx::Connection;

/// A running PostgreSQL with trust authentication for the `postgres` role; stopped and removed
/// when dropped.
pub(crate) struct TestPostgres {
    port: u16,
    pg_ctl: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    // Removed after `Drop` has stopped the server that writes in it.
    _dir: tempfile::TempDir,
}

/// Numbers the databases this process creates, so that every test gets its own.
static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl TestPostgres {
    /// Starts a server, or returns `None` after printing why the test is skipped.
    ///
    /// # Panics
    ///
    /// When the programs are installed but the server does not start, and when they are missing
    /// but `SWITCHYARD_REQUIRE_CLUSTER=1`.
    pub(crate) fn start() -> Option<TestPostgres> {
        let Some(bin) = pg_bin_dir() else {
            let required = std::env::var("SWITCHYARD_REQUIRE_CLUSTER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "PostgreSQL is not installed and SWITCHYARD_REQUIRE_CLUSTER=1"
            );
            eprintln!("skipped: PostgreSQL (initdb, pg_ctl) is not installed");
            return None;
        };
        let as_postgres = running_as_root();
        let dir = tempfile::Builder::new()
            .prefix("switchyard-store-pg-")
            .tempdir()
            .expect("a temp dir");
        let data = dir.path().join("data");
        let sockets = dir.path().join("sockets");
        std::fs::create_dir(&sockets).expect("the socket dir");
        if as_postgres {
            // The server creates its data dir and its socket below the temp dir, as `postgres`.
            run(Command::new("chown")
                .arg("-R")
                .arg("postgres:")
                .arg(dir.path()));
        }
        run(as_user(as_postgres, &bin.join("initdb"))
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"]));
        let port = free_port();
        let options = format!(
            "-p {port} -h 127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            sockets.display()
        );
        let log = dir.path().join("postgres.log");
        run(as_user(as_postgres, &bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "-o", &options, "start"]));
        Some(TestPostgres {
            port,
            pg_ctl: bin.join("pg_ctl"),
            data,
            as_postgres,
            _dir: dir,
        })
    }

    /// Creates a fresh database and returns its URL.
    pub(crate) async fn create_database(&self) -> String {
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let name = format!("t_{}_{n}", std::process::id());
        let mut conn = sqlx::PgConnection::connect(&self.url("postgres"))
            .await
            .expect("connects to the postgres database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .expect("creates the database");
        conn.close().await.expect("closes");
        self.url(&name)
    }

    fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        let _ = as_user(self.as_postgres, &self.pg_ctl)
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "immediate", "-w", "stop"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The directory holding `initdb` and `pg_ctl`: the newest `/usr/lib/postgresql/*/bin` (where
/// Debian puts them, off the `PATH`), else the directory of `pg_ctl` on the `PATH`.
fn pg_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    versions.sort();
    if let Some(bin) = versions.pop() {
        return Some(bin);
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}

fn as_user(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Runs `command` to its end, and panics with its output when it fails.
fn run(command: &mut Command) {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} exited with {}: {}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
    listener.local_addr().expect("its address").port()
}
