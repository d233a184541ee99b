//! Protocol conformance: one table of cases run against every provider type (openai-compatible,
//! anthropic, gemini, azure, bedrock, vertex, cohere), each asserting what the provider received
//! in its own protocol and what the OpenAI client got back. What only one cloud has (SigV4 and
//! event-stream details, Vertex's token cache, Cohere's rerank) is tested in `conformance/`.

#[path = "conformance/bedrock.rs"]
mod bedrock_wire;
#[path = "conformance/cohere.rs"]
mod cohere_api;
#[path = "conformance/inbound_matrix.rs"]
mod inbound_matrix;
#[path = "conformance/stream_errors.rs"]
mod stream_errors;
#[path = "conformance/vertex.rs"]
mod vertex_auth;

use serde_json::{Value, json};
use switchyard_tests::providers::conformance::{
    ANTHROPIC_DEFAULT_MAX_TOKENS, EMBED_MODEL, Op, ROUTE, ask, assert_usage, chat,
    with_parsed_arguments,
};
use switchyard_tests::providers::gemini::embedding_for;
use switchyard_tests::providers::{Answer, Finish, Harness, Kind, Script, Tokens, ToolCall};

/// Runs every case against every provider type: `cargo test --test conformance gemini::` runs
/// one column, `cargo test --test conformance tools_round_trip` one row. A cell that fails for a
/// known server bug is ignored in `known_bug!`, naming the bug; `--ignored` runs it.
macro_rules! conformance_table {
    ($($case:ident),* $(,)?) => {
        conformance_table!(@column openai_compatible, Kind::OpenAi, $($case),*);
        conformance_table!(@column anthropic, Kind::Anthropic, $($case),*);
        conformance_table!(@column gemini, Kind::Gemini, $($case),*);
        conformance_table!(@column azure, Kind::Azure, $($case),*);
        conformance_table!(@column bedrock, Kind::Bedrock, $($case),*);
        conformance_table!(@column vertex, Kind::Vertex, $($case),*);
        conformance_table!(@column cohere, Kind::Cohere, $($case),*);
    };
    (@column $column:ident, $kind:expr, $($case:ident),*) => {
        mod $column {
            use super::*;
            $(
                known_bug!($column, $case,
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        super::$case($kind).await;
                    }
                );
            )*
        }
    };
}

/// The cells of the table that fail because of a server bug, each ignored with the bug named;
/// every other cell passes through unchanged.
macro_rules! known_bug {
    ($column:ident, $case:ident, $($test:tt)*) => { $($test)* };
}

conformance_table!(
    plain_chat,
    multi_turn,
    system_prompt,
    tools_round_trip,
    image_input,
    stop_sequences_and_sampling,
    reasoning,
    cached_usage,
    streaming_text,
    streaming_tool_calls,
    stream_usage_on_request,
    stream_truncated,
    stream_error_as_first_event,
    rate_limit_error,
    client_error_is_not_retried,
    embeddings,
);

/// A streaming chat request with one user message.
pub fn go_stream() -> Value {
    chat(ask("Go"), &[("stream", json!(true))])
}

