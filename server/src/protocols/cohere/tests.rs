//! OpenAI chat requests translated for Cohere v2, and what cannot be translated refused by name.

use serde_json::{Value, json};

use super::*;
use crate::protocols::{ProviderProtocol, RequestSettings};

pub(super) fn translate(chat: Value) -> Result<Value, String> {
    let settings = RequestSettings {
        target: "command-a-03-2025",
        default_max_tokens: 4096,
    };
    CohereProvider.chat_request(chat, &settings)
}

#[test]
fn a_conversation_with_tools_keeps_openais_message_shape() {
    let chat = json!({
        "model": "command-a-03-2025",
        "messages": [
            {"role": "developer", "content": "Answer briefly."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture, and the weather there?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
            ]},
            {"role": "assistant", "content": "I will look up the weather.", "tool_calls": [
                {"id": "get_weather_a1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Madrid\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "get_weather_a1", "content": "{\"temperature\":24}"},
            {"role": "assistant", "content": [{"type": "text", "text": "It is 24°C."}]},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        }}],
        "tool_choice": "required",
        "max_tokens": 100,
        "max_completion_tokens": 200,
        "temperature": 0.3,
        "top_p": 0.9,
        "top_k": 40,
        "stop": "END",
        "seed": 7,
        "frequency_penalty": 0.1,
        "presence_penalty": 0.2,
        "stream": true,
        "stream_options": {"include_usage": true},
        "user": "someone",
    });
    let cohere = translate(chat).expect("translates");
    assert_eq!(
        cohere,
        json!({
            "model": "command-a-03-2025",
            "messages": [
                {"role": "system", "content": "Answer briefly."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is in this picture, and the weather there?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}},
                ]},
                {"role": "assistant", "tool_plan": "I will look up the weather.", "tool_calls": [
                    {"id": "get_weather_a1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Madrid\"}"}},
                ]},
                {"role": "tool", "tool_call_id": "get_weather_a1", "content": "{\"temperature\":24}"},
                {"role": "assistant", "content": "It is 24°C."},
                {"role": "user", "content": "Thanks"},
            ],
            "tools": [{"type": "function", "function": {
                "name": "get_weather", "description": "Weather in a city",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
            }}],
            "tool_choice": "REQUIRED",
            "max_tokens": 200,
            "temperature": 0.3,
            "p": 0.9,
            "k": 40,
            "stop_sequences": ["END"],
            "seed": 7,
            "frequency_penalty": 0.1,
            "presence_penalty": 0.2,
            "stream": true,
        })
    );
}

