//! The playground: send a prompt through the gateway to any model it serves and watch the answer
//! stream in, with the route, provider, model, attempts and fallback that served it. While client
//! keys are required, a consumer's key typed here goes with the requests, as an app's would.

use leptos::ev::SubmitEvent;
use leptos::prelude::*;
use leptos::task::spawn_local;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ReadableStreamDefaultReader, Response};

use crate::api::types::ModelList;
use crate::api::{self, ApiError, Body, js_message};
use crate::components::icons::Icon;
use crate::components::page::PageHeader;
use crate::sse::{ChatEvent, SseParser, chat_event};

/// The response headers the gateway adds to say how it served a request.
const META_HEADERS: [(&str, &str); 5] = [
    ("x-switchyard-route", "Route"),
    ("x-switchyard-provider", "Provider"),
    ("x-switchyard-model", "Upstream model"),
    ("x-switchyard-attempts", "Attempts"),
    ("x-switchyard-fallback", "Fallback"),
];

/// What the details panel shows about the last answer.
#[derive(Clone, Debug, Default, PartialEq)]
struct Meta {
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    first_token_ms: Option<f64>,
    total_ms: Option<f64>,
    usage: Option<(u64, u64)>,
}

#[component]
pub fn PlaygroundPage() -> impl IntoView {
    let models = RwSignal::new(None::<Result<Vec<String>, ApiError>>);
    let model = RwSignal::new(String::new());
    let prompt = RwSignal::new(String::new());
    let output = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let meta = RwSignal::new(None::<Meta>);
    let busy = RwSignal::new(false);
    let stop = RwSignal::new(false);
    let client_key = RwSignal::new(String::new());

    let load_models = move || {
        let key = client_key.get_untracked();
        spawn_local(async move {
            let result = load_model_ids(&key).await;
            if let Ok(ids) = &result
                && model.get_untracked().is_empty()
                && let Some(first) = ids.first()
            {
                model.set(first.clone());
            }
            models.set(Some(result));
        });
    };
    load_models();

    let send = move || {
        if busy.get_untracked() {
            return;
        }
        let chosen = model.get_untracked().trim().to_owned();
        let text = prompt.get_untracked();
        if chosen.is_empty() || text.trim().is_empty() {
            error.set(Some("Choose a model and write a prompt first.".into()));
            return;
        }
        output.set(String::new());
        error.set(None);
        meta.set(None);
        stop.set(false);
        busy.set(true);
        let key = client_key.get_untracked();
        spawn_local(async move {
            let outcome = chat(&chosen, &text, &key, output, meta, stop).await;
            if let Err(message) = outcome {
                error.try_set(Some(message));
            }
            busy.try_set(false);
        });
    };

    let submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        send();
    };

    view! {
        <PageHeader
            title="Playground"
            subtitle="Try a model through the gateway, exactly as an application would call it."
        />
        <div class="playground">
            <form class="card form" on:submit=submit>
                <div class="field">
                    <label for="playground-client-key">"Client key (optional)"</label>
                    <input
                        id="playground-client-key"
                        class="input mono"
                        type="password"
                        autocomplete="off"
                        data-testid="playground-client-key"
                        placeholder="sy-…"
                        aria-describedby="playground-client-key-hint"
                        prop:value=move || client_key.get()
                        on:input=move |ev| client_key.set(event_target_value(&ev))
                        on:change=move |_| load_models()
                    />
                    <p class="hint" id="playground-client-key-hint">
                        "Needed while client keys are required (Settings): the requests then run as that consumer, with its models and limits. It is not stored."
                    </p>
                </div>
                <div class="field">
                    <label for="playground-model">"Model"</label>
                    {move || match models.get() {
                        Some(Err(e)) => view! {
                            <p class="alert alert-error" role="alert">
                                {format!("The model list could not be loaded: {}", e.message)}
                            </p>
                        }
                        .into_any(),
                        _ => ().into_any(),
                    }}
                    <select
                        id="playground-model"
                        class="input"
                        data-testid="playground-model"
                        on:change=move |ev| model.set(event_target_value(&ev))
                    >
                        {move || {
                            let current = model.get();
                            match models.get() {
                                None => view! { <option value="">"Loading models…"</option> }.into_any(),
                                Some(Ok(ids)) if ids.is_empty() => view! {
                                    <option value="">"No models: add a provider with models and a route"</option>
                                }
                                .into_any(),
                                Some(Ok(ids)) => ids
                                    .into_iter()
                                    .map(|id| {
                                        let selected = id == current;
                                        let value = id.clone();
                                        view! {
                                            <option value=value selected=selected>
                                                {id}
                                            </option>
                                        }
                                    })
                                    .collect_view()
                                    .into_any(),
                                Some(Err(_)) => view! { <option value="">"Unavailable"</option> }.into_any(),
                            }
                        }}
                    </select>
                </div>
                <div class="field">
                    <label for="playground-prompt">"Prompt"</label>
                    <textarea
                        id="playground-prompt"
                        class="input textarea"
                        rows="6"
                        data-testid="playground-prompt"
                        placeholder="Ask anything…"
                        aria-describedby="playground-prompt-hint"
                        prop:value=move || prompt.get()
                        on:input=move |ev| prompt.set(event_target_value(&ev))
                        on:keydown=move |ev| {
                            // Ctrl+Enter (or Cmd+Enter) sends, as in most chat tools.
                            if ev.key() == "Enter" && (ev.ctrl_key() || ev.meta_key()) {
                                ev.prevent_default();
                                send();
                            }
                        }
                    ></textarea>
                    <p class="hint" id="playground-prompt-hint">
                        "Ctrl+Enter sends. The answer streams in as the model writes it."
                    </p>
                </div>
                <div class="form-actions">
                    <Show when=move || busy.get()>
                        <button
                            type="button"
                            class="btn"
                            data-testid="playground-stop"
                            on:click=move |_| stop.set(true)
                        >
                            "Stop"
                        </button>
                    </Show>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        data-testid="playground-send"
                        disabled=move || busy.get()
                    >
                        <Icon name="send" size=16 />
                        {move || if busy.get() { "Streaming…" } else { "Send" }}
                    </button>
                </div>
            </form>
            <section class="card answer" aria-labelledby="answer-title">
                <h2 class="card-title" id="answer-title">
                    "Answer"
                </h2>
                {move || {
                    error
                        .get()
                        .map(|message| {
                            view! {
                                <div class="alert alert-error" role="alert" data-testid="playground-error">
                                    {message}
                                </div>
                            }
                        })
                }}
                <div
                    class="output"
                    data-testid="playground-output"
                    aria-live="polite"
                    aria-busy=move || busy.get().to_string()
                >
                    {move || output.get()}
                    {move || busy.get().then(|| view! { <span class="cursor" aria-hidden="true"></span> })}
                </div>
                <details class="meta" data-testid="playground-meta" open=true>
                    <summary>"Response details"</summary>
                    {move || match meta.get() {
                        None => view! { <p class="muted small">"Send a prompt to see how the gateway served it."</p> }
                            .into_any(),
                        Some(m) => view! { <MetaList meta=m /> }.into_any(),
                    }}
                </details>
            </section>
        </div>
    }
}

