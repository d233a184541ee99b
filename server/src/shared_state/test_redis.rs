//! A throwaway `redis-server` for unit tests of the shared state, listening on a Unix socket in a
//! temp dir (no port to race for), stoppable and restartable to test outages.
//!
//! When `redis-server` is not installed, [`TestRedis::start`] prints why and returns `None`,
//! unless `SWITCHYARD_REQUIRE_CLUSTER=1`, which makes the missing server a failure (as in CI).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed when dropped.
pub(crate) struct TestRedis {
    socket: PathBuf,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl TestRedis {
    /// Starts a server, or returns `None` after printing why the test is skipped.
    ///
    /// # Panics
    ///
    /// When the server is installed but does not start, and when it is missing but
    /// `SWITCHYARD_REQUIRE_CLUSTER=1`.
    pub(crate) fn start() -> Option<TestRedis> {
        let installed = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !installed {
            let required = std::env::var("SWITCHYARD_REQUIRE_CLUSTER").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "redis-server is not installed and SWITCHYARD_REQUIRE_CLUSTER=1"
            );
            eprintln!("skipped: redis-server is not installed");
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("switchyard-redis-")
            .tempdir()
            .expect("a temp dir");
        let mut redis = TestRedis {
            socket: dir.path().join("redis.sock"),
            child: None,
            _dir: dir,
        };
        redis.resume();
        Some(redis)
    }

    /// The URL to connect with.
    pub(crate) fn url(&self) -> String {
        format!("redis+unix://{}", self.socket.display())
    }

    /// Kills the server (its data goes with it: it keeps nothing on disk).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_file(&self.socket);
    }

    /// Starts the server again on the same socket and waits until it answers.
    pub(crate) fn resume(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args(["--port", "0", "--save", "", "--appendonly", "no"])
            .arg("--unixsocket")
            .arg(&self.socket)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("a Redis URL");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let pong = client
                .get_connection()
                .and_then(|mut conn| redis::cmd("PING").query::<String>(&mut conn));
            if pong.is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.stop();
    }
}
