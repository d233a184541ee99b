//! Ready-to-copy client code: curl and the OpenAI Python SDK calling the gateway's proxy, with the
//! proxy's real port (which only the server knows) and, for a consumer's new key, that key.

use std::time::Duration;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, types::Status};
use crate::components::icons::Icon;

/// The port the proxy listens on, as the server reports it; 8080 (the default) if it cannot say.
const DEFAULT_PROXY_PORT: u16 = 8080;

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

/// The proxy's base URL once `/api/status` has said which port it listens on.
pub fn use_proxy_base_url() -> RwSignal<Option<String>> {
    let base = RwSignal::new(None::<String>);
    spawn_local(async move {
        let reported = api::get::<Status>("/api/status")
            .await
            .ok()
            .map(|status| status.proxy_port)
            .filter(|port| *port != 0);
        let hostname = window().location().hostname().unwrap_or_default();
        let url = proxy_base_url(&hostname, reported.unwrap_or(DEFAULT_PROXY_PORT));
        base.try_set(Some(url));
    });
    base
}

/// A JSON string literal, which is also a valid Python string literal for model names and keys.
fn quoted(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| format!("\"{text}\""))
}

/// A chat completion with curl; with `api_key`, sent as a bearer token.
pub fn curl_snippet(base_url: &str, model: &str, api_key: Option<&str>) -> String {
    let auth = api_key
        .map(|key| format!("  -H \"Authorization: Bearer {key}\" \\\n"))
        .unwrap_or_default();
    format!(
        "curl {base_url}/chat/completions \\\n{auth}  -H \"Content-Type: application/json\" \\\n  -d '{{\"model\": {}, \"messages\": [{{\"role\": \"user\", \"content\": \"Hello!\"}}]}}'",
        quoted(model)
    )
}

/// A chat completion with the OpenAI Python SDK; with `api_key`, the consumer's key.
pub fn python_snippet(base_url: &str, model: &str, api_key: Option<&str>) -> String {
    let (comment, key) = match api_key {
        Some(key) => (
            "# The consumer's key: keep it out of source control (an environment variable).",
            quoted(key),
        ),
        None => (
            "# The gateway holds the provider keys. Where client keys are required, use a consumer's key.",
            quoted("switchyard"),
        ),
    };
    format!(
        "from openai import OpenAI\n\n{comment}\nclient = OpenAI(base_url=\"{base_url}\", api_key={key})\n\nresponse = client.chat.completions.create(\n    model={},\n    messages=[{{\"role\": \"user\", \"content\": \"Hello!\"}}],\n)\nprint(response.choices[0].message.content)\n",
        quoted(model)
    )
}

/// A button that copies `text` and says whether it could.
#[component]
pub fn CopyButton(
    #[prop(into)] text: Signal<String>,
    #[prop(into)] testid: String,
    #[prop(default = "Copy")] label: &'static str,
) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        let text = text.get_untracked();
        spawn_local(async move {
            let ok = crate::util::copy_text(&text).await;
            copied.try_set(Some(ok));
            set_timeout(
                move || copied.try_set(None).map(drop).unwrap_or(()),
                Duration::from_secs(2),
            );
        });
    };
    view! {
        <button type="button" class="btn btn-small" data-testid=testid on:click=copy>
            <Icon name="copy" size=14 />
            {move || match copied.get() {
                Some(true) => "Copied",
                Some(false) => "Select and copy",
                None => label,
            }}
        </button>
    }
}

/// A code block with a copy button that confirms the copy.
#[component]
pub fn Snippet(title: &'static str, text: String, testid: &'static str) -> impl IntoView {
    view! {
        <div class="snippet">
            <div class="snippet-head">
                <h3>{title}</h3>
                <CopyButton text=text.clone() testid=format!("{testid}-copy") />
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

    #[test]
    fn builds_snippets() {
        let base = proxy_base_url("gw.local", 8080);
        assert_eq!(base, "http://gw.local:8080/v1");
        assert_eq!(proxy_base_url("::1", 9000), "http://[::1]:9000/v1");
        let curl = curl_snippet(&base, "deepseek-chat", None);
        assert!(curl.starts_with("curl http://gw.local:8080/v1/chat/completions"));
        assert!(curl.contains("\"model\": \"deepseek-chat\""));
        assert!(!curl.contains("Authorization"));
        let python = python_snippet(&base, "deepseek-chat", None);
        assert!(python.contains("base_url=\"http://gw.local:8080/v1\""));
        assert!(python.contains("model=\"deepseek-chat\""));
    }

    #[test]
    fn snippets_carry_a_consumer_key() {
        let base = proxy_base_url("127.0.0.1", 18080);
        let curl = curl_snippet(&base, "gpt-4o", Some("sy-abc"));
        assert!(curl.contains("-H \"Authorization: Bearer sy-abc\" \\\n"));
        let python = python_snippet(&base, "gpt-4o", Some("sy-abc"));
        assert!(python.contains(
            "client = OpenAI(base_url=\"http://127.0.0.1:18080/v1\", api_key=\"sy-abc\")"
        ));
    }
}
