//! The route page's "Live routing" card: what this gateway measures of each of the route's
//! upstreams right now (`/api/health`, every 5 s), so an operator can see why traffic goes where
//! it goes.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::RoutingStrategy;
use switchyard_shared::admin::{RouteHealthView, UpstreamHealthView};

use crate::api::types::Health;
use crate::api::{self};
use crate::components::badge::Badge;

/// How often the card asks again; the same as the dashboard.
const REFRESH: Duration = Duration::from_secs(5);

/// What a cell shows for an estimate the gateway has no sample of yet.
const UNMEASURED: &str = "not measured yet";

#[component]
pub fn LiveRouting(route: String) -> impl IntoView {
    let view_of_route = RwSignal::new(None::<Option<RouteHealthView>>);
    let error = RwSignal::new(None::<String>);
    let route = StoredValue::new(route);
    let refresh = move || {
        spawn_local(async move {
            match api::get::<Health>("/api/health").await {
                Ok(health) => {
                    let found = route.with_value(|name| health.route(name).cloned());
                    view_of_route.try_set(Some(found));
                    error.try_set(None);
                }
                Err(e) => {
                    error.try_set(Some(e.message));
                }
            }
        });
    };
    refresh();
    if let Ok(handle) = set_interval_with_handle(refresh, REFRESH) {
        on_cleanup(move || handle.clear());
    }
    view! {
        <section class="card card-flush" data-testid="route-live" aria-labelledby="route-live-title">
            <h2 class="card-title card-title-pad" id="route-live-title">"Live routing"</h2>
            <p class="hint">
                "What this gateway measures of each upstream, refreshed every 5 s. Predictions are for a chat with a 1,000-token prompt and no max_tokens."
            </p>
            {move || {
                error
                    .get()
                    .map(|message| {
                        view! {
                            <div class="alert alert-warn pad" role="status">
                                {format!("Could not be refreshed: {message}")}
                            </div>
                        }
                    })
            }}
            {move || match view_of_route.get() {
                None => ().into_any(),
                Some(None) => {
                    view! { <p class="empty">"No live figures for this route yet."</p> }
                        .into_any()
                }
                Some(Some(route)) => view! { <LiveTable route=route /> }.into_any(),
            }}
        </section>
    }
}

#[component]
fn LiveTable(route: RouteHealthView) -> impl IntoView {
    let target = (route.strategy == RoutingStrategy::CostUnderLatency)
        .then_some(route.max_latency_ms)
        .flatten();
    let rows = route
        .upstreams
        .into_iter()
        .map(|u| view! { <LiveRow upstream=u target=target.is_some() /> })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table table-compact table-cards">
                <thead>
                    <tr>
                        <th scope="col">"Upstream"</th>
                        <th scope="col">"Weight"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"TTFT"</th>
                        <th scope="col">"Decode"</th>
                        <th scope="col">"Avg output"</th>
                        <th scope="col">"Predicted"</th>
                        <th scope="col">"Est. cost"</th>
                        {target.map(|ms| view! { <th scope="col">{format!("Within {ms} ms")}</th> })}
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[component]
fn LiveRow(upstream: UpstreamHealthView, target: bool) -> impl IntoView {
    let u = upstream;
    let (state, tone) = if u.available {
        ("available", "ok")
    } else {
        ("unavailable", "bad")
    };
    let measured = u
        .measured_ago_ms
        .map(|ms| format!("{} samples, last {} s ago", u.samples, ms / 1000));
    // A fallback is tried in its list's order, so it has no weight or group of its own.
    let (weight, group) = if u.fallback {
        ("—".to_owned(), None)
    } else {
        (
            format!("×{}", u.weight),
            Some(format!("priority {}", u.priority)),
        )
    };
    view! {
        <tr data-testid=format!("route-live-{}", u.provider)>
            <th scope="row">
                <strong>{u.provider.clone()}</strong>
                <div class="muted small">
                    {u.model.clone().unwrap_or_else(|| "the client's model".into())}
                </div>
                {u.fallback.then(|| view! { <Badge text="fallback" /> })}
            </th>
            <td data-label="Weight" class="nowrap">
                {weight}
                {group.map(|text| view! { <div class="muted small">{text}</div> })}
            </td>
            <td data-label="State" class="nowrap">
                <Badge text=state tone=tone />
                <div class="muted small">{format!("{} in flight", u.in_flight)}</div>
            </td>
            <td data-label="TTFT" data-testid="route-live-ttft" title=measured>
                {measured_text(u.ttft_ms, |ms| format!("{ms:.0} ms"))}
            </td>
            <td data-label="Decode">
                {measured_text(u.decode_tokens_per_s, |rate| format!("{rate:.0} tok/s"))}
            </td>
            <td data-label="Avg output">
                {measured_text(u.output_tokens, |tokens| format!("{tokens:.0} tokens"))}
            </td>
            <td data-label="Predicted" class="nowrap">{format!("{:.0} ms", u.predicted_ms)}</td>
            <td data-label="Est. cost" title="A chat with a 1,000-token prompt and the average output">
                {u.predicted_cost_usd.map_or_else(|| "unpriced".to_owned(), fmt_small_usd)}
            </td>
            {target
                .then(|| {
                    let within = match u.meets_target {
                        Some(true) => "✓",
                        Some(false) => "✗",
                        None => "—",
                    };
                    view! { <td data-label="Within target">{within}</td> }
                })}
        </tr>
    }
}

/// An estimate, or a muted "not measured yet".
fn measured_text(value: Option<f64>, show: impl Fn(f64) -> String) -> AnyView {
    match value {
        Some(value) => show(value).into_any(),
        None => view! { <span class="muted small">{UNMEASURED}</span> }.into_any(),
    }
}

/// Dollars with three significant digits, because one request costs fractions of a cent:
/// `$0.0000685`, `$0.0123`, `$1.25`.
fn fmt_small_usd(value: f64) -> String {
    if !value.is_finite() || value <= 0.0 {
        return "$0".into();
    }
    let decimals = (2 - value.log10().floor() as i32).clamp(2, 12) as usize;
    format!("${value:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_costs_keep_three_significant_digits() {
        assert_eq!(fmt_small_usd(0.0000685), "$0.0000685");
        assert_eq!(fmt_small_usd(0.0123), "$0.0123");
        assert_eq!(fmt_small_usd(1.25), "$1.25");
        assert_eq!(fmt_small_usd(123.456), "$123.46");
        assert_eq!(fmt_small_usd(0.0), "$0");
    }
}
