//! The inbound APIs beyond OpenAI chat (Anthropic Messages, OpenAI Responses, the Gemini API)
//! against every provider type: a plain answer, a stream and a tool call's round trip, each
//! asserting what the client got in its own API and what the provider received in its own
//! protocol. A provider that speaks the client's API gets the client's bytes with the model
//! renamed (Anthropic for Messages, Gemini and Vertex for the Gemini API, Azure for Responses).

use reqwest::Method;
use serde_json::{Value, json};
use switchyard_tests::ApiResponse;
use switchyard_tests::providers::conformance::{MODEL, Op, with_parsed_arguments};
use switchyard_tests::providers::stream::anthropic_events;
use switchyard_tests::providers::{Answer, Harness, Kind, ResponsesStream, ToolCall};
use switchyard_tests::{RecordedRequest, SseReader};

/// Runs every case against every provider type, as `conformance_table!` does: `cargo test
/// --test conformance inbound_matrix::bedrock::` runs one column. A cell that fails for a known
/// server bug is ignored in `matrix_bug!`, naming the bug.
macro_rules! inbound_matrix {
    ($($case:ident),* $(,)?) => {
        inbound_matrix!(@column openai_compatible, Kind::OpenAi, $($case),*);
        inbound_matrix!(@column anthropic, Kind::Anthropic, $($case),*);
        inbound_matrix!(@column gemini, Kind::Gemini, $($case),*);
        inbound_matrix!(@column azure, Kind::Azure, $($case),*);
        inbound_matrix!(@column bedrock, Kind::Bedrock, $($case),*);
        inbound_matrix!(@column vertex, Kind::Vertex, $($case),*);
        inbound_matrix!(@column cohere, Kind::Cohere, $($case),*);
    };
    (@column $column:ident, $kind:expr, $($case:ident),*) => {
        mod $column {
            use super::*;
            $(
                matrix_bug!($column, $case,
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        super::$case($kind).await;
                    }
                );
            )*
        }
    };
}

/// The cells that fail because of a server bug, each ignored with the bug named; every other
/// cell passes through unchanged.
macro_rules! matrix_bug {
    ($column:ident, $case:ident, $($test:tt)*) => { $($test)* };
}

inbound_matrix!(
    messages_plain,
    messages_stream,
    messages_tools,
    responses_plain,
    responses_stream,
    responses_tools,
    gemini_plain,
    gemini_stream,
    gemini_tools,
);

const SYSTEM: &str = "Be terse.";
const QUESTION: &str = "Say hello";
const ANSWER: &str = "Bonjour tout le monde";
const STREAMED: &str = "The quick brown fox";
/// The answer's token counts, as [`Answer::text`] scripts them.
const PROMPT_TOKENS: u64 = 21;
const COMPLETION_TOKENS: u64 = 9;
const WEATHER: &str = "Weather in Paris?";
const TOOL_RESULT: &str = "{\"temp_c\":21}";
const FORECAST: &str = "It is 21 degrees in Paris.";

/// A client API the gateway serves besides OpenAI chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Api {
    Messages,
    Responses,
    Gemini,
}

impl Api {
    /// Whether `kind` speaks this API, so that the gateway passes the client's bytes through.
    fn native(self, kind: Kind) -> bool {
        match self {
            Api::Messages => kind == Kind::Anthropic,
            Api::Gemini => matches!(kind, Kind::Gemini | Kind::Vertex),
            // `openai-compatible` serves no Responses API unless configured to; Azure does.
            Api::Responses => kind == Kind::Azure,
        }
    }

    /// The request this API's client would send with `body`, streaming or not.
    async fn request(self, h: &Harness, body: &Value, stream: bool) -> reqwest::RequestBuilder {
        prime_openai_mock(h, stream).await;
        let path = match self {
            Api::Messages => "/v1/messages".to_owned(),
            Api::Responses => "/v1/responses".to_owned(),
            Api::Gemini if stream => {
                format!("/v1beta/models/{MODEL}:streamGenerateContent?alt=sse")
            }
            Api::Gemini => format!("/v1beta/models/{MODEL}:generateContent"),
        };
        let mut request = h
            .gateway
            .proxy_request(Method::POST, &path)
            .header("content-type", "application/json")
            .body(body.to_string());
        if self == Api::Messages {
            request = request.header("anthropic-version", "2023-06-01");
        }
        request
    }

