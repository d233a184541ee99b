//! Cohere v2 answers, usage, embeddings, errors and paths, with bodies as Cohere sends them.

use serde_json::{Value, json};

use super::tests::translate;
use super::*;
use crate::protocols::{Endpoint, Inbound, Operation, ProviderProtocol};

#[test]
fn answers_become_completions() {
    let answer = json!({
        "id": "c9117d7f-a7e4-499f-b643-a2a1e139687b",
        "message": {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "2 and 2 make 4."},
            {"type": "text", "text": "The answer is 4."},
        ]},
        "finish_reason": "COMPLETE",
        "usage": {
            "billed_units": {"input_tokens": 8, "output_tokens": 50},
            "tokens": {"input_tokens": 1394, "output_tokens": 54},
            "cached_tokens": 1360,
        },
    });
    let (completion, usage) = CohereProvider.chat_answer(&answer, "command-a-reasoning-08-2025");
    assert_eq!(completion["id"], "c9117d7f-a7e4-499f-b643-a2a1e139687b");
    assert_eq!(completion["object"], "chat.completion");
    assert_eq!(completion["model"], "command-a-reasoning-08-2025");
    let choice = &completion["choices"][0];
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["content"], "The answer is 4.");
    assert_eq!(choice["message"]["reasoning_content"], "2 and 2 make 4.");
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_prompt_tokens
        ),
        (1394, 54, 1360),
        "the model's counts, not the billed ones"
    );
    assert_eq!(completion["usage"]["total_tokens"], 1448);
}

#[test]
fn tool_calls_come_back_with_the_plan_as_content() {
    let answer = json!({
        "id": "f201af17-e24a-4396-8f6a-98e8bf9c3432",
        "message": {
            "role": "assistant",
            "tool_plan": "I will use the weather tool to find the weather in San Francisco.",
            "tool_calls": [
                {"id": "weather_dqgshstja6p9", "type": "function",
                 "function": {"name": "weather", "arguments": "{\"location\":\"San Francisco\"}"}},
                {"id": "now_x1", "type": "function", "function": {"name": "now", "arguments": null}},
            ],
        },
        "finish_reason": "TOOL_CALL",
        "usage": {"billed_units": {"input_tokens": 119, "output_tokens": 52}},
    });
    let (completion, usage) = CohereProvider.chat_answer(&answer, "command-a-03-2025");
    let message = &completion["choices"][0]["message"];
    assert_eq!(completion["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(
        message["content"],
        "I will use the weather tool to find the weather in San Francisco."
    );
    assert_eq!(
        message["tool_calls"][0],
        json!({"id": "weather_dqgshstja6p9", "type": "function",
            "function": {"name": "weather", "arguments": "{\"location\":\"San Francisco\"}"}})
    );
    assert_eq!(message["tool_calls"][1]["function"]["arguments"], "{}");
    assert_eq!(
        (usage.prompt_tokens, usage.completion_tokens),
        (119, 52),
        "billed units when there are no token counts"
    );

    // The completion's message goes back to Cohere as it came.
    let again = translate(json!({"messages": [{"role": "user", "content": "weather?"}, message]}))
        .expect("translates");
    assert_eq!(
        again["messages"][1]["tool_plan"],
        answer["message"]["tool_plan"]
    );
}

#[test]
fn finish_reasons_and_failed_answers() {
    for (cohere, openai) in [
        ("COMPLETE", "stop"),
        ("STOP_SEQUENCE", "stop"),
        ("MAX_TOKENS", "length"),
        ("TOOL_CALL", "tool_calls"),
    ] {
        assert_eq!(finish_reason(cohere), openai);
        assert!(answer_failure(&json!({"finish_reason": cohere})).is_none());
    }
    let timeout = answer_failure(&json!({"finish_reason": "TIMEOUT"})).expect("failed");
    assert_eq!(
        (timeout.status, timeout.code),
        (Some(504), Some(json!("timeout")))
    );
    let error = answer_failure(&json!({"finish_reason": "ERROR"})).expect("failed");
    assert_eq!(error.status, Some(500));
}

#[test]
fn usage_counts_may_be_floats_and_fall_back_field_by_field() {
    let usage = read_usage(&json!({
        "tokens": {"input_tokens": 12.0},
        "billed_units": {"input_tokens": 3, "output_tokens": 5},
        "cached_tokens": -1,
    }));
    assert_eq!(
        (
            usage.prompt_tokens,
            usage.completion_tokens,
            usage.cached_prompt_tokens
        ),
        (12, 5, 0)
    );
}

#[test]
fn embeddings_both_ways() {
    let request = CohereProvider
        .embeddings_request(
            &json!({"model": "embed", "input": ["first", "second"], "dimensions": 512, "encoding_format": "base64"}),
            "embed-v4.0",
        )
        .expect("translates");
    assert_eq!(
        request,
        json!({"model": "embed-v4.0", "texts": ["first", "second"], "input_type": "search_document",
            "embedding_types": ["float"], "output_dimension": 512})
    );
    let query = CohereProvider
        .embeddings_request(
            &json!({"input": "q", "input_type": "search_query"}),
            "embed-v4.0",
        )
        .expect("translates");
    assert_eq!(query["texts"], json!(["q"]));
    assert_eq!(query["input_type"], "search_query");
    for (input, complaint) in [
        (json!([[1, 2, 3]]), "text inputs only"),
        (json!([]), "must not be empty"),
        (json!(5), "string or an array"),
    ] {
        let error = CohereProvider
            .embeddings_request(&json!({"input": input}), "embed-v4.0")
            .expect_err("refused");
        assert!(error.contains(complaint), "{error}");
    }

    let answer = json!({
        "id": "da6e531f-54c6-4a73-bf92-f60566d8d753",
        "embeddings": {"float": [[0.016296387, -0.008354187], [0.01234, 0.5]]},
        "texts": ["first", "second"],
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 4}},
        "response_type": "embeddings_by_type",
    });
    let list = CohereProvider.embeddings_answer(&answer, "embed");
    assert_eq!(
        list,
        json!({"object": "list", "model": "embed",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.016296387, -0.008354187]},
                {"object": "embedding", "index": 1, "embedding": [0.01234, 0.5]},
            ],
            "usage": {"prompt_tokens": 4, "total_tokens": 4}})
    );
}

