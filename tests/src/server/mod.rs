//! The real `switchyard` binary as a child process, with its sockets, data directory and logs.

mod http;

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::http_client::new_client;
use crate::switchyard_bin;

/// The admin token every gateway gets unless a test says otherwise.
pub const DEFAULT_ADMIN_TOKEN: &str = "test-admin-token-5f0c9d1e-8a7b6c5d4e3f2a1b";

/// How long the gateway may take to print its `listening` line.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// Environment variables the gateway reads; they are cleared so the developer's shell cannot leak
/// into a test.
pub const GATEWAY_ENV: [&str; 19] = [
    "SWITCHYARD_DATABASE_URL",
    "SWITCHYARD_MASTER_KEY",
    "SWITCHYARD_MASTER_KEY_FILE",
    "SWITCHYARD_ADMIN_TOKEN_FILE",
    "SWITCHYARD_ALLOWED_HOSTS",
    "SWITCHYARD_ALLOWED_ORIGINS",
    "SWITCHYARD_ALLOW_REMOTE_SETUP",
    "SWITCHYARD_REQUEST_READ_TIMEOUT_MS",
    "SWITCHYARD_MAX_CONNECTIONS",
    "SWITCHYARD_MAX_IN_FLIGHT",
    "SWITCHYARD_CLIENT_AUTH",
    "SWITCHYARD_ALLOW_OPEN_PROXY",
    "SWITCHYARD_LISTEN",
    "SWITCHYARD_ADMIN_LISTEN",
    "SWITCHYARD_DATA_DIR",
    "SWITCHYARD_ADMIN_TOKEN",
    "SWITCHYARD_MAX_BODY_BYTES",
    "SWITCHYARD_SHUTDOWN_GRACE_MS",
    "SWITCHYARD_LOG",
];

/// A Unix signal the tests send to the gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    Term,
    Hup,
}

impl Signal {
    fn flag(self) -> &'static str {
        match self {
            Signal::Term => "-TERM",
            Signal::Hup => "-HUP",
        }
    }
}

/// How to start a gateway: the admin token, extra flags and environment.
#[derive(Clone, Debug)]
pub struct GatewayOptions {
    /// `None` starts the gateway without any admin token configured.
    pub admin_token: Option<String>,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            admin_token: Some(DEFAULT_ADMIN_TOKEN.to_owned()),
            args: Vec::new(),
            // The server's own code logs at every level, so that the no-secrets-in-logs checks
            // cover its most verbose output; libraries stay at info.
            // Plain text keeps the captured logs readable and searchable.
            env: vec![
                ("RUST_LOG".to_owned(), "info,switchyard=trace".to_owned()),
                ("NO_COLOR".to_owned(), "1".to_owned()),
            ],
        }
    }
}

impl GatewayOptions {
    /// Adds command-line arguments after the standard ones.
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable for the child.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Starts the gateway with no admin token configured at all.
    pub fn without_admin_token(mut self) -> Self {
        self.admin_token = None;
        self
    }
}

/// A running `switchyard serve`, killed when dropped.
pub struct Gateway {
    options: GatewayOptions,
    data_dir: Arc<TempDir>,
    child: Option<Child>,
    proxy_url: String,
    admin_url: String,
    stderr: Arc<Mutex<String>>,
    drains: Vec<JoinHandle<()>>,
    client: reqwest::Client,
    /// The first-run setup code the gateway printed, if it printed one.
    setup_code: Option<String>,
}

impl Gateway {
    /// Starts a gateway with the default options on a fresh data directory.
    pub async fn start() -> Gateway {
        Gateway::start_with(GatewayOptions::default()).await
    }

    /// Starts a gateway with `options` on a fresh data directory.
    pub async fn start_with(options: GatewayOptions) -> Gateway {
        let data_dir = Arc::new(
            tempfile::Builder::new()
                .prefix("switchyard-e2e-")
                .tempdir()
                .expect("a temporary data directory can be created"),
        );
        Gateway::start_in(options, data_dir).await
    }

    /// Starts a gateway on an existing data directory, for example one a CLI command prepared.
    pub async fn start_in(options: GatewayOptions, data_dir: Arc<TempDir>) -> Gateway {
        let mut gateway = Gateway {
            options,
            data_dir,
            child: None,
            proxy_url: String::new(),
            admin_url: String::new(),
            stderr: Arc::new(Mutex::new(String::new())),
            drains: Vec::new(),
            client: new_client(),
            setup_code: None,
        };
        gateway.spawn().await;
        gateway
    }

