//! The History page's filters: the resource (its kind, and optionally its name), the actor and a
//! start time. They are applied together (Enter or Apply) and written to the URL by the page.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::audit::AuditFilter;
use crate::components::field::{SelectField, TextField};
use crate::components::page::FilterActions;
use crate::time::{iso_from_ms, local_input_value, parse_ms};

/// The resource kinds the trail records: `(API value, label)`.
const KINDS: [(&str, &str); 7] = [
    ("", "All"),
    ("provider", "Providers"),
    ("route", "Routes"),
    ("consumer", "Consumers"),
    ("guardrail", "Guardrails"),
    ("settings", "Settings"),
    ("account", "Console accounts"),
];

#[component]
pub fn Filters(
    filter: Memo<AuditFilter>,
    #[prop(into)] on_apply: Callback<AuditFilter>,
) -> impl IntoView {
    let text = || RwSignal::new(String::new());
    let (kind, name, actor, since) = (text(), text(), text(), text());
    // The inputs show the filters in force, also after the URL changes (back, a shared link).
    Effect::new(move |_| {
        let f = filter.get();
        kind.set(f.kind);
        name.set(f.name);
        actor.set(f.actor);
        since.set(local_input_value(&f.since));
    });
    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let t = |s: RwSignal<String>| s.get_untracked().trim().to_owned();
        on_apply.run(AuditFilter {
            kind: t(kind),
            name: t(name),
            actor: t(actor),
            since: parse_ms(&t(since)).map(iso_from_ms).unwrap_or_default(),
        });
    };
    let kinds: Vec<(String, String)> = KINDS
        .iter()
        .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
        .collect();
    let active = move || filter.with(|f| *f != AuditFilter::default());
    view! {
        <form class="card filters" on:submit=submit data-testid="history-filters" novalidate>
            <div class="grid-filters">
                <SelectField label="Resource" id="history-filter-kind" value=kind options=kinds testid="history-filter-kind" />
                <TextField
                    label="Name"
                    id="history-filter-name"
                    value=name
                    testid="history-filter-name"
                    placeholder=Signal::derive(move || {
                        if kind.with(String::is_empty) { "pick a resource first" } else { "any" }.to_owned()
                    })
                />
                <TextField label="Actor" id="history-filter-actor" value=actor testid="history-filter-actor" placeholder="console:ana, admin-token, cli:…" />
                <TextField label="Since" id="history-filter-since" value=since testid="history-filter-since" kind="datetime-local" />
            </div>
            <FilterActions prefix="history" active=Signal::derive(active) on_reset=move |()| on_apply.run(AuditFilter::default()) />
        </form>
    }
}
