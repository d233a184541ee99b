//! The installer tests' sandbox: `install.sh` in a temporary HOME on free ports, stopped on drop.
//!
//! The test files include this module with `#[path]`. Every installation uses the frozen binary
//! from [`switchyard_bin`] through `--from-binary` (no release build), `--no-systemd` (a test must
//! never touch the user's systemd), and ports picked free on loopback.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::io::AsyncWriteExt;

use switchyard_tests::http_client::{ApiResponse, new_client};
use switchyard_tests::{switchyard_bin, workspace_root};
use tempfile::TempDir;

/// How long one installer command may take: it waits at most 30 seconds for the gateway itself.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(40);

/// What a finished command printed.
pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both outputs unless the command exited with `code`.
    pub fn expect_code(&self, code: i32, what: &str) -> &Run {
        assert_eq!(
            self.status.code(),
            Some(code),
            "{what}: unexpected exit status\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics with both outputs unless the command succeeded.
    pub fn expect_success(&self, what: &str) -> &Run {
        self.expect_code(0, what)
    }

    /// Standard output and standard error together.
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A temporary home for one installation, with two free loopback ports.
pub struct Sandbox {
    root: TempDir,
    pub port: u16,
    pub console_port: u16,
    /// The data dir the installation uses: the installer's default unless the test chose one.
    data_dir: PathBuf,
    client: reqwest::Client,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let root = tempfile::Builder::new()
            .prefix("switchyard-install-")
            .tempdir()
            .expect("a temporary directory for the sandbox");
        for dir in ["home", "config", "data", "cache", "state", "runtime", "tmp"] {
            std::fs::create_dir(root.path().join(dir)).expect("a sandbox directory is created");
        }
        std::fs::set_permissions(
            root.path().join("runtime"),
            std::fs::Permissions::from_mode(0o700),
        )
        .expect("the runtime directory is made private");
        // Both listeners stay open until both ports are read, so the two ports differ.
        let listeners: Vec<_> = (0..2)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port"))
            .collect();
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().expect("a bound address").port())
            .collect();
        let data_dir = root.path().join("data").join("switchyard");
        Sandbox {
            root,
            port: ports[0],
            console_port: ports[1],
            data_dir,
            client: new_client(),
        }
    }

    /// A sandbox whose installation is told to use `<root>/srv/sy` (`--data-dir`, which the test
    /// passes) instead of the default data dir.
    pub fn with_custom_data_dir() -> Sandbox {
        let mut sandbox = Sandbox::new();
        sandbox.data_dir = sandbox.root().join("srv").join("sy");
        sandbox
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn prefix(&self) -> PathBuf {
        self.root().join("prefix")
    }

    pub fn tmp(&self) -> PathBuf {
        self.root().join("tmp")
    }

    /// The installation's data dir: by default the installer's `$XDG_DATA_HOME/switchyard`.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// The installer's default data dir, whichever the installation uses.
    pub fn default_data_dir(&self) -> PathBuf {
        self.root().join("data").join("switchyard")
    }

    /// Where the installer records the installation: `$XDG_CONFIG_HOME/switchyard/install.env`.
    pub fn record_file(&self) -> PathBuf {
        self.root()
            .join("config")
            .join("switchyard")
            .join("install.env")
    }

    pub fn installed_bin(&self) -> PathBuf {
        self.prefix().join("bin").join("switchyard")
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.data_dir().join("admin-token"))
            .expect("the installer wrote the admin token")
            .trim()
            .to_owned()
    }

    /// The gateway's log as written by the supervisor (empty if there is none).
    pub fn log(&self) -> String {
        std::fs::read(self.data_dir().join("switchyard.log"))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default()
    }

    /// The supervisor's pid from `switchyard.pid`, if the file exists.
    pub fn supervisor_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("switchyard.pid")).ok()?;
        Some(text.trim().parse().expect("the pid file holds a number"))
    }

    /// The gateway's pid as its supervisor recorded it, if the file exists.
    pub fn gateway_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("switchyard-gateway.pid")).ok()?;
        Some(
            text.trim()
                .parse()
                .expect("the gateway pid file holds a number"),
        )
    }

    /// A command with the sandbox's environment: the test's own, with HOME, the XDG dirs and
    /// TMPDIR moved into the sandbox and every provider key and Switchyard setting removed.
    pub fn std_command(&self, program: impl AsRef<OsStr>) -> std::process::Command {
        let mut command = std::process::Command::new(program);
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.ends_with("_API_KEY")
                || name_text.starts_with("SWITCHYARD_")
                || name_text == "DBUS_SESSION_BUS_ADDRESS"
            {
                command.env_remove(&name);
            }
        }
        let dirs = [
            ("HOME", "home"),
            ("XDG_CONFIG_HOME", "config"),
            ("XDG_DATA_HOME", "data"),
            ("XDG_CACHE_HOME", "cache"),
            ("XDG_STATE_HOME", "state"),
            ("XDG_RUNTIME_DIR", "runtime"),
            ("TMPDIR", "tmp"),
        ];
        for (name, dir) in dirs {
            command.env(name, self.root().join(dir));
        }
        command
            .current_dir(self.root().join("home"))
            .stdin(Stdio::null());
        command
    }

    /// `bash install.sh ARGS --no-systemd` in a new session, so that it has no terminal to ask
    /// on (as in CI) and never touches a real user systemd.
    fn installer_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.bare_installer_command(args);
        command.arg("--no-systemd");
        command
    }

    /// `bash install.sh ARGS` exactly as given, in a new session, with SIGINT and SIGTERM at their
    /// default disposition (a test runner started in the background passes them on ignored, and
    /// bash cannot trap a signal it started with ignored). Without `--no-systemd` this is
    /// still kept off the user's systemd: the sandbox moves XDG_RUNTIME_DIR (where `systemctl
    /// --user` finds its manager) and removes DBUS_SESSION_BUS_ADDRESS, so systemd is unreachable.
    fn bare_installer_command(&self, args: &[&str]) -> std::process::Command {
        let mut command = self.std_command("setsid");
        command
            .arg("--wait")
            .args(["env", "--default-signal=INT,TERM"])
            .arg("bash")
            .arg(workspace_root().join("install.sh"))
            .args(args);
        command
    }

    /// The options of an installation: the frozen binary, the free ports and the sandbox prefix.
    pub async fn install_options(&self) -> Vec<String> {
        // The first call may build the binary, which must not block the runtime's mocks.
        let bin = tokio::task::spawn_blocking(switchyard_bin)
            .await
            .expect("finding the switchyard binary did not panic");
        vec![
            "--from-binary".into(),
            bin.display().to_string(),
            "--port".into(),
            self.port.to_string(),
            "--console-port".into(),
            self.console_port.to_string(),
            "--prefix".into(),
            self.prefix().display().to_string(),
        ]
    }

    /// Runs `install.sh ARGS` (any command) with extra environment variables, to completion.
    pub async fn installer(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = self.installer_command(args);
        command.envs(env.iter().copied());
        run(command, &format!("install.sh {}", args.join(" "))).await
    }

    /// Runs `install.sh ARGS` with no option added (not even `--no-systemd`), as a user types a
    /// day-to-day command.
    pub async fn installer_bare(&self, args: &[&str]) -> Run {
        let command = self.bare_installer_command(args);
        run(command, &format!("install.sh {}", args.join(" "))).await
    }

    /// Runs `install.sh ARGS` with extra environment variables and `input` on its standard input.
    pub async fn installer_with_input(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
        input: &[u8],
    ) -> Run {
        let mut command = self.installer_command(args);
        command.envs(env.iter().copied());
        run_with_input(command, input, &format!("install.sh {}", args.join(" "))).await
    }

    /// Starts `install.sh ARGS` with `input` on its standard input (then closed) and returns it
    /// running, as the leader of its own process group, with its output piped.
    pub fn spawn_installer(&self, args: &[&str], input: &[u8]) -> tokio::process::Child {
        let mut command = tokio::process::Command::from(self.installer_command(args));
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("install.sh starts");
        let mut stdin = child.stdin.take().expect("a piped stdin");
        let input = input.to_vec();
        tokio::spawn(async move {
            let _ = stdin.write_all(&input).await;
        });
        child
    }

    /// Runs `install.sh --non-interactive` with the installation options and `extra`, and
    /// asserts that it succeeded.
    pub async fn install(&self, extra: &[&str], env: &[(&str, &str)]) -> Run {
        let options = self.install_options().await;
        let mut args = vec!["--non-interactive"];
        args.extend(options.iter().map(String::as_str));
        args.extend_from_slice(extra);
        let result = self.installer(&args, env).await;
        result.expect_success("install.sh --non-interactive");
        result
    }

    /// `GET` on the console port, or the transport error.
    async fn console_get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> Result<ApiResponse, reqwest::Error> {
        let mut request = self
            .client
            .get(format!("http://127.0.0.1:{}{path}", self.console_port));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        ApiResponse::try_send(request).await
    }

    /// Whether `/api/health/live` answers 200 on the console port.
    pub async fn is_live(&self) -> bool {
        self.console_get("/api/health/live", None)
            .await
            .is_ok_and(|r| r.status == 200)
    }

    /// `GET` on the admin API with the token the installer generated, asserting 200.
    pub async fn admin_get(&self, path: &str) -> serde_json::Value {
        let response = self
            .console_get(path, Some(&self.admin_token()))
            .await
            .unwrap_or_else(|e| panic!("GET {path} on the admin API failed: {e}"));
        response.expect_status(200, &format!("GET {path}"));
        response.json()
    }

    /// A chat completion for `model` through the proxy port.
    pub async fn chat(&self, model: &str) -> ApiResponse {
        let request = self
            .client
            .post(format!(
                "http://127.0.0.1:{}/v1/chat/completions",
                self.port
            ))
            .json(&serde_json::json!({
                "model": model,
                "messages": [{"role": "user", "content": "hi"}],
            }));
        ApiResponse::send(request).await
    }

    /// The live processes whose command line names this sandbox: the supervisor and the gateway.
    pub fn processes(&self) -> Vec<u32> {
        let marker = self.root().to_string_lossy().into_owned();
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                String::from_utf8_lossy(&cmdline).contains(&marker) && process_alive(*pid)
            })
            .collect()
    }
}

