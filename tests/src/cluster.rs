//! Throwaway PostgreSQL and Redis servers for the cluster-mode tests (issue 17).
//!
//! [`Postgres::start`] runs `initdb` and `postgres` on a temp dir and a free loopback port;
//! [`Redis::start`] runs `redis-server` the same way. Both wait for readiness by polling
//! (`pg_isready`, and a raw RESP `PING`), never by sleeping a fixed time, and both stop their
//! server and remove its files when dropped.
//!
//! When a server's programs are not installed, `start` returns [`Unavailable::Missing`], and
//! [`require_or_skip`] turns that into a printed skip on a developer's machine, or into a failure
//! when `SWITCHYARD_REQUIRE_CLUSTER=1` (as `tests/run.sh`, and so CI, sets it). Any other start
//! failure is a failure everywhere.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// How long a server may take to become ready before its start counts as failed. Generous,
/// because the tests share two cores with whatever else the machine runs.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server may take to exit after it was asked to, before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The pause between two readiness checks: short, so that a fast server is used at once.
const POLL_PAUSE: Duration = Duration::from_millis(20);

/// How often a start is retried when another process took the free port first.
const PORT_ATTEMPTS: usize = 3;

/// The environment variable that turns a skip for missing programs into a failure.
pub const REQUIRE_ENV: &str = "SWITCHYARD_REQUIRE_CLUSTER";

/// Why a server of the fixture could not be had.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// A program the server needs is not installed; the test may be skipped for this.
    Missing(String),
    /// The programs are there, but the server did not start; the message ends with its log.
    Failed(String),
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unavailable::Missing(reason) => write!(f, "not installed: {reason}"),
            Unavailable::Failed(reason) => write!(f, "failed to start: {reason}"),
        }
    }
}

impl std::error::Error for Unavailable {}

/// Returns the started server, or `None` after printing why the test is skipped.
///
/// Skipping is allowed only when the programs are missing and `SWITCHYARD_REQUIRE_CLUSTER` is
/// not `1`; see [`require_or_skip_with`] for the decision itself.
pub fn require_or_skip<T>(result: Result<T, Unavailable>) -> Option<T> {
    let required = std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1");
    require_or_skip_with(result, required)
}

/// The decision of [`require_or_skip`], with the environment variable's verdict passed in, so
/// that it can be tested without changing the process's environment.
///
/// # Panics
///
/// When a server failed to start for any reason other than missing programs, and when programs
/// are missing but `required` is set.
pub fn require_or_skip_with<T>(result: Result<T, Unavailable>, required: bool) -> Option<T> {
    match result {
        Ok(server) => Some(server),
        Err(Unavailable::Missing(reason)) if !required => {
            println!("skipping: {reason} (set {REQUIRE_ENV}=1 to make this a failure)");
            None
        }
        Err(Unavailable::Missing(reason)) => {
            panic!("{reason}, and {REQUIRE_ENV}=1 forbids skipping; tests/run.sh installs it")
        }
        Err(failed @ Unavailable::Failed(_)) => panic!("{failed}"),
    }
}

/// A loopback port that was free a moment ago: bound with port 0, then released.
///
/// Another process may take it before the server binds it; the fixtures retry for that.
pub fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A running PostgreSQL on `127.0.0.1`, with trust authentication for the `postgres` role.
///
/// Stopped (fast shutdown) and its files removed when dropped.
pub struct Postgres {
    child: Child,
    port: u16,
    psql: PathBuf,
    data: PathBuf,
    log: PathBuf,
    // Removed when dropped, after `Drop` has stopped the server that writes in it.
    _dir: TempDir,
}

/// The PostgreSQL programs the fixture runs.
struct PgPrograms {
    initdb: PathBuf,
    postgres: PathBuf,
    pg_isready: PathBuf,
    psql: PathBuf,
}