    /// A non-streaming request, read completely and expected to succeed.
    async fn call(self, h: &Harness, body: &Value) -> Value {
        let response = ApiResponse::send(self.request(h, body, false).await).await;
        response.expect_status(200, &format!("{self:?} on {:?}", h.kind));
        response.json()
    }
}

/// Hands the harness's OpenAI mock its scripts. The harness renders them for that mock only when
/// a chat request goes through it, so a chat request the gateway refuses before routing (it
/// names no model) renders them without reaching the provider.
async fn prime_openai_mock(h: &Harness, stream: bool) {
    if h.kind != Kind::OpenAi {
        return;
    }
    let before = h.requests().len();
    let refused = if stream {
        h.stream_answer(&json!({"stream": true})).await
    } else {
        h.chat(&json!({})).await
    };
    refused.expect_status(400, "a chat request without a model");
    assert_eq!(h.requests().len(), before, "the refused request went out");
}

/// Asserts that the provider got the client's bytes with only the model renamed (the body keeps
/// no model for the Gemini API, whose path names it), at the address its protocol uses.
fn assert_passed_through(h: &Harness, api: Api, request: &RecordedRequest, client: &Value, op: Op) {
    let client = client.to_string();
    let expected = match api {
        Api::Messages => client.replacen(MODEL, h.kind.upstream_model(), 1),
        Api::Gemini => client,
        // Azure's v1 Responses API names the deployment serving the model in the body.
        Api::Responses => client.replacen(MODEL, "prod-4o", 1),
    };
    let sent = String::from_utf8_lossy(&request.body);
    assert_eq!(sent, expected, "{:?} received a changed body", h.kind);
    if api == Api::Responses {
        assert_eq!(request.path, "/openai/v1/responses");
        let key = switchyard_tests::fixtures::test_key(h.kind.provider_name());
        assert_eq!(request.header("api-key"), Some(key.as_str()));
    } else {
        assert_addressed(h, request, op);
    }
}

/// The harness's check of a request's address, method, credentials and model. A Gemini client's
/// request says `stream: false` outright, which Anthropic's protocol also takes (it is its
/// default) but the harness expects left out, so that one field is dropped before the check.
fn assert_addressed(h: &Harness, request: &RecordedRequest, op: Op) {
    let mut body = request.json();
    if h.kind == Kind::Anthropic && op == Op::Chat && body.get("stream") == Some(&json!(false)) {
        if let Some(fields) = body.as_object_mut() {
            fields.remove("stream");
        }
        let mut request = request.clone();
        request.body = body.to_string().into();
        return h.assert_addressed(&request, op);
    }
    h.assert_addressed(request, op);
}

/// Asserts that a translated request carries the system prompt and the question where the
/// provider's protocol puts them.
fn assert_system_and_question(kind: Kind, sent: &Value) {
    let user = kind.user_turn(&[QUESTION]);
    if matches!(kind, Kind::OpenAi | Kind::Azure | Kind::Cohere) {
        let system = json!({"role": "system", "content": SYSTEM});
        assert_eq!(kind.conversation(sent), json!([system, user]), "{sent}");
    } else {
        assert_eq!(kind.system_of(sent), kind.system(&[SYSTEM]), "{sent}");
        assert_eq!(kind.conversation(sent), json!([user]), "{sent}");
    }
}

/// The request a plain or streaming case sends, in each API's shape.
fn greeting(api: Api, stream: bool) -> Value {
    let mut body = match api {
        Api::Messages => json!({"model": MODEL, "max_tokens": 256, "system": SYSTEM,
            "messages": [{"role": "user", "content": QUESTION}]}),
        Api::Responses => json!({"model": MODEL, "instructions": SYSTEM, "input": QUESTION}),
        Api::Gemini => json!({"systemInstruction": {"parts": [{"text": SYSTEM}]},
            "contents": [{"role": "user", "parts": [{"text": QUESTION}]}]}),
    };
    if stream && api != Api::Gemini {
        body["stream"] = json!(true);
    }
    body
}

