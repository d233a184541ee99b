//! System setup: the first visit, before any admin exists, creates the admin account and signs in.
//! It asks for the one-time setup code the server printed at start, which proves the visitor is
//! the operator.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::api::{self, types::Me, types::SetupRequest};
use crate::components::field::{FormErrorList, FormErrors, TextField};
use crate::components::shell::AuthFrame;
use crate::components::toast::use_toasts;
use crate::form::check_new_password;
use crate::session::use_session;

#[component]
pub fn SetupPage() -> impl IntoView {
    let session = use_session();
    let toasts = use_toasts();
    let form = FormErrors::provide();
    let code = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    // Once an admin exists this page has nothing to do: go to the app or to the login page.
    let leave = use_navigate();
    Effect::new(move |_| {
        if let Some(me) = session.me.get()
            && !me.setup_required
        {
            let target = if me.authenticated { "/" } else { "/login" };
            leave(
                target,
                NavigateOptions {
                    replace: true,
                    ..NavigateOptions::default()
                },
            );
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        let name = username.get_untracked().trim().to_owned();
        let pass = password.get_untracked();
        let setup_code = code.get_untracked().trim().to_owned();
        let errors = check_new_password(
            Some(&name),
            &pass,
            &confirm.get_untracked(),
            "password",
            "confirm",
        );
        if form.reject(errors) {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let body = SetupRequest {
                username: &name,
                password: &pass,
                setup_code: &setup_code,
            };
            match api::post("/api/auth/setup", &body)
                .await
                .and_then(|r| r.json::<Me>())
            {
                Ok(me) => {
                    toasts.success("Admin account created — you are signed in");
                    session.set(me);
                }
                Err(error) if error.status == 409 => {
                    form.set_general(Some(
                        "An admin account exists already. Sign in with it instead.".into(),
                    ));
                    session.refresh();
                }
                Err(error) if error.is_validation() => {
                    form.set(error.fields);
                    crate::util::focus_first_invalid();
                }
                Err(error) => form.set_general(Some(error.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <AuthFrame
            title="System setup"
            subtitle="Welcome! Create the administrator account to start configuring the gateway."
        >
            <form class="form" on:submit=submit novalidate>
                <TextField
                    label="Setup code"
                    id="setup-code"
                    value=code
                    testid="setup-code"
                    path="setup_code"
                    placeholder="XXXX-XXXX-XXXX"
                    autocomplete="off"
                    hint="Printed by the server when it started (`setup code: …` in its output or log; the installer shows it)."
                    required=true
                />
                <TextField
                    label="Username"
                    id="setup-username"
                    value=username
                    testid="setup-username"
                    path="username"
                    placeholder="admin"
                    autocomplete="username"
                    required=true
                />
                <TextField
                    label="Password"
                    id="setup-password"
                    value=password
                    testid="setup-password"
                    path="password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 8 characters."
                    required=true
                />
                <TextField
                    label="Confirm password"
                    id="setup-confirm"
                    value=confirm
                    testid="setup-confirm"
                    path="confirm"
                    kind="password"
                    autocomplete="new-password"
                    required=true
                />
                <FormErrorList />
                <button
                    type="submit"
                    class="btn btn-primary btn-block"
                    data-testid="setup-submit"
                    disabled=move || busy.get()
                >
                    {move || if busy.get() { "Creating…" } else { "Create admin and sign in" }}
                </button>
            </form>
        </AuthFrame>
    }
}
