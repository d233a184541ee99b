//! The route form's sections with rows: match rules and upstreams (with each one's share of its
//! priority group); and the provider picker they share with the fallback's rows.

use leptos::prelude::*;
use switchyard_shared::MatchKind;

use super::{MatchRow, UpstreamRow};
use crate::components::field::{FieldErr, invalid_attr, use_form_errors};
use crate::components::rows::{AddRowButton, RemoveRowButton};

/// A provider picker: the existing providers, plus the current value if it names none of them.
/// `on_change` hears each choice as (previous, chosen).
#[component]
pub(super) fn ProviderSelect(
    value: RwSignal<String>,
    providers: Signal<Vec<String>>,
    #[prop(into)] label: String,
    testid: String,
    path: String,
    #[prop(optional)] on_change: Option<Callback<(String, String)>>,
) -> impl IntoView {
    let form = use_form_errors();
    let invalid_path = path.clone();
    view! {
        <select
            class="input"
            aria-label=label
            data-testid=testid
            aria-invalid=invalid_attr(form, move || invalid_path.clone())
            on:change=move |ev| {
                let chosen = event_target_value(&ev);
                let previous = value.get_untracked();
                value.set(chosen.clone());
                if let Some(on_change) = on_change {
                    on_change.run((previous, chosen));
                }
            }
        >
            {move || {
                let current = value.get();
                let mut names = providers.get();
                if !current.is_empty() && !names.contains(&current) {
                    names.insert(0, current.clone());
                }
                let placeholder_selected = current.is_empty();
                let options = names
                    .into_iter()
                    .map(|name| {
                        let selected = name == current;
                        let value = name.clone();
                        view! {
                            <option value=value selected=selected>
                                {name}
                            </option>
                        }
                    })
                    .collect_view();
                view! {
                    <option value="" selected=placeholder_selected disabled=true>
                        "Choose a provider…"
                    </option>
                    {options}
                }
            }}
        </select>
    }
}

