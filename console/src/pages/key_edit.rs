//! The Edit dialog of a consumer key: its name, the models it may call, its own limits and its
//! spend budget. Only these fields are sent (`PUT …/keys/{id}`); a budget switched off is sent as
//! `null`, which removes it. Expiry, status and the key itself are left as they are.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::validate::check_key_name;
use switchyard_shared::{ConsumerKey, KeyUpdate, ValidationErrors};

use crate::api;
use crate::components::budget::{BudgetFields, BudgetInputs};
use crate::components::field::{FormErrorList, FormErrors, TextField};
use crate::components::limits::{LimitsFields, LimitsInputs};
use crate::components::modal::Modal;
use crate::components::rows::{TagList, commit_draft};
use crate::form::Parse;

#[component]
pub fn EditKeyDialog(
    /// `/api/consumers/<name>/keys/<id>`
    key_path: String,
    key: ConsumerKey,
    /// Called with the save's snapshot version once the key is updated.
    #[prop(into)]
    on_saved: Callback<Option<u64>>,
    #[prop(into)] on_close: Callback<()>,
) -> impl IntoView {
    let form = FormErrors::provide();
    let name = RwSignal::new(key.name.clone());
    let models = RwSignal::new(key.allowed_models.clone());
    let model_draft = RwSignal::new(String::new());
    let limits = LimitsInputs::new(&key.limits);
    let budget = BudgetInputs::new(key.budget.as_ref());
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
        let name = name.get_untracked().trim().to_owned();
        let mut checks = ValidationErrors::default();
        check_key_name(&mut checks, "name", &name);
        let mut errors = parse.errors;
        errors.extend(checks.0);
        if form.reject(errors) {
            return;
        }
        let body = KeyUpdate {
            name: Some(name),
            allowed_models: Some(models.get_untracked()),
            limits: Some(limits),
            budget: Some(budget),
            ..KeyUpdate::default()
        };
        busy.set(true);
        let path = key_path.clone();
        spawn_local(async move {
            match api::put(&path, &body).await {
                Ok(reply) => on_saved.run(reply.snapshot_version()),
                Err(error) if error.is_validation() => form.set(error.fields),
                Err(error) => form.set_general(Some(error.message)),
            }
            busy.try_set(false);
        });
    };

    view! {
        <Modal title=format!("Edit key {}", key.name) on_close=on_close wide=true>
            <form class="form" on:submit=submit novalidate>
                <TextField
                    label="Name"
                    id="key-edit-name"
                    value=name
                    testid="key-edit-name"
                    path="name"
                    required=true
                />
                <TagList
                    tags=models
                    draft=model_draft
                    prefix="allowed_models"
                    testid="key-edit-models"
                    label="Allowed models"
                    id="key-edit-models"
                    placeholder="e.g. qwen-*"
                    hint="Narrows the consumer's models. Empty: the consumer's."
                />
                <p class="hint">"On top of the consumer's limits; empty means only the consumer's apply."</p>
                <LimitsFields inputs=limits prefix="limits" id_prefix="key-edit-limits" />
                <BudgetFields
                    inputs=budget
                    prefix="budget"
                    id_prefix="key-edit-budget"
                    scope="Caps this key's spend, on top of the consumer's budget."
                />
                <FormErrorList />
                <div class="modal-actions">
                    <button type="button" class="btn" on:click=move |_| on_close.run(())>
                        "Cancel"
                    </button>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="key-edit-submit"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { "Saving…" } else { "Save key" }}
                    </button>
                </div>
            </form>
        </Modal>
    }
}
