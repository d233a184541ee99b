//! "Last changed by console:ana at … (revision 12) — history": the line every resource's edit page
//! shows under its title, from the newest audit entry that touched the resource. It links to the
//! History page filtered to that resource.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::audit::AuditEntryView;

use crate::api::audit::{self, AuditFilter};
use crate::util::fmt_timestamp;

/// The parenthesis after the time: the revision, and for a rollback which revision it restored.
pub fn revision_note(entry: &AuditEntryView) -> String {
    match entry.rolled_back_to {
        Some(to) => format!("revision {}, a rollback to revision {to}", entry.revision),
        None => format!("revision {}", entry.revision),
    }
}

/// The line for the resource `kind`/`name`. It shows nothing while loading, for a resource
/// written before the trail began, or when the history cannot be read: the form matters more.
#[component]
pub fn LastChanged(kind: &'static str, name: String) -> impl IntoView {
    let last = RwSignal::new(None::<AuditEntryView>);
    let href = AuditFilter::resource(kind, &name).href();
    spawn_local(async move {
        if let Ok(Some(entry)) = audit::last_change(kind, &name).await {
            last.try_set(Some(entry));
        }
    });
    move || {
        last.get().map(|entry| {
            view! {
                <p
                    class="last-changed muted small"
                    data-testid="last-changed"
                    data-actor=entry.actor.clone()
                    data-revision=entry.revision
                    data-action=entry.action.clone()
                >
                    "Last changed by "
                    <strong class="mono">{entry.actor.clone()}</strong>
                    " at "
                    <time datetime=entry.at.clone()>{fmt_timestamp(&entry.at)}</time>
                    {format!(" ({}) — ", revision_note(&entry))}
                    <a href=href.clone() data-testid="last-changed-history">
                        "history"
                    </a>
                </p>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rollback_says_what_it_restored() {
        let mut entry = AuditEntryView {
            revision: 9,
            ..AuditEntryView::default()
        };
        assert_eq!(revision_note(&entry), "revision 9");
        entry.rolled_back_to = Some(7);
        assert_eq!(
            revision_note(&entry),
            "revision 9, a rollback to revision 7"
        );
    }
}
