//! Tests of chat completions translated into Responses API `response` objects, and of usage.

use serde_json::{Value, json};

use super::*;

#[test]
fn a_text_completion_becomes_a_response() {
    let completion = json!({
        "id": "chatcmpl-abc", "object": "chat.completion", "created": 1741290958, "model": "deepseek-chat",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!", "refusal": null},
            "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12,
            "prompt_tokens_details": {"cached_tokens": 4}},
    });
    let response = from_chat(&completion, "fast");
    assert_eq!(response["id"], "resp_chatcmpl-abc");
    assert_eq!(response["object"], "response");
    assert_eq!(response["created_at"], 1741290958);
    assert_eq!(response["status"], "completed");
    assert_eq!(response["model"], "fast");
    assert_eq!(response["error"], Value::Null);
    assert_eq!(response["incomplete_details"], Value::Null);
    // What openai-python's `Response` requires, with the API's defaults.
    assert_eq!(response["parallel_tool_calls"], true);
    assert_eq!(response["tool_choice"], "auto");
    assert_eq!(response["tools"], json!([]));
    assert_eq!(response["output"].as_array().map(Vec::len), Some(1));
    let message = &response["output"][0];
    assert!(
        message["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("msg_"))
    );
    assert_eq!(
        (&message["type"], &message["role"], &message["status"]),
        (&json!("message"), &json!("assistant"), &json!("completed"))
    );
    assert_eq!(
        message["content"],
        json!([{"type": "output_text", "text": "Hello!", "annotations": [], "logprobs": []}])
    );
    assert_eq!(
        response["usage"],
        json!({"input_tokens": 9, "input_tokens_details": {"cached_tokens": 4, "cache_write_tokens": 0},
            "output_tokens": 3, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 12})
    );
    assert_eq!(
        usage(&response["usage"]),
        Usage::from_openai(&completion["usage"])
    );
}

#[test]
fn tool_calls_and_reasoning_become_output_items_in_order() {
    let completion = json!({
        "id": "resp_kept", "created": 1,
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant",
            "reasoning_content": "The user wants weather.", "content": "Checking.",
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Oslo\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "time", "arguments": "{}"}},
            ]}}],
        "usage": {"prompt_tokens": 20, "completion_tokens": 30, "completion_tokens_details": {"reasoning_tokens": 12}},
    });
    let echo = RequestEcho::new(&json!({"tools": [{"type": "function", "name": "weather"}],
        "tool_choice": "required", "parallel_tool_calls": false, "instructions": "Be brief.", "temperature": 0.5}));
    let response = from_chat_with(&completion, "m", &echo);
    assert_eq!(response["id"], "resp_kept");
    assert_eq!(response["status"], "completed");
    let output = response["output"].as_array().expect("output");
    let types: Vec<&str> = output.iter().filter_map(|i| i["type"].as_str()).collect();
    assert_eq!(
        types,
        ["reasoning", "message", "function_call", "function_call"]
    );
    assert_eq!(
        output[0]["summary"],
        json!([{"type": "summary_text", "text": "The user wants weather."}])
    );
    assert!(
        output[0]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("rs_"))
    );
    assert_eq!(output[2]["call_id"], "call_1");
    assert_eq!(output[2]["name"], "weather");
    assert_eq!(output[2]["arguments"], "{\"city\":\"Oslo\"}");
    assert_eq!(output[2]["status"], "completed");
    assert!(
        output[2]["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("fc_"))
    );
    assert_eq!(output[3]["call_id"], "call_2");
    assert_eq!(
        response["usage"]["output_tokens_details"]["reasoning_tokens"],
        12
    );
    assert_eq!(response["usage"]["total_tokens"], 50);
    assert_eq!(
        response["tools"],
        json!([{"type": "function", "name": "weather"}])
    );
    assert_eq!(response["tool_choice"], "required");
    assert_eq!(response["parallel_tool_calls"], false);
    assert_eq!(response["instructions"], "Be brief.");
    assert_eq!(response["temperature"], 0.5);
    assert_eq!(response["store"], false);
}

#[test]
fn length_and_content_filter_end_incomplete() {
    for (finish, reason) in [
        ("length", "max_output_tokens"),
        ("content_filter", "content_filter"),
    ] {
        let completion = json!({"id": "x", "choices": [{"index": 0, "finish_reason": finish,
            "message": {"role": "assistant", "content": "Once upon a"}}]});
        let response = from_chat(&completion, "m");
        assert_eq!(response["status"], "incomplete");
        assert_eq!(response["incomplete_details"], json!({"reason": reason}));
        assert_eq!(response["output"][0]["status"], "incomplete");
        assert_eq!(response["usage"], Value::Null);
    }
    let refused = json!({"choices": [{"index": 0, "finish_reason": "stop",
        "message": {"role": "assistant", "content": null, "refusal": "I can't help with that."}}]});
    let response = from_chat(&refused, "m");
    assert!(
        response["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("resp_") && id.len() > 10)
    );
    assert_eq!(
        response["output"][0]["content"],
        json!([{"type": "refusal", "refusal": "I can't help with that."}])
    );
}

#[test]
fn reads_responses_usage() {
    let read = usage(&json!({"input_tokens": 100, "input_tokens_details": {"cached_tokens": 60},
        "output_tokens": 40, "output_tokens_details": {"reasoning_tokens": 25}, "total_tokens": 140}))
    .expect("an object");
    assert_eq!(
        read,
        Usage {
            prompt_tokens: 100,
            completion_tokens: 40,
            cached_prompt_tokens: 60,
            reasoning_tokens: 25,
            cache_write_tokens: 0,
        }
    );
    assert_eq!(usage(&usage_json(read)), Some(read));
    assert_eq!(usage(&Value::Null), None);
}
