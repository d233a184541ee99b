//! Create and edit a guardrail policy (`/guardrails/new`, `/guardrails/:name`): its name and
//! description, whether it enforces or only monitors, its detectors, and whether answers are
//! checked too. Checked with the shared validation before it is sent.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use switchyard_shared::validate::validate_guardrail;
use switchyard_shared::{FieldError, GuardrailAction, GuardrailSpec, ResponseCheck};

use crate::components::field::{SelectField, TextField};
use crate::components::form_page::{FormFooter, FormHeader, SaveForm};
use crate::components::item::EditPage;
use crate::form::{from_wire, wire_name};

mod detectors;

use detectors::{DetectorRow, DetectorsSection};

#[component]
pub fn NewGuardrailPage() -> impl IntoView {
    view! { <GuardrailForm spec=None /> }
}

/// Loads the policy named in the path, then shows the form.
#[component]
pub fn EditGuardrailPage() -> impl IntoView {
    view! {
        <EditPage form=Callback::new(|spec: GuardrailSpec| {
            view! { <GuardrailForm spec=Some(spec) /> }.into_any()
        }) />
    }
}

/// What `on_response` is set to when answers are not checked.
const NOT_CHECKED: &str = "none";

/// Every input of the guardrail form.
#[derive(Clone, Copy)]
struct GuardrailInputs {
    editing: bool,
    name: RwSignal<String>,
    description: RwSignal<String>,
    mode: RwSignal<String>,
    detectors: RwSignal<Vec<DetectorRow>>,
    on_response: RwSignal<String>,
}

impl GuardrailInputs {
    fn new(spec: Option<&GuardrailSpec>) -> Self {
        let detectors = match spec {
            Some(spec) => spec
                .detectors
                .iter()
                .map(|d| DetectorRow::new(Some(d)))
                .collect(),
            None => vec![DetectorRow::new(None)],
        };
        let on_response = spec
            .and_then(|s| s.on_response)
            .map_or_else(|| NOT_CHECKED.to_owned(), |c| wire_name(&c.action));
        GuardrailInputs {
            editing: spec.is_some(),
            name: RwSignal::new(spec.map(|s| s.name.clone()).unwrap_or_default()),
            description: RwSignal::new(spec.map(|s| s.description.clone()).unwrap_or_default()),
            mode: RwSignal::new(wire_name(&spec.map(|s| s.mode).unwrap_or_default())),
            detectors: RwSignal::new(detectors),
            on_response: RwSignal::new(on_response),
        }
    }

    fn build(&self) -> GuardrailSpec {
        GuardrailSpec {
            name: self.name.get_untracked().trim().to_owned(),
            description: self.description.get_untracked().trim().to_owned(),
            mode: from_wire(&self.mode.get_untracked()).unwrap_or_default(),
            detectors: self
                .detectors
                .get_untracked()
                .iter()
                .map(DetectorRow::build)
                .collect(),
            on_response: from_wire::<GuardrailAction>(&self.on_response.get_untracked())
                .map(|action| ResponseCheck { action }),
        }
    }
}

fn check(spec: &GuardrailSpec) -> Vec<FieldError> {
    validate_guardrail(spec)
        .err()
        .map(|e| e.0)
        .unwrap_or_default()
}

fn choices(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(value, text)| ((*value).to_owned(), (*text).to_owned()))
        .collect()
}

