//! Tests of the inbound Gemini API: google-genai's request bodies translated to chat, and round
//! trips through the outbound translation. The answers' tests are in `tests/answers.rs`.

mod answers;

use serde_json::{Value, json};

use super::inbound::{count_tokens_answer, error_body, estimate_tokens, to_chat};

fn chat(request: Value) -> Value {
    to_chat(&request, "gpt-4o", false).expect("translates")
}

fn refused(request: Value) -> String {
    to_chat(&request, "gpt-4o", false).expect_err("is refused")
}

fn user(text: &str) -> Value {
    json!({"parts": [{"text": text}], "role": "user"})
}

#[test]
fn the_simplest_sdk_request() {
    // client.models.generate_content(model="gemini-2.5-flash", contents="hi")
    let request = json!({"contents": [{"parts": [{"text": "hi"}], "role": "user"}]});
    assert_eq!(
        chat(request.clone()),
        json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}], "stream": false})
    );
    let streamed = to_chat(&request, "gpt-4o", true).expect("translates");
    assert_eq!(streamed["stream"], true);
    assert_eq!(streamed["stream_options"], json!({"include_usage": true}));
}

#[test]
fn an_sdk_request_with_a_config() {
    // config=types.GenerateContentConfig(system_instruction="You are terse.", temperature=0.2,
    //   max_output_tokens=256, tools=[get_weather],
    //   thinking_config=types.ThinkingConfig(thinking_budget=2048, include_thoughts=True)),
    // as google-genai sends it: a Python function becomes `parameters_json_schema`, and nested
    // pydantic objects keep their snake_case names.
    let request = json!({
        "contents": [user("What's the weather in Paris?")],
        "systemInstruction": {"parts": [{"text": "You are terse."}], "role": "user"},
        "generationConfig": {
            "temperature": 0.2,
            "maxOutputTokens": 256,
            "thinkingConfig": {"thinking_budget": 2048, "include_thoughts": true},
        },
        "tools": [{"functionDeclarations": [{
            "description": "Returns the weather in a city.",
            "name": "get_weather",
            "parameters_json_schema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        }]}],
    });
    assert_eq!(
        chat(request),
        json!({
            "model": "gpt-4o",
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "What's the weather in Paris?"},
            ],
            "stream": false,
            "temperature": 0.2,
            "max_completion_tokens": 256,
            "reasoning_effort": "medium",
            "tools": [{"type": "function", "function": {
                "name": "get_weather",
                "description": "Returns the weather in a city.",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            }}],
        })
    );
}

#[test]
fn snake_case_requests_read_like_camel_case_ones() {
    let snake = json!({
        "contents": [{"role": "user", "parts": [
            {"text": "Describe"},
            {"inline_data": {"mime_type": "image/png", "data": "iVBORw0KGgo="}},
        ]}],
        "system_instruction": {"parts": [{"text": "Be brief."}]},
        "generation_config": {"max_output_tokens": 10, "stop_sequences": ["END"], "top_p": 0.9},
        "tool_config": {"function_calling_config": {"mode": "NONE"}},
        "tools": [{"function_declarations": [{"name": "f"}]}],
    });
    let camel = json!({
        "contents": [{"role": "user", "parts": [
            {"text": "Describe"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        ]}],
        "systemInstruction": {"parts": [{"text": "Be brief."}]},
        "generationConfig": {"maxOutputTokens": 10, "stopSequences": ["END"], "topP": 0.9},
        "toolConfig": {"functionCallingConfig": {"mode": "NONE"}},
        "tools": [{"functionDeclarations": [{"name": "f"}]}],
    });
    let translated = chat(camel);
    assert_eq!(chat(snake), translated);
    assert_eq!(
        translated["messages"][1]["content"],
        json!([
            {"type": "text", "text": "Describe"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ])
    );
    assert_eq!(translated["stop"], json!(["END"]));
    assert_eq!(translated["top_p"], 0.9);
    assert_eq!(translated["tool_choice"], "none");
    assert_eq!(
        translated["tools"][0]["function"]["parameters"],
        json!({"type": "object", "properties": {}})
    );
}

#[test]
fn a_function_calling_round_trip_as_the_sdk_sends_it() {
    // Automatic function calling: the model's calls come back without ids, and google-genai
    // answers each with Part.from_function_response(name=…, response={"result": …}), no id.
    let request = json!({"contents": [
        user("Weather in Paris and Rome?"),
        {"parts": [
            {"functionCall": {"args": {"city": "Paris"}, "name": "get_weather"}},
            {"functionCall": {"args": {"city": "Rome"}, "name": "get_weather"}},
        ], "role": "model"},
        {"parts": [
            {"functionResponse": {"name": "get_weather", "response": {"result": "18C"}}},
            {"functionResponse": {"name": "get_weather", "response": {"result": "24C"}}},
        ], "role": "user"},
    ]});
    assert_eq!(
        chat(request)["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_0", "content": "{\"result\":\"18C\"}"},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"result\":\"24C\"}"},
        ])
    );
}

#[test]
fn call_ids_are_kept_and_generated_ones_never_collide() {
    let request = json!({"contents": [
        user("go"),
        {"role": "model", "parts": [
            {"text": "Checking."},
            {"thought": true, "text": "I should call both."},
            {"functionCall": {"name": "a", "args": {}}},
            {"functionCall": {"id": "call_0", "name": "b"}, "thoughtSignature": "c2ln"},
        ]},
        {"role": "user", "parts": [
            {"text": "Here you go."},
            {"functionResponse": {"id": "call_0", "name": "b", "response": {"content": "plain text"}}},
            {"function_response": {"name": "a", "response": {"output": 1}}},
        ]},
    ]});
    assert_eq!(
        chat(request)["messages"],
        json!([
            {"role": "user", "content": "go"},
            {"role": "assistant", "content": "Checking.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                {"id": "call_0", "type": "function", "function": {"name": "b", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_0", "content": "plain text"},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"output\":1}"},
            {"role": "user", "content": "Here you go."},
        ])
    );
}

