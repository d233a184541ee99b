//! Create and edit a consumer (`/consumers/new`, `/consumers/:name`): its name and description,
//! the models (globs) and routes it may use, its limits and spend budget, its guardrail policies,
//! whether it is disabled, and free-form metadata. An existing consumer's page also manages its keys (see `consumer_keys`).

use std::collections::BTreeMap;

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::validate::validate_consumer;
use switchyard_shared::{ConsumerSpec, FieldError, RouteSpec};

use crate::api;
use crate::components::budget::{BudgetFields, BudgetInputs};
use crate::components::field::{Checkbox, FieldErr, TextField, invalid_attr, use_form_errors};
use crate::components::form_page::{FormFooter, FormHeader, SaveForm};
use crate::components::guardrail_picker::{
    GuardrailPicker, Policies, load_policies, reference_errors,
};
use crate::components::item::EditPage;
use crate::components::limits::{LimitsFields, LimitsInputs};
use crate::components::rows::{TagList, commit_draft};
use crate::form::Parse;
use crate::pages::consumer_keys::ConsumerKeys;

#[component]
pub fn NewConsumerPage() -> impl IntoView {
    view! { <ConsumerForm spec=None /> }
}

/// Loads the consumer named in the path, then shows its keys and its form.
#[component]
pub fn EditConsumerPage() -> impl IntoView {
    view! {
        <EditPage form=Callback::new(|spec: ConsumerSpec| {
            view! { <ConsumerForm spec=Some(spec) /> }.into_any()
        }) />
    }
}

/// Every input of the consumer form.
#[derive(Clone, Copy)]
struct ConsumerInputs {
    editing: bool,
    name: RwSignal<String>,
    description: RwSignal<String>,
    models: RwSignal<Vec<String>>,
    model_draft: RwSignal<String>,
    routes: RwSignal<Vec<String>>,
    route_draft: RwSignal<String>,
    limits: LimitsInputs,
    budget: BudgetInputs,
    guardrails: RwSignal<Vec<String>>,
    disabled: RwSignal<bool>,
    metadata: RwSignal<String>,
}

impl ConsumerInputs {
    fn new(spec: Option<&ConsumerSpec>) -> Self {
        let spec = spec.cloned();
        let editing = spec.is_some();
        let spec = spec.unwrap_or_default();
        ConsumerInputs {
            editing,
            name: RwSignal::new(spec.name),
            description: RwSignal::new(spec.description),
            models: RwSignal::new(spec.allowed_models),
            model_draft: RwSignal::new(String::new()),
            routes: RwSignal::new(spec.allowed_routes),
            route_draft: RwSignal::new(String::new()),
            limits: LimitsInputs::new(&spec.limits),
            budget: BudgetInputs::new(spec.budget.as_ref()),
            guardrails: RwSignal::new(spec.guardrails),
            disabled: RwSignal::new(spec.disabled),
            metadata: RwSignal::new(metadata_text(&spec.metadata)),
        }
    }

    /// The consumer to send (without keys: they have their own endpoints) and the inputs that
    /// could not be read.
    fn build(&self) -> (ConsumerSpec, Vec<FieldError>) {
        let mut parse = Parse::default();
        let limits = self.limits.build(&mut parse, "limits");
        let budget = self.budget.build(&mut parse, "budget");
        let mut errors = parse.errors;
        let metadata = parse_metadata(&self.metadata.get_untracked()).unwrap_or_else(|message| {
            errors.push(FieldError {
                field: "metadata".into(),
                message,
            });
            BTreeMap::new()
        });
        let spec = ConsumerSpec {
            name: self.name.get_untracked().trim().to_owned(),
            description: self.description.get_untracked().trim().to_owned(),
            allowed_models: self.models.get_untracked(),
            allowed_routes: self.routes.get_untracked(),
            limits,
            budget,
            disabled: self.disabled.get_untracked(),
            metadata,
            keys: Vec::new(),
            guardrails: self.guardrails.get_untracked(),
        };
        (spec, errors)
    }
}

