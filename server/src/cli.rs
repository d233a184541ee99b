//! Command-line interface: `serve` (the default), `config export|apply|history|rollback`,
//! `secrets seal|unseal|new-key` and `migrate --to`, with env fallbacks.

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
    /// Where the SQLite databases live: the request log, and the configuration unless --database-url is set [default: $XDG_DATA_HOME/switchyard or ~/.local/share/switchyard]
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
    /// Export or apply the declarative configuration; read its history or roll it back.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Seal or unseal the stored provider secrets with the master key.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Copy this data dir's SQLite configuration and request records into an empty PostgreSQL
    /// database, for cluster mode (stop the gateway first).
    Migrate {
        /// The PostgreSQL database to copy into (`postgres://user@host/db`); prefer
        /// SWITCHYARD_MIGRATE_TO when the URL holds a password: arguments show in `ps`.
        #[arg(long, env = "SWITCHYARD_MIGRATE_TO", hide_env_values = true)]
        to: DatabaseUrl,
        /// Replace whatever configuration and records the target already holds.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Encrypt every plaintext provider key and header value in the database with the master key,
    /// in one transaction (run it with the gateway stopped, so the old plaintext is also wiped
    /// from the database's free pages and its write-ahead log).
    Seal,
    /// Decrypt them back to plaintext: to stop using a master key, or to change it (unseal with
    /// the old key, then seal with the new one).
    Unseal,
    /// Print a new random master key (64 hex characters) for SWITCHYARD_MASTER_KEY or a key file.
    NewKey,
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
    /// List the audit trail, newest first: revision, time, actor, action, summary.
    History {
        /// Only changes of one resource: a kind (`route`) or `kind/name` (`route/chat`).
        #[arg(long)]
        resource: Option<String>,
        /// How many entries (1 to 500).
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// Make the configuration what it was right after revision REV, as a new revision; shows
    /// the preview and what cannot be restored, then asks to confirm.
    Rollback {
        /// The revision to go back to (see `config history`).
        revision: i64,
        /// Do not ask: roll back at once (needed when standard input is not a terminal).
        #[arg(long)]
        yes: bool,
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

    /// Bearer token for the admin API (at least 32 characters). Prefer the environment variable
    /// or `--admin-token-file`: a command-line argument is visible to every user in `ps`.
    #[arg(
        long,
        env = "SWITCHYARD_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,

    /// A file holding the admin token (surrounding white space ignored); wins over
    /// `--admin-token`.
    #[arg(long, env = "SWITCHYARD_ADMIN_TOKEN_FILE", global = true)]
    pub admin_token_file: Option<PathBuf>,

    /// Host names (optionally `name:port`) the proxy and admin API answer to, besides IP
    /// addresses and `localhost`; `*` turns the check off. Refusing other `Host` headers stops DNS
    /// rebinding from reaching the gateway through a browser.
    #[arg(
        long,
        env = "SWITCHYARD_ALLOWED_HOSTS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_hosts: Vec<String>,

    /// Browser origins (`https://app.example.com`) allowed to call the proxy; other cross-site
    /// browser requests are refused with 403. Non-browser clients send no `Origin` and are
    /// unaffected.
    #[arg(
        long,
        env = "SWITCHYARD_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub allowed_origins: Vec<String>,

    /// Allow the console's first-run setup from addresses other than loopback (it still needs
    /// the setup code or the admin token).
    #[arg(long, env = "SWITCHYARD_ALLOW_REMOTE_SETUP", global = true)]
    pub allow_remote_setup: bool,

    /// How long a client may take to send a request's headers, and then its body, in
    /// milliseconds; slower connections are closed.
    #[arg(
        long,
        env = "SWITCHYARD_REQUEST_READ_TIMEOUT_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub request_read_timeout_ms: u64,

    /// The most client connections the proxy keeps open at once; more wait to be accepted.
    #[arg(
        long,
        env = "SWITCHYARD_MAX_CONNECTIONS",
        default_value_t = 20_000,
        global = true
    )]
    pub max_connections: usize,

    /// The most proxy requests in flight at once (streams count until they end); more get 503.
    #[arg(
        long,
        env = "SWITCHYARD_MAX_IN_FLIGHT",
        default_value_t = 10_000,
        global = true
    )]
    pub max_in_flight: usize,

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

    /// Serve `GET /metrics` on the admin listener without the admin token or a session, for
    /// Prometheus servers that cannot send a bearer token. The metrics name routes, providers,
    /// models and consumers, so use it only where the admin listener is not reachable by others.
    #[arg(long, env = "SWITCHYARD_METRICS_PUBLIC", global = true)]
    pub metrics_public: bool,

    /// Whether every proxied request's record is written to the request log (`usage.db` in the
    /// data dir, or the `--database-url` database) (`on`, the default, or `off`). Off, `/api/logs` and `/api/usage` stay empty and budgets do not
    /// survive a restart; metrics and budgets still work in memory.
    #[arg(long, env = "SWITCHYARD_REQUEST_LOG", default_value = "on", value_parser = ["on", "off"], global = true)]
    pub request_log: String,

    /// Lets `PUT /api/debug/clock` move the gateway's wall clock, so tests can cross a budget
    /// period without waiting for it. Never in production.
    #[arg(long, env = "SWITCHYARD_TEST_CLOCK", hide = true, global = true)]
    pub test_clock: bool,

    /// A file holding the master key (64 hex characters) that seals provider keys and header
    /// values in the database; or set SWITCHYARD_MASTER_KEY to the key itself. The key is never
    /// accepted as a command-line argument. Without one, secrets are stored in plaintext.
    #[arg(long, env = "SWITCHYARD_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,

    /// The master key from SWITCHYARD_MASTER_KEY (the flag exists only to read the variable; a
    /// value given as an argument is refused).
    #[arg(
        long = "master-key",
        env = "SWITCHYARD_MASTER_KEY",
        hide_env_values = true,
        hide = true,
        global = true
    )]
    pub master_key: Option<crate::secrets::MasterKeyText>,

    /// Keep the configuration store and the request records in this PostgreSQL database
    /// (`postgres://user@host/db`, `sslmode` and the other libpq parameters in the query) instead
    /// of the data dir's SQLite files. Prefer the environment variable when the URL holds a
    /// password: arguments show in `ps`.
    #[arg(
        long,
        env = "SWITCHYARD_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub database_url: Option<DatabaseUrl>,

    /// Share rate-limit counters, concurrency slots, budget spend and the response cache with the
    /// other gateways through this Redis (`redis://[user:password@]host:port/db`, or `rediss://`
    /// for TLS). Without it every gateway counts for itself. Prefer the environment variable
    /// when the URL holds a password.
    #[arg(
        long,
        env = "SWITCHYARD_REDIS_URL",
        hide_env_values = true,
        global = true
    )]
    pub redis_url: Option<DatabaseUrl>,

    /// The prefix of every Redis key this cluster writes, so several clusters can share one Redis.
    #[arg(
        long,
        env = "SWITCHYARD_REDIS_PREFIX",
        default_value = "sy",
        global = true
    )]
    pub redis_prefix: String,

    /// How long a request waits for Redis before the `redis_failure` setting decides.
    #[arg(
        long,
        env = "SWITCHYARD_REDIS_TIMEOUT_MS",
        default_value_t = 50,
        global = true
    )]
    pub redis_timeout_ms: u64,

    /// How long a concurrency slot held in Redis lasts unless its gateway renews it (every third
    /// of it, while the request is in flight): a gateway that dies frees its slots within this.
    #[arg(
        long,
        env = "SWITCHYARD_REDIS_LEASE_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub redis_lease_ms: u64,
}

/// A PostgreSQL URL for the configuration store, or a Redis URL for the shared counters. It may
/// hold a password, so it prints (`Debug`, `Display`) with the password replaced; [`DatabaseUrl::expose`] gives the URL itself to the
/// driver.
#[derive(Clone)]
pub struct DatabaseUrl(String);

impl DatabaseUrl {
    /// The URL with its password, for opening the database only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for DatabaseUrl {
    type Err = std::convert::Infallible;

    /// Takes any text: the scheme is checked when the store opens ([`crate::store::open_configured`]),
    /// because clap's own error for a refused value would print it, password included.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(DatabaseUrl(text.to_owned()))
    }
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::store::redacted_url(&self.0))
    }
}

impl std::fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::store::redacted_url(&self.0))
    }
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