#[component]
fn MetaList(meta: Meta) -> impl IntoView {
    let timing = |ms: Option<f64>| {
        ms.map(|ms| format!("{} ms", ms.round()))
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <dl class="meta-list">
            <dt>"HTTP status"</dt>
            <dd>{meta.status}</dd>
            {meta
                .headers
                .into_iter()
                .map(|(name, value)| {
                    view! {
                        <dt>{name}</dt>
                        <dd class="mono" data-testid=format!("playground-meta-{}", name.to_lowercase().replace(' ', "-"))>
                            {value.unwrap_or_else(|| "—".into())}
                        </dd>
                    }
                })
                .collect_view()}
            <dt>"First token after"</dt>
            <dd>{timing(meta.first_token_ms)}</dd>
            <dt>"Total time"</dt>
            <dd>{timing(meta.total_ms)}</dd>
            {meta
                .usage
                .map(|(prompt, completion)| {
                    view! {
                        <dt>"Tokens in / out"</dt>
                        <dd>{format!("{prompt} / {completion}")}</dd>
                    }
                })}
        </dl>
    }
}

/// The header the admin API's relay passes to the proxy as the client's key.
const CLIENT_KEY_HEADER: &str = "x-switchyard-client-key";

/// The extra request headers that carry `key`, if one was typed.
fn key_headers(key: &str) -> Vec<(&'static str, &str)> {
    let key = key.trim();
    if key.is_empty() {
        Vec::new()
    } else {
        vec![(CLIENT_KEY_HEADER, key)]
    }
}

