//! The Gemini API served to Gemini clients: google-genai's requests (camelCase and snake_case
//! keys, Gemini's OpenAPI-style schemas) into chat, chat completions back into
//! GenerateContentResponses, and the peek that reads a Gemini request's body. The stream encoder
//! and pass-through are fuzzed in `fuzz/streams.rs`.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use switchyard::protocols::gemini::inbound;
use switchyard::proxy::ProxyError;
use switchyard::proxy::request::peek_gemini;

use crate::{
    Json, config, count, either, json_value, leaf, list, obj, obj_with, string, text, words,
};

/// `value` under one of `names` (a field's camelCase and snake_case spellings).
fn keyed(names: &'static [&'static str], value: Json) -> Json {
    (proptest::sample::select(names), value)
        .prop_map(|(name, value)| json!({ name: value }))
        .boxed()
}

fn flag() -> Json {
    prop_oneof![
        6 => any::<bool>().prop_map(Value::Bool),
        1 => json_value(),
    ]
    .boxed()
}

/// A function's arguments or result: an object (usually) or anything.
fn object_value() -> Json {
    prop_oneof![
        4 => proptest::collection::vec((string(), leaf()), 0..3)
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        1 => json_value(),
    ]
    .boxed()
}

#[rustfmt::skip]
const URIS: &[&str] = &[
    "https://example.com/a.png", "https://example.com/a.JPEG?x=1#y", "http://example.com/b",
    "gs://bucket/c.png", "https://generativelanguage.googleapis.com/v1beta/files/abc", "",
];

/// One part of a turn: text, a thought, inline data, a file, a function call or response, or a
/// part of Google's own tools.
fn part() -> Json {
    let blob = obj(vec![
        (
            "mimeType",
            words(&["image/png", "image/jpeg", "audio/wav", ""]),
        ),
        ("mime_type", words(&["image/webp"])),
        ("data", text()),
    ]);
    let file = obj(vec![
        ("mimeType", words(&["image/png", "application/pdf"])),
        ("fileUri", words(URIS)),
        ("file_uri", words(URIS)),
    ]);
    let call = obj(vec![
        ("name", words(&["get_weather", "shell"])),
        ("args", object_value()),
        ("id", words(&["", "call_0", "c1"])),
    ]);
    let response = obj(vec![
        ("name", words(&["get_weather", "shell"])),
        (
            "response",
            either(object_value(), obj(vec![("content", text())])),
        ),
        ("id", words(&["", "call_0", "c1"])),
        ("parts", list(obj(vec![("text", text())]))),
    ]);
    prop_oneof![
        4 => obj(vec![("text", text()), ("thought", flag()), ("thoughtSignature", text())]),
        1 => keyed(&["inlineData", "inline_data"], blob),
        1 => keyed(&["fileData", "file_data"], file),
        2 => keyed(&["functionCall", "function_call"], call),
        2 => keyed(&["functionResponse", "function_response"], response),
        1 => keyed(&["executableCode", "video_metadata", "thought_signature"], json_value().boxed()),
    ]
    .boxed()
}

/// A turn: the user's (text, media, function responses), the model's (text, thoughts, function
/// calls), or any role with any parts.
fn turn() -> Json {
    let text_part = obj(vec![
        ("text", text()),
        ("thought", flag()),
        ("thoughtSignature", text()),
    ]);
    prop_oneof![
        3 => obj_with(
            vec![("parts", list(prop_oneof![2 => text_part.clone(), 1 => part()].boxed()))],
            vec![("role", words(&["user"]))],
        ),
        3 => obj_with(
            vec![
                ("role", words(&["model"])),
                ("parts", list(prop_oneof![text_part, part()].boxed())),
            ],
            vec![],
        ),
        1 => obj(vec![
            ("role", words(&["user", "model", "function", "system"])),
            ("parts", list(part())),
        ]),
    ]
    .boxed()
}

