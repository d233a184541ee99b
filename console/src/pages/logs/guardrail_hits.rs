//! The record drawer's guardrail hits: for each policy and detector that found something, what
//! was done, how many times, and whether in the request or the answer. Records hold counts and
//! labels only, never the values found.

use leptos::prelude::*;
use switchyard_shared::GuardrailHit;

use crate::components::badge::Badge;

/// The badge tone of what a guardrail did.
fn action_tone(action: &str) -> &'static str {
    match action {
        "block" => "bad",
        "monitor" => "neutral",
        _ => "info",
    }
}

#[component]
pub fn GuardrailHits(hits: Vec<GuardrailHit>) -> impl IntoView {
    if hits.is_empty() {
        return view! {
            <p class="muted small" data-testid="log-guardrails-none">
                "No guardrail policy found anything in this request."
            </p>
        }
        .into_any();
    }
    let rows = hits
        .into_iter()
        .map(|hit| {
            let (detector, phase) = (hit.detector.clone(), hit.phase.clone());
            view! {
                <tr
                    data-testid="log-guardrail-hit"
                    data-guardrail=hit.guardrail.clone()
                    data-detector=hit.detector.clone()
                    data-action=hit.action.clone()
                    data-count=hit.count
                    data-phase=hit.phase.clone()
                >
                    <td>
                        <a href=format!("/guardrails/{}", crate::api::segment(&hit.guardrail))>
                            {hit.guardrail.clone()}
                        </a>
                    </td>
                    <td class="mono">{detector}</td>
                    <td>
                        <Badge text=hit.action.clone() tone=action_tone(&hit.action) />
                    </td>
                    <td class="num">{hit.count}</td>
                    <td>{phase}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <div class="table-wrap">
            <table class="table table-compact" data-testid="log-guardrails">
                <thead>
                    <tr>
                        <th scope="col">"Policy"</th>
                        <th scope="col">"Detector"</th>
                        <th scope="col">"Action"</th>
                        <th scope="col" class="num">"Count"</th>
                        <th scope="col">"In"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_stand_out() {
        assert_eq!(action_tone("block"), "bad");
        assert_eq!(action_tone("mask"), "info");
        assert_eq!(action_tone("monitor"), "neutral");
    }
}
