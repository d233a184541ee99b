//! Runs `switchyard` subcommands (`config export`, `config apply`) as separate processes.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::process::Command;

use crate::switchyard_bin;

/// What a finished CLI invocation printed.
#[derive(Clone, Debug)]
pub struct CliOutput {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl CliOutput {
    /// Panics with both outputs unless the command exited successfully.
    pub fn expect_success(&self, context: &str) -> &Self {
        assert!(
            self.status.success(),
            "{context}: switchyard exited with {}\nstdout:\n{}\nstderr:\n{}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Panics unless the command failed, returning stdout and stderr joined for inspection.
    pub fn expect_failure(&self, context: &str) -> String {
        assert!(
            !self.status.success(),
            "{context}: switchyard was expected to fail but succeeded\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// Runs `switchyard <args> --data-dir <data_dir>` to completion (at most 30 seconds).
pub async fn run_cli(args: &[&str], data_dir: &Path) -> CliOutput {
    let bin = tokio::task::spawn_blocking(switchyard_bin)
        .await
        .expect("building the switchyard binary did not panic");
    let mut command = Command::new(&bin);
    command
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env_remove("SWITCHYARD_DATA_DIR")
        .env_remove("SWITCHYARD_ADMIN_TOKEN")
        .env_remove("SWITCHYARD_LOG")
        .env_remove("SWITCHYARD_DATABASE_URL")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    // The same store as the data dir's gateway when the suite runs on PostgreSQL.
    if let Some(url) = crate::store_engine::database_url_for(data_dir) {
        command.env("SWITCHYARD_DATABASE_URL", url);
    }
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .unwrap_or_else(|_| panic!("`switchyard {}` did not finish within 30 s", args.join(" ")))
        .unwrap_or_else(|e| panic!("could not run {}: {e}", bin.display()));
    CliOutput {
        status: output.status,
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