impl Drop for Sandbox {
    /// Stops whatever the installer started, so that no gateway outlives its test: first as a
    /// user would (`install.sh stop`), then by force for anything left over.
    fn drop(&mut self) {
        if self.data_dir().exists() {
            let _ = self
                .installer_command(&["stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let leftovers = self.processes();
        if !leftovers.is_empty() {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .args(leftovers.iter().map(u32::to_string))
                .status();
        }
    }
}

/// Runs a command to completion within [`COMMAND_TIMEOUT`], killing it if it takes longer.
pub async fn run(command: std::process::Command, what: &str) -> Run {
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    let output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {COMMAND_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what} could not be run: {e}"));
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Like [`run`], with `input` written to the command's standard input, which is then closed.
pub async fn run_with_input(command: std::process::Command, input: &[u8], what: &str) -> Run {
    let mut command = tokio::process::Command::from(command);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{what} could not be run: {e}"));
    let mut stdin = child.stdin.take().expect("a piped stdin");
    stdin
        .write_all(input)
        .await
        .unwrap_or_else(|e| panic!("{what}: writing its standard input failed: {e}"));
    drop(stdin);
    let output = tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within {COMMAND_TIMEOUT:?}"))
        .unwrap_or_else(|e| panic!("{what} could not be run: {e}"));
    Run {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Whether `pid` is a running process (not gone, not a zombie waiting to be reaped).
pub fn process_alive(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may contain spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z' | 'X'))
}

/// The permission bits of `path`.
pub fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{} has no metadata: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}
