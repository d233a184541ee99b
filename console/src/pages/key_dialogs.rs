//! The dialogs that issue a consumer key: Create (a name, an optional expiry, optional models,
//! limits and budget of its own) and Rotate (a successor, with a grace period for the old key).
//! Both hand the new key, which only their answer carries, to the caller to reveal once.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::validate::validate_new_key;
use switchyard_shared::{ConsumerKey, FieldError, NewKey, RotateKey};

use crate::api;
use crate::components::budget::{BudgetFields, BudgetInputs};
use crate::components::field::{FieldErr, FormErrorList, FormErrors, SelectField, TextField};
use crate::components::limits::{LimitsFields, LimitsInputs};
use crate::components::modal::{ErrorDetails, Modal};
use crate::components::rows::{TagList, commit_draft};
use crate::form::Parse;

/// The expiry choices: days from now, `never`, or `custom` (a date and time typed).
const EXPIRY_CHOICES: [(&str, &str); 7] = [
    ("never", "Never"),
    ("1", "In 1 day"),
    ("7", "In 7 days"),
    ("30", "In 30 days"),
    ("90", "In 90 days"),
    ("365", "In 1 year"),
    ("custom", "On a date…"),
];

/// The expiry as RFC 3339 (UTC), from a choice and, for `custom`, a `datetime-local` value read
/// in the browser's time zone.
fn expiry(choice: &str, custom: &str) -> Result<Option<String>, String> {
    const DAY_MS: f64 = 86_400_000.0;
    let at_ms = match choice {
        "never" => return Ok(None),
        "custom" => {
            let ms = js_sys::Date::parse(custom.trim());
            if ms.is_nan() {
                return Err("choose a date and time".into());
            }
            ms
        }
        days => js_sys::Date::now() + days.parse::<f64>().unwrap_or(0.0) * DAY_MS,
    };
    if at_ms <= js_sys::Date::now() {
        return Err("must be in the future".into());
    }
    let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(at_ms));
    Ok(Some(String::from(date.to_iso_string())))
}