/// Gemini's OpenAPI-style `Schema`, with google-genai's snake_case spellings.
fn gemini_schema() -> Json {
    let leaf_schema = obj(vec![
        (
            "type",
            words(&[
                "STRING",
                "INTEGER",
                "NUMBER",
                "BOOLEAN",
                "string",
                "TYPE_UNSPECIFIED",
                "NULL",
            ]),
        ),
        ("nullable", flag()),
        ("format", words(&["enum", "date-time", "int32"])),
        ("enum", list(text())),
        ("description", text()),
        ("ref", words(&["#/defs/Point", "#/$defs/x", "other"])),
    ]);
    leaf_schema
        .prop_recursive(3, 16, 3, |inner| {
            let named = proptest::collection::vec((string(), inner.clone()), 0..3)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>()))
                .boxed();
            obj(vec![
                ("type", words(&["OBJECT", "ARRAY", "object"])),
                ("properties", named.clone()),
                ("items", inner.clone()),
                ("any_of", list(inner.clone())),
                ("anyOf", list(inner.clone())),
                ("defs", named),
                ("property_ordering", list(text())),
                ("required", list(text())),
                ("additional_properties", inner),
                ("nullable", flag()),
            ])
        })
        .boxed()
}

fn declaration() -> Json {
    obj(vec![
        ("name", words(&["get_weather", "shell"])),
        ("description", text()),
        ("parameters", gemini_schema()),
        ("parametersJsonSchema", crate::schema()),
    ])
}

fn tools() -> Json {
    list(
        prop_oneof![
            4 => keyed(&["functionDeclarations", "function_declarations"], list(declaration())),
            1 => keyed(&["googleSearch", "code_execution"], json_value().boxed()),
        ]
        .boxed(),
    )
}

fn generation_config() -> Json {
    let thinking = obj(vec![
        ("thinkingBudget", count()),
        ("thinking_budget", count()),
        (
            "thinkingLevel",
            words(&["LOW", "medium", "HIGH", "MINIMAL", "MAX"]),
        ),
        ("includeThoughts", flag()),
    ]);
    obj(vec![
        ("temperature", count()),
        ("topP", count()),
        ("topK", count()),
        ("maxOutputTokens", count()),
        ("max_output_tokens", count()),
        ("candidateCount", count()),
        ("stopSequences", list(text())),
        ("seed", count()),
        (
            "responseMimeType",
            words(&["application/json", "text/plain", "text/x.enum"]),
        ),
        ("responseSchema", gemini_schema()),
        ("responseJsonSchema", crate::schema()),
        ("thinkingConfig", thinking),
        (
            "responseModalities",
            list(words(&["TEXT", "IMAGE", "text"])),
        ),
        ("responseLogprobs", flag()),
    ])
}

