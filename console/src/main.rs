//! The Switchyard web console: a client-side Leptos app, compiled to wasm32 and served by the admin
//! listener. This first version is a placeholder page; the console issue fills it in.

use leptos::prelude::*;

fn main() {
    mount_to_body(App);
}

/// The console's root component.
#[component]
fn App() -> impl IntoView {
    view! {
        <main>
            <h1>"Switchyard"</h1>
            <p>"The console is coming. Meanwhile, use the admin API under /api."</p>
            <p>"Provider types: " {provider_types()}</p>
        </main>
    }
}

/// The provider types the gateway knows, listed from the shared crate so the console and server agree.
fn provider_types() -> String {
    switchyard_shared::ProviderType::ALL
        .iter()
        .map(|t| t.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}
