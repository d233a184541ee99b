//! Reading the audit trail and undoing it: pages of entries, one entry with its diff, the
//! configuration as of any kept revision, and the rollback to it with its preview.
//!
//! No revision is stored whole. The configuration as of revision R is rebuilt backwards from the
//! current one by undoing every recorded change after R, newest first, so history costs the size
//! of the changes rather than of the configuration. That needs every revision after R to have its
//! entry: a revision older than the oldest kept entry (pruned, or written before the audit
//! migration) answers [`StoreError::HistoryGone`].

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, UNIX_EPOCH};

use serde_json::Value;
use sqlx::{AnyConnection, Row};
use switchyard_shared::audit::{AuditChangeView, AuditEntryView, AuditPage, json_diff};
use switchyard_shared::{ConfigDocument, Settings};

use super::consumers::{load_consumers, load_settings};
use super::guardrails::load_guardrails;
use super::{Result, Store, StoreError, load_providers, load_routes};
use crate::secrets::Sealer;

mod rollback;
#[cfg(test)]
mod tests;

/// The most entries one page holds, and how many it holds unless asked.
pub const MAX_PAGE: u32 = 500;
pub const DEFAULT_PAGE: u32 = 50;

/// Which entries `audit_page` lists. Every condition is optional; they all must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// A resource kind (`route`), or a kind and name (`route/chat`).
    pub resource: Option<String>,
    /// An exact actor (`console:ana`), or a prefix ending in `:` (`console:`).
    pub actor: Option<String>,
    /// Milliseconds since the epoch, inclusive.
    pub since_ms: Option<i64>,
    /// Milliseconds since the epoch, inclusive.
    pub until_ms: Option<i64>,
    /// 1..=`MAX_PAGE`; `None` is `DEFAULT_PAGE`. Larger values are clamped.
    pub limit: Option<u32>,
    /// The last revision of the previous page: this page holds older entries only.
    pub cursor: Option<i64>,
}

/// RFC 3339 in UTC with milliseconds.
pub fn rfc3339_millis(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(at).to_string()
}

impl Store {
    /// Entries newest first, keyset-paginated by revision so a page is stable while writes come in.
    pub async fn audit_page(&self, filter: &AuditFilter) -> Result<AuditPage> {
        let limit = filter.limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        let (kind, name) = match filter.resource.as_deref() {
            Some(resource) => match resource.split_once('/') {
                Some((kind, name)) => (Some(kind), Some(name)),
                None => (Some(resource), None),
            },
            None => (None, None),
        };
        // One read transaction, so that a prune running meanwhile cannot leave an entry of this
        // page without its changes.
        let mut conn = self.db.begin_read().await?;
        // An actor filter that ends in ':' matches every actor it prefixes. `$2 LIKE '%:'` tests
        // the last character on both engines (PostgreSQL's `substr` does not count from the end,
        // SQLite's does); the prefix itself is compared with `substr`, not `LIKE`, so that a `_`
        // or `%` in it is not a wildcard.
        let rows = sqlx::query(
            "SELECT revision, at_ms, actor, source, action, summary, rolled_back_to
             FROM audit_entries e
             WHERE ($1 IS NULL OR revision < $1)
               AND ($2 IS NULL OR actor = $2
                    OR ($2 LIKE '%:' AND substr(actor, 1, length($2)) = $2))
               AND ($3 IS NULL OR at_ms >= $3)
               AND ($4 IS NULL OR at_ms <= $4)
               AND ($5 IS NULL OR EXISTS (SELECT 1 FROM audit_changes c
                        WHERE c.revision = e.revision AND c.kind = $5
                          AND ($6 IS NULL OR c.name = $6)))
             ORDER BY revision DESC LIMIT $7",
        )
        .bind(filter.cursor)
        .bind(filter.actor.as_deref())
        .bind(filter.since_ms)
        .bind(filter.until_ms)
        .bind(kind)
        .bind(name)
        .bind(i64::from(limit) + 1)
        .fetch_all(&mut *conn)
        .await?;
        let more = rows.len() > limit as usize;
        let mut entries = Vec::with_capacity(rows.len().min(limit as usize));
        for row in rows.iter().take(limit as usize) {
            let mut entry = entry_view(row)?;
            entry.changes = changes_of(&mut conn, entry.revision, false).await?;
            entries.push(entry);
        }
        let next_cursor = if more {
            entries.last().map(|e| e.revision)
        } else {
            None
        };
        Ok(AuditPage {
            entries,
            next_cursor,
        })
    }