impl Postgres {
    /// Creates a cluster in a temp dir and starts it on a free port, waiting until it accepts
    /// connections.
    ///
    /// As root, `initdb` and `postgres` run as the `postgres` user through `runuser`, because
    /// `initdb` refuses to run as root.
    pub fn start() -> Result<Postgres, Unavailable> {
        let programs = pg_programs()?;
        let as_postgres = running_as_root();
        if as_postgres && find_on_path("runuser").is_none() {
            return Err(Unavailable::Missing(
                "runuser (util-linux), which runs PostgreSQL as the postgres user when the tests run as root"
                    .into(),
            ));
        }
        let dir = tempfile::Builder::new()
            .prefix("switchyard-pg-")
            .tempdir()
            .map_err(|e| Unavailable::Failed(format!("could not create a temp dir: {e}")))?;
        let data = dir.path().join("data");
        let sockets = dir.path().join("sockets");
        fs::create_dir(&sockets)
            .map_err(|e| Unavailable::Failed(format!("could not create the socket dir: {e}")))?;
        if as_postgres {
            // Everything below the temp dir must belong to the user the server runs as: it
            // creates the data dir there and its socket in `sockets`.
            run_quietly(
                Command::new("chown")
                    .arg("-R")
                    .arg("postgres:")
                    .arg(dir.path()),
                "chown the temp dir to the postgres user",
            )?;
        }

        let initdb_log = dir.path().join("initdb.log");
        let mut initdb = as_user(as_postgres, &programs.initdb);
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ]);
        let (stdout, stderr) = log_files(&initdb_log, false)?;
        let status = initdb
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .status()
            .map_err(|e| {
                Unavailable::Failed(format!("could not run {}: {e}", programs.initdb.display()))
            })?;
        if !status.success() {
            return Err(Unavailable::Failed(format!(
                "initdb exited with {status}; its output:\n{}",
                log_tail(&initdb_log)
            )));
        }

        let log = dir.path().join("postgres.log");
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port()
                .map_err(|e| Unavailable::Failed(format!("no free loopback port: {e}")))?;
            let mut postgres = as_user(as_postgres, &programs.postgres);
            postgres
                .arg("-D")
                .arg(&data)
                .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
                .arg(&sockets)
                .args(["-c", "fsync=off"])
                .args(["-c", "synchronous_commit=off"])
                .args(["-c", "full_page_writes=off"]);
            let (stdout, stderr) = log_files(&log, false)?;
            let mut child = postgres
                .stdin(Stdio::null())
                .stdout(stdout)
                .stderr(stderr)
                .spawn()
                .map_err(|e| {
                    Unavailable::Failed(format!(
                        "could not run {}: {e}",
                        programs.postgres.display()
                    ))
                })?;
            match wait_pg_ready(&mut child, port, &programs.pg_isready) {
                Ok(()) => {
                    return Ok(Postgres {
                        child,
                        port,
                        psql: programs.psql,
                        data,
                        log,
                        _dir: dir,
                    });
                }
                Err(message) => {
                    stop_postmaster(&mut child, &data);
                    let message = format!("{message}; the server's log:\n{}", log_tail(&log));
                    // Another process took the port between `free_port` and the bind: try a
                    // new one. Anything else is a real failure.
                    if !message.contains("Address already in use") {
                        return Err(Unavailable::Failed(message));
                    }
                    last_error = message;
                }
            }
        }
        Err(Unavailable::Failed(format!(
            "port taken {PORT_ATTEMPTS} times in a row; last: {last_error}"
        )))
    }

    /// The port the server listens on, on `127.0.0.1`.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The cluster's data directory (inside the temp dir that is removed on drop).
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The PID of the postmaster (read from `postmaster.pid`; the spawned process may be the
    /// `runuser` wrapper around it).
    pub fn pid(&self) -> u32 {
        postmaster_pid(&self.child, &self.data)
    }

    /// A connection URL for database `db`, as the `postgres` role (trust authentication).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Creates database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> anyhow::Result<String> {
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {}", quote_identifier(name)),
        )?;
        Ok(self.url(name))
    }

    /// Runs `sql` in database `db` with `psql -At` and returns what it printed, trimmed: one
    /// line per row, columns separated by `|`.
    pub fn psql(&self, db: &str, sql: &str) -> anyhow::Result<String> {
        let output = Command::new(&self.psql)
            // No `~/.psqlrc`: its settings could change the output the tests compare.
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                db,
                "-c",
                sql,
            ])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {}", self.psql.display()))?;
        if !output.status.success() {
            bail!(
                "psql -d {db} -c {sql:?} exited with {}: {}",
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// The server's log so far (its last lines), for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        stop_postmaster(&mut self.child, &self.data);
    }
}

