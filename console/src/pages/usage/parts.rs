//! The Usage page's report: the stat cards for the range, the stacked charts of spend, tokens and
//! requests by group, and the tables of the top consumers and models.

use leptos::prelude::*;
use switchyard_shared::metering::UsageRow;

use super::data::{GroupTotal, Metric, Range, by_group, chart_groups, series, totals};
use crate::api::metering::UsageQuery;
use crate::components::chart::stacked::{SeriesLegend, StackedChart};
use crate::components::stat::Stat;
use crate::time::MONTHS;
use crate::util::{fmt_clock, fmt_int, fmt_rate, fmt_usd};

/// One answer of the page: the rows grouped as asked, and by consumer and by model for the tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Loaded {
    pub range: Range,
    pub query: UsageQuery,
    /// When it was asked (Unix seconds), which fixes the charts' slots.
    pub now: i64,
    pub main: Vec<UsageRow>,
    pub consumers: Vec<UsageRow>,
    pub models: Vec<UsageRow>,
}

/// How many groups the charts name; the rest are added up.
const TOP_SERIES: usize = 5;
/// How many rows the top tables show.
const TOP_ROWS: usize = 10;

fn date(unix: i64) -> js_sys::Date {
    js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(unix as f64 * 1000.0))
}

/// `Dec 6 12:00` in the browser's time zone.
fn local_slot_label(unix: i64) -> String {
    let d = date(unix);
    format!(
        "{} {} {:02}:{:02}",
        MONTHS[d.get_month() as usize % 12],
        d.get_date(),
        d.get_hours(),
        d.get_minutes()
    )
}

/// `Dec 6`: day buckets are UTC days, so they are named in UTC.
fn utc_day_label(unix: i64) -> String {
    let d = date(unix);
    format!(
        "{} {}",
        MONTHS[d.get_utc_month() as usize % 12],
        d.get_utc_date()
    )
}

fn slot_label(range: Range) -> fn(i64) -> String {
    match range {
        Range::Day => fmt_clock,
        Range::Week => local_slot_label,
        Range::Month => utc_day_label,
    }
}

fn count(value: f64) -> String {
    fmt_int(value.round().max(0.0) as u64)
}

