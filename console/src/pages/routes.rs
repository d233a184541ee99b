//! AI routes: the list (match rules, upstreams, fallback), deletion, and the Usage dialog with
//! ready-to-copy client snippets for a route.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::{MatchKind, RouteSpec};

use crate::api::{self, ApiError};
use crate::components::badge::Badge;
use crate::components::icons::Icon;
use crate::components::item::DeleteItem;
use crate::components::modal::Modal;
use crate::components::page::{LoadError, Loading, PageHeader};

#[component]
pub fn RoutesPage() -> impl IntoView {
    let routes = RwSignal::new(None::<Result<Vec<RouteSpec>, ApiError>>);
    let load = move || {
        spawn_local(
            async move { routes.set(Some(api::get::<Vec<RouteSpec>>("/api/routes").await)) },
        );
    };
    load();

    let usage = RwSignal::new(None::<RouteSpec>);
    let deleting = RwSignal::new(None::<String>);

    view! {
        <PageHeader
            title="AI routes"
            subtitle="Which requests go where: a route matches model names and spreads them over providers."
        >
            <a class="btn btn-primary" href="/routes/new" data-testid="route-new">
                <Icon name="plus" />
                "Create route"
            </a>
        </PageHeader>
        <section class="card card-flush">
            {move || match routes.get() {
                None => view! { <Loading /> }.into_any(),
                Some(Err(error)) => view! { <LoadError message=error.message on_retry=move |()| load() /> }
                    .into_any(),
                Some(Ok(list)) if list.is_empty() => view! {
                    <div class="empty">
                        <p>"No routes yet. A route sends requests for some models to your providers."</p>
                        <a class="btn btn-primary" href="/routes/new">
                            "Create route"
                        </a>
                    </div>
                }
                .into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">
                        <table class="table table-cards">
                            <thead>
                                <tr>
                                    <th scope="col">"Name"</th>
                                    <th scope="col">"Match"</th>
                                    <th scope="col">"Upstreams"</th>
                                    <th scope="col">"Fallback"</th>
                                    <th scope="col" class="actions-col">
                                        <span class="sr-only">"Actions"</span>
                                    </th>
                                </tr>
                            </thead>
                            <tbody>
                                {list
                                    .into_iter()
                                    .map(|route| {
                                        view! {
                                            <RouteRow
                                                route=route
                                                on_usage=move |r| usage.set(Some(r))
                                                on_delete=move |name| deleting.set(Some(name))
                                            />
                                        }
                                    })
                                    .collect_view()}
                            </tbody>
                        </table>
                    </div>
                }
                .into_any(),
            }}
        </section>
        {move || {
            usage.get().map(|route| view! { <UsageDialog route=route on_close=move |()| usage.set(None) /> })
        }}
        <DeleteItem
            target=deleting
            api_prefix="/api/routes"
            noun="route"
            message=|name| {
                format!(
                    "Requests that only {name} matches will get 404 from the gateway at once. This cannot be undone.",
                )
            }
            on_deleted=move |()| load()
        />
    }
}

/// A match rule as a chip: `prefix deepseek-`.
pub fn match_chip(kind: MatchKind, value: &str) -> impl IntoView + use<> {
    let kind = match kind {
        MatchKind::Exact => "exact",
        MatchKind::Prefix => "prefix",
    };
    view! {
        <span class="chip chip-match">
            <span class="chip-kind">{kind}</span>
            " "
            <span class="mono">{value.to_owned()}</span>
        </span>
    }
}

