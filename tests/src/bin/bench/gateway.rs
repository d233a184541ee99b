//! The gateway under test as a child process: spawning (pinned to its core), readiness, the admin
//! API, `switchyard config apply`, and what /proc says about its CPU time and memory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

use crate::client::{Conn, Target};

pub const ADMIN_TOKEN: &str = "bench-admin-token-0123456789abcdef0123";

/// How to start a gateway process.
#[derive(Clone)]
pub struct Launch {
    pub bin: PathBuf,
    /// Run the gateway through `taskset -c CPU` when set.
    pub cpu: Option<usize>,
    /// Where the gateway's stderr goes.
    pub log: PathBuf,
    /// Environment variables set for the gateway on top of the bench's own.
    pub env: Vec<(String, String)>,
}

pub struct Gateway {
    child: Child,
    pub pid: u32,
    pub proxy: SocketAddr,
    pub admin: SocketAddr,
}

/// A gateway that has been spawned but may not be listening yet.
pub struct Spawned {
    child: Child,
    pub pid: u32,
    ready: oneshot::Receiver<(SocketAddr, SocketAddr)>,
}

impl Launch {
    /// The same launch with one more environment variable for the gateway.
    pub fn with_env(&self, key: &str, value: &str) -> Launch {
        let mut launch = self.clone();
        launch.env.push((key.to_owned(), value.to_owned()));
        launch
    }

    /// Spawns `switchyard serve` on `data_dir`; `listen` is the proxy address (port 0 for any).
    pub fn spawn(&self, data_dir: &Path, listen: SocketAddr) -> anyhow::Result<Spawned> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot open {}", self.log.display()))?;
        let mut command = match self.cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        command
            .arg("serve")
            .arg("--listen")
            .arg(listen.to_string())
            .args([
                "--admin-listen",
                "127.0.0.1:0",
                "--admin-token",
                ADMIN_TOKEN,
            ])
            .arg("--data-dir")
            .arg(data_dir)
            .env("SWITCHYARD_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {}", self.bin.display()))?;
        // taskset execs the gateway, so the child's pid is the gateway's own.
        let pid = child.id().context("the gateway exited at once")?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let (tx, ready) = oneshot::channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            let mut tx = Some(tx);
            while let Ok(Some(line)) = lines.next_line().await {
                // Later lines are read and dropped so that the pipe never fills up.
                if let Some(addrs) = parse_listening(&line)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(addrs);
                }
            }
        });
        Ok(Spawned { child, pid, ready })
    }
}

impl Spawned {
    /// Waits for the `listening proxy=… admin=…` line.
    pub async fn ready(self, within: Duration) -> anyhow::Result<Gateway> {
        let Spawned {
            mut child,
            pid,
            ready,
        } = self;
        match tokio::time::timeout(within, ready).await {
            Ok(Ok((proxy, admin))) => Ok(Gateway {
                child,
                pid,
                proxy,
                admin,
            }),
            Ok(Err(_)) => {
                let status = child.wait().await.ok();
                bail!("the gateway exited before it was ready ({status:?}); see its log")
            }
            Err(_) => bail!("the gateway did not report its sockets within {within:?}"),
        }
    }
}

fn parse_listening(line: &str) -> Option<(SocketAddr, SocketAddr)> {
    let rest = line.strip_prefix("listening ")?;
    let mut proxy = None;
    let mut admin = None;
    for part in rest.split_whitespace() {
        if let Some(url) = part.strip_prefix("proxy=http://") {
            proxy = url.trim_end_matches('/').parse().ok();
        } else if let Some(url) = part.strip_prefix("admin=http://") {
            admin = url.trim_end_matches('/').parse().ok();
        }
    }
    Some((proxy?, admin?))
}