async fn plain_chat(kind: Kind) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text("Bonjour tout le monde"));
    let body = chat(ask("Say hello"), &[]);
    let response = h.chat(&body).await;
    response.expect_status(200, "plain chat");
    let (name, model) = (kind.provider_name(), kind.upstream_model());
    let headers = [Some(ROUTE), Some(name), Some(model), Some("1")];
    assert_eq!(response.switchyard_headers(), headers);
    let answer = response.json();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], model);
    let message = json!({"role": "assistant", "content": "Bonjour tout le monde"});
    assert_eq!(answer["choices"][0]["message"], message);
    assert_eq!(answer["choices"][0]["finish_reason"], "stop");
    assert_usage(&answer["usage"], 21, 9, 0);

    let request = h.last_request();
    h.assert_addressed(&request, Op::Chat);
    let sent = request.json();
    match kind {
        Kind::OpenAi | Kind::Azure => h.assert_forwarded(&request, &body),
        // The provider's default max_tokens fills in for the client's; nothing else is added.
        Kind::Anthropic => assert_eq!(sent["max_tokens"], ANTHROPIC_DEFAULT_MAX_TOKENS),
        // Only the conversation: Gemini's and Converse's bodies name no model.
        Kind::Gemini | Kind::Vertex | Kind::Bedrock => {
            assert_eq!(sent.as_object().map(|o| o.len()), Some(1), "{sent}");
        }
        Kind::Cohere => {
            let keys: Vec<&String> = sent.as_object().expect("an object").keys().collect();
            assert_eq!(keys, ["messages", "model"], "{sent}");
        }
    }
    let turn = kind.user_turn(&["Say hello"]);
    assert_eq!(kind.conversation(&sent), json!([turn]));
}

async fn multi_turn(kind: Kind) {
    let h = Harness::start(kind).await;
    let messages = json!([
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": "Hello Ada."},
        {"role": "user", "content": "What is my name?"},
        {"role": "user", "content": "Answer briefly."},
    ]);
    let body = chat(messages, &[]);
    let response = h.chat(&body).await;
    response.expect_status(200, "multi-turn chat");
    let hello = format!("hello from {}", kind.provider_name());
    assert_eq!(response.json()["choices"][0]["message"]["content"], hello);
    let request = h.last_request();
    if kind.speaks_openai() {
        return h.assert_forwarded(&request, &body);
    }
    if kind == Kind::Cohere {
        // Cohere takes consecutive user messages as they are.
        let expected = json!([
            kind.user_turn(&["My name is Ada."]),
            kind.assistant_turn("Hello Ada."),
            kind.user_turn(&["What is my name?"]),
            kind.user_turn(&["Answer briefly."]),
        ]);
        return assert_eq!(kind.conversation(&request.json()), expected);
    }
    // Anthropic, Gemini and Bedrock want alternating roles: the two user messages become one.
    let expected = json!([
        kind.user_turn(&["My name is Ada."]),
        kind.assistant_turn("Hello Ada."),
        kind.user_turn(&["What is my name?", "Answer briefly."]),
    ]);
    assert_eq!(kind.conversation(&request.json()), expected);
}

async fn system_prompt(kind: Kind) {
    let h = Harness::start(kind).await;
    let messages = json!([
        {"role": "system", "content": "You are terse."},
        {"role": "developer", "content": "Use French."},
        {"role": "user", "content": "hi"},
    ]);
    let body = chat(messages, &[]);
    h.chat(&body)
        .await
        .expect_status(200, "chat with a system prompt");
    let request = h.last_request();
    if kind.speaks_openai() {
        return h.assert_forwarded(&request, &body);
    }
    let sent = request.json();
    if kind == Kind::Cohere {
        // Cohere keeps system messages in the conversation, a developer message as one of them.
        let expected = json!([
            {"role": "system", "content": "You are terse."},
            {"role": "system", "content": "Use French."},
            kind.user_turn(&["hi"]),
        ]);
        return assert_eq!(sent["messages"], expected);
    }
    let system = kind.system(&["You are terse.", "Use French."]);
    assert_eq!(kind.system_of(&sent), system);
    assert_eq!(kind.conversation(&sent), json!([kind.user_turn(&["hi"])]));
}

fn weather_tool() -> Value {
    json!([{"type": "function", "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
            "required": ["city"], "additionalProperties": false},
    }}])
}

