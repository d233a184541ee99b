//! Spend budgets as form inputs and as one line of text, like the limits next to them: a checkbox
//! that turns the budget on, the limit in dollars, the period, the time zone its calendar follows
//! and an optional soft limit. The same fields serve a consumer and a key.

use leptos::prelude::*;
use switchyard_shared::metering::{Budget, BudgetPeriod};

use crate::components::field::{Checkbox, SelectField, TextField};
use crate::form::Parse;
use crate::util::fmt_usd;

/// The period choices: `(value, label)`.
const PERIODS: [(BudgetPeriod, &str); 4] = [
    (BudgetPeriod::Day, "Per day"),
    (BudgetPeriod::Week, "Per week (from Monday)"),
    (BudgetPeriod::Month, "Per month"),
    (BudgetPeriod::Total, "In total (never resets)"),
];

fn parse_period(value: &str) -> BudgetPeriod {
    PERIODS
        .iter()
        .map(|(period, _)| *period)
        .find(|period| period.as_str() == value)
        .unwrap_or_default()
}

/// A period as the end of a sentence: `a month`, `in total`.
pub fn period_phrase(period: BudgetPeriod) -> &'static str {
    match period {
        BudgetPeriod::Day => "a day",
        BudgetPeriod::Week => "a week",
        BudgetPeriod::Month => "a month",
        BudgetPeriod::Total => "in total",
    }
}

/// The budget inputs, as typed.
#[derive(Clone, Copy)]
pub struct BudgetInputs {
    enabled: RwSignal<bool>,
    limit: RwSignal<String>,
    period: RwSignal<String>,
    timezone: RwSignal<String>,
    soft: RwSignal<String>,
}

impl BudgetInputs {
    pub fn new(budget: Option<&Budget>) -> Self {
        let amount = |v: f64| v.to_string();
        BudgetInputs {
            enabled: RwSignal::new(budget.is_some()),
            limit: RwSignal::new(budget.map(|b| amount(b.limit_usd)).unwrap_or_default()),
            period: RwSignal::new(
                budget
                    .map_or(BudgetPeriod::Month, |b| b.period)
                    .as_str()
                    .to_owned(),
            ),
            timezone: RwSignal::new(
                budget.map_or_else(|| "UTC".to_owned(), |b| b.timezone.clone()),
            ),
            soft: RwSignal::new(
                budget
                    .and_then(|b| b.soft_limit_usd)
                    .map(amount)
                    .unwrap_or_default(),
            ),
        }
    }

    /// The budget typed, `None` when it is switched off; unreadable or impossible amounts are
    /// reported as `<prefix>.limit_usd` and `<prefix>.soft_limit_usd`.
    pub fn build(&self, parse: &mut Parse, prefix: &str) -> Option<Budget> {
        if !self.enabled.get_untracked() {
            return None;
        }
        let limit_field = format!("{prefix}.limit_usd");
        let soft_field = format!("{prefix}.soft_limit_usd");
        let limit = parse.opt_f64(&limit_field, &self.limit.get_untracked());
        let soft = parse.opt_f64(&soft_field, &self.soft.get_untracked());
        match limit {
            None if !parse.errors.iter().any(|e| e.field == limit_field) => {
                parse.add(&limit_field, "enter the most to spend, in US dollars");
            }
            Some(limit) if limit <= 0.0 => parse.add(&limit_field, "must be more than $0"),
            Some(limit) if limit > Budget::MAX_USD => {
                parse.add(&limit_field, "must be at most $1,000,000,000")
            }
            _ => {}
        }
        match (soft, limit) {
            (Some(soft), _) if soft <= 0.0 => parse.add(&soft_field, "must be more than $0"),
            (Some(soft), Some(limit)) if soft >= limit => {
                parse.add(&soft_field, "must be below the limit")
            }
            _ => {}
        }
        let timezone = self.timezone.get_untracked().trim().to_owned();
        Some(Budget {
            limit_usd: limit.unwrap_or_default(),
            period: parse_period(&self.period.get_untracked()),
            timezone: if timezone.is_empty() {
                "UTC".to_owned()
            } else {
                timezone
            },
            soft_limit_usd: soft,
        })
    }
}

