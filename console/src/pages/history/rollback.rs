//! The rollback dialog: it asks the server for a preview (the import's diff view plus what cannot
//! be restored), and only then offers to confirm. The confirmation sends the preview's revision,
//! so a configuration that moved meanwhile is refused (409) and previewed again, never rolled
//! back blindly.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::admin::ConfigDiff;
use switchyard_shared::audit::{RollbackDone, RollbackPreview};

use crate::api::ApiError;
use crate::api::audit;
use crate::components::modal::{ErrorDetails, Modal};
use crate::components::page::Loading;
use crate::components::toast::{saved_text, use_toasts};
use crate::pages::config::DiffView;

/// Which of an entry's two rollbacks was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetKind {
    /// Undo the entry's change (and every later one): back to the revision before it.
    BeforeChange,
    /// Back to the configuration right after the entry's change.
    ThisVersion,
}

/// A rollback asked for from the entry of `revision`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Target {
    pub revision: i64,
    pub kind: TargetKind,
}

impl Target {
    /// The revision whose configuration the rollback restores.
    pub fn to(&self) -> i64 {
        match self.kind {
            TargetKind::BeforeChange => self.revision - 1,
            TargetKind::ThisVersion => self.revision,
        }
    }

    fn title(&self) -> String {
        match self.kind {
            TargetKind::BeforeChange => format!("Roll back to before revision {}?", self.revision),
            TargetKind::ThisVersion => format!("Restore revision {}?", self.revision),
        }
    }

    fn explanation(&self) -> String {
        let to = self.to();
        match self.kind {
            TargetKind::BeforeChange => format!(
                "The configuration becomes what it was at revision {to}, just before change \
                 #{}. That change and every change after it are undone.",
                self.revision
            ),
            TargetKind::ThisVersion => format!(
                "The configuration becomes what it was right after change #{to}. Every change \
                 after it is undone."
            ),
        }
    }
}

/// Whether a preview's diff changes nothing at all.
pub fn changes_nothing(diff: &ConfigDiff) -> bool {
    !diff.settings_changed
        && [
            &diff.providers,
            &diff.routes,
            &diff.consumers,
            &diff.guardrails,
        ]
        .iter()
        .all(|s| s.create.is_empty() && s.update.is_empty() && s.delete.is_empty())
}

#[component]
pub fn RollbackDialog(
    target: Target,
    #[prop(into)] on_close: Callback<()>,
    #[prop(into)] on_done: Callback<RollbackDone>,
) -> impl IntoView {
    let toasts = use_toasts();
    let to = target.to();
    let preview = RwSignal::new(None::<Result<RollbackPreview, ApiError>>);
    let error = RwSignal::new(None::<ApiError>);
    let busy = RwSignal::new(false);
    let load = move || {
        preview.set(None);
        spawn_local(async move {
            preview.try_set(Some(audit::rollback_preview(to).await));
        });
    };
    load();
    let ready = move || {
        preview.with(|p| match p {
            Some(Ok(p)) => !changes_nothing(&p.diff) || !p.unrecoverable.is_empty(),
            _ => false,
        })
    };
    let confirm = move |_| {
        let Some(Ok(seen)) = preview.get_untracked() else {
            return;
        };
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            match audit::rollback(to, seen.revision_now).await {
                Ok((done, reply)) => {
                    toasts.success(format!(
                        "Rolled back to revision {to} (now revision {}). {}",
                        done.revision,
                        saved_text(reply.snapshot_version())
                    ));
                    on_done.run(done);
                }
                Err(e) if e.status == 409 => {
                    error.set(Some(ApiError {
                        message: format!(
                            "The configuration changed since this preview ({}). Here is the \
                             preview again; check it and confirm once more.",
                            e.message
                        ),
                        ..e
                    }));
                    load();
                }
                Err(e) => error.set(Some(e)),
            }
            busy.try_set(false);
        });
    };
    view! {
        <Modal title=target.title() on_close=on_close wide=true>
            <div data-testid="rollback-dialog" data-to=to>
                <p>{target.explanation()}</p>
                {move || match preview.get() {
                    None => view! { <Loading text="Previewing the rollback…" /> }.into_any(),
                    Some(Err(e)) => view! { <Refusal error=e /> }.into_any(),
                    Some(Ok(p)) => view! { <PreviewView preview=p /> }.into_any(),
                }}
                {move || error.get().map(|e| view! { <Refusal error=e /> })}
                <div class="modal-actions">
                    <button type="button" class="btn" on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                    <button
                        type="button"
                        class="btn btn-danger"
                        data-testid="rollback-confirm"
                        disabled=move || busy.get() || !ready()
                        on:click=confirm
                    >
                        {move || if busy.get() { "Rolling back…".to_owned() } else { format!("Roll back to revision {to}") }}
                    </button>
                </div>
            </div>
        </Modal>
    }
}

/// Why the server refused a preview or a rollback, with the fields it named: a 422 lists what
/// the restored configuration would break, such as a provider left with no key.
#[component]
fn Refusal(error: ApiError) -> impl IntoView {
    let fields = error.fields.clone();
    view! {
        <ErrorDetails error=error />
        {(!fields.is_empty()).then(|| view! {
            <ul class="field-list" data-testid="rollback-refusal">
                {fields.into_iter().map(|f| view! { <li><code>{f.field}</code>" "{f.message}</li> }).collect_view()}
            </ul>
        })}
    }
}

/// The preview: what would change, per section, and what cannot be brought back.
#[component]
fn PreviewView(preview: RollbackPreview) -> impl IntoView {
    let lost = preview.unrecoverable;
    view! {
        <div class="diff" data-testid="rollback-preview" data-revision-now=preview.revision_now>
            <DiffView diff=preview.diff />
        </div>
        {(!lost.is_empty()).then(|| view! {
            <div class="alert alert-warn" role="status" data-testid="rollback-unrecoverable">
                <strong>"These cannot be restored, and will stay gone:"</strong>
                <ul>
                    {lost.into_iter().map(|u| view! {
                        <li>{format!("{} {}: {}", u.kind, u.name, u.what)}</li>
                    }).collect_view()}
                </ul>
                <p class="hint">
                    "Deleted provider keys are kept in the history only as masks, and deleted or revoked client keys are never brought back."
                </p>
            </div>
        })}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undoing_a_change_goes_to_the_revision_before_it() {
        let undo = Target {
            revision: 12,
            kind: TargetKind::BeforeChange,
        };
        assert_eq!(undo.to(), 11);
        assert!(undo.explanation().contains("revision 11"));
        let restore = Target {
            revision: 12,
            kind: TargetKind::ThisVersion,
        };
        assert_eq!(restore.to(), 12);
    }

    #[test]
    fn an_empty_diff_changes_nothing() {
        let mut diff = ConfigDiff::default();
        assert!(changes_nothing(&diff));
        diff.routes.update.push("chat".into());
        assert!(!changes_nothing(&diff));
    }
}