    async fn spawn(&mut self) {
        let bin = tokio::task::spawn_blocking(switchyard_bin)
            .await
            .expect("building the switchyard binary did not panic");
        let mut command = Command::new(&bin);
        command
            .arg("serve")
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(self.data_dir.path());
        command.args(&self.options.args);
        for key in GATEWAY_ENV {
            command.env_remove(key);
        }
        // From the environment, as operators are told to (not argv, which `ps` shows).
        if let Some(token) = &self.options.admin_token {
            command.env("SWITCHYARD_ADMIN_TOKEN", token);
        }
        // On PostgreSQL when the suite runs there (see `store_engine`); a test's own environment
        // comes after, so it can still choose.
        if let Some(url) = crate::store_engine::database_url_for(self.data_dir.path()) {
            command.env("SWITCHYARD_DATABASE_URL", url);
        }
        command.envs(self.options.env.iter().map(|(k, v)| (k, v)));
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {}: {e}", bin.display()));

        let stderr = child.stderr.take().expect("stderr is piped");
        let buffer = Arc::clone(&self.stderr);
        self.drains.push(tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("[switchyard] {line}");
                let mut text = buffer.lock().expect("stderr buffer lock is not poisoned");
                text.push_str(&line);
                text.push('\n');
            }
        }));

        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut setup_code = None;
        let announced = tokio::time::timeout(STARTUP_TIMEOUT, async {
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(urls) = parse_listening_line(&line) {
                    return Some(urls);
                }
                if let Some(code) = line.strip_prefix("setup code: ") {
                    setup_code = Some(code.trim().to_owned());
                }
                println!("[switchyard stdout] {line}");
            }
            None
        })
        .await;
        self.setup_code = setup_code;
        let (proxy_url, admin_url) = match announced {
            Ok(Some(urls)) => urls,
            Ok(None) => {
                let status = tokio::time::timeout(Duration::from_secs(5), child.wait()).await;
                self.join_drains().await;
                panic!(
                    "switchyard exited ({status:?}) before printing its listening line; stderr:\n{}",
                    self.stderr_text()
                );
            }
            Err(_) => panic!(
                "switchyard printed no `listening proxy=... admin=...` line within {STARTUP_TIMEOUT:?}; stderr so far:\n{}",
                self.stderr_text()
            ),
        };
        self.drains.push(tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                println!("[switchyard stdout] {line}");
            }
        }));
        self.proxy_url = proxy_url;
        self.admin_url = admin_url;
        self.child = Some(child);
    }

    /// Kills the running process and starts a new one on the same data directory and options.
    pub async fn restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().await.expect("the gateway can be killed");
        }
        self.join_drains().await;
        self.spawn().await;
    }

    /// The first-run setup code the gateway printed at start (`None` once an admin exists).
    pub fn setup_code(&self) -> Option<&str> {
        self.setup_code.as_deref()
    }

    /// The proxy's base URL, such as `http://127.0.0.1:41234`.
    pub fn proxy_url(&self) -> &str {
        &self.proxy_url
    }

    /// The admin API's base URL.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The shared handle on the data directory, to start another gateway on it later.
    pub fn data_dir_handle(&self) -> Arc<TempDir> {
        Arc::clone(&self.data_dir)
    }

    /// The SQLite database inside the data directory.
    pub fn db_path(&self) -> PathBuf {
        self.data_dir().join("switchyard.db")
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Everything the gateway wrote to stderr so far (complete only after [`Gateway::wait_exit`]).
    pub fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .expect("stderr buffer lock is not poisoned")
            .clone()
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .and_then(Child::id)
            .expect("the gateway is running")
    }

    /// Whether the process is still running (it has not exited).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Sends a signal with the `kill` command.
    pub async fn send_signal(&self, signal: Signal) {
        let status = Command::new("kill")
            .arg(signal.flag())
            .arg(self.pid().to_string())
            .status()
            .await
            .expect("the kill command runs");
        assert!(status.success(), "kill {} failed: {status}", signal.flag());
    }

    /// Waits for the process to exit (panicking after `timeout`) and for its output to be drained.
    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let child = self.child.as_mut().expect("the gateway was started");
        let status = tokio::time::timeout(timeout, child.wait())
            .await
            .unwrap_or_else(|_| panic!("switchyard did not exit within {timeout:?}"))
            .expect("waiting for the child works");
        self.child = None;
        self.join_drains().await;
        status
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn shutdown(&mut self) -> ExitStatus {
        self.send_signal(Signal::Term).await;
        self.wait_exit(Duration::from_secs(20)).await
    }

    async fn join_drains(&mut self) {
        for drain in self.drains.drain(..) {
            // A drain ends at end of file; the timeout only guards against a pipe held open.
            let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
        }
    }
}

/// Parses `listening proxy=http://127.0.0.1:P admin=http://127.0.0.1:Q` into the two URLs.
pub fn parse_listening_line(line: &str) -> Option<(String, String)> {
    let rest = line.trim().strip_prefix("listening ")?;
    let mut proxy = None;
    let mut admin = None;
    for part in rest.split_whitespace() {
        if let Some(url) = part.strip_prefix("proxy=") {
            proxy = Some(url.trim_end_matches('/').to_owned());
        } else if let Some(url) = part.strip_prefix("admin=") {
            admin = Some(url.trim_end_matches('/').to_owned());
        }
    }
    Some((proxy?, admin?))
}

#[cfg(test)]
mod tests {
    use super::parse_listening_line;

    #[test]
    fn parses_the_listening_line() {
        let parsed = parse_listening_line(
            "listening proxy=http://127.0.0.1:4000 admin=http://127.0.0.1:4001",
        );
        assert_eq!(
            parsed,
            Some((
                "http://127.0.0.1:4000".to_owned(),
                "http://127.0.0.1:4001".to_owned()
            ))
        );
        assert_eq!(parse_listening_line("starting up"), None);
        assert_eq!(parse_listening_line("listening proxy=http://x"), None);
    }
}
