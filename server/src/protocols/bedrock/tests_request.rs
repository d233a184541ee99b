//! Tests of OpenAI chat requests translated into Converse requests, and of the provider's paths.

use serde_json::{Value, json};

use super::BedrockProvider;
use crate::protocols::{Operation, ProviderProtocol, RequestSettings};

const CLAUDE: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const PNG: &str = "data:image/png;base64,iVBORw0KGgo=";

fn translate(chat: Value) -> Result<Value, String> {
    translate_for(chat, CLAUDE)
}

fn translate_for(chat: Value, target: &str) -> Result<Value, String> {
    let settings = RequestSettings {
        target,
        default_max_tokens: 4096,
    };
    BedrockProvider.chat_request(chat, &settings)
}

#[test]
fn text_system_and_inference_settings() {
    let converse = translate(json!({
        "model": "claude",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
            {"role": "user", "content": "Hello"},
            {"role": "user", "content": [{"type": "text", "text": "Anyone there?"}, {"type": "text", "text": "  "}]},
            {"role": "assistant", "content": "Oui."},
            {"role": "user", "content": "Merci"},
        ],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "END",
        "stream": true,
        "user": "u-1",
    }))
    .expect("translates");
    assert_eq!(
        converse,
        json!({
            "system": [{"text": "Be brief."}, {"text": "Answer in French."}],
            "messages": [
                {"role": "user", "content": [{"text": "Hello"}, {"text": "Anyone there?"}]},
                {"role": "assistant", "content": [{"text": "Oui."}]},
                {"role": "user", "content": [{"text": "Merci"}]},
            ],
            "inferenceConfig": {"maxTokens": 100, "temperature": 0.2, "topP": 0.9, "stopSequences": ["END"]},
        })
    );
    let converse = translate(json!({
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 7, "max_tokens": 100, "stop": ["a", "b"],
    }))
    .expect("translates");
    assert_eq!(
        converse["inferenceConfig"],
        json!({"maxTokens": 7, "stopSequences": ["a", "b"]})
    );
    let bare = translate(json!({"messages": [{"role": "user", "content": "Hi"}]})).expect("ok");
    assert!(bare.get("inferenceConfig").is_none() && bare.get("toolConfig").is_none());
}

#[test]
fn images_go_inline_and_urls_are_refused() {
    let converse = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": PNG}},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
    ]}]}))
    .expect("translates");
    assert_eq!(
        converse["messages"][0]["content"],
        json!([
            {"text": "What is this?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
        ])
    );
    let url = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}]}))
    .expect_err("http URL");
    assert!(
        url.contains("messages[0].content[0]") && url.contains("data: URL"),
        "{url}"
    );
    let svg = translate(json!({"messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/svg+xml;base64,PHN2Zz4="}}]}]}))
    .expect_err("svg");
    assert!(svg.contains("image/svg+xml"), "{svg}");
}

fn weather_tool() -> Value {
    json!({"type": "function", "function": {"name": "get_weather", "description": "Weather now",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})
}

#[test]
fn tools_calls_and_results_round_trip() {
    let converse = translate(json!({
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}},
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "21C"}]},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [weather_tool(), {"type": "function", "function": {"name": "noop"}}],
        "tool_choice": "required",
    }))
    .expect("translates");
    assert_eq!(
        converse["messages"],
        json!([
            {"role": "user", "content": [{"text": "Weather in Paris and Rome?"}]},
            {"role": "assistant", "content": [
                {"toolUse": {"toolUseId": "call_1", "name": "get_weather", "input": {"city": "Paris"}}},
                {"toolUse": {"toolUseId": "call_2", "name": "get_weather", "input": {}}},
            ]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "call_1", "content": [{"text": "18C"}]}},
                {"toolResult": {"toolUseId": "call_2", "content": [{"text": "21C"}]}},
                {"text": "And tomorrow?"},
            ]},
        ])
    );
    assert_eq!(
        converse["toolConfig"],
        json!({
            "tools": [
                {"toolSpec": {"name": "get_weather", "description": "Weather now", "inputSchema": {"json":
                    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}},
                {"toolSpec": {"name": "noop", "inputSchema": {"json": {"type": "object", "properties": {}}}}},
            ],
            "toolChoice": {"any": {}},
        })
    );
}

#[test]
fn tool_choice_forms() {
    let with_choice = |choice: Value| {
        translate(json!({"messages": [{"role": "user", "content": "Hi"}],
            "tools": [weather_tool()], "tool_choice": choice}))
    };
    let choice_of = |converse: Value| converse["toolConfig"]["toolChoice"].clone();
    assert_eq!(
        choice_of(with_choice(json!("auto")).expect("ok")),
        json!({"auto": {}})
    );
    assert_eq!(
        choice_of(
            with_choice(json!({"type": "function", "function": {"name": "get_weather"}}))
                .expect("ok")
        ),
        json!({"tool": {"name": "get_weather"}})
    );
    // "none" with no tool blocks in the conversation: the tools are not sent at all.
    assert!(
        with_choice(json!("none"))
            .expect("ok")
            .get("toolConfig")
            .is_none()
    );
    assert!(with_choice(json!("sometimes")).is_err());
    assert!(with_choice(json!({"type": "allowed_tools"})).is_err());
}

