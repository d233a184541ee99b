//! Configuration: what the gateway runs now (snapshot version, revision, last reload error), the
//! response cache (see `cache`), export as YAML, and import: paste or pick a file, preview the
//! changes, then apply them.

use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen_futures::JsFuture;

use crate::api::types::{ApplySummary, ConfigDiff, SectionDiff, Status, error_text};
use crate::api::{self, ApiError, Body};
use crate::components::field::Checkbox;
use crate::components::icons::Icon;
use crate::components::page::{Card, LoadError, Loading, PageHeader};
use crate::components::toast::{saved_text, use_toasts};
use crate::util::download_text;

mod cache;

/// The result of a preview.
#[derive(Clone, Debug, PartialEq)]
enum Preview {
    Changes(Box<ConfigDiff>),
    Invalid(ApiError),
}

#[component]
pub fn ConfigPage() -> impl IntoView {
    let toasts = use_toasts();
    let status = RwSignal::new(None::<Result<Status, ApiError>>);
    let load_status = move || {
        spawn_local(async move {
            status.try_set(Some(api::get::<Status>("/api/status").await));
        });
    };
    load_status();

    let export = RwSignal::new(None::<String>);
    let export_error = RwSignal::new(None::<String>);
    let export_busy = RwSignal::new(false);
    let do_export = move |_| {
        export_busy.set(true);
        spawn_local(async move {
            match api::get_text("/api/config?format=yaml").await {
                Ok(text) => {
                    export.set(Some(text));
                    export_error.set(None);
                }
                Err(e) => export_error.set(Some(e.message)),
            }
            export_busy.set(false);
        });
    };
    let download = move |_| {
        if let Some(text) = export.get_untracked()
            && let Err(message) = download_text("switchyard.yaml", "application/yaml", &text)
        {
            toasts.error(format!("Download failed: {message}"));
        }
    };

    let import = RwSignal::new(String::new());
    let prune = RwSignal::new(false);
    let preview = RwSignal::new(None::<Preview>);
    // The text and prune flag the preview was made for: Apply sends only what was previewed.
    let previewed = RwSignal::new(None::<(String, bool)>);
    let busy = RwSignal::new(false);
    let use_export = move |_| {
        if let Some(text) = export.get_untracked() {
            import.set(text);
        }
    };
    let pick_file = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        spawn_local(async move {
            match JsFuture::from(file.text()).await {
                Ok(text) => import.set(text.as_string().unwrap_or_default()),
                Err(e) => toasts.error(format!(
                    "The file could not be read: {}",
                    api::js_message(&e)
                )),
            }
        });
    };
    let do_preview = move |_| {
        let text = import.get_untracked();
        if text.trim().is_empty() {
            preview.set(Some(Preview::Invalid(ApiError {
                message: "Paste a configuration document or pick a file first.".into(),
                ..ApiError::default()
            })));
            return;
        }
        let prune_now = prune.get_untracked();
        busy.set(true);
        spawn_local(async move {
            let path = format!("/api/config/diff?prune={prune_now}");
            let result = api::call("POST", &path, Some(Body::yaml(text.clone())))
                .await
                .and_then(|reply| reply.json::<ConfigDiff>());
            match result {
                Ok(diff) if diff.valid => {
                    previewed.set(Some((text, prune_now)));
                    preview.set(Some(Preview::Changes(Box::new(diff))));
                }
                Ok(_) => {
                    previewed.set(None);
                    preview.set(Some(Preview::Invalid(ApiError {
                        message: "The document is not valid.".into(),
                        ..ApiError::default()
                    })));
                }
                Err(e) => {
                    previewed.set(None);
                    preview.set(Some(Preview::Invalid(e)));
                }
            }
            busy.set(false);
        });
    };
    let can_apply = move || {
        !busy.get()
            && previewed.with(|p| {
                p.as_ref().is_some_and(|(text, pruned)| {
                    import.with(|i| i == text) && prune.get() == *pruned
                })
            })
    };
    let do_apply = move |_| {
        let Some((text, prune_now)) = previewed.get_untracked() else {
            return;
        };
        busy.set(true);
        spawn_local(async move {
            let path = format!("/api/config/apply?prune={prune_now}");
            match api::call("POST", &path, Some(Body::yaml(text))).await {
                Ok(reply) => {
                    let summary = reply
                        .json::<ApplySummary>()
                        .map(|s| summarize(&s))
                        .unwrap_or_default();
                    let saved = saved_text(reply.snapshot_version());
                    toasts.success(if summary.is_empty() {
                        saved
                    } else {
                        format!("{saved}. {summary}")
                    });
                    previewed.set(None);
                    preview.set(None);
                    load_status();
                }
                Err(e) => {
                    previewed.set(None);
                    preview.set(Some(Preview::Invalid(e)));
                }
            }
            busy.set(false);
        });
    };

    view! {
        <PageHeader
            title="Configuration"
            subtitle="What the gateway runs now, and the whole configuration as one YAML document."
        >
            <button type="button" class="btn btn-small" on:click=move |_| load_status()>
                <Icon name="refresh" size=14 />
                "Refresh"
            </button>
        </PageHeader>
        <Card title="Running configuration">
            {move || match status.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(e)) => view! { <LoadError message=e.message on_retry=move |()| load_status() /> }.into_any(),
                Some(Ok(s)) => view! { <StatusView status=s /> }.into_any(),
            }}
        </Card>
        <cache::CacheCard />
        <div class="grid-2 align-start">
            <Card title="Export">
                <p class="hint">"The current providers, routes, consumers and guardrail policies, with API keys masked (consumer keys as digests)."</p>
                <div class="form-actions start">
                    <button
                        type="button"
                        class="btn btn-primary"
                        data-testid="config-export"
                        disabled=move || export_busy.get()
                        on:click=do_export
                    >
                        <Icon name="download" size=16 />
                        "Export YAML"
                    </button>
                    <Show when=move || export.with(Option::is_some)>
                        <button type="button" class="btn" data-testid="config-download" on:click=download>
                            "Download switchyard.yaml"
                        </button>
                        <button type="button" class="btn" on:click=use_export>
                            "Copy to import"
                        </button>
                    </Show>
                </div>
                {move || export_error.get().map(|m| view! { <p class="alert alert-error" role="alert">{m}</p> })}
                <Show when=move || export.with(Option::is_some)>
                    <label class="sr-only" for="config-export-text">
                        "Exported configuration"
                    </label>
                    <textarea
                        id="config-export-text"
                        class="input textarea code-area"
                        rows="16"
                        readonly=true
                        data-testid="config-export-text"
                        prop:value=move || export.get().unwrap_or_default()
                    ></textarea>
                </Show>
            </Card>
            <Card title="Import">
                <p class="hint">
                    "Paste a YAML (or JSON) document with providers, routes and consumers, or pick a file. Preview shows what would change; nothing changes until Apply."
                </p>
                <div class="field">
                    <label for="config-import-file">"File"</label>
                    <input
                        id="config-import-file"
                        type="file"
                        class="input"
                        accept=".yaml,.yml,.json,application/json,text/yaml,application/yaml"
                        on:change=pick_file
                    />
                </div>
                <div class="field">
                    <label for="config-import-text">"Document"</label>
                    <textarea
                        id="config-import-text"
                        class="input textarea code-area"
                        rows="14"
                        spellcheck="false"
                        data-testid="config-import-text"
                        placeholder="providers:\n  - name: deepseek\n    type: deepseek\n    api_keys: [sk-...]\nroutes:\n  - name: deepseek\n    match: [{type: prefix, value: deepseek-}]\n    upstreams: [{provider: deepseek}]"
                        prop:value=move || import.get()
                        on:input=move |ev| import.set(event_target_value(&ev))
                    ></textarea>
                </div>
                <Checkbox
                    label="Prune: delete providers and routes the document does not list"
                    id="config-prune"
                    checked=prune
                    testid="config-prune"
                />
                <div class="form-actions start">
                    <button
                        type="button"
                        class="btn"
                        data-testid="config-preview"
                        disabled=move || busy.get()
                        on:click=do_preview
                    >
                        "Preview changes"
                    </button>
                    <button
                        type="button"
                        class="btn btn-primary"
                        data-testid="config-apply"
                        disabled=move || !can_apply()
                        title="Preview first; Apply sends exactly what was previewed."
                        on:click=do_apply
                    >
                        "Apply"
                    </button>
                </div>
                {move || {
                    preview
                        .get()
                        .map(|p| {
                            view! {
                                <div class="diff" data-testid="config-diff" aria-live="polite">
                                    {match p {
                                        Preview::Changes(diff) => view! { <DiffView diff=*diff /> }.into_any(),
                                        Preview::Invalid(error) => view! { <InvalidView error=error /> }.into_any(),
                                    }}
                                </div>
                            }
                        })
                }}
            </Card>
        </div>
    }
}

