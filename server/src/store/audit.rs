//! Recording the audit trail: who made each configuration revision, from where, and what it
//! changed, written in the same transaction as the change.
//!
//! A write names the resources it will touch before it touches them ([`Audit::begin`]); the
//! recorder reads their masked views then and again at [`Audit::commit`], which also bumps the
//! revision. So a write that fails validation or rolls back leaves no entry, and an entry can
//! never describe a change that did not commit. Documents are the admin API's masked views:
//! provider keys and header values as `sk-…k3Qz`, client keys by id and mask, never a secret.

use serde_json::Value;
use sqlx::AnyConnection;

use super::consumers::{load_consumers, load_settings};
use super::guardrails::load_guardrails;
use super::{Result, load_providers, load_routes, now_ms};
use crate::secrets::Sealer;

/// Who made a change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Actor {
    /// A console user, by name.
    Console(String),
    /// The admin API's bearer token.
    AdminToken,
    /// The command line, with the operating-system user that ran it.
    Cli(String),
    /// Another gateway of a cluster, by node name.
    Node(String),
    /// The gateway itself (tests, and writes without a person behind them).
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Console(user) => write!(f, "console:{user}"),
            Actor::AdminToken => f.write_str("admin-token"),
            Actor::Cli(user) => write!(f, "cli:{user}"),
            Actor::Node(node) => write!(f, "node:{node}"),
            Actor::System => f.write_str("system"),
        }
    }
}

/// Who made a change and from where; every write takes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    /// The admin socket's peer address, or `local` for the command line.
    pub source: Option<String>,
}

impl Origin {
    pub fn new(actor: Actor, source: Option<String>) -> Origin {
        Origin { actor, source }
    }

    /// A write the gateway makes itself.
    pub fn system() -> Origin {
        Origin::new(Actor::System, None)
    }

    /// The command line, as the operating-system user running it.
    pub fn cli() -> Origin {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_else(|_| "unknown".to_owned());
        Origin::new(Actor::Cli(user), Some("local".to_owned()))
    }
}

