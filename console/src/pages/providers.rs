//! AI service providers: the list with each provider's health at a glance, and deletion behind a
//! confirmation that explains a refusal (the routes that still use the provider).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::ProviderSpec;

use crate::api::types::{Health, ProviderHealth};
use crate::api::{self, ApiError};
use crate::components::badge::StateBadge;
use crate::components::icons::Icon;
use crate::components::item::DeleteItem;
use crate::components::page::{LoadError, Loading, PageHeader};

#[component]
pub fn ProvidersPage() -> impl IntoView {
    let providers = RwSignal::new(None::<Result<Vec<ProviderSpec>, ApiError>>);
    let health = RwSignal::new(None::<Health>);
    let load = move || {
        spawn_local(async move {
            providers.set(Some(api::get::<Vec<ProviderSpec>>("/api/providers").await));
        });
        spawn_local(async move {
            // Health is a bonus on this page: without it the list still works.
            if let Ok(h) = api::get::<Health>("/api/health").await {
                health.set(Some(h));
            }
        });
    };
    load();

    let deleting = RwSignal::new(None::<String>);

    view! {
        <PageHeader
            title="AI service providers"
            subtitle="The LLM services the gateway calls, with their API keys and health."
        >
            <a class="btn btn-primary" href="/providers/new" data-testid="provider-new">
                <Icon name="plus" />
                "Create provider"
            </a>
        </PageHeader>
        <section class="card card-flush">
            {move || match providers.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(error)) => view! { <LoadError message=error.message on_retry=move |()| load() /> }
                    .into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <div class="empty">
                        <p>"No providers yet. Add the first LLM service the gateway should call."</p>
                        <a class="btn btn-primary" href="/providers/new">
                            "Create provider"
                        </a>
                    </div>
                }
                .into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">
                        <table class="table table-cards">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Type"</th>
                                    <th scope="col">"Base URL"</th>
                                    <th scope="col" class="num">"Keys"</th>
                                    <th scope="col">"Health"</th>
                                    <th scope="col" class="actions-col">
                                        <span class="sr-only">"Actions"</span>
                                    </th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|provider| {
                                        let name = provider.name.clone();
                                        let status = Signal::derive(move || {
                                            health.with(|h| h.as_ref().and_then(|h| h.provider(&name).cloned()))
                                        });
                                        view! {
                                            <ProviderRow
                                                provider=provider
                                                health=status
                                                on_delete=move |name| deleting.set(Some(name))
                                            />
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any(),
            }}
        </section>
        <DeleteItem
            target=deleting
            api_prefix="/api/providers"
            noun="provider"
            message=|name| {
                format!(
                    "The gateway stops calling {name} at once and forgets its API keys. This cannot be undone.",
                )
            }
            on_deleted=move |()| load()
        />
    }
}

#[component]
fn ProviderRow(
    provider: ProviderSpec,
    #[prop(into)] health: Signal<Option<ProviderHealth>>,
    #[prop(into)] on_delete: Callback<String>,
) -> impl IntoView {
    let name = provider.name.clone();
    let edit_href = format!("/providers/{}", api::segment(&name));
    let base_url = match (&provider.base_url, provider.kind.default_base_url()) {
        (Some(url), _) => view! { <span class="mono">{url.clone()}</span> }.into_any(),
        (None, Some(default)) => view! {
            <span class="mono muted" title="The type's default base URL">
                {default}
            </span>
        }
        .into_any(),
        (None, None) => view! { <span class="muted">"—"</span> }.into_any(),
    };
    let keys = provider.api_keys.as_ref().map(Vec::len).unwrap_or(0);
    let delete_name = name.clone();
    view! {
        <tr data-testid=format!("provider-row-{name}")>
            <th scope="row">
                <a class="strong-link" href=edit_href.clone()>
                    {name.clone()}
                </a>
            </th>
            <td data-label="Type">
                <span class="chip">{provider.kind.as_str()}</span>
            </td>
            <td class="truncate" data-label="Base URL">
                {base_url}
            </td>
            <td class="num" data-label="Keys">
                {keys}
            </td>
            <td data-label="Health">
                {move || match health.get() {
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
                                        view! {
                                            <span class=tone>{format!("{healthy}/{total} keys healthy")}</span>
                                        }
                                    })}
                            </span>
                        }
                        .into_any()
                    }
                }}
            </td>
            <td class="actions-col">
                <div class="row-actions">
                    <a
                        class="btn btn-small"
                        href=edit_href
                        data-testid=format!("provider-edit-{name}")
                        aria-label=format!("Edit provider {name}")
                    >
                        <Icon name="edit" size=14 />
                        "Edit"
                    </a>
                    <button
                        type="button"
                        class="btn btn-small btn-danger-ghost"
                        data-testid=format!("provider-delete-{name}")
                        aria-label=format!("Delete provider {name}")
                        on:click=move |_| on_delete.run(delete_name.clone())
                    >
                        <Icon name="trash" size=14 />
                        "Delete"
                    </button>
                </div>
            </td>
        </tr>
    }
}
