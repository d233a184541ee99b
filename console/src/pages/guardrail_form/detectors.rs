//! The guardrail form's detector rows: each one's type, action and label, plus the pattern of a
//! custom regex and the words of a deny list, shown only for those types. Rows are sent as they
//! are, so `detectors[i]` in an error is row `i` of the form.

use leptos::prelude::*;
use serde::Serialize;
use switchyard_shared::{DetectorSpec, DetectorType, GuardrailAction};

use crate::components::field::{FieldErr, invalid_attr, use_form_errors};
use crate::components::rows::{AddRowButton, RemoveRowButton};
use crate::form::{from_wire, non_empty, wire_name};
use crate::util::next_id;

/// The detector types, as the type select names them.
const DETECTOR_TYPES: [(DetectorType, &str); 10] = [
    (DetectorType::Email, "Email address"),
    (DetectorType::Phone, "Phone number"),
    (DetectorType::CreditCard, "Payment card number"),
    (DetectorType::Iban, "IBAN"),
    (DetectorType::CnResidentId, "China resident ID"),
    (DetectorType::UsSsn, "US social security number"),
    (DetectorType::IpAddress, "IP address"),
    (DetectorType::Secret, "API key or token"),
    (DetectorType::Regex, "Custom pattern (regex)"),
    (DetectorType::DenyWords, "Deny words"),
];

/// The actions, as the action select names them.
const ACTIONS: [(GuardrailAction, &str); 4] = [
    (GuardrailAction::Block, "Block the request"),
    (GuardrailAction::Mask, "Mask"),
    (GuardrailAction::Hash, "Hash"),
    (GuardrailAction::RedactRestore, "Redact and restore"),
];

/// One editable detector; the signals live as long as the form.
#[derive(Clone, Copy)]
pub struct DetectorRow {
    id: u64,
    kind: RwSignal<String>,
    action: RwSignal<String>,
    label: RwSignal<String>,
    pattern: RwSignal<String>,
    /// One word or phrase per line.
    words: RwSignal<String>,
}

impl DetectorRow {
    /// A row for a detector, or a new one (email, mask).
    pub fn new(spec: Option<&DetectorSpec>) -> Self {
        let text = |value: Option<&String>| RwSignal::new(value.cloned().unwrap_or_default());
        DetectorRow {
            id: next_id(),
            kind: RwSignal::new(wire_name(&spec.map_or(DetectorType::Email, |d| d.kind))),
            action: RwSignal::new(wire_name(&spec.map_or(GuardrailAction::Mask, |d| d.action))),
            label: text(spec.and_then(|d| d.label.as_ref())),
            pattern: text(spec.and_then(|d| d.pattern.as_ref())),
            words: RwSignal::new(spec.map(|d| d.words.join("\n")).unwrap_or_default()),
        }
    }

    /// The detector to send. A pattern or words typed for another type are left out, so that
    /// switching a row's type never sends what the new type does not take.
    pub fn build(&self) -> DetectorSpec {
        let kind = from_wire(&self.kind.get_untracked()).unwrap_or(DetectorType::Email);
        let pattern = self.pattern.get_untracked();
        DetectorSpec {
            kind,
            action: from_wire(&self.action.get_untracked()).unwrap_or(GuardrailAction::Mask),
            // Labels are upper case; typing `employee_id` surely means `EMPLOYEE_ID`.
            label: non_empty(&self.label.get_untracked()).map(|l| l.to_ascii_uppercase()),
            pattern: (kind == DetectorType::Regex && !pattern.is_empty()).then_some(pattern),
            words: if kind == DetectorType::DenyWords {
                split_words(&self.words.get_untracked())
            } else {
                Vec::new()
            },
        }
    }
}

/// The words of a deny list: one word or phrase per line, blank lines left out.
pub fn split_words(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `<option>`s of a select over an enum, each marking itself selected.
fn options<T: Serialize>(
    choices: &'static [(T, &'static str)],
    value: RwSignal<String>,
) -> impl IntoView + use<T> {
    choices
        .iter()
        .map(|(choice, text)| {
            let name = wire_name(choice);
            let current = name.clone();
            view! {
                <option value=name selected=move || value.get() == current>
                    {*text}
                </option>
            }
        })
        .collect_view()
}

#[component]
pub fn DetectorsSection(rows: RwSignal<Vec<DetectorRow>>) -> impl IntoView {
    view! {
        <section class="card">
            <h2 class="card-title">"Detectors"</h2>
            <p class="hint">
                "What the policy looks for in every message, and what happens to each value found. Block refuses the request (400 content_filtered, naming the detector, never the value); mask replaces the value with [LABEL]; hash with a stable digest, so equal values stay equal; redact and restore replaces it before the request leaves and puts it back in the answer."
            </p>
            <div class="detector-head" aria-hidden="true">
                <span>"Finds"</span>
                <span>"Then"</span>
                <span>"Label"</span>
            </div>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| view! { <DetectorRowView row=row index=i rows=rows /> })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="guardrail-form-detector-add"
                label="Add detector"
                on_add=move |()| rows.update(|l| l.push(DetectorRow::new(None)))
            />
            <FieldErr path="detectors".to_owned() />
        </section>
    }
}

