//! Change password: the current password, the new one twice.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::FieldError;

use crate::api::{self, types::PasswordChange};
use crate::components::field::{FormErrorList, FormErrors, TextField};
use crate::components::page::{Card, PageHeader};
use crate::components::toast::use_toasts;
use crate::form::check_new_password;
use crate::session::use_session;

#[component]
pub fn AccountPage() -> impl IntoView {
    let session = use_session();
    let toasts = use_toasts();
    let form = FormErrors::provide();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let confirm = RwSignal::new(String::new());
    let busy = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        let current_password = current.get_untracked();
        let new_password = new.get_untracked();
        let mut errors = check_new_password(
            None,
            &new_password,
            &confirm.get_untracked(),
            "new_password",
            "confirm",
        );
        if current_password.is_empty() {
            errors.push(FieldError {
                field: "current_password".into(),
                message: "must not be empty".into(),
            });
        }
        if form.reject(errors) {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            let body = PasswordChange {
                current_password: &current_password,
                new_password: &new_password,
            };
            match api::post("/api/auth/password", &body).await {
                Ok(_) => {
                    toasts.success("Password changed");
                    current.set(String::new());
                    new.set(String::new());
                    confirm.set(String::new());
                }
                Err(e) if e.status == 401 => form.set(vec![FieldError {
                    field: "current_password".into(),
                    message: "is not your current password".into(),
                }]),
                Err(e) if e.is_validation() => {
                    // The server may name the new password `password`; it belongs to the same input.
                    let fields = e
                        .fields
                        .into_iter()
                        .map(|mut f| {
                            if f.field == "password" {
                                f.field = "new_password".into();
                            }
                            f
                        })
                        .collect();
                    form.set(fields);
                }
                Err(e) => form.set_general(Some(e.message)),
            }
            busy.set(false);
        });
    };

    view! {
        <PageHeader
            title="Change password"
            subtitle=format!("Signed in as {}.", session.username())
        />
        <Card class="narrow">
            <form class="form" on:submit=submit novalidate>
                <TextField
                    label="Current password"
                    id="account-current"
                    value=current
                    testid="account-current"
                    path="current_password"
                    kind="password"
                    autocomplete="current-password"
                    required=true
                />
                <TextField
                    label="New password"
                    id="account-new"
                    value=new
                    testid="account-new"
                    path="new_password"
                    kind="password"
                    autocomplete="new-password"
                    hint="At least 8 characters."
                    required=true
                />
                <TextField
                    label="Confirm new password"
                    id="account-confirm"
                    value=confirm
                    testid="account-confirm"
                    path="confirm"
                    kind="password"
                    autocomplete="new-password"
                    required=true
                />
                <FormErrorList />
                <div class="form-actions">
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="account-save"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { "Saving…" } else { "Change password" }}
                    </button>
                </div>
            </form>
        </Card>
    }
}
