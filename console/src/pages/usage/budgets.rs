//! The Usage page's budgets: each consumer's and key's spend cap as a progress bar with its period,
//! spent and limit, the soft limit's mark, what requests in flight hold, and when it resets.

use leptos::prelude::*;
use switchyard_shared::metering::{BudgetPeriod, BudgetStatus, BudgetsView};

use crate::api::{self, ApiError};
use crate::components::page::{LoadError, Loading};
use crate::util::{fmt_timestamp, fmt_usd};

/// A share of the limit as a CSS percentage, kept within the bar.
fn percent(value: f64, limit: f64) -> f64 {
    if limit <= 0.0 {
        return 100.0;
    }
    (value / limit * 100.0).clamp(0.0, 100.0)
}

/// `ok` below the soft limit, `warn` from it, `bad` at the limit.
fn tone(status: &BudgetStatus) -> &'static str {
    let spent = status.spent_usd;
    if spent >= status.budget.limit_usd {
        "bad"
    } else if status
        .budget
        .soft_limit_usd
        .is_some_and(|soft| spent >= soft)
    {
        "warn"
    } else {
        "ok"
    }
}

fn period_name(period: BudgetPeriod) -> &'static str {
    match period {
        BudgetPeriod::Day => "Daily",
        BudgetPeriod::Week => "Weekly",
        BudgetPeriod::Month => "Monthly",
        BudgetPeriod::Total => "Total",
    }
}

#[component]
pub fn BudgetsCard(
    budgets: RwSignal<Option<Result<BudgetsView, ApiError>>>,
    #[prop(into)] on_retry: Callback<()>,
) -> impl IntoView {
    view! {
        <section class="card" data-testid="usage-budgets" aria-labelledby="budgets-title">
            <h2 class="card-title" id="budgets-title">
                "Budgets"
            </h2>
            {move || match budgets.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(error)) => {
                    view! { <LoadError message=error.message on_retry=on_retry /> }.into_any()
                }
                Some(Ok(view)) if view.budgets.is_empty() => {
                    view! {
                        <p class="empty small">
                            "No budgets yet. Give a " <a href="/consumers">"consumer"</a>
                            " or one of its keys a spend budget to cap what it may cost."
                        </p>
                    }
                        .into_any()
                }
                Some(Ok(view)) => {
                    view! {
                        <ul class="budget-list">
                            {view
                                .budgets
                                .into_iter()
                                .map(|status| view! { <BudgetBar status=status /> })
                                .collect_view()}
                        </ul>
                    }
                        .into_any()
                }
            }}
        </section>
    }
}

#[component]
fn BudgetBar(status: BudgetStatus) -> impl IntoView {
    let budget = status.budget.clone();
    let limit = budget.limit_usd;
    let spent = status.spent_usd;
    let reserved = status.reserved_usd;
    let spent_pct = percent(spent, limit);
    let reserved_pct = percent(spent + reserved, limit) - spent_pct;
    let owner = match (&status.key_name, status.key_id) {
        (Some(name), _) => format!("key {name}"),
        (None, Some(id)) => format!("key {id}"),
        (None, None) => String::new(),
    };
    let title = if status.scope == "key" && !owner.is_empty() {
        format!("{} · {owner}", status.consumer)
    } else {
        status.consumer.clone()
    };
    let mut period = period_name(budget.period).to_owned();
    if budget.period != BudgetPeriod::Total && budget.timezone != "UTC" {
        period.push_str(&format!(" ({})", budget.timezone));
    }
    let resets = match (&status.period_end, budget.period) {
        (_, BudgetPeriod::Total) => "never resets".to_owned(),
        (Some(end), _) => format!("resets {}", fmt_timestamp(end)),
        (None, _) => String::new(),
    };
    let figures = format!(
        "{} of {} ({:.0}%)",
        fmt_usd(spent),
        fmt_usd(limit),
        if limit > 0.0 {
            spent / limit * 100.0
        } else {
            0.0
        }
    );
    let mut notes = Vec::new();
    if let Some(soft) = budget.soft_limit_usd {
        notes.push(format!("soft limit {}", fmt_usd(soft)));
    }
    if reserved > 0.0 {
        notes.push(format!("{} held by requests in flight", fmt_usd(reserved)));
    }
    let soft_mark = budget.soft_limit_usd.map(|soft| {
        view! {
            <span
                class="progress-mark"
                style=format!("left: {:.2}%", percent(soft, limit))
                title=format!("Soft limit {}", fmt_usd(soft))
            ></span>
        }
    });
    let href = format!("/consumers/{}", api::segment(&status.consumer));
    view! {
        <li
            class="budget"
            data-testid="budget-bar"
            data-scope=status.scope.clone()
            data-consumer=status.consumer.clone()
            data-key-id=status.key_id.map(|id| id.to_string())
            data-period=budget.period.as_str()
            data-spent=spent.to_string()
            data-limit=limit.to_string()
            data-reserved=reserved.to_string()
            data-soft=budget.soft_limit_usd.map(|s| s.to_string())
        >
            <div class="budget-head">
                <a class="strong-link" href=href>
                    {title.clone()}
                </a>
                <span class="muted small">
                    {period} {(!resets.is_empty()).then(|| format!(" · {resets}"))}
                </span>
                <span class="budget-figures">{figures.clone()}</span>
            </div>
            <div
                class="progress"
                role="progressbar"
                aria-label=format!("{title}: {figures}")
                aria-valuemin="0"
                aria-valuemax=limit.to_string()
                aria-valuenow=spent.min(limit).to_string()
            >
                <span
                    class=format!("progress-fill progress-{}", tone(&status))
                    style=format!("width: {spent_pct:.2}%")
                ></span>
                <span
                    class="progress-reserved"
                    style=format!("left: {spent_pct:.2}%; width: {reserved_pct:.2}%")
                ></span>
                {soft_mark}
            </div>
            {(!notes.is_empty()).then(|| view! { <p class="hint">{notes.join(" · ")}</p> })}
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_shared::metering::Budget;

    #[test]
    fn bars_stay_within_their_track_and_colour_by_limit() {
        assert_eq!(percent(5.0, 10.0), 50.0);
        assert_eq!(percent(15.0, 10.0), 100.0);
        assert_eq!(percent(1.0, 0.0), 100.0);
        let mut status = BudgetStatus {
            budget: Budget {
                limit_usd: 10.0,
                soft_limit_usd: Some(8.0),
                ..Budget::default()
            },
            spent_usd: 1.0,
            ..BudgetStatus::default()
        };
        assert_eq!(tone(&status), "ok");
        status.spent_usd = 8.0;
        assert_eq!(tone(&status), "warn");
        status.spent_usd = 10.0;
        assert_eq!(tone(&status), "bad");
    }
}
