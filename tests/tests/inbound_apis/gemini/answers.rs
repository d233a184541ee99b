//! google-genai's requests against every provider kind: the bare `contents="hi"` body, one with a
//! system instruction, a generation config and a function declaration, streamed and not, and a
//! function call coming back as a `functionCall` part. A Gemini provider gets the client's bytes;
//! the others get the request in their own protocol.

use serde_json::{Value, json};
use switchyard_tests::providers::{Answer, Kind, Script, Tokens, ToolCall, gemini};

use super::{
    ANTHROPIC_DEFAULT_MAX_TOKENS, KINDS, MODEL, SDK_BODY, Setup, generate, stream, usage_metadata,
};

const TEXT: &str = "Hello there, friend";

/// 37 prompt tokens and 11 completion tokens, counts no estimate would give.
const TOKENS: Tokens = Tokens {
    prompt: 37,
    completion: 11,
    cached: 0,
    cache_write: 0,
};

fn hello() -> Answer {
    Answer::text(TEXT).with_tokens(TOKENS)
}

/// google-genai's body for `generate_content(model=…, contents="What's the weather in Paris?",
/// config=GenerateContentConfig(system_instruction="You are terse.", temperature=0.2,
/// max_output_tokens=256, tools=[Tool(function_declarations=[…])]))`, with Gemini's schema types.
const CONFIGURED_BODY: &str = concat!(
    r#"{"contents": [{"parts": [{"text": "What's the weather in Paris?"}], "role": "user"}], "#,
    r#""systemInstruction": {"parts": [{"text": "You are terse."}], "role": "user"}, "#,
    r#""generationConfig": {"temperature": 0.2, "maxOutputTokens": 256}, "#,
    r#""tools": [{"functionDeclarations": [{"description": "Returns the weather in a city.", "#,
    r#""name": "get_weather", "parameters": {"properties": {"city": {"type": "STRING"}}, "#,
    r#""required": ["city"], "type": "OBJECT"}}]}]}"#
);

/// The declaration's parameters as the JSON Schema chat tools take.
fn weather_schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

/// The text of an Anthropic `system` or message `content`: a string, or text blocks.
fn anthropic_text(content: &Value) -> String {
    match content {
        Value::String(text) => text.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .filter_map(|block| block["text"].as_str())
            .collect(),
        other => panic!("not Anthropic text: {other}"),
    }
}