/// Metadata as the form shows it: pretty JSON, or nothing when there is none.
fn metadata_text(metadata: &BTreeMap<String, serde_json::Value>) -> String {
    if metadata.is_empty() {
        return String::new();
    }
    serde_json::to_string_pretty(metadata).unwrap_or_default()
}

/// The metadata typed: a JSON object, or nothing.
fn parse_metadata(text: &str) -> Result<BTreeMap<String, serde_json::Value>, String> {
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    serde_json::from_str(text)
        .map_err(|e| format!("must be a JSON object such as {{\"owner\": \"data-team\"}} ({e})"))
}

/// The shared validation, plus "no guardrail policy named …" when the policy list is known.
fn check(spec: &ConsumerSpec, mut errors: Vec<FieldError>, policies: Policies) -> Vec<FieldError> {
    if let Err(found) = validate_consumer(spec) {
        errors.extend(found.0);
    }
    errors.extend(reference_errors(&spec.guardrails, policies));
    errors
}

#[component]
fn ConsumerForm(spec: Option<ConsumerSpec>) -> impl IntoView {
    let inputs = ConsumerInputs::new(spec.as_ref());
    let save = SaveForm::<ConsumerSpec>::new(spec.as_ref().map(|s| s.name.clone()));
    let policies = load_policies();

    // The routes that exist now, as a reminder of what the allowed routes may name.
    let route_names = RwSignal::new(String::new());
    spawn_local(async move {
        if let Ok(list) = api::get::<Vec<RouteSpec>>("/api/routes").await {
            let names: Vec<String> = list.into_iter().map(|r| r.name).collect();
            route_names.try_set(names.join(", "));
        }
    });

    let submit = move |ev: SubmitEvent| {
        if !save.begin(&ev) {
            return;
        }
        // A glob or route typed but not yet added is surely meant to be saved too.
        commit_draft(inputs.models, inputs.model_draft);
        commit_draft(inputs.routes, inputs.route_draft);
        let (spec, parse_errors) = inputs.build();
        let errors = check(&spec, parse_errors, policies);
        save.send(spec, errors, |fields| fields);
    };

    let title = match &spec {
        Some(spec) => format!("Consumer {}", spec.name),
        None => "Create consumer".to_owned(),
    };
    let keys = spec.map(|spec| {
        view! { <ConsumerKeys consumer=spec.name.clone() allowed_models=spec.allowed_models /> }
    });

    view! {
        <FormHeader save=save title=title subtitle="An app or team calling the proxy with its own keys." />
        {keys}
        <form class="form form-page" on:submit=submit novalidate>
            <section class="card">
                <h2 class="card-title">"Basics"</h2>
                <div class="grid-2">
                    <TextField
                        label="Name"
                        id="consumer-name"
                        value=inputs.name
                        testid="consumer-name"
                        path="name"
                        placeholder="e.g. team-a"
                        readonly=inputs.editing
                        required=true
                        hint=if inputs.editing {
                            "A consumer's name cannot change: routes and logs refer to it."
                        } else {
                            "Lowercase letters, digits, '-' and '_'."
                        }
                    />
                    <TextField
                        label="Description"
                        id="consumer-description"
                        value=inputs.description
                        testid="consumer-description"
                        path="description"
                        placeholder="e.g. The support chatbot"
                    />
                </div>
                <Checkbox
                    label="Disabled"
                    id="consumer-disabled"
                    checked=inputs.disabled
                    testid="consumer-disabled"
                    hint="Refuses every key of this consumer until enabled again."
                />
            </section>

            <section class="card">
                <h2 class="card-title">"Access"</h2>
                <div class="grid-2 align-start">
                    <TagList
                        tags=inputs.models
                        draft=inputs.model_draft
                        prefix="allowed_models"
                        testid="consumer-models"
                        label="Allowed models"
                        id="consumer-models"
                        placeholder="e.g. deepseek-* or gpt-4o"
                        hint="Model names; * stands for any run of characters. Empty: every model."
                    />
                    <TagList
                        tags=inputs.routes
                        draft=inputs.route_draft
                        prefix="allowed_routes"
                        testid="consumer-routes"
                        label="Allowed routes"
                        id="consumer-routes"
                        placeholder="e.g. deepseek"
                        hint=Signal::derive(move || {
                            let names = route_names.get();
                            if names.is_empty() {
                                "Route names. Empty: every route.".to_owned()
                            } else {
                                format!("Route names ({names}). Empty: every route.")
                            }
                        })
                    />
                </div>
            </section>

            <section class="card">
                <h2 class="card-title">"Limits"</h2>
                <p class="hint">
                    "For all of this consumer's keys together; a key may have tighter limits of its own. Empty means unlimited."
                </p>
                <LimitsFields inputs=inputs.limits prefix="limits" id_prefix="consumer-limits" />
            </section>

            <section class="card">
                <h2 class="card-title">"Budget"</h2>
                <BudgetFields
                    inputs=inputs.budget
                    prefix="budget"
                    id_prefix="consumer-budget"
                    scope="Caps what all of this consumer's keys may spend together."
                />
            </section>

            <section class="card">
                <h2 class="card-title">"Guardrails"</h2>
                <GuardrailPicker
                    selected=inputs.guardrails
                    policies=policies
                    testid="consumer-guardrails"
                    hint="Checks this consumer's requests on every route, after the route's own policies."
                />
            </section>

            <MetadataSection text=inputs.metadata />

            <FormFooter save=save />
        </form>
    }
}