#[component]
fn DetectorRowView(
    row: DetectorRow,
    index: usize,
    rows: RwSignal<Vec<DetectorRow>>,
) -> impl IntoView {
    let form = use_form_errors();
    let (i, n) = (index, index + 1);
    let path = move |field: &str| format!("detectors[{i}].{field}");
    let is = move |kind: DetectorType| row.kind.get() == kind.as_str();
    // The label a detector reports under when none is typed.
    let default_label = move || match from_wire::<DetectorType>(&row.kind.get()) {
        Some(DetectorType::Regex) | None => "e.g. EMPLOYEE_ID".to_owned(),
        Some(kind) => kind.as_str().to_ascii_uppercase(),
    };
    let word_errors = move || {
        (0..split_words(&row.words.get()).len())
            .map(|w| view! { <FieldErr path=path(&format!("words[{w}]")) /> })
            .collect_view()
    };
    view! {
        <div class="detector" data-testid=format!("guardrail-form-detector-{i}") data-type=move || row.kind.get()>
            <div class="detector-row">
                <select
                    class="input"
                    aria-label=format!("What detector {n} finds")
                    data-testid=format!("guardrail-form-detector-type-{i}")
                    aria-invalid=invalid_attr(form, move || path("type"))
                    on:change=move |ev| row.kind.set(event_target_value(&ev))
                >
                    {options(&DETECTOR_TYPES, row.kind)}
                </select>
                <select
                    class="input"
                    aria-label=format!("What detector {n} does")
                    data-testid=format!("guardrail-form-detector-action-{i}")
                    aria-invalid=invalid_attr(form, move || path("action"))
                    on:change=move |ev| row.action.set(event_target_value(&ev))
                >
                    {options(&ACTIONS, row.action)}
                </select>
                <input
                    class="input mono"
                    aria-label=format!("Label of detector {n}")
                    data-testid=format!("guardrail-form-detector-label-{i}")
                    placeholder=default_label
                    aria-invalid=invalid_attr(form, move || path("label"))
                    prop:value=move || row.label.get()
                    on:input=move |ev| row.label.set(event_target_value(&ev))
                />
                <RemoveRowButton
                    label=format!("Remove detector {n}")
                    on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                />
            </div>
            <Show when=move || is(DetectorType::Regex)>
                <input
                    class="input mono"
                    aria-label=format!("Pattern of detector {n}")
                    data-testid=format!("guardrail-form-detector-pattern-{i}")
                    placeholder="Regular expression, e.g. E\\d{6}"
                    aria-invalid=invalid_attr(form, move || path("pattern"))
                    prop:value=move || row.pattern.get()
                    on:input=move |ev| row.pattern.set(event_target_value(&ev))
                />
            </Show>
            <Show when=move || is(DetectorType::DenyWords)>
                <textarea
                    class="input textarea mono"
                    rows="3"
                    aria-label=format!("Words of detector {n}, one per line")
                    data-testid=format!("guardrail-form-detector-words-{i}")
                    placeholder="One word or phrase per line; matched ignoring case"
                    aria-invalid=invalid_attr(form, move || path("words"))
                    prop:value=move || row.words.get()
                    on:input=move |ev| row.words.set(event_target_value(&ev))
                ></textarea>
            </Show>
            <div class="pair-error">
                <FieldErr path=path("type") />
                <FieldErr path=path("action") />
                <FieldErr path=path("label") />
                <FieldErr path=path("pattern") />
                <FieldErr path=path("words") />
                {word_errors}
            </div>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_lines() {
        assert_eq!(
            split_words(" project-x \n\n codename falcon\n"),
            vec!["project-x", "codename falcon"]
        );
    }

    #[test]
    fn a_row_sends_only_what_its_type_takes() {
        let row = DetectorRow::new(None);
        row.pattern.set("E\\d{6}".into());
        row.words.set("secret".into());
        row.label.set("employee_id".into());
        let built = row.build();
        assert_eq!(built.kind, DetectorType::Email);
        assert_eq!(built.pattern, None);
        assert!(built.words.is_empty());
        assert_eq!(built.label.as_deref(), Some("EMPLOYEE_ID"));
        row.kind.set("regex".into());
        assert_eq!(row.build().pattern.as_deref(), Some("E\\d{6}"));
    }
}
