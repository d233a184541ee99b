//! The one time a consumer key is shown in full: right after it is created or rotated, in a
//! dialog with a copy button and ready curl and Python snippets that use it. Once closed, only its
//! masked form is ever shown again, so the dialog closes only when asked to (not on Escape or a
//! click beside it).

use leptos::prelude::*;
use leptos::task::spawn_local;
use switchyard_shared::consumer::glob_match;

use crate::api::{self, types::ModelList};
use crate::components::modal::Modal;
use crate::components::snippet::{
    CopyButton, Snippet, curl_snippet, python_snippet, use_proxy_base_url,
};

/// A key just issued, with what the snippets need (no `Debug`: it holds the plaintext).
#[derive(Clone)]
pub struct Revealed {
    pub name: String,
    pub key: String,
    /// The consumer's and the key's model globs (empty: all), to pick an example model.
    pub consumer_models: Vec<String>,
    pub key_models: Vec<String>,
    /// Whether it replaces a key (rotation) rather than being new.
    pub rotated: bool,
}

/// A model the key may call, for the snippets: the first model the gateway serves that both
/// glob lists allow, else a name made from a glob (`deepseek-*` gives `deepseek-model`).
pub fn example_model(consumer: &[String], key: &[String], served: &[String]) -> String {
    let allows = |globs: &[String], model: &str| {
        globs.is_empty() || globs.iter().any(|g| glob_match(g, model))
    };
    if let Some(model) = served
        .iter()
        .find(|m| allows(consumer, m) && allows(key, m))
    {
        return model.clone();
    }
    key.first()
        .or(consumer.first())
        .map(|glob| glob.replace('*', "model"))
        .filter(|m| m != "model")
        .unwrap_or_else(|| "your-model".to_owned())
}

#[component]
pub fn KeyRevealDialog(revealed: Revealed, #[prop(into)] on_close: Callback<()>) -> impl IntoView {
    let base_url = use_proxy_base_url();
    let served = RwSignal::new(None::<Vec<String>>);
    spawn_local(async move {
        let models = api::get::<ModelList>("/api/playground/models")
            .await
            .map(|list| list.data.into_iter().map(|m| m.id).collect())
            .unwrap_or_default();
        served.try_set(Some(models));
    });
    let title = if revealed.rotated {
        format!("New key for {}", revealed.name)
    } else {
        format!("Key {} created", revealed.name)
    };
    let key = revealed.key.clone();
    let snippets = move || {
        let base_url = base_url.get()?;
        let served = served.get()?;
        let model = example_model(&revealed.consumer_models, &revealed.key_models, &served);
        let curl = curl_snippet(&base_url, &model, Some(&revealed.key));
        let python = python_snippet(&base_url, &model, Some(&revealed.key));
        Some(view! {
            <Snippet title="curl" text=curl testid="key-curl" />
            <Snippet title="Python (OpenAI SDK)" text=python testid="key-python" />
        })
    };
    view! {
        <Modal title=title on_close=on_close wide=true dismissable=false>
            <div class="alert alert-warn" role="status">
                <strong>"Copy this key now: it is shown only once."</strong>
                " The gateway keeps only a digest of it; afterwards the console shows only its last characters."
            </div>
            <div class="field">
                <label for="key-reveal-value">"API key"</label>
                <div class="inline-add">
                    <input
                        id="key-reveal-value"
                        class="input mono"
                        readonly=true
                        data-testid="key-reveal-value"
                        data-autofocus="true"
                        prop:value=key.clone()
                        on:focus=move |ev| {
                            use wasm_bindgen::JsCast;
                            if let Some(input) = ev
                                .target()
                                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                            {
                                input.select();
                            }
                        }
                    />
                    <CopyButton text=key testid="key-reveal-copy" label="Copy key" />
                </div>
            </div>
            {snippets}
            <div class="modal-actions">
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="key-reveal-done"
                    on:click=move |_| on_close.run(())
                >
                    "I have copied the key"
                </button>
            </div>
        </Modal>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn picks_a_model_the_key_may_call() {
        let served = list(&["gpt-4o", "deepseek-chat", "qwen-max"]);
        assert_eq!(example_model(&[], &[], &served), "gpt-4o");
        assert_eq!(
            example_model(&list(&["deepseek-*", "qwen-*"]), &[], &served),
            "deepseek-chat"
        );
        assert_eq!(
            example_model(
                &list(&["deepseek-*", "qwen-*"]),
                &list(&["qwen-*"]),
                &served
            ),
            "qwen-max"
        );
        assert_eq!(
            example_model(&list(&["mistral-*"]), &[], &served),
            "mistral-model"
        );
        assert_eq!(example_model(&list(&["*"]), &[], &[]), "your-model");
        assert_eq!(example_model(&[], &[], &[]), "your-model");
    }
}
