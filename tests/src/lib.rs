//! Harness for Switchyard's end-to-end tests: the real binary, mock upstreams and HTTP helpers.
//!
//! The tests under `tests/tests/` start the real `switchyard` binary with [`Gateway`], point its
//! providers at [`MockUpstream`]s on loopback sockets, and talk to both over real HTTP. Nothing
//! here sleeps to wait for readiness: the gateway announces its sockets on stdout, and anything
//! asynchronous (file watcher reloads) is polled with a deadline through [`poll_until`].

pub mod cli;
pub mod cluster;
pub mod cluster_fixture;
pub mod consumers;
pub mod fixtures;
pub mod http_client;
pub mod metering;
pub mod mock;
pub mod providers;
pub mod server;
pub mod sse;
pub mod store_engine;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub use cli::{CliOutput, run_cli};
pub use http_client::ApiResponse;
pub use mock::{MockUpstream, RecordedRequest, Reply, StepStream, refused_base_url};
pub use server::{DEFAULT_ADMIN_TOKEN, Gateway, GatewayOptions, Signal};
pub use sse::{SseEvent, SseReader};

/// The workspace root: the parent of this crate's manifest directory.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives inside the workspace")
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` (relative values are taken from the
/// workspace root, as cargo does).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_relative() {
                workspace_root().join(dir)
            } else {
                dir
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// The path of the real `switchyard` binary, built once per test process so that it is current.
///
/// Setting `SWITCHYARD_BIN` skips the build and uses that binary instead, which is useful for
/// testing a release build or an installed copy.
pub fn switchyard_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_switchyard).clone()
}

fn build_switchyard() -> PathBuf {
    if let Some(bin) = std::env::var_os("SWITCHYARD_BIN").filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target = target_dir();
    let output = Command::new(&cargo)
        .current_dir(workspace_root())
        .args([
            "build",
            "-p",
            "switchyard",
            "--bin",
            "switchyard",
            "--target-dir",
        ])
        .arg(&target)
        .output()
        .unwrap_or_else(|e| panic!("could not run {cargo:?} to build the switchyard binary: {e}"));
    if !output.status.success() {
        panic!(
            "`cargo build -p switchyard --bin switchyard` failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let bin = target
        .join("debug")
        .join(format!("switchyard{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "cargo reported success but {} does not exist",
        bin.display()
    );
    bin
}

/// Calls `check` until it returns `Some`, or panics with `what` once `deadline` has passed.
///
/// Use this for things that become true asynchronously, such as a reload by the file watcher;
/// the pause between attempts is short so that a fast server passes fast.
pub async fn poll_until<T, F, Fut>(deadline: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if start.elapsed() > deadline {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
