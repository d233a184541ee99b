//! Page furniture: the title bar with its actions, cards, and the loading, empty and error states.

use leptos::prelude::*;

use crate::components::icons::Icon;

/// A page's title, a line saying what the page is for, and its main actions on the right.
#[component]
pub fn PageHeader(
    #[prop(into)] title: String,
    #[prop(optional, into)] subtitle: Option<String>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <div class="page-header">
            <div>
                <h1>{title}</h1>
                {subtitle.map(|s| view! { <p class="subtitle">{s}</p> })}
            </div>
            <div class="page-actions">{children.map(|c| c())}</div>
        </div>
    }
}

/// A titled card.
#[component]
pub fn Card(
    #[prop(optional, into)] title: Option<String>,
    #[prop(optional, into)] class: Option<String>,
    #[prop(optional, into)] testid: Option<String>,
    children: Children,
) -> impl IntoView {
    let class = format!("card {}", class.unwrap_or_default());
    view! {
        <section class=class data-testid=testid>
            {title.map(|t| view! { <h2 class="card-title">{t}</h2> })}
            {children()}
        </section>
    }
}

#[component]
pub fn Loading(#[prop(optional, into)] text: Option<String>) -> impl IntoView {
    view! {
        <div class="loading" role="status">
            <span class="spinner" aria-hidden="true"></span>
            {text.unwrap_or_else(|| "Loading…".into())}
        </div>
    }
}

/// A failure to load, with a retry button.
#[component]
pub fn LoadError(
    #[prop(into)] message: String,
    #[prop(into)] on_retry: Callback<()>,
) -> impl IntoView {
    view! {
        <div class="alert alert-error" role="alert">
            <p>{message}</p>
            <button type="button" class="btn btn-small" on:click=move |_| on_retry.run(())>
                "Try again"
            </button>
        </div>
    }
}

/// The "Refresh" button of a page or card that reloads what it shows.
#[component]
pub fn RefreshButton(
    #[prop(into)] testid: String,
    #[prop(into)] on_click: Callback<()>,
) -> impl IntoView {
    view! {
        <button type="button" class="btn btn-small" data-testid=testid on:click=move |_| on_click.run(())>
            <Icon name="refresh" size=14 />
            "Refresh"
        </button>
    }
}

/// A filter form's buttons: "Apply filters" submits the form, and "Clear filters", shown while
/// any filter is set, resets them. `prefix` names their test ids (`{prefix}-apply`,
/// `{prefix}-reset`).
#[component]
pub fn FilterActions(
    #[prop(into)] prefix: String,
    #[prop(into)] active: Signal<bool>,
    #[prop(into)] on_reset: Callback<()>,
) -> impl IntoView {
    let apply = format!("{prefix}-apply");
    let reset = format!("{prefix}-reset");
    view! {
        <div class="form-actions start">
            <button type="submit" class="btn btn-primary btn-small" data-testid=apply>
                "Apply filters"
            </button>
            <Show when=move || active.get()>
                <button
                    type="button"
                    class="btn btn-small btn-ghost"
                    data-testid=reset.clone()
                    on:click=move |_| on_reset.run(())
                >
                    "Clear filters"
                </button>
            </Show>
        </div>
    }
}