/// The models the proxy lists for this caller, sorted.
async fn load_model_ids(key: &str) -> Result<Vec<String>, ApiError> {
    let response =
        api::fetch_response_with("GET", "/api/playground/models", None, &key_headers(key)).await?;
    let text = api::read_text(&response).await?;
    if !response.ok() {
        return Err(ApiError::from_body(response.status(), &text, None));
    }
    let list: ModelList = serde_json::from_str(&text)
        .map_err(|e| ApiError::from_body(502, &format!("unreadable model list: {e}"), None))?;
    let mut ids: Vec<String> = list.data.into_iter().map(|m| m.id).collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

/// Sends the prompt and streams the answer into `output`; an `Err` is the message to show.
async fn chat(
    model: &str,
    prompt: &str,
    key: &str,
    output: RwSignal<String>,
    meta: RwSignal<Option<Meta>>,
    stop: RwSignal<bool>,
) -> Result<(), String> {
    let started = js_sys::Date::now();
    let body = serde_json::json!({
        "model": model,
        "messages": [{"role": "user", "content": prompt}],
        "stream": true,
    });
    let response = api::fetch_response_with(
        "POST",
        "/api/playground/chat/completions",
        Some(Body::json(&body)),
        &key_headers(key),
    )
    .await
    .map_err(|e| e.message)?;
    let headers = response.headers();
    let mut info = Meta {
        status: response.status(),
        headers: META_HEADERS
            .iter()
            .map(|(header, label)| (*label, headers.get(header).ok().flatten()))
            .collect(),
        ..Meta::default()
    };
    meta.try_set(Some(info.clone()));
    if !response.ok() {
        let text = api::read_text(&response).await.map_err(|e| e.message)?;
        return Err(ApiError::from_body(response.status(), &text, None).message);
    }
    let content_type = headers
        .get("content-type")
        .ok()
        .flatten()
        .unwrap_or_default();
    let mut failure = None;
    if content_type.contains("event-stream") {
        read_events(&response, stop, |event| match event {
            ChatEvent::Delta(text) => {
                if info.first_token_ms.is_none() {
                    info.first_token_ms = Some(js_sys::Date::now() - started);
                }
                output.try_update(|out| out.push_str(&text));
                true
            }
            ChatEvent::Usage { prompt, completion } => {
                info.usage = Some((prompt, completion));
                true
            }
            ChatEvent::Error(message) => {
                failure = Some(message);
                false
            }
            ChatEvent::Done => false,
            ChatEvent::Other => true,
        })
        .await?;
    } else {
        // A gateway or model that ignores `stream` answers with one JSON body instead.
        let text = api::read_text(&response).await.map_err(|e| e.message)?;
        let value: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        let content = value
            .pointer("/choices/0/message/content")
            .and_then(|c| c.as_str())
            .unwrap_or_default();
        info.first_token_ms = Some(js_sys::Date::now() - started);
        output.try_set(content.to_owned());
    }
    info.total_ms = Some(js_sys::Date::now() - started);
    meta.try_set(Some(info));
    match failure {
        Some(message) => Err(message),
        None => Ok(()),
    }
}

/// Reads a server-sent-events body chunk by chunk, handing each event to `on_event` until it
/// returns `false`, the stream ends, or the user presses Stop.
async fn read_events(
    response: &Response,
    stop: RwSignal<bool>,
    mut on_event: impl FnMut(ChatEvent) -> bool,
) -> Result<(), String> {
    let Some(body) = response.body() else {
        return Ok(());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut parser = SseParser::default();
    loop {
        if stop.try_get_untracked().unwrap_or(true) {
            // Cancelling the body aborts the upstream request too, so the model stops generating.
            let _ = reader.cancel();
            return Ok(());
        }
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("The stream broke off: {}", js_message(&e)))?;
        let done = js_sys::Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|d| d.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        let value = js_sys::Reflect::get(&chunk, &"value".into()).unwrap_or_default();
        let bytes = js_sys::Uint8Array::new(&value).to_vec();
        for data in parser.push(&bytes) {
            if !on_event(chat_event(&data)) {
                let _ = reader.cancel();
                return Ok(());
            }
        }
    }
    for data in parser.finish() {
        if !on_event(chat_event(&data)) {
            break;
        }
    }
    Ok(())
}
