//! History (`/history`): the audit trail of every configuration change, newest first, filtered by
//! resource and actor, with "Load more" through the API's cursor. An entry expands to its diff and
//! offers the rollbacks (see `rollback`). The filters live in the URL
//! (`/history?resource=route/chat`), so the edit pages' "history" link opens one resource's trail.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use switchyard_shared::audit::{AuditEntryView, RollbackDone};

use crate::api::audit::{self, AuditFilter};
use crate::api::types::Status;
use crate::api::{self, ApiError};
use crate::components::page::{LoadError, Loading, PageHeader, RefreshButton};

mod diff;
mod entry;
mod filters;
pub mod last_changed;
mod rollback;

use entry::TimelineEntry;
use filters::Filters;
use rollback::{RollbackDialog, Target};

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let filter = Memo::new(move |_| {
        query.with(|q| {
            let get = |name: &str| q.get(name).unwrap_or_default();
            AuditFilter::from_params(&get("resource"), &get("actor"), &get("since"))
        })
    });
    let entries = RwSignal::new(Vec::<AuditEntryView>::new());
    let next_cursor = RwSignal::new(None::<i64>);
    let error = RwSignal::new(None::<ApiError>);
    let loaded = RwSignal::new(false);
    let busy = RwSignal::new(false);
    // The revision the gateway runs now: its entry is marked, and restoring it would change nothing.
    let current = RwSignal::new(None::<i64>);
    // The revision a rollback from this page just made, highlighted at the top.
    let fresh = RwSignal::new(None::<i64>);
    let target = RwSignal::new(None::<Target>);
    // Answers to an older question (filters changed while it was asked) are dropped.
    let generation = StoredValue::new(0_u64);

    let load = move |cursor: Option<i64>| {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        busy.set(true);
        let filter = filter.get_untracked();
        spawn_local(async move {
            let answer = audit::page(&filter, cursor).await;
            if generation.try_get_value() != Some(mine) {
                return;
            }
            match answer {
                Ok(page) => {
                    if cursor.is_some() {
                        entries.update(|list| list.extend(page.entries));
                    } else {
                        entries.set(page.entries);
                    }
                    next_cursor.set(page.next_cursor);
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
            loaded.set(true);
            busy.set(false);
        });
    };
    let load_current = move || {
        spawn_local(async move {
            if let Ok(status) = api::get::<Status>("/api/status").await {
                current.try_set(Some(status.config_revision));
            }
        });
    };
    let newest = move || {
        load(None);
        load_current();
    };
    // New filters start again from the newest entry.
    Effect::new(move |_| {
        filter.track();
        fresh.set(None);
        newest();
    });

    let more = move |_| {
        if let Some(cursor) = next_cursor.get_untracked() {
            load(Some(cursor));
        }
    };
    let apply = move |filter: AuditFilter| navigate(&filter.href(), NavigateOptions::default());
    let on_done = move |done: RollbackDone| {
        target.set(None);
        fresh.set(Some(done.revision));
        newest();
    };

    view! {
        <PageHeader
            title="History"
            subtitle="Every change to the configuration: who made it, when, and what it changed. Any earlier version can be restored."
        >
            <RefreshButton testid="history-refresh" on_click=move |()| newest() />
        </PageHeader>
        <Filters filter=filter on_apply=apply />
        <section
            class="card card-flush"
            class:stale=move || busy.get()
            data-testid="history"
            aria-busy=move || busy.get().to_string()
        >
            {move || {
                if let Some(e) = error.get() {
                    return view! {
                        <div class="pad">
                            <LoadError message=e.message on_retry=move |()| newest() />
                        </div>
                    }
                        .into_any();
                }
                if !loaded.get() {
                    return view! { <Loading /> }.into_any();
                }
                if entries.with(Vec::is_empty) {
                    return view! {
                        <p class="empty" data-testid="history-empty">
                            "No changes match these filters."
                        </p>
                    }
                        .into_any();
                }
                view! {
                    <ol class="timeline">
                        <For
                            each=move || entries.get()
                            key=|entry| entry.revision
                            children=move |entry| {
                                view! {
                                    <TimelineEntry
                                        entry=entry
                                        current=current
                                        fresh=fresh
                                        on_rollback=move |t| target.set(Some(t))
                                    />
                                }
                            }
                        />
                    </ol>
                }
                    .into_any()
            }}
            <div class="pager">
                <span class="muted small" data-testid="history-count">
                    {move || format!("{} changes shown", entries.with(Vec::len))}
                </span>
                <button
                    type="button"
                    class="btn btn-small"
                    data-testid="history-more"
                    disabled=move || next_cursor.get().is_none() || busy.get()
                    on:click=more
                >
                    "Load more"
                </button>
            </div>
        </section>
        {move || {
            target
                .get()
                .map(|t| {
                    view! {
                        <RollbackDialog target=t on_close=move |()| target.set(None) on_done=on_done />
                    }
                })
        }}
    }
}
