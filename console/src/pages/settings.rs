//! Gateway settings: whether the proxy requires a client key (`client_auth`), what is in force
//! when the `--client-auth` flag overrides the stored value, and a warning while keys are off;
//! how long request records are kept, where budget alerts are posted, and how much memory the
//! response cache may use. One Save sends them all.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::validate::MAX_CACHE_MB;
use switchyard_shared::{ClientAuth, ConsumerSpec, RedisFailure, Settings, SettingsView};

use crate::api::{self, ApiError};
use crate::components::field::{FieldErr, FormErrorList, FormErrors, SelectField, TextField};
use crate::components::page::{Card, LoadError, Loading, PageHeader};
use crate::components::toast::use_toasts;
use crate::form::{Parse, non_empty};
use crate::settings::{open_proxy_warning, use_gateway_settings};

#[component]
pub fn SettingsPage() -> impl IntoView {
    let loaded = RwSignal::new(None::<Result<SettingsView, ApiError>>);
    let load = move || {
        spawn_local(async move {
            loaded.try_set(Some(api::get::<SettingsView>("/api/settings").await));
        });
    };
    load();
    view! {
        <PageHeader
            title="Settings"
            subtitle="How the gateway treats the apps that call its proxy, and what it keeps of their requests."
        />
        {move || match loaded.get() {
            None => view! { <Loading /> }.into_any(),
            Some(Err(error)) => {
                view! { <LoadError message=error.message on_retry=move |()| load() /> }.into_any()
            }
            Some(Ok(view)) => view! { <SettingsForm view=view /> }.into_any(),
        }}
    }
}

/// The radio button's description of each value.
fn describe(value: ClientAuth) -> &'static str {
    match value {
        ClientAuth::Off => {
            "Requests without a Switchyard key are served anonymously (placeholder keys such as api_key=\"unused\" too). A key starting with sy- must still be valid, and is counted against its consumer."
        }
        ClientAuth::Required => {
            "Every request needs a valid, live consumer key (Authorization: Bearer, x-api-key or api-key); others get 401."
        }
    }
}

/// The request log's, the alerts' and the response cache's inputs, as typed.
#[derive(Clone, Copy)]
struct LogInputs {
    retention_days: RwSignal<String>,
    max_rows: RwSignal<String>,
    webhook: RwSignal<String>,
    cache_max_mb: RwSignal<String>,
    audit_retention_days: RwSignal<String>,
    redis_failure: RwSignal<String>,
}

impl LogInputs {
    fn new(settings: &Settings) -> Self {
        LogInputs {
            retention_days: RwSignal::new(settings.log_retention_days.to_string()),
            max_rows: RwSignal::new(settings.log_max_rows.to_string()),
            webhook: RwSignal::new(settings.alert_webhook_url.clone().unwrap_or_default()),
            cache_max_mb: RwSignal::new(settings.cache_max_mb.to_string()),
            audit_retention_days: RwSignal::new(
                settings
                    .audit_retention_days
                    .map(|days| days.to_string())
                    .unwrap_or_default(),
            ),
            redis_failure: RwSignal::new(settings.redis_failure.as_str().to_owned()),
        }
    }

    /// Fills the request log's settings into `settings`; unreadable or impossible values are
    /// reported under the server's field names. Empty numbers take the defaults.
    fn build(&self, settings: &mut Settings, parse: &mut Parse) {
        let defaults = Settings::default();
        let days = parse.u32_or(
            "log_retention_days",
            &self.retention_days.get_untracked(),
            defaults.log_retention_days,
        );
        if !(1..=3650).contains(&days) {
            parse.add("log_retention_days", "must be from 1 to 3650 days");
        }
        let rows = parse.u64_or(
            "log_max_rows",
            &self.max_rows.get_untracked(),
            defaults.log_max_rows,
        );
        if !(1000..=1_000_000_000).contains(&rows) {
            parse.add("log_max_rows", "must be from 1,000 to 1,000,000,000");
        }
        let webhook = non_empty(&self.webhook.get_untracked());
        if let Some(url) = &webhook
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            parse.add("alert_webhook_url", "must start with http:// or https://");
        }
        let cache_mb = parse.u64_or(
            "cache_max_mb",
            &self.cache_max_mb.get_untracked(),
            defaults.cache_max_mb,
        );
        if !(1..=MAX_CACHE_MB).contains(&cache_mb) {
            parse.add(
                "cache_max_mb",
                format!("must be from 1 to {MAX_CACHE_MB} MiB"),
            );
        }
        let audit_days = parse.opt_u32(
            "audit_retention_days",
            &self.audit_retention_days.get_untracked(),
        );
        if audit_days.is_some_and(|days| !(1..=36_500).contains(&days)) {
            parse.add("audit_retention_days", "must be from 1 to 36,500 days");
        }
        settings.log_retention_days = days;
        settings.log_max_rows = rows;
        settings.audit_retention_days = audit_days;
        settings.alert_webhook_url = webhook;
        settings.cache_max_mb = cache_mb;
        settings.redis_failure = match self.redis_failure.get_untracked().as_str() {
            "closed" => RedisFailure::Closed,
            _ => RedisFailure::Open,
        };
    }
}

