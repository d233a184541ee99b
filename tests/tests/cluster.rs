//! The cluster-mode fixture itself: throwaway PostgreSQL and Redis servers that start, answer,
//! keep databases apart, stop and restart, and clean up after themselves.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use switchyard_tests::cluster::{
    Postgres, Redis, Unavailable, require_or_skip, require_or_skip_with,
};

/// Starts PostgreSQL, printing how long it took (run with `--nocapture` to see it).
fn postgres() -> Option<Postgres> {
    let start = Instant::now();
    let server = require_or_skip(Postgres::start())?;
    println!("PostgreSQL started in {:?}", start.elapsed());
    Some(server)
}

/// Starts Redis, printing how long it took.
fn redis() -> Option<Redis> {
    let start = Instant::now();
    let server = require_or_skip(Redis::start())?;
    println!("Redis started in {:?}", start.elapsed());
    Some(server)
}

/// Whether a TCP connect to the loopback `port` is refused, as it is once nothing listens.
fn refused(port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    matches!(
        TcpStream::connect_timeout(&address, Duration::from_secs(2)),
        Err(e) if e.kind() == ErrorKind::ConnectionRefused
    )
}

#[test]
fn postgres_answers_a_query() {
    let Some(pg) = postgres() else { return };
    let answer = pg
        .psql("postgres", "SELECT 1")
        .unwrap_or_else(|e| panic!("SELECT 1 failed: {e:#}\n{}", pg.log_tail()));
    assert_eq!(answer, "1");
    assert_eq!(
        pg.url("postgres"),
        format!("postgres://postgres@127.0.0.1:{}/postgres", pg.port())
    );
}

#[test]
fn postgres_databases_are_separate() {
    let Some(pg) = postgres() else { return };
    let first = pg
        .create_database("t_first")
        .unwrap_or_else(|e| panic!("creating t_first failed: {e:#}"));
    let second = pg
        .create_database("t_second")
        .unwrap_or_else(|e| panic!("creating t_second failed: {e:#}"));
    assert_eq!(first, pg.url("t_first"));
    assert_eq!(second, pg.url("t_second"));
    assert_ne!(first, second);

    pg.psql("t_first", "CREATE TABLE only_here (id integer)")
        .unwrap_or_else(|e| panic!("creating a table failed: {e:#}"));
    // `to_regclass` is NULL (printed as an empty line by `psql -At`) for a table that does not
    // exist, and the table's name for one that does.
    let in_first = pg
        .psql("t_first", "SELECT to_regclass('only_here')")
        .unwrap_or_else(|e| panic!("looking up the table in t_first failed: {e:#}"));
    let in_second = pg
        .psql("t_second", "SELECT to_regclass('only_here')")
        .unwrap_or_else(|e| panic!("looking up the table in t_second failed: {e:#}"));
    assert_eq!(in_first, "only_here");
    assert_eq!(
        in_second, "",
        "a table made in t_first is visible in t_second"
    );

    // The same name twice is an error, not a silent second handle on the first database.
    assert!(pg.create_database("t_first").is_err());
}

#[test]
fn postgres_drop_stops_the_server_and_removes_its_files() {
    let Some(pg) = postgres() else { return };
    let port = pg.port();
    let data = pg.data_dir().to_path_buf();
    assert!(data.join("PG_VERSION").is_file());
    let start = Instant::now();
    drop(pg);
    println!("PostgreSQL stopped in {:?}", start.elapsed());
    assert!(refused(port), "port {port} still accepts after the drop");
    assert!(!data.exists(), "{} is left behind", data.display());
}

#[test]
fn redis_answers_ping_and_keeps_a_value() {
    let Some(redis) = redis() else { return };
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{}", redis.port()));
    let ping = redis
        .command(&["PING"])
        .unwrap_or_else(|e| panic!("PING failed: {e:#}"));
    assert_eq!(ping, "PONG");
    let set = redis
        .command(&["SET", "greeting", "hello\r\nworld"])
        .unwrap_or_else(|e| panic!("SET failed: {e:#}"));
    assert_eq!(set, "OK");
    let get = redis
        .command(&["GET", "greeting"])
        .unwrap_or_else(|e| panic!("GET failed: {e:#}"));
    assert_eq!(get, "hello\r\nworld");
    let missing = redis
        .command(&["GET", "nothing"])
        .unwrap_or_else(|e| panic!("GET of a missing key failed: {e:#}"));
    assert_eq!(missing, "(nil)");
    let incr = redis
        .command(&["INCRBY", "counter", "41"])
        .unwrap_or_else(|e| panic!("INCRBY failed: {e:#}"));
    assert_eq!(incr, "41");
    assert!(redis.command(&["NOSUCHCOMMAND"]).is_err());
}

#[test]
fn redis_stops_and_restarts_on_the_same_port() {
    let Some(mut redis) = redis() else { return };
    let port = redis.port();
    redis
        .command(&["SET", "before", "outage"])
        .unwrap_or_else(|e| panic!("SET failed: {e:#}"));

    redis.stop();
    assert!(redis.pid().is_none());
    assert!(refused(port), "port {port} still accepts after stop()");
    assert!(redis.command(&["PING"]).is_err());

    let start = Instant::now();
    if let Err(e) = redis.restart() {
        panic!("{e}");
    }
    println!("Redis restarted in {:?}", start.elapsed());
    assert_eq!(redis.port(), port);
    let ping = redis
        .command(&["PING"])
        .unwrap_or_else(|e| panic!("PING after restart failed: {e:#}\n{}", redis.log_tail()));
    assert_eq!(ping, "PONG");
    // Nothing is persisted, so a restart is an empty Redis, as after a real outage without
    // persistence.
    let before = redis
        .command(&["GET", "before"])
        .unwrap_or_else(|e| panic!("GET failed: {e:#}"));
    assert_eq!(before, "(nil)");
}

#[test]
fn redis_drop_stops_the_server_and_removes_its_files() {
    let Some(redis) = redis() else { return };
    let port = redis.port();
    let dir = redis.dir().to_path_buf();
    drop(redis);
    assert!(refused(port), "port {port} still accepts after the drop");
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn a_started_server_is_used() {
    assert_eq!(require_or_skip_with(Ok::<_, Unavailable>(7), true), Some(7));
    assert_eq!(
        require_or_skip_with(Ok::<_, Unavailable>(7), false),
        Some(7)
    );
}

#[test]
fn missing_programs_skip_when_not_required() {
    let missing: Result<(), _> = Err(Unavailable::Missing("redis-server is not on PATH".into()));
    assert_eq!(require_or_skip_with(missing, false), None);
}

#[test]
#[should_panic(expected = "redis-server is not on PATH, and SWITCHYARD_REQUIRE_CLUSTER=1")]
fn missing_programs_fail_when_required() {
    let missing: Result<(), _> = Err(Unavailable::Missing("redis-server is not on PATH".into()));
    require_or_skip_with(missing, true);
}

#[test]
#[should_panic(expected = "failed to start: initdb exited")]
fn a_failed_start_fails_even_when_not_required() {
    let failed: Result<(), _> = Err(Unavailable::Failed("initdb exited with 1".into()));
    require_or_skip_with(failed, false);
}
