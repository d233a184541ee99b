//! The Logs page's table: one row per request with its time, short id, consumer, route and
//! provider, model, status (marked when it streamed, came from the response cache, a guardrail
//! found something, the client left or it took several attempts), tokens (marked when
//! estimated), cost, latency and time to first token. A row opens the record's drawer.

use leptos::prelude::*;
use switchyard_shared::metering::RequestLog;

use crate::components::badge::Badge;
use crate::time::clock_and_day;
use crate::util::{fmt_cost, fmt_int, fmt_ms, fmt_timestamp};

/// The badge tone of an HTTP status.
pub fn status_tone(status: u16) -> &'static str {
    match status {
        200..=399 => "ok",
        400..=499 => "warn",
        _ => "bad",
    }
}

/// The first part of a request id, enough to tell rows apart.
pub fn short_id(id: &str) -> String {
    let short: String = id.chars().take(8).collect();
    if short.len() < id.len() {
        format!("{short}…")
    } else {
        short
    }
}

/// The "est." mark of estimated token counts.
#[component]
pub fn EstimatedMark() -> impl IntoView {
    view! {
        <span
            class="badge badge-neutral badge-est"
            title="Estimated with a tokenizer: the provider sent no usage, or the client left mid-stream."
        >
            "est."
        </span>
    }
}

#[component]
pub fn LogTable(
    items: Vec<RequestLog>,
    selected: Memo<Option<String>>,
    #[prop(into)] on_open: Callback<RequestLog>,
) -> impl IntoView {
    let rows = items
        .into_iter()
        .map(|r| {
            let id = r.request_id.clone();
            let current = id.clone();
            let is_selected = move || selected.with(|s| s.as_deref() == Some(current.as_str()));
            let tokens = r.prompt_tokens + r.completion_tokens;
            let route = r.route.clone().unwrap_or_else(|| "—".into());
            let provider = r.provider.clone().unwrap_or_else(|| "—".into());
            let asked = r
                .requested_model
                .clone()
                .filter(|asked| r.model.as_ref() != Some(asked));
            let record = r.clone();
            let (clock, day) = clock_and_day(&r.time).unwrap_or_else(|| (r.time.clone(), String::new()));
            view! {
                <tr
                    class="log-row"
                    class:selected=is_selected
                    data-testid="logs-row"
                    data-request-id=id.clone()
                    data-status=r.status
                    data-tokens=tokens
                    data-cost=r.cost_usd.map(|c| c.to_string())
                    data-estimated=r.tokens_estimated.to_string()
                    data-disconnected=r.client_disconnected.to_string()
                    data-cache-hit=r.cache_hit.to_string()
                    on:click=move |_| on_open.run(record.clone())
                >
                    <td class="nowrap" data-label="Time" title=fmt_timestamp(&r.time)>
                        {clock}
                        <div class="muted small">{day}</div>
                    </td>
                    <td data-label="Request">
                        <button type="button" class="link-btn mono" title=id.clone() aria-label=format!("Open request {id}")>
                            {short_id(&id)}
                        </button>
                    </td>
                    <td data-label="Consumer" class="nowrap">
                        {match r.consumer.clone() {
                            Some(name) => view! { <span>{name}</span> }.into_any(),
                            None => view! { <span class="muted">"anonymous"</span> }.into_any(),
                        }}
                        {r.key_id.map(|k| view! { <div class="muted small">{format!("key {k}")}</div> })}
                    </td>
                    <td data-label="Route → provider" class="nowrap">
                        {route}
                        <div class="muted small">"→ " {provider}</div>
                    </td>
                    <td data-label="Model" class="small model-cell">
                        <span class="mono">{r.model.clone().unwrap_or_else(|| "—".into())}</span>
                        {asked.map(|a| view! { <div class="muted">{format!("asked {a}")}</div> })}
                    </td>
                    <td data-label="Status">
                        <Badge text=r.status.to_string() tone=status_tone(r.status) />
                        {r.error_code.clone().map(|c| view! { <div class="muted small">{c}</div> })}
                        <div class="flags">
                            {r.stream.then(|| view! { <span class="chip" title="Streamed answer">"stream"</span> })}
                            {r.cache_hit
                                .then(|| {
                                    view! {
                                        <span
                                            class="badge badge-ok"
                                            data-testid="logs-cache-badge"
                                            title="Answered from the response cache, at no cost"
                                        >
                                            "cache"
                                        </span>
                                    }
                                })}
                            {(!r.guardrails.is_empty())
                                .then(|| {
                                    view! {
                                        <span
                                            class="badge badge-info"
                                            data-testid="logs-guardrail-badge"
                                            title="A guardrail policy found something; the record lists what"
                                        >
                                            "guardrail"
                                        </span>
                                    }
                                })}
                            {r.client_disconnected
                                .then(|| {
                                    view! {
                                        <span
                                            class="badge badge-warn"
                                            data-testid="logs-disconnected"
                                            title="The client left before the answer ended"
                                        >
                                            "disconnected"
                                        </span>
                                    }
                                })}
                            {(r.attempts > 1)
                                .then(|| {
                                    view! {
                                        <span class="chip" title="Upstream attempts">
                                            {format!("{} attempts", r.attempts)}
                                        </span>
                                    }
                                })}
                        </div>
                    </td>
                    <td class="num" data-label="Tokens" title=format!("{} in / {} out", fmt_int(r.prompt_tokens), fmt_int(r.completion_tokens))>
                        {fmt_int(tokens)}
                        {r.tokens_estimated.then(|| view! { " " <EstimatedMark /> })}
                    </td>
                    <td class="num" data-label="Cost" class:muted=r.cost_usd.is_none()>
                        {fmt_cost(r.cost_usd)}
                    </td>
                    <td class="num" data-label="Latency">{fmt_ms(Some(r.latency_ms))}</td>
                    <td class="num" data-label="TTFT">{fmt_ms(r.ttft_ms)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table table-compact table-cards logs-table">
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Request"</th>
                        <th scope="col">"Consumer"</th>
                        <th scope="col">"Route → provider"</th>
                        <th scope="col">"Model"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col" class="num">"Tokens"</th>
                        <th scope="col" class="num">"Cost"</th>
                        <th scope="col" class="num">"Latency"</th>
                        <th scope="col" class="num">"TTFT"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_ids() {
        assert_eq!(status_tone(200), "ok");
        assert_eq!(status_tone(429), "warn");
        assert_eq!(status_tone(502), "bad");
        assert_eq!(short_id("0123456789abcdef"), "01234567…");
        assert_eq!(short_id("abc"), "abc");
    }
}
