//! The Logs page's filters: consumer, key id, route, provider, model, status class and a time
//! window. They are applied together (Enter or Apply) and written to the URL by the page.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::metering::LogFilter;
use crate::components::field::{SelectField, TextField};
use crate::components::page::FilterActions;
use crate::time::{iso_from_ms, local_input_value, parse_ms};

/// The status choices: `(API value, label)`.
const STATUSES: [(&str, &str); 6] = [
    ("", "All"),
    ("error", "Errors (400 and up)"),
    ("2xx", "2xx"),
    ("4xx", "4xx"),
    ("429", "429"),
    ("5xx", "5xx"),
];

/// A `datetime-local` value as RFC 3339; empty or unreadable input means no bound.
fn bound(local: &str) -> String {
    parse_ms(local).map(iso_from_ms).unwrap_or_default()
}

#[component]
pub fn Filters(
    filter: Memo<LogFilter>,
    #[prop(into)] on_apply: Callback<LogFilter>,
) -> impl IntoView {
    let text = || RwSignal::new(String::new());
    let (consumer, key, route, provider, model) = (text(), text(), text(), text(), text());
    let (status, since, until) = (text(), text(), text());
    // The inputs show the filters in force, also after the URL changes (back, a shared link).
    Effect::new(move |_| {
        let f = filter.get();
        consumer.set(f.consumer);
        key.set(f.key);
        route.set(f.route);
        provider.set(f.provider);
        model.set(f.model);
        status.set(f.status);
        since.set(local_input_value(&f.since));
        until.set(local_input_value(&f.until));
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let t = |s: RwSignal<String>| s.get_untracked().trim().to_owned();
        on_apply.run(LogFilter {
            consumer: t(consumer),
            key: t(key),
            route: t(route),
            provider: t(provider),
            model: t(model),
            status: t(status),
            since: bound(&t(since)),
            until: bound(&t(until)),
        });
    };
    let statuses: Vec<(String, String)> = STATUSES
        .iter()
        .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
        .collect();
    let active = move || filter.with(|f| *f != LogFilter::default());
    view! {
        <form class="card filters" on:submit=submit data-testid="logs-filters" novalidate>
            <div class="grid-filters">
                <TextField label="Consumer" id="logs-filter-consumer" value=consumer testid="logs-filter-consumer" placeholder="any" />
                <TextField label="Key id" id="logs-filter-key" value=key testid="logs-filter-key" placeholder="any" numeric=true />
                <TextField label="Route" id="logs-filter-route" value=route testid="logs-filter-route" placeholder="any" />
                <TextField label="Provider" id="logs-filter-provider" value=provider testid="logs-filter-provider" placeholder="any" />
                <TextField label="Model" id="logs-filter-model" value=model testid="logs-filter-model" placeholder="any" />
                <SelectField label="Status" id="logs-filter-status" value=status options=statuses testid="logs-filter-status" />
                <TextField label="Since" id="logs-filter-since" value=since testid="logs-filter-since" kind="datetime-local" />
                <TextField label="Until" id="logs-filter-until" value=until testid="logs-filter-until" kind="datetime-local" />
            </div>
            <FilterActions prefix="logs" active=Signal::derive(active) on_reset=move |()| on_apply.run(LogFilter::default()) />
        </form>
    }
}
