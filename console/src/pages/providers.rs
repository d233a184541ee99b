//! AI service providers: the list with each provider's health at a glance, and deletion behind a
//! confirmation that explains a refusal (the routes that still use the provider).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::ProviderSpec;

use crate::api;
use crate::api::types::{Health, ProviderHealth};
use crate::components::badge::StateBadge;
use crate::components::resource_list::{Column, ResourceListPage};

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let health = RwSignal::new(None::<Health>);
    spawn_local(async move {
        // Health is a bonus on this page: without it the list still works.
        if let Ok(h) = api::get::<Health>("/api/health").await {
            health.try_set(Some(h));
        }
    });
    let columns = vec![
        Column::new("Type", |p: &ProviderSpec| {
            view! { <span class="chip">{p.kind.as_str()}</span> }.into_any()
        }),
        Column::new("Base URL", base_url).class("truncate"),
        Column::new("Keys", |p: &ProviderSpec| {
            p.api_keys.as_ref().map(Vec::len).unwrap_or(0).into_any()
        })
        .class("num"),
        Column::new("Health", move |p: &ProviderSpec| {
            let name = p.name.clone();
            let status = Signal::derive(move || {
                health.with(|h| h.as_ref().and_then(|h| h.provider(&name).cloned()))
            });
            view! { <HealthCell health=status /> }.into_any()
        }),
    ];
    view! {
        <ResourceListPage
            subtitle="The LLM services the gateway calls, with their API keys and health."
            columns=columns
            empty="No providers yet. Add the first LLM service the gateway should call."
            delete_message=|name| {
                format!(
                    "The gateway stops calling {name} at once and forgets its API keys. This cannot be undone.",
                )
            }
        />
    }
}

/// The base URL, or the type's default in grey.
fn base_url(provider: &ProviderSpec) -> AnyView {
    match (&provider.base_url, provider.kind.default_base_url()) {
        (Some(url), _) => view! { <span class="mono">{url.clone()}</span> }.into_any(),
        (None, Some(default)) => view! {
            <span class="mono muted" title="The type's default base URL">
                {default}
            </span>
        }
        .into_any(),
        (None, None) => view! { <span class="muted">"—"</span> }.into_any(),
    }
}

#[component]
fn HealthCell(#[prop(into)] health: Signal<Option<ProviderHealth>>) -> impl IntoView {
    move || match health.get() {
        None => view! { <span class="muted">"—"</span> }.into_any(),
        Some(h) => {
            let healthy = h.keys.iter().filter(|k| k.state == "healthy").count();
            let total = h.keys.len();
            view! {
                <span class="health-cell">
                    <StateBadge state=h.state.clone() />
                    {(total > 0)
                        .then(|| {
                            let tone = if healthy == total { "muted" } else { "warn-text" };
                            view! { <span class=tone>{format!("{healthy}/{total} keys healthy")}</span> }
                        })}
                </span>
            }
            .into_any()
        }
    }
}
