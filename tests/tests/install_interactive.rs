//! The guided setup of `install.sh`, driven through a pseudo-terminal by `pty_driver.py`.
//!
//! The driver waits for each prompt in the terminal's output before it types the answer, and for
//! a hidden prompt it also waits until the installer has turned echo off. The resulting providers
//! and routes are then read back through the admin API with the token the installer generated.

// The sandbox module serves several test files, and this one uses only part of it.
#[allow(dead_code)]
#[path = "../install/sandbox.rs"]
mod sandbox;

use sandbox::{Sandbox, mode, run};
use serde_json::{Value, json};
use switchyard_shared::secret::mask_secret;
use switchyard_tests::{MockUpstream, workspace_root};

const DEEPSEEK_KEY: &str = "sk-guided-deepseek-3a8f1e6c9b2d7405";
const COMPAT_KEY: &str = "sk-guided-compat-6d0b4f2a8e1c9375";
const MENU: &str = "provider number (Enter to finish): ";

/// The conversation: two providers (one picked twice by mistake, one number out of range),
/// hidden keys, a default prefix accepted and typed ones for the type without defaults, and a
/// fallback from the first to the second with the model it asks for (the generic type has no
/// default model to offer).
fn steps(base_url: &str) -> Value {
    json!([
        {"expect": " 9) deepseek"},
        {"expect": "46) openai-compatible"},
        {"expect": MENU, "send": "99\n"},
        {"expect": "please enter a number between 1 and 46"},
        {"expect": MENU, "send": "9\n"},
        {"expect": "deepseek API key (input hidden): ", "send": format!("{DEEPSEEK_KEY}\n"), "hidden": true},
        {"expect": "model prefixes to route [deepseek-]: ", "send": "\n"},
        {"expect": MENU, "send": "9\n"},
        {"expect": "deepseek is already chosen"},
        {"expect": MENU, "send": "46\n"},
        {"expect": "openai-compatible API key (input hidden): ", "send": format!("{COMPAT_KEY}\n"), "hidden": true},
        {"expect": "openai-compatible base URL: ", "send": format!("{base_url}\n")},
        {"expect": "model prefixes to route (comma-separated, e.g. llama-): ", "send": "llama-, mixtral-\n"},
        {"expect": MENU, "send": "\n"},
        {"expect": "set up a fallback between two of them? [y/N] ", "send": "y\n"},
        {"expect": "primary provider: ", "send": "deepseek\n"},
        {"expect": "fallback provider: ", "send": "openai-compatible\n"},
        {"expect": "model for the fallback to openai-compatible (Enter keeps the client's model name): ", "send": "llama-3-8b\n"},
        {"expect": "Switchyard is running."},
    ])
}

/// The element of a JSON list whose `name` is `name`.
fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .find(|item| item["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

/// The `value`s of a route's prefix rules.
fn prefixes(route: &Value) -> Vec<&str> {
    route["match"]
        .as_array()
        .expect("match rules")
        .iter()
        .map(|rule| {
            assert_eq!(rule["type"], "prefix", "{rule}");
            rule["value"].as_str().expect("a prefix value")
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guided_setup_through_a_terminal_configures_providers_routes_and_fallback() {
    let mock = MockUpstream::start("compat").await;
    let sandbox = Sandbox::new();
    let steps_file = sandbox.root().join("steps.json");
    let transcript_file = sandbox.root().join("transcript.txt");
    std::fs::write(&steps_file, steps(&mock.base_url()).to_string()).expect("steps written");

    let mut command = sandbox.std_command("python3");
    command
        .arg(workspace_root().join("tests/install/pty_driver.py"))
        .arg(&steps_file)
        .arg(&transcript_file)
        .arg("--")
        .arg("bash")
        .arg(workspace_root().join("install.sh"))
        .args(sandbox.install_options().await)
        .arg("--no-systemd");
    let driver = run(command, "the pty driver").await;
    let transcript = String::from_utf8_lossy(
        &std::fs::read(&transcript_file).expect("the driver wrote a transcript"),
    )
    .into_owned();
    assert_eq!(
        driver.status.code(),
        Some(0),
        "the guided install failed\ndriver stderr:\n{}\ntranscript:\n{transcript}",
        driver.stderr
    );

    // Neither key was echoed, though both were typed on the terminal.
    for key in [DEEPSEEK_KEY, COMPAT_KEY] {
        assert!(!transcript.contains(key), "{key} echoed:\n{transcript}");
    }
    assert!(
        transcript.contains(&format!("http://127.0.0.1:{}/v1", sandbox.port)),
        "the summary names the proxy:\n{transcript}"
    );
    assert_eq!(mode(&sandbox.data_dir()), 0o700);

    // Exactly the two chosen providers exist, with masked keys.
    let providers = sandbox.admin_get("/api/providers").await;
    assert_eq!(providers.as_array().map(Vec::len), Some(2), "{providers}");
    let deepseek = named(&providers, "deepseek");
    assert_eq!(deepseek["type"], "deepseek");
    assert_eq!(deepseek["api_keys"], json!([mask_secret(DEEPSEEK_KEY)]));
    let compat = named(&providers, "openai-compatible");
    assert_eq!(compat["type"], "openai-compatible");
    assert_eq!(compat["base_url"], mock.base_url().as_str());
    assert_eq!(compat["api_keys"], json!([mask_secret(COMPAT_KEY)]));
    for key in [DEEPSEEK_KEY, COMPAT_KEY] {
        assert!(!providers.to_string().contains(key), "{key} unmasked");
    }

    // The routes carry the defaulted and the typed prefixes, and the fallback.
    let routes = sandbox.admin_get("/api/routes").await;
    assert_eq!(routes.as_array().map(Vec::len), Some(2), "{routes}");
    let deepseek_route = named(&routes, "deepseek");
    assert_eq!(prefixes(deepseek_route), ["deepseek-"]);
    assert_eq!(deepseek_route["upstreams"][0]["provider"], "deepseek");
    assert_eq!(
        deepseek_route["fallback"]["enabled"], true,
        "{deepseek_route}"
    );
    let fallback_providers: Vec<&Value> = deepseek_route["fallback"]["upstreams"]
        .as_array()
        .expect("fallback upstreams")
        .iter()
        .map(|upstream| &upstream["provider"])
        .collect();
    assert_eq!(fallback_providers, [&json!("openai-compatible")]);
    assert_eq!(
        deepseek_route["fallback"]["upstreams"][0]["model"], "llama-3-8b",
        "the fallback asks for the model typed: {deepseek_route}"
    );
    let compat_route = named(&routes, "openai-compatible");
    assert_eq!(prefixes(compat_route), ["llama-", "mixtral-"]);
    assert_eq!(
        compat_route["upstreams"][0]["provider"],
        "openai-compatible"
    );
    assert!(
        compat_route["fallback"].is_null() || compat_route["fallback"]["enabled"] == false,
        "only the primary has a fallback: {compat_route}"
    );

    // The key typed at the hidden prompt is the one the upstream receives.
    sandbox
        .chat("llama-3-8b")
        .await
        .expect_status(200, "a chat for a typed prefix");
    let request = mock.last_request();
    assert_eq!(request.model(), "llama-3-8b");
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {COMPAT_KEY}").as_str())
    );
    for key in [DEEPSEEK_KEY, COMPAT_KEY] {
        assert!(!sandbox.log().contains(key), "switchyard.log holds {key}");
    }
}
