//! Usage (`/usage`): spend, tokens and requests over the last 24 hours, 7 or 30 days, grouped by
//! consumer, model, route, provider or key; the top consumers and models; a CSV download of the
//! same rows; and every budget as a progress bar.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::metering::BudgetsView;

use crate::api::ApiError;
use crate::api::metering::{self, UsageQuery};
use crate::components::icons::Icon;
use crate::components::page::{LoadError, Loading, PageHeader, RefreshButton};
use crate::time::iso_from_ms;
use crate::util::now_unix;

mod budgets;
mod data;
mod parts;

use budgets::BudgetsCard;
use data::{GROUPS, Range};
use parts::{Loaded, UsageReport};

/// The question for a range and grouping, asked now: from the start of the range's first slot.
fn query_for(range: Range, group_by: String, now: i64) -> UsageQuery {
    let since = range.slots(now).first().copied().unwrap_or(now);
    UsageQuery {
        group_by,
        bucket: range.bucket(),
        since: iso_from_ms(since as f64 * 1000.0),
        until: None,
    }
}

/// Asks for the range grouped as chosen, and by consumer and by model for the top tables,
/// reusing the first answer when it is already one of those.
async fn load(range: Range, query: UsageQuery, now: i64) -> Result<Loaded, ApiError> {
    let main = metering::usage(&query).await?.rows;
    let by = |group_by: &str| UsageQuery {
        group_by: group_by.to_owned(),
        ..query.clone()
    };
    let consumers = if query.group_by == "consumer" {
        main.clone()
    } else {
        metering::usage(&by("consumer")).await?.rows
    };
    let models = if query.group_by == "model" {
        main.clone()
    } else {
        metering::usage(&by("model")).await?.rows
    };
    Ok(Loaded {
        range,
        query,
        now,
        main,
        consumers,
        models,
    })
}

#[component]
pub fn UsagePage() -> impl IntoView {
    let range = RwSignal::new(Range::Day);
    let group_by = RwSignal::new("consumer".to_owned());
    // The question last asked, which the CSV link follows. The figures shown stay until the
    // answer replaces them; the page's `data-query` names the question they answer.
    let query = RwSignal::new(None::<UsageQuery>);
    let report = RwSignal::new(None::<Result<Loaded, ApiError>>);
    let busy = RwSignal::new(false);
    let budgets = RwSignal::new(None::<Result<BudgetsView, ApiError>>);
    // Only the newest question's answer is shown, however the answers arrive.
    let generation = StoredValue::new(0_u64);

    let refresh = move || {
        let now = now_unix();
        let (range, asked) = (
            range.get_untracked(),
            query_for(range.get_untracked(), group_by.get_untracked(), now),
        );
        generation.update_value(|g| *g += 1);
        let mine = generation.get_value();
        query.set(Some(asked.clone()));
        busy.set(true);
        spawn_local(async move {
            let answer = load(range, asked, now).await;
            if generation.try_get_value() == Some(mine) {
                report.try_set(Some(answer));
                busy.try_set(false);
            }
        });
        spawn_local(async move {
            budgets.try_set(Some(metering::budgets().await));
        });
    };
    Effect::new(move |_| {
        range.track();
        group_by.track();
        refresh();
    });

    let range_button = move |choice: Range| {
        view! {
            <button
                type="button"
                class="seg-btn"
                data-testid=format!("usage-range-{}", choice.id())
                aria-pressed=move || (range.get() == choice).to_string()
                on:click=move |_| range.set(choice)
            >
                {choice.label()}
            </button>
        }
    };
    let groups = GROUPS
        .iter()
        .map(|(value, label)| {
            view! {
                <option value=*value selected=move || group_by.get() == *value>
                    {*label}
                </option>
            }
        })
        .collect_view();

    view! {
        <PageHeader title="Usage" subtitle="Spend, tokens and requests over time, and every budget.">
            <div class="seg" role="group" aria-label="Time range">
                {Range::ALL.map(range_button)}
            </div>
            <label class="inline-select">
                <span>"Group by"</span>
                <select
                    class="input"
                    data-testid="usage-group-by"
                    on:change=move |ev| group_by.set(event_target_value(&ev))
                >
                    {groups}
                </select>
            </label>
            <RefreshButton testid="usage-refresh" on_click=move |()| refresh() />
            <a
                class="btn btn-small"
                data-testid="usage-csv"
                rel="external"
                download="switchyard-usage.csv"
                href=move || query.get().map(|q| q.csv_href())
            >
                <Icon name="download" size=14 />
                "Download CSV"
            </a>
        </PageHeader>
        <section
            class="stack usage"
            class:stale=move || busy.get()
            data-testid="usage-page"
            data-query=move || {
                report.with(|r| r.as_ref().and_then(|r| r.as_ref().ok()).map(|l| l.query.query()))
            }
            aria-busy=move || busy.get().to_string()
        >
            {move || match report.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(error)) => {
                    view! { <LoadError message=error.message on_retry=move |()| refresh() /> }.into_any()
                }
                Some(Ok(loaded)) => view! { <UsageReport loaded=loaded /> }.into_any(),
            }}
        </section>
        <BudgetsCard budgets=budgets on_retry=move |()| refresh() />
    }
}
