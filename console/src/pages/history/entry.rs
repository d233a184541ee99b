//! One entry of the History timeline: revision, time, actor, action and summary on one line; it
//! expands to the entry's diff (asked for once, on the first expansion) and its two rollbacks.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::audit::AuditEntryView;

use super::diff::{ChangesDiff, resource_label};
use super::rollback::{Target, TargetKind};
use crate::api::ApiError;
use crate::api::audit;
use crate::components::icons::Icon;
use crate::components::page::{LoadError, Loading};
use crate::util::fmt_timestamp;

#[component]
pub fn TimelineEntry(
    entry: AuditEntryView,
    current: RwSignal<Option<i64>>,
    fresh: RwSignal<Option<i64>>,
    #[prop(into)] on_rollback: Callback<Target>,
) -> impl IntoView {
    let revision = entry.revision;
    let open = RwSignal::new(false);
    let detail = RwSignal::new(None::<Result<AuditEntryView, ApiError>>);
    let load = move || {
        detail.set(None);
        spawn_local(async move {
            detail.try_set(Some(audit::entry(revision).await));
        });
    };
    let toggle = move |_| {
        let opening = !open.get_untracked();
        open.set(opening);
        if opening && detail.with_untracked(|d| !matches!(d, Some(Ok(_)))) {
            load();
        }
    };
    let is_current = move || current.get() == Some(revision);
    let resources = entry
        .changes
        .iter()
        .map(|c| resource_label(&c.kind, &c.name))
        .collect::<Vec<_>>();
    let rolled_back = entry
        .rolled_back_to
        .map(|to| format!("restored revision {to}"));
    let source = entry.source.clone().unwrap_or_default();
    let detail_id = format!("history-detail-{revision}");
    view! {
        <li
            class="timeline-entry"
            class:fresh=move || fresh.get() == Some(revision)
            data-testid=format!("history-entry-{revision}")
            data-revision=revision
            data-actor=entry.actor.clone()
            data-action=entry.action.clone()
        >
            <button
                type="button"
                class="timeline-head"
                aria-expanded=move || open.get().to_string()
                aria-controls=detail_id.clone()
                data-testid=format!("history-toggle-{revision}")
                on:click=toggle
            >
                <span class="timeline-rev mono">{format!("#{revision}")}</span>
                <span class="timeline-main">
                    <span class="timeline-summary">{entry.summary.clone()}</span>
                    <span class="timeline-meta muted small">
                        <time datetime=entry.at.clone() title=entry.at.clone()>{fmt_timestamp(&entry.at)}</time>
                        " · "
                        <span class="mono" data-testid="history-actor">{entry.actor.clone()}</span>
                        {(!source.is_empty()).then(|| format!(" from {source}"))}
                        " · "
                        <span class="badge badge-neutral">{entry.action.clone()}</span>
                        {rolled_back.map(|text| view! { " " <span class="badge badge-warn">{text}</span> })}
                        {move || is_current().then(|| view! { " " <span class="badge badge-ok" data-testid="history-current">"current"</span> })}
                    </span>
                    {(!resources.is_empty()).then(|| view! {
                        <span class="chips">
                            {resources.into_iter().map(|r| view! { <span class="chip mono">{r}</span> }).collect_view()}
                        </span>
                    })}
                </span>
                <span class="timeline-chevron" class:open=move || open.get()>
                    <Icon name="chevron" size=16 />
                </span>
            </button>
            <Show when=move || open.get()>
                <div class="timeline-detail" id=detail_id.clone() data-testid=format!("history-detail-{revision}")>
                    {move || match detail.get() {
                        None => view! { <Loading /> }.into_any(),
                        Some(Err(error)) => view! { <LoadError message=error.message on_retry=move |()| load() /> }.into_any(),
                        Some(Ok(full)) => view! { <ChangesDiff changes=full.changes /> }.into_any(),
                    }}
                    <div class="timeline-actions">
                        <button
                            type="button"
                            class="btn btn-small"
                            data-testid=format!("history-undo-{revision}")
                            title="Restore the configuration as it was just before this change. This change and every later one are undone; the preview shows exactly what changes."
                            on:click=move |_| on_rollback.run(Target { revision, kind: TargetKind::BeforeChange })
                        >
                            "Roll back to before this change"
                        </button>
                        <Show when=move || !is_current()>
                            <button
                                type="button"
                                class="btn btn-small btn-ghost"
                                data-testid=format!("history-restore-{revision}")
                                title="Restore the configuration as it was right after this change. Every later change is undone."
                                on:click=move |_| on_rollback.run(Target { revision, kind: TargetKind::ThisVersion })
                            >
                                "Restore this version"
                            </button>
                        </Show>
                    </div>
                </div>
            </Show>
        </li>
    }
}
