//! The page for an address the console does not know.

use leptos::prelude::*;
use leptos_router::hooks::use_location;

#[component]
pub fn NotFound() -> impl IntoView {
    let location = use_location();
    view! {
        <div class="card empty" data-testid="not-found">
            <h1>"Page not found"</h1>
            <p>"Nothing lives at " <code>{move || location.pathname.get()}</code> "."</p>
            <a class="btn btn-primary" href="/">
                "Go to the dashboard"
            </a>
        </div>
    }
}