async fn tools_round_trip(kind: Kind) {
    let h = Harness::start(kind).await;
    let arguments = json!({"city": "Paris", "unit": "celsius"});
    let call = ToolCall::new("toolu_01A", "get_weather", arguments.clone());
    h.answer(Answer::tool_calls(vec![call]));
    let choice = json!({"type": "function", "function": {"name": "get_weather"}});
    let tools = [("tools", weather_tool()), ("tool_choice", choice)];
    let response = h.chat(&chat(ask("Weather in Paris?"), &tools)).await;
    response.expect_status(200, "chat with tools");
    let answer = response.json();
    assert_eq!(answer["choices"][0]["finish_reason"], "tool_calls");
    let id = kind.call_id(0, "toolu_01A");
    let message = answer["choices"][0]["message"].clone();
    let function = json!({"name": "get_weather", "arguments": arguments});
    let call = json!({"id": id, "type": "function", "function": function});
    let expected = json!({"role": "assistant", "content": null, "tool_calls": [call]});
    assert_eq!(with_parsed_arguments(&message), expected);
    let sent = h.last_request().json();
    assert_eq!(
        kind.tools_of(&sent),
        kind.tools(&weather_tool(), "get_weather")
    );

    h.answer(Answer::text("It is 21 degrees in Paris."));
    let result = json!({"role": "tool", "tool_call_id": id, "content": "{\"temp_c\":21}"});
    let question = json!({"role": "user", "content": "Weather in Paris?"});
    let follow_up = chat(json!([question, message, result]), &tools[..1]);
    let response = h.chat(&follow_up).await;
    response.expect_status(200, "follow-up with a tool result");
    let text = &response.json()["choices"][0]["message"]["content"];
    assert_eq!(text, "It is 21 degrees in Paris.");
    let request = h.last_request();
    if kind.speaks_openai() {
        return h.assert_forwarded(&request, &follow_up);
    }
    let turns = kind.conversation(&request.json());
    let call_turn = kind.tool_call_turn(&id, "get_weather", &arguments);
    assert_eq!(
        turns[1], call_turn,
        "the tool call as the provider received it"
    );
    let result_turn = kind.tool_result_turn(&id, "get_weather", "{\"temp_c\":21}");
    assert_eq!(
        turns[2], result_turn,
        "the tool result as the provider received it"
    );
}

async fn image_input(kind: Kind) {
    let h = Harness::start(kind).await;
    let (data, url) = ("iVBORw0KGgoAAAANSUhEUg==", "https://example.com/cat.jpg");
    let mut turn = Kind::OpenAi.image_turn("What is in these?", data, url);
    if kind == Kind::Bedrock {
        // Bedrock takes image bytes only; the gateway fetches no URL for it, and says so.
        let response = h.chat(&chat(json!([turn]), &[])).await;
        response.expect_status(400, "an image URL for Bedrock");
        let error = response.openai_error();
        assert_eq!(error["code"], "untranslatable_request", "{error}");
        let message = error["message"].as_str().unwrap_or_default();
        assert!(message.contains("inline only"), "{message}");
        assert!(h.requests().is_empty(), "nothing is sent for an image URL");
        turn["content"].as_array_mut().expect("parts").pop();
    }
    h.chat(&chat(json!([turn]), &[]))
        .await
        .expect_status(200, "chat with images");
    let sent = kind.conversation(&h.last_request().json());
    assert_eq!(
        sent,
        json!([kind.image_turn("What is in these?", data, url)])
    );
}

async fn stop_sequences_and_sampling(kind: Kind) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text("Cut short").with_finish(Finish::Length));
    let sampling = [json!(["END", "STOP"]), json!(64), json!(0.25), json!(0.5)];
    let fields = ["stop", "max_tokens", "temperature", "top_p"];
    let extra: Vec<(&str, Value)> = fields.into_iter().zip(sampling.clone()).collect();
    let response = h.chat(&chat(ask("Count"), &extra)).await;
    response.expect_status(200, "chat with stop sequences");
    assert_eq!(response.json()["choices"][0]["finish_reason"], "length");
    assert_eq!(kind.sampling_of(&h.last_request().json()), json!(sampling));

    // A single stop string is a list of one in the protocols that only take lists.
    let mut extra = extra;
    extra[0].1 = json!("END");
    let body = chat(ask("Count"), &extra);
    h.chat(&body).await.expect_status(200, "one stop string");
    let request = h.last_request();
    if kind.speaks_openai() {
        return h.assert_forwarded(&request, &body);
    }
    assert_eq!(kind.sampling_of(&request.json())[0], json!(["END"]));
}