#[component]
pub fn MatchSection(rows: RwSignal<Vec<MatchRow>>) -> impl IntoView {
    let form = use_form_errors();
    view! {
        <section class="card">
            <h2 class="card-title">"Match"</h2>
            <p class="hint">
                "A request belongs to this route when its model name equals an exact value or starts with a prefix."
            </p>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let n = i + 1;
                            let value_path = format!("match[{i}].value");
                            let invalid_path = value_path.clone();
                            view! {
                                <div class="match-row">
                                    <select
                                        class="input"
                                        aria-label=format!("Match type, rule {n}")
                                        data-testid=format!("route-match-type-{i}")
                                        on:change=move |ev| row.kind.set(event_target_value(&ev))
                                    >
                                        <option value="prefix" selected=move || row.kind.get() == "prefix">
                                            "prefix"
                                        </option>
                                        <option value="exact" selected=move || row.kind.get() == "exact">
                                            "exact"
                                        </option>
                                    </select>
                                    <input
                                        class="input mono"
                                        aria-label=format!("Model name or prefix, rule {n}")
                                        data-testid=format!("route-match-value-{i}")
                                        placeholder="e.g. deepseek-"
                                        aria-invalid=invalid_attr(form, move || invalid_path.clone())
                                        prop:value=move || row.value.get()
                                        on:input=move |ev| row.value.set(event_target_value(&ev))
                                    />
                                    <RemoveRowButton
                                        label=format!("Remove rule {n}")
                                        on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                    />
                                    <div class="pair-error">
                                        <FieldErr path=value_path />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="route-match-add"
                label="Add match rule"
                on_add=move |()| rows.update(|l| l.push(MatchRow::new(MatchKind::Prefix, "")))
            />
            <FieldErr path="match".to_owned() />
        </section>
    }
}

/// The share of traffic each upstream gets within its priority group, in percent.
fn shares(rows: &[(i32, u32)]) -> Vec<Option<f64>> {
    rows.iter()
        .map(|(priority, weight)| {
            let group: u32 = rows
                .iter()
                .filter(|(p, _)| p == priority)
                .map(|(_, w)| *w)
                .sum();
            (group > 0).then(|| f64::from(*weight) * 100.0 / f64::from(group))
        })
        .collect()
}

#[component]
pub fn UpstreamSection(
    rows: RwSignal<Vec<UpstreamRow>>,
    providers: Signal<Vec<String>>,
) -> impl IntoView {
    let form = use_form_errors();
    // Recomputed as weights are typed, so operators see what a weight means.
    let share_of = Memo::new(move |_| {
        let parsed: Vec<(i32, u32)> = rows
            .get()
            .iter()
            .map(|r| {
                (
                    r.priority.get().trim().parse().unwrap_or(0),
                    r.weight.get().trim().parse().unwrap_or(0),
                )
            })
            .collect();
        shares(&parsed)
    });
    view! {
        <section class="card">
            <h2 class="card-title">"Upstreams"</h2>
            <p class="hint">
                "Traffic is split by weight (0–1000) among the healthy upstreams of the highest priority; lower priorities take over when those fail."
            </p>
            <div class="upstream-head" aria-hidden="true">
                <span>"Provider"</span>
                <span>"Weight"</span>
                <span>"Priority"</span>
                <span>"Target model"</span>
                <span></span>
            </div>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let n = i + 1;
                            let p = |field: &str| format!("upstreams[{i}].{field}");
                            let (weight_path, priority_path, model_path) = (p("weight"), p("priority"), p("model"));
                            let (wp, pp, mp) = (weight_path.clone(), priority_path.clone(), model_path.clone());
                            view! {
                                <div class="upstream-row">
                                    <ProviderSelect
                                        value=row.provider
                                        providers=providers
                                        label=format!("Provider, upstream {n}")
                                        testid=format!("route-upstream-provider-{i}")
                                        path=p("provider")
                                    />
                                    <div class="weight-cell">
                                        <input
                                            class="input"
                                            inputmode="numeric"
                                            aria-label=format!("Weight, upstream {n}")
                                            data-testid=format!("route-upstream-weight-{i}")
                                            aria-invalid=invalid_attr(form, move || wp.clone())
                                            prop:value=move || row.weight.get()
                                            on:input=move |ev| row.weight.set(event_target_value(&ev))
                                        />
                                        <span class="share muted small">
                                            {move || {
                                                share_of
                                                    .with(|s| s.get(i).copied().flatten())
                                                    .map(|s| format!("{s:.0}%"))
                                                    .unwrap_or_default()
                                            }}
                                        </span>
                                    </div>
                                    <input
                                        class="input"
                                        inputmode="numeric"
                                        placeholder="0"
                                        aria-label=format!("Priority, upstream {n}")
                                        data-testid=format!("route-upstream-priority-{i}")
                                        aria-invalid=invalid_attr(form, move || pp.clone())
                                        prop:value=move || row.priority.get()
                                        on:input=move |ev| row.priority.set(event_target_value(&ev))
                                    />
                                    <input
                                        class="input mono"
                                        placeholder="unchanged"
                                        aria-label=format!("Target model, upstream {n}")
                                        data-testid=format!("route-upstream-model-{i}")
                                        aria-invalid=invalid_attr(form, move || mp.clone())
                                        prop:value=move || row.model.get()
                                        on:input=move |ev| row.model.set(event_target_value(&ev))
                                    />
                                    <RemoveRowButton
                                        label=format!("Remove upstream {n}")
                                        on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                    />
                                    <div class="pair-error">
                                        <FieldErr path=p("provider") />
                                        <FieldErr path=weight_path />
                                        <FieldErr path=priority_path />
                                        <FieldErr path=model_path />
                                        <FieldErr path=format!("upstreams[{i}]") />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="route-upstream-add"
                label="Add upstream"
                on_add=move |()| rows.update(|l| l.push(UpstreamRow::new(None)))
            />
            <FieldErr path="upstreams".to_owned() />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_are_per_priority_group() {
        let s = shares(&[(0, 100), (0, 300), (1, 50), (2, 0)]);
        assert_eq!(s, vec![Some(25.0), Some(75.0), Some(100.0), None]);
    }
}