#[component]
fn SettingsForm(view: SettingsView) -> impl IntoView {
    let settings = use_gateway_settings();
    let toasts = use_toasts();
    let form = FormErrors::provide();
    let current = RwSignal::new(view.clone());
    let choice = RwSignal::new(view.settings.client_auth);
    let log = LogInputs::new(&view.settings);
    let busy = RwSignal::new(false);
    // Requiring keys with no consumer yet locks every app out: the page says so first.
    let consumers = RwSignal::new(None::<usize>);
    spawn_local(async move {
        if let Ok(list) = api::get::<Vec<ConsumerSpec>>("/api/consumers").await {
            consumers.try_set(Some(list.iter().map(|c| c.keys.len()).sum()));
        }
    });

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        form.clear();
        let mut body = Settings {
            client_auth: choice.get_untracked(),
            ..current.get_untracked().settings
        };
        let mut parse = Parse::default();
        log.build(&mut body, &mut parse);
        if form.reject(parse.errors) {
            return;
        }
        busy.set(true);
        spawn_local(async move {
            match api::put("/api/settings", &body).await {
                Ok(reply) => {
                    toasts.saved(reply.snapshot_version());
                    if let Ok(view) = reply.json::<SettingsView>() {
                        current.set(view.clone());
                        settings.view.set(Some(view));
                    } else {
                        settings.refresh();
                    }
                }
                Err(error) if error.is_validation() => form.set(error.fields),
                Err(error) => form.set_general(Some(error.message)),
            }
            busy.set(false);
        });
    };

    let option = move |value: ClientAuth, label: &'static str| {
        let id = format!("settings-client-auth-{}", value.as_str());
        view! {
            <div class="radio-option">
                <input
                    type="radio"
                    name="client_auth"
                    id=id.clone()
                    data-testid=id.clone()
                    value=value.as_str()
                    prop:checked=move || choice.get() == value
                    on:change=move |_| choice.set(value)
                />
                <label for=id>
                    <strong>{label}</strong>
                    <span class="hint">{describe(value)}</span>
                </label>
            </div>
        }
    };

    view! {
        <form class="form settings-form" on:submit=submit novalidate>
            <Card title="Client keys" class="settings-card">
                <StatusNote current=current />
                <fieldset class="radio-group">
                    <legend class="sr-only">"Client keys"</legend>
                    {option(ClientAuth::Off, "Off")}
                    {option(ClientAuth::Required, "Required")}
                </fieldset>
                <FieldErr path="client_auth".to_owned() />
                {move || {
                    let no_keys = consumers.get() == Some(0);
                    (choice.get() == ClientAuth::Required && no_keys)
                        .then(|| {
                            view! {
                                <div class="alert alert-warn" role="status" data-testid="settings-no-keys">
                                    "No consumer has a key yet: with keys required every app is refused until it has one. "
                                    <a href="/consumers">"Create a consumer and a key"</a>
                                    " first."
                                </div>
                            }
                        })
                }}
            </Card>
            <LogCard inputs=log />
            <CacheSizeCard size=log.cache_max_mb />
            <ClusterCard failure=log.redis_failure />
            <FormErrorList />
            <div class="form-actions start">
                <button
                    type="submit"
                    class="btn btn-primary"
                    data-testid="settings-save"
                    disabled=move || busy.get()
                >
                    {move || if busy.get() { "Saving…" } else { "Save settings" }}
                </button>
            </div>
        </form>
    }
}

