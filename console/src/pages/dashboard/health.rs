//! The dashboard's health table: each provider's circuit, its keys' states and its last error.

use leptos::prelude::*;

use crate::api::types::{ProviderHealth, error_text};
use crate::api::{self};
use crate::components::badge::StateBadge;
use crate::util::fmt_duration;

#[component]
pub fn HealthTable(providers: Vec<ProviderHealth>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="table table-cards">
                <thead>
                    <tr>
                        <th scope="col">"Provider"</th>
                        <th scope="col">"Circuit"</th>
                        <th scope="col">"Keys"</th>
                        <th scope="col">"Last error"</th>
                    </tr>
                </thead>
                <tbody>
                    {providers
                        .into_iter()
                        .map(|p| {
                            let probe = p
                                .next_probe_in_ms
                                .map(|ms| format!("next probe in {}", fmt_duration(ms)));
                            let failures = (p.consecutive_failures > 0)
                                .then(|| format!("{} failures in a row", p.consecutive_failures));
                            let note = [failures, probe].into_iter().flatten().collect::<Vec<_>>().join(" · ");
                            let last_error = error_text(&p.last_error);
                            view! {
                                <tr data-testid=format!("health-row-{}", p.name)>
                                    <th scope="row">
                                        <a class="strong-link" href=format!("/providers/{}", api::segment(&p.name))>
                                            {p.name.clone()}
                                        </a>
                                        <div class="muted small">{p.kind.clone()}</div>
                                    </th>
                                    <td data-label="Circuit">
                                        <StateBadge state=p.state.clone() />
                                        <div class="muted small">{note}</div>
                                    </td>
                                    <td data-label="Keys">
                                        <KeyBadges provider=p.clone() />
                                    </td>
                                    <td class="error-cell" data-label="Last error">
                                        {last_error
                                            .map(|e| view! { <span class="error-text">{e}</span> }.into_any())
                                            .unwrap_or_else(|| view! { <span class="muted">"—"</span> }.into_any())}
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn KeyBadges(provider: ProviderHealth) -> impl IntoView {
    if provider.keys.is_empty() {
        return view! { <span class="muted">"no keys"</span> }.into_any();
    }
    let failover = if provider.token_failover {
        "token failover on"
    } else {
        "token failover off"
    };
    view! {
        <ul class="key-list">
            {provider
                .keys
                .into_iter()
                .map(|k| {
                    let title = error_text(&k.last_error).unwrap_or_default();
                    view! {
                        <li class="key-item" title=title>
                            <code>{k.key}</code>
                            <StateBadge state=k.state />
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        <div class="muted small">{failover}</div>
    }
    .into_any()
}