/// The plain case: the client's answer in its API, the provider's request in its protocol.
async fn plain(kind: Kind, api: Api) -> Value {
    let h = Harness::start(kind).await;
    h.answer(Answer::text(ANSWER));
    let body = greeting(api, false);
    let answer = api.call(&h, &body).await;
    let request = h.last_request();
    if api.native(kind) {
        assert_passed_through(&h, api, &request, &body, Op::Chat);
    } else {
        assert_addressed(&h, &request, Op::Chat);
        assert_system_and_question(kind, &request.json());
    }
    answer
}

async fn messages_plain(kind: Kind) {
    let answer = plain(kind, Api::Messages).await;
    assert_eq!(answer["type"], "message", "{answer}");
    assert_eq!(answer["role"], "assistant", "{answer}");
    let text = json!([{"type": "text", "text": ANSWER}]);
    assert_eq!(answer["content"], text, "{answer}");
    assert_eq!(answer["stop_reason"], "end_turn", "{answer}");
    let usage = &answer["usage"];
    assert_eq!(usage["input_tokens"], PROMPT_TOKENS, "{answer}");
    assert_eq!(usage["output_tokens"], COMPLETION_TOKENS, "{answer}");
}

async fn responses_plain(kind: Kind) {
    let answer = plain(kind, Api::Responses).await;
    assert_eq!(answer["object"], "response", "{answer}");
    assert_eq!(answer["status"], "completed", "{answer}");
    let output = answer["output"].as_array().expect("an output list");
    let messages: Vec<&Value> = output.iter().filter(|i| i["type"] == "message").collect();
    assert_eq!(messages.len(), 1, "{answer}");
    assert_eq!(messages[0]["role"], "assistant", "{answer}");
    assert_eq!(messages[0]["content"][0]["type"], "output_text", "{answer}");
    assert_eq!(messages[0]["content"][0]["text"], ANSWER, "{answer}");
    let usage = &answer["usage"];
    assert_eq!(usage["input_tokens"], PROMPT_TOKENS, "{answer}");
    assert_eq!(usage["output_tokens"], COMPLETION_TOKENS, "{answer}");
    assert_eq!(
        usage["total_tokens"],
        PROMPT_TOKENS + COMPLETION_TOKENS,
        "{answer}"
    );
}

async fn gemini_plain(kind: Kind) {
    let answer = plain(kind, Api::Gemini).await;
    let candidate = &answer["candidates"][0];
    let content = json!({"role": "model", "parts": [{"text": ANSWER}]});
    assert_eq!(candidate["content"], content, "{answer}");
    assert_eq!(candidate["finishReason"], "STOP", "{answer}");
    assert_gemini_usage(&answer["usageMetadata"]);
}

fn assert_gemini_usage(usage: &Value) {
    assert_eq!(usage["promptTokenCount"], PROMPT_TOKENS, "{usage}");
    assert_eq!(usage["candidatesTokenCount"], COMPLETION_TOKENS, "{usage}");
    let total = PROMPT_TOKENS + COMPLETION_TOKENS;
    assert_eq!(usage["totalTokenCount"], total, "{usage}");
}

/// Starts a streaming case: the scripted answer, the request, and the provider's request
/// checked; returns the client's response to read and the harness, which must outlive it.
async fn streaming(kind: Kind, api: Api) -> (Harness, reqwest::Response) {
    let h = Harness::start(kind).await;
    h.answer(Answer::text(STREAMED));
    let body = greeting(api, true);
    let request = api.request(&h, &body, true).await;
    let response = request.send().await.expect("the stream's headers arrive");
    assert_eq!(response.status(), 200, "{api:?} stream on {kind:?}");
    (h, response)
}

