//! OpenAI's Responses API served through chat completions: requests (Codex's and the SDKs'
//! input items, tools, text formats) into chat, and chat completions back into `response`
//! objects. The stream encoder and pass-through are fuzzed in `fuzz/streams.rs`.

use proptest::prelude::*;
use serde_json::Value;
use switchyard::protocols::responses::{self, RequestEcho};

use crate::{
    Json, URLS, config, count, either, json_text, json_value, list, obj, obj_with, schema, string,
    text, words,
};

/// `false` (usually), `true`, or anything: for flags whose `true` the translation refuses.
fn rarely_true() -> Json {
    prop_oneof![
        8 => Just(Value::Bool(false)),
        1 => Just(Value::Bool(true)),
        1 => json_value(),
    ]
    .boxed()
}

fn flag() -> Json {
    prop_oneof![
        6 => any::<bool>().prop_map(Value::Bool),
        1 => json_value(),
    ]
    .boxed()
}

#[rustfmt::skip]
const PART_TYPES: &[&str] = &[
    "input_text", "output_text", "text", "input_image", "input_file", "refusal", "input_audio",
];

fn content_part() -> Json {
    obj(vec![
        ("type", words(PART_TYPES)),
        ("text", text()),
        ("image_url", words(URLS)),
        ("detail", words(&["auto", "low", "high", "original"])),
        ("file_id", text()),
        ("file_data", text()),
        ("filename", text()),
        ("refusal", text()),
    ])
}

fn content() -> Json {
    either(text(), list(content_part()))
}

#[rustfmt::skip]
const ITEM_TYPES: &[&str] = &[
    "message", "function_call", "function_call_output", "reasoning", "item_reference",
    "web_search_call",
];

/// An input item: a message, a function call or its output, a reasoning item, or any mix.
fn input_item() -> Json {
    let role = words(&["user", "assistant", "system", "developer", "user", "tool"]);
    let call_id = words(&["call_1", "call_2"]);
    prop_oneof![
        4 => obj_with(
            vec![("role", role.clone()), ("content", content())],
            vec![("type", words(&["message"]))],
        ),
        2 => obj_with(
            vec![
                ("type", words(&["function_call"])),
                ("call_id", call_id.clone()),
                ("name", words(&["shell", "read"])),
            ],
            vec![("arguments", json_text())],
        ),
        2 => obj_with(
            vec![
                ("type", words(&["function_call_output"])),
                ("call_id", call_id.clone()),
                ("output", content()),
            ],
            vec![],
        ),
        1 => obj_with(
            vec![("type", words(&["reasoning"]))],
            vec![(
                "summary",
                list(obj(vec![("type", words(&["summary_text"])), ("text", text())])),
            )],
        ),
        1 => obj(vec![
            ("type", words(ITEM_TYPES)),
            ("role", role),
            ("content", content()),
            ("call_id", call_id),
            ("arguments", json_text()),
            ("output", content()),
        ]),
    ]
    .boxed()
}

fn tool() -> Json {
    obj_with(
        vec![
            (
                "type",
                words(&["function", "function", "function", "web_search", "custom"]),
            ),
            ("name", words(&["shell", "read"])),
        ],
        vec![
            ("description", text()),
            ("parameters", schema()),
            ("strict", flag()),
        ],
    )
}

fn tool_choice() -> Json {
    let named = obj(vec![("type", words(&["function"])), ("name", text())]);
    let allowed = obj(vec![
        (
            "type",
            words(&["allowed_tools", "function", "web_search_preview"]),
        ),
        ("mode", words(&["auto", "required", "none"])),
        ("tools", list(named.clone())),
        ("name", words(&["shell", "read"])),
    ]);
    prop_oneof![words(&["auto", "none", "required", "any"]), allowed,].boxed()
}

fn text_config() -> Json {
    obj(vec![
        (
            "format",
            obj(vec![
                (
                    "type",
                    words(&["text", "json_object", "json_schema", "grammar"]),
                ),
                ("name", text()),
                ("schema", schema()),
                ("strict", flag()),
                ("description", text()),
            ]),
        ),
        ("verbosity", words(&["low", "medium", "high"])),
    ])
}

