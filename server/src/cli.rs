//! Command-line interface: `serve` (the default) and `config export|apply`, with env fallbacks.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "switchyard",
    version,
    about = "An AI gateway: one OpenAI-compatible endpoint in front of many LLM providers"
)]
pub struct Cli {
    /// Where the SQLite database lives [default: $XDG_DATA_HOME/switchyard or ~/.local/share/switchyard]
    #[arg(long, env = "SWITCHYARD_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the proxy and the admin API (the default).
    Serve,
    /// Export or apply the declarative configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print providers and routes as YAML (API keys masked unless --with-secrets).
    Export {
        #[arg(long)]
        with_secrets: bool,
    },
    /// Upsert the providers and routes of a YAML or JSON file in one transaction.
    Apply {
        /// The file to apply; `-` reads standard input.
        file: PathBuf,
        /// Also delete the providers and routes the file does not name.
        #[arg(long)]
        prune: bool,
    },
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address of the OpenAI-compatible proxy.
    #[arg(
        long,
        env = "SWITCHYARD_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Address of the admin API and console.
    #[arg(
        long,
        env = "SWITCHYARD_ADMIN_LISTEN",
        default_value = "127.0.0.1:8001",
        global = true
    )]
    pub admin_listen: SocketAddr,

    /// Bearer token for the admin API. Without one the admin API answers 401 to everything.
    #[arg(
        long,
        env = "SWITCHYARD_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,

    /// Largest request body the proxy accepts, in bytes.
    #[arg(long, env = "SWITCHYARD_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024, global = true)]
    pub max_body_bytes: usize,

    /// How long a console session lasts after login, in seconds.
    #[arg(long, env = "SWITCHYARD_SESSION_TTL_SECS", default_value_t = 12 * 3600, global = true)]
    pub session_ttl_secs: u64,

    /// On SIGINT/SIGTERM, how long in-flight requests and streams may take to finish.
    #[arg(
        long,
        env = "SWITCHYARD_SHUTDOWN_GRACE_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub shutdown_grace_ms: u64,

    /// Whether proxy requests need a client key: `off` or `required`. Overrides the stored
    /// setting (`PUT /api/settings`), so a public gateway can require keys from its first request.
    #[arg(long, env = "SWITCHYARD_CLIENT_AUTH", global = true)]
    pub client_auth: Option<switchyard_shared::ClientAuth>,

    /// Allow the proxy to listen on a non-loopback address while client keys are not required.
    /// Without it the server refuses to start that way: anyone who can reach it would spend the
    /// provider keys.
    #[arg(long, env = "SWITCHYARD_ALLOW_OPEN_PROXY", global = true)]
    pub allow_open_proxy: bool,
}

impl Cli {
    /// The data dir, falling back to the XDG default.
    pub fn data_dir(&self) -> anyhow::Result<PathBuf> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
            return Ok(PathBuf::from(xdg).join("switchyard"));
        }
        let home = std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "cannot find a data dir: set --data-dir, SWITCHYARD_DATA_DIR or HOME"
                )
            })?;
        Ok(PathBuf::from(home).join(".local/share/switchyard"))
    }
}
