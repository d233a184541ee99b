//! The Switchyard web console: a client-side Leptos app, compiled to wasm32 and served by the admin
//! listener on :8001, that lets operators do their daily work in the browser.

mod api;
mod app;
mod components;
mod form;
mod pages;
mod resource;
mod session;
mod settings;
mod sse;
mod theme;
mod time;
mod util;

fn main() {
    // index.html shows a loading line until the app runs; the app replaces it.
    if let Some(boot) = leptos::prelude::document().get_element_by_id("boot") {
        boot.remove();
    }
    leptos::mount::mount_to_body(app::App);
}
