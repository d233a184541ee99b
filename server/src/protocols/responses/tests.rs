//! Tests of the Responses API request translated into chat completions.

use serde_json::{Value, json};

use super::*;

fn error_of(request: Value) -> String {
    to_chat(&request).expect_err("the request must be refused")
}

#[test]
fn a_codex_request_becomes_the_chat_request() {
    let request = json!({
        "model": "gpt-5-codex",
        "instructions": "You are Codex, a coding agent.",
        "input": [
            {"type": "message", "role": "developer",
                "content": [{"type": "input_text", "text": "<permissions>workspace-write</permissions>"}]},
            {"type": "message", "role": "user",
                "content": [{"type": "input_text", "text": "List the files."}]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Listing"}],
                "encrypted_content": "gAAAAABo-opaque"},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "shell",
                "arguments": "{\"command\":[\"ls\"]}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "README.md\nsrc"},
            {"type": "message", "role": "assistant",
                "content": [{"type": "output_text", "text": "Two entries.", "annotations": []}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
        ],
        "tools": [{"type": "function", "name": "shell", "description": "Runs a command",
            "strict": false, "parameters": {"type": "object",
                "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                "required": ["command"]}}],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning": {"effort": "medium", "summary": "auto"},
        "store": false,
        "stream": true,
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "0199a7c4-thread",
        "text": {"verbosity": "medium"},
    });
    let expected = json!({
        "model": "gpt-5-codex",
        "messages": [
            {"role": "system", "content": "You are Codex, a coding agent."},
            {"role": "developer", "content": "<permissions>workspace-write</permissions>"},
            {"role": "user", "content": "List the files."},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
                "function": {"name": "shell", "arguments": "{\"command\":[\"ls\"]}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "README.md\nsrc"},
            {"role": "assistant", "content": "Two entries."},
            {"role": "user", "content": "Thanks"},
        ],
        "tools": [{"type": "function", "function": {"name": "shell", "description": "Runs a command",
            "strict": false, "parameters": {"type": "object",
                "properties": {"command": {"type": "array", "items": {"type": "string"}}},
                "required": ["command"]}}}],
        "tool_choice": "auto",
        "parallel_tool_calls": false,
        "reasoning_effort": "medium",
        "verbosity": "medium",
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    assert_eq!(to_chat(&request).expect("translates"), expected);
}

#[test]
fn the_python_sdks_simplest_stream_request() {
    // client.responses.create(model="gpt-4o", input="hi", stream=True)
    let request = json!({"input": "hi", "model": "gpt-4o", "stream": true});
    assert_eq!(
        to_chat(&request).expect("translates"),
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}],
            "stream": true, "stream_options": {"include_usage": true}})
    );
}

#[test]
fn calls_merge_into_the_assistant_turn_and_media_follow_the_tool_run() {
    let request = json!({
        "model": "m",
        "max_output_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "u-1",
        "metadata": {"trace": "x"},
        "truncation": "auto",
        "input": [
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is in this picture?"},
                {"type": "input_image", "image_url": "https://example.com/cat.png", "detail": "low"},
            ]},
            {"role": "assistant", "content": "Let me look closer."},
            {"type": "function_call", "call_id": "a", "name": "zoom", "arguments": "{}"},
            {"type": "function_call", "call_id": "b", "name": "crop", "arguments": "{\"x\":1}"},
            {"type": "function_call_output", "call_id": "a", "output": [
                {"type": "input_text", "text": "zoomed"},
                {"type": "input_image", "image_url": "data:image/png;base64,AAAA"},
            ]},
            {"type": "function_call_output", "call_id": "b", "output": "cropped"},
            {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]},
        ],
    });
    let chat = to_chat(&request).expect("translates");
    assert_eq!(
        chat["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this picture?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
            ]},
            {"role": "assistant", "content": "Let me look closer.", "tool_calls": [
                {"id": "a", "type": "function", "function": {"name": "zoom", "arguments": "{}"}},
                {"id": "b", "type": "function", "function": {"name": "crop", "arguments": "{\"x\":1}"}},
            ]},
            {"role": "tool", "tool_call_id": "a", "content": "zoomed"},
            {"role": "tool", "tool_call_id": "b", "content": "cropped"},
            {"role": "user", "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ]},
            {"role": "assistant", "content": "", "refusal": "No."},
        ])
    );
    assert_eq!(chat["max_completion_tokens"], 300);
    assert!(chat.get("max_tokens").is_none());
    assert_eq!(
        (&chat["temperature"], &chat["top_p"], &chat["user"]),
        (&json!(0.2), &json!(0.9), &json!("u-1"))
    );
    for dropped in ["metadata", "truncation", "tools", "tool_choice", "stream"] {
        assert!(chat.get(dropped).is_none(), "{dropped} must not be sent");
    }
}