impl Gateway {
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }

    pub fn target(&self) -> Arc<Target> {
        self.target_named("switchyard")
    }

    /// The gateway's plain completion path under another name in the report.
    pub fn target_named(&self, name: &str) -> Arc<Target> {
        Target::new(name, self.proxy, "/v1/chat/completions")
    }

    pub async fn admin(&self) -> anyhow::Result<Admin> {
        let target = Target {
            name: "admin API".into(),
            addr: self.admin,
            path: "/api/status".into(),
            authorization: Some(HeaderValue::from_str(&format!("Bearer {ADMIN_TOKEN}"))?),
            body: None,
            expect_header: None,
            rotate_header: None,
        };
        Ok(Admin(Conn::open(&Arc::new(target)).await?))
    }

    /// The gateway as a consumer with a client key calls it: consumer `bench` gets limits far
    /// above what the bench sends (so admission runs in full but never refuses) and a key.
    pub async fn keyed_target(&self) -> anyhow::Result<Arc<Target>> {
        let mut admin = self.admin().await?;
        let consumer = serde_json::json!({
            "name": "bench",
            "limits": {"rpm": 1_000_000_000u64, "tpm": 1_000_000_000_000u64, "max_concurrent": 100_000},
        });
        let (status, body) = admin
            .call(Method::POST, "/api/consumers", Some(&consumer))
            .await?;
        if status != StatusCode::CREATED {
            bail!("creating the bench consumer answered {status}: {body}");
        }
        let (status, body) = admin
            .call(
                Method::POST,
                "/api/consumers/bench/keys",
                Some(&serde_json::json!({"name": "bench"})),
            )
            .await?;
        let key = body["key"]
            .as_str()
            .filter(|_| status == StatusCode::CREATED);
        let Some(key) = key else {
            bail!("creating the bench key answered {status}: {body}");
        };
        Ok(Arc::new(Target {
            name: "switchyard+key".into(),
            authorization: Some(HeaderValue::from_str(&format!("Bearer {key}"))?),
            ..(*self.target()).clone()
        }))
    }

    pub fn cpu_ticks(&self) -> anyhow::Result<u64> {
        cpu_ticks(self.pid)
    }

    pub fn rss_kb(&self) -> anyhow::Result<u64> {
        status_kb(self.pid, "VmRSS:")
    }
}

/// A kept-alive connection to the admin API.
pub struct Admin(Conn);

impl Admin {
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(StatusCode, Value)> {
        let body = match body {
            Some(value) => Bytes::from(serde_json::to_vec(value)?),
            None => Bytes::new(),
        };
        let reply = self.0.request(method, path, body).await?;
        let value = serde_json::from_slice(&reply.body).unwrap_or(Value::Null);
        Ok((reply.status, value))
    }

    pub async fn status(&mut self) -> anyhow::Result<Value> {
        let (status, body) = self.call(Method::GET, "/api/status", None).await?;
        if status != StatusCode::OK {
            bail!("GET /api/status answered {status}: {body}");
        }
        Ok(body)
    }
}

/// Runs `switchyard config apply FILE --data-dir DIR` with `doc` written to `file`.
pub async fn apply_config(
    bin: &Path,
    data_dir: &Path,
    file: &Path,
    doc: &Value,
) -> anyhow::Result<()> {
    std::fs::write(file, serde_json::to_vec_pretty(doc)?)?;
    let output = Command::new(bin)
        .args(["config", "apply"])
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .env("SWITCHYARD_LOG", "warn")
        .output()
        .await
        .context("cannot run `switchyard config apply`")?;
    if !output.status.success() {
        bail!(
            "`switchyard config apply` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

/// utime + stime of every thread of `pid`, in clock ticks.
pub fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces, so count fields after its closing parenthesis: the
    // state is field 3, utime field 14 and stime field 15.
    let after = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        Ok(fields.get(n - 3).context("short /proc stat")?.parse()?)
    };
    Ok(field(14)? + field(15)?)
}

/// A `kB` line of /proc/PID/status, such as `VmRSS:` or `VmHWM:`.
pub fn status_kb(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .with_context(|| format!("no {key} in /proc/{pid}/status"))?;
    Ok(line
        .trim_start_matches(key)
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

/// Clock ticks per second for /proc CPU times (`getconf CLK_TCK`; 100 on Linux in practice).
pub fn clock_ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or(100)
}

/// A loopback port that was free a moment ago, for a gateway whose address must be known
/// before it starts.
pub fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// Polls `target` with chat requests until one answers 200; returns when it did.
pub async fn first_answer(
    target: &Arc<Target>,
    body: &Bytes,
    within: Duration,
) -> anyhow::Result<Instant> {
    let deadline = Instant::now() + within;
    loop {
        if let Ok(mut conn) = Conn::open(target).await
            && let Ok(reply) = conn.post(body.clone()).await
            && reply.status == StatusCode::OK
        {
            return Ok(Instant::now());
        }
        if Instant::now() > deadline {
            bail!("no proxied answer within {within:?}");
        }
        // Short enough not to distort a start of tens of milliseconds.
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}
