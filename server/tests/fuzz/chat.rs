//! OpenAI chat requests shaped the way clients (and the gateway's own inbound translations)
//! write them, now and then broken in one place: the common form every provider translation
//! reads, so random values reach past its first checks.

use proptest::prelude::*;
use serde_json::Value;

use crate::{
    Json, URLS, count, either, json_text, json_value, list, obj, obj_with, schema, text, words,
};

fn call() -> Json {
    obj_with(
        vec![
            ("id", words(&["call_1", "call_2", "tooluse_x"])),
            (
                "function",
                obj_with(
                    vec![("name", words(&["get_weather", "shell"]))],
                    vec![("arguments", json_text())],
                ),
            ),
        ],
        vec![("type", words(&["function"]))],
    )
}

fn part() -> Json {
    prop_oneof![
        3 => obj_with(vec![("type", words(&["text"])), ("text", text())], vec![]),
        1 => obj_with(
            vec![
                ("type", words(&["image_url"])),
                (
                    "image_url",
                    obj_with(vec![("url", words(URLS))], vec![("detail", words(&["low", "auto"]))]),
                ),
            ],
            vec![],
        ),
        1 => obj(vec![("type", words(crate::PART_TYPES)), ("text", text()), ("refusal", text())]),
    ]
    .boxed()
}

fn content() -> Json {
    prop_oneof![
        3 => text(),
        2 => list(part()),
        1 => Just(Value::Null),
    ]
    .boxed()
}

fn message() -> Json {
    prop_oneof![
        2 => obj_with(vec![("role", words(&["system", "developer"])), ("content", content())], vec![]),
        4 => obj_with(vec![("role", words(&["user"])), ("content", content())], vec![]),
        3 => obj_with(
            vec![("role", words(&["assistant"]))],
            vec![
                ("content", content()),
                ("tool_calls", list(call())),
                ("reasoning_content", text()),
            ],
        ),
        2 => obj_with(
            vec![
                ("role", words(&["tool"])),
                ("tool_call_id", words(&["call_1", "call_2"])),
                ("content", content()),
            ],
            vec![],
        ),
        1 => crate::message(),
    ]
    .boxed()
}

fn tool() -> Json {
    obj_with(
        vec![
            ("type", words(&["function"])),
            (
                "function",
                obj_with(
                    vec![("name", words(&["get_weather", "shell", "read"]))],
                    vec![
                        ("description", text()),
                        ("parameters", schema()),
                        ("strict", any::<bool>().prop_map(Value::Bool).boxed()),
                    ],
                ),
            ),
        ],
        vec![],
    )
}

/// A sampling setting: a plausible number, or anything.
fn number() -> Json {
    prop_oneof![
        6 => (0.0f64..2.0).prop_map(Value::from),
        1 => count(),
        1 => json_value(),
    ]
    .boxed()
}

/// A completion budget: a plausible count, or anything.
fn budget() -> Json {
    prop_oneof![
        6 => (1u64..10_000).prop_map(Value::from),
        1 => count(),
    ]
    .boxed()
}

/// An OpenAI chat completions request.
pub fn chat_request() -> Json {
    let choice = either(
        words(&["auto", "none", "required"]),
        obj(vec![
            ("type", words(&["function"])),
            (
                "function",
                obj(vec![("name", words(&["get_weather", "shell", "other"]))]),
            ),
        ]),
    );
    let format = obj_with(
        vec![("type", words(&["text", "json_object", "json_schema"]))],
        vec![(
            "json_schema",
            obj(vec![
                ("name", text()),
                ("schema", schema()),
                ("strict", json_value().boxed()),
            ]),
        )],
    );
    obj_with(
        vec![("messages", list(message()))],
        vec![
            ("model", text()),
            ("tools", list(tool())),
            ("tool_choice", choice),
            (
                "parallel_tool_calls",
                any::<bool>().prop_map(Value::Bool).boxed(),
            ),
            ("max_tokens", budget()),
            ("max_completion_tokens", budget()),
            ("temperature", number()),
            ("top_p", number()),
            ("top_k", budget()),
            ("seed", budget()),
            ("stop", either(text(), list(text()))),
            ("response_format", format),
            (
                "reasoning_effort",
                words(&["none", "minimal", "low", "medium", "high", "xhigh"]),
            ),
            ("stream", any::<bool>().prop_map(Value::Bool).boxed()),
            (
                "n",
                prop_oneof![4 => Just(Value::from(1)), 1 => count()].boxed(),
            ),
        ],
    )
}
