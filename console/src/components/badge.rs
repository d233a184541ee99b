//! Health badges: one colour per meaning, so that a glance at a table tells what needs attention.

use leptos::prelude::*;

/// The badge tone for a circuit or key state from `/api/health`.
pub fn tone(state: &str) -> &'static str {
    match state {
        "closed" | "healthy" => "ok",
        "half_open" | "cooling_down" => "warn",
        "open" | "down" | "ejected" => "bad",
        _ => "neutral",
    }
}

/// What a state means, for the badge's tooltip.
fn meaning(state: &str) -> &'static str {
    match state {
        "closed" => "Circuit closed: the provider takes traffic normally.",
        "open" => {
            "Circuit open: the provider failed repeatedly and is skipped until a probe succeeds."
        }
        "half_open" => "Half open: a trial request is checking whether the provider recovered.",
        "down" => "Down: the active health check fails.",
        "cooling_down" => "Cooling down: waiting before it is tried again.",
        "healthy" => "Healthy: the key is in the pool.",
        "ejected" => "Ejected: the key failed and is out of the pool until a probe succeeds.",
        _ => "State unknown.",
    }
}

/// A state badge showing the state exactly as the API names it.
#[component]
pub fn StateBadge(#[prop(into)] state: String) -> impl IntoView {
    let class = format!("badge badge-{}", tone(&state));
    let title = meaning(&state);
    let data_state = state.clone();
    view! {
        <span class=class title=title data-state=data_state>
            {state}
        </span>
    }
}

/// A neutral or coloured label, such as `on`/`off`.
#[component]
pub fn Badge(
    #[prop(into)] text: String,
    #[prop(default = "neutral")] tone: &'static str,
) -> impl IntoView {
    view! { <span class=format!("badge badge-{tone}")>{text}</span> }
}