#[test]
fn a_chat_request_survives_the_trip_through_gemini() {
    let original = json!({
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "call_0", "type": "function",
                "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}]},
            {"role": "tool", "tool_call_id": "call_0", "content": "sunny"},
            {"role": "assistant", "content": "Sunny."},
            {"role": "user", "content": "Thanks."},
        ],
        "temperature": 0.5,
        "max_tokens": 100,
        "stop": ["END"],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}],
        "tool_choice": "required",
        "response_format": {"type": "json_object"},
    });
    let gemini = super::request(&original).expect("to Gemini");
    let mut back = chat(gemini);
    assert_eq!(
        back.as_object_mut().and_then(|o| o.remove("stream")),
        Some(json!(false))
    );
    assert_eq!(back, original);
}

#[test]
fn tool_config_modes() {
    let with = |config: Value| {
        chat(json!({
            "contents": [user("hi")],
            "tools": [{"functionDeclarations": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}],
            "toolConfig": {"functionCallingConfig": config},
        }))
    };
    assert_eq!(with(json!({"mode": "AUTO"}))["tool_choice"], "auto");
    assert_eq!(with(json!({"mode": "ANY"}))["tool_choice"], "required");
    assert_eq!(with(json!({"mode": "NONE"}))["tool_choice"], "none");
    assert_eq!(
        with(json!({"mode": "ANY", "allowedFunctionNames": ["b"]}))["tool_choice"],
        json!({"type": "function", "function": {"name": "b"}})
    );
    let narrowed = with(json!({"mode": "ANY", "allowed_function_names": ["a", "c"]}));
    assert_eq!(narrowed["tool_choice"], "required");
    let names: Vec<&Value> = narrowed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|tool| &tool["function"]["name"])
        .collect();
    assert_eq!(names, [&json!("a"), &json!("c")]);
    assert!(
        to_chat(
            &json!({"contents": [user("hi")], "tools": [{"functionDeclarations": [{"name": "a"}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "SOMETIMES"}}}),
            "m",
            false
        )
        .is_err()
    );
}