/// A resource a write touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Item<'a> {
    Provider(&'a str),
    Route(&'a str),
    Consumer(&'a str),
    Guardrail(&'a str),
    Settings,
    Account(&'a str),
}

impl Item<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Item::Provider(_) => "provider",
            Item::Route(_) => "route",
            Item::Consumer(_) => "consumer",
            Item::Guardrail(_) => "guardrail",
            Item::Settings => "settings",
            Item::Account(_) => "account",
        }
    }

    fn name(&self) -> &str {
        match self {
            Item::Provider(name)
            | Item::Route(name)
            | Item::Consumer(name)
            | Item::Guardrail(name)
            | Item::Account(name) => name,
            Item::Settings => "",
        }
    }
}

/// One resource's documents around a write.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub kind: &'static str,
    pub name: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A write in progress: the resources it touches, as they were.
pub(super) struct Audit<'o> {
    origin: &'o Origin,
    /// Each touched resource's kind, name and masked document before the write.
    before: Vec<(&'static str, String, Option<Value>)>,
    /// The whole document is touched (apply, rollback): every section is compared.
    whole: bool,
    rolled_back_to: Option<i64>,
}

impl<'o> Audit<'o> {
    /// Reads the resources `items` as they are before the write.
    pub(super) async fn begin(
        conn: &mut AnyConnection,
        sealer: &Sealer,
        origin: &'o Origin,
        items: &[Item<'_>],
    ) -> Result<Audit<'o>> {
        let mut before = Vec::with_capacity(items.len());
        for item in items {
            let document = read(conn, sealer, *item).await?;
            before.push((item.kind(), item.name().to_owned(), document));
        }
        Ok(Audit {
            origin,
            before,
            whole: false,
            rolled_back_to: None,
        })
    }

    /// Reads every resource before a write that may touch any of them.
    pub(super) async fn begin_all(
        conn: &mut AnyConnection,
        sealer: &Sealer,
        origin: &'o Origin,
    ) -> Result<Audit<'o>> {
        Ok(Audit {
            origin,
            before: read_all(conn, sealer).await?,
            whole: true,
            rolled_back_to: None,
        })
    }

    /// Marks the write as a rollback to `revision`.
    pub(super) fn rolling_back_to(mut self, revision: i64) -> Audit<'o> {
        self.rolled_back_to = Some(revision);
        self
    }

    /// Bumps the revision and records the entry with what changed; returns the new revision.
    pub(super) async fn commit(
        self,
        conn: &mut AnyConnection,
        sealer: &Sealer,
        action: &str,
        summary: &str,
    ) -> Result<i64> {
        let mut after = if self.whole {
            read_all(conn, sealer).await?
        } else {
            let mut after = Vec::with_capacity(self.before.len());
            for (kind, name, _) in &self.before {
                let item = item_of(kind, name);
                after.push((*kind, name.clone(), read(conn, sealer, item).await?));
            }
            after
        };
        let changes = pair(self.before, &mut after);
        let revision: i64 = sqlx::query_scalar(
            "UPDATE meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        )
        .fetch_one(&mut *conn)
        .await?;
        // On PostgreSQL every node listens on this channel (`store::listen_for_revisions`), and
        // PostgreSQL delivers the notification only when this transaction commits, so a node
        // reloads a revision that is there to read. SQLite's readers see the file change.
        if conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(super::db::REVISION_CHANNEL)
                .bind(revision.to_string())
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "INSERT INTO audit_entries (revision, at_ms, actor, source, action, summary, rolled_back_to)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(revision)
        .bind(now_ms())
        .bind(self.origin.actor.to_string())
        .bind(self.origin.source.as_deref())
        .bind(action)
        .bind(summary)
        .bind(self.rolled_back_to)
        .execute(&mut *conn)
        .await?;
        for (seq, change) in changes.iter().enumerate() {
            sqlx::query(
                "INSERT INTO audit_changes (revision, seq, kind, name, before, after)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(revision)
            .bind(i64::try_from(seq).unwrap_or(i64::MAX))
            .bind(change.kind)
            .bind(&change.name)
            .bind(change.before.as_ref().map(Value::to_string))
            .bind(change.after.as_ref().map(Value::to_string))
            .execute(&mut *conn)
            .await?;
        }
        Ok(revision)
    }
}

/// Matches the documents before and after by kind and name, keeping only real changes, in a
/// stable order: the order read before, then what the write created.
fn pair(
    before: Vec<(&'static str, String, Option<Value>)>,
    after: &mut Vec<(&'static str, String, Option<Value>)>,
) -> Vec<Change> {
    let mut changes = Vec::new();
    for (kind, name, old) in before {
        let new = after
            .iter()
            .position(|(k, n, _)| *k == kind && *n == name)
            .and_then(|i| after.remove(i).2);
        if old != new {
            changes.push(Change {
                kind,
                name,
                before: old,
                after: new,
            });
        }
    }
    for (kind, name, new) in after.drain(..) {
        if new.is_some() {
            changes.push(Change {
                kind,
                name,
                before: None,
                after: new,
            });
        }
    }
    changes
}

fn item_of<'a>(kind: &str, name: &'a str) -> Item<'a> {
    match kind {
        "provider" => Item::Provider(name),
        "route" => Item::Route(name),
        "consumer" => Item::Consumer(name),
        "guardrail" => Item::Guardrail(name),
        "account" => Item::Account(name),
        _ => Item::Settings,
    }
}

fn to_value<T: serde::Serialize>(item: &T) -> Option<Value> {
    // These are plain data structs; should serialising one ever fail, the entry records the
    // change as a null document rather than failing the write.
    serde_json::to_value(item).ok()
}

/// One resource's masked document, `None` when it does not exist.
async fn read(conn: &mut AnyConnection, sealer: &Sealer, item: Item<'_>) -> Result<Option<Value>> {
    Ok(match item {
        Item::Provider(name) => load_providers(conn, Some(name), sealer)
            .await?
            .pop()
            .and_then(|p| to_value(&p.spec.masked())),
        Item::Route(name) => load_routes(conn, Some(name))
            .await?
            .pop()
            .and_then(|r| to_value(&r.spec)),
        Item::Consumer(name) => load_consumers(conn, Some(name))
            .await?
            .pop()
            .and_then(|c| to_value(&c.audited())),
        Item::Guardrail(name) => load_guardrails(conn, Some(name))
            .await?
            .pop()
            .and_then(|g| to_value(&g.spec)),
        Item::Settings => to_value(&load_settings(conn).await?),
        Item::Account(name) => {
            let exists: Option<i64> =
                sqlx::query_scalar("SELECT id FROM admin_users WHERE username = $1")
                    .bind(name)
                    .fetch_optional(&mut *conn)
                    .await?;
            exists.map(|_| serde_json::json!({ "username": name }))
        }
    })
}

/// Every configuration resource's masked document (accounts aside).
async fn read_all(
    conn: &mut AnyConnection,
    sealer: &Sealer,
) -> Result<Vec<(&'static str, String, Option<Value>)>> {
    let mut all = Vec::new();
    for provider in load_providers(conn, None, sealer).await? {
        all.push((
            "provider",
            provider.spec.name.clone(),
            to_value(&provider.spec.masked()),
        ));
    }
    for route in load_routes(conn, None).await? {
        all.push(("route", route.spec.name.clone(), to_value(&route.spec)));
    }
    for consumer in load_consumers(conn, None).await? {
        all.push((
            "consumer",
            consumer.spec.name.clone(),
            to_value(&consumer.audited()),
        ));
    }
    for guardrail in load_guardrails(conn, None).await? {
        all.push((
            "guardrail",
            guardrail.spec.name.clone(),
            to_value(&guardrail.spec),
        ));
    }
    all.push((
        "settings",
        String::new(),
        to_value(&load_settings(conn).await?),
    ));
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pairing_keeps_only_real_changes_in_a_stable_order() {
        let before = vec![
            ("route", "a".to_owned(), Some(json!({"w": 1}))),
            ("route", "b".to_owned(), Some(json!({"w": 1}))),
            ("route", "c".to_owned(), Some(json!({"w": 1}))),
        ];
        let mut after = vec![
            ("route", "d".to_owned(), Some(json!({"w": 4}))),
            ("route", "a".to_owned(), Some(json!({"w": 2}))),
            ("route", "b".to_owned(), Some(json!({"w": 1}))),
        ];
        let changes = pair(before, &mut after);
        let summary: Vec<_> = changes
            .iter()
            .map(|c| (c.name.as_str(), c.before.is_some(), c.after.is_some()))
            .collect();
        assert_eq!(
            summary,
            [("a", true, true), ("c", true, false), ("d", false, true)]
        );
    }

    #[test]
    fn actors_read_as_the_trail_writes_them() {
        assert_eq!(Actor::Console("ana".into()).to_string(), "console:ana");
        assert_eq!(Actor::AdminToken.to_string(), "admin-token");
        assert_eq!(Actor::Cli("root".into()).to_string(), "cli:root");
        assert_eq!(Actor::Node("n2".into()).to_string(), "node:n2");
    }
}