    /// One entry with its changes' documents and their diffs. An unknown revision is
    /// `NotFound`; one whose entry was pruned (or predates the trail) is `HistoryGone`.
    pub async fn audit_entry(&self, revision: i64) -> Result<AuditEntryView> {
        let mut tx = self.db.begin_read().await?;
        let row = sqlx::query(
            "SELECT revision, at_ms, actor, source, action, summary, rolled_back_to
             FROM audit_entries WHERE revision = $1",
        )
        .bind(revision)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            let (floor, current) = bounds(&mut tx).await?;
            return Err(
                if revision >= 1 && revision <= floor && revision <= current {
                    StoreError::HistoryGone { kept_from: floor }
                } else {
                    StoreError::NotFound(format!("no audit entry for revision {revision}"))
                },
            );
        };
        let mut entry = entry_view(&row)?;
        entry.changes = changes_of(&mut tx, revision, true).await?;
        Ok(entry)
    }

    /// The configuration as it was right after `revision`, masked the way an export is. Client
    /// keys carry their `id`, and their `key_sha256` only while that very key is still stored.
    pub async fn document_at(&self, revision: i64) -> Result<ConfigDocument> {
        let mut tx = self.db.begin_read().await?;
        document_at(&mut tx, &self.sealer, revision).await
    }
}

/// The oldest revision history can rebuild, and the current revision.
async fn bounds(conn: &mut AnyConnection) -> Result<(i64, i64)> {
    let current: i64 = sqlx::query_scalar("SELECT revision FROM meta WHERE id = 1")
        .fetch_one(&mut *conn)
        .await?;
    let oldest: Option<i64> = sqlx::query_scalar("SELECT MIN(revision) FROM audit_entries")
        .fetch_one(&mut *conn)
        .await?;
    // Undoing the oldest kept entry gives the configuration just before it.
    Ok((oldest.map_or(current, |oldest| oldest - 1), current))
}

fn entry_view(row: &sqlx::any::AnyRow) -> Result<AuditEntryView> {
    let at_ms: i64 = row.try_get("at_ms")?;
    Ok(AuditEntryView {
        revision: row.try_get("revision")?,
        at: rfc3339_millis(at_ms),
        at_ms,
        actor: row.try_get("actor")?,
        source: row.try_get("source")?,
        action: row.try_get("action")?,
        summary: row.try_get("summary")?,
        rolled_back_to: row.try_get("rolled_back_to")?,
        changes: Vec::new(),
    })
}

/// One revision's changes, in order; with `documents`, their before/after and diff.
async fn changes_of(
    conn: &mut AnyConnection,
    revision: i64,
    documents: bool,
) -> Result<Vec<AuditChangeView>> {
    let rows = sqlx::query(
        "SELECT kind, name, before, after FROM audit_changes WHERE revision = $1 ORDER BY seq",
    )
    .bind(revision)
    .fetch_all(&mut *conn)
    .await?;
    let mut changes = Vec::with_capacity(rows.len());
    for row in rows {
        let mut change = AuditChangeView {
            kind: row.try_get("kind")?,
            name: row.try_get("name")?,
            ..AuditChangeView::default()
        };
        if documents {
            change.before = parse_document(revision, &change.name, row.try_get("before")?)?;
            change.after = parse_document(revision, &change.name, row.try_get("after")?)?;
            change.diff = json_diff(change.before.as_ref(), change.after.as_ref());
        }
        changes.push(change);
    }
    Ok(changes)
}

fn parse_document(revision: i64, name: &str, text: Option<String>) -> Result<Option<Value>> {
    text.map(|text| {
        serde_json::from_str(&text).map_err(|source| StoreError::Corrupt {
            what: "audit change",
            name: format!("{name} (revision {revision})"),
            source,
        })
    })
    .transpose()
}

fn corrupt(name: &str, source: serde_json::Error) -> StoreError {
    StoreError::Corrupt {
        what: "audit document",
        name: name.to_owned(),
        source,
    }
}

/// The configuration's sections as masked JSON documents by name, the form the trail records.
#[derive(Default)]
struct Sections {
    providers: BTreeMap<String, Value>,
    routes: BTreeMap<String, Value>,
    consumers: BTreeMap<String, Value>,
    guardrails: BTreeMap<String, Value>,
    settings: Option<Value>,
}

impl Sections {
    fn section(&mut self, kind: &str) -> Option<&mut BTreeMap<String, Value>> {
        match kind {
            "provider" => Some(&mut self.providers),
            "route" => Some(&mut self.routes),
            "consumer" => Some(&mut self.consumers),
            "guardrail" => Some(&mut self.guardrails),
            _ => None,
        }
    }
}