#[component]
fn RouteRow(
    route: RouteSpec,
    #[prop(into)] on_usage: Callback<RouteSpec>,
    #[prop(into)] on_delete: Callback<String>,
) -> impl IntoView {
    let name = route.name.clone();
    let edit_href = format!("/routes/{}", api::segment(&name));
    let matches = route
        .matches
        .iter()
        .map(|m| match_chip(m.kind, &m.value))
        .collect_view();
    let upstreams = route
        .upstreams
        .iter()
        .map(|u| {
            let mut text = format!("{} ×{}", u.provider, u.weight);
            if u.priority != 0 {
                text.push_str(&format!(" · priority {}", u.priority));
            }
            if let Some(model) = &u.model {
                text.push_str(&format!(" → {model}"));
            }
            view! { <li class="mono">{text}</li> }
        })
        .collect_view();
    let fallback = match &route.fallback {
        Some(f) if f.enabled => {
            let targets: Vec<String> = f.upstreams.iter().map(|u| u.provider.clone()).collect();
            view! {
                <Badge text="on" tone="ok" />
                <span class="muted small">{format!(" {}", targets.join(", "))}</span>
            }
            .into_any()
        }
        _ => view! { <Badge text="off" /> }.into_any(),
    };
    let delete_name = name.clone();
    let usage_route = route.clone();
    view! {
        <tr data-testid=format!("route-row-{name}")>
            <th scope="row">
                <a class="strong-link" href=edit_href.clone()>
                    {name.clone()}
                </a>
                {(route.priority != 0)
                    .then(|| view! { <span class="muted small">{format!(" priority {}", route.priority)}</span> })}
            </th>
            <td data-label="Match">
                <div class="chips">{matches}</div>
            </td>
            <td data-label="Upstreams">
                <ul class="plain-list">{upstreams}</ul>
            </td>
            <td data-label="Fallback">{fallback}</td>
            <td class="actions-col">
                <div class="row-actions">
                    <button
                        type="button"
                        class="btn btn-small"
                        data-testid=format!("route-usage-{name}")
                        aria-label=format!("How to call route {name}")
                        on:click=move |_| on_usage.run(usage_route.clone())
                    >
                        <Icon name="code" size=14 />
                        "Usage"
                    </button>
                    <a
                        class="btn btn-small"
                        href=edit_href
                        data-testid=format!("route-edit-{name}")
                        aria-label=format!("Edit route {name}")
                    >
                        <Icon name="edit" size=14 />
                        "Edit"
                    </a>
                    <button
                        type="button"
                        class="btn btn-small btn-danger-ghost"
                        data-testid=format!("route-delete-{name}")
                        aria-label=format!("Delete route {name}")
                        on:click=move |_| on_delete.run(delete_name.clone())
                    >
                        <Icon name="trash" size=14 />
                        "Delete"
                    </button>
                </div>
            </td>
        </tr>
    }
}

/// A model name this route takes: its first exact value, else its first prefix plus "model".
pub fn example_model(route: &RouteSpec) -> String {
    let exact = route.matches.iter().find(|m| m.kind == MatchKind::Exact);
    let prefix = route.matches.iter().find(|m| m.kind == MatchKind::Prefix);
    match (exact, prefix) {
        (Some(m), _) => m.value.clone(),
        (None, Some(m)) => format!("{}model", m.value),
        (None, None) => "your-model".to_owned(),
    }
}

/// The proxy's OpenAI-compatible base URL on the host this console was opened from.
pub fn proxy_base_url(hostname: &str, port: u16) -> String {
    let host = if hostname.contains(':') && !hostname.starts_with('[') {
        format!("[{hostname}]")
    } else if hostname.is_empty() {
        "localhost".to_owned()
    } else {
        hostname.to_owned()
    };
    format!("http://{host}:{port}/v1")
}

/// The port the proxy listens on, as the server reports it; 8080 (the default) if it cannot say.
const DEFAULT_PROXY_PORT: u16 = 8080;

/// A JSON string literal, which is also a valid Python string literal for model names.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

pub fn curl_snippet(base_url: &str, model: &str) -> String {
    format!(
        "curl {base_url}/chat/completions \\\n  -H \"Content-Type: application/json\" \\\n  -d '{{\"model\": {}, \"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'",
        quoted(model)
    )
}

pub fn python_snippet(base_url: &str, model: &str) -> String {
    format!(
        "from openai import OpenAI\n\n# The gateway holds the provider keys; the client's api_key is not checked.\nclient = OpenAI(base_url=\"{base_url}\", api_key=\"switchyard\")\n\nresponse = client.chat.completions.create(\n    model={},\n    messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\nprint(response.choices[0].message.content)\n",
        quoted(model)
    )
}

