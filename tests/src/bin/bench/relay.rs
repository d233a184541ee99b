//! A null proxy for calibration: a byte-for-byte TCP relay, pinned where the gateway is, that
//! does no HTTP work at all. What it adds over the direct arm is the floor any proxy pays on
//! this machine for the two extra hops (and, pinned, the cross-core wake-ups); what Switchyard
//! adds over it is the gateway's own work.
//!
//! It runs as `bench --relay-listen ADDR --relay-upstream ADDR` in a process of its own, with a
//! blocking thread per direction of each connection, the least a relay can do.

use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::client::Target;

/// The relay's process; it is killed when dropped.
pub struct Relay {
    child: Child,
    pub pid: u32,
    pub target: Arc<Target>,
}

impl Relay {
    /// Kills the relay and waits for it, so that its CPU time is accounted as a reaped child's.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// Serves forever in this process (the child side).
pub fn serve(listen: SocketAddr, upstream: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen)?;
    println!("listening relay={}", listener.local_addr()?);
    std::io::stdout().flush()?;
    for client in listener.incoming() {
        let client = client?;
        let server = TcpStream::connect(upstream)?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        let (client_back, server_back) = (client.try_clone()?, server.try_clone()?);
        std::thread::spawn(move || pipe(client, server));
        std::thread::spawn(move || pipe(server_back, client_back));
    }
    Ok(())
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    let _ = std::io::copy(&mut from, &mut to);
    let _ = to.shutdown(Shutdown::Write);
}

/// Starts a relay to `upstream` in a child process, pinned to `cpu` when given.
pub async fn spawn(cpu: Option<usize>, upstream: SocketAddr) -> anyhow::Result<Relay> {
    let exe = std::env::current_exe().context("cannot find the bench binary")?;
    let mut command = match cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    let mut child = command
        .args(["--relay-listen", "127.0.0.1:0", "--relay-upstream"])
        .arg(upstream.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the null relay")?;
    let pid = child.id().context("the relay exited at once")?;
    let stdout = child.stdout.take().context("no stdout pipe")?;
    let mut lines = BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .context("the relay did not start within 10 s")??
        .unwrap_or_default();
    let Some(addr) = line.strip_prefix("listening relay=") else {
        bail!("the relay said {line:?} instead of its address");
    };
    let addr: SocketAddr = addr.parse()?;
    Ok(Relay {
        child,
        pid,
        target: Target::new("null-relay", addr, "/v1/chat/completions"),
    })
}
