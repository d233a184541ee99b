//! `switchyard migrate --to postgres://…`: moves a single-node installation (the data dir's
//! SQLite configuration store and request log) into an empty PostgreSQL database, so that it can
//! grow into a cluster without starting over. The copying is `store/migrate.rs`; this is the
//! command: its checks and what it prints.

use std::path::Path;

use anyhow::Context;

use crate::cli::DatabaseUrl;
use crate::store::{self, Engine, Origin};

/// Runs the migration and prints its summary. The URL's password is never printed.
pub async fn run(data_dir: &Path, to: &DatabaseUrl, force: bool) -> anyhow::Result<()> {
    if store::engine_of(to.expose()) != Engine::Postgres {
        anyhow::bail!("--to must be a postgres:// or postgresql:// URL, got {to}");
    }
    eprintln!(
        "migrating {} to {to} (stop the gateway first: what it writes after the copy is not \
         copied)",
        data_dir.display()
    );
    let report = store::migrate::sqlite_to_postgres(data_dir, to.expose(), force, &Origin::cli())
        .await
        .with_context(|| format!("cannot migrate {} to {to}", data_dir.display()))?;
    print!("{}", summary(&report));
    Ok(())
}

/// The counts per table, the new revision, and what every node of the cluster needs.
fn summary(report: &store::migrate::MigrateReport) -> String {
    let mut out = String::from("copied the configuration:\n");
    for (table, rows) in &report.config {
        out.push_str(&format!("  {table:<16} {rows:>10}\n"));
    }
    if report.records.is_empty() {
        out.push_str("no request log (usage.db) in the data dir: no records copied\n");
    } else {
        out.push_str("copied the request log:\n");
        for (table, rows) in &report.records {
            out.push_str(&format!("  {table:<16} {rows:>10}\n"));
        }
    }
    out.push_str(&format!(
        "the configuration is at revision {}, recorded in the audit trail as \"migrated from \
         SQLite\"\n",
        report.revision
    ));
    if report.sealed {
        out.push_str(
            "provider secrets were copied sealed, as stored: every gateway on this database needs \
             the same master key (SWITCHYARD_MASTER_KEY or --master-key-file) as this data dir\n",
        );
    } else {
        out.push_str(
            "provider secrets were copied as stored (in plaintext; `switchyard secrets seal` \
             with --database-url seals them); if you seal them, every gateway on this database \
             needs the same master key\n",
        );
    }
    out.push_str("start each gateway with --database-url (or SWITCHYARD_DATABASE_URL) set to it\n");
    out
}