#[component]
pub fn UsageReport(loaded: Loaded) -> impl IntoView {
    let t = totals(&loaded.main);
    let range = loaded.range.label();
    let unpriced = (t.unpriced > 0).then(|| format!("{} requests unpriced", fmt_int(t.unpriced)));
    // Spend of nothing but unpriced requests is unknown, not $0.
    let spend = if t.cost_usd == 0.0 && t.unpriced > 0 {
        "—".to_owned()
    } else {
        fmt_usd(t.cost_usd)
    };
    let spend_detail = unpriced
        .clone()
        .unwrap_or_else(|| "Every request priced".to_owned());
    let token_detail = format!(
        "{} in / {} out · {} cached",
        fmt_int(t.prompt_tokens),
        fmt_int(t.completion_tokens),
        fmt_int(t.cached_tokens)
    );
    let saved_detail = match t.cache_hits {
        0 => "No answers from the response cache".to_owned(),
        1 => "1 answer from the response cache".to_owned(),
        n => format!("{} answers from the response cache", fmt_int(n)),
    };
    let stats = view! {
        <div class="stats stats-5">
            <Stat
                label=format!("Spend ({range})")
                value=spend
                detail=spend_detail
                testid="spend-total"
                raw=t.cost_usd.to_string()
            />
            <Stat
                label=format!("Requests ({range})")
                value=fmt_int(t.requests)
                detail=format!("{} errors", fmt_int(t.errors))
                testid="usage-requests"
                raw=t.requests.to_string()
            />
            <Stat
                label="Tokens"
                value=fmt_int(t.tokens())
                detail=token_detail
                testid="usage-tokens"
                raw=t.tokens().to_string()
            />
            <Stat
                label="Error rate"
                value=fmt_rate(t.error_rate())
                detail="Answered with a status of 400 or more"
                testid="usage-error-rate"
                raw=t.error_rate().map(|r| r.to_string()).unwrap_or_default()
            />
            <Stat
                label="Cache savings"
                value=fmt_usd(t.cost_saved_usd)
                detail=saved_detail
                testid="usage-cache-saved"
                raw=t.cost_saved_usd.to_string()
            />
        </div>
        {unpriced
            .map(|text| {
                view! {
                    <div class="alert alert-info" role="status" data-testid="usage-unpriced" data-value=t.unpriced>
                        <strong>{text}</strong>
                        ": their models have no price, so the spend leaves them out. A provider's pricing setting can add prices."
                    </div>
                }
            })}
    };
    if loaded.main.is_empty() {
        return view! {
            {stats}
            <section class="card">
                <p class="empty" data-testid="usage-empty">
                    "No requests in this range."
                </p>
            </section>
        }
        .into_any();
    }
    let slots = loaded.range.slots(loaded.now);
    let named = chart_groups(&by_group(&loaded.query.group_by, &loaded.main), TOP_SERIES);
    let charts = [
        (
            Metric::Spend,
            "Spend",
            "usage-chart-spend",
            fmt_usd as fn(f64) -> String,
        ),
        (Metric::Tokens, "Tokens", "usage-chart-tokens", count),
        (Metric::Requests, "Requests", "usage-chart-requests", count),
    ]
    .into_iter()
    .map(|(metric, title, testid, fmt)| {
        let series = series(
            &loaded.query.group_by,
            &loaded.main,
            &slots,
            loaded.range.slot_secs(),
            metric,
            &named,
        );
        view! {
            <section class="card">
                <div class="card-head">
                    <h2 class="card-title">{title}</h2>
                    <SeriesLegend series=series.clone() />
                </div>
                <StackedChart
                    slots=slots.clone()
                    series=series
                    fmt=fmt
                    slot_label=slot_label(loaded.range)
                    what=title
                    testid=testid
                />
            </section>
        }
    })
    .collect_view();
    view! {
        {stats}
        {charts}
        <div class="usage-tables">
            <TopTable
                title="Top consumers"
                noun="consumer"
                groups=by_group("consumer", &loaded.consumers)
            />
            <TopTable title="Top models" noun="model" groups=by_group("model", &loaded.models) />
        </div>
    }
    .into_any()
}

/// A spend figure with the unpriced requests under it.
fn spend_cell(group: &GroupTotal) -> impl IntoView + use<> {
    let t = &group.totals;
    let unpriced = (t.unpriced > 0).then(|| format!("{} unpriced", fmt_int(t.unpriced)));
    if t.cost_usd == 0.0 && t.unpriced > 0 {
        return view! { <span class="muted">{unpriced}</span> }.into_any();
    }
    view! {
        {fmt_usd(t.cost_usd)}
        {unpriced.map(|text| view! { <div class="muted small">{text}</div> })}
    }
    .into_any()
}

#[component]
fn TopTable(title: &'static str, noun: &'static str, groups: Vec<GroupTotal>) -> impl IntoView {
    let rows = groups
        .into_iter()
        .take(TOP_ROWS)
        .map(|g| {
            let t = g.totals;
            view! {
                <tr
                    data-testid=format!("usage-top-{noun}")
                    data-group=g.name.clone()
                    data-spent=t.cost_usd.to_string()
                    data-tokens=t.tokens().to_string()
                    data-requests=t.requests.to_string()
                >
                    <th scope="row">{g.name.clone()}</th>
                    <td class="num">{fmt_int(t.requests)}</td>
                    <td class="num">{fmt_int(t.tokens())}</td>
                    <td class="num">{spend_cell(&g)}</td>
                    <td class="num">{fmt_rate(t.error_rate())}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <section class="card card-flush" data-testid=format!("usage-top-{noun}s")>
            <h2 class="card-title card-title-pad">{title}</h2>
            <div class="table-wrap">
                <table class="table table-compact">
                    <thead>
                        <tr>
                            <th scope="col">{crate::resource::capitalized(noun)}</th>
                            <th scope="col" class="num">"Requests"</th>
                            <th scope="col" class="num">"Tokens"</th>
                            <th scope="col" class="num">"Spend"</th>
                            <th scope="col" class="num">"Errors"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
