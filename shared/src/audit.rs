//! The audit trail's API bodies (history, one entry's diff, rollback) and the structured JSON diff the server and the console both compute.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One revision of the configuration: who made it, when, from where, and what it changed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntryView {
    /// The configuration revision this write produced; the key of the trail.
    pub revision: i64,
    /// When the write committed, RFC 3339 in UTC with milliseconds.
    pub at: String,
    /// The same instant in milliseconds since the Unix epoch, for sorting and filtering.
    pub at_ms: i64,
    /// `console:<user>`, `admin-token`, `cli:<os user>`, `node:<name>` or `system`.
    pub actor: String,
    /// The admin socket's peer address, `local` for the CLI, absent when unknown.
    pub source: Option<String>,
    /// `create`, `replace`, `delete`, `apply`, `rollback`, `key_create`, `settings`, ...
    pub action: String,
    /// One line for a person: "route 'chat' replaced".
    pub summary: String,
    /// For a rollback: the revision it went back to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<i64>,
    /// The resources the write touched. A list of entries leaves out their documents and diffs;
    /// one entry's detail carries both.
    pub changes: Vec<AuditChangeView>,
}

/// One resource a revision touched, with its masked documents before and after.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditChangeView {
    /// `provider`, `route`, `consumer`, `guardrail`, `settings` or `account`.
    pub kind: String,
    /// The resource's name; empty for the settings.
    pub name: String,
    /// The masked document before the write; absent when the resource did not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<Value>,
    /// The masked document after the write; absent when the write deleted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<Value>,
    /// [`json_diff`] of `before` and `after`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff: Vec<DiffLine>,
}

/// `GET /api/audit`: entries newest first, and the cursor for the next (older) page.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `cursor` to get the entries older than this page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// One difference between two JSON documents.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiffLine {
    /// A JSON pointer to the value; `""` is the whole document. Items of arrays of named objects
    /// (upstreams, keys) are addressed by their `name` or `provider`, not by their index, so a
    /// line reads `/keys/laptop/disabled` rather than `/keys/3/disabled`.
    pub path: String,
    pub op: DiffOp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub after: Option<Value>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DiffOp {
    Added,
    Removed,
    #[default]
    Changed,
}

/// `POST /api/config/rollback`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackRequest {
    /// The revision whose configuration to restore.
    pub to: i64,
    /// Only answer the preview; write nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// The revision the preview was made at; a write needs it and answers 409 when the
    /// configuration changed since, so two operators cannot undo each other's edits blindly.
    #[serde(default)]
    pub expected_revision: Option<i64>,
}

/// What a rollback would change, and what it cannot bring back.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackPreview {
    pub to: i64,
    /// The current revision; send it back as `expected_revision` to confirm.
    pub revision_now: i64,
    pub diff: crate::admin::ConfigDiff,
    pub unrecoverable: Vec<Unrecoverable>,
}

/// Something the configuration at the target revision had that a rollback cannot restore: a
/// provider key deleted since (history keeps only its mask), or a client key deleted or revoked
/// since (a revoked key must stay revoked).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Unrecoverable {
    /// `provider` or `consumer`.
    pub kind: String,
    /// The provider's or consumer's name.
    pub name: String,
    /// What is lost, by its mask: `key sk-…k3Qz`, `client key 'ci' (sy-…9xT2)`.
    pub what: String,
}

/// The answer of a rollback that was written.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RollbackDone {
    /// The new revision the rollback made.
    pub revision: i64,
    pub rolled_back_to: i64,
    pub summary: String,
    pub unrecoverable: Vec<Unrecoverable>,
}

