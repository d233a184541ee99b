//! Switchyard, an AI gateway: one OpenAI-compatible endpoint in front of many LLM providers.
//!
//! See ARCHITECTURE.md for the bird's-eye view and the invariants.

pub mod admin;
pub mod alerts;
pub mod background;
pub mod budgets;
pub mod cache;
pub mod cli;
pub mod client_key;
pub mod clock;
pub mod config_file;
pub mod config_history;
pub mod consumers;
pub mod guard;
pub mod guardrails;
pub mod health;
pub mod health_check;
pub mod limits;
pub mod listener;
pub mod metering;
pub mod metrics;
pub mod migrate;
pub mod model_mapping;
pub mod pipeline;
pub mod pricing;
pub mod prometheus;
pub mod protocols;
pub mod providers;
pub mod proxy;
pub mod reload;
pub mod routing;
pub mod secrets;
pub mod server;
pub mod shared_state;
pub mod snapshot;
pub mod sse;
pub mod store;
pub mod stream;
pub mod upstream;
pub mod usage;
pub mod watch;

use clap::Parser;

use cli::{Cli, Command, ConfigCommand, SecretsCommand};

/// The `switchyard` binary's entry point.
pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let data_dir = cli.data_dir()?;
    match &cli.command {
        None | Some(Command::Serve) => server::run(&cli.serve, &data_dir).await,
        Some(Command::Config(ConfigCommand::Export { with_secrets })) => {
            let store = open_store(&cli, &data_dir).await?;
            print!("{}", config_file::export(&store, *with_secrets).await?);
            store.close().await;
            Ok(())
        }
        Some(Command::Config(ConfigCommand::Apply { file, prune })) => {
            let doc = config_file::read_document(file)?;
            let store = open_store(&cli, &data_dir).await?;
            let result = config_file::apply(&store, doc, *prune).await;
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Some(Command::Config(ConfigCommand::History { resource, limit })) => {
            let store = open_store(&cli, &data_dir).await?;
            let result = config_history::history(&store, resource.clone(), Some(*limit)).await;
            store.close().await;
            print!("{}", result?);
            Ok(())
        }
        Some(Command::Config(ConfigCommand::Rollback { revision, yes })) => {
            let store = open_store(&cli, &data_dir).await?;
            let result = config_history::rollback(&store, *revision, *yes).await;
            store.close().await;
            println!("{}", result?);
            Ok(())
        }
        Some(Command::Secrets(command)) => secrets_command(&cli, &data_dir, command).await,
        Some(Command::Migrate { to, force }) => migrate::run(&data_dir, to, *force).await,
    }
}

/// Opens the store with the master key the arguments name, if any: in the PostgreSQL database
/// of `--database-url`, else in the data dir.
async fn open_store(cli: &Cli, data_dir: &std::path::Path) -> anyhow::Result<store::Store> {
    let key = secrets::master_key(&cli.serve)?;
    store::open_configured(cli.serve.database_url.as_ref(), data_dir, key).await
}

/// `switchyard secrets seal|unseal|new-key`.
async fn secrets_command(
    cli: &Cli,
    data_dir: &std::path::Path,
    command: &SecretsCommand,
) -> anyhow::Result<()> {
    if let SecretsCommand::NewKey = command {
        println!("{}", secrets::MasterKey::generate_hex());
        return Ok(());
    }
    if secrets::master_key(&cli.serve)?.is_none() {
        anyhow::bail!(
            "this needs the master key: set {} or --master-key-file",
            secrets::MASTER_KEY_ENV
        );
    }
    let store = open_store(cli, data_dir).await?;
    let result = match command {
        SecretsCommand::Unseal => store.unseal_secrets(&store::Origin::cli()).await,
        _ => store.seal_secrets(&store::Origin::cli()).await,
    };
    store.close().await;
    let changed = result?;
    let verb = if let SecretsCommand::Unseal = command {
        "unsealed"
    } else {
        "sealed"
    };
    println!(
        "{verb}: {} provider keys and {} header values changed; every provider secret is {verb}",
        changed.keys, changed.headers
    );
    Ok(())
}

/// Logs go to stderr, filtered by `SWITCHYARD_LOG` (or `RUST_LOG`), `info` by default.
fn init_tracing() {
    use tracing_subscriber::EnvFilter;
    let filter = std::env::var("SWITCHYARD_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        // PostgreSQL's notices (such as the migrator's "relation _sqlx_migrations already exists,
        // skipping" on every start) are not news for an operator.
        .unwrap_or_else(|| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    // Colours only on a terminal: log files and journals get plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr())
        && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .init();
}