/// The request log's retention, the budget alerts' webhook and the audit trail's retention.
#[component]
fn LogCard(inputs: LogInputs) -> impl IntoView {
    view! {
        <Card title="Request log and alerts" class="settings-card">
            <div class="grid-2">
                <TextField
                    label="Keep records for (days)"
                    id="settings-log-retention-days"
                    value=inputs.retention_days
                    testid="settings-log-retention-days"
                    path="log_retention_days"
                    numeric=true
                    placeholder="30"
                    hint="Older request records are deleted; hourly usage totals are kept a year longer."
                />
                <TextField
                    label="Keep at most (records)"
                    id="settings-log-max-rows"
                    value=inputs.max_rows
                    testid="settings-log-max-rows"
                    path="log_max_rows"
                    numeric=true
                    placeholder="10000000"
                    hint="The oldest records go first once there are more."
                />
            </div>
            <TextField
                label="Budget alert webhook (optional)"
                id="settings-alert-webhook-url"
                value=inputs.webhook
                testid="settings-alert-webhook-url"
                path="alert_webhook_url"
                kind="url"
                placeholder="https://hooks.example.com/switchyard"
                hint="Receives a JSON POST when a budget crosses its soft limit or reaches its limit, once per period. Empty sends none."
            />
            <TextField
                label="Keep audit entries for (days, optional)"
                id="settings-audit-retention-days"
                value=inputs.audit_retention_days
                testid="settings-audit-retention-days"
                path="audit_retention_days"
                numeric=true
                placeholder="keep all"
                hint="Older entries of the History page are deleted hourly, and the configuration before them can no longer be rolled back to. Empty keeps every entry."
            />
        </Card>
    }
}

/// The response cache's size cap.
#[component]
fn CacheSizeCard(size: RwSignal<String>) -> impl IntoView {
    view! {
        <Card title="Response cache" class="settings-card">
            <TextField
                label="Memory for cached answers (MiB)"
                id="settings-cache-max-mb"
                value=size
                testid="settings-cache-max-mb"
                path="cache_max_mb"
                numeric=true
                placeholder="256"
                hint="Shared by every route with a cache; the least used answers go first once it is full. Routes turn the cache on in their own settings."
            />
        </Card>
    }
}

/// What requests do while the cluster's Redis cannot be reached (ignored without one).
#[component]
fn ClusterCard(failure: RwSignal<String>) -> impl IntoView {
    let options = Signal::derive(|| {
        vec![
            (
                "open".to_owned(),
                "Open: keep serving, counting on each gateway alone".to_owned(),
            ),
            (
                "closed".to_owned(),
                "Closed: refuse limited requests with 503".to_owned(),
            ),
        ]
    });
    view! {
        <Card title="Cluster" class="settings-card">
            <SelectField
                label="When Redis is unreachable"
                id="settings-redis-failure"
                value=failure
                options=options
                testid="settings-redis-failure"
                path="redis_failure"
                hint="Only for gateways started with --redis-url. Open keeps answering: rate limits, concurrency caps and budgets then count on each gateway by itself (so N gateways allow up to N times a limit) until Redis answers again. Closed refuses every request a limit or budget applies to."
            />
        </Card>
    }
}

/// What is in force, the flag that overrides the stored value, and the warning while keys are off.
#[component]
fn StatusNote(current: RwSignal<SettingsView>) -> impl IntoView {
    move || {
        let view = current.get();
        let effective = view.effective_client_auth;
        let flag = view.client_auth_from_flag.then(|| {
            view! {
                <div class="alert alert-info" role="status" data-testid="settings-flag-note">
                    {format!(
                        "This server was started with --client-auth {} (or SWITCHYARD_CLIENT_AUTH), which overrides the value saved here. The saved value ({}) applies once the server runs without it.",
                        effective.as_str(),
                        view.settings.client_auth.as_str(),
                    )}
                </div>
            }
        });
        let warning = (effective == ClientAuth::Off).then(|| {
            let tone = if view.proxy_loopback {
                "alert alert-warn"
            } else {
                "alert alert-error"
            };
            view! {
                <div class=tone role="alert" data-testid="settings-auth-warning">
                    <strong>{open_proxy_warning(&view)}</strong>
                    " Choose Required below once your apps have consumer keys."
                </div>
            }
        });
        view! {
            <p data-testid="settings-effective">
                "In force on the proxy: " <strong>{effective.as_str()}</strong>
            </p>
            {warning}
            {flag}
        }
    }
}
