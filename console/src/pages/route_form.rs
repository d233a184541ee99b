//! Create and edit an AI route (`/routes/new`, `/routes/:name`): match rules, weighted upstreams
//! with priorities and the strategy that shares traffic among them (with, when editing, what
//! the gateway currently measures of each upstream), the fallback, retries, the overall timeout, who may call it with which limits,
//! its response cache and its guardrail policies. Checked with the shared validation (and against
//! the provider and policy lists) before it is sent.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::config::DEFAULT_WEIGHT;
use switchyard_shared::validate::{validate_route, validate_route_references};
use switchyard_shared::{
    Fallback, FallbackStrategy, FallbackUpstream, FieldError, MatchKind, MatchRule, ProviderSpec,
    ProviderType, Retry, RouteSpec, RouteUpstream,
};

use crate::api;
use crate::components::field::{FieldErr, TextField};
use crate::components::form_page::{FormFooter, FormHeader, SaveForm};
use crate::components::guardrail_picker::{
    GuardrailPicker, Policies, load_policies, reference_errors,
};
use crate::components::item::EditPage;
use crate::components::rows::commit_draft;
use crate::form::{Parse, format_statuses, non_empty, opt_text};
use crate::util::next_id;

mod access;
mod cache;
mod fallback;
mod live;
mod sections;
mod strategy;

use access::{AccessInputs, AccessSection};
use cache::{CacheInputs, CacheSection};
use fallback::FallbackSection;
use live::LiveRouting;
use sections::{MatchSection, UpstreamSection};
use strategy::{StrategyInputs, StrategySection};

#[component]
pub fn NewRoutePage() -> impl IntoView {
    view! { <RouteForm spec=None /> }
}

/// Loads the route named in the path, then shows the form.
#[component]
pub fn EditRoutePage() -> impl IntoView {
    view! {
        <EditPage form=Callback::new(|spec: RouteSpec| view! { <RouteForm spec=Some(spec) /> }.into_any()) />
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
    routing: StrategyInputs,
    fallback_enabled: RwSignal<bool>,
    fallback_strategy: RwSignal<String>,
    fallback_on_status: RwSignal<String>,
    fallback_upstreams: RwSignal<Vec<FallbackRow>>,
    max_attempts: RwSignal<String>,
    backoff_base_ms: RwSignal<String>,
    backoff_max_ms: RwSignal<String>,
    retry_after_max_ms: RwSignal<String>,
    access: AccessInputs,
    cache: CacheInputs,
    guardrails: RwSignal<Vec<String>>,
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
            routing: StrategyInputs::new(spec),
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
            access: AccessInputs::new(spec),
            cache: CacheInputs::new(spec.and_then(|s| s.cache.as_ref())),
            guardrails: RwSignal::new(spec.map(|s| s.guardrails.clone()).unwrap_or_default()),
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
        let (strategy, max_latency_ms, sticky_by) = self.routing.build(&mut parse);
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
        let (auth, limits, reserve_completion_tokens) =
            self.access.build(&mut parse, original.as_ref());
        // Every field is listed (no `..original`): a field added to RouteSpec later fails to
        // compile here until the form either edits it or deliberately keeps the original's.
        let spec = RouteSpec {
            name: t(self.name).trim().to_owned(),
            priority: parse.i32_or("priority", &t(self.priority), 0),
            matches,
            upstreams,
            strategy,
            max_latency_ms,
            sticky_by,
            fallback,
            retry,
            timeout_ms: parse.opt_u64("timeout_ms", &t(self.timeout_ms)),
            auth,
            limits,
            reserve_completion_tokens,
            cache: self
                .cache
                .build(&mut parse, original.as_ref().and_then(|o| o.cache.as_ref())),
            guardrails: self.guardrails.get_untracked(),
        };
        (spec, parse.errors)
    }
}

