//! `switchyard config history` and `switchyard config rollback REV`: the audit trail on the
//! command line, read and undone through the store like the admin API does.

use std::io::{BufRead, IsTerminal, Write};

use switchyard_shared::admin::{ConfigDiff, SectionDiff};
use switchyard_shared::audit::{AuditPage, RollbackPreview, Unrecoverable};

use crate::store::{AuditFilter, Origin, Store, StoreError};

/// The newest entries (of one resource, with `resource`) as a table.
pub async fn history(
    store: &Store,
    resource: Option<String>,
    limit: Option<u32>,
) -> anyhow::Result<String> {
    let filter = AuditFilter {
        resource,
        limit,
        ..AuditFilter::default()
    };
    Ok(history_table(&store.audit_page(&filter).await?))
}

fn history_table(page: &AuditPage) -> String {
    if page.entries.is_empty() {
        return "no audit entries\n".to_owned();
    }
    let rows: Vec<[String; 5]> = page
        .entries
        .iter()
        .map(|e| {
            [
                e.revision.to_string(),
                e.at.clone(),
                e.actor.clone(),
                e.action.clone(),
                e.summary.clone(),
            ]
        })
        .collect();
    let header = ["REVISION", "TIME", "ACTOR", "ACTION", "SUMMARY"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(widths)
            .enumerate()
            // The summary is last: padding it would only add trailing spaces.
            .map(|(i, (cell, width))| {
                if i == row.len() - 1 {
                    cell.clone()
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        out.push_str(&cells.join("  "));
        out.push('\n');
    }
    if let Some(cursor) = page.next_cursor {
        out.push_str(&format!(
            "(older entries exist before revision {cursor}; raise --limit to see more)\n"
        ));
    }
    out
}

/// Previews the rollback to `to`, asks for confirmation on a terminal unless `yes`, and writes
/// it as the command-line user. Returns what to print last.
pub async fn rollback(store: &Store, to: i64, yes: bool) -> anyhow::Result<String> {
    let preview = match store.rollback_preview(to).await {
        Ok(preview) => preview,
        Err(StoreError::Invalid(errors)) => {
            let lines: Vec<String> = errors
                .0
                .iter()
                .map(|e| format!("  {}: {}", e.field, e.message))
                .collect();
            anyhow::bail!(
                "cannot roll back to revision {to}; nothing was changed:\n{}",
                lines.join("\n")
            )
        }
        Err(other) => return Err(other.into()),
    };
    print!("{}", preview_text(&preview));
    if !yes {
        if !std::io::stdin().is_terminal() {
            anyhow::bail!("not rolled back: confirm with --yes when not on a terminal");
        }
        print!("Roll back to revision {to}? [y/N] ");
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            return Ok("not rolled back".to_owned());
        }
    }
    let done = store
        .rollback(&Origin::cli(), to, preview.revision_now)
        .await?;
    Ok(format!("revision {}: {}", done.revision, done.summary))
}

/// The preview as lines for a person: what each section would change, then what is lost.
pub fn preview_text(preview: &RollbackPreview) -> String {
    let mut out = format!(
        "Rolling back to revision {} (the configuration is at revision {}):\n",
        preview.to, preview.revision_now
    );
    let changes = section_lines(&preview.diff);
    if changes.is_empty() {
        out.push_str("  nothing changes\n");
    }
    for line in changes {
        out.push_str(&format!("  {line}\n"));
    }
    if !preview.unrecoverable.is_empty() {
        out.push_str("Cannot be restored (deleted since; history keeps secrets only masked):\n");
        for Unrecoverable { kind, name, what } in &preview.unrecoverable {
            out.push_str(&format!("  {kind} '{name}': {what}\n"));
        }
    }
    out
}

fn section_lines(diff: &ConfigDiff) -> Vec<String> {
    let mut lines = Vec::new();
    for (section, d) in [
        ("providers", &diff.providers),
        ("routes", &diff.routes),
        ("consumers", &diff.consumers),
        ("guardrails", &diff.guardrails),
    ] {
        let SectionDiff {
            create,
            update,
            delete,
            ..
        } = d;
        for (verb, names) in [("create", create), ("update", update), ("delete", delete)] {
            if !names.is_empty() {
                lines.push(format!("{section}: {verb} {}", names.join(", ")));
            }
        }
    }
    if diff.settings_changed {
        lines.push("settings: change".to_owned());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_shared::audit::AuditEntryView;

    #[test]
    fn the_table_aligns_columns_and_mentions_older_entries() {
        let entry = |revision: i64, actor: &str| AuditEntryView {
            revision,
            at: "2026-12-07T10:00:00.000Z".into(),
            actor: actor.into(),
            action: "replace".into(),
            summary: "route 'chat' replaced".into(),
            ..AuditEntryView::default()
        };
        let page = AuditPage {
            entries: vec![entry(12, "console:ana"), entry(9, "cli:root")],
            next_cursor: Some(9),
        };
        let table = history_table(&page);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        assert!(lines[0].starts_with("REVISION  TIME"), "{table}");
        assert_eq!(
            lines[1].find("console:ana"),
            lines[2].find("cli:root"),
            "{table}"
        );
        assert!(lines[3].contains("before revision 9"), "{table}");
    }

    #[test]
    fn the_preview_lists_changes_and_losses() {
        let preview = RollbackPreview {
            to: 3,
            revision_now: 7,
            diff: ConfigDiff {
                routes: SectionDiff {
                    update: vec!["chat".into()],
                    ..SectionDiff::default()
                },
                ..ConfigDiff::default()
            },
            unrecoverable: vec![Unrecoverable {
                kind: "consumer".into(),
                name: "ci".into(),
                what: "client key 'ci' (sy-…9xT2)".into(),
            }],
        };
        let text = preview_text(&preview);
        assert!(text.contains("routes: update chat"), "{text}");
        assert!(
            text.contains("consumer 'ci': client key 'ci' (sy-…9xT2)"),
            "{text}"
        );
    }
}