/// `providers_created: 1, routes_updated: 2` as "providers created 1, routes updated 2"; only
/// changes are listed, not what stayed the same.
fn summarize(summary: &ApplySummary) -> String {
    summary
        .iter()
        .filter(|(k, _)| !k.ends_with("_unchanged"))
        .filter(|(_, v)| v.as_u64().is_some_and(|n| n > 0))
        .map(|(k, v)| format!("{} {v}", k.replace('_', " ")))
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn StatusView(status: Status) -> impl IntoView {
    let reload_error = error_text(&status.last_reload_error);
    view! {
        <dl class="status-grid">
            <div>
                <dt>"Snapshot version"</dt>
                <dd data-testid="status-version">{status.version}</dd>
            </div>
            <div>
                <dt>"Config revision"</dt>
                <dd data-testid="status-revision">{status.config_revision}</dd>
            </div>
            <div>
                <dt>"Loaded at"</dt>
                <dd title=status.loaded_at.clone()>{crate::util::fmt_timestamp(&status.loaded_at)}</dd>
            </div>
            <div>
                <dt>"Build time"</dt>
                <dd>{format!("{:.1} ms", status.build_ms)}</dd>
            </div>
            <div>
                <dt>"Providers"</dt>
                <dd>{status.providers}</dd>
            </div>
            <div>
                <dt>"Routes"</dt>
                <dd>{status.routes}</dd>
            </div>
        </dl>
        {match reload_error {
            Some(message) => view! {
                <div class="alert alert-error" role="alert" data-testid="status-reload-error">
                    <strong>"The last reload failed; the gateway keeps serving the snapshot above. "</strong>
                    {message}
                </div>
            }
            .into_any(),
            None => view! { <p class="muted small">"The last reload succeeded."</p> }.into_any(),
        }}
        {status.redis.clone().map(|redis| view! { <RedisStatusView redis=redis /> })}
        {(!status.warnings.is_empty()).then(|| view! {
            <div class="alert alert-warn" role="status" data-testid="status-warnings">
                <strong>"Valid, but probably not what you meant:"</strong>
                <ul>
                    {status.warnings.iter().map(|w| view! {
                        <li><code>{w.field.clone()}</code>": "{w.message.clone()}</li>
                    }).collect_view()}
                </ul>
            </div>
        })}
    }
}

/// The cluster's Redis as this gateway sees it (`--redis-url`), and what requests do while it
/// cannot be reached.
#[component]
fn RedisStatusView(redis: switchyard_shared::admin::RedisStatus) -> impl IntoView {
    let fallback = match redis.failure_mode {
        switchyard_shared::RedisFailure::Open => {
            "limits, slots and budgets count on this gateway alone until Redis answers"
        }
        switchyard_shared::RedisFailure::Closed => {
            "requests under a limit or budget are refused with 503 until Redis answers"
        }
    };
    view! {
        <h3 class="sub-title">"Shared counters (Redis)"</h3>
        <dl class="status-grid" data-testid="status-redis">
            <div>
                <dt>"Redis"</dt>
                <dd><code>{redis.url.clone()}</code></dd>
            </div>
            <div>
                <dt>"Reachable"</dt>
                <dd data-testid="status-redis-reachable">{if redis.reachable { "yes" } else { "no" }}</dd>
            </div>
            <div>
                <dt>"Failed calls"</dt>
                <dd>{redis.failures_total}</dd>
            </div>
        </dl>
        {(!redis.reachable).then(|| view! {
            <div class="alert alert-warn" role="status">
                <strong>"Redis is unreachable"</strong>
                {redis.unreachable_since.clone().map(|at| format!(" since {}", crate::util::fmt_timestamp(&at)))}
                {format!(": redis_failure is {}, so {fallback}.", redis.failure_mode.as_str())}
            </div>
        })}
    }
}

/// The preview of a whole-configuration change (an import, or a rollback on the History page).
#[component]
pub fn DiffView(diff: ConfigDiff) -> impl IntoView {
    let nothing = !diff.settings_changed
        && [
            &diff.providers,
            &diff.routes,
            &diff.consumers,
            &diff.guardrails,
        ]
        .iter()
        .all(|s| s.create.is_empty() && s.update.is_empty() && s.delete.is_empty());
    // Consumers appear once there are any, in the document or on the gateway.
    let consumers = &diff.consumers;
    let has_consumers = [
        &consumers.create,
        &consumers.update,
        &consumers.delete,
        &consumers.unchanged,
    ]
    .iter()
    .any(|names| !names.is_empty());
    let has_guardrails = {
        let g = &diff.guardrails;
        [&g.create, &g.update, &g.delete, &g.unchanged]
            .iter()
            .any(|names| !names.is_empty())
    };
    view! {
        {nothing.then(|| view! { <p class="alert alert-info">"Nothing would change: the gateway already runs this configuration."</p> })}
        <DiffSection title="Providers" diff=diff.providers />
        <DiffSection title="Routes" diff=diff.routes />
        {has_consumers.then(|| view! { <DiffSection title="Consumers" diff=diff.consumers /> })}
        {has_guardrails
            .then(|| view! { <DiffSection title="Guardrail policies" diff=diff.guardrails /> })}
        {diff
            .settings_changed
            .then(|| {
                view! {
                    <h3 class="sub-title">"Settings"</h3>
                    <p class="diff-line diff-update" data-testid="config-diff-settings">
                        <span class="diff-label">"~ update"</span>
                        "The document's settings differ from the gateway's (client keys)."
                    </p>
                }
            })}
    }
}

#[component]
fn DiffSection(title: &'static str, diff: SectionDiff) -> impl IntoView {
    let line = |label: &'static str,
                class: &'static str,
                sign: &'static str,
                names: Vec<String>| {
        (!names.is_empty()).then(|| {
            view! {
                <li class=format!("diff-line {class}")>
                    <span class="diff-label">{format!("{sign} {label} ({})", names.len())}</span>
                    <span class="chips">
                        {names.into_iter().map(|n| view! { <span class="chip mono">{n}</span> }).collect_view()}
                    </span>
                </li>
            }
        })
    };
    view! {
        <h3 class="sub-title">{title}</h3>
        <ul class="diff-list">
            {line("create", "diff-create", "+", diff.create)}
            {line("update", "diff-update", "~", diff.update)}
            {line("delete", "diff-delete", "−", diff.delete)}
            {line("unchanged", "diff-same", "=", diff.unchanged)}
        </ul>
    }
}

#[component]
fn InvalidView(error: ApiError) -> impl IntoView {
    view! {
        <div class="alert alert-error" role="alert">
            <p>{error.message.clone()}</p>
            {(!error.fields.is_empty())
                .then(|| {
                    view! {
                        <ul class="field-list">
                            {error
                                .fields
                                .into_iter()
                                .map(|f| {
                                    let testid = format!("config-error-{}", f.field);
                                    view! {
                                        <li data-testid=testid>
                                            <code>{f.field}</code>
                                            " "
                                            {f.message}
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    }
                })}
        </div>
    }
}
