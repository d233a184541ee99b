//! Create and edit a provider (`/providers/new`, `/providers/:name`). The form is checked with the
//! shared validation before it is sent, and the server's field errors land on the same inputs.
//! API keys are write-only: stored keys come back masked, and sending a masked key back keeps it.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use switchyard_shared::secret::is_masked;
use switchyard_shared::validate::validate_provider;
use switchyard_shared::{FieldError, Protocol, ProviderSpec, ProviderType, Timeouts};

use crate::components::field::{FieldErr, TextField, invalid_attr, use_form_errors};
use crate::components::form_page::{FormFooter, FormHeader, SaveForm};
use crate::components::icons::Icon;
use crate::components::item::EditPage;
use crate::components::rows::{
    AddRowButton, PairRow, PairRows, TagList, commit_draft, rows_to_map,
};
use crate::form::{Parse, non_empty, opt_text, remap_index};
use crate::util::next_id;

mod checks;
mod type_picker;

use checks::{CheckInputs, FailoverInputs, FailoverSection, HealthCheckSection};
use type_picker::{TypeInfo, TypeSelect, base_url_placeholder, parse_kind};

#[component]
pub fn NewProviderPage() -> impl IntoView {
    view! { <ProviderForm spec=None /> }
}

/// Loads the provider named in the path, then shows the form.
#[component]
pub fn EditProviderPage() -> impl IntoView {
    view! {
        <EditPage form=Callback::new(|spec: ProviderSpec| {
            view! { <ProviderForm spec=Some(spec) /> }.into_any()
        }) />
    }
}

/// One API key row: a stored key shows its mask read-only, a new one is typed in a password input.
#[derive(Clone, Copy)]
struct KeyRow {
    id: u64,
    value: RwSignal<String>,
    stored: bool,
}

impl KeyRow {
    fn new(value: String, stored: bool) -> Self {
        KeyRow {
            id: next_id(),
            value: RwSignal::new(value),
            stored,
        }
    }
}

/// Every input of the form.
#[derive(Clone, Copy)]
struct ProviderInputs {
    editing: bool,
    original: StoredValue<Option<ProviderSpec>>,
    name: RwSignal<String>,
    kind: RwSignal<String>,
    base_url: RwSignal<String>,
    keys: RwSignal<Vec<KeyRow>>,
    models: RwSignal<Vec<String>>,
    model_draft: RwSignal<String>,
    mapping: RwSignal<Vec<PairRow>>,
    headers: RwSignal<Vec<PairRow>>,
    deployments: RwSignal<Vec<PairRow>>,
    connect_ms: RwSignal<String>,
    first_byte_ms: RwSignal<String>,
    idle_ms: RwSignal<String>,
    total_ms: RwSignal<String>,
    api_version: RwSignal<String>,
    default_max_tokens: RwSignal<String>,
    failover: FailoverInputs,
    check: CheckInputs,
}