#[component]
fn GuardrailForm(spec: Option<GuardrailSpec>) -> impl IntoView {
    let inputs = GuardrailInputs::new(spec.as_ref());
    let save = SaveForm::<GuardrailSpec>::new(spec.as_ref().map(|s| s.name.clone()));
    let submit = move |ev: SubmitEvent| {
        if !save.begin(&ev) {
            return;
        }
        let spec = inputs.build();
        let errors = check(&spec);
        save.send(spec, errors, |fields| fields);
    };
    let title = match &spec {
        Some(spec) => format!("Edit guardrail policy {}", spec.name),
        None => "Create guardrail policy".to_owned(),
    };
    let modes = choices(&[
        (
            "enforce",
            "Enforce: block, mask, hash or redact as each detector says",
        ),
        (
            "monitor",
            "Monitor: record hits in the logs, change nothing",
        ),
    ]);
    let answers = choices(&[
        (NOT_CHECKED, "Not checked"),
        ("mask", "Mask what the detectors find"),
        ("block", "Block the answer (content_filtered error)"),
    ]);

    view! {
        <FormHeader
            save=save
            title=title
            subtitle="Keeps personal data and secrets from reaching a model, or from coming back in its answers."
        />
        <form class="form form-page" on:submit=submit novalidate>
            <section class="card">
                <h2 class="card-title">"Basics"</h2>
                <div class="grid-2">
                    <TextField
                        label="Name"
                        id="guardrail-name"
                        value=inputs.name
                        testid="guardrail-form-name"
                        path="name"
                        placeholder="e.g. pii-default"
                        readonly=inputs.editing
                        required=true
                        hint=if inputs.editing {
                            "A policy's name cannot change: routes and consumers refer to it."
                        } else {
                            "Lowercase letters, digits, '-' and '_'."
                        }
                    />
                    <TextField
                        label="Description"
                        id="guardrail-description"
                        value=inputs.description
                        testid="guardrail-form-description"
                        path="description"
                        placeholder="e.g. No customer data to public models"
                    />
                </div>
                <SelectField
                    label="Mode"
                    id="guardrail-mode"
                    value=inputs.mode
                    options=modes
                    testid="guardrail-form-mode"
                    path="mode"
                    hint="Monitor first to see what a policy would catch, then enforce it."
                />
            </section>

            <DetectorsSection rows=inputs.detectors />

            <section class="card">
                <h2 class="card-title">"Answers"</h2>
                <SelectField
                    label="When an answer holds something the detectors find"
                    id="guardrail-on-response"
                    value=inputs.on_response
                    options=answers
                    testid="guardrail-form-on-response"
                    path="on_response.action"
                    hint="Checks the model's answer with the same detectors before the client sees it."
                />
            </section>

            <FormFooter save=save />
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_shared::{DetectorSpec, DetectorType, GuardrailMode};

    fn detector(kind: DetectorType, action: GuardrailAction) -> DetectorSpec {
        DetectorSpec {
            kind,
            action,
            label: None,
            pattern: None,
            words: Vec::new(),
        }
    }

    /// Editing a policy and saving it unchanged sends back exactly what was loaded.
    #[test]
    fn the_form_keeps_every_field_of_a_policy() {
        let spec = GuardrailSpec {
            name: "pii-default".into(),
            description: "No customer data".into(),
            mode: GuardrailMode::Monitor,
            detectors: vec![
                detector(DetectorType::Email, GuardrailAction::Mask),
                DetectorSpec {
                    label: Some("CARD".into()),
                    ..detector(DetectorType::CreditCard, GuardrailAction::Block)
                },
                DetectorSpec {
                    label: Some("EMPLOYEE_ID".into()),
                    pattern: Some("E\\d{6}".into()),
                    ..detector(DetectorType::Regex, GuardrailAction::Hash)
                },
                DetectorSpec {
                    words: vec!["project-x".into(), "codename falcon".into()],
                    ..detector(DetectorType::DenyWords, GuardrailAction::RedactRestore)
                },
            ],
            on_response: Some(ResponseCheck {
                action: GuardrailAction::Block,
            }),
        };
        let built = GuardrailInputs::new(Some(&spec)).build();
        assert_eq!(built, spec);
        assert!(check(&built).is_empty(), "{:?}", check(&built));
    }

    #[test]
    fn a_new_policy_starts_with_one_detector_and_no_answer_check() {
        let built = GuardrailInputs::new(None).build();
        assert_eq!(
            built.detectors,
            vec![detector(DetectorType::Email, GuardrailAction::Mask)]
        );
        assert_eq!(built.mode, GuardrailMode::Enforce);
        assert_eq!(built.on_response, None);
        // Only the name is missing.
        let fields: Vec<String> = check(&built).into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["name"]);
    }
}
