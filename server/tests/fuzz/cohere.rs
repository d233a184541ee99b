//! Cohere's v2 chat API: chat requests into Cohere's, with the rules Cohere enforces checked on
//! what is sent, and Cohere's answers back. The stream decoder is fuzzed in `fuzz/streams.rs`.

use proptest::prelude::*;
use serde_json::Value;
use switchyard::protocols::cohere;

use crate::chat::chat_request;
use crate::{Json, config, count, json_object, json_value, list, obj, string, text, words};

/// A Cohere v2 chat answer.
fn cohere_answer() -> Json {
    let call = obj(vec![
        ("id", text()),
        ("type", words(&["function"])),
        (
            "function",
            obj(vec![("name", text()), ("arguments", crate::json_text())]),
        ),
    ]);
    let content = obj(vec![
        ("type", words(&["text", "thinking", "image"])),
        ("text", text()),
        ("thinking", text()),
    ]);
    let usage = obj(vec![
        (
            "billed_units",
            obj(vec![("input_tokens", count()), ("output_tokens", count())]),
        ),
        (
            "tokens",
            obj(vec![("input_tokens", count()), ("output_tokens", count())]),
        ),
        ("cached_tokens", count()),
    ]);
    obj(vec![
        ("id", text()),
        (
            "finish_reason",
            words(&["COMPLETE", "TOOL_CALL", "MAX_TOKENS", "ERROR", "TIMEOUT"]),
        ),
        (
            "message",
            obj(vec![
                ("role", words(&["assistant"])),
                ("content", list(content)),
                ("tool_plan", text()),
                ("tool_calls", list(call)),
            ]),
        ),
        ("usage", usage),
    ])
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn chat_requests_become_what_cohere_accepts(
        request in prop_oneof![6 => chat_request(), 1 => crate::request(), 1 => json_value()],
        model in string(),
    ) {
        let Ok(sent) = cohere::request(&request, &model) else {
            return Ok(());
        };
        prop_assert_eq!(sent["model"].as_str(), Some(model.as_str()));
        let messages = sent["messages"].as_array();
        prop_assert!(messages.is_some(), "{}", sent);
        for message in messages.into_iter().flatten() {
            let role = message["role"].as_str().unwrap_or_default();
            prop_assert!(["system", "user", "assistant", "tool"].contains(&role), "{}", message);
            // Cohere refuses text content next to tool calls: that text is the tool plan.
            if role == "assistant" {
                prop_assert!(
                    message.get("content").is_none() || message.get("tool_calls").is_none(),
                    "{}", message
                );
            }
        }
        // Cohere's tool choice has two values, and only goes with tools.
        if let Some(choice) = sent.get("tool_choice") {
            prop_assert!(choice == "REQUIRED" || choice == "NONE", "{}", choice);
            prop_assert!(sent["tools"].as_array().is_some_and(|tools| !tools.is_empty()));
        }
        crate::serialises(&sent);
    }

    #[test]
    fn cohere_answers_become_chat_completions(
        answer in prop_oneof![3 => cohere_answer(), 1 => json_object()],
        model in string(),
    ) {
        let (completion, usage) = cohere::response(&answer, &model);
        let message = &completion["choices"][0]["message"];
        prop_assert_eq!(&message["role"], "assistant");
        // Content is null only when tool calls carry the answer.
        if message["content"].is_null() {
            prop_assert!(message["tool_calls"].as_array().is_some_and(|c| !c.is_empty()));
        }
        prop_assert_eq!(
            completion["usage"]["prompt_tokens"].as_u64(),
            Some(usage.prompt_tokens)
        );
        let failure = cohere::answer_failure(&answer);
        let reason = answer.get("finish_reason").and_then(Value::as_str);
        prop_assert_eq!(failure.is_some(), matches!(reason, Some("ERROR" | "TIMEOUT")));
    }
}