/// A GenerateContentRequest, as google-genai or the REST API sends it.
fn gemini_request() -> Json {
    let system = either(
        text(),
        obj(vec![(
            "parts",
            list(obj_with(vec![("text", text())], vec![])),
        )]),
    );
    let tool_config = obj(vec![(
        "functionCallingConfig",
        obj(vec![
            (
                "mode",
                words(&["AUTO", "ANY", "NONE", "VALIDATED", "any", "x"]),
            ),
            (
                "allowedFunctionNames",
                list(words(&["get_weather", "shell", "other"])),
            ),
        ]),
    )]);
    let safety = obj_with(
        vec![(
            "threshold",
            prop_oneof![
                8 => words(&["BLOCK_NONE", "OFF"]),
                1 => words(&["BLOCK_LOW_AND_ABOVE", ""]),
            ]
            .boxed(),
        )],
        vec![("category", words(&["HARM_CATEGORY_HARASSMENT"]))],
    );
    obj_with(
        vec![(
            "contents",
            prop_oneof![
                6 => proptest::collection::vec(turn(), 1..4).prop_map(Value::Array),
                1 => list(turn()),
            ]
            .boxed(),
        )],
        vec![
            ("systemInstruction", system.clone()),
            ("system_instruction", system),
            ("tools", tools()),
            ("toolConfig", tool_config),
            ("generationConfig", generation_config()),
            ("safetySettings", list(safety)),
        ],
    )
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn gemini_requests_translate_or_fail_cleanly(
        request in gemini_request(),
        model in string(),
        stream in any::<bool>(),
    ) {
        prop_assert!(inbound::estimate_tokens(&request) >= 1);
        let Ok(chat) = inbound::to_chat(&request, &model, stream) else {
            return Ok(());
        };
        prop_assert_eq!(chat["model"].as_str(), Some(model.as_str()));
        prop_assert_eq!(&chat["stream"], stream);
        if stream {
            prop_assert_eq!(&chat["stream_options"]["include_usage"], true);
        }
        let messages = chat["messages"].as_array();
        prop_assert!(messages.is_some(), "no messages: {}", chat);
        // A call's arguments are its `args` object as JSON text, and it always has an id.
        for call in messages.into_iter().flatten().flat_map(|m| m["tool_calls"].as_array()).flatten() {
            prop_assert!(call["id"].as_str().is_some_and(|id| !id.is_empty()), "{}", call);
            let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
            let parsed = serde_json::from_str::<Value>(arguments);
            prop_assert!(parsed.is_ok_and(|args| args.is_object()), "{}", call);
        }
        crate::protocols_translate(&chat, &model, 1024);
    }

    #[test]
    fn chat_completions_become_generate_content_responses(
        completion in prop_oneof![4 => crate::response(), 1 => json_value()],
        model in string(),
    ) {
        let answer = inbound::from_chat(&completion, &model);
        prop_assert_eq!(answer["modelVersion"].as_str(), Some(model.as_str()));
        let candidates = answer["candidates"].as_array();
        prop_assert!(candidates.is_some(), "{}", answer);
        for candidate in candidates.into_iter().flatten() {
            // google-genai drops a turn whose candidate has no parts from its chat history.
            let parts = candidate["content"]["parts"].as_array();
            prop_assert!(parts.is_some_and(|p| !p.is_empty()), "{}", candidate);
            let finish = candidate["finishReason"].as_str().unwrap_or_default();
            prop_assert!(["STOP", "MAX_TOKENS", "SAFETY"].contains(&finish), "{}", finish);
            for part in parts.into_iter().flatten() {
                if let Some(call) = part.get("functionCall") {
                    prop_assert!(call["args"].is_object(), "{}", call);
                }
            }
        }
    }

    #[test]
    fn the_gemini_peek_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..128),
        model in string(),
        stream in any::<bool>(),
    ) {
        let _ = peek_gemini(&bytes, model, stream);
    }

    #[test]
    fn the_gemini_peek_reads_the_budget_and_takes_the_model_from_the_path(
        body in json_value().prop_map(|v| json!({"contents": v})),
        budget in proptest::option::of(prop_oneof![any::<u64>().prop_map(Value::from), json_value()]),
        snake in any::<bool>(),
        model in string(),
        stream in any::<bool>(),
    ) {
        let mut body = body;
        let object = body.as_object_mut().expect("an object");
        if let Some(budget) = &budget {
            let (config, max) = if snake {
                ("generation_config", "max_output_tokens")
            } else {
                ("generationConfig", "maxOutputTokens")
            };
            object.insert(config.into(), json!({ max: budget }));
        }
        let bytes = serde_json::to_vec(&body).expect("serialises");
        match peek_gemini(&bytes, model.clone(), stream) {
            Ok(peeked) => {
                prop_assert_eq!(peeked.model.as_ref(), model.as_str());
                prop_assert_eq!(peeked.stream, stream);
                prop_assert_eq!(peeked.max_tokens, budget.as_ref().and_then(Value::as_u64));
            }
            Err(ProxyError::MissingModel) => prop_assert!(model.is_empty()),
            Err(ProxyError::InvalidModel(_)) => prop_assert!(model == "." || model == ".."),
            Err(other) => prop_assert!(false, "a JSON object is refused: {}", other),
        }
    }
}
