//! Form fields and their errors. A form's errors are keyed by the field paths the shared validation
//! and the server use (`upstreams[0].weight`); each [`FieldErr`] shows the error of its path next
//! to its input and registers that path, so [`FormErrorList`] can list the errors no input claims.

use std::collections::BTreeMap;

use leptos::prelude::*;
use switchyard_shared::FieldError;

/// The errors of one form, shared through context with its fields.
#[derive(Clone, Copy)]
pub struct FormErrors {
    errors: RwSignal<Vec<FieldError>>,
    /// Paths that have a [`FieldErr`] on the page, with how many show them.
    shown: RwSignal<BTreeMap<String, usize>>,
    /// A failure that belongs to no field, such as a network error.
    general: RwSignal<Option<String>>,
}

impl FormErrors {
    /// Creates the errors of a new form and provides them to its fields.
    pub fn provide() -> Self {
        let errors = FormErrors {
            errors: RwSignal::new(Vec::new()),
            shown: RwSignal::new(BTreeMap::new()),
            general: RwSignal::new(None),
        };
        provide_context(errors);
        errors
    }

    pub fn set(&self, errors: Vec<FieldError>) {
        self.errors.set(errors);
    }

    /// Shows a submit's client-side errors and focuses the first invalid input, so the operator
    /// sees what to fix; returns whether there were any, which means the submit must stop.
    pub fn reject(&self, errors: Vec<FieldError>) -> bool {
        if errors.is_empty() {
            return false;
        }
        self.set(errors);
        crate::util::focus_first_invalid();
        true
    }

    pub fn set_general(&self, message: Option<String>) {
        self.general.set(message);
    }

    pub fn clear(&self) {
        self.errors.set(Vec::new());
        self.general.set(None);
    }

    /// The message for one path; several errors of the same path are joined.
    pub fn message(&self, path: &str) -> Option<String> {
        self.errors.with(|errors| {
            let messages: Vec<&str> = errors
                .iter()
                .filter(|e| e.field == path)
                .map(|e| e.message.as_str())
                .collect();
            (!messages.is_empty()).then(|| messages.join("; "))
        })
    }

    pub fn has(&self, path: &str) -> bool {
        self.errors
            .with(|errors| errors.iter().any(|e| e.field == path))
    }

    /// The errors whose path has no [`FieldErr`] on the page.
    pub fn unmatched(&self) -> Vec<FieldError> {
        let shown = self.shown.get();
        self.errors.with(|errors| {
            errors
                .iter()
                .filter(|e| !shown.contains_key(&e.field))
                .cloned()
                .collect()
        })
    }

    fn register(&self, path: &str) {
        self.shown
            .try_update(|shown| *shown.entry(path.to_owned()).or_default() += 1);
    }

    fn unregister(&self, path: &str) {
        self.shown.try_update(|shown| {
            if let Some(count) = shown.get_mut(path) {
                *count -= 1;
                if *count == 0 {
                    shown.remove(path);
                }
            }
        });
    }
}

pub fn use_form_errors() -> FormErrors {
    expect_context::<FormErrors>()
}

/// The id of the element that shows a path's error, for `aria-describedby`.
pub fn error_id(path: &str) -> String {
    format!("err-{path}")
}

/// Shows the error of one field path (`data-testid="field-error-<path>"`) while there is one.
#[component]
pub fn FieldErr(#[prop(into)] path: Signal<String>) -> impl IntoView {
    let form = use_form_errors();
    let registered = StoredValue::new(None::<String>);
    // The path can change (a model mapping row's path follows its key), so registration follows it.
    Effect::new(move |previous: Option<String>| {
        let current = path.get();
        if let Some(previous) = previous {
            form.unregister(&previous);
        }
        form.register(&current);
        registered.set_value(Some(current.clone()));
        current
    });
    on_cleanup(move || {
        if let Some(Some(path)) = registered.try_get_value() {
            form.unregister(&path);
        }
    });
    move || {
        let path = path.get();
        form.message(&path).map(|message| {
            view! {
                <p class="field-error" id=error_id(&path) data-testid=format!("field-error-{path}")>
                    {message}
                </p>
            }
        })
    }
}

/// The form-level alert: a general failure and the errors no field shows.
#[component]
pub fn FormErrorList() -> impl IntoView {
    let form = use_form_errors();
    move || {
        let unmatched = form.unmatched();
        let general = form.general.get();
        (general.is_some() || !unmatched.is_empty()).then(|| {
            view! {
                <div class="alert alert-error" role="alert" data-testid="form-errors">
                    {general.map(|message| view! { <p>{message}</p> })}
                    {(!unmatched.is_empty())
                        .then(|| {
                            view! {
                                <p>"Please correct these settings:"</p>
                                <ul>
                                    {unmatched
                                        .into_iter()
                                        .map(|e| {
                                            view! {
                                                <li>
                                                    <code>{e.field}</code>
                                                    " "
                                                    {e.message}
                                                </li>
                                            }
                                        })
                                        .collect_view()}
                                </ul>
                            }
                        })}
                </div>
            }
        })
    }
}