/// Polls `pg_isready` until the server on `port` accepts connections, the process exits, or
/// the deadline passes.
fn wait_pg_ready(child: &mut Child, port: u16, pg_isready: &Path) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("postgres exited with {status} before it was ready"));
        }
        let ready = Command::new(pg_isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-t", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| format!("could not run {}: {e}", pg_isready.display()))?;
        if ready.success() {
            return Ok(());
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "postgres did not accept connections within {READY_TIMEOUT:?}"
            ));
        }
        thread::sleep(POLL_PAUSE);
    }
}

/// The postmaster's PID, from `postmaster.pid` in the data dir: as root the spawned `child` is
/// the `runuser` wrapper, not the server.
fn postmaster_pid(child: &Child, data: &Path) -> u32 {
    fs::read_to_string(data.join("postmaster.pid"))
        .ok()
        .and_then(|text| text.lines().next()?.trim().parse().ok())
        .unwrap_or_else(|| child.id())
}

/// Asks the postmaster for a fast shutdown and waits for it; kills it if it does not exit in
/// time.
///
/// Fast shutdown (SIGINT) rather than PostgreSQL's SIGTERM, which is a "smart" shutdown that
/// waits for every client to disconnect: a gateway still holding a pool would stall it. The
/// signal goes to the postmaster itself, because `runuser` would not pass it on as is.
fn stop_postmaster(child: &mut Child, data: &Path) {
    if matches!(child.try_wait(), Ok(Some(_))) {
        return;
    }
    let pid = postmaster_pid(child, data);
    send_signal(pid, "-INT");
    if !wait_exit(child, STOP_TIMEOUT) {
        send_signal(pid, "-KILL");
        // Errors here mean the process is already gone, which is the goal.
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// A running `redis-server` on `127.0.0.1`, without persistence.
///
/// It can be stopped and restarted on the same port, to simulate an outage. Killed when
/// dropped.
pub struct Redis {
    child: Option<Child>,
    bin: PathBuf,
    port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl Redis {
    /// Starts `redis-server` on a free port and waits until it answers `PING`.
    pub fn start() -> Result<Redis, Unavailable> {
        let bin = find_on_path("redis-server").ok_or_else(|| {
            Unavailable::Missing("redis-server (Debian package redis-server) is not on PATH".into())
        })?;
        let dir = tempfile::Builder::new()
            .prefix("switchyard-redis-")
            .tempdir()
            .map_err(|e| Unavailable::Failed(format!("could not create a temp dir: {e}")))?;
        let log = dir.path().join("redis.log");
        let mut redis = Redis {
            child: None,
            bin,
            port: 0,
            log,
            dir,
        };
        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            redis.port = free_port()
                .map_err(|e| Unavailable::Failed(format!("no free loopback port: {e}")))?;
            match redis.spawn() {
                Ok(()) => return Ok(redis),
                Err(message) if message.contains("Address already in use") => {
                    last_error = message;
                }
                Err(message) => return Err(Unavailable::Failed(message)),
            }
        }
        Err(Unavailable::Failed(format!(
            "port taken {PORT_ATTEMPTS} times in a row; last: {last_error}"
        )))
    }

    /// Starts the server on `self.port` and waits for `PING`; on failure the process is gone
    /// and the message ends with its log.
    fn spawn(&mut self) -> Result<(), String> {
        // Appended, so that a restart keeps the log of the run before it.
        let (stdout, stderr) = log_files(&self.log, true).map_err(|e| e.to_string())?;
        let child = Command::new(&self.bin)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("could not run {}: {e}", self.bin.display()))?;
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(format!(
                    "redis-server exited with {status} before it was ready; its log:\n{}",
                    log_tail(&self.log)
                ));
            }
            if self.command(&["PING"]).is_ok_and(|reply| reply == "PONG") {
                return Ok(());
            }
            if start.elapsed() > READY_TIMEOUT {
                self.stop();
                return Err(format!(
                    "redis-server did not answer PING within {READY_TIMEOUT:?}; its log:\n{}",
                    log_tail(&self.log)
                ));
            }
            thread::sleep(POLL_PAUSE);
        }
    }

    /// The URL of the server, `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The port the server listens on, on `127.0.0.1`; it stays the same across restarts.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temp dir the server runs in (removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's PID, or `None` while it is stopped.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Sends one command on a new connection and returns the reply: a simple string or an
    /// integer as text, a bulk string's contents, `(nil)` for a null, and for an array its
    /// first line (`*<n>`). An error reply is an `Err`.
    pub fn command(&self, args: &[&str]) -> anyhow::Result<String> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
            .with_context(|| format!("connecting to {address}"))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            request.extend_from_slice(arg.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
        stream.write_all(&request)?;

        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        let (kind, rest) = line.split_at_checked(1).unwrap_or(("", ""));
        match kind {
            "+" | ":" => Ok(rest.to_owned()),
            "-" => bail!("redis answered {args:?} with an error: {rest}"),
            "$" => {
                let len: i64 = rest
                    .parse()
                    .with_context(|| format!("a bulk string length, got {line:?}"))?;
                let Ok(len) = usize::try_from(len) else {
                    return Ok("(nil)".to_owned());
                };
                // The contents and their closing CRLF.
                let mut body = vec![0; len + 2];
                reader.read_exact(&mut body)?;
                body.truncate(len);
                Ok(String::from_utf8(body).context("a UTF-8 bulk string")?)
            }
            "*" => Ok(line.to_owned()),
            _ => bail!("redis answered {args:?} with {line:?}, which is not RESP"),
        }
    }

    /// Starts watching every command the server runs (`MONITOR`), those that scripts run
    /// included, from the moment this returns.
    pub fn monitor(&self) -> anyhow::Result<Monitor> {
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(2))
            .with_context(|| format!("connecting to {address}"))?;
        stream.write_all(b"*1\r\n$7\r\nMONITOR\r\n")?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        if first.trim_end() != "+OK" {
            bail!("redis answered MONITOR with {first:?}");
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        // Ends when the connection does: at the server's stop, or the monitor's drop.
        thread::spawn(move || {
            for line in reader.lines() {
                let Ok(line) = line else { break };
                sink.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(line.trim_start_matches('+').to_owned());
            }
        });
        Ok(Monitor { stream, lines })
    }

    /// Kills the server and waits until it has exited, so its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // An error means the process already exited, which is what is wanted.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if it runs, then starts it again on the same port and waits until it
    /// answers `PING`. Its data is not kept (there is no persistence).
    pub fn restart(&mut self) -> Result<(), Unavailable> {
        self.stop();
        self.spawn().map_err(Unavailable::Failed)
    }

    /// The server's log so far (its last lines), for assertion messages.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }
}