#[test]
fn text_formats_and_tool_choices() {
    let tools = json!([
        {"type": "function", "name": "a", "parameters": {"type": "object"}, "strict": null},
        {"type": "function", "name": "b", "description": null, "parameters": null, "strict": true},
    ]);
    let schema = json!({"type": "object", "properties": {"x": {"type": "number"}}});
    let chat = to_chat(&json!({"model": "m", "input": "x", "tools": tools,
        "tool_choice": {"type": "function", "name": "b"},
        "text": {"format": {"type": "json_schema", "name": "point", "schema": schema, "strict": true}}}))
    .expect("translates");
    assert_eq!(
        chat["tools"],
        json!([
            {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
            {"type": "function", "function": {"name": "b", "strict": true}},
        ])
    );
    assert_eq!(
        chat["tool_choice"],
        json!({"type": "function", "function": {"name": "b"}})
    );
    assert_eq!(
        chat["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "point", "schema": schema, "strict": true}})
    );

    let chat = to_chat(&json!({"model": "m", "input": "x", "tools": tools,
        "tool_choice": {"type": "allowed_tools", "mode": "required",
            "tools": [{"type": "function", "name": "a"}]},
        "text": {"format": {"type": "json_object"}}}))
    .expect("translates");
    assert_eq!(chat["tools"].as_array().map(Vec::len), Some(1));
    assert_eq!(chat["tools"][0]["function"]["name"], "a");
    assert_eq!(chat["tool_choice"], "required");
    assert_eq!(chat["response_format"], json!({"type": "json_object"}));

    let chat = to_chat(&json!({"model": "m", "input": "x", "tool_choice": "none",
        "parallel_tool_calls": true, "text": {"format": {"type": "text"}}}))
    .expect("translates");
    for absent in ["tool_choice", "parallel_tool_calls", "response_format"] {
        assert!(chat.get(absent).is_none(), "{absent} without tools");
    }
}

#[test]
fn state_kept_by_the_provider_is_refused() {
    let native = "only supported by providers that speak the Responses API natively; send the \
                  whole conversation in `input` and `store: false`";
    for (field, value) in [
        ("previous_response_id", json!("resp_123")),
        ("conversation", json!("conv_123")),
        ("background", json!(true)),
        ("store", json!(true)),
        ("prompt", json!({"id": "pmpt_123"})),
    ] {
        let mut request = json!({"model": "m", "input": "hi"});
        request[field] = value;
        let error = error_of(request);
        assert!(error.contains(&format!("`{field}")), "{error}");
        assert!(error.contains(native), "{error}");
    }
    let error =
        error_of(json!({"model": "m", "input": [{"type": "item_reference", "id": "msg_1"}]}));
    assert!(
        error.starts_with("input[0]:")
            && error.contains("item_reference")
            && error.contains(native),
        "{error}"
    );
    // Storing nothing is what a translation does anyway.
    assert!(
        to_chat(&json!({"model": "m", "input": "hi", "store": false, "background": false})).is_ok()
    );
}

#[test]
fn what_chat_cannot_carry_is_refused_by_name() {
    let error = error_of(json!({"model": "m", "input": "hi", "tools": [
        {"type": "function", "name": "f", "parameters": {}}, {"type": "web_search_preview"}]}));
    assert!(
        error.contains("tools[1]") && error.contains("'web_search_preview'"),
        "{error}"
    );
    for tool in [
        "file_search",
        "computer_use_preview",
        "code_interpreter",
        "image_generation",
        "mcp",
        "local_shell",
        "custom",
    ] {
        let error = error_of(json!({"model": "m", "input": "hi", "tools": [{"type": tool}]}));
        assert!(error.contains(&format!("'{tool}'")), "{error}");
    }
    let error = error_of(json!({"model": "m", "input": [
        {"role": "user", "content": "hi"}, {"type": "computer_call_output", "call_id": "c"}]}));
    assert!(
        error.contains("input[1]") && error.contains("'computer_call_output'"),
        "{error}"
    );
    let error = error_of(json!({"model": "m", "input": [{"role": "user", "content": [
        {"type": "input_image", "file_id": "file-123"}]}]}));
    assert!(
        error.contains("input[0].content[0]") && error.contains("file_id"),
        "{error}"
    );
    let error = error_of(
        json!({"model": "m", "input": "hi", "tool_choice": {"type": "web_search_preview"}}),
    );
    assert!(error.contains("web_search_preview"), "{error}");
    let error = error_of(json!({"model": "m", "input": [{"role": "tool", "content": "x"}]}));
    assert!(error.contains("input[0].role 'tool'"), "{error}");
    let error = error_of(json!({"model": "m", "input": [{"content": "x"}]}));
    assert!(
        error.contains("input[0] needs a `type` or a `role`"),
        "{error}"
    );
    let error = error_of(json!({"model": "m", "input": [{"type": "function_call", "name": "f"}]}));
    assert!(error.contains("input[0].call_id"), "{error}");
    assert!(error_of(json!({"model": "m"})).contains("`input` is required"));
    assert!(error_of(json!({"model": "m", "input": 3})).contains("`input` must be"));
    assert!(error_of(json!([1])).contains("JSON object"));
    let error =
        error_of(json!({"model": "m", "input": "x", "text": {"format": {"type": "json_schema"}}}));
    assert!(error.contains("text.format.name"), "{error}");
}
