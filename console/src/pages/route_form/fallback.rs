//! The route form's fallback section: its switch, strategy and statuses, and its upstreams,
//! whose model the chosen provider's type fills in (the client's model name rarely means anything
//! to another vendor).

use leptos::prelude::*;
use switchyard_shared::ProviderType;

use super::sections::ProviderSelect;
use super::{FallbackRow, RouteInputs, default_fallback_statuses};
use crate::components::field::{
    Checkbox, FieldErr, SelectField, TextField, invalid_attr, use_form_errors,
};
use crate::components::rows::{AddRowButton, RemoveRowButton};
use crate::form::format_statuses;

/// The model a fallback row should show after its provider changes from one with
/// `previous_default` to one with `next_default`: the new type's default model, unless the row
/// holds a model the operator typed (anything but empty or the previous type's default). `None`
/// leaves the row as it is.
fn prefill_model(
    current: &str,
    previous_default: Option<&str>,
    next_default: Option<&str>,
) -> Option<String> {
    let current = current.trim();
    let untouched = current.is_empty() || previous_default == Some(current);
    untouched.then(|| next_default.unwrap_or_default().to_owned())
}

/// The type's default model of the provider named `name`, if the provider is known.
fn default_model_of(kinds: &[(String, ProviderType)], name: &str) -> Option<&'static str> {
    kinds
        .iter()
        .find(|(provider, _)| provider == name)
        .and_then(|(_, kind)| kind.default_model())
}

#[component]
pub fn FallbackSection(
    inputs: RouteInputs,
    providers: Signal<Vec<String>>,
    /// Each provider's type, for the default model of a fallback's provider.
    kinds: Signal<Vec<(String, ProviderType)>>,
    strategy_options: Vec<(String, String)>,
) -> impl IntoView {
    let form = use_form_errors();
    let rows = inputs.fallback_upstreams;
    view! {
        <section class="card">
            <h2 class="card-title">"Fallback"</h2>
            <p class="hint">
                "When every upstream fails with one of these statuses, the request moves on to the fallback upstreams."
            </p>
            <Checkbox
                label="Enable fallback"
                id="route-fallback-enabled"
                checked=inputs.fallback_enabled
                testid="route-fallback-enabled"
            />
            <div class="grid-2">
                <SelectField
                    label="Strategy"
                    id="route-fallback-strategy"
                    value=inputs.fallback_strategy
                    options=strategy_options
                    testid="route-fallback-strategy"
                    path="fallback.strategy"
                />
                <TextField
                    label="On status"
                    id="route-fallback-on-status"
                    value=inputs.fallback_on_status
                    testid="route-fallback-on-status"
                    path="fallback.on_status"
                    placeholder=format_statuses(&default_fallback_statuses())
                    hint="Status codes or classes, comma-separated, e.g. 401,403,429,5xx."
                />
            </div>
            <h3 class="sub-title">"Fallback upstreams"</h3>
            <p class="hint">
                "Choosing a provider fills in its type's default model: another vendor rarely knows the client's model name. Empty sends the name unchanged, through the provider's model mapping."
            </p>
            <div class="grid-rows">
                {move || {
                    rows.get()
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let n = i + 1;
                            let model_path = format!("fallback.upstreams[{i}].model");
                            let mp = model_path.clone();
                            let prefill = Callback::new(move |(previous, chosen): (String, String)| {
                                let kinds = kinds.get_untracked();
                                let model = prefill_model(
                                    &row.model.get_untracked(),
                                    default_model_of(&kinds, &previous),
                                    default_model_of(&kinds, &chosen),
                                );
                                if let Some(model) = model {
                                    row.model.set(model);
                                }
                            });
                            view! {
                                <div class="fallback-row">
                                    <ProviderSelect
                                        value=row.provider
                                        providers=providers
                                        label=format!("Provider, fallback {n}")
                                        testid=format!("route-fallback-provider-{i}")
                                        path=format!("fallback.upstreams[{i}].provider")
                                        on_change=prefill
                                    />
                                    <input
                                        class="input mono"
                                        placeholder="model (unchanged if empty)"
                                        aria-label=format!("Model, fallback {n}")
                                        data-testid=format!("route-fallback-model-{i}")
                                        aria-invalid=invalid_attr(form, move || mp.clone())
                                        prop:value=move || row.model.get()
                                        on:input=move |ev| row.model.set(event_target_value(&ev))
                                    />
                                    <RemoveRowButton
                                        label=format!("Remove fallback {n}")
                                        on_remove=move |()| rows.update(|l| l.retain(|r| r.id != row.id))
                                    />
                                    <div class="pair-error">
                                        <FieldErr path=format!("fallback.upstreams[{i}].provider") />
                                        <FieldErr path=model_path />
                                        <FieldErr path=format!("fallback.upstreams[{i}]") />
                                    </div>
                                </div>
                            }
                        })
                        .collect_view()
                }}
            </div>
            <AddRowButton
                testid="route-fallback-add"
                label="Add fallback upstream"
                on_add=move |()| rows.update(|l| l.push(FallbackRow::new(None)))
            />
            <FieldErr path="fallback.upstreams".to_owned() />
            <FieldErr path="fallback".to_owned() />
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fallbacks_model_follows_its_providers_type_until_typed() {
        // An empty row takes the new type's default, and a default follows the type.
        assert_eq!(
            prefill_model("", None, Some("deepseek-chat")).as_deref(),
            Some("deepseek-chat")
        );
        assert_eq!(
            prefill_model("deepseek-chat", Some("deepseek-chat"), Some("qwen-plus")).as_deref(),
            Some("qwen-plus")
        );
        // A type without a default clears a default, and leaves an empty row empty.
        assert_eq!(
            prefill_model("qwen-plus", Some("qwen-plus"), None).as_deref(),
            Some("")
        );
        // A model the operator typed stays.
        assert_eq!(
            prefill_model("my-model", Some("qwen-plus"), Some("x")),
            None
        );
        let kinds = vec![("ds".to_owned(), ProviderType::Deepseek)];
        assert_eq!(default_model_of(&kinds, "ds"), Some("deepseek-chat"));
        assert_eq!(default_model_of(&kinds, "other"), None);
    }
}