#[component]
fn MetadataSection(text: RwSignal<String>) -> impl IntoView {
    let form = use_form_errors();
    view! {
        <section class="card">
            <h2 class="card-title">"Metadata"</h2>
            <div class="field">
                <label for="consumer-metadata">"Labels (optional)"</label>
                <textarea
                    id="consumer-metadata"
                    class="input textarea code-area"
                    rows="4"
                    data-testid="consumer-metadata"
                    placeholder="{\"owner\": \"data-team\", \"cost_centre\": \"4711\"}"
                    aria-invalid=invalid_attr(form, || "metadata".to_owned())
                    prop:value=move || text.get()
                    on:input=move |ev| text.set(event_target_value(&ev))
                ></textarea>
                <p class="hint">"A JSON object for your own bookkeeping; the gateway does not read it."</p>
                <FieldErr path="metadata".to_owned() />
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_shared::Limits;

    #[test]
    fn metadata_reads_objects_only() {
        assert!(parse_metadata("  ").expect("empty is none").is_empty());
        let map = parse_metadata(r#"{"owner": "data", "n": 3}"#).expect("an object");
        assert_eq!(map["n"], 3);
        assert!(parse_metadata("[1]").is_err());
        assert!(parse_metadata("{oops").is_err());
        assert_eq!(metadata_text(&BTreeMap::new()), "");
        assert_eq!(
            parse_metadata(&metadata_text(&map)).expect("round trip"),
            map
        );
    }

    #[test]
    fn the_form_round_trips_a_consumer_without_its_keys() {
        let spec = ConsumerSpec {
            name: "team-a".into(),
            description: "Support bot".into(),
            allowed_models: vec!["deepseek-*".into(), "qwen-*".into()],
            allowed_routes: vec!["deepseek".into()],
            limits: Limits {
                rpm: Some(60),
                tpm: Some(100_000),
                max_concurrent: Some(4),
                ..Limits::default()
            },
            budget: Some(switchyard_shared::metering::Budget {
                limit_usd: 50.0,
                period: switchyard_shared::metering::BudgetPeriod::Month,
                timezone: "UTC".into(),
                soft_limit_usd: Some(40.0),
            }),
            guardrails: vec!["pii-default".into()],
            disabled: true,
            metadata: [("owner".to_owned(), serde_json::json!("data"))].into(),
            keys: vec![switchyard_shared::ConsumerKey::default()],
        };
        let (built, errors) = ConsumerInputs::new(Some(&spec)).build();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            built,
            ConsumerSpec {
                keys: Vec::new(),
                ..spec
            }
        );
    }
}
