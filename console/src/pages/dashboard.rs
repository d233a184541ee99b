//! The dashboard: the last hour of traffic (requests per minute, success rate, latency, tokens,
//! per provider and per route), today's spend, and the health of every provider and key,
//! refreshed every 5 s. It warns when request records were dropped.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::metering::{self, UsageQuery};
use crate::api::types::{GroupStats, Health, Metrics, Status};
use crate::api::{self};
use crate::components::chart::{RequestsChart, minute_slots};
use crate::components::icons::Icon;
use crate::components::page::{Loading, PageHeader};
use crate::components::stat::Stat;

mod health;

use crate::time::{iso_from_ms, utc_midnight_ms};
use crate::util::{fmt_int, fmt_ms, fmt_rate, fmt_usd, now_clock, now_unix};
use health::HealthTable;

/// How often the dashboard asks again.
const REFRESH: Duration = Duration::from_secs(5);

/// Today's spend since midnight UTC: the priced requests' cost and how many had no price.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct SpendToday {
    cost_usd: f64,
    unpriced: u64,
}

async fn spend_today() -> Result<SpendToday, api::ApiError> {
    let query = UsageQuery {
        group_by: "consumer".into(),
        bucket: "day",
        since: iso_from_ms(utc_midnight_ms(js_sys::Date::now())),
        until: None,
    };
    let rows = metering::usage(&query).await?.rows;
    Ok(SpendToday {
        cost_usd: rows.iter().map(|r| r.cost_usd).sum(),
        unpriced: rows.iter().map(|r| r.unpriced_requests).sum(),
    })
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    // The last good answers stay on screen when a refresh fails; the failure shows beside them.
    let metrics = RwSignal::new(None::<Metrics>);
    let metrics_error = RwSignal::new(None::<String>);
    let health = RwSignal::new(None::<Health>);
    let health_error = RwSignal::new(None::<String>);
    let updated = RwSignal::new(None::<String>);
    let spend = RwSignal::new(None::<Result<SpendToday, String>>);
    let dropped = RwSignal::new(0_u64);

    let refresh = move || {
        spawn_local(async move {
            spend.try_set(Some(spend_today().await.map_err(|e| e.message)));
        });
        spawn_local(async move {
            if let Ok(status) = api::get::<Status>("/api/status").await {
                dropped.try_set(status.log.dropped);
            }
        });
        spawn_local(async move {
            match api::get::<Metrics>("/api/metrics?minutes=60").await {
                Ok(m) => {
                    metrics.try_set(Some(m));
                    metrics_error.try_set(None);
                    updated.try_set(Some(now_clock()));
                }
                Err(e) => {
                    metrics_error.try_set(Some(e.message));
                }
            }
        });
        spawn_local(async move {
            match api::get::<Health>("/api/health").await {
                Ok(h) => {
                    health.try_set(Some(h));
                    health_error.try_set(None);
                }
                Err(e) => {
                    health_error.try_set(Some(e.message));
                }
            }
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
        on_cleanup(move || handle.clear());
    }

    view! {
        <PageHeader title="Dashboard" subtitle="The last hour of traffic, today's spend and the health of every provider.">
            <span class="muted small" aria-live="off">
                {move || updated.get().map(|t| format!("Updated {t} · every 5 s")).unwrap_or_default()}
            </span>
            <button type="button" class="btn btn-small" on:click=move |_| refresh()>
                <Icon name="refresh" size=14 />
                "Refresh"
            </button>
        </PageHeader>
        <section data-testid="dashboard-metrics" class="stack" aria-label="Traffic">
            {move || {
                let dropped = dropped.get();
                (dropped > 0)
                    .then(|| {
                        view! {
                            <div class="alert alert-warn" role="status" data-testid="log-dropped" data-value=dropped>
                                {format!(
                                    "{} request records were dropped: the log writer could not keep up, so Logs and Usage miss them. Traffic was never slowed for it.",
                                    fmt_int(dropped),
                                )}
                            </div>
                        }
                    })
            }}
            {move || {
                metrics_error
                    .get()
                    .map(|message| {
                        view! {
                            <div class="alert alert-warn" role="status">
                                {format!("Traffic figures could not be refreshed: {message}")}
                            </div>
                        }
                    })
            }}
            {move || match metrics.get() {
                None if metrics_error.with(Option::is_none) => view! { <Loading /> }.into_any(),
                None => ().into_any(),
                Some(m) => view! { <MetricsView metrics=m spend=spend /> }.into_any(),
            }}
        </section>
        <section data-testid="dashboard-health" class="card card-flush" aria-labelledby="health-title">
            <h2 class="card-title card-title-pad" id="health-title">
                "Provider health"
            </h2>
            {move || {
                health_error
                    .get()
                    .map(|message| {
                        view! {
                            <div class="alert alert-warn pad" role="status">
                                {format!("Health could not be refreshed: {message}")}
                            </div>
                        }
                    })
            }}
            {move || match health.get() {
                None if health_error.with(Option::is_none) => view! { <Loading /> }.into_any(),
                None => ().into_any(),
                Some(h) if h.providers.is_empty() => view! {
                    <p class="empty">
                        "No providers configured yet. " <a href="/providers/new">"Create one"</a> "."
                    </p>
                }
                .into_any(),
                Some(h) => view! { <HealthTable providers=h.providers /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn MetricsView(
    metrics: Metrics,
    spend: RwSignal<Option<Result<SpendToday, String>>>,
) -> impl IntoView {
    let t = &metrics.totals;
    let minutes = metrics.window_minutes.max(1);
    let per_minute = t.requests as f64 / minutes as f64;
    let end = metrics
        .per_minute
        .iter()
        .map(|b| b.minute as i64)
        .max()
        .unwrap_or(0)
        .max(now_unix());
    let slots = minute_slots(&metrics.per_minute, end, minutes.min(180));
    let spend_value = move || match spend.get() {
        None => "…".to_owned(),
        Some(Ok(s)) if s.cost_usd == 0.0 && s.unpriced > 0 => "—".to_owned(),
        Some(Ok(s)) => fmt_usd(s.cost_usd),
        Some(Err(_)) => "—".to_owned(),
    };
    let spend_detail = move || match spend.get() {
        Some(Ok(s)) if s.unpriced > 0 => format!("{} requests unpriced", fmt_int(s.unpriced)),
        Some(Err(message)) => format!("Not available: {message}"),
        _ => "Since midnight UTC".to_owned(),
    };
    let spend_raw = move || match spend.get() {
        Some(Ok(s)) => Some(s.cost_usd.to_string()),
        _ => None,
    };
    view! {
        <div class="stats stats-5">
            <Stat
                label="Spend today"
                value=Signal::derive(spend_value)
                detail=Signal::derive(spend_detail)
                testid="spend-today"
                raw=Signal::derive(spend_raw)
            />
            <Stat
                label=format!("Requests ({minutes} min)")
                value=fmt_int(t.requests)
                detail=format!("{per_minute:.1} per minute on average")
            />
            <Stat
                label="Success rate"
                value=fmt_rate(t.success_rate)
                detail=format!("{} errors", fmt_int(t.errors))
            />
            <Stat
                label="Latency p50 / p95"
                value=format!("{} / {}", fmt_ms(t.p50_ms), fmt_ms(t.p95_ms))
                detail="Whole request, as clients see it"
            />
            <Stat
                label="Tokens in / out"
                value=format!("{} / {}", fmt_int(t.prompt_tokens), fmt_int(t.completion_tokens))
                detail="Prompt and completion tokens"
            />
        </div>
        <section class="card">
            <div class="card-head">
                <h2 class="card-title">"Requests per minute"</h2>
                <div class="legend" aria-hidden="true">
                    <span class="legend-ok">"success"</span>
                    <span class="legend-err">"error"</span>
                </div>
            </div>
            <RequestsChart slots=slots />
        </section>
        <div class="dashboard-tables">
            <GroupTable title="By provider" rows=metrics.by_provider.clone() />
            <GroupTable title="By route" rows=metrics.by_route.clone() />
        </div>
    }
}

#[component]
fn GroupTable(title: &'static str, rows: Vec<GroupStats>) -> impl IntoView {
    view! {
        <section class="card card-flush">
            <h2 class="card-title card-title-pad">{title}</h2>
            {if rows.is_empty() {
                view! { <p class="empty small">"No traffic in this window."</p> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="table table-compact">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col" class="num">"Requests"</th>
                                    <th scope="col" class="num">"Success"</th>
                                    <th scope="col" class="num">"p50"</th>
                                    <th scope="col" class="num">"p95"</th>
                                    <th scope="col" class="num">"Tokens in / out"</th>
                                </tr>
                            </thead>
                            <tbody>
                                {rows
                                    .into_iter()
                                    .map(|r| {
                                        view! {
                                            <tr>
                                                <th scope="row">{r.name}</th>
                                                <td class="num">{fmt_int(r.requests)}</td>
                                                <td class="num">{fmt_rate(r.success_rate)}</td>
                                                <td class="num">{fmt_ms(r.p50_ms)}</td>
                                                <td class="num">{fmt_ms(r.p95_ms)}</td>
                                                <td class="num">
                                                    {format!(
                                                        "{} / {}",
                                                        fmt_int(r.prompt_tokens),
                                                        fmt_int(r.completion_tokens),
                                                    )}
                                                </td>
                                            </tr>
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                    .into_any()
            }}
        </section>
    }
}
