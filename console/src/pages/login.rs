//! Login: username and password; a wrong password and the rate limit explain themselves.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;

use crate::api::{self, types::Credentials, types::Me};
use crate::components::field::{FormErrors, TextField};
use crate::components::shell::AuthFrame;
use crate::session::use_session;

#[component]
pub fn LoginPage() -> impl IntoView {
    let session = use_session();
    let navigate = use_navigate();
    // The text fields look for a form's errors; login reports its one error itself.
    FormErrors::provide();
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    // Signed in (now or already): continue to the page that sent the user here.
    Effect::new(move |_| {
        let Some(me) = session.me.get() else { return };
        let replace = NavigateOptions {
            replace: true,
            ..NavigateOptions::default()
        };
        if me.setup_required {
            navigate("/setup", replace);
        } else if me.authenticated {
            let target = session
                .return_to
                .try_update(Option::take)
                .flatten()
                .filter(|t| t.starts_with('/') && !t.starts_with("/login"))
                .unwrap_or_else(|| "/".into());
            navigate(&target, replace);
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        let name = username.get_untracked().trim().to_owned();
        let pass = password.get_untracked();
        if name.is_empty() || pass.is_empty() {
            error.set(Some("Enter your username and password.".into()));
            return;
        }
        error.set(None);
        busy.set(true);
        spawn_local(async move {
            let body = Credentials {
                username: &name,
                password: &pass,
            };
            match api::post("/api/auth/login", &body)
                .await
                .and_then(|r| r.json::<Me>())
            {
                Ok(me) => {
                    session.logging_out.set(false);
                    session.set(me);
                }
                Err(e) if e.status == 401 => {
                    error.set(Some("Wrong username or password.".into()));
                    password.set(String::new());
                }
                Err(e) if e.status == 429 => {
                    let wait = e
                        .retry_after
                        .map(|s| format!("{s} s"))
                        .unwrap_or_else(|| "a moment".into());
                    error.set(Some(format!("Too many attempts, try again in {wait}.")));
                }
                Err(e) => error.set(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <AuthFrame title="Sign in" subtitle="Sign in to manage the Switchyard AI gateway.">
            <form class="form" on:submit=submit novalidate>
                <TextField
                    label="Username"
                    id="login-username"
                    value=username
                    testid="login-username"
                    autocomplete="username"
                />
                <TextField
                    label="Password"
                    id="login-password"
                    value=password
                    testid="login-password"
                    kind="password"
                    autocomplete="current-password"
                />
                {move || {
                    error
                        .get()
                        .map(|message| {
                            view! {
                                <p class="alert alert-error" role="alert" data-testid="login-error">
                                    {message}
                                </p>
                            }
                        })
                }}
                <button
                    type="submit"
                    class="btn btn-primary btn-block"
                    data-testid="login-submit"
                    disabled=move || busy.get()
                >
                    {move || if busy.get() { "Signing in…" } else { "Sign in" }}
                </button>
            </form>
        </AuthFrame>
    }
}
