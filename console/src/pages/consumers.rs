//! Consumers, the apps and teams that call the proxy with their own keys: the list with each
//! one's status, keys, limits, budget and when it last called.

use leptos::prelude::*;
use switchyard_shared::ConsumerSpec;

use crate::components::badge::Badge;
use crate::components::budget::budget_summary;
use crate::components::limits::limits_summary;
use crate::components::resource_list::{Column, ResourceListPage};
use crate::util::fmt_timestamp;

#[component]
pub fn ConsumersPage() -> impl IntoView {
    let columns = vec![
        Column::new("Status", |c: &ConsumerSpec| {
            status_badge(c.disabled).into_any()
        }),
        Column::new("Keys", |c: &ConsumerSpec| c.keys.len().into_any()).class("num"),
        Column::new("Models", |c: &ConsumerSpec| {
            if c.allowed_models.is_empty() {
                view! { <span class="muted">"all"</span> }.into_any()
            } else {
                view! { <span class="mono small">{c.allowed_models.join(", ")}</span> }.into_any()
            }
        }),
        Column::new("Limits", |c: &ConsumerSpec| {
            let summary = limits_summary(&c.limits);
            if summary.is_empty() {
                view! { <span class="muted">"unlimited"</span> }.into_any()
            } else {
                view! { <span class="small">{summary}</span> }.into_any()
            }
        }),
        Column::new("Budget", |c: &ConsumerSpec| match &c.budget {
            Some(budget) => {
                view! { <span class="small">{budget_summary(budget)}</span> }.into_any()
            }
            None => view! { <span class="muted">"none"</span> }.into_any(),
        }),
        Column::new("Last used", |c: &ConsumerSpec| match last_used(c) {
            Some(at) => view! { <span class="small">{fmt_timestamp(&at)}</span> }.into_any(),
            None => view! { <span class="muted">"never"</span> }.into_any(),
        }),
    ];
    view! {
        <ResourceListPage
            subtitle="The apps and teams that call the proxy, each with its own keys, allowed models and limits."
            columns=columns
            empty="No consumers yet. Create one for each app or team, then give it a key."
            delete_message=|name| {
                format!(
                    "Every key of {name} is refused from the next request on. This cannot be undone.",
                )
            }
        />
    }
}

/// `enabled` or `disabled`, as a badge.
pub fn status_badge(disabled: bool) -> impl IntoView {
    let (text, tone) = if disabled {
        ("disabled", "bad")
    } else {
        ("enabled", "ok")
    };
    view! { <Badge text=text tone=tone /> }
}

/// When any of the consumer's keys was last used (RFC 3339 from the API, so the latest sorts last
/// when the times share a format; the browser's parse decides otherwise).
fn last_used(consumer: &ConsumerSpec) -> Option<String> {
    consumer
        .keys
        .iter()
        .filter_map(|k| k.last_used_at.clone())
        .max_by(|a, b| {
            let (x, y) = (js_sys::Date::parse(a), js_sys::Date::parse(b));
            x.partial_cmp(&y).unwrap_or_else(|| a.cmp(b))
        })
}