/// Asserts a non-streaming answer to [`hello`]: one candidate with the text, `STOP` and the
/// mock's usage.
fn assert_hello(kind: Kind, body: &Value) {
    let candidate = json!({"content": {"parts": [{"text": TEXT}], "role": "model"},
        "finishReason": "STOP", "index": 0});
    assert_eq!(body["candidates"], json!([candidate]), "{kind:?}: {body}");
    assert_eq!(
        body["usageMetadata"],
        usage_metadata(TOKENS),
        "{kind:?}: {body}"
    );
    let version = if kind == Kind::Gemini {
        kind.upstream_model()
    } else {
        MODEL
    };
    assert_eq!(body["modelVersion"], version, "{kind:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdks_request_is_answered_by_every_provider() {
    for kind in KINDS {
        let s = Setup::start(kind).await;
        s.mock.enqueue(Script::Answer(hello()));
        let response = generate(&s.gateway, SDK_BODY).await;
        response.expect_status(200, &format!("{kind:?}"));
        assert_eq!(response.header("content-type"), Some("application/json"));
        let headers = ["house", kind.provider_name(), kind.upstream_model(), "1"].map(Some);
        assert_eq!(response.switchyard_headers(), headers, "{kind:?}");
        assert_hello(kind, &response.json());

        let sent = s.only_request();
        s.assert_addressed(&sent, false);
        match kind {
            Kind::Gemini => {
                assert_eq!(
                    String::from_utf8_lossy(&sent.body),
                    SDK_BODY,
                    "the client's bytes"
                );
                let answer = gemini::response(&hello(), kind.upstream_model()).to_string();
                assert_eq!(response.text(), answer, "Gemini's answer untouched");
            }
            Kind::Anthropic => {
                let body = sent.json();
                assert_eq!(body["max_tokens"], ANTHROPIC_DEFAULT_MAX_TOKENS);
                let messages = body["messages"].as_array().expect("messages");
                assert_eq!(messages.len(), 1, "{body}");
                assert_eq!(messages[0]["role"], "user");
                assert_eq!(anthropic_text(&messages[0]["content"]), "hi");
            }
            Kind::OpenAi | Kind::Azure => {
                let body = sent.json();
                let expected = json!({"model": kind.upstream_model(), "stream": false,
                    "messages": [{"role": "user", "content": "hi"}]});
                assert_eq!(body, expected, "{kind:?}");
            }
            other => unreachable!(
                "the Gemini API tests run against OpenAI, Anthropic, Gemini and Azure, not {other:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_system_instruction_config_and_tools_reach_every_provider() {
    for kind in KINDS {
        let s = Setup::start(kind).await;
        s.mock.enqueue(Script::Answer(hello()));
        let response = generate(&s.gateway, CONFIGURED_BODY).await;
        response.expect_status(200, &format!("{kind:?} with a config"));
        assert_hello(kind, &response.json());

        let sent = s.only_request();
        s.assert_addressed(&sent, false);
        let question = "What's the weather in Paris?";
        let description = "Returns the weather in a city.";
        match kind {
            Kind::Gemini => {
                let received = String::from_utf8_lossy(&sent.body);
                assert_eq!(received, CONFIGURED_BODY, "the client's bytes");
            }
            Kind::Anthropic => {
                let body = sent.json();
                assert_eq!(anthropic_text(&body["system"]), "You are terse.", "{body}");
                assert_eq!(
                    (&body["max_tokens"], &body["temperature"]),
                    (&json!(256), &json!(0.2))
                );
                let messages = body["messages"].as_array().expect("messages");
                assert_eq!(messages.len(), 1, "{body}");
                assert_eq!(anthropic_text(&messages[0]["content"]), question);
                let tool = json!({"name": "get_weather", "description": description,
                    "input_schema": weather_schema()});
                assert_eq!(body["tools"], json!([tool]), "{body}");
            }
            Kind::OpenAi | Kind::Azure => {
                let body = sent.json();
                let messages = json!([{"role": "system", "content": "You are terse."},
                    {"role": "user", "content": question}]);
                assert_eq!(body["messages"], messages, "{kind:?}");
                assert_eq!(
                    (&body["max_tokens"], &body["temperature"]),
                    (&json!(256), &json!(0.2))
                );
                let function = json!({"name": "get_weather", "description": description,
                    "parameters": weather_schema()});
                let tools = json!([{"type": "function", "function": function}]);
                assert_eq!(body["tools"], tools, "{kind:?}");
            }
            other => unreachable!(
                "the Gemini API tests run against OpenAI, Anthropic, Gemini and Azure, not {other:?}"
            ),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_come_back_as_gemini_chunks_from_every_provider() {
    for kind in KINDS {
        let s = Setup::start(kind).await;
        s.mock.enqueue(Script::Answer(hello()));
        let streamed = stream(&s.gateway, SDK_BODY).await;
        let context = format!("{kind:?} stream");
        streamed.assert_complete(&context);
        assert_eq!(streamed.text(), TEXT, "{context}");
        assert_eq!(
            streamed.last()["usageMetadata"],
            usage_metadata(TOKENS),
            "{context}"
        );
        // The text arrives as it is generated, not in one piece at the end.
        let pieces = streamed.parts().iter().filter(|p| p["text"] != "").count();
        assert!(
            pieces >= 3,
            "{context}: {pieces} text chunks: {:?}",
            streamed.events
        );

        let sent = s.only_request();
        s.assert_addressed(&sent, true);
        assert_eq!(
            sent.header("accept"),
            Some("text/event-stream"),
            "{context}"
        );
        match kind {
            Kind::Gemini => {
                assert_eq!(
                    String::from_utf8_lossy(&sent.body),
                    SDK_BODY,
                    "the client's bytes"
                );
                let raw: String = streamed.events.iter().map(|e| e.raw.clone()).collect();
                let chunks = gemini::stream_chunks(&hello(), kind.upstream_model());
                let expected: String = chunks
                    .iter()
                    .map(|c| String::from_utf8_lossy(c).trim_end().to_owned())
                    .collect();
                assert_eq!(raw, expected, "Gemini's events untouched");
            }
            Kind::Anthropic => {}
            Kind::OpenAi | Kind::Azure => {
                let options = &sent.json()["stream_options"];
                assert_eq!(options, &json!({"include_usage": true}), "{context}");
            }
            other => unreachable!(
                "the Gemini API tests run against OpenAI, Anthropic, Gemini and Azure, not {other:?}"
            ),
        }
        if kind != Kind::Gemini {
            for chunk in streamed.chunks() {
                assert_eq!(chunk["modelVersion"], MODEL, "{context}: {chunk}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_call_comes_back_as_a_function_call_part() {
    let arguments = json!({"city": "Paris", "days": 2});
    let call = ToolCall::new("call_7", "get_weather", arguments.clone());
    let answer = Answer {
        text: "Checking the sky".to_owned(),
        ..Answer::tool_calls(vec![call])
    };
    for kind in KINDS {
        let s = Setup::start(kind).await;
        // Gemini's function calls carry no id; the others' ids are kept for the reply.
        let mut function_call = json!({"name": "get_weather", "args": arguments});
        if kind != Kind::Gemini {
            function_call["id"] = json!("call_7");
        }
        let part = json!({"functionCall": function_call});

        s.mock.enqueue(Script::Answer(answer.clone()));
        let response = generate(&s.gateway, CONFIGURED_BODY).await;
        response.expect_status(200, &format!("{kind:?} function call"));
        let body = response.json();
        let candidate = &body["candidates"][0];
        let parts = json!([{"text": "Checking the sky"}, part]);
        assert_eq!(candidate["content"]["parts"], parts, "{kind:?}: {body}");
        assert_eq!(candidate["finishReason"], "STOP", "{kind:?}: {body}");

        s.mock.enqueue(Script::Answer(answer.clone()));
        let streamed = stream(&s.gateway, CONFIGURED_BODY).await;
        let context = format!("{kind:?} streamed function call");
        streamed.assert_complete(&context);
        assert_eq!(streamed.text(), "Checking the sky", "{context}");
        let calls: Vec<Value> = streamed
            .parts()
            .into_iter()
            .filter(|p| p.get("functionCall").is_some())
            .collect();
        assert_eq!(calls, [part], "{context}: {:?}", streamed.events);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_short_ends_with_an_error_in_googles_shape() {
    for kind in KINDS {
        let s = Setup::start(kind).await;
        s.mock.enqueue(Script::Truncated(hello()));
        let streamed = stream(&s.gateway, SDK_BODY).await;
        let context = format!("{kind:?} truncated stream: {:?}", streamed.events);
        assert_eq!(streamed.status, 200, "{context}");
        let chunks = streamed.chunks();
        let (last, content) = chunks.split_last().expect("some events");
        let error = &last["error"];
        assert_eq!(
            (&error["code"], &error["status"]),
            (&json!(502), &json!("UNAVAILABLE")),
            "{context}"
        );
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{context}"
        );
        assert!(!content.is_empty(), "{context}: what arrived is kept");
        for chunk in content {
            assert!(
                chunk["candidates"][0].get("finishReason").is_none(),
                "{context}"
            );
        }
        assert!(TEXT.starts_with(&streamed.text()), "{context}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reasoning_comes_back_as_thought_parts() {
    let reasoning = "Weighing how warm to be.";
    let answer = hello().with_reasoning(reasoning);
    for kind in KINDS {
        let s = Setup::start(kind).await;
        s.mock.enqueue(Script::Answer(answer.clone()));
        let response = generate(&s.gateway, SDK_BODY).await;
        response.expect_status(200, &format!("{kind:?} with reasoning"));
        let body = response.json();
        let parts = json!([{"text": reasoning, "thought": true}, {"text": TEXT}]);
        assert_eq!(
            body["candidates"][0]["content"]["parts"], parts,
            "{kind:?}: {body}"
        );

        s.mock.enqueue(Script::Answer(answer.clone()));
        let streamed = stream(&s.gateway, SDK_BODY).await;
        let context = format!("{kind:?} streamed reasoning: {:?}", streamed.events);
        streamed.assert_complete(&context);
        let thoughts: String = streamed
            .parts()
            .iter()
            .filter(|part| part["thought"] == true)
            .filter_map(|part| part["text"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(thoughts, reasoning, "{context}");
        assert_eq!(streamed.text(), TEXT, "{context}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_response_answers_its_call_upstream() {
    // google-genai's next turn after a call: the model's functionCall as it came (Gemini gives no
    // id) and the user's functionResponse, which the SDK sends without an id either.
    let body = json!({"contents": [
        {"parts": [{"text": "Weather in Paris?"}], "role": "user"},
        {"parts": [{"functionCall": {"args": {"city": "Paris"}, "name": "get_weather"}}],
            "role": "model"},
        {"parts": [{"functionResponse": {"name": "get_weather",
            "response": {"output": "21C and sunny"}}}], "role": "user"},
    ]})
    .to_string();
    for kind in [Kind::OpenAi, Kind::Anthropic] {
        let s = Setup::start(kind).await;
        s.mock.enqueue(Script::Answer(hello()));
        let response = generate(&s.gateway, &body).await;
        response.expect_status(200, &format!("{kind:?} follow-up"));
        assert_hello(kind, &response.json());
        let sent = s.only_request().json();
        let messages = sent["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 3, "{kind:?}: {sent}");
        assert_eq!(messages[1]["role"], "assistant", "{sent}");
        let (call_id, answered_id) = if kind == Kind::OpenAi {
            let call = &messages[1]["tool_calls"][0];
            assert_eq!(call["function"]["name"], "get_weather", "{sent}");
            let arguments = call["function"]["arguments"].as_str().unwrap_or_default();
            let arguments: Value = serde_json::from_str(arguments).expect("JSON arguments");
            assert_eq!(arguments, json!({"city": "Paris"}));
            assert_eq!(messages[2]["role"], "tool", "{sent}");
            let output = messages[2]["content"].as_str().unwrap_or_default();
            assert!(output.contains("21C and sunny"), "{sent}");
            (&call["id"], &messages[2]["tool_call_id"])
        } else {
            let call = &messages[1]["content"][0];
            assert_eq!(
                (&call["type"], &call["name"]),
                (&json!("tool_use"), &json!("get_weather"))
            );
            assert_eq!(call["input"], json!({"city": "Paris"}), "{sent}");
            let result = &messages[2]["content"][0];
            assert_eq!(
                (&messages[2]["role"], &result["type"]),
                (&json!("user"), &json!("tool_result"))
            );
            assert!(result.to_string().contains("21C and sunny"), "{sent}");
            (&call["id"], &result["tool_use_id"])
        };
        assert!(call_id.as_str().is_some_and(|id| !id.is_empty()), "{sent}");
        assert_eq!(
            call_id, answered_id,
            "{kind:?}: the response answers the call: {sent}"
        );
    }
}