/// `Store::document_at` inside the caller's transaction (a rollback rebuilds in its write).
pub(super) async fn document_at(
    conn: &mut AnyConnection,
    sealer: &Sealer,
    revision: i64,
) -> Result<ConfigDocument> {
    let (floor, current) = bounds(conn).await?;
    if revision > current || revision < 0 {
        return Err(StoreError::NotFound(format!(
            "no revision {revision}: the configuration is at revision {current}"
        )));
    }
    if revision < floor {
        return Err(StoreError::HistoryGone { kept_from: floor });
    }
    let mut sections = current_sections(conn, sealer).await?;
    let rows = sqlx::query(
        "SELECT kind, name, before FROM audit_changes WHERE revision > $1
         ORDER BY revision DESC, seq DESC",
    )
    .bind(revision)
    .fetch_all(&mut *conn)
    .await?;
    for row in rows {
        let kind: String = row.try_get("kind")?;
        let name: String = row.try_get("name")?;
        let before = parse_document(revision, &name, row.try_get("before")?)?;
        if kind == "settings" {
            // The settings always exist; a missing before would mean the defaults.
            sections.settings = Some(before.unwrap_or_else(|| Value::Object(Default::default())));
            continue;
        }
        // Accounts are not part of the configuration document.
        let Some(section) = sections.section(&kind) else {
            continue;
        };
        match before {
            Some(document) => section.insert(name, document),
            None => section.remove(&name),
        };
    }
    let stored = stored_keys(conn).await?;
    into_document(sections, &stored)
}

/// The current configuration in the trail's form: providers masked, consumers as audited.
async fn current_sections(conn: &mut AnyConnection, sealer: &Sealer) -> Result<Sections> {
    let json = |name: &str, value: serde_json::Result<Value>| value.map_err(|e| corrupt(name, e));
    let mut sections = Sections::default();
    for p in load_providers(conn, None, sealer).await? {
        let value = json(&p.spec.name, serde_json::to_value(p.spec.masked()))?;
        sections.providers.insert(p.spec.name, value);
    }
    for r in load_routes(conn, None).await? {
        let value = json(&r.spec.name, serde_json::to_value(&r.spec))?;
        sections.routes.insert(r.spec.name, value);
    }
    for c in load_consumers(conn, None).await? {
        let value = json(&c.spec.name, serde_json::to_value(c.audited()))?;
        sections.consumers.insert(c.spec.name, value);
    }
    for g in load_guardrails(conn, None).await? {
        let value = json(&g.spec.name, serde_json::to_value(&g.spec))?;
        sections.guardrails.insert(g.spec.name, value);
    }
    sections.settings = Some(json(
        "settings",
        serde_json::to_value(load_settings(conn).await?),
    )?);
    Ok(sections)
}

/// A stored client key as history can recognise it, and its digest.
struct StoredIdentity {
    created_at: String,
    masked: String,
    digest: String,
}

/// Every stored client key by id.
///
/// SQLite hands a deleted row's id to the next insert when it was the largest, so an id alone
/// does not identify a key across time: a key revoked since could otherwise be matched to the
/// one issued after it. History's documents also carry each key's creation time and mask, and a
/// key is the same only when all three agree.
async fn stored_keys(conn: &mut AnyConnection) -> Result<HashMap<i64, StoredIdentity>> {
    let mut keys = HashMap::new();
    for consumer in load_consumers(conn, None).await? {
        for key in consumer.keys {
            let view = key.view();
            keys.insert(
                key.id,
                StoredIdentity {
                    created_at: view.created_at.unwrap_or_default(),
                    masked: view.masked.unwrap_or_default(),
                    digest: key.digest_hex,
                },
            );
        }
    }
    Ok(keys)
}

/// Parses the rebuilt sections into a document, in an export's order (by name), with each
/// client key in an export's form plus its id.
fn into_document(
    sections: Sections,
    stored: &HashMap<i64, StoredIdentity>,
) -> Result<ConfigDocument> {
    fn parse<T: serde::de::DeserializeOwned>(name: &str, value: Value) -> Result<T> {
        serde_json::from_value(value).map_err(|e| corrupt(name, e))
    }
    let mut doc = ConfigDocument::default();
    for (name, value) in sections.providers {
        doc.providers.push(parse(&name, value)?);
    }
    for (name, value) in sections.routes {
        doc.routes.push(parse(&name, value)?);
    }
    for (name, value) in sections.consumers {
        let mut consumer: switchyard_shared::ConsumerSpec = parse(&name, value)?;
        for key in &mut consumer.keys {
            key.key_sha256 = key
                .id
                .and_then(|id| stored.get(&id))
                .filter(|s| {
                    key.created_at.as_deref() == Some(s.created_at.as_str())
                        && key.masked.as_deref() == Some(s.masked.as_str())
                })
                .map(|s| s.digest.clone());
            key.created_at = None;
            key.last_used_at = None;
        }
        doc.consumers.push(consumer);
    }
    for (name, value) in sections.guardrails {
        doc.guardrails.push(parse(&name, value)?);
    }
    let settings: Settings = match sections.settings {
        Some(value) => parse("settings", value)?,
        None => Settings::default(),
    };
    doc.settings = Some(settings);
    Ok(doc)
}
