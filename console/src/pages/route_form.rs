//! Create and edit an AI route (`/routes/new`, `/routes/:name`): match rules, weighted upstreams
//! with priorities, the fallback, retries and the overall timeout. Checked with the shared
//! validation (and against the provider list) before it is sent.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::NavigateOptions;
use leptos_router::hooks::use_navigate;
use switchyard_shared::config::DEFAULT_WEIGHT;
use switchyard_shared::validate::{validate_route, validate_route_references};
use switchyard_shared::{
    Fallback, FallbackStrategy, FallbackUpstream, FieldError, MatchKind, MatchRule, ProviderSpec,
    Retry, RouteSpec, RouteUpstream,
};

use crate::api;
use crate::components::field::{
    Checkbox, FieldErr, FormErrorList, FormErrors, SelectField, TextField, invalid_attr,
    use_form_errors,
};
use crate::components::item::EditPage;
use crate::components::page::PageHeader;
use crate::components::rows::{AddRowButton, RemoveRowButton};
use crate::components::toast::use_toasts;
use crate::form::{Parse, format_statuses, non_empty, opt_text};
use crate::util::{focus_first_invalid, next_id};

#[component]
pub fn NewRoutePage() -> impl IntoView {
    view! { <RouteForm spec=None /> }
}

/// Loads the route named in the path, then shows the form.
#[component]
pub fn EditRoutePage() -> impl IntoView {
    view! {
        <EditPage
            api_prefix="/api/routes"
            noun="route"
            back_href="/routes"
            form=Callback::new(|spec: RouteSpec| view! { <RouteForm spec=Some(spec) /> }.into_any())
        />
    }
}

#[derive(Clone, Copy)]
struct MatchRow {
    id: u64,
    kind: RwSignal<String>,
    value: RwSignal<String>,
}

impl MatchRow {
    fn new(kind: MatchKind, value: &str) -> Self {
        let kind = match kind {
            MatchKind::Exact => "exact",
            MatchKind::Prefix => "prefix",
        };
        MatchRow {
            id: next_id(),
            kind: RwSignal::new(kind.to_owned()),
            value: RwSignal::new(value.to_owned()),
        }
    }
}

#[derive(Clone, Copy)]
struct UpstreamRow {
    id: u64,
    provider: RwSignal<String>,
    weight: RwSignal<String>,
    priority: RwSignal<String>,
    model: RwSignal<String>,
}

impl UpstreamRow {
    fn new(upstream: Option<&RouteUpstream>) -> Self {
        UpstreamRow {
            id: next_id(),
            provider: RwSignal::new(upstream.map(|u| u.provider.clone()).unwrap_or_default()),
            weight: RwSignal::new(upstream.map_or(DEFAULT_WEIGHT, |u| u.weight).to_string()),
            priority: RwSignal::new(
                upstream
                    .filter(|u| u.priority != 0)
                    .map(|u| u.priority.to_string())
                    .unwrap_or_default(),
            ),
            model: RwSignal::new(upstream.and_then(|u| u.model.clone()).unwrap_or_default()),
        }
    }
}

#[derive(Clone, Copy)]
struct FallbackRow {
    id: u64,
    provider: RwSignal<String>,
    model: RwSignal<String>,
}

impl FallbackRow {
    fn new(upstream: Option<&FallbackUpstream>) -> Self {
        FallbackRow {
            id: next_id(),
            provider: RwSignal::new(upstream.map(|u| u.provider.clone()).unwrap_or_default()),
            model: RwSignal::new(upstream.and_then(|u| u.model.clone()).unwrap_or_default()),
        }
    }
}

