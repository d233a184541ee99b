//! Gateway settings: whether the proxy requires a client key (`client_auth`), what is in force
//! when the `--client-auth` flag overrides the stored value, and a warning while keys are off.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::{ClientAuth, ConsumerSpec, Settings, SettingsView};

use crate::api::{self, ApiError};
use crate::components::field::{FieldErr, FormErrorList, FormErrors};
use crate::components::page::{Card, LoadError, Loading, PageHeader};
use crate::components::toast::use_toasts;
use crate::settings::{open_proxy_warning, use_gateway_settings};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let loaded = RwSignal::new(None::<Result<SettingsView, ApiError>>);
    let load = move || {
        spawn_local(async move {
            loaded.try_set(Some(api::get::<SettingsView>("/api/settings").await));
        });
    };
    load();
    view! {
        <PageHeader title="Settings" subtitle="How the gateway treats the apps that call its proxy." />
        {move || match loaded.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(error)) => {
                view! { <LoadError message=error.message on_retry=move |()| load() /> }.into_any()
            }
            Some(Ok(view)) => view! { <ClientAuthForm view=view /> }.into_any(),
        }}
    }
}

/// The radio button's description of each value.
fn describe(value: ClientAuth) -> &'static str {
    match value {
        ClientAuth::Off => {
            "Requests without a Switchyard key are served anonymously (placeholder keys such as api_key=\"unused\" too). A key starting with sy- must still be valid, and is counted against its consumer."
        }
        ClientAuth::Required => {
            "Every request needs a valid, live consumer key (Authorization: Bearer, x-api-key or api-key); others get 401."
        }
    }
}

#[component]
fn ClientAuthForm(view: SettingsView) -> impl IntoView {
    let settings = use_gateway_settings();
    let toasts = use_toasts();
    let form = FormErrors::provide();
    let current = RwSignal::new(view.clone());
    let choice = RwSignal::new(view.settings.client_auth);
    let busy = RwSignal::new(false);
    // Requiring keys with no consumer yet locks every app out: the page says so first.
    let consumers = RwSignal::new(None::<usize>);
    spawn_local(async move {
        if let Ok(list) = api::get::<Vec<ConsumerSpec>>("/api/consumers").await {
            consumers.try_set(Some(list.iter().map(|c| c.keys.len()).sum()));
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        busy.set(true);
        let body = Settings {
            client_auth: choice.get_untracked(),
        };
        spawn_local(async move {
            match api::put("/api/settings", &body).await {
                Ok(reply) => {
                    toasts.saved(reply.snapshot_version());
                    if let Ok(view) = reply.json::<SettingsView>() {
                        current.set(view.clone());
                        settings.view.set(Some(view));
                    } else {
                        settings.refresh();
                    }
                }
                Err(error) if error.is_validation() => form.set(error.fields),
                Err(error) => form.set_general(Some(error.message)),
            }
            busy.set(false);
        });
    };

    let option = move |value: ClientAuth, label: &'static str| {
        let id = format!("settings-client-auth-{}", value.as_str());
        view! {
            <div class="radio-option">
                <input
                    type="radio"
                    name="client_auth"
                    id=id.clone()
                    data-testid=id.clone()
                    value=value.as_str()
                    prop:checked=move || choice.get() == value
                    on:change=move |_| choice.set(value)
                />
                <label for=id>
                    <strong>{label}</strong>
                    <span class="hint">{describe(value)}</span>
                </label>
            </div>
        }
    };

    view! {
        <Card title="Client keys" class="settings-card">
            <StatusNote current=current />
            <form class="form" on:submit=submit novalidate>
                <fieldset class="radio-group">
                    <legend class="sr-only">"Client keys"</legend>
                    {option(ClientAuth::Off, "Off")}
                    {option(ClientAuth::Required, "Required")}
                </fieldset>
                <FieldErr path="client_auth".to_owned() />
                {move || {
                    let no_keys = consumers.get() == Some(0);
                    (choice.get() == ClientAuth::Required && no_keys)
                        .then(|| {
                            view! {
                                <div class="alert alert-warn" role="status" data-testid="settings-no-keys">
                                    "No consumer has a key yet: with keys required every app is refused until it has one. "
                                    <a href="/consumers">"Create a consumer and a key"</a>
                                    " first."
                                </div>
                            }
                        })
                }}
                <FormErrorList />
                <div class="form-actions start">
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="settings-save"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { "Saving…" } else { "Save settings" }}
                    </button>
                </div>
            </form>
        </Card>
    }
}

/// What is in force, the flag that overrides the stored value, and the warning while keys are off.
#[component]
fn StatusNote(current: RwSignal<SettingsView>) -> impl IntoView {
    move || {
        let view = current.get();
        let effective = view.effective_client_auth;
        let flag = view.client_auth_from_flag.then(|| {
            view! {
                <div class="alert alert-info" role="status" data-testid="settings-flag-note">
                    {format!(
                        "This server was started with --client-auth {} (or SWITCHYARD_CLIENT_AUTH), which overrides the value saved here. The saved value ({}) applies once the server runs without it.",
                        effective.as_str(),
                        view.settings.client_auth.as_str(),
                    )}
                </div>
            }
        });
        let warning = (effective == ClientAuth::Off).then(|| {
            let tone = if view.proxy_loopback {
                "alert alert-warn"
            } else {
                "alert alert-error"
            };
            view! {
                <div class=tone role="alert" data-testid="settings-auth-warning">
                    <strong>{open_proxy_warning(&view)}</strong>
                    " Choose Required below once your apps have consumer keys."
                </div>
            }
        });
        view! {
            <p data-testid="settings-effective">
                "In force on the proxy: " <strong>{effective.as_str()}</strong>
            </p>
            {warning}
            {flag}
        }
    }
}