#[component]
fn UsageDialog(route: RouteSpec, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    // The snippets need the proxy's real port, which only the server knows.
    let port = RwSignal::new(None::<u16>);
    spawn_local(async move {
        let reported = api::get::<crate::api::types::Status>("/api/status")
            .await
            .ok()
            .map(|status| status.proxy_port)
            .filter(|port| *port != 0);
        port.try_set(Some(reported.unwrap_or(DEFAULT_PROXY_PORT)));
    });
    let title = format!("Use route {}", route.name);
    let content = move || {
        let port = port.get()?;
        let hostname = window().location().hostname().unwrap_or_default();
        let base_url = proxy_base_url(&hostname, port);
        let model = example_model(&route);
        let curl = curl_snippet(&base_url, &model);
        let python = python_snippet(&base_url, &model);
        let rules = route
            .matches
            .iter()
            .map(|m| match_chip(m.kind, &m.value))
            .collect_view();
        Some(view! {
            <p>
                "Point any OpenAI-compatible client at " <code>{base_url.clone()}</code>
                " and ask for a model this route matches: " {rules}
            </p>
            <Snippet title="curl" text=curl testid="usage-curl" />
            <Snippet title="Python (OpenAI SDK)" text=python testid="usage-python" />
        })
    };
    view! {
        <Modal title=title on_close=on_close wide=true>
            {content}
        </Modal>
    }
}

/// A code block with a copy button that confirms the copy.
#[component]
fn Snippet(title: &'static str, text: String, testid: &'static str) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let to_copy = text.clone();
    let copy = move |_| {
        let text = to_copy.clone();
        spawn_local(async move {
            let ok = crate::util::copy_text(&text).await;
            copied.set(Some(ok));
            set_timeout(
                move || copied.try_set(None).map(drop).unwrap_or(()),
                Duration::from_secs(2),
            );
        });
    };
    view! {
        <div class="snippet">
            <div class="snippet-head">
                <h3>{title}</h3>
                <button
                    type="button"
                    class="btn btn-small"
                    data-testid=format!("{testid}-copy")
                    on:click=copy
                >
                    <Icon name="copy" size=14 />
                    {move || match copied.get() {
                        Some(true) => "Copied",
                        Some(false) => "Select and copy",
                        None => "Copy",
                    }}
                </button>
            </div>
            <pre class="code" data-testid=testid tabindex="0">
                <code>{text}</code>
            </pre>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_shared::{MatchRule, RouteUpstream};

    fn route(matches: Vec<(MatchKind, &str)>) -> RouteSpec {
        RouteSpec {
            name: "r".into(),
            priority: 0,
            matches: matches
                .into_iter()
                .map(|(kind, value)| MatchRule {
                    kind,
                    value: value.into(),
                })
                .collect(),
            upstreams: vec![RouteUpstream {
                provider: "p".into(),
                weight: 100,
                model: None,
                priority: 0,
            }],
            fallback: None,
            retry: None,
            timeout_ms: None,
        }
    }

    #[test]
    fn picks_example_models() {
        let r = route(vec![
            (MatchKind::Prefix, "deepseek-"),
            (MatchKind::Exact, "gpt-4o"),
        ]);
        assert_eq!(example_model(&r), "gpt-4o");
        let r = route(vec![(MatchKind::Prefix, "deepseek-")]);
        assert_eq!(example_model(&r), "deepseek-model");
    }

    #[test]
    fn builds_snippets() {
        let base = proxy_base_url("gw.local", 8080);
        assert_eq!(base, "http://gw.local:8080/v1");
        assert_eq!(proxy_base_url("::1", 9000), "http://[::1]:9000/v1");
        let curl = curl_snippet(&base, "deepseek-chat");
        assert!(curl.starts_with("curl http://gw.local:8080/v1/chat/completions"));
        assert!(curl.contains("\"model\": \"deepseek-chat\""));
        let python = python_snippet(&base, "deepseek-chat");
        assert!(python.contains("base_url=\"http://gw.local:8080/v1\""));
        assert!(python.contains("model=\"deepseek-chat\""));
    }
}