/// New key: on success `on_created` gets the answer, whose `key` is the plaintext.
#[component]
pub fn CreateKeyDialog(
    /// `/api/consumers/<name>/keys`
    keys_path: String,
    #[prop(into)] on_created: Callback<ConsumerKey>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let form = FormErrors::provide();
    let name = RwSignal::new(String::new());
    let expiry_choice = RwSignal::new("never".to_owned());
    let custom = RwSignal::new(String::new());
    let models = RwSignal::new(Vec::<String>::new());
    let model_draft = RwSignal::new(String::new());
    let limits = LimitsInputs::new(&Default::default());
    let budget = BudgetInputs::new(None);
    let busy = RwSignal::new(false);

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        commit_draft(models, model_draft);
        let mut parse = Parse::default();
        let limits = limits.build(&mut parse, "limits");
        let budget = budget.build(&mut parse, "budget");
        let mut errors = parse.errors;
        let expires_at = expiry(&expiry_choice.get_untracked(), &custom.get_untracked())
            .unwrap_or_else(|message| {
                errors.push(FieldError {
                    field: "expires_at".into(),
                    message,
                });
                None
            });
        let body = NewKey {
            name: name.get_untracked().trim().to_owned(),
            expires_at,
            allowed_models: models.get_untracked(),
            limits,
            budget,
        };
        if let Err(found) = validate_new_key(&body) {
            errors.extend(found.0);
        }
        if form.reject(errors) {
            return;
        }
        busy.set(true);
        let path = keys_path.clone();
        spawn_local(async move {
            match api::post(&path, &body)
                .await
                .and_then(|r| r.json::<ConsumerKey>())
            {
                Ok(created) => on_created.run(created),
                Err(error) if error.is_validation() => form.set(error.fields),
                Err(error) => form.set_general(Some(error.message)),
            }
            busy.try_set(false);
        });
    };
    let choices: Vec<(String, String)> = EXPIRY_CHOICES
        .iter()
        .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
        .collect();

    view! {
        <Modal title="Create key" on_close=on_close wide=true>
            <form class="form" on:submit=submit novalidate>
                <div class="grid-2">
                    <TextField
                        label="Name"
                        id="key-name"
                        value=name
                        testid="key-name"
                        path="name"
                        placeholder="e.g. production or laptop"
                        required=true
                        hint="Says where the key is used; shown in the list."
                    />
                    <SelectField
                        label="Expires"
                        id="key-expiry"
                        value=expiry_choice
                        options=choices
                        testid="key-expiry"
                        path="expires_at"
                    />
                </div>
                <Show when=move || expiry_choice.get() == "custom">
                    <TextField
                        label="Expiry date and time"
                        id="key-expiry-custom"
                        value=custom
                        testid="key-expiry-custom"
                        kind="datetime-local"
                    />
                </Show>
                <details class="more">
                    <summary>"Models, limits and budget of this key (optional)"</summary>
                    <TagList
                        tags=models
                        draft=model_draft
                        prefix="allowed_models"
                        testid="key-models"
                        label="Allowed models"
                        id="key-models"
                        placeholder="e.g. qwen-*"
                        hint="Narrows the consumer's models. Empty: the consumer's."
                    />
                    <p class="hint">"On top of the consumer's limits; empty means only the consumer's apply."</p>
                    <LimitsFields inputs=limits prefix="limits" id_prefix="key-limits" />
                    <BudgetFields
                        inputs=budget
                        prefix="budget"
                        id_prefix="key-budget"
                        scope="Caps this key's spend, on top of the consumer's budget."
                    />
                </details>
                <FormErrorList />
                <div class="modal-actions">
                    <button type="button" class="btn" on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="key-create-submit"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { "Creating…" } else { "Create key" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}

/// The grace choices for a rotation, in seconds.
const GRACE_CHOICES: [(&str, &str); 5] = [
    ("0", "None: refuse the old key at once"),
    ("300", "5 minutes"),
    ("3600", "1 hour"),
    ("86400", "1 day"),
    ("604800", "7 days"),
];

/// Rotate: on success `on_rotated` gets the successor, whose `key` is the plaintext.
#[component]
pub fn RotateKeyDialog(
    /// `/api/consumers/<name>/keys/<id>/rotate`
    rotate_path: String,
    /// The key's name and masked form, for the text.
    #[prop(into)]
    label: String,
    #[prop(into)] on_rotated: Callback<ConsumerKey>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let form = FormErrors::provide();
    let grace = RwSignal::new("3600".to_owned());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<api::ApiError>);
    let rotate = move |_| {
        if busy.get_untracked() {
            return;
        }
        form.clear();
        error.set(None);
        busy.set(true);
        let body = RotateKey {
            grace_seconds: grace.get_untracked().parse().unwrap_or(0),
        };
        let path = rotate_path.clone();
        spawn_local(async move {
            match api::post(&path, &body)
                .await
                .and_then(|r| r.json::<ConsumerKey>())
            {
                Ok(created) => on_rotated.run(created),
                Err(e) if e.is_validation() => form.set(e.fields),
                Err(e) => error.set(Some(e)),
            }
            busy.try_set(false);
        });
    };
    let choices: Vec<(String, String)> = GRACE_CHOICES
        .iter()
        .map(|(v, l)| ((*v).to_owned(), (*l).to_owned()))
        .collect();
    view! {
        <Modal title=format!("Rotate key {label}?") on_close=on_close>
            <p>
                "A new key with the same name, models and limits replaces this one. The old key keeps working for the grace period, so apps can switch over, and is refused after it."
            </p>
            <SelectField
                label="Grace period for the old key"
                id="key-rotate-grace"
                value=grace
                options=choices
                testid="key-rotate-grace"
                path="grace_seconds"
            />
            <FieldErr path="keys".to_owned() />
            <FormErrorList />
            {move || error.get().map(|error| view! { <ErrorDetails error=error /> })}
            <div class="modal-actions">
                <button type="button" class="btn" on:click=move |_| on_close.run(())>
                    "Cancel"
                </button>
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="key-rotate-confirm"
                    disabled=move || busy.get()
                    on:click=rotate
                >
                    {move || if busy.get() { "Rotating…" } else { "Rotate key" }}
                </button>
            </div>
        </Modal>
    }
}
