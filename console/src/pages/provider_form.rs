//! Create and edit a provider (`/providers/new`, `/providers/:name`). The form is checked with the
//! shared validation before it is sent, and the server's field errors land on the same inputs.
//! API keys are write-only: stored keys come back masked, and sending a masked key back keeps it.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use switchyard_shared::secret::is_masked;
use switchyard_shared::validate::validate_provider;
use switchyard_shared::{
    FieldError, HealthCheck, Protocol, ProviderSpec, ProviderType, Timeouts, TokenFailover,
};

use crate::api;
use crate::components::field::{
    Checkbox, FieldErr, FormErrorList, FormErrors, SelectField, TextField, invalid_attr,
    use_form_errors,
};
use crate::components::icons::Icon;
use crate::components::item::EditPage;
use crate::components::page::PageHeader;
use crate::components::rows::{
    AddRowButton, PairRow, PairRows, TagList, commit_draft, rows_to_map,
};
use crate::components::toast::use_toasts;
use crate::form::{Parse, format_statuses, non_empty, opt_text, remap_index};
use crate::util::{focus_first_invalid, next_id};

#[component]
pub fn NewProviderPage() -> impl IntoView {
    view! { <ProviderForm spec=None /> }
}

/// Loads the provider named in the path, then shows the form.
#[component]
pub fn EditProviderPage() -> impl IntoView {
    view! {
        <EditPage
            api_prefix="/api/providers"
            noun="provider"
            back_href="/providers"
            form=Callback::new(|spec: ProviderSpec| view! { <ProviderForm spec=Some(spec) /> }.into_any())
        />
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

/// The token failover inputs; empty numbers take the defaults shown as placeholders.
#[derive(Clone, Copy)]
struct FailoverInputs {
    enabled: RwSignal<bool>,
    failure_threshold: RwSignal<String>,
    success_threshold: RwSignal<String>,
    interval_ms: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    model: RwSignal<String>,
    cooldown_ms: RwSignal<String>,
    on_status: RwSignal<String>,
}

impl FailoverInputs {
    fn new(spec: Option<&TokenFailover>) -> Self {
        let text = |v: Option<String>| RwSignal::new(v.unwrap_or_default());
        FailoverInputs {
            enabled: RwSignal::new(spec.is_some_and(|f| f.enabled)),
            failure_threshold: text(spec.map(|f| f.failure_threshold.to_string())),
            success_threshold: text(spec.map(|f| f.success_threshold.to_string())),
            interval_ms: text(spec.map(|f| f.health_check_interval_ms.to_string())),
            timeout_ms: text(spec.map(|f| f.health_check_timeout_ms.to_string())),
            model: text(spec.and_then(|f| f.health_check_model.clone())),
            cooldown_ms: text(spec.and_then(|f| f.cooldown_ms.map(|c| c.to_string()))),
            on_status: text(spec.map(|f| format_statuses(&f.on_status))),
        }
    }

    /// `None` unless failover is on, or was configured before (then it is kept, maybe disabled).
    fn build(&self, parse: &mut Parse, configured_before: bool) -> Option<TokenFailover> {
        let enabled = self.enabled.get_untracked();
        if !enabled && !configured_before {
            return None;
        }
        let d = TokenFailover::default();
        let t = |s: RwSignal<String>| s.get_untracked();
        Some(TokenFailover {
            enabled,
            failure_threshold: parse.u32_or(
                "token_failover.failure_threshold",
                &t(self.failure_threshold),
                d.failure_threshold,
            ),
            success_threshold: parse.u32_or(
                "token_failover.success_threshold",
                &t(self.success_threshold),
                d.success_threshold,
            ),
            health_check_interval_ms: parse.u64_or(
                "token_failover.health_check_interval_ms",
                &t(self.interval_ms),
                d.health_check_interval_ms,
            ),
            health_check_timeout_ms: parse.u64_or(
                "token_failover.health_check_timeout_ms",
                &t(self.timeout_ms),
                d.health_check_timeout_ms,
            ),
            health_check_model: non_empty(&t(self.model)),
            cooldown_ms: parse.opt_u64("token_failover.cooldown_ms", &t(self.cooldown_ms)),
            on_status: parse.statuses("token_failover.on_status", &t(self.on_status), d.on_status),
        })
    }
}

/// The health check inputs: active checks (`enabled`, interval, timeout, path or model) and the
/// passive circuit breaker's thresholds, which apply even with active checks off.
#[derive(Clone, Copy)]
struct CheckInputs {
    enabled: RwSignal<bool>,
    interval_ms: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    /// `path` (a GET) or `model` (a one-token chat).
    target: RwSignal<String>,
    path: RwSignal<String>,
    model: RwSignal<String>,
    unhealthy_after: RwSignal<String>,
    healthy_after: RwSignal<String>,
    cooldown_ms: RwSignal<String>,
    max_cooldown_ms: RwSignal<String>,
}

impl CheckInputs {
    fn new(spec: Option<&HealthCheck>) -> Self {
        let text = |v: Option<String>| RwSignal::new(v.unwrap_or_default());
        let uses_model = spec.is_some_and(|c| c.model.is_some());
        CheckInputs {
            enabled: RwSignal::new(spec.is_some_and(|c| c.enabled)),
            interval_ms: text(spec.map(|c| c.interval_ms.to_string())),
            timeout_ms: text(spec.map(|c| c.timeout_ms.to_string())),
            target: RwSignal::new(if uses_model { "model" } else { "path" }.to_owned()),
            path: text(spec.and_then(|c| c.path.clone())),
            model: text(spec.and_then(|c| c.model.clone())),
            unhealthy_after: text(spec.map(|c| c.unhealthy_after.to_string())),
            healthy_after: text(spec.map(|c| c.healthy_after.to_string())),
            cooldown_ms: text(spec.map(|c| c.cooldown_ms.to_string())),
            max_cooldown_ms: text(spec.map(|c| c.max_cooldown_ms.to_string())),
        }
    }

    /// `None` while everything is at its default and nothing was configured before.
    fn build(&self, parse: &mut Parse, configured_before: bool) -> Option<HealthCheck> {
        let d = HealthCheck::default();
        let t = |s: RwSignal<String>| s.get_untracked();
        let uses_model = self.target.get_untracked() == "model";
        let check = HealthCheck {
            enabled: self.enabled.get_untracked(),
            interval_ms: parse.u64_or(
                "health_check.interval_ms",
                &t(self.interval_ms),
                d.interval_ms,
            ),
            timeout_ms: parse.u64_or("health_check.timeout_ms", &t(self.timeout_ms), d.timeout_ms),
            path: if uses_model {
                None
            } else {
                non_empty(&t(self.path))
            },
            model: if uses_model {
                non_empty(&t(self.model))
            } else {
                None
            },
            unhealthy_after: parse.u32_or(
                "health_check.unhealthy_after",
                &t(self.unhealthy_after),
                d.unhealthy_after,
            ),
            healthy_after: parse.u32_or(
                "health_check.healthy_after",
                &t(self.healthy_after),
                d.healthy_after,
            ),
            cooldown_ms: parse.u64_or(
                "health_check.cooldown_ms",
                &t(self.cooldown_ms),
                d.cooldown_ms,
            ),
            max_cooldown_ms: parse.u64_or(
                "health_check.max_cooldown_ms",
                &t(self.max_cooldown_ms),
                d.max_cooldown_ms,
            ),
        };
        (configured_before || check != d).then_some(check)
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

/// The provider type named by a select value.
fn parse_kind(value: &str) -> ProviderType {
    ProviderType::ALL
        .into_iter()
        .find(|t| t.as_str() == value)
        .unwrap_or(ProviderType::Openai)
}

/// A readable name for each type in the picker.
fn kind_label(kind: ProviderType) -> &'static str {
    match kind {
        ProviderType::Openai => "OpenAI",
        ProviderType::Anthropic => "Anthropic (Claude)",
        ProviderType::Gemini => "Google Gemini",
        ProviderType::Azure => "Azure OpenAI",
        ProviderType::Deepseek => "DeepSeek",
        ProviderType::Qwen => "Qwen (DashScope)",
        ProviderType::Moonshot => "Moonshot (Kimi)",
        ProviderType::Zhipu => "Zhipu (GLM)",
        ProviderType::Groq => "Groq",
        ProviderType::Mistral => "Mistral",
        ProviderType::Together => "Together AI",
        ProviderType::Xai => "xAI (Grok)",
        ProviderType::Openrouter => "OpenRouter",
        ProviderType::Fireworks => "Fireworks AI",
        ProviderType::Siliconflow => "SiliconFlow",
        ProviderType::Ollama => "Ollama",
        ProviderType::Vllm => "vLLM",
        ProviderType::OpenaiCompatible => "OpenAI-compatible (any)",
    }
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

#[component]
fn ProviderForm(spec: Option<ProviderSpec>) -> impl IntoView {
    let toasts = use_toasts();
    let navigate = use_navigate();
    let form = FormErrors::provide();
    let inputs = ProviderInputs::new(spec.as_ref());
    let busy = RwSignal::new(false);
    let original_name = spec.as_ref().map(|s| s.name.clone());

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        // A model typed but not yet added is surely meant to be saved too.
        commit_draft(inputs.models, inputs.model_draft);
        let (spec, parse_errors, key_rows) = inputs.build();
        let errors = check(&spec, parse_errors, &key_rows);
        if form.reject(errors) {
            return;
        }
        busy.set(true);
        let navigate = navigate.clone();
        let original_name = original_name.clone();
        spawn_local(async move {
            let result = match &original_name {
                Some(name) => {
                    api::put(&format!("/api/providers/{}", api::segment(name)), &spec).await
                }
                None => api::post("/api/providers", &spec).await,
            };
            match result {
                Ok(reply) => {
                    toasts.saved(reply.snapshot_version());
                    navigate("/providers", NavigateOptions::default());
                }
                Err(error) if error.is_validation() => {
                    form.set(server_paths_to_rows(error.fields, &key_rows));
                    focus_first_invalid();
                }
                Err(error) if error.status == 409 => form.set(vec![FieldError {
                    field: "name".into(),
                    message: error.message,
                }]),
                Err(error) => form.set_general(Some(error.message)),
            }
            busy.set(false);
        });
    };

    let title = match &spec {
        Some(spec) => format!("Edit provider {}", spec.name),
        None => "Create provider".to_owned(),
    };
    let kind_options: Vec<(String, String)> = ProviderType::ALL
        .into_iter()
        .map(|t| {
            (
                t.as_str().to_owned(),
                format!("{} — {}", kind_label(t), t.as_str()),
            )
        })
        .collect();
    let protocol = Memo::new(move |_| inputs.kind().protocol());

    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href="/providers">"AI service providers"</a>
            <span aria-hidden="true">" / "</span>
            <span>{if inputs.editing { "Edit" } else { "Create" }}</span>
        </nav>
        <PageHeader title=title subtitle="Where the gateway sends requests, and with which keys." />
        <form class="form form-page" on:submit=submit novalidate>
            <section class="card">
                <h2 class="card-title">"Basics"</h2>
                <div class="grid-2">
                    <SelectField
                        label="Type"
                        id="provider-type"
                        value=inputs.kind
                        options=kind_options
                        testid="provider-type"
                        path="type"
                        hint="The service's API flavour; it sets the default base URL and key handling."
                    />
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
                    placeholder=Signal::derive(move || {
                        inputs
                            .kind()
                            .default_base_url()
                            .map(str::to_owned)
                            .unwrap_or_else(|| "Required, e.g. https://llm.example.com/v1".into())
                    })
                    hint="Leave empty to use the type's default shown in grey. Paths such as /chat/completions are appended."
                />
                <Capabilities kind=Signal::derive(move || inputs.kind()) />
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
                    hint="Listed by GET /v1/models. Press Enter or Add after each; commas separate several."
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

            <div class="form-footer">
                <FormErrorList />
                <div class="form-actions">
                    <a class="btn" href="/providers">
                        "Cancel"
                    </a>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="provider-save"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { "Saving…" } else { "Save provider" }}
                    </button>
                </div>
            </div>
        </form>
    }
}

/// What the chosen type supports, and whether it needs a key.
#[component]
fn Capabilities(kind: Signal<ProviderType>) -> impl IntoView {
    move || {
        let kind = kind.get();
        let caps = kind.capabilities();
        let items = [
            ("chat", caps.chat),
            ("streaming", caps.stream),
            ("tools", caps.tools),
            ("vision", caps.vision),
            ("embeddings", caps.embeddings),
        ];
        view! {
            <div class="capabilities" aria-label="Capabilities of this type">
                {items
                    .into_iter()
                    .map(|(name, on)| {
                        let class = if on { "chip chip-on" } else { "chip chip-off" };
                        let text = if on { format!("✓ {name}") } else { format!("✗ {name}") };
                        view! { <span class=class>{text}</span> }
                    })
                    .collect_view()}
                <span class="chip">
                    {if kind.requires_key() { "API key required" } else { "API key optional" }}
                </span>
            </div>
        }
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

#[component]
fn FailoverSection(inputs: FailoverInputs) -> impl IntoView {
    let d = TokenFailover::default();
    view! {
        <section class="card">
            <h2 class="card-title">"Token failover"</h2>
            <p class="hint">
                "Takes a failing API key out of the pool after repeated failures and probes it back in."
            </p>
            <Checkbox
                label="Enable token failover"
                id="provider-tf-enabled"
                checked=inputs.enabled
                testid="provider-tf-enabled"
            />
            <Show when=move || inputs.enabled.get()>
                <div class="grid-3">
                    <TextField
                        label="Failure threshold"
                        id="tf-failure-threshold"
                        value=inputs.failure_threshold
                        path="token_failover.failure_threshold"
                        numeric=true
                        placeholder=d.failure_threshold.to_string()
                        hint="Failures in a row that eject a key."
                    />
                    <TextField
                        label="Success threshold"
                        id="tf-success-threshold"
                        value=inputs.success_threshold
                        path="token_failover.success_threshold"
                        numeric=true
                        placeholder=d.success_threshold.to_string()
                        hint="Successful probes that bring it back."
                    />
                    <TextField
                        label="On status"
                        id="tf-on-status"
                        value=inputs.on_status
                        path="token_failover.on_status"
                        placeholder=format_statuses(&d.on_status)
                        hint="Codes or classes, comma-separated."
                    />
                    <TextField
                        label="Probe interval (ms)"
                        id="tf-interval"
                        value=inputs.interval_ms
                        path="token_failover.health_check_interval_ms"
                        numeric=true
                        placeholder=d.health_check_interval_ms.to_string()
                    />
                    <TextField
                        label="Probe timeout (ms)"
                        id="tf-timeout"
                        value=inputs.timeout_ms
                        path="token_failover.health_check_timeout_ms"
                        numeric=true
                        placeholder=d.health_check_timeout_ms.to_string()
                    />
                    <TextField
                        label="Probe model"
                        id="tf-model"
                        value=inputs.model
                        path="token_failover.health_check_model"
                        placeholder="e.g. deepseek-chat"
                        hint="Without one, keys return only after the cooldown."
                    />
                    <TextField
                        label="Cooldown (ms)"
                        id="tf-cooldown"
                        value=inputs.cooldown_ms
                        path="token_failover.cooldown_ms"
                        numeric=true
                        placeholder="none"
                        hint="Re-admits a key without a probe."
                    />
                </div>
            </Show>
            <FieldErr path="token_failover".to_owned() />
        </section>
    }
}

#[component]
fn HealthCheckSection(inputs: CheckInputs) -> impl IntoView {
    let d = HealthCheck::default();
    // The active-check fields render inside a reactive block, which needs its own copies.
    let interval_default = d.interval_ms.to_string();
    let timeout_default = d.timeout_ms.to_string();
    let target_options = vec![
        ("path".to_owned(), "GET a path".to_owned()),
        ("model".to_owned(), "Chat with a model".to_owned()),
    ];
    view! {
        <section class="card">
            <h2 class="card-title">"Health check"</h2>
            <p class="hint">
                "Passive checks always watch real traffic: after repeated failures the provider's circuit opens for a cooldown. Active checks also probe it on a timer."
            </p>
            <div class="grid-4">
                <TextField
                    label="Unhealthy after"
                    id="hc-unhealthy-after"
                    value=inputs.unhealthy_after
                    path="health_check.unhealthy_after"
                    numeric=true
                    placeholder=d.unhealthy_after.to_string()
                    hint="Failures in a row."
                />
                <TextField
                    label="Healthy after"
                    id="hc-healthy-after"
                    value=inputs.healthy_after
                    path="health_check.healthy_after"
                    numeric=true
                    placeholder=d.healthy_after.to_string()
                    hint="Successes in a row."
                />
                <TextField
                    label="Cooldown (ms)"
                    id="hc-cooldown"
                    value=inputs.cooldown_ms
                    path="health_check.cooldown_ms"
                    numeric=true
                    placeholder=d.cooldown_ms.to_string()
                />
                <TextField
                    label="Max cooldown (ms)"
                    id="hc-max-cooldown"
                    value=inputs.max_cooldown_ms
                    path="health_check.max_cooldown_ms"
                    numeric=true
                    placeholder=d.max_cooldown_ms.to_string()
                />
            </div>
            <Checkbox
                label="Enable active health checks"
                id="provider-hc-enabled"
                checked=inputs.enabled
                testid="provider-hc-enabled"
            />
            <Show when=move || inputs.enabled.get()>
                <div class="grid-4">
                    <TextField
                        label="Interval (ms)"
                        id="hc-interval"
                        value=inputs.interval_ms
                        path="health_check.interval_ms"
                        numeric=true
                        placeholder=interval_default.clone()
                    />
                    <TextField
                        label="Timeout (ms)"
                        id="hc-timeout"
                        value=inputs.timeout_ms
                        path="health_check.timeout_ms"
                        numeric=true
                        placeholder=timeout_default.clone()
                    />
                    <SelectField
                        label="Check by"
                        id="hc-target"
                        value=inputs.target
                        options=target_options.clone()
                    />
                    {move || {
                        if inputs.target.get() == "model" {
                            view! {
                                <TextField
                                    label="Model"
                                    id="hc-model"
                                    value=inputs.model
                                    path="health_check.model"
                                    placeholder="e.g. gpt-4o-mini"
                                />
                            }
                                .into_any()
                        } else {
                            view! {
                                <TextField
                                    label="Path"
                                    id="hc-path"
                                    value=inputs.path
                                    path="health_check.path"
                                    placeholder="/models"
                                />
                            }
                                .into_any()
                        }
                    }}
                </div>
            </Show>
            <FieldErr path="health_check".to_owned() />
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

    #[test]
    fn kinds_round_trip() {
        for kind in ProviderType::ALL {
            assert_eq!(parse_kind(kind.as_str()), kind);
        }
    }
}