/// Checks the provider's request of a streaming case, once the stream was read.
fn assert_stream_request(h: &Harness, api: Api) {
    let request = h.last_request();
    if api.native(h.kind) {
        assert_passed_through(h, api, &request, &greeting(api, true), Op::Stream);
    } else {
        assert_addressed(h, &request, Op::Stream);
        assert_system_and_question(h.kind, &request.json());
    }
}

async fn messages_stream(kind: Kind) {
    let (h, response) = streaming(kind, Api::Messages).await;
    let events = anthropic_events(response).await;
    // Anthropic's keep-alive `ping`s may come anywhere; they carry nothing.
    let events: Vec<&(String, Value)> = events.iter().filter(|(n, _)| n != "ping").collect();
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    let mut expected = vec!["message_start", "content_block_start"];
    expected.extend(["content_block_delta"; 4]);
    expected.extend(["content_block_stop", "message_delta", "message_stop"]);
    assert_eq!(names, expected, "{events:?}");
    let text: String = events
        .iter()
        .filter_map(|(_, data)| data["delta"]["text"].as_str())
        .collect();
    assert_eq!(text, STREAMED);
    let start = &events[0].1["message"];
    let end = &events[events.len() - 2].1;
    assert_eq!(end["delta"]["stop_reason"], "end_turn", "{end}");
    let input = match &end["usage"]["input_tokens"] {
        Value::Null => &start["usage"]["input_tokens"],
        counted => counted,
    };
    assert_eq!(*input, PROMPT_TOKENS, "{start} {end}");
    assert_eq!(end["usage"]["output_tokens"], COMPLETION_TOKENS, "{end}");
    assert_stream_request(&h, Api::Messages);
}

async fn responses_stream(kind: Kind) {
    let (h, response) = streaming(kind, Api::Responses).await;
    // The reader checks that `sequence_number`s count up from 0 and nothing follows the end.
    let stream = ResponsesStream::read(response).await;
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ];
    expected.extend(["response.output_text.delta"; 4]);
    expected.extend([
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(stream.names(), expected);
    assert_eq!(stream.text(), STREAMED);
    let completed = stream.completed();
    assert_eq!(completed["status"], "completed", "{completed}");
    let usage = &completed["usage"];
    assert_eq!(usage["input_tokens"], PROMPT_TOKENS, "{usage}");
    assert_eq!(usage["output_tokens"], COMPLETION_TOKENS, "{usage}");
    assert_stream_request(&h, Api::Responses);
}

/// A Gemini API stream's chunks, checking its framing: only `data:` lines of JSON objects, no
/// `[DONE]`, and a `finishReason` on the last chunk only.
async fn gemini_chunks(response: reqwest::Response) -> Vec<Value> {
    let content_type = response.headers().get("content-type").cloned();
    let content_type = content_type.and_then(|v| v.to_str().map(str::to_owned).ok());
    assert!(
        content_type
            .as_deref()
            .is_some_and(|t| t.starts_with("text/event-stream")),
        "{content_type:?}"
    );
    let events = SseReader::new(response).collect_all().await;
    let chunks: Vec<Value> = events
        .iter()
        .map(|event| {
            assert!(!event.is_done(), "Gemini streams have no [DONE]");
            for line in event.raw.lines() {
                assert!(line.starts_with("data: "), "a line {line:?}");
            }
            let chunk = event.json();
            assert!(chunk.is_object() && chunk.get("error").is_none(), "{chunk}");
            chunk
        })
        .collect();
    let (last, rest) = chunks.split_last().expect("a stream with chunks");
    assert!(last["candidates"][0]["finishReason"].is_string(), "{last}");
    for chunk in rest {
        assert!(
            chunk["candidates"][0].get("finishReason").is_none(),
            "{chunk}"
        );
    }
    chunks
}

/// Every part of the first candidate, across all chunks.
fn gemini_parts(chunks: &[Value]) -> Vec<Value> {
    chunks
        .iter()
        .flat_map(|c| c["candidates"][0]["content"]["parts"].as_array().cloned())
        .flatten()
        .collect()
}

async fn gemini_stream(kind: Kind) {
    let (h, response) = streaming(kind, Api::Gemini).await;
    let chunks = gemini_chunks(response).await;
    let text: String = gemini_parts(&chunks)
        .iter()
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, STREAMED, "{chunks:?}");
    let last = chunks.last().expect("chunks");
    assert_eq!(last["candidates"][0]["finishReason"], "STOP", "{last}");
    assert_gemini_usage(&last["usageMetadata"]);
    assert_stream_request(&h, Api::Gemini);
}

