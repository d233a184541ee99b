//! The record drawer: every field of one request's record — who called, where it went, the
//! fallback trail step by step, tokens by type (and why they may be estimated), cost (or, for an
//! answer from the response cache, the cost saved), latency, time to first token, whether the
//! client left, and the guardrail hits. It closes on Escape, the backdrop or ✕.

use leptos::prelude::*;
use switchyard_shared::metering::{RequestLog, TrailStep};
use wasm_bindgen::JsCast;

use super::guardrail_hits::GuardrailHits;
use super::table::{EstimatedMark, status_tone};
use crate::api::ApiError;
use crate::api::metering::encode;
use crate::components::badge::Badge;
use crate::components::icons::Icon;
use crate::components::page::Loading;
use crate::util::{fmt_cost, fmt_int, fmt_ms, fmt_timestamp};

/// What the drawer shows.
#[derive(Clone, Debug, PartialEq)]
pub enum Detail {
    Closed,
    Loading(String),
    Failed(String, ApiError),
    Open(Box<RequestLog>),
}

/// One labelled value, its `dd` marked `log-field-<name>` for tests.
fn field(name: &'static str, label: &'static str, value: impl IntoView) -> impl IntoView {
    view! {
        <dt>{label}</dt>
        <dd data-testid=format!("log-field-{name}")>{value}</dd>
    }
}

fn text_or_dash(value: &Option<String>) -> String {
    value.clone().unwrap_or_else(|| "—".into())
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

#[component]
pub fn LogDrawer(detail: RwSignal<Detail>, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" && detail.with_untracked(|d| *d != Detail::Closed) {
            on_close.run(());
        }
    });
    let escape = StoredValue::new_local(Some(escape));
    on_cleanup(move || {
        if let Some(Some(handle)) = escape.try_update_value(Option::take) {
            handle.remove();
        }
    });
    // Keyboard focus moves into the drawer when it opens, onto its close button.
    Effect::new(move |was_open: Option<bool>| {
        let open = detail.with(|d| *d != Detail::Closed);
        if open && was_open != Some(true) {
            request_animation_frame(|| {
                let button = document()
                    .query_selector("[data-testid='log-drawer-close']")
                    .ok()
                    .flatten()
                    .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
                if let Some(button) = button {
                    let _ = button.focus();
                }
            });
        }
        open
    });
    move || {
        let (id, body) = match detail.get() {
            Detail::Closed => return ().into_any(),
            Detail::Loading(id) => (id, view! { <Loading /> }.into_any()),
            Detail::Failed(id, error) => {
                let message = if error.status == 404 {
                    "No record with this id: it may be older than the retention, or the id is wrong."
                        .to_owned()
                } else {
                    error.message
                };
                (
                    id,
                    view! {
                        <div class="alert alert-error" role="alert">
                            {message}
                        </div>
                    }
                    .into_any(),
                )
            }
            Detail::Open(record) => (
                record.request_id.clone(),
                view! { <RecordView record=*record /> }.into_any(),
            ),
        };
        let shown_id = id.clone();
        view! {
            <div class="drawer-backdrop" on:click=move |_| on_close.run(())></div>
            <aside
                class="drawer"
                role="dialog"
                aria-modal="true"
                aria-labelledby="log-drawer-title"
                data-testid="log-drawer"
                data-request-id=shown_id
            >
                <header class="drawer-head">
                    <div>
                        <h2 id="log-drawer-title">"Request"</h2>
                        <code class="mono small" data-testid="log-drawer-id">
                            {id}
                        </code>
                    </div>
                    <button
                        type="button"
                        class="icon-btn"
                        aria-label="Close"
                        data-testid="log-drawer-close"
                        on:click=move |_| on_close.run(())
                    >
                        <Icon name="close" />
                    </button>
                </header>
                <div class="drawer-body">{body}</div>
            </aside>
        }
        .into_any()
    }
}

