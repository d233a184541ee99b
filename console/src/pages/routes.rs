//! AI routes: the list (match rules, upstreams and their strategy, fallback, who may call, cache
//! and guardrails),
//! deletion, and the Usage dialog with ready-to-copy client snippets for a route.

use std::sync::Arc;

use leptos::prelude::*;
use switchyard_shared::{CacheScope, MatchKind, RouteSpec, RoutingStrategy, StickyBy};

use crate::components::badge::Badge;
use crate::components::icons::Icon;
use crate::components::limits::limits_summary;
use crate::components::modal::Modal;
use crate::components::resource_list::{Cell, Column, ResourceListPage};
use crate::components::snippet::{Snippet, curl_snippet, python_snippet, use_proxy_base_url};
use crate::util::fmt_duration;

#[component]
pub fn RoutesPage() -> impl IntoView {
    let usage = RwSignal::new(None::<RouteSpec>);
    let columns = vec![
        Column::new("Match", |r: &RouteSpec| {
            let chips = r
                .matches
                .iter()
                .map(|m| match_chip(m.kind, &m.value))
                .collect_view();
            view! { <div class="chips">{chips}</div> }.into_any()
        }),
        Column::new("Upstreams", upstreams),
        Column::new("Fallback", fallback),
        Column::new("Access", access),
    ];
    let priority: Cell<RouteSpec> = Arc::new(|r: &RouteSpec| {
        (r.priority != 0)
            .then(
                || view! { <span class="muted small">{format!(" priority {}", r.priority)}</span> },
            )
            .into_any()
    });
    let actions: Cell<RouteSpec> = Arc::new(move |r: &RouteSpec| {
        let name = r.name.clone();
        let route = r.clone();
        view! {
            <button
                type="button"
                class="btn btn-small"
                data-testid=format!("route-usage-{name}")
                aria-label=format!("How to call route {name}")
                on:click=move |_| usage.set(Some(route.clone()))
            >
                <Icon name="code" size=14 />
                "Usage"
            </button>
        }
        .into_any()
    });
    view! {
        <ResourceListPage
            subtitle="Which requests go where: a route matches model names and spreads them over providers."
            columns=columns
            name_extra=priority
            actions=actions
            empty="No routes yet. A route sends requests for some models to your providers."
            delete_message=|name| {
                format!(
                    "Requests that only {name} matches will get 404 from the gateway at once. This cannot be undone.",
                )
            }
        />
        {move || {
            usage.get().map(|route| view! { <UsageDialog route=route on_close=move |()| usage.set(None) /> })
        }}
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

fn upstreams(route: &RouteSpec) -> AnyView {
    let items = route
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
    let chip = strategy_summary(route).map(|text| {
        view! {
            <span class="chip chip-strategy" data-testid=format!("route-strategy-{}", route.name)>
                {text}
            </span>
        }
    });
    view! {
        <ul class="plain-list">{items}</ul>
        {chip}
    }
    .into_any()
}

/// A route's strategy in a few words, unless it is the default weighted draw:
/// `least latency`, `cost ≤ 2000 ms`, `sticky by header x-session-id`.
fn strategy_summary(route: &RouteSpec) -> Option<String> {
    let text = match route.strategy {
        RoutingStrategy::Weighted => return None,
        RoutingStrategy::LeastLatency => "least latency".to_owned(),
        RoutingStrategy::LeastCost => "least cost".to_owned(),
        RoutingStrategy::CostUnderLatency => match route.max_latency_ms {
            Some(ms) => format!("cost ≤ {ms} ms"),
            None => "cost under latency".to_owned(),
        },
        RoutingStrategy::LeastBusy => "least busy".to_owned(),
        RoutingStrategy::Sticky => match &route.sticky_by {
            Some(StickyBy::Consumer) => "sticky by consumer".to_owned(),
            Some(StickyBy::Key) => "sticky by key".to_owned(),
            Some(StickyBy::Header(name)) => format!("sticky by header {name}"),
            None => "sticky".to_owned(),
        },
    };
    Some(text)
}

fn fallback(route: &RouteSpec) -> AnyView {
    match &route.fallback {
        Some(f) if f.enabled => {
            let targets: Vec<String> = f.upstreams.iter().map(|u| u.provider.clone()).collect();
            view! {
                <Badge text="on" tone="ok" />
                <span class="muted small">{format!(" {}", targets.join(", "))}</span>
            }
            .into_any()
        }
        _ => view! { <Badge text="off" /> }.into_any(),
    }
}

/// The route's response cache in a few words, when it is on: `cache 60 min, shared`.
fn cache_summary(route: &RouteSpec) -> Option<String> {
    let cache = route.cache.filter(|c| c.enabled)?;
    let scope = match cache.scope {
        CacheScope::Consumer => "per consumer",
        CacheScope::Global => "shared",
    };
    Some(format!(
        "cache {}, {scope}",
        fmt_duration(cache.ttl_seconds.saturating_mul(1000))
    ))
}

/// Who may call the route, its limits on all callers together, its cache and its guardrails.
fn access(route: &RouteSpec) -> AnyView {
    let consumers = route
        .auth
        .as_ref()
        .filter(|a| !a.allowed_consumers.is_empty())
        .map(|a| a.allowed_consumers.join(", "));
    let limits = limits_summary(&route.limits);
    view! {
        <div class="small">
            {match consumers {
                Some(list) => view! { <div>{format!("Only {list}")}</div> }.into_any(),
                None => view! { <div class="muted">"Every caller"</div> }.into_any(),
            }}
            {(!limits.is_empty()).then(|| view! { <div class="muted">{limits}</div> })}
            {cache_summary(route).map(|text| view! { <div class="muted">{text}</div> })}
            {(!route.guardrails.is_empty())
                .then(|| {
                    view! { <div class="muted">{format!("guardrails {}", route.guardrails.join(", "))}</div> }
                })}
        </div>
    }
    .into_any()
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

#[component]
fn UsageDialog(route: RouteSpec, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let base_url = use_proxy_base_url();
    let title = format!("Use route {}", route.name);
    let content = move || {
        let base_url = base_url.get()?;
        let model = example_model(&route);
        let curl = curl_snippet(&base_url, &model, None);
        let python = python_snippet(&base_url, &model, None);
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
            strategy: Default::default(),
            max_latency_ms: None,
            sticky_by: None,
            fallback: None,
            retry: None,
            timeout_ms: None,
            auth: None,
            limits: Default::default(),
            reserve_completion_tokens: None,
            cache: None,
            guardrails: Vec::new(),
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
    fn strategies_read_in_a_few_words() {
        let mut r = route(vec![(MatchKind::Prefix, "m-")]);
        assert_eq!(strategy_summary(&r), None);
        r.strategy = RoutingStrategy::LeastLatency;
        assert_eq!(strategy_summary(&r).as_deref(), Some("least latency"));
        r.strategy = RoutingStrategy::CostUnderLatency;
        r.max_latency_ms = Some(2000);
        assert_eq!(strategy_summary(&r).as_deref(), Some("cost ≤ 2000 ms"));
        r.strategy = RoutingStrategy::Sticky;
        r.sticky_by = Some(StickyBy::Header("x-session-id".into()));
        assert_eq!(
            strategy_summary(&r).as_deref(),
            Some("sticky by header x-session-id")
        );
    }
}