/// The shared validation, plus "no provider named …" and "no guardrail policy named …" when
/// those lists are known.
fn check(
    spec: &RouteSpec,
    mut errors: Vec<FieldError>,
    providers: Option<&[String]>,
    policies: Policies,
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
    // An input that could not be read already has its message; the validation of the value
    // left in its place (none, or a default) would only contradict it.
    let unread: Vec<String> = errors.iter().map(|e| e.field.clone()).collect();
    if let Err(found) = validate_route(spec) {
        errors.extend(
            found
                .0
                .into_iter()
                .filter(|e| !unchosen.contains(&e.field) && !unread.contains(&e.field)),
        );
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
    errors.extend(reference_errors(&spec.guardrails, policies));
    errors
}

#[component]
fn RouteForm(spec: Option<RouteSpec>) -> impl IntoView {
    let inputs = RouteInputs::new(spec.as_ref());
    let save = SaveForm::<RouteSpec>::new(spec.as_ref().map(|s| s.name.clone()));

    // The provider pickers list the providers that exist now; their types give a fallback its
    // default model.
    let providers = RwSignal::new(None::<Vec<String>>);
    let provider_kinds = RwSignal::new(Vec::<(String, ProviderType)>::new());
    spawn_local(async move {
        if let Ok(list) = api::get::<Vec<ProviderSpec>>("/api/providers").await {
            provider_kinds.try_set(list.iter().map(|p| (p.name.clone(), p.kind)).collect());
            providers.try_set(Some(list.into_iter().map(|p| p.name).collect()));
        }
    });
    let provider_names = Signal::derive(move || providers.get().unwrap_or_default());
    let policies = load_policies();

    let submit = move |ev: SubmitEvent| {
        if !save.begin(&ev) {
            return;
        }
        // A consumer typed but not yet added is surely meant to be saved too.
        commit_draft(inputs.access.consumers, inputs.access.consumer_draft);
        let (spec, parse_errors) = inputs.build();
        let errors = check(
            &spec,
            parse_errors,
            providers.get_untracked().as_deref(),
            policies,
        );
        save.send(spec, errors, |fields| fields);
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
        <FormHeader save=save title=title subtitle="Match requests by model name and send them to providers." />
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
            <StrategySection inputs=inputs.routing />
            {spec.as_ref().map(|spec| view! { <LiveRouting route=spec.name.clone() /> })}
            <FallbackSection
                inputs=inputs
                providers=provider_names
                kinds=provider_kinds.into()
                strategy_options=strategy_options
            />

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

            <AccessSection inputs=inputs.access />
            <CacheSection inputs=inputs.cache />
            <section class="card">
                <h2 class="card-title">"Guardrails"</h2>
                <GuardrailPicker
                    selected=inputs.guardrails
                    policies=policies
                    testid="route-guardrails"
                    hint="Every request on this route is checked by these policies, whoever calls; a consumer's own policies apply after them."
                />
            </section>

            <FormFooter save=save />
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Editing a route and saving it unchanged sends back exactly what was loaded: no setting the
    /// form shows (or does not) is dropped.
    #[test]
    fn the_form_keeps_every_field_of_a_route() {
        let spec = RouteSpec {
            name: "r".into(),
            priority: 3,
            matches: vec![MatchRule {
                kind: MatchKind::Exact,
                value: "gpt-4o".into(),
            }],
            upstreams: vec![RouteUpstream {
                provider: "p".into(),
                weight: 70,
                model: Some("m".into()),
                priority: 1,
            }],
            strategy: Default::default(),
            max_latency_ms: None,
            sticky_by: None,
            fallback: Some(Fallback {
                enabled: false,
                strategy: FallbackStrategy::Random,
                on_status: default_fallback_statuses(),
                upstreams: vec![FallbackUpstream {
                    provider: "q".into(),
                    model: None,
                }],
            }),
            retry: Some(Retry {
                max_attempts: 2,
                ..Retry::default()
            }),
            timeout_ms: Some(30_000),
            auth: Some(switchyard_shared::RouteAuth {
                allowed_consumers: vec!["team-a".into()],
            }),
            limits: switchyard_shared::Limits {
                rpm: Some(600),
                max_concurrent: Some(8),
                ..Default::default()
            },
            reserve_completion_tokens: Some(256),
            cache: Some(switchyard_shared::RouteCache {
                enabled: true,
                ttl_seconds: 600,
                scope: switchyard_shared::CacheScope::Global,
            }),
            guardrails: vec!["pii-default".into(), "secrets".into()],
        };
        let (built, errors) = RouteInputs::new(Some(&spec)).build();
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(built, spec);

        // Each strategy with an option keeps it.
        let sticky = RouteSpec {
            strategy: switchyard_shared::RoutingStrategy::Sticky,
            sticky_by: Some(switchyard_shared::StickyBy::Header("x-session-id".into())),
            ..spec.clone()
        };
        let timed = RouteSpec {
            strategy: switchyard_shared::RoutingStrategy::CostUnderLatency,
            max_latency_ms: Some(2000),
            ..spec.clone()
        };
        for spec in [sticky, timed] {
            let (built, errors) = RouteInputs::new(Some(&spec)).build();
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(built, spec);
        }

        // An emptied consumer list keeps the route's `auth`; a new route gets none.
        let inputs = RouteInputs::new(Some(&spec));
        inputs.access.consumers.set(Vec::new());
        assert_eq!(inputs.build().0.auth, Some(Default::default()));
        assert_eq!(RouteInputs::new(None).build().0.auth, None);
    }

    #[test]
    fn fallback_defaults_come_from_the_shared_crate() {
        assert_eq!(
            format_statuses(&default_fallback_statuses()),
            "401,403,404,408,429,5xx"
        );
    }
}
