//! Logs (`/logs`): every proxied request's record, newest first, filtered by consumer, key, route,
//! provider, model, status and time, paged with the API's cursor; a row opens a drawer with the
//! whole record. The filters and the open record live in the URL
//! (`/logs?status=5xx&request_id=…`), so a link to one request or one view can be shared.

use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::{use_navigate, use_query_map};
use leptos_router::params::ParamsMap;
use switchyard_shared::metering::{LogsPage, RequestLog};

use crate::api::ApiError;
use crate::api::metering::{self, LogFilter, query_string};
use crate::components::page::{LoadError, Loading, PageHeader, RefreshButton};

mod drawer;
mod filters;
mod guardrail_hits;
mod table;

use drawer::{Detail, LogDrawer};
use filters::Filters;
use table::LogTable;

/// Records per page.
const PAGE_SIZE: u32 = 50;

/// The filters a URL's query names.
fn filter_from(query: &ParamsMap) -> LogFilter {
    let get = |name: &str| query.get(name).unwrap_or_default();
    LogFilter {
        consumer: get("consumer"),
        key: get("key"),
        route: get("route"),
        provider: get("provider"),
        model: get("model"),
        status: get("status"),
        since: get("since"),
        until: get("until"),
    }
}

/// The page's URL for filters and, optionally, an open record.
pub fn logs_href(filter: &LogFilter, request_id: Option<&str>) -> String {
    let query = query_string(&[
        ("consumer", &filter.consumer),
        ("key", &filter.key),
        ("route", &filter.route),
        ("provider", &filter.provider),
        ("model", &filter.model),
        ("status", &filter.status),
        ("since", &filter.since),
        ("until", &filter.until),
        ("request_id", request_id.unwrap_or("")),
    ]);
    if query.is_empty() {
        "/logs".to_owned()
    } else {
        format!("/logs?{query}")
    }
}

#[component]
pub fn LogsPage() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let filter = Memo::new(move |_| query.with(filter_from));
    let request_id = Memo::new(move |_| query.with(|q| q.get("request_id")));
    let page = RwSignal::new(None::<Result<LogsPage, ApiError>>);
    // The cursors of the pages after the first that led to this one; empty on the newest page.
    let cursors = RwSignal::new(Vec::<String>::new());
    let busy = RwSignal::new(false);
    let generation = StoredValue::new(0_u64);
    let detail = RwSignal::new(Detail::Closed);

    let fetch = move |cursor: Option<String>| {
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        busy.set(true);
        let filter = filter.get_untracked();
        spawn_local(async move {
            let answer = metering::logs(&filter, PAGE_SIZE, cursor.as_deref()).await;
            if generation.try_get_value() == Some(mine) {
                page.try_set(Some(answer));
                busy.try_set(false);
            }
        });
    };
    // New filters start again from the newest record.
    Effect::new(move |_| {
        filter.track();
        cursors.set(Vec::new());
        fetch(None);
    });

    // The open record follows the URL: taken from the page when it is there, else asked for.
    Effect::new(move |_| {
        let Some(id) = request_id.get() else {
            detail.set(Detail::Closed);
            return;
        };
        let listed = page.with_untracked(|p| {
            p.as_ref()
                .and_then(|p| p.as_ref().ok())
                .and_then(|p| p.items.iter().find(|r| r.request_id == id).cloned())
        });
        if let Some(record) = listed {
            detail.set(Detail::Open(Box::new(record)));
            return;
        }
        detail.set(Detail::Loading(id.clone()));
        spawn_local(async move {
            let answer = metering::log(&id).await;
            // A record closed or replaced meanwhile stays so.
            if request_id.try_get_untracked().flatten().as_deref() == Some(id.as_str()) {
                detail.try_set(match answer {
                    Ok(record) => Detail::Open(Box::new(record)),
                    Err(error) => Detail::Failed(id, error),
                });
            }
        });
    });

    let go = {
        let navigate = navigate.clone();
        move |href: String| {
            navigate(
                &href,
                NavigateOptions {
                    replace: true,
                    scroll: false,
                    ..NavigateOptions::default()
                },
            )
        }
    };
    let open = {
        let go = go.clone();
        move |record: RequestLog| {
            go(logs_href(&filter.get_untracked(), Some(&record.request_id)));
        }
    };
    let close = {
        let go = go.clone();
        move |()| go(logs_href(&filter.get_untracked(), None))
    };
    let apply =
        move |filter: LogFilter| navigate(&logs_href(&filter, None), NavigateOptions::default());

    let older = move |_| {
        let next = page.with_untracked(|p| {
            p.as_ref()
                .and_then(|p| p.as_ref().ok())
                .and_then(|p| p.next_cursor.clone())
        });
        if let Some(next) = next {
            cursors.update(|c| c.push(next.clone()));
            fetch(Some(next));
        }
    };
    let newer = move |_| {
        cursors.update(|c| {
            c.pop();
        });
        fetch(cursors.with_untracked(|c| c.last().cloned()));
    };
    let newest = move || {
        cursors.set(Vec::new());
        fetch(None);
    };
    let has_older = move || {
        page.with(|p| {
            p.as_ref()
                .and_then(|p| p.as_ref().ok())
                .is_some_and(|p| p.next_cursor.is_some())
        })
    };
    let on_first = move || cursors.with(Vec::is_empty);

    view! {
        <PageHeader title="Logs" subtitle="One record for every request the proxy answered, newest first.">
            <RefreshButton testid="logs-refresh" on_click=move |()| newest() />
        </PageHeader>
        <Filters filter=filter on_apply=apply />
        <section
            class="card card-flush"
            class:stale=move || busy.get()
            data-testid="logs"
            aria-busy=move || busy.get().to_string()
        >
            {move || match page.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(error)) => {
                    view! {
                        <div class="pad">
                            <LoadError message=error.message on_retry=move |()| newest() />
                        </div>
                    }
                        .into_any()
                }
                Some(Ok(list)) if list.items.is_empty() => {
                    let text = if on_first() {
                        "No requests match these filters yet."
                    } else {
                        "No older requests."
                    };
                    view! { <p class="empty" data-testid="logs-empty">{text}</p> }.into_any()
                }
                Some(Ok(list)) => {
                    view! {
                        <LogTable
                            items=list.items
                            selected=request_id
                            on_open=open.clone()
                        />
                    }
                        .into_any()
                }
            }}
            <div class="pager">
                <span class="muted small" data-testid="logs-page">
                    {move || format!("Page {}", cursors.with(Vec::len) + 1)}
                </span>
                <button
                    type="button"
                    class="btn btn-small"
                    data-testid="logs-first"
                    disabled=move || on_first() || busy.get()
                    on:click=move |_| newest()
                >
                    "Newest"
                </button>
                <button
                    type="button"
                    class="btn btn-small"
                    data-testid="logs-newer"
                    disabled=move || on_first() || busy.get()
                    on:click=newer
                >
                    "‹ Newer"
                </button>
                <button
                    type="button"
                    class="btn btn-small"
                    data-testid="logs-older"
                    disabled=move || !has_older() || busy.get()
                    on:click=older
                >
                    "Older ›"
                </button>
            </div>
        </section>
        <LogDrawer detail=detail on_close=close />
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_the_filters_and_the_open_record() {
        assert_eq!(logs_href(&LogFilter::default(), None), "/logs");
        let filter = LogFilter {
            consumer: "team a".into(),
            status: "5xx".into(),
            ..LogFilter::default()
        };
        assert_eq!(
            logs_href(&filter, Some("req-1")),
            "/logs?consumer=team%20a&status=5xx&request_id=req-1"
        );
    }
}