#[component]
fn RecordView(record: RequestLog) -> impl IntoView {
    let r = record;
    let total = r.prompt_tokens + r.completion_tokens;
    let consumer_link = r.consumer.clone().map(|name| {
        view! {
            <a class="small" href=format!("/logs?consumer={}", encode(&name))>
                "All of this consumer's requests"
            </a>
        }
    });
    let cost = match r.cost_usd {
        Some(cost) => fmt_cost(Some(cost)),
        None => format!(
            "unpriced: {} has no price in the table or its provider's pricing",
            r.model.clone().unwrap_or_else(|| "the model".into())
        ),
    };
    let cache = if r.cache_hit {
        "hit: answered from the response cache, at no cost"
    } else {
        "no"
    };
    let saved = (r.cache_hit || r.cost_saved_usd.is_some())
        .then(|| field("cost_saved_usd", "Cost saved", fmt_cost(r.cost_saved_usd)));
    let first_byte = if r.stream {
        "Time to first token"
    } else {
        "Time to first byte"
    };
    let disconnected = if r.client_disconnected {
        "yes: the client left before the answer ended; it is billed for what was generated until then"
    } else {
        "no"
    };
    view! {
        <div class="drawer-summary">
            <Badge text=r.status.to_string() tone=status_tone(r.status) />
            {r.error_code.clone().map(|c| view! { <code>{c}</code> })}
            {r.stream.then(|| view! { <span class="chip">"stream"</span> })}
            {r.cache_hit.then(|| view! { <span class="badge badge-ok">"cache hit"</span> })}
            {r.client_disconnected.then(|| view! { <span class="badge badge-warn">"client disconnected"</span> })}
            {r.tokens_estimated.then(|| view! { <EstimatedMark /> })}
        </div>
        <h3 class="sub-title">"Request"</h3>
        <dl class="meta-list">
            {field("time", "Time", fmt_timestamp(&r.time))}
            {field("endpoint", "Endpoint", r.endpoint.clone())}
            {field("consumer", "Consumer", r.consumer.clone().unwrap_or_else(|| "anonymous".into()))}
            {field("key_id", "Key id", r.key_id.map_or_else(|| "—".into(), |k| k.to_string()))}
            {field("route", "Route", text_or_dash(&r.route))}
            {field("provider", "Provider", text_or_dash(&r.provider))}
            {field("requested_model", "Model asked for", text_or_dash(&r.requested_model))}
            {field("model", "Model sent upstream", text_or_dash(&r.model))}
            {field("status", "Status", r.status.to_string())}
            {field("error_code", "Error code", text_or_dash(&r.error_code))}
            {field("stream", "Stream", yes_no(r.stream))}
            {field("attempts", "Upstream attempts", r.attempts.to_string())}
        </dl>
        {consumer_link}
        <h3 class="sub-title">"Fallback trail"</h3>
        <Trail steps=r.fallback_trail.clone() attempts=r.attempts provider=r.provider.clone() />
        <h3 class="sub-title">"Tokens"</h3>
        <dl class="meta-list">
            {field("prompt_tokens", "Prompt", fmt_int(r.prompt_tokens))}
            {field("completion_tokens", "Completion", fmt_int(r.completion_tokens))}
            {field("cached_tokens", "Cached (of the prompt)", fmt_int(r.cached_tokens))}
            {field("reasoning_tokens", "Reasoning (of the completion)", fmt_int(r.reasoning_tokens))}
            {field("total_tokens", "Total", fmt_int(total))}
            {field("tokens_estimated", "Counted by", if r.tokens_estimated { "estimate" } else { "the provider" })}
        </dl>
        {r.tokens_estimated
            .then(|| {
                view! {
                    <p class="alert alert-info small" data-testid="log-estimated-note">
                        "Estimated: the provider sent no usage, or the client left mid-stream, so the gateway counted the prompt and the text streamed so far with a tokenizer. Cost and budgets use these counts."
                    </p>
                }
            })}
        <h3 class="sub-title">"Cost and timing"</h3>
        <dl class="meta-list">
            {field("cost_usd", "Cost", cost)}
            {field("cache_hit", "Response cache", cache)}
            {saved}
            {field("latency_ms", "Latency", fmt_ms(Some(r.latency_ms)))}
            {field("ttft_ms", first_byte, fmt_ms(r.ttft_ms))}
            {field("client_disconnected", "Client disconnected", disconnected)}
        </dl>
        <h3 class="sub-title">"Guardrails"</h3>
        <GuardrailHits hits=r.guardrails.clone() />
    }
}

/// The attempts in order, or a sentence when there was at most one and it succeeded.
#[component]
fn Trail(steps: Vec<TrailStep>, attempts: u32, provider: Option<String>) -> impl IntoView {
    if steps.is_empty() {
        let text = match (attempts, provider) {
            (0, _) => "No upstream attempt: the gateway answered by itself.".to_owned(),
            (1, Some(provider)) => format!("One attempt, answered by {provider}."),
            (n, _) => format!("{n} attempts."),
        };
        return view! { <p class="muted small" data-testid="log-trail">{text}</p> }.into_any();
    }
    view! {
        <ol class="trail" data-testid="log-trail">
            {steps
                .into_iter()
                .map(|step| {
                    let status = step.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
                    let tone = step.status.map_or("bad", status_tone);
                    let (provider, outcome) = (step.provider.clone(), step.outcome.clone());
                    view! {
                        <li
                            data-testid="log-trail-step"
                            data-provider=provider
                            data-status=step.status.map(|s| s.to_string())
                            data-outcome=outcome
                        >
                            <strong>{step.provider}</strong>
                            <Badge text=status tone=tone />
                            <span class="muted small">{step.outcome}</span>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
    .into_any()
}