/// The commands a Redis server ran since [`Redis::monitor`], one line each as `MONITOR` writes
/// them: `<time> [<db> <client address, or lua>] "COMMAND" "arg" ...`.
pub struct Monitor {
    stream: TcpStream,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Monitor {
    /// The lines seen so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The lines up to and including the first that contains `marker`, once it has been seen;
    /// fails after `timeout`. Send the marker yourself (say, `ECHO <marker>` with
    /// [`Redis::command`]) after what is to be watched: Redis runs commands in order, so every
    /// command before it is then in the lines.
    pub fn until(&self, marker: &str, timeout: Duration) -> anyhow::Result<Vec<String>> {
        let start = Instant::now();
        loop {
            let lines = self.lines();
            if let Some(end) = lines.iter().position(|line| line.contains(marker)) {
                return Ok(lines[..=end].to_vec());
            }
            if start.elapsed() > timeout {
                bail!("{marker:?} not seen within {timeout:?}; seen: {lines:#?}");
            }
            thread::sleep(POLL_PAUSE);
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        // An error means the connection is already gone, which is what is wanted.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds `initdb`, `postgres`, `pg_isready` and `psql`: in the newest
/// `/usr/lib/postgresql/<version>/bin` that has the first three (Debian puts them there, off
/// PATH), else on PATH.
fn pg_programs() -> Result<PgPrograms, Unavailable> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(str::parse)
                .collect::<Result<Vec<u32>, _>>()
                .ok()?;
            let bin = entry.path().join("bin");
            ["initdb", "postgres", "pg_isready"]
                .iter()
                .all(|program| is_executable(&bin.join(program)))
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    let bin_dir = versions.pop().map(|(_, bin)| bin);
    let find = |program: &str| {
        bin_dir
            .as_ref()
            .map(|dir| dir.join(program))
            .filter(|path| is_executable(path))
            .or_else(|| find_on_path(program))
            .ok_or_else(|| {
                Unavailable::Missing(format!(
                    "PostgreSQL's {program} is neither in /usr/lib/postgresql/<version>/bin nor on PATH (Debian package postgresql)"
                ))
            })
    };
    Ok(PgPrograms {
        initdb: find("initdb")?,
        postgres: find("postgres")?,
        pg_isready: find("pg_isready")?,
        psql: find("psql")?,
    })
}

/// A command for `program`, run as the `postgres` user through `runuser` when `as_postgres`.
fn as_user(as_postgres: bool, program: &Path) -> Command {
    if as_postgres {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(program);
        command
    } else {
        Command::new(program)
    }
}

/// Whether this process runs as root, asked of `id -u` (reading the uid directly would need
/// `unsafe`, which the workspace forbids).
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}

/// Runs a helper command that must succeed, with its output kept for the error.
fn run_quietly(command: &mut Command, what: &str) -> Result<(), Unavailable> {
    let output = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Unavailable::Failed(format!("could not {what}: {e}")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(Unavailable::Failed(format!(
            "could not {what} ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Opens a log file for a child's stdout and stderr, truncated unless `append`.
///
/// Both streams share one open file, and so one offset, so that neither overwrites the other.
fn log_files(path: &Path, append: bool) -> Result<(File, File), Unavailable> {
    let failed =
        |e: std::io::Error| Unavailable::Failed(format!("could not open {}: {e}", path.display()));
    let mut options = OpenOptions::new();
    options.create(true);
    if append {
        options.append(true);
    } else {
        options.write(true).truncate(true);
    }
    let stdout = options.open(path).map_err(failed)?;
    let stderr = stdout.try_clone().map_err(failed)?;
    Ok((stdout, stderr))
}

/// The last 40 lines of a log file, or a note that it could not be read.
fn log_tail(path: &Path) -> String {
    match fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(40)..].join("\n")
        }
        Err(e) => format!("({} could not be read: {e})", path.display()),
    }
}

/// Sends a signal with the `kill` command; a failure means the process is already gone.
fn send_signal(pid: u32, flag: &str) {
    let _ = Command::new("kill")
        .arg(flag)
        .arg(pid.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Polls `child` until it exits or `timeout` passes; true when it exited.
fn wait_exit(child: &mut Child, timeout: Duration) -> bool {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return true,
            Ok(None) if start.elapsed() > timeout => return false,
            Ok(None) => thread::sleep(POLL_PAUSE),
        }
    }
}

/// The first executable file called `program` in a PATH directory.
fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Quotes an SQL identifier, doubling any `"` in it.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