/// The weather tool in OpenAI's shape, the form every translation goes through; Gemini takes
/// no `additionalProperties`, so the schema has none.
fn weather_parameters() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

fn openai_weather_tool() -> Value {
    json!([{"type": "function", "function": {"name": "get_weather",
        "description": "Current weather", "parameters": weather_parameters()}}])
}

fn arguments() -> Value {
    json!({"city": "Paris"})
}

/// One API's half of the tool round trip: the declaration, reading the call from the answer,
/// and the follow-up carrying the call and its result.
struct ToolCase {
    api: Api,
}

impl ToolCase {
    fn request(&self, history: Value) -> Value {
        let parameters = weather_parameters();
        let (name, description) = ("get_weather", "Current weather");
        match self.api {
            Api::Messages => json!({"model": MODEL, "max_tokens": 256, "messages": history,
                "tools": [{"name": name, "description": description, "input_schema": parameters}]}),
            Api::Responses => json!({"model": MODEL, "input": history, "tools": [
                {"type": "function", "name": name, "description": description, "parameters": parameters},
            ]}),
            Api::Gemini => json!({"contents": history, "tools": [{"functionDeclarations": [
                {"name": name, "description": description, "parameters": parameters},
            ]}]}),
        }
    }

    fn question(&self) -> Value {
        match self.api {
            Api::Messages | Api::Responses => json!({"role": "user", "content": WEATHER}),
            Api::Gemini => json!({"role": "user", "parts": [{"text": WEATHER}]}),
        }
    }

    /// Asserts the answer holds the one call in this API's shape; returns the call as the
    /// follow-up repeats it and its id (Gemini's calls have none).
    fn read_call(&self, answer: &Value, id: &str) -> (Value, String) {
        match self.api {
            Api::Messages => {
                assert_eq!(answer["stop_reason"], "tool_use", "{answer}");
                let block = answer["content"]
                    .as_array()
                    .and_then(|c| c.iter().find(|b| b["type"] == "tool_use"))
                    .unwrap_or_else(|| panic!("no tool_use block: {answer}"));
                let expected = json!({"type": "tool_use", "id": id, "name": "get_weather",
                    "input": arguments()});
                assert_eq!(*block, expected, "{answer}");
                let turn = json!({"role": "assistant", "content": [block]});
                (turn, id.to_owned())
            }
            Api::Responses => {
                let item = answer["output"]
                    .as_array()
                    .and_then(|o| o.iter().find(|i| i["type"] == "function_call"))
                    .unwrap_or_else(|| panic!("no function_call item: {answer}"));
                assert_eq!(item["call_id"], id, "{answer}");
                assert_eq!(item["name"], "get_weather", "{answer}");
                let text = item["arguments"].as_str().expect("arguments text");
                let parsed: Value = serde_json::from_str(text).expect("JSON arguments");
                assert_eq!(parsed, arguments(), "{answer}");
                let call = json!({"type": "function_call", "call_id": id, "name": "get_weather",
                    "arguments": text});
                (call, id.to_owned())
            }
            Api::Gemini => {
                let candidate = &answer["candidates"][0];
                let part = &candidate["content"]["parts"][0];
                let call = &part["functionCall"];
                assert_eq!(call["name"], "get_weather", "{answer}");
                assert_eq!(call["args"], arguments(), "{answer}");
                let turn = json!({"role": "model", "parts": [
                    {"functionCall": {"name": "get_weather", "args": arguments()}},
                ]});
                (turn, String::new())
            }
        }
    }

