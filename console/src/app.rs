//! The app root: shared state (session, toasts, theme), the 401 handling, and the client-side
//! routes. Setup and login stand alone; every other page lives inside the signed-in shell.

use leptos::prelude::*;
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

use crate::api;
use crate::components::shell::Shell;
use crate::components::toast::{ToastHost, Toasts};
use crate::pages;
use crate::session::Session;
use crate::settings::GatewaySettings;
use crate::theme::ThemeState;

#[component]
pub fn App() -> impl IntoView {
    let session = Session::new();
    provide_context(session);
    provide_context(Toasts::new());
    provide_context(ThemeState::new());
    provide_context(GatewaySettings::new());
    // A 401 from any call means the session ended (expired, or logged out elsewhere): asking the
    // server again tells the shell whether to show the login or the setup page.
    api::set_unauthorized_handler(move || session.refresh());
    session.refresh();

    view! {
        <Router>
            <Routes fallback=|| view! { <pages::not_found::NotFound /> }>
                <Route path=path!("/setup") view=pages::setup::SetupPage />
                <Route path=path!("/login") view=pages::login::LoginPage />
                <ParentRoute path=path!("") view=Shell>
                    <Route path=path!("") view=pages::dashboard::DashboardPage />
                    <Route path=path!("providers") view=pages::providers::ProvidersPage />
                    <Route path=path!("providers/new") view=pages::provider_form::NewProviderPage />
                    <Route path=path!("providers/:name") view=pages::provider_form::EditProviderPage />
                    <Route path=path!("routes") view=pages::routes::RoutesPage />
                    <Route path=path!("routes/new") view=pages::route_form::NewRoutePage />
                    <Route path=path!("routes/:name") view=pages::route_form::EditRoutePage />
                    <Route path=path!("consumers") view=pages::consumers::ConsumersPage />
                    <Route path=path!("consumers/new") view=pages::consumer_form::NewConsumerPage />
                    <Route path=path!("consumers/:name") view=pages::consumer_form::EditConsumerPage />
                    <Route path=path!("guardrails") view=pages::guardrails::GuardrailsPage />
                    <Route path=path!("guardrails/new") view=pages::guardrail_form::NewGuardrailPage />
                    <Route path=path!("guardrails/:name") view=pages::guardrail_form::EditGuardrailPage />
                    <Route path=path!("usage") view=pages::usage::UsagePage />
                    <Route path=path!("logs") view=pages::logs::LogsPage />
                    <Route path=path!("playground") view=pages::playground::PlaygroundPage />
                    <Route path=path!("config") view=pages::config::ConfigPage />
                    <Route path=path!("history") view=pages::history::HistoryPage />
                    <Route path=path!("settings") view=pages::settings::SettingsPage />
                    <Route path=path!("account") view=pages::account::AccountPage />
                    <Route path=path!("*any") view=pages::not_found::NotFound />
                </ParentRoute>
            </Routes>
        </Router>
        <ToastHost />
    }
}