impl ProviderInputs {
    fn new(spec: Option<&ProviderSpec>) -> Self {
        let text = |v: Option<String>| RwSignal::new(v.unwrap_or_default());
        let keys = match spec.and_then(|s| s.api_keys.as_ref()) {
            Some(keys) => keys
                .iter()
                .map(|k| KeyRow::new(k.clone(), is_masked(k)))
                .collect(),
            // A new provider starts with one empty key row, since most types need a key.
            None => vec![KeyRow::new(String::new(), false)],
        };
        ProviderInputs {
            editing: spec.is_some(),
            original: StoredValue::new(spec.cloned()),
            name: text(spec.map(|s| s.name.clone())),
            kind: RwSignal::new(
                spec.map_or(ProviderType::Openai, |s| s.kind)
                    .as_str()
                    .to_owned(),
            ),
            base_url: text(spec.and_then(|s| s.base_url.clone())),
            keys: RwSignal::new(keys),
            models: RwSignal::new(spec.map(|s| s.models.clone()).unwrap_or_default()),
            model_draft: RwSignal::new(String::new()),
            mapping: RwSignal::new(
                spec.map(|s| PairRow::from_map(&s.model_mapping))
                    .unwrap_or_default(),
            ),
            headers: RwSignal::new(
                spec.map(|s| PairRow::from_map(&s.headers))
                    .unwrap_or_default(),
            ),
            deployments: RwSignal::new(
                spec.map(|s| PairRow::from_map(&s.deployments))
                    .unwrap_or_default(),
            ),
            connect_ms: text(spec.map(|s| opt_text(s.timeouts.connect_ms))),
            first_byte_ms: text(spec.map(|s| opt_text(s.timeouts.first_byte_ms))),
            idle_ms: text(spec.map(|s| opt_text(s.timeouts.idle_ms))),
            total_ms: text(spec.map(|s| opt_text(s.timeouts.total_ms))),
            api_version: text(spec.and_then(|s| s.api_version.clone())),
            default_max_tokens: text(spec.map(|s| opt_text(s.default_max_tokens))),
            failover: FailoverInputs::new(spec.and_then(|s| s.token_failover.as_ref())),
            check: CheckInputs::new(spec.and_then(|s| s.health_check.as_ref())),
        }
    }

    fn kind(&self) -> ProviderType {
        parse_kind(&self.kind.get())
    }

    /// The spec to send, the inputs that could not be read, and for each key sent its row
    /// (empty key rows are left out, so the server's `api_keys[i]` needs translating back).
    fn build(&self) -> (ProviderSpec, Vec<FieldError>, Vec<usize>) {
        let mut parse = Parse::default();
        let kind = parse_kind(&self.kind.get_untracked());
        let protocol = kind.protocol();
        let mut key_rows = Vec::new();
        let mut keys = Vec::new();
        for (row, key) in self.keys.get_untracked().iter().enumerate() {
            let value = key.value.get_untracked().trim().to_owned();
            if !value.is_empty() {
                key_rows.push(row);
                keys.push(value);
            }
        }
        let original = self.original.get_value();
        let t = |s: RwSignal<String>| s.get_untracked();
        let spec = ProviderSpec {
            name: t(self.name).trim().to_owned(),
            kind,
            base_url: non_empty(&t(self.base_url)),
            api_keys: Some(keys),
            // The form has no price inputs: a provider's pricing overrides are kept as they were.
            pricing: original
                .as_ref()
                .map(|o| o.pricing.clone())
                .unwrap_or_default(),
            models: self.models.get_untracked(),
            model_mapping: rows_to_map(&self.mapping.get_untracked()),
            headers: rows_to_map(&self.headers.get_untracked()),
            timeouts: Timeouts {
                connect_ms: parse.opt_u64("timeouts.connect_ms", &t(self.connect_ms)),
                first_byte_ms: parse.opt_u64("timeouts.first_byte_ms", &t(self.first_byte_ms)),
                idle_ms: parse.opt_u64("timeouts.idle_ms", &t(self.idle_ms)),
                total_ms: parse.opt_u64("timeouts.total_ms", &t(self.total_ms)),
            },
            // Settings of another protocol are dropped, since the server rejects them.
            api_version: matches!(protocol, Protocol::AzureOpenAi | Protocol::Anthropic)
                .then(|| non_empty(&t(self.api_version)))
                .flatten(),
            deployments: if protocol == Protocol::AzureOpenAi {
                rows_to_map(&self.deployments.get_untracked())
            } else {
                Default::default()
            },
            default_max_tokens: if protocol == Protocol::Anthropic {
                parse.opt_u32("default_max_tokens", &t(self.default_max_tokens))
            } else {
                None
            },
            token_failover: self.failover.build(
                &mut parse,
                original
                    .as_ref()
                    .is_some_and(|o| o.token_failover.is_some()),
            ),
            health_check: self.check.build(
                &mut parse,
                original.as_ref().is_some_and(|o| o.health_check.is_some()),
            ),
            // Not on the form yet: kept as stored (Anthropic only).
            anthropic_betas: original
                .as_ref()
                .filter(|_| protocol == Protocol::Anthropic)
                .and_then(|o| o.anthropic_betas.clone()),
            // Not on the form yet: kept as stored.
            responses_api: original.as_ref().and_then(|o| o.responses_api),
            aws_region: original.as_ref().and_then(|o| o.aws_region.clone()),
        };
        (spec, parse.errors, key_rows)
    }
}

