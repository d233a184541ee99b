//! The provider form's resilience settings: token failover (ejecting a failing API key and
//! probing it back) and the health check (the passive circuit breaker and active probes), as
//! inputs and as form sections.

use leptos::prelude::*;
use switchyard_shared::{HealthCheck, TokenFailover};

use crate::components::field::{Checkbox, FieldErr, SelectField, TextField};
use crate::form::{Parse, format_statuses, non_empty};

/// The token failover inputs; empty numbers take the defaults shown as placeholders.
#[derive(Clone, Copy)]
pub struct FailoverInputs {
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
    pub fn new(spec: Option<&TokenFailover>) -> Self {
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
    pub fn build(&self, parse: &mut Parse, configured_before: bool) -> Option<TokenFailover> {
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
pub struct CheckInputs {
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
    pub fn new(spec: Option<&HealthCheck>) -> Self {
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
    pub fn build(&self, parse: &mut Parse, configured_before: bool) -> Option<HealthCheck> {
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

#[component]
pub fn FailoverSection(inputs: FailoverInputs) -> impl IntoView {
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
pub fn HealthCheckSection(inputs: CheckInputs) -> impl IntoView {
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