#[test]
fn what_another_provider_cannot_do_is_refused_by_name() {
    let with_part = |part: Value| json!({"contents": [{"role": "user", "parts": [part]}]});
    let cases = [
        (
            with_part(json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBE"}})),
            "application/pdf",
        ),
        (
            with_part(
                json!({"fileData": {"mimeType": "video/mp4", "fileUri": "https://x.test/v.mp4"}}),
            ),
            "video/mp4",
        ),
        (
            with_part(json!({"fileData": {"mimeType": "image/png",
                "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}})),
            "stored at Google",
        ),
        (
            with_part(json!({"fileData": {"fileUri": "gs://bucket/cat.png"}})),
            "stored at Google",
        ),
        (
            with_part(json!({"fileData": {"fileUri": "https://x.test/file"}})),
            "mimeType",
        ),
        (
            with_part(json!({"executableCode": {"language": "PYTHON", "code": "1"}})),
            "executableCode",
        ),
        (
            with_part(json!({"code_execution_result": {"outcome": "OUTCOME_OK"}})),
            "codeExecutionResult",
        ),
        (
            with_part(json!({"functionResponse": {"name": "f", "response": {}}})),
            "no earlier functionCall",
        ),
        (
            json!({"contents": [user("hi")], "tools": [{"googleSearch": {}}]}),
            "googleSearch",
        ),
        (
            json!({"contents": [user("hi")], "tools": [{"code_execution": {}}]}),
            "codeExecution",
        ),
        (
            json!({"contents": [user("hi")], "tools": [{"urlContext": {}}]}),
            "urlContext",
        ),
        (
            json!({"contents": [user("hi")], "cachedContent": "cachedContents/abc"}),
            "cachedContent",
        ),
        (
            json!({"contents": [user("hi")], "safetySettings": [
                {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_LOW_AND_ABOVE"}]}),
            "BLOCK_LOW_AND_ABOVE",
        ),
        (
            json!({"contents": [user("hi")], "generationConfig": {"responseModalities": ["IMAGE"]}}),
            "IMAGE",
        ),
        (
            json!({"contents": [user("hi")], "generationConfig": {"responseMimeType": "text/x.enum"}}),
            "text/x.enum",
        ),
        (
            json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}),
            "contents[0].role",
        ),
        (json!({"contents": []}), "contents"),
        (json!({"contents": ["hi"]}), "contents[0] must be an object"),
        (
            json!({"contents": [{"role": "user", "parts": [{"text": 1}]}]}),
            "contents[0].parts[0].text",
        ),
        (
            json!({"contents": [user("hi"), {"role": "model", "parts": [
                {"functionCall": {"name": "f", "args": "x=1"}}]}]}),
            "contents[1].parts[0].functionCall.args",
        ),
        (json!({"contents": "hi"}), "contents must be an array"),
        (json!([1]), "JSON object"),
    ];
    for (request, named) in cases {
        let error = refused(request.clone());
        assert!(error.contains(named), "{request}: {error}");
    }
    // Turning Google's filters off asks nothing of another provider; labels are Vertex's.
    let allowed = json!({"contents": [user("hi")], "labels": {"team": "x"}, "safetySettings": [
        {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"},
        {"category": "HARM_CATEGORY_HATE_SPEECH", "threshold": "OFF"}]});
    assert_eq!(chat(allowed)["messages"].as_array().map(Vec::len), Some(1));
}

#[test]
fn estimates_tokens_for_both_count_tokens_bodies() {
    let contents = json!([{"role": "user", "parts": [{"text": "abcdefgh"}]}]);
    let direct = estimate_tokens(&json!({"contents": contents}));
    let wrapped = estimate_tokens(&json!({"generateContentRequest": {
        "model": "models/gemini-2.5-flash", "contents": contents}}));
    assert_eq!((direct, wrapped), (2, 2));
    let with_image = json!({"contents": [{"role": "user", "parts": [
        {"text": "abcd"}, {"inlineData": {"mimeType": "image/png", "data": "A".repeat(4000)}}]}]});
    assert_eq!(estimate_tokens(&with_image), 1 + 258);
    assert_eq!(estimate_tokens(&json!({})), 1);
    assert_eq!(count_tokens_answer(42), json!({"totalTokens": 42}));
}

#[test]
fn errors_in_googles_shape() {
    assert_eq!(
        error_body(429, "slow down"),
        json!({"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}})
    );
    let statuses = [
        (400, "INVALID_ARGUMENT"),
        (401, "UNAUTHENTICATED"),
        (403, "PERMISSION_DENIED"),
        (404, "NOT_FOUND"),
        (409, "ABORTED"),
        (413, "INVALID_ARGUMENT"),
        (499, "CANCELLED"),
        (500, "INTERNAL"),
        (501, "UNIMPLEMENTED"),
        (502, "UNAVAILABLE"),
        (503, "UNAVAILABLE"),
        (504, "DEADLINE_EXCEEDED"),
    ];
    for (status, name) in statuses {
        assert_eq!(error_body(status, "m")["error"]["status"], name, "{status}");
    }
}