#[test]
fn tool_choices_map_to_cohere_modes() {
    let tools = json!([
        {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}, "strict": true}},
        {"type": "function", "function": {"name": "b", "strict": true}},
    ]);
    let with = |choice: Value| {
        translate(
            json!({"messages": [{"role": "user", "content": "hi"}], "tools": tools, "tool_choice": choice}),
        )
    };
    let auto = with(json!("auto")).expect("auto");
    assert!(auto.get("tool_choice").is_none());
    assert_eq!(auto["strict_tools"], true, "every tool is strict");
    assert_eq!(
        auto["tools"][1]["function"]["parameters"],
        json!({"type": "object", "properties": {}}),
        "Cohere requires parameters"
    );
    assert_eq!(with(json!("none")).expect("none")["tool_choice"], "NONE");
    let named = with(json!({"type": "function", "function": {"name": "b"}})).expect("named");
    assert_eq!(named["tool_choice"], "REQUIRED");
    assert_eq!(named["tools"].as_array().map(Vec::len), Some(1));
    assert_eq!(named["tools"][0]["function"]["name"], "b");
    let missing = with(json!({"type": "function", "function": {"name": "c"}}));
    assert!(missing.expect_err("unknown").contains("'c'"));
    assert!(
        with(json!("sometimes"))
            .expect_err("bad mode")
            .contains("tool_choice")
    );
    let no_tools = translate(
        json!({"messages": [{"role": "user", "content": "hi"}], "tool_choice": "required"}),
    );
    assert!(
        no_tools
            .expect_err("nothing to require")
            .contains("needs tools")
    );
    let custom = translate(json!({"messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "custom", "custom": {"name": "x"}}]}));
    assert!(custom.expect_err("custom tool").contains("tools[0]"));
}

#[test]
fn response_formats_and_reasoning_effort() {
    let base = |extra: Value| {
        let mut chat = json!({"messages": [{"role": "user", "content": "Give JSON"}]});
        for (key, value) in extra.as_object().expect("object") {
            chat[key] = value.clone();
        }
        translate(chat)
    };
    let schema =
        json!({"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]});
    let with_schema = base(json!({"response_format": {"type": "json_schema",
        "json_schema": {"name": "person", "schema": schema, "strict": true}}}))
    .expect("schema");
    assert_eq!(
        with_schema["response_format"],
        json!({"type": "json_object", "json_schema": schema})
    );
    let json_mode = base(json!({"response_format": {"type": "json_object"}})).expect("json");
    assert_eq!(json_mode["response_format"], json!({"type": "json_object"}));
    let text = base(json!({"response_format": {"type": "text"}})).expect("text");
    assert!(text.get("response_format").is_none());
    assert!(
        base(json!({"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}}))
            .expect_err("no schema")
            .contains("json_schema.schema")
    );

    let effort = |effort: &str| base(json!({"reasoning_effort": effort}));
    assert_eq!(
        effort("none").expect("none")["thinking"],
        json!({"type": "disabled"})
    );
    assert_eq!(
        effort("low").expect("low")["thinking"],
        json!({"type": "enabled", "token_budget": 4096})
    );
    assert_eq!(
        effort("high").expect("high")["thinking"],
        json!({"type": "enabled"})
    );
    assert!(
        effort("extreme")
            .expect_err("unknown")
            .contains("reasoning_effort")
    );
    assert!(base(json!({"n": 2})).expect_err("n").contains("n above 1"));
}

#[test]
fn messages_cohere_cannot_take_are_refused_by_name() {
    let refused = |message: Value| {
        translate(json!({"messages": [{"role": "user", "content": "hi"}, message]}))
            .expect_err("refused")
    };
    assert!(
        refused(json!({"role": "function", "name": "f", "content": "x"})).contains("'function'")
    );
    assert!(refused(json!({"content": "x"})).contains("messages[1]"));
    assert!(refused(json!({"role": "tool", "content": "x"})).contains("tool_call_id"));
    let audio = refused(json!({"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}));
    assert!(audio.contains("messages[1].content[0]") && audio.contains("input_audio"));
    let file_url = refused(json!({"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}));
    assert!(file_url.contains("messages[1].content[0]"));
    let call = refused(
        json!({"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}),
    );
    assert!(call.contains("tool_calls[0] needs an id"));
    assert!(
        translate(json!({"messages": "hi"}))
            .expect_err("no array")
            .contains("messages")
    );
}

#[test]
fn an_empty_assistant_turn_is_left_out_and_missing_arguments_are_an_empty_object() {
    let cohere = translate(json!({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": null},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "now_1", "type": "function", "function": {"name": "now", "arguments": ""}}]},
    ]}))
    .expect("translates");
    let messages = cohere["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2);
    assert_eq!(
        messages[1],
        json!({"role": "assistant", "tool_calls": [
            {"id": "now_1", "type": "function", "function": {"name": "now", "arguments": "{}"}}]})
    );
}

#[test]
fn the_health_probe_translates() {
    let probe = translate(
        json!({"model": "m", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1}),
    )
    .expect("translates");
    assert_eq!(
        probe,
        json!({"model": "command-a-03-2025", "messages": [{"role": "user", "content": "ping"}], "max_tokens": 1})
    );
}