#[test]
fn errors_are_read_from_cohere_messages() {
    let cases: [(&str, Cause, Option<u16>, Option<&str>); 7] = [
        (
            r#"{"id":"8a1e0e4b","message":"too many tokens: total number of tokens in the prompt cannot exceed 128000 - received 131072. Try using a shorter prompt, or enabling prompt truncating."}"#,
            Cause::ContextLength,
            Some(400),
            Some("context_length_exceeded"),
        ),
        (
            r#"{"id":"24e32f6d-b372-4853-85f2-11e65134f032","message":"You are using a Trial key, which is limited to 1000 API calls / month. You can continue to use the Trial key for free or upgrade to a Production key with higher rate limits at 'https://dashboard.cohere.com/api-keys'."}"#,
            Cause::Quota,
            Some(429),
            Some("insufficient_quota"),
        ),
        (
            r#"{"message":"You are using a Trial key, which is limited to 10 API calls / minute."}"#,
            Cause::Unspecified,
            Some(429),
            Some("rate_limit_exceeded"),
        ),
        (
            r#"{"message":"Please add a payment method to continue using the API."}"#,
            Cause::Quota,
            Some(402),
            Some("insufficient_quota"),
        ),
        (
            r#"{"message":"Too many tokens per minute, please wait before trying again."}"#,
            Cause::Unspecified,
            Some(429),
            Some("rate_limit_exceeded"),
        ),
        (
            r#"{"id":"d0c3","message":"invalid api token"}"#,
            Cause::Unspecified,
            None,
            None,
        ),
        (
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error"}}"#,
            Cause::ContextLength,
            Some(400),
            None,
        ),
    ];
    for (body, cause, status, code) in cases {
        let parsed = CohereProvider.error(body.as_bytes());
        assert_eq!(parsed.cause, cause, "{body}");
        assert_eq!(parsed.status, status, "{body}");
        assert_eq!(parsed.code.as_ref().and_then(Value::as_str), code, "{body}");
        assert!(!parsed.message.is_empty());
    }
    assert_eq!(
        CohereProvider
            .error(br#"{"message":"invalid api token"}"#)
            .message,
        "invalid api token"
    );
    assert_eq!(
        CohereProvider.error(b"upstream exploded").message,
        "upstream exploded"
    );
}

#[test]
fn paths_and_native_rerank() {
    let path = |operation| CohereProvider.path(operation, "command-a-03-2025", "");
    assert_eq!(
        path(Operation::Chat { stream: false }).as_deref(),
        Some("/chat")
    );
    assert_eq!(
        path(Operation::Chat { stream: true }).as_deref(),
        Some("/chat")
    );
    assert_eq!(path(Operation::Embeddings).as_deref(), Some("/embed"));
    assert_eq!(
        path(Operation::Endpoint(Endpoint::Rerank)).as_deref(),
        Some("/rerank")
    );
    for operation in Operation::ALL {
        assert!(!CohereProvider.per_model(operation));
        let offered = matches!(
            operation,
            Operation::Chat { .. } | Operation::Embeddings | Operation::Endpoint(Endpoint::Rerank)
        );
        assert_eq!(path(operation).is_some(), offered, "{operation:?}");
    }
    assert!(CohereProvider.native(Inbound::Endpoint(Endpoint::Rerank)));
    for inbound in [
        Inbound::Chat,
        Inbound::Embeddings,
        Inbound::Messages,
        Inbound::Responses,
    ] {
        assert!(!CohereProvider.native(inbound));
    }
    for endpoint in Endpoint::ALL.into_iter().filter(|e| *e != Endpoint::Rerank) {
        assert!(!CohereProvider.native(Inbound::Endpoint(endpoint)));
    }
}
