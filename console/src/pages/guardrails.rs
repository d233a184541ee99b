//! Guardrail policies (`/guardrails`): the list, each with its mode, its detectors and what it
//! does to answers. Routes and consumers name the policies that apply to their requests.

use leptos::prelude::*;
use switchyard_shared::validate::detector_label;
use switchyard_shared::{GuardrailMode, GuardrailSpec};

use crate::components::badge::Badge;
use crate::components::resource_list::{Column, ResourceListPage};
use crate::form::wire_name;

#[component]
pub fn GuardrailsPage() -> impl IntoView {
    let columns = vec![
        Column::new("Mode", |g: &GuardrailSpec| mode_badge(g.mode).into_any()),
        Column::new("Detectors", |g: &GuardrailSpec| {
            let chips = g
                .detectors
                .iter()
                .map(|d| {
                    let text = format!("{} → {}", detector_label(d), wire_name(&d.action));
                    view! { <span class="chip mono">{text}</span> }
                })
                .collect_view();
            view! { <span class="chips">{chips}</span> }.into_any()
        }),
        Column::new("Answers", |g: &GuardrailSpec| match &g.on_response {
            Some(check) => {
                view! { <span class="small">{wire_name(&check.action)}</span> }.into_any()
            }
            None => view! { <span class="muted">"not checked"</span> }.into_any(),
        }),
        Column::new("Description", |g: &GuardrailSpec| {
            view! { <span class="small muted">{g.description.clone()}</span> }.into_any()
        }),
    ];
    view! {
        <ResourceListPage
            subtitle="Policies that find personal data and secrets in requests (and answers) and block, mask, hash or redact them. Routes and consumers name the policies they use."
            columns=columns
            empty="No guardrail policies yet. Create one, then name it on a route or a consumer."
            delete_message=|name| {
                format!(
                    "Requests stop being checked by {name} at once. A policy that a route or consumer still names cannot be deleted.",
                )
            }
        />
    }
}

/// `enforce` or `monitor`, as a badge.
pub fn mode_badge(mode: GuardrailMode) -> impl IntoView {
    let (text, tone) = match mode {
        GuardrailMode::Enforce => ("enforce", "ok"),
        GuardrailMode::Monitor => ("monitor", "neutral"),
    };
    view! { <Badge text=text tone=tone /> }
}