async fn reasoning(kind: Kind) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text("Forty-two.").with_reasoning("Six times seven."));
    let response = h.chat(&chat(ask("Answer?"), &[])).await;
    response.expect_status(200, "chat with reasoning");
    let message = &response.json()["choices"][0]["message"];
    assert_eq!(message["reasoning_content"], "Six times seven.");
    assert_eq!(message["content"], "Forty-two.");
}

/// 40 prompt tokens of which 16 were read from the cache and 4 written to it (Anthropic counts
/// both apart from its input tokens).
const CACHED: Tokens = Tokens {
    prompt: 40,
    completion: 12,
    cached: 16,
    cache_write: 4,
};

async fn cached_usage(kind: Kind) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text("Cached.").with_tokens(CACHED));
    let response = h.chat(&chat(ask("Again"), &[])).await;
    response.expect_status(200, "chat with cached tokens");
    assert_usage(&response.json()["usage"], 40, 12, 16);
}

async fn streaming_text(kind: Kind) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text("The quick brown fox").with_reasoning("Animals first."));
    let stream = h.stream(&go_stream()).await;
    stream.assert_complete();
    let provider = stream.header("x-switchyard-provider");
    assert_eq!(provider, Some(kind.provider_name()));
    assert_eq!(stream.model, kind.upstream_model());
    assert_eq!(stream.reasoning, "Animals first.");
    assert_eq!(stream.content, "The quick brown fox");
    assert_eq!(stream.content_deltas, 4, "one delta per word");
    assert_eq!(stream.finish_reason.as_deref(), Some("stop"));
    assert_eq!(stream.usage, None, "no usage chunk unless the client asks");
    let request = h.last_request();
    h.assert_addressed(&request, Op::Stream);
    if kind.speaks_openai() {
        // The gateway asks for usage, and strips it from the client's stream.
        let options = request.json()["stream_options"].take();
        assert_eq!(options, json!({"include_usage": true}));
    }
}

async fn streaming_tool_calls(kind: Kind) {
    let h = Harness::start(kind).await;
    let weather = json!({"city": "Paris", "days": [1, 2]});
    let calls = vec![
        ToolCall::new("toolu_01A", "get_weather", weather),
        ToolCall::new("toolu_01B", "get_time", json!({"zone": "Europe/Paris"})),
    ];
    h.answer(Answer::tool_calls(calls.clone()));
    let extra = [("stream", json!(true)), ("tools", weather_tool())];
    let stream = h.stream(&chat(ask("Plan"), &extra)).await;
    stream.assert_complete();
    assert_eq!(stream.finish_reason.as_deref(), Some("tool_calls"));
    assert_eq!(stream.tool_calls.len(), 2, "{:?}", stream.events);
    for (i, (got, sent)) in stream.tool_calls.iter().zip(&calls).enumerate() {
        assert_eq!(
            (&got.id, &got.name),
            (&kind.call_id(i, &sent.id), &sent.name)
        );
        assert_eq!(got.arguments_json(), sent.arguments, "call {i}");
        // Gemini sends each call whole; the others send fragments for the client to join.
        let fragments = if matches!(kind, Kind::Gemini | Kind::Vertex) {
            1
        } else {
            3
        };
        assert_eq!(got.fragments, fragments, "argument fragments of call {i}");
    }
}

async fn stream_usage_on_request(kind: Kind) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text("Counted words").with_tokens(CACHED));
    let options = ("stream_options", json!({"include_usage": true}));
    let body = chat(ask("Go"), &[("stream", json!(true)), options]);
    let stream = h.stream(&body).await;
    stream.assert_complete();
    let usage = stream.usage.as_ref().expect("a usage chunk on request");
    assert_usage(usage, 40, 12, 16);
}

