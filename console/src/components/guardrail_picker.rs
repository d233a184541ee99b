//! The guardrail policies a route or consumer applies: a checkbox for every policy that exists
//! (test id `<testid>-<name>`), plus any the item names that no longer exists, so it can be
//! unticked. Errors are reported as `guardrails[i]`, in the order the names are sent.

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::validate::validate_guardrail_references;
use switchyard_shared::{FieldError, GuardrailSpec};

use crate::api::{self, ApiError};
use crate::components::field::FieldErr;
use crate::pages::guardrails::mode_badge;
use crate::resource::Resource;

/// The policies that exist: `None` while they load.
pub type Policies = RwSignal<Option<Result<Vec<GuardrailSpec>, ApiError>>>;

/// Starts loading the policies that exist, for one form.
pub fn load_policies() -> Policies {
    let policies = RwSignal::new(None);
    spawn_local(async move {
        policies.try_set(Some(
            api::get::<Vec<GuardrailSpec>>(GuardrailSpec::API).await,
        ));
    });
    policies
}

/// "No guardrail policy named …" for each chosen name the loaded list lacks; nothing while the
/// list is unknown (the server checks again).
pub fn reference_errors(names: &[String], policies: Policies) -> Vec<FieldError> {
    policies.with_untracked(|loaded| match loaded {
        Some(Ok(list)) => {
            validate_guardrail_references(names, |name| list.iter().any(|p| p.name == name))
                .err()
                .map(|e| e.0)
                .unwrap_or_default()
        }
        _ => Vec::new(),
    })
}

/// Ticks or unticks one name; a ticked name goes to the end of the list.
fn toggle(selected: RwSignal<Vec<String>>, name: &str, on: bool) {
    selected.update(|list| {
        list.retain(|n| n != name);
        if on {
            list.push(name.to_owned());
        }
    });
}

/// One policy's checkbox. `policy` is `None` for a name no loaded policy carries; `missing`
/// says the list was loaded, so the name surely names nothing.
#[component]
fn PolicyOption(
    selected: RwSignal<Vec<String>>,
    name: String,
    policy: Option<GuardrailSpec>,
    #[prop(optional)] missing: bool,
    testid: &'static str,
) -> impl IntoView {
    let id = format!("{testid}-{name}");
    let current = name.clone();
    let checked = move || selected.with(|list| list.contains(&current));
    let detail = match policy {
        Some(policy) => view! {
            {mode_badge(policy.mode)}
            <span class="hint inline-hint">{policy.description}</span>
        }
        .into_any(),
        None => missing
            .then(|| view! { <span class="badge badge-bad">"no such policy"</span> })
            .into_any(),
    };
    view! {
        <div class="check">
            <input
                id=id.clone()
                type="checkbox"
                data-testid=id.clone()
                value=name.clone()
                prop:checked=checked
                on:change={
                    let name = name.clone();
                    move |ev| toggle(selected, &name, event_target_checked(&ev))
                }
            />
            <label for=id class="mono">
                {name}
            </label>
            {detail}
        </div>
    }
}

#[component]
pub fn GuardrailPicker(
    selected: RwSignal<Vec<String>>,
    policies: Policies,
    /// The list's test id, and the prefix of its checkboxes'.
    testid: &'static str,
    #[prop(into)] hint: String,
) -> impl IntoView {
    // The existing policies render once loaded; ticking one redraws only its own checkbox.
    let listed = move || {
        match policies.get() {
        None => view! { <p class="muted small">"Loading policies…"</p> }.into_any(),
        Some(Err(error)) => view! {
            <p class="alert alert-error">"The policies could not be loaded: " {error.message}</p>
        }
        .into_any(),
        Some(Ok(list)) if list.is_empty() => view! {
            <p class="muted small">
                "No guardrail policies yet. " <a href="/guardrails/new">"Create one"</a>
                " first, then choose it here."
            </p>
        }
        .into_any(),
        Some(Ok(list)) => list
            .into_iter()
            .map(|policy| {
                let name = policy.name.clone();
                view! { <PolicyOption selected=selected name=name policy=Some(policy) testid=testid /> }
            })
            .collect_view()
            .into_any(),
    }
    };
    // Names the item has that no loaded policy carries (deleted elsewhere, or a failed load).
    let unlisted = move || {
        let (known, missing): (Vec<String>, bool) = policies.with(|loaded| match loaded {
            None => (Vec::new(), false),
            Some(Ok(list)) => (list.iter().map(|p| p.name.clone()).collect(), true),
            Some(Err(_)) => (Vec::new(), false),
        });
        let loading = policies.with(Option::is_none);
        selected
            .get()
            .into_iter()
            .filter(|name| !loading && !known.contains(name))
            .map(|name| {
                view! { <PolicyOption selected=selected name=name policy=None missing=missing testid=testid /> }
            })
            .collect_view()
    };
    view! {
        <fieldset
            class="field check-list"
            data-testid=testid
            data-selected=move || selected.get().join(",")
        >
            <legend>"Guardrail policies"</legend>
            {listed}
            {unlisted}
            <p class="hint">{hint}</p>
            {move || {
                (0..selected.with(Vec::len))
                    .map(|i| view! { <FieldErr path=format!("guardrails[{i}]") /> })
                    .collect_view()
            }}
            <FieldErr path="guardrails".to_owned() />
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticking_appends_and_unticking_removes() {
        let selected = RwSignal::new(vec!["a".to_owned(), "b".to_owned()]);
        toggle(selected, "c", true);
        toggle(selected, "a", false);
        toggle(selected, "b", true);
        assert_eq!(selected.get_untracked(), ["c", "b"]);
    }
}