#[test]
fn tool_blocks_always_come_with_a_tool_config() {
    let history = json!([
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
    ]);
    // tool_choice "none" keeps the tools when the conversation holds tool blocks.
    let none =
        translate(json!({"messages": history, "tools": [weather_tool()], "tool_choice": "none"}))
            .expect("ok");
    assert_eq!(
        none["toolConfig"]["tools"][0]["toolSpec"]["name"],
        "get_weather"
    );
    assert!(none["toolConfig"].get("toolChoice").is_none());
    // No tools at all: each called tool gets a permissive spec.
    let bare = translate(json!({"messages": history})).expect("ok");
    assert_eq!(
        bare["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather",
            "inputSchema": {"json": {"type": "object", "properties": {}}}}}]})
    );
}

#[test]
fn response_format_json_schema_is_an_output_config() {
    let schema = json!({"type": "object", "properties": {"answer": {"type": "string"}}});
    let converse = translate(json!({
        "messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "reply", "schema": schema, "strict": true}},
    }))
    .expect("ok");
    assert_eq!(
        converse["outputConfig"],
        json!({"textFormat": {"type": "json_schema", "structure": {"jsonSchema":
            {"schema": schema.to_string(), "name": "reply"}}}})
    );
    let object = translate(json!({"messages": [{"role": "user", "content": "Hi"}],
        "response_format": {"type": "json_object"}}))
    .expect("ok");
    assert!(object.get("outputConfig").is_none());
    assert!(
        translate(json!({"messages": [], "response_format": {"type": "yaml"}})).is_err(),
        "unknown format"
    );
}

#[test]
fn reasoning_effort_is_claudes_thinking_budget() {
    let converse = translate(json!({"messages": [{"role": "user", "content": "Hi"}],
        "reasoning_effort": "medium", "max_tokens": 1000}))
    .expect("ok");
    assert_eq!(
        converse["additionalModelRequestFields"],
        json!({"thinking": {"type": "enabled", "budget_tokens": 2048}})
    );
    assert_eq!(
        converse["inferenceConfig"]["maxTokens"], 3048,
        "max_tokens raised above the budget"
    );
    let plenty = translate(json!({"messages": [], "reasoning_effort": "low", "max_tokens": 8000}))
        .expect("ok");
    assert_eq!(plenty["inferenceConfig"]["maxTokens"], 8000);
    let profile = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-20250514-v1:0";
    let via_profile =
        translate_for(json!({"messages": [], "reasoning_effort": "high"}), profile).expect("ok");
    assert_eq!(
        via_profile["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        4096
    );
    let nova = translate_for(
        json!({"messages": [], "reasoning_effort": "high"}),
        "amazon.nova-pro-v1:0",
    )
    .expect("ok");
    assert!(nova.get("additionalModelRequestFields").is_none());
    let none = translate(json!({"messages": [], "reasoning_effort": "none"})).expect("ok");
    assert!(none.get("additionalModelRequestFields").is_none());
    assert!(translate(json!({"messages": [], "reasoning_effort": "max"})).is_err());
}

#[test]
fn what_cannot_be_expressed_is_refused_by_name() {
    let cases = [
        (json!({"messages": "hi"}), "messages"),
        (
            json!({"messages": [{"role": "function", "content": "x"}]}),
            "messages[0]",
        ),
        (json!({"messages": [{"content": "x"}]}), "messages[0]"),
        (
            json!({"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}),
            "input_audio",
        ),
        (
            json!({"messages": [{"role": "user", "content": 7}]}),
            "messages[0].content",
        ),
        (
            json!({"messages": [{"role": "tool", "content": "x"}]}),
            "tool_call_id",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1]"}}]}]}),
            "messages[0].tool_calls[0].function.arguments",
        ),
        (
            json!({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]}),
            "messages[0].tool_calls[0].id",
        ),
        (json!({"messages": [], "n": 2}), "n"),
        (json!({"messages": [], "max_tokens": 0}), "max_tokens"),
        (json!({"messages": [], "temperature": "hot"}), "temperature"),
        (json!({"messages": [], "stop": [1]}), "stop"),
        (
            json!({"messages": [], "tools": [{"type": "web_search"}]}),
            "web_search",
        ),
        (
            json!({"messages": [], "tools": [{"type": "function", "function": {}}]}),
            "tools[0].function.name",
        ),
    ];
    for (chat, named) in cases {
        let error = translate(chat.clone()).expect_err(&chat.to_string());
        assert!(error.contains(named), "{chat}: {error}");
    }
}

#[test]
fn paths_name_the_model_as_one_encoded_segment() {
    let arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0";
    // As botocore sends it for bedrock-runtime's Converse.
    assert_eq!(
        BedrockProvider.path(Operation::Chat { stream: false }, arn, ""),
        Some("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse".to_owned())
    );
    assert_eq!(
        BedrockProvider.path(Operation::Chat { stream: true }, CLAUDE, ""),
        Some("/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream".to_owned())
    );
    assert_eq!(
        BedrockProvider.path(Operation::Embeddings, CLAUDE, ""),
        None
    );
    assert_eq!(
        BedrockProvider.path(Operation::CountTokens, CLAUDE, ""),
        None
    );
    assert!(BedrockProvider.per_model(Operation::Chat { stream: false }));
    assert!(
        BedrockProvider
            .embeddings_request(&json!({"input": "x"}), CLAUDE)
            .is_err()
    );
    for inbound in [
        crate::protocols::Inbound::Chat,
        crate::protocols::Inbound::Messages,
    ] {
        assert!(!BedrockProvider.native(inbound));
    }
}

#[test]
fn the_health_probe_translates() {
    let ping = json!({"model": CLAUDE, "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1});
    assert_eq!(
        translate(ping).expect("ok"),
        json!({"messages": [{"role": "user", "content": [{"text": "ping"}]}],
            "inferenceConfig": {"maxTokens": 1}})
    );
}
