//! The provider form's type picker: the types grouped as the presets group them, and what the
//! chosen type brings (its hint, what its service offers, how its key is sent, its default
//! model and base URL).

use leptos::prelude::*;
use switchyard_shared::{Group, ProviderType, ReasoningField};

use crate::components::field::FieldErr;

/// The provider type named by a select value.
pub fn parse_kind(value: &str) -> ProviderType {
    ProviderType::from_name(value).unwrap_or(ProviderType::Openai)
}

/// The placeholder of the base URL input: the type's default, else the shape its URL takes.
pub fn base_url_placeholder(kind: ProviderType) -> String {
    let preset = kind.preset();
    match (preset.default_base_url, preset.base_url_template) {
        (Some(url), _) => url.to_owned(),
        (None, Some(template)) => format!("Required: {template}"),
        (None, None) => "Required, e.g. https://llm.example.com/v1".to_owned(),
    }
}

/// The type `<select>`, one `<optgroup>` per group, each option showing the service's name.
#[component]
pub fn TypeSelect(value: RwSignal<String>) -> impl IntoView {
    let groups = Group::ALL
        .into_iter()
        .map(|group| {
            let options = ProviderType::ALL
                .into_iter()
                .filter(|kind| kind.group() == group)
                .map(|kind| {
                    let name = kind.as_str();
                    view! {
                        <option value=name selected=move || value.get() == name>
                            {format!("{} — {name}", kind.label())}
                        </option>
                    }
                })
                .collect_view();
            view! { <optgroup label=group.label()>{options}</optgroup> }
        })
        .collect_view();
    view! {
        <div class="field">
            <label for="provider-type">"Type"</label>
            <select
                id="provider-type"
                class="input"
                data-testid="provider-type"
                on:change=move |ev| value.set(event_target_value(&ev))
            >
                {groups}
            </select>
            <p class="hint">
                "The service's API flavour: it sets the default base URL and model, and how the key is sent."
            </p>
            <FieldErr path="type".to_owned() />
        </div>
    }
}

/// Where a type's reasoning arrives, as a sentence, when it arrives apart from the answer.
fn reasoning_note(field: ReasoningField) -> Option<&'static str> {
    match field {
        ReasoningField::None => None,
        ReasoningField::ReasoningContent => Some("Reasoning streams in reasoning_content."),
        ReasoningField::Reasoning => Some("Reasoning streams in reasoning."),
        ReasoningField::ThinkTags => Some("Reasoning comes inside <think> tags in the answer."),
    }
}

/// What the chosen type brings: its hint, its service's endpoints, its key header and its
/// default model, with a link to the service's API documentation.
#[component]
pub fn TypeInfo(kind: Signal<ProviderType>) -> impl IntoView {
    move || {
        let kind = kind.get();
        let preset = kind.preset();
        let capabilities = preset.capabilities;
        let model = match preset.default_model {
            Some(model) => format!("Default model: {model}"),
            None => "No default model: use the names your server or account serves.".to_owned(),
        };
        let key = if preset.requires_key {
            "API key required"
        } else {
            "API key optional"
        };
        view! {
            <div class="type-info" data-testid="provider-type-info">
                <p class="hint">{preset.hint}</p>
                <div class="capabilities" aria-label="What this type's service offers">
                    {capabilities
                        .names()
                        .into_iter()
                        .map(|name| view! { <span class="chip chip-on">{name}</span> })
                        .collect_view()}
                    <span class="chip">{key}</span>
                </div>
                <p class="hint" data-testid="provider-type-facts">
                    <span class="mono">{format!("Key header: {}", preset.auth)}</span>
                    " · "
                    <span class="mono" data-testid="provider-type-default-model">{model}</span>
                    {reasoning_note(capabilities.reasoning).map(|note| view! { " · " {note} })}
                    {preset
                        .docs_url
                        .map(|url| {
                            view! {
                                " · "
                                <a href=url target="_blank" rel="noopener noreferrer">
                                    "API docs"
                                </a>
                            }
                        })}
                </p>
            </div>
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in ProviderType::ALL {
            assert_eq!(parse_kind(kind.as_str()), kind);
        }
        assert_eq!(parse_kind("no-such-type"), ProviderType::Openai);
    }

    #[test]
    fn placeholders_show_the_default_or_the_urls_shape() {
        assert_eq!(
            base_url_placeholder(ProviderType::Perplexity),
            "https://api.perplexity.ai"
        );
        assert_eq!(
            base_url_placeholder(ProviderType::Cloudflare),
            "Required: https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1"
        );
    }
}