/// The index in an exact `api_keys[i]` path.
fn key_index(field: &str) -> Option<usize> {
    field
        .strip_prefix("api_keys[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Runs the shared validation, with paths translated to form rows. A masked key is the server's
/// to recognise as a stored one, so the client does not flag it.
fn check(spec: &ProviderSpec, mut errors: Vec<FieldError>, key_rows: &[usize]) -> Vec<FieldError> {
    if let Err(found) = validate_provider(spec) {
        let keys = spec.api_keys.as_deref().unwrap_or_default();
        for error in found.0 {
            let masked = key_index(&error.field)
                .and_then(|i| keys.get(i))
                .is_some_and(|k| is_masked(k));
            if !masked {
                errors.push(error);
            }
        }
    }
    server_paths_to_rows(errors, key_rows)
}

fn server_paths_to_rows(errors: Vec<FieldError>, key_rows: &[usize]) -> Vec<FieldError> {
    errors
        .into_iter()
        .map(|e| FieldError {
            field: remap_index(&e.field, "api_keys", key_rows),
            message: e.message,
        })
        .collect()
}

/// The models list's hint, with the models the type's preset suggests.
fn models_hint(kind: ProviderType) -> String {
    let base = "Listed by GET /v1/models. Press Enter or Add after each; commas separate several.";
    match kind.preset().suggested_models {
        [] => base.to_owned(),
        suggested => format!("{base} Common for this type: {}.", suggested.join(", ")),
    }
}

#[component]
fn ProviderForm(spec: Option<ProviderSpec>) -> impl IntoView {
    let inputs = ProviderInputs::new(spec.as_ref());
    let save = SaveForm::<ProviderSpec>::new(spec.as_ref().map(|s| s.name.clone()));

    let submit = move |ev: SubmitEvent| {
        if !save.begin(&ev) {
            return;
        }
        // A model typed but not yet added is surely meant to be saved too.
        commit_draft(inputs.models, inputs.model_draft);
        let (spec, parse_errors, key_rows) = inputs.build();
        let errors = check(&spec, parse_errors, &key_rows);
        save.send(spec, errors, move |fields| {
            server_paths_to_rows(fields, &key_rows)
        });
    };

    let title = match &spec {
        Some(spec) => format!("Edit provider {}", spec.name),
        None => "Create provider".to_owned(),
    };
    let protocol = Memo::new(move |_| inputs.kind().protocol());

    view! {
        <FormHeader save=save title=title subtitle="Where the gateway sends requests, and with which keys." />
        <form class="form form-page" on:submit=submit novalidate>
            <section class="card">
                <h2 class="card-title">"Basics"</h2>
                <div class="grid-2">
                    <TypeSelect value=inputs.kind />
                    <TextField
                        label="Name"
                        id="provider-name"
                        value=inputs.name
                        testid="provider-name"
                        path="name"
                        placeholder="e.g. deepseek"
                        readonly=inputs.editing
                        required=true
                        hint=if inputs.editing {
                            "A provider's name cannot change: routes refer to it."
                        } else {
                            "Lowercase letters, digits, '-' and '_'; routes refer to it."
                        }
                    />
                </div>
                <TextField
                    label="Base URL"
                    id="provider-base-url"
                    value=inputs.base_url
                    testid="provider-base-url"
                    path="base_url"
                    placeholder=Signal::derive(move || base_url_placeholder(inputs.kind()))
                    hint="Leave empty to use the type's default shown in grey. Paths such as /chat/completions are appended."
                />
                <TypeInfo kind=Signal::derive(move || inputs.kind()) />
            </section>

            <KeysSection inputs=inputs />

            <section class="card">
                <h2 class="card-title">"Models"</h2>
                <TagList
                    tags=inputs.models
                    draft=inputs.model_draft
                    prefix="models"
                    label="Models served"
                    id="provider-model-input"
                    placeholder="e.g. deepseek-chat"
                    hint=Signal::derive(move || models_hint(inputs.kind()))
                />
                <h3 class="sub-title">"Model mapping"</h3>
                <p class="hint">
                    "Rewrites the model name sent upstream. Keys may be exact names, a prefix ending in * or * alone; an empty target keeps the name."
                </p>
                <PairRows
                    rows=inputs.mapping
                    prefix="model_mapping"
                    left_label="From model"
                    right_label="To model"
                    left_placeholder="gpt-4o or gpt-* or *"
                    right_placeholder="deepseek-chat"
                    add_label="Add mapping"
                />
            </section>

            <Show when=move || protocol.get() != Protocol::OpenAi && protocol.get() != Protocol::Gemini>
                <section class="card">
                    <h2 class="card-title">"Protocol settings"</h2>
                    <TextField
                        label="API version"
                        id="provider-api-version"
                        value=inputs.api_version
                        testid="provider-api-version"
                        path="api_version"
                        placeholder=Signal::derive(move || {
                            if protocol.get() == Protocol::AzureOpenAi { "2024-10-21" } else { "2023-06-01" }
                                .to_owned()
                        })
                        hint="Azure: the api-version query parameter. Anthropic: the anthropic-version header."
                    />
                    <Show when=move || protocol.get() == Protocol::Anthropic>
                        <TextField
                            label="Default max_tokens"
                            id="provider-max-tokens"
                            value=inputs.default_max_tokens
                            testid="provider-default-max-tokens"
                            path="default_max_tokens"
                            numeric=true
                            placeholder="4096"
                            hint="Sent when a request sets none; Anthropic's API requires it."
                        />
                    </Show>
                    <Show when=move || protocol.get() == Protocol::AzureOpenAi>
                        <h3 class="sub-title">"Deployments"</h3>
                        <p class="hint">
                            "The deployment name per model; a model not listed is used as the deployment name."
                        </p>
                        <PairRows
                            rows=inputs.deployments
                            prefix="deployments"
                            left_label="Model"
                            right_label="Deployment"
                            left_placeholder="gpt-4o"
                            right_placeholder="prod-gpt-4o"
                            add_label="Add deployment"
                        />
                    </Show>
                </section>
            </Show>

            <section class="card">
                <h2 class="card-title">"Extra headers"</h2>
                <p class="hint">"Sent with every request to this provider."</p>
                <PairRows
                    rows=inputs.headers
                    prefix="headers"
                    left_label="Header name"
                    right_label="Value"
                    left_placeholder="X-Org-Id"
                    right_placeholder="value"
                    add_label="Add header"
                />
            </section>

            <section class="card">
                <h2 class="card-title">"Timeouts"</h2>
                <p class="hint">"In milliseconds; empty fields use the defaults shown."</p>
                <div class="grid-4">
                    <TextField
                        label="Connect"
                        id="provider-connect-ms"
                        value=inputs.connect_ms
                        path="timeouts.connect_ms"
                        numeric=true
                        placeholder=Timeouts::DEFAULTS[0].to_string()
                    />
                    <TextField
                        label="First byte"
                        id="provider-first-byte-ms"
                        value=inputs.first_byte_ms
                        path="timeouts.first_byte_ms"
                        numeric=true
                        placeholder=Timeouts::DEFAULTS[1].to_string()
                    />
                    <TextField
                        label="Idle between chunks"
                        id="provider-idle-ms"
                        value=inputs.idle_ms
                        path="timeouts.idle_ms"
                        numeric=true
                        placeholder=Timeouts::DEFAULTS[2].to_string()
                    />
                    <TextField
                        label="Total"
                        id="provider-total-ms"
                        value=inputs.total_ms
                        path="timeouts.total_ms"
                        numeric=true
                        placeholder=Timeouts::DEFAULTS[3].to_string()
                    />
                </div>
                <FieldErr path="timeouts".to_owned() />
            </section>

            <FailoverSection inputs=inputs.failover />
            <HealthCheckSection inputs=inputs.check />

            <FormFooter save=save />
        </form>
    }
}

#[component]
fn KeysSection(inputs: ProviderInputs) -> impl IntoView {
    let form = use_form_errors();
    let keys = inputs.keys;
    view! {
        <section class="card">
            <h2 class="card-title">"API keys"</h2>
            <p class="hint">
                "Write-only: stored keys show masked and stay stored while listed. One key is chosen per request; add several to spread load."
            </p>
            <div class="key-rows">
                {move || {
                    keys.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let path = format!("api_keys[{i}]");
                            let invalid_path = path.clone();
                            let input_id = format!("provider-key-input-{i}");
                            view! {
                                <div class="key-row">
                                    <label class="sr-only" for=input_id.clone()>
                                        {format!("API key {}", i + 1)}
                                    </label>
                                    {if row.stored {
                                        view! {
                                            <input
                                                id=input_id
                                                class="input mono"
                                                type="text"
                                                readonly=true
                                                data-testid=format!("provider-key-{i}")
                                                aria-invalid=invalid_attr(form, move || invalid_path.clone())
                                                prop:value=move || row.value.get()
                                            />
                                            <span class="badge badge-neutral" title="Stored on the gateway">
                                                "stored"
                                            </span>
                                        }
                                            .into_any()
                                    } else {
                                        view! {
                                            <input
                                                id=input_id
                                                class="input mono"
                                                type="password"
                                                autocomplete="off"
                                                placeholder="Paste a new API key"
                                                data-testid=format!("provider-key-{i}")
                                                aria-invalid=invalid_attr(form, move || invalid_path.clone())
                                                prop:value=move || row.value.get()
                                                on:input=move |ev| row.value.set(event_target_value(&ev))
                                            />
                                            <span class="badge badge-info">"new"</span>
                                        }
                                            .into_any()
                                    }}
                                    <button
                                        type="button"
                                        class="icon-btn"
                                        aria-label=format!("Remove API key {}", i + 1)
                                        data-testid=format!("provider-key-remove-{i}")
                                        on:click=move |_| keys.update(|list| list.retain(|k| k.id != row.id))
                                    >
                                        <Icon name="trash" size=16 />
                                    </button>
                                    <div class="pair-error">
                                        <FieldErr path=path />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="provider-key-add"
                label="Add API key"
                on_add=move |()| keys.update(|list| list.push(KeyRow::new(String::new(), false)))
            />
            <FieldErr path="api_keys".to_owned() />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_key_indexes() {
        assert_eq!(key_index("api_keys[3]"), Some(3));
        assert_eq!(key_index("api_keys"), None);
        assert_eq!(key_index("api_keys[x]"), None);
    }

    /// Editing a provider and saving it unchanged sends back exactly what was loaded.
    #[test]
    fn the_form_keeps_every_field_of_a_provider() {
        let spec: ProviderSpec = serde_json::from_value(serde_json::json!({
            "name": "claude",
            "type": "anthropic",
            "api_keys": ["sk-…abcd"],
            "models": ["claude-x"],
            "model_mapping": {"gpt-*": "claude-x"},
            "headers": {"X-Org": "o"},
            "timeouts": {"connect_ms": 5000, "total_ms": 60000},
            "api_version": "2023-06-01",
            "default_max_tokens": 4096,
            "token_failover": {"enabled": true, "failure_threshold": 5},
            "health_check": {"enabled": true, "model": "claude-x"},
        }))
        .expect("a provider");
        let (built, errors, rows) = ProviderInputs::new(Some(&spec)).build();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(rows, vec![0]);
        assert!(
            built == spec,
            "the provider changed on a save without edits"
        );
    }
}