async fn stream_truncated(kind: Kind) {
    let h = Harness::start(kind).await;
    let full = "Hello there general Kenobi";
    h.script(Script::Truncated(Answer::text(full)));
    let stream = h.stream(&go_stream()).await;
    assert!(
        !stream.done,
        "a truncated stream must not end with [DONE]: {:?}",
        stream.events
    );
    let error = stream
        .error
        .as_ref()
        .expect("an error event ends a truncated stream");
    assert_eq!(error["code"], "stream_truncated", "{error}");
    assert!(!stream.content.is_empty() && full.starts_with(&stream.content));
    assert_eq!(
        h.requests().len(),
        1,
        "a stream that started is not retried"
    );
}

async fn stream_error_as_first_event(kind: Kind) {
    let h = Harness::start(kind).await;
    let (script, expected) = kind.busy_stream_error();
    h.script_always(script);
    let response = h.stream_answer(&go_stream()).await;
    h.assert_failed(&response, expected.status, expected.kind, expected.message);
}

async fn rate_limit_error(kind: Kind) {
    let (script, expected) = kind.busy_error();
    for stream in [false, true] {
        let h = Harness::start(kind).await;
        h.script_always(script.clone());
        // A streaming request that the provider refuses with a status gets the same JSON error.
        let response = if stream {
            h.stream_answer(&go_stream()).await
        } else {
            h.chat(&chat(ask("hi"), &[])).await
        };
        h.assert_failed(&response, expected.status, expected.kind, expected.message);
        assert_eq!(
            response.openai_error()["code"],
            expected.code,
            "stream: {stream}"
        );
    }
}

async fn client_error_is_not_retried(kind: Kind) {
    let h = Harness::start(kind).await;
    let (script, code) = kind.client_error();
    h.script_always(script);
    let response = h.chat(&chat(ask("hi"), &[])).await;
    h.assert_failed(&response, 400, "invalid_request_error", "Bad messages");
    assert_eq!(response.openai_error()["code"], code);
    assert_eq!(h.requests().len(), 1, "a 400 is not retried");
}

async fn embeddings(kind: Kind) {
    let h = Harness::start(kind).await;
    let inputs = ["first text", "second, longer text"];
    let response = h
        .embeddings(&json!({"model": EMBED_MODEL, "input": inputs}))
        .await;
    if matches!(kind, Kind::Anthropic | Kind::Bedrock) {
        response.expect_status(400, "embeddings on a chat-only protocol");
        assert_eq!(response.openai_error()["code"], "unsupported_operation");
        assert!(
            h.requests().is_empty(),
            "nothing is sent to a provider that cannot embed"
        );
        return;
    }
    response.expect_status(200, "embeddings");
    let body = response.json();
    assert_eq!(body["object"], "list");
    for (i, text) in inputs.iter().enumerate() {
        assert_eq!(body["data"][i]["index"], i);
        assert_eq!(body["data"][i]["embedding"], json!(embedding_for(i, text)));
    }
    let request = h.last_request();
    h.assert_addressed(&request, Op::Embeddings);
    let sent = request.json();
    match kind {
        Kind::Gemini => {
            let model = format!("models/{}", kind.embedding_model());
            let requests: Vec<Value> = inputs
                .iter()
                .map(|t| json!({"model": model, "content": {"parts": [{"text": t}]}}))
                .collect();
            assert_eq!(sent, json!({"requests": requests}));
        }
        Kind::Vertex => {
            let instances: Vec<Value> = inputs.iter().map(|t| json!({"content": t})).collect();
            assert_eq!(sent, json!({"instances": instances}));
        }
        Kind::Cohere => {
            let expected = json!({"model": kind.embedding_model(), "texts": inputs,
                "input_type": "search_document", "embedding_types": ["float"]});
            assert_eq!(sent, expected);
        }
        _ => assert_eq!(sent["input"], json!(inputs)),
    }
}