/// Every input of the route form.
#[derive(Clone, Copy)]
struct RouteInputs {
    editing: bool,
    original: StoredValue<Option<RouteSpec>>,
    name: RwSignal<String>,
    priority: RwSignal<String>,
    timeout_ms: RwSignal<String>,
    matches: RwSignal<Vec<MatchRow>>,
    upstreams: RwSignal<Vec<UpstreamRow>>,
    fallback_enabled: RwSignal<bool>,
    fallback_strategy: RwSignal<String>,
    fallback_on_status: RwSignal<String>,
    fallback_upstreams: RwSignal<Vec<FallbackRow>>,
    max_attempts: RwSignal<String>,
    backoff_base_ms: RwSignal<String>,
    backoff_max_ms: RwSignal<String>,
    retry_after_max_ms: RwSignal<String>,
}

/// The statuses a fallback reacts to when none are written, as the shared crate's serde default
/// defines them.
fn default_fallback_statuses() -> Vec<switchyard_shared::StatusPattern> {
    serde_json::from_str::<Fallback>("{}")
        .map(|f| f.on_status)
        .unwrap_or_default()
}

impl RouteInputs {
    fn new(spec: Option<&RouteSpec>) -> Self {
        let text = |v: Option<String>| RwSignal::new(v.unwrap_or_default());
        let matches = match spec {
            Some(spec) => spec
                .matches
                .iter()
                .map(|m| MatchRow::new(m.kind, &m.value))
                .collect(),
            None => vec![MatchRow::new(MatchKind::Prefix, "")],
        };
        let upstreams = match spec {
            Some(spec) => spec
                .upstreams
                .iter()
                .map(|u| UpstreamRow::new(Some(u)))
                .collect(),
            None => vec![UpstreamRow::new(None)],
        };
        let fallback = spec.and_then(|s| s.fallback.as_ref());
        let retry = spec.and_then(|s| s.retry.as_ref());
        RouteInputs {
            editing: spec.is_some(),
            original: StoredValue::new(spec.cloned()),
            name: text(spec.map(|s| s.name.clone())),
            priority: text(
                spec.filter(|s| s.priority != 0)
                    .map(|s| s.priority.to_string()),
            ),
            timeout_ms: text(spec.map(|s| opt_text(s.timeout_ms))),
            matches: RwSignal::new(matches),
            upstreams: RwSignal::new(upstreams),
            fallback_enabled: RwSignal::new(fallback.is_some_and(|f| f.enabled)),
            fallback_strategy: RwSignal::new(
                match fallback.map(|f| f.strategy).unwrap_or_default() {
                    FallbackStrategy::Sequential => "sequential",
                    FallbackStrategy::Random => "random",
                }
                .to_owned(),
            ),
            fallback_on_status: text(fallback.map(|f| format_statuses(&f.on_status))),
            fallback_upstreams: RwSignal::new(
                fallback
                    .map(|f| {
                        f.upstreams
                            .iter()
                            .map(|u| FallbackRow::new(Some(u)))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            max_attempts: text(retry.map(|r| r.max_attempts.to_string())),
            backoff_base_ms: text(retry.map(|r| r.backoff_base_ms.to_string())),
            backoff_max_ms: text(retry.map(|r| r.backoff_max_ms.to_string())),
            retry_after_max_ms: text(retry.map(|r| r.retry_after_max_ms.to_string())),
        }
    }

    /// The spec to send and the inputs that could not be read. Rows are sent as they are, so
    /// that `upstreams[i]` in an error is row `i` of the form.
    fn build(&self) -> (RouteSpec, Vec<FieldError>) {
        let mut parse = Parse::default();
        let t = |s: RwSignal<String>| s.get_untracked();
        let original = self.original.get_value();
        let matches = self
            .matches
            .get_untracked()
            .iter()
            .map(|row| MatchRule {
                kind: if t(row.kind) == "exact" {
                    MatchKind::Exact
                } else {
                    MatchKind::Prefix
                },
                value: t(row.value).trim().to_owned(),
            })
            .collect();
        let upstreams = self
            .upstreams
            .get_untracked()
            .iter()
            .enumerate()
            .map(|(i, row)| RouteUpstream {
                provider: t(row.provider).trim().to_owned(),
                weight: parse.u32_or(
                    &format!("upstreams[{i}].weight"),
                    &t(row.weight),
                    DEFAULT_WEIGHT,
                ),
                model: non_empty(&t(row.model)),
                priority: parse.i32_or(&format!("upstreams[{i}].priority"), &t(row.priority), 0),
            })
            .collect();
        let fallback_rows = self.fallback_upstreams.get_untracked();
        let enabled = self.fallback_enabled.get_untracked();
        let on_status = t(self.fallback_on_status);
        let had_fallback = original.as_ref().is_some_and(|o| o.fallback.is_some());
        let fallback =
            (enabled || had_fallback || !fallback_rows.is_empty() || !on_status.trim().is_empty())
                .then(|| Fallback {
                    enabled,
                    strategy: if t(self.fallback_strategy) == "random" {
                        FallbackStrategy::Random
                    } else {
                        FallbackStrategy::Sequential
                    },
                    on_status: parse.statuses(
                        "fallback.on_status",
                        &on_status,
                        default_fallback_statuses(),
                    ),
                    upstreams: fallback_rows
                        .iter()
                        .map(|row| FallbackUpstream {
                            provider: t(row.provider).trim().to_owned(),
                            model: non_empty(&t(row.model)),
                        })
                        .collect(),
                });
        let retry_texts = [
            t(self.max_attempts),
            t(self.backoff_base_ms),
            t(self.backoff_max_ms),
            t(self.retry_after_max_ms),
        ];
        let had_retry = original.as_ref().is_some_and(|o| o.retry.is_some());
        let retry = (had_retry || retry_texts.iter().any(|s| !s.trim().is_empty())).then(|| {
            let d = Retry::default();
            Retry {
                max_attempts: parse.u32_or("retry.max_attempts", &retry_texts[0], d.max_attempts),
                backoff_base_ms: parse.u64_or(
                    "retry.backoff_base_ms",
                    &retry_texts[1],
                    d.backoff_base_ms,
                ),
                backoff_max_ms: parse.u64_or(
                    "retry.backoff_max_ms",
                    &retry_texts[2],
                    d.backoff_max_ms,
                ),
                retry_after_max_ms: parse.u64_or(
                    "retry.retry_after_max_ms",
                    &retry_texts[3],
                    d.retry_after_max_ms,
                ),
            }
        });
        let spec = RouteSpec {
            name: t(self.name).trim().to_owned(),
            priority: parse.i32_or("priority", &t(self.priority), 0),
            matches,
            upstreams,
            fallback,
            retry,
            timeout_ms: parse.opt_u64("timeout_ms", &t(self.timeout_ms)),
        };
        (spec, parse.errors)
    }
}

/// The shared validation, plus "no provider named …" when the provider list is known.
fn check(
    spec: &RouteSpec,
    mut errors: Vec<FieldError>,
    providers: Option<&[String]>,
) -> Vec<FieldError> {
    // An unchosen provider would get the slug rule as its message; "choose one" says it better.
    let fallback_upstreams = spec.fallback.iter().flat_map(|f| f.upstreams.iter());
    let unchosen: Vec<String> = spec
        .upstreams
        .iter()
        .enumerate()
        .filter(|(_, u)| u.provider.is_empty())
        .map(|(i, _)| format!("upstreams[{i}].provider"))
        .chain(
            fallback_upstreams
                .enumerate()
                .filter(|(_, u)| u.provider.is_empty())
                .map(|(i, _)| format!("fallback.upstreams[{i}].provider")),
        )
        .collect();
    if let Err(found) = validate_route(spec) {
        errors.extend(found.0.into_iter().filter(|e| !unchosen.contains(&e.field)));
    }
    errors.extend(unchosen.into_iter().map(|field| FieldError {
        field,
        message: "choose a provider".into(),
    }));
    if let Some(providers) = providers {
        let exists = |name: &str| name.is_empty() || providers.iter().any(|p| p == name);
        if let Err(found) = validate_route_references(spec, exists) {
            errors.extend(found.0);
        }
    }
    errors
}

#[component]
fn RouteForm(spec: Option<RouteSpec>) -> impl IntoView {
    let toasts = use_toasts();
    let navigate = use_navigate();
    let form = FormErrors::provide();
    let inputs = RouteInputs::new(spec.as_ref());
    let busy = RwSignal::new(false);
    let original_name = spec.as_ref().map(|s| s.name.clone());

    // The provider pickers list the providers that exist now.
    let providers = RwSignal::new(None::<Vec<String>>);
    spawn_local(async move {
        if let Ok(list) = api::get::<Vec<ProviderSpec>>("/api/providers").await {
            providers.set(Some(list.into_iter().map(|p| p.name).collect()));
        }
    });
    let provider_names = Signal::derive(move || providers.get().unwrap_or_default());

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        let (spec, parse_errors) = inputs.build();
        let errors = check(&spec, parse_errors, providers.get_untracked().as_deref());
        if form.reject(errors) {
            return;
        }
        busy.set(true);
        let navigate = navigate.clone();
        let original_name = original_name.clone();
        spawn_local(async move {
            let result = match &original_name {
                Some(name) => api::put(&format!("/api/routes/{}", api::segment(name)), &spec).await,
                None => api::post("/api/routes", &spec).await,
            };
            match result {
                Ok(reply) => {
                    toasts.saved(reply.snapshot_version());
                    navigate("/routes", NavigateOptions::default());
                }
                Err(error) if error.is_validation() => {
                    form.set(error.fields);
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
        Some(spec) => format!("Edit route {}", spec.name),
        None => "Create route".to_owned(),
    };
    let strategy_options = vec![
        (
            "sequential".to_owned(),
            "Sequential — in the order listed".to_owned(),
        ),
        ("random".to_owned(), "Random order".to_owned()),
    ];
    let retry_defaults = Retry::default();

    view! {
        <nav class="breadcrumb" aria-label="Breadcrumb">
            <a href="/routes">"AI routes"</a>
            <span aria-hidden="true">" / "</span>
            <span>{if inputs.editing { "Edit" } else { "Create" }}</span>
        </nav>
        <PageHeader title=title subtitle="Match requests by model name and send them to providers." />
        <form class="form form-page" on:submit=submit novalidate>
            <section class="card">
                <h2 class="card-title">"Basics"</h2>
                <div class="grid-3">
                    <TextField
                        label="Name"
                        id="route-name"
                        value=inputs.name
                        testid="route-name"
                        path="name"
                        placeholder="e.g. deepseek"
                        readonly=inputs.editing
                        required=true
                        hint=if inputs.editing {
                            "A route's name cannot change."
                        } else {
                            "Lowercase letters, digits, '-' and '_'."
                        }
                    />
                    <TextField
                        label="Priority"
                        id="route-priority"
                        value=inputs.priority
                        testid="route-priority"
                        path="priority"
                        placeholder="0"
                        hint="Breaks ties between routes matching the same value: higher wins."
                    />
                    <TextField
                        label="Timeout (ms)"
                        id="route-timeout"
                        value=inputs.timeout_ms
                        testid="route-timeout"
                        path="timeout_ms"
                        numeric=true
                        placeholder="none"
                        hint="The whole request, all attempts included."
                    />
                </div>
            </section>

            <MatchSection rows=inputs.matches />
            <UpstreamSection rows=inputs.upstreams providers=provider_names />
            <FallbackSection inputs=inputs providers=provider_names strategy_options=strategy_options />

            <section class="card">
                <h2 class="card-title">"Retries"</h2>
                <p class="hint">
                    "Attempts across upstreams and keys for one request, with exponential backoff. Empty fields use the defaults shown."
                </p>
                <div class="grid-4">
                    <TextField
                        label="Max attempts"
                        id="route-max-attempts"
                        value=inputs.max_attempts
                        testid="route-retry-max-attempts"
                        path="retry.max_attempts"
                        numeric=true
                        placeholder=retry_defaults.max_attempts.to_string()
                    />
                    <TextField
                        label="Backoff base (ms)"
                        id="route-backoff-base"
                        value=inputs.backoff_base_ms
                        path="retry.backoff_base_ms"
                        numeric=true
                        placeholder=retry_defaults.backoff_base_ms.to_string()
                    />
                    <TextField
                        label="Backoff max (ms)"
                        id="route-backoff-max"
                        value=inputs.backoff_max_ms
                        path="retry.backoff_max_ms"
                        numeric=true
                        placeholder=retry_defaults.backoff_max_ms.to_string()
                    />
                    <TextField
                        label="Longest Retry-After to wait (ms)"
                        id="route-retry-after-max"
                        value=inputs.retry_after_max_ms
                        path="retry.retry_after_max_ms"
                        numeric=true
                        placeholder=retry_defaults.retry_after_max_ms.to_string()
                    />
                </div>
                <FieldErr path="retry".to_owned() />
            </section>

            <div class="form-footer">
                <FormErrorList />
                <div class="form-actions">
                    <a class="btn" href="/routes">
                        "Cancel"
                    </a>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="route-save"
                        disabled=move || busy.get()
                    >
                        {move || if busy.get() { "Saving…" } else { "Save route" }}
                    </button>
                </div>
            </div>
        </form>
    }
}

/// A provider picker: the existing providers, plus the current value if it names none of them.
#[component]
fn ProviderSelect(
    value: RwSignal<String>,
    providers: Signal<Vec<String>>,
    #[prop(into)] label: String,
    testid: String,
    path: String,
) -> impl IntoView {
    let form = use_form_errors();
    let invalid_path = path.clone();
    view! {
        <select
            class="input"
            aria-label=label
            data-testid=testid
            aria-invalid=invalid_attr(form, move || invalid_path.clone())
            on:change=move |ev| value.set(event_target_value(&ev))
        >
            {move || {
                let current = value.get();
                let mut names = providers.get();
                if !current.is_empty() && !names.contains(&current) {
                    names.insert(0, current.clone());
                }
                let placeholder_selected = current.is_empty();
                let options = names
                    .into_iter()
                    .map(|name| {
                        let selected = name == current;
                        let value = name.clone();
                        view! {
                            <option value=value selected=selected>
                                {name}
                            </option>
                        }
                    })
                    .collect_view();
                view! {
                    <option value="" selected=placeholder_selected disabled=true>
                        "Choose a provider…"
                    </option>
                    {options}
                }
            }}
        </select>
    }
}

#[component]
fn MatchSection(rows: RwSignal<Vec<MatchRow>>) -> impl IntoView {
    let form = use_form_errors();
    view! {
        <section class="card">
            <h2 class="card-title">"Match"</h2>
            <p class="hint">
                "A request belongs to this route when its model name equals an exact value or starts with a prefix."
            </p>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let n = i + 1;
                            let value_path = format!("match[{i}].value");
                            let invalid_path = value_path.clone();
                            view! {
                                <div class="match-row">
                                    <select
                                        class="input"
                                        aria-label=format!("Match type, rule {n}")
                                        data-testid=format!("route-match-type-{i}")
                                        on:change=move |ev| row.kind.set(event_target_value(&ev))
                                    >
                                        <option value="prefix" selected=move || row.kind.get() == "prefix">
                                            "prefix"
                                        </option>
                                        <option value="exact" selected=move || row.kind.get() == "exact">
                                            "exact"
                                        </option>
                                    </select>
                                    <input
                                        class="input mono"
                                        aria-label=format!("Model name or prefix, rule {n}")
                                        data-testid=format!("route-match-value-{i}")
                                        placeholder="e.g. deepseek-"
                                        aria-invalid=invalid_attr(form, move || invalid_path.clone())
                                        prop:value=move || row.value.get()
                                        on:input=move |ev| row.value.set(event_target_value(&ev))
                                    />
                                    <RemoveRowButton
                                        label=format!("Remove rule {n}")
                                        on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                    />
                                    <div class="pair-error">
                                        <FieldErr path=value_path />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="route-match-add"
                label="Add match rule"
                on_add=move |()| rows.update(|l| l.push(MatchRow::new(MatchKind::Prefix, "")))
            />
            <FieldErr path="match".to_owned() />
        </section>
    }
}

/// The share of traffic each upstream gets within its priority group, in percent.
fn shares(rows: &[(i32, u32)]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|(priority, weight)| {
            let group: u32 = rows
                .iter()
                .filter(|(p, _)| p == priority)
                .map(|(_, w)| *w)
                .sum();
            (group > 0).then(|| f64::from(*weight) * 100.0 / f64::from(group))
        })
        .collect()
}

#[component]
fn UpstreamSection(
    rows: RwSignal<Vec<UpstreamRow>>,
    providers: Signal<Vec<String>>,
) -> impl IntoView {
    let form = use_form_errors();
    // Recomputed as weights are typed, so operators see what a weight means.
    let share_of = Memo::new(move |_| {
        let parsed: Vec<(i32, u32)> = rows
            .get()
            .iter()
            .map(|r| {
                (
                    r.priority.get().trim().parse().unwrap_or(0),
                    r.weight.get().trim().parse().unwrap_or(0),
                )
            })
            .collect();
        shares(&parsed)
    });
    view! {
        <section class="card">
            <h2 class="card-title">"Upstreams"</h2>
            <p class="hint">
                "Traffic is split by weight (0–1000) among the healthy upstreams of the highest priority; lower priorities take over when those fail."
            </p>
            <div class="upstream-head" aria-hidden="true">
                <span>"Provider"</span>
                <span>"Weight"</span>
                <span>"Priority"</span>
                <span>"Target model"</span>
                <span></span>
            </div>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let n = i + 1;
                            let p = |field: &str| format!("upstreams[{i}].{field}");
                            let (weight_path, priority_path, model_path) = (p("weight"), p("priority"), p("model"));
                            let (wp, pp, mp) = (weight_path.clone(), priority_path.clone(), model_path.clone());
                            view! {
                                <div class="upstream-row">
                                    <ProviderSelect
                                        value=row.provider
                                        providers=providers
                                        label=format!("Provider, upstream {n}")
                                        testid=format!("route-upstream-provider-{i}")
                                        path=p("provider")
                                    />
                                    <div class="weight-cell">
                                        <input
                                            class="input"
                                            inputmode="numeric"
                                            aria-label=format!("Weight, upstream {n}")
                                            data-testid=format!("route-upstream-weight-{i}")
                                            aria-invalid=invalid_attr(form, move || wp.clone())
                                            prop:value=move || row.weight.get()
                                            on:input=move |ev| row.weight.set(event_target_value(&ev))
                                        />
                                        <span class="share muted small">
                                            {move || {
                                                share_of
                                                    .with(|s| s.get(i).copied().flatten())
                                                    .map(|s| format!("{s:.0}%"))
                                                    .unwrap_or_default()
                                            }}
                                        </span>
                                    </div>
                                    <input
                                        class="input"
                                        inputmode="numeric"
                                        placeholder="0"
                                        aria-label=format!("Priority, upstream {n}")
                                        data-testid=format!("route-upstream-priority-{i}")
                                        aria-invalid=invalid_attr(form, move || pp.clone())
                                        prop:value=move || row.priority.get()
                                        on:input=move |ev| row.priority.set(event_target_value(&ev))
                                    />
                                    <input
                                        class="input mono"
                                        placeholder="unchanged"
                                        aria-label=format!("Target model, upstream {n}")
                                        data-testid=format!("route-upstream-model-{i}")
                                        aria-invalid=invalid_attr(form, move || mp.clone())
                                        prop:value=move || row.model.get()
                                        on:input=move |ev| row.model.set(event_target_value(&ev))
                                    />
                                    <RemoveRowButton
                                        label=format!("Remove upstream {n}")
                                        on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                    />
                                    <div class="pair-error">
                                        <FieldErr path=p("provider") />
                                        <FieldErr path=weight_path />
                                        <FieldErr path=priority_path />
                                        <FieldErr path=model_path />
                                        <FieldErr path=format!("upstreams[{i}]") />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="route-upstream-add"
                label="Add upstream"
                on_add=move |()| rows.update(|l| l.push(UpstreamRow::new(None)))
            />
            <FieldErr path="upstreams".to_owned() />
        </section>
    }
}

#[component]
fn FallbackSection(
    inputs: RouteInputs,
    providers: Signal<Vec<String>>,
    strategy_options: Vec<(String, String)>,
) -> impl IntoView {
    let form = use_form_errors();
    let rows = inputs.fallback_upstreams;
    view! {
        <section class="card">
            <h2 class="card-title">"Fallback"</h2>
            <p class="hint">
                "When every upstream fails with one of these statuses, the request moves on to the fallback upstreams."
            </p>
            <Checkbox
                label="Enable fallback"
                id="route-fallback-enabled"
                checked=inputs.fallback_enabled
                testid="route-fallback-enabled"
            />
            <div class="grid-2">
                <SelectField
                    label="Strategy"
                    id="route-fallback-strategy"
                    value=inputs.fallback_strategy
                    options=strategy_options
                    testid="route-fallback-strategy"
                    path="fallback.strategy"
                />
                <TextField
                    label="On status"
                    id="route-fallback-on-status"
                    value=inputs.fallback_on_status
                    testid="route-fallback-on-status"
                    path="fallback.on_status"
                    placeholder=format_statuses(&default_fallback_statuses())
                    hint="Status codes or classes, comma-separated, e.g. 401,403,429,5xx."
                />
            </div>
            <h3 class="sub-title">"Fallback upstreams"</h3>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let n = i + 1;
                            let model_path = format!("fallback.upstreams[{i}].model");
                            let mp = model_path.clone();
                            view! {
                                <div class="fallback-row">
                                    <ProviderSelect
                                        value=row.provider
                                        providers=providers
                                        label=format!("Provider, fallback {n}")
                                        testid=format!("route-fallback-provider-{i}")
                                        path=format!("fallback.upstreams[{i}].provider")
                                    />
                                    <input
                                        class="input mono"
                                        placeholder="model (unchanged if empty)"
                                        aria-label=format!("Model, fallback {n}")
                                        data-testid=format!("route-fallback-model-{i}")
                                        aria-invalid=invalid_attr(form, move || mp.clone())
                                        prop:value=move || row.model.get()
                                        on:input=move |ev| row.model.set(event_target_value(&ev))
                                    />
                                    <RemoveRowButton
                                        label=format!("Remove fallback {n}")
                                        on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                    />
                                    <div class="pair-error">
                                        <FieldErr path=format!("fallback.upstreams[{i}].provider") />
                                        <FieldErr path=model_path />
                                        <FieldErr path=format!("fallback.upstreams[{i}]") />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="route-fallback-add"
                label="Add fallback upstream"
                on_add=move |()| rows.update(|l| l.push(FallbackRow::new(None)))
            />
            <FieldErr path="fallback.upstreams".to_owned() />
            <FieldErr path="fallback".to_owned() />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_per_priority_group() {
        let s = shares(&[(0, 100), (0, 300), (1, 50), (2, 0)]);
        assert_eq!(s, vec![Some(25.0), Some(75.0), Some(100.0), None]);
    }

    #[test]
    fn fallback_defaults_come_from_the_shared_crate() {
        assert_eq!(
            format_statuses(&default_fallback_statuses()),
            "401,403,404,408,429,5xx"
        );
    }
}