/// The budget as one line, such as `$50.00 a month (soft $40.00) · Europe/Berlin`.
pub fn budget_summary(budget: &Budget) -> String {
    let mut text = format!(
        "{} {}",
        fmt_usd(budget.limit_usd),
        period_phrase(budget.period)
    );
    if let Some(soft) = budget.soft_limit_usd {
        text.push_str(&format!(" (soft {})", fmt_usd(soft)));
    }
    if budget.period != BudgetPeriod::Total && budget.timezone != "UTC" {
        text.push_str(&format!(" · {}", budget.timezone));
    }
    text
}

/// The checkbox and, while it is ticked, the budget's fields. Errors show under each by the path
/// `<prefix>.<field>`; element and test ids are `<id_prefix>-enabled`, `-limit`, `-period`,
/// `-timezone` and `-soft`.
#[component]
pub fn BudgetFields(
    inputs: BudgetInputs,
    /// The field path of the budget, such as `budget`.
    prefix: &'static str,
    /// The start of every element id and test id, such as `consumer-budget`.
    id_prefix: &'static str,
    /// What the budget covers, for the checkbox's hint.
    #[prop(into)]
    scope: String,
) -> impl IntoView {
    let id = move |field: &str| format!("{id_prefix}-{field}");
    let periods: Vec<(String, String)> = PERIODS
        .iter()
        .map(|(p, label)| (p.as_str().to_owned(), (*label).to_owned()))
        .collect();
    view! {
        <Checkbox
            label="Spend budget"
            id=id("enabled")
            checked=inputs.enabled
            testid=id("enabled")
            hint=scope
        />
        <Show when=move || inputs.enabled.get()>
            <div class="grid-limits">
                <TextField
                    label="Limit (USD)"
                    id=id("limit")
                    value=inputs.limit
                    testid=id("limit")
                    path=format!("{prefix}.limit_usd")
                    placeholder="e.g. 50"
                    required=true
                />
                <SelectField
                    label="Period"
                    id=id("period")
                    value=inputs.period
                    options=periods.clone()
                    testid=id("period")
                    path=format!("{prefix}.period")
                />
                <TextField
                    label="Time zone"
                    id=id("timezone")
                    value=inputs.timezone
                    testid=id("timezone")
                    path=format!("{prefix}.timezone")
                    placeholder="UTC"
                />
                <TextField
                    label="Soft limit (USD)"
                    id=id("soft")
                    value=inputs.soft
                    testid=id("soft")
                    path=format!("{prefix}.soft_limit_usd")
                    placeholder="optional"
                />
            </div>
            <p class="hint">
                "Periods follow the calendar in the time zone (an IANA name such as Europe/Berlin). Past the limit requests are refused with 429 until the period resets; crossing the soft limit logs a warning and posts an alert once per period."
            </p>
        </Show>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summarises_a_budget() {
        let budget = Budget {
            limit_usd: 50.0,
            period: BudgetPeriod::Month,
            timezone: "UTC".into(),
            soft_limit_usd: Some(40.0),
        };
        assert_eq!(budget_summary(&budget), "$50.00 a month (soft $40.00)");
        let budget = Budget {
            limit_usd: 0.5,
            period: BudgetPeriod::Day,
            timezone: "Europe/Berlin".into(),
            soft_limit_usd: None,
        };
        assert_eq!(budget_summary(&budget), "$0.5000 a day · Europe/Berlin");
    }

    #[test]
    fn inputs_round_trip_and_report_bad_amounts() {
        let budget = Budget {
            limit_usd: 12.5,
            period: BudgetPeriod::Week,
            timezone: "Asia/Tokyo".into(),
            soft_limit_usd: Some(10.0),
        };
        let inputs = BudgetInputs::new(Some(&budget));
        let mut parse = Parse::default();
        assert_eq!(inputs.build(&mut parse, "budget"), Some(budget));
        assert!(parse.errors.is_empty());

        inputs.soft.set("20".into());
        inputs.build(&mut parse, "budget");
        assert_eq!(parse.errors[0].field, "budget.soft_limit_usd");

        let off = BudgetInputs::new(None);
        assert_eq!(off.build(&mut Parse::default(), "budget"), None);
        off.enabled.set(true);
        let mut parse = Parse::default();
        let built = off.build(&mut parse, "budget").expect("on");
        assert_eq!(built.timezone, "UTC");
        assert_eq!(built.period, BudgetPeriod::Month);
        assert_eq!(parse.errors[0].field, "budget.limit_usd");
    }
}
