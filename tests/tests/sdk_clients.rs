//! The official SDKs against the gateway: OpenAI's Python SDK (`responses.create`, streamed and
//! not, Codex-style with tools) and Google's google-genai (`generate_content`, its stream, function
//! calling), both answered by an Anthropic provider, so every request is translated both ways.
//! The wire-shape tests elsewhere send what these SDKs send; this one runs the SDKs themselves, so
//! their own parsers judge the answers (a missing required field fails here).
//!
//! The SDKs are pinned in `tests/sdk/requirements.txt` and installed into `tests/sdk/.venv` by
//! `tests/run.sh`; `SDK_PYTHON` points elsewhere.

use std::path::PathBuf;

use serde_json::{Value, json};
use switchyard_tests::providers::conformance::MODEL;
use switchyard_tests::providers::{Answer, Harness, Kind, ToolCall};

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sdk")
}

fn python() -> PathBuf {
    let python = std::env::var_os("SDK_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| sdk_dir().join(".venv/bin/python"));
    assert!(
        python.is_file(),
        "the SDK test needs the pinned SDKs at {}; run tests/run.sh once (it installs them from \
         tests/sdk/requirements.txt), or set SDK_PYTHON",
        python.display()
    );
    python
}

/// A system prompt as the gateway writes it for Anthropic: one text block.
fn system(text: &str) -> Value {
    json!([{"type": "text", "text": text}])
}

/// Runs one step of `tests/sdk/clients.py` and reads the JSON line it prints.
async fn step(harness: &Harness, name: &str) -> Value {
    let output = tokio::process::Command::new(python())
        .arg(sdk_dir().join("clients.py"))
        .arg(harness.gateway.proxy_url())
        .arg(MODEL)
        .arg(name)
        .kill_on_drop(true)
        .output()
        .await
        .expect("python starts");
    assert!(
        output.status.success(),
        "step {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("step {name} printed {stdout:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_sdks_reach_an_anthropic_provider() {
    let h = Harness::start(Kind::Anthropic).await;

    h.answer(Answer::text("Hello from Claude"));
    let plain = step(&h, "responses").await;
    assert_eq!(
        plain,
        json!({"text": "Hello from Claude", "input_tokens": 21, "output_tokens": 9,
            "status": "completed"})
    );
    let sent = h.last_request().json();
    assert_eq!(
        sent["messages"][0]["content"],
        json!([{"type": "text", "text": "Say hi"}])
    );

    h.answer(Answer::text("Hello from Claude"));
    let streamed = step(&h, "responses-stream").await;
    assert_eq!(
        streamed,
        json!({"text": "Hello from Claude", "first": "response.created",
            "last": "response.completed", "output_tokens": 9})
    );
    assert_eq!(h.last_request().json()["stream"], json!(true));

    let call = ToolCall::new("toolu_01", "get_weather", json!({"city": "Paris"}));
    h.answer(Answer::tool_calls(vec![call]));
    let codex = step(&h, "responses-codex").await;
    assert_eq!(
        codex,
        json!({"name": "get_weather", "arguments": {"city": "Paris"}, "call_id": "toolu_01"})
    );
    let sent = h.last_request().json();
    assert_eq!(sent["system"], system("You are a coding agent."), "{sent}");
    assert_eq!(sent["tools"][0]["name"], "get_weather");

    h.answer(Answer::text("It is sunny in Paris."));
    let after_tool = step(&h, "responses-tool-result").await;
    assert_eq!(after_tool, json!({"text": "It is sunny in Paris."}));
    let sent = h.last_request().json();
    let blocks: Vec<Value> = sent["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .flat_map(|m| m["content"].as_array().cloned().unwrap_or_default())
        .collect();
    assert!(
        blocks
            .iter()
            .any(|b| b["type"] == "tool_use" && b["id"] == "call_1")
            && blocks
                .iter()
                .any(|b| b["type"] == "tool_result" && b["tool_use_id"] == "call_1"),
        "the function call and its output reach Anthropic as tool_use and tool_result: {sent}"
    );

    h.answer(Answer::text("Hello from Claude"));
    let gemini = step(&h, "gemini").await;
    assert_eq!(
        gemini,
        json!({"text": "Hello from Claude", "prompt_tokens": 21, "output_tokens": 9})
    );

    h.answer(Answer::text("Hello from Claude"));
    let gemini_stream = step(&h, "gemini-stream").await;
    assert_eq!(gemini_stream, json!({"text": "Hello from Claude"}));
    assert_eq!(h.last_request().json()["stream"], json!(true));

    let call = ToolCall::new("toolu_02", "get_weather", json!({"city": "Paris"}));
    h.answer(Answer::tool_calls(vec![call]));
    let gemini_tool = step(&h, "gemini-tool").await;
    assert_eq!(
        gemini_tool,
        json!({"name": "get_weather", "args": {"city": "Paris"}})
    );
    let sent = h.last_request().json();
    assert_eq!(sent["system"], system("Be brief."), "{sent}");
    assert_eq!(sent["tools"][0]["name"], "get_weather");
}