    fn result(&self, id: &str) -> Value {
        match self.api {
            Api::Messages => json!({"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": id, "content": TOOL_RESULT},
            ]}),
            Api::Responses => {
                json!({"type": "function_call_output", "call_id": id, "output": TOOL_RESULT})
            }
            Api::Gemini => json!({"role": "user", "parts": [{"functionResponse":
                {"name": "get_weather", "response": {"temp_c": 21}}}]}),
        }
    }
}

/// The id of the one tool call in a provider's assistant turn.
fn provider_call_id(kind: Kind, turn: &Value) -> String {
    let id = match kind {
        Kind::OpenAi | Kind::Azure | Kind::Cohere => &turn["tool_calls"][0]["id"],
        Kind::Anthropic => &turn["content"][0]["id"],
        Kind::Bedrock => &turn["content"][0]["toolUse"]["toolUseId"],
        Kind::Gemini | Kind::Vertex => return String::new(),
    };
    id.as_str()
        .unwrap_or_else(|| panic!("no call id in {turn}"))
        .to_owned()
}

/// The tool round trip: the declaration reaches the provider in its protocol, the provider's call
/// reaches the client in its API, and the client's result reaches the provider in its protocol.
async fn tools(kind: Kind, api: Api) {
    let h = Harness::start(kind).await;
    let case = ToolCase { api };
    let call = ToolCall::new("toolu_01A", "get_weather", arguments());
    h.answer(Answer::tool_calls(vec![call]));
    let body = case.request(json!([case.question()]));
    let answer = api.call(&h, &body).await;
    let request = h.last_request();
    let native = api.native(kind);
    if native {
        assert_passed_through(&h, api, &request, &body, Op::Chat);
    } else {
        let sent = request.json();
        let declared = kind.tools(&openai_weather_tool(), "get_weather");
        assert_eq!(kind.tools_of(&sent)[0], declared[0], "{sent}");
    }
    let (call, id) = case.read_call(&answer, &kind.call_id(0, "toolu_01A"));

    h.answer(Answer::text(FORECAST));
    let follow_up = case.request(json!([case.question(), call, case.result(&id)]));
    let answer = api.call(&h, &follow_up).await;
    let text = match api {
        Api::Messages => &answer["content"][0]["text"],
        Api::Responses => &answer["output"][0]["content"][0]["text"],
        Api::Gemini => &answer["candidates"][0]["content"]["parts"][0]["text"],
    };
    assert_eq!(text, FORECAST, "{answer}");
    let request = h.last_request();
    if native {
        return assert_passed_through(&h, api, &request, &follow_up, Op::Chat);
    }
    assert_addressed(&h, &request, Op::Chat);
    let turns = kind.conversation(&request.json());
    let turns = turns.as_array().expect("a conversation");
    let [.., call_turn, result_turn] = turns.as_slice() else {
        panic!("a conversation of {} turns: {turns:?}", turns.len());
    };
    // A Gemini client's call has no id: the gateway makes one up, the same for call and result.
    let id = if id.is_empty() {
        provider_call_id(kind, call_turn)
    } else {
        id
    };
    let expected = kind.tool_call_turn(&id, "get_weather", &arguments());
    let mut call_turn = call_turn.clone();
    if matches!(kind, Kind::OpenAi | Kind::Azure) && call_turn["content"] == "" {
        // An empty text beside the calls is as good as none in OpenAI's chat API.
        call_turn["content"] = Value::Null;
    }
    assert_eq!(
        with_parsed_arguments(&call_turn),
        with_parsed_arguments(&expected),
        "the call as the provider received it"
    );
    let expected = kind.tool_result_turn(&id, "get_weather", TOOL_RESULT);
    assert_eq!(
        *result_turn, expected,
        "the result as the provider received it"
    );
}

async fn messages_tools(kind: Kind) {
    tools(kind, Api::Messages).await;
}

async fn responses_tools(kind: Kind) {
    tools(kind, Api::Responses).await;
}

async fn gemini_tools(kind: Kind) {
    tools(kind, Api::Gemini).await;
}