/// A Responses API request.
fn responses_request() -> Json {
    obj_with(
        vec![("input", either(text(), list(input_item())))],
        vec![
            ("model", text()),
            ("instructions", words(&["You are a coding agent.", ""])),
            ("tools", list(tool())),
            ("tool_choice", tool_choice()),
            ("parallel_tool_calls", flag()),
            ("max_output_tokens", count()),
            ("temperature", count()),
            ("top_p", count()),
            ("user", text()),
            (
                "reasoning",
                obj(vec![
                    ("effort", words(&["minimal", "low", "medium", "high"])),
                    ("summary", words(&["auto", "detailed"])),
                ]),
            ),
            ("text", text_config()),
            ("stream", flag()),
            ("store", rarely_true()),
            ("background", rarely_true()),
            ("include", list(text())),
        ],
    )
}

/// A chat completion as an OpenAI-compatible provider answers.
fn chat_completion() -> Json {
    let call = obj(vec![
        ("id", words(&["call_1", "", "resp_1"])),
        ("type", words(&["function"])),
        (
            "function",
            obj(vec![("name", text()), ("arguments", json_text())]),
        ),
    ]);
    let citation = obj(vec![(
        "url_citation",
        obj(vec![
            ("start_index", count()),
            ("end_index", count()),
            ("title", text()),
            ("url", text()),
        ]),
    )]);
    let message = obj(vec![
        ("role", words(&["assistant"])),
        ("content", text()),
        ("reasoning_content", text()),
        ("reasoning", text()),
        ("refusal", text()),
        ("tool_calls", list(call)),
        ("annotations", list(citation)),
    ]);
    obj(vec![
        ("id", words(&["chatcmpl-1", "", "resp_x"])),
        ("created", count()),
        (
            "choices",
            list(obj(vec![
                ("message", message),
                ("finish_reason", words(crate::REASONS)),
            ])),
        ),
        ("usage", crate::usage()),
    ])
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn responses_requests_translate_or_fail_cleanly(request in responses_request(), model in string()) {
        let Ok(chat) = responses::to_chat(&request) else {
            return Ok(());
        };
        let messages = chat["messages"].as_array();
        prop_assert!(messages.is_some(), "no messages: {}", chat);
        for message in messages.into_iter().flatten() {
            let role = message["role"].as_str().unwrap_or_default();
            prop_assert!(
                ["system", "developer", "user", "assistant", "tool"].contains(&role),
                "{}", message
            );
        }
        if request["stream"] == true {
            prop_assert_eq!(&chat["stream_options"]["include_usage"], true);
        }
        // What the translation makes goes on to every provider.
        crate::protocols_translate(&chat, &model, 1024);
    }

    #[test]
    fn chat_completions_become_response_objects(
        completion in prop_oneof![4 => chat_completion(), 1 => crate::response()],
        request in prop_oneof![responses_request(), json_value()],
        model in string(),
    ) {
        let response = responses::from_chat_with(&completion, &model, &RequestEcho::new(&request));
        prop_assert_eq!(&response["object"], "response");
        let status = response["status"].as_str().unwrap_or_default();
        prop_assert!(["completed", "incomplete"].contains(&status), "{}", status);
        let output = response["output"].as_array();
        prop_assert!(output.is_some(), "{}", response);
        for item in output.into_iter().flatten() {
            let kind = item["type"].as_str().unwrap_or_default();
            prop_assert!(["reasoning", "message", "function_call"].contains(&kind), "{}", item);
            prop_assert!(item["id"].as_str().is_some_and(|id| !id.is_empty()), "{}", item);
        }
        if let Some(usage) = response["usage"].as_object() {
            let count = |key: &str| usage.get(key).and_then(Value::as_u64).unwrap_or(0);
            prop_assert_eq!(
                count("total_tokens"),
                count("input_tokens").saturating_add(count("output_tokens"))
            );
        }
    }
}