/// The differences between two JSON documents, in document order.
///
/// Objects are compared key by key. Arrays whose items are all objects with a distinct string
/// `name` (or, failing that, all with a distinct string `provider`) are matched by that field, so
/// inserting an upstream shows one added line rather than every later upstream changed; other
/// arrays are compared by index. A document that appears or disappears as a whole is one line
/// with the path `""`.
pub fn json_diff(before: Option<&Value>, after: Option<&Value>) -> Vec<DiffLine> {
    let mut lines = Vec::new();
    match (before, after) {
        (None, None) => {}
        (None, Some(after)) => lines.push(added(String::new(), after)),
        (Some(before), None) => lines.push(removed(String::new(), before)),
        (Some(before), Some(after)) => diff_values(String::new(), before, after, &mut lines),
    }
    lines
}

fn added(path: String, value: &Value) -> DiffLine {
    DiffLine {
        path,
        op: DiffOp::Added,
        before: None,
        after: Some(value.clone()),
    }
}

fn removed(path: String, value: &Value) -> DiffLine {
    DiffLine {
        path,
        op: DiffOp::Removed,
        before: Some(value.clone()),
        after: None,
    }
}

fn diff_values(path: String, before: &Value, after: &Value, lines: &mut Vec<DiffLine>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, bv) in b {
                let child = child_path(&path, key);
                match a.get(key) {
                    Some(av) => diff_values(child, bv, av, lines),
                    None => lines.push(removed(child, bv)),
                }
            }
            for (key, av) in a {
                if !b.contains_key(key) {
                    lines.push(added(child_path(&path, key), av));
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => match identity_field(b, a) {
            Some(field) => diff_named(&path, field, b, a, lines),
            None => diff_indexed(&path, b, a, lines),
        },
        _ => lines.push(DiffLine {
            path,
            op: DiffOp::Changed,
            before: Some(before.clone()),
            after: Some(after.clone()),
        }),
    }
}

/// The field that names every item of both arrays uniquely, if there is one.
fn identity_field(before: &[Value], after: &[Value]) -> Option<&'static str> {
    ["name", "provider"]
        .into_iter()
        .find(|field| names(before, field).is_some() && names(after, field).is_some())
}

/// Every item's `field` when all items are objects with a distinct string there. An empty array
/// qualifies, so a list that grows from nothing still reads by name.
fn names<'a>(items: &'a [Value], field: &str) -> Option<Vec<&'a str>> {
    let mut seen: Vec<&str> = Vec::with_capacity(items.len());
    for item in items {
        let name = item.get(field)?.as_str()?;
        if seen.contains(&name) {
            return None;
        }
        seen.push(name);
    }
    Some(seen)
}

fn item_name<'a>(item: &'a Value, field: &str) -> &'a str {
    item.get(field).and_then(Value::as_str).unwrap_or_default()
}

fn diff_named(
    path: &str,
    field: &str,
    before: &[Value],
    after: &[Value],
    lines: &mut Vec<DiffLine>,
) {
    for bv in before {
        let name = item_name(bv, field);
        let child = child_path(path, name);
        match after.iter().find(|av| item_name(av, field) == name) {
            Some(av) => diff_values(child, bv, av, lines),
            None => lines.push(removed(child, bv)),
        }
    }
    for av in after {
        let name = item_name(av, field);
        if !before.iter().any(|bv| item_name(bv, field) == name) {
            lines.push(added(child_path(path, name), av));
        }
    }
}

fn diff_indexed(path: &str, before: &[Value], after: &[Value], lines: &mut Vec<DiffLine>) {
    for (i, bv) in before.iter().enumerate() {
        let child = child_path(path, &i.to_string());
        match after.get(i) {
            Some(av) => diff_values(child, bv, av, lines),
            None => lines.push(removed(child, bv)),
        }
    }
    for (i, av) in after.iter().enumerate().skip(before.len()) {
        lines.push(added(child_path(path, &i.to_string()), av));
    }
}

/// `path` extended by one reference token, escaped as RFC 6901 asks (`~` → `~0`, `/` → `~1`).
fn child_path(path: &str, token: &str) -> String {
    let escaped = token.replace('~', "~0").replace('/', "~1");
    format!("{path}/{escaped}")
}

#[cfg(test)]
mod tests;