/// A labelled text input bound to a signal, with its hint and its error.
#[component]
pub fn TextField(
    #[prop(into)] label: String,
    /// The element id, which the label points at.
    #[prop(into)]
    id: String,
    value: RwSignal<String>,
    /// The field path whose error shows under the input.
    #[prop(optional, into)]
    path: Option<String>,
    #[prop(optional, into)] testid: Option<String>,
    #[prop(optional, into)] placeholder: MaybeProp<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] readonly: bool,
    #[prop(optional)] numeric: bool,
    #[prop(optional)] required: bool,
    #[prop(optional)] autocomplete: Option<&'static str>,
) -> impl IntoView {
    let form = use_context::<FormErrors>();
    let hint_id = hint.as_ref().map(|_| format!("{id}-hint"));
    let path_for_attrs = path.clone();
    let invalid = move || {
        let invalid = match (&path_for_attrs, form) {
            (Some(path), Some(form)) => form.has(path),
            _ => false,
        };
        if invalid { "true" } else { "false" }
    };
    let path_for_describe = path.clone();
    let hint_for_describe = hint_id.clone();
    let described_by = move || {
        let mut ids = Vec::new();
        if let (Some(path), Some(form)) = (&path_for_describe, form)
            && form.has(path)
        {
            ids.push(error_id(path));
        }
        ids.extend(hint_for_describe.clone());
        (!ids.is_empty()).then(|| ids.join(" "))
    };
    view! {
        <div class="field">
            <label for=id.clone()>
                {label}
                {required.then(|| view! { <span class="required" aria-hidden="true">" *"</span> })}
            </label>
            <input
                id=id
                type=kind
                class="input"
                data-testid=testid
                placeholder=move || placeholder.get()
                readonly=readonly
                required=required
                inputmode=numeric.then_some("numeric")
                autocomplete=autocomplete
                aria-invalid=invalid
                aria-describedby=described_by
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            {hint.map(|hint| view! { <p class="hint" id=hint_id.clone()>{hint}</p> })}
            {path.map(|path| view! { <FieldErr path=path /> })}
        </div>
    }
}

/// A labelled checkbox bound to a signal.
#[component]
pub fn Checkbox(
    #[prop(into)] label: String,
    #[prop(into)] id: String,
    checked: RwSignal<bool>,
    #[prop(optional, into)] testid: Option<String>,
    #[prop(optional, into)] hint: Option<String>,
) -> impl IntoView {
    view! {
        <div class="check">
            <input
                id=id.clone()
                type="checkbox"
                data-testid=testid
                prop:checked=move || checked.get()
                on:change=move |ev| checked.set(event_target_checked(&ev))
            />
            <label for=id>{label}</label>
            {hint.map(|hint| view! { <span class="hint inline-hint">{hint}</span> })}
        </div>
    }
}

/// A labelled select bound to a signal. Each option marks itself selected, because a `value`
/// property set before the options exist would be lost.
#[component]
pub fn SelectField(
    #[prop(into)] label: String,
    #[prop(into)] id: String,
    value: RwSignal<String>,
    /// `(value, label)` pairs.
    #[prop(into)]
    options: Signal<Vec<(String, String)>>,
    #[prop(optional, into)] testid: Option<String>,
    #[prop(optional, into)] path: Option<String>,
    #[prop(optional, into)] hint: Option<String>,
    #[prop(optional)] disabled: bool,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <select
                id=id
                class="input"
                data-testid=testid
                disabled=disabled
                on:change=move |ev| value.set(event_target_value(&ev))
            >
                {move || {
                    options
                        .get()
                        .into_iter()
                        .map(|(option, text)| {
                            let selected = value.get() == option;
                            view! {
                                <option value=option selected=selected>
                                    {text}
                                </option>
                            }
                        })
                        .collect_view()
                }}
            </select>
            {hint.map(|hint| view! { <p class="hint">{hint}</p> })}
            {path.map(|path| view! { <FieldErr path=path /> })}
        </div>
    }
}

/// `aria-invalid` for an input whose error path is computed, such as a list row's.
pub fn invalid_attr(
    form: FormErrors,
    path: impl Fn() -> String + Send + Sync + 'static,
) -> impl Fn() -> &'static str + Send + Sync + 'static {
    move || if form.has(&path()) { "true" } else { "false" }
}
