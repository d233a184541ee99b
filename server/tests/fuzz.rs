//! Fuzzing of every parser that reads untrusted bytes — the SSE parser, the request peek, each
//! protocol translator, the stream decoders and the stream stages — as property tests.
//!
//! Why proptest and not cargo-fuzz: cargo-fuzz needs a nightly toolchain, and these must run on
//! stable Rust in the normal test suite, in bounded time (the case counts below keep this file
//! to seconds in a debug build). The inputs are random on every run, so the suite keeps exploring;
//! a failure prints the (shrunk) input. For a longer session, or to replay one:
//! `PROPTEST_CASES=20000 cargo test -p switchyard --test fuzz`, `PROPTEST_RNG_SEED=<seed> …`.
//!
//! JSON inputs are drawn from the field names and values the translators look for, so that
//! random values reach deep into them instead of stopping at the first missing field. Every crash
//! input found is kept below as a plain regression test.
//!
//! The newer protocols' parsers (the Responses API, the inbound Gemini API, Bedrock with its
//! event-stream transcoder, Vertex, Cohere, and the multipart and Gemini peeks) have their
//! properties in `fuzz/*.rs`; every protocol also goes through `translate_everything` here.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};
use switchyard::protocols::anthropic::inbound as messages_api;
use switchyard::protocols::anthropic::{AnthropicEncoder, AnthropicPassthrough};
use switchyard::protocols::openai::{OpenAiDecoder, OpenAiEncoder, OpenAiPassthrough};
use switchyard::protocols::{RequestSettings, anthropic, cohere, gemini, responses};
use switchyard::proxy::ProxyError;
use switchyard::proxy::request::{peek, rewrite_model, with_include_usage};
use switchyard::sse::{EventTooLarge, SseEvent, SseParser};
use switchyard::stream::{Decoder, Encoder, SseStage, StreamItem, Translated, Verdict};
use switchyard_shared::Protocol;

// The parsers of the newer protocols, one module each beside this file (a test crate's root
// resolves `mod` paths in `tests/` itself, hence the `path` attributes).
#[path = "fuzz/bedrock.rs"]
mod bedrock;
#[path = "fuzz/chat.rs"]
mod chat;
#[path = "fuzz/cohere.rs"]
mod cohere_api;
#[path = "fuzz/gemini_inbound.rs"]
mod gemini_inbound;
#[path = "fuzz/keys.rs"]
mod keys;
#[path = "fuzz/multipart.rs"]
mod multipart;
#[path = "fuzz/responses.rs"]
mod responses_api;
#[path = "fuzz/stream_events.rs"]
mod stream_events;
#[path = "fuzz/streams.rs"]
mod streams;

/// `cases` runs per property, unless `PROPTEST_CASES` asks for another number. Failures are not
/// written to files: a crash input becomes a regression test in this file instead.
fn config(cases: u32) -> ProptestConfig {
    let default = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            default.cases
        } else {
            cases
        },
        failure_persistence: None,
        ..default
    }
}

// ---------------------------------------------------------------------------------------------
// Generators

#[rustfmt::skip]
const KEYS: &[&str] = &[
    "model", "messages", "role", "content", "type", "text", "image_url", "url", "tool_calls",
    "function", "name", "arguments", "id", "tool_call_id", "stop", "tools", "parameters",
    "description", "tool_choice", "parallel_tool_calls", "max_tokens", "max_completion_tokens",
    "temperature", "top_p", "top_k", "stream", "stream_options", "include_usage", "user",
    "response_format", "json_schema", "schema", "system", "input_schema", "tool_use_id", "source",
    "media_type", "data", "metadata", "user_id", "stop_sequences", "disable_parallel_tool_use",
    "usage", "prompt_tokens", "completion_tokens", "input_tokens", "output_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens", "prompt_tokens_details",
    "cached_tokens", "completion_tokens_details", "reasoning_tokens", "choices", "message", "delta",
    "finish_reason", "index", "reasoning_content", "candidates", "parts", "functionCall", "args",
    "thought", "finishReason", "usageMetadata", "promptTokenCount", "candidatesTokenCount",
    "thoughtsTokenCount", "cachedContentTokenCount", "responseId", "modelVersion", "embeddings",
    "values", "input", "dimensions", "error", "status", "code", "stop_reason", "content_block",
    "partial_json", "thinking", "n", "seed", "signature", "additionalProperties", "$schema",
    "created", "object", "contents", "functionDeclarations", "systemInstruction",
    "functionResponse", "response", "inlineData", "fileData",
];

#[rustfmt::skip]
const STRINGS: &[&str] = &[
    "user", "assistant", "system", "developer", "tool", "model", "text", "image_url", "image",
    "tool_use", "tool_result", "thinking", "base64", "url", "function", "none", "required", "auto",
    "any", "json_object", "json_schema", "message_start", "content_block_start",
    "content_block_delta", "content_block_stop", "message_delta", "message_stop", "ping", "error",
    "text_delta", "thinking_delta", "input_json_delta", "STOP", "MAX_TOKENS", "SAFETY",
    "RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", "stop", "length", "tool_calls", "end_turn",
    "max_tokens", "refusal", "msg_1", "call_1", "gpt-4o", "[DONE]", "{}", "{\"a\":1}", "[1]", "{",
    "", " ", ".", "..", "data:image/png;base64,AAAA", "data:", "data:x,y", "data:;base64,",
    "https://example.com/a.PNG", "http://", "overloaded_error", "rate_limit_error", "\u{0}", "é",
    "\u{10ffff}", "\n\n", "data: x\n\n",
];

/// A string: mostly the words the translators look for, sometimes anything.
fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0u64..10).prop_map(Value::from),
        Just(Value::from(u64::MAX)),
        Just(Value::from(i64::MIN)),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        string().prop_map(Value::String),
    ]
}

/// Any JSON value, with the field names the protocols use.
fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(KEYS).prop_map(str::to_owned),
                    inner
                ),
                0..6
            )
            .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

#[rustfmt::skip]
const ROLES: &[&str] = &[
    "system", "developer", "user", "assistant", "tool", "user", "assistant", "model",
];

/// The `type` of a content part or block.
#[rustfmt::skip]
const PART_TYPES: &[&str] = &[
    "text", "image_url", "image", "tool_use", "tool_result", "thinking", "redacted_thinking",
    "function", "input_audio",
];

/// The `type` of an event, a source, a tool choice, a response format or an error.
#[rustfmt::skip]
const TYPES: &[&str] = &[
    "message_start", "content_block_start", "content_block_delta", "content_block_stop",
    "message_delta", "message_stop", "ping", "error", "text_delta", "thinking_delta",
    "input_json_delta", "signature_delta", "tool_use", "text", "base64", "url", "function",
    "json_object", "json_schema", "tool", "any", "auto", "none", "overloaded_error",
];

#[rustfmt::skip]
const REASONS: &[&str] = &[
    "stop", "length", "tool_calls", "content_filter", "function_call", "end_turn", "max_tokens",
    "tool_use", "refusal", "STOP", "MAX_TOKENS", "SAFETY", "RECITATION", "OTHER",
];

#[rustfmt::skip]
const URLS: &[&str] = &[
    "data:image/png;base64,AAAA", "data:image/png,AAAA", "data:", "data:;base64,", "data:x",
    "https://example.com/cat.PNG", "https://example.com/a.webp", "http://x", "ftp://x", "",
];

type Json = BoxedStrategy<Value>;

/// One of `list` (usually) or any value.
fn words(list: &'static [&'static str]) -> Json {
    prop_oneof![
        12 => proptest::sample::select(list).prop_map(Value::from),
        1 => json_value(),
    ]
    .boxed()
}

fn text() -> Json {
    prop_oneof![
        6 => string().prop_map(Value::from),
        1 => json_value(),
    ]
    .boxed()
}

fn count() -> Json {
    prop_oneof![
        6 => number(),
        1 => json_value(),
    ]
    .boxed()
}

fn list(item: Json) -> Json {
    prop_oneof![
        16 => proptest::collection::vec(item, 0..4).prop_map(Value::Array),
        1 => json_value(),
    ]
    .boxed()
}

fn either(a: Json, b: Json) -> Json {
    prop_oneof![a, b].boxed()
}

/// An object with the protocol's `fields` (each usually present), plus a few random ones.
fn obj(fields: Vec<(&'static str, Json)>) -> Json {
    obj_with(Vec::new(), fields)
}

/// An object with all of `required`, most of `fields`, and a few random ones.
fn obj_with(required: Vec<(&'static str, Json)>, fields: Vec<(&'static str, Json)>) -> Json {
    let fields: Vec<_> = required
        .into_iter()
        .map(|(key, value)| value.prop_map(move |v| Some((key, v))).boxed())
        .chain(fields.into_iter().map(|(key, value)| {
            proptest::option::weighted(0.6, value.prop_map(move |v| (key, v))).boxed()
        }))
        .collect();
    let noise = proptest::collection::vec((proptest::sample::select(KEYS), leaf()), 0..2);
    (fields, noise)
        .prop_map(|(fields, noise)| {
            let mut object = Map::new();
            for (key, value) in noise.into_iter().chain(fields.into_iter().flatten()) {
                object.insert(key.to_owned(), value);
            }
            Value::Object(object)
        })
        .boxed()
}

/// JSON text (as tool arguments carry it), or not quite.
fn json_text() -> Json {
    prop_oneof![
        3 => schema().prop_map(|v| Value::from(v.to_string())),
        1 => string().prop_map(Value::from),
        1 => json_value(),
    ]
    .boxed()
}

/// A JSON Schema-ish object (tool parameters, response schemas).
fn schema() -> Json {
    json_value()
        .prop_map(|v| json!({"type": "object", "properties": {"a": v}, "additionalProperties": false, "$schema": "x"}))
        .boxed()
}

fn usage() -> Json {
    obj(vec![
        ("prompt_tokens", count()),
        ("completion_tokens", count()),
        (
            "prompt_tokens_details",
            obj(vec![("cached_tokens", count())]),
        ),
        (
            "completion_tokens_details",
            obj(vec![("reasoning_tokens", count())]),
        ),
        ("input_tokens", count()),
        ("output_tokens", count()),
        ("cache_read_input_tokens", count()),
        ("cache_creation_input_tokens", count()),
        ("promptTokenCount", count()),
        ("candidatesTokenCount", count()),
        ("thoughtsTokenCount", count()),
        ("cachedContentTokenCount", count()),
    ])
}

fn tool_call() -> Json {
    obj(vec![
        ("id", text()),
        ("index", count()),
        ("type", words(TYPES)),
        (
            "function",
            obj(vec![("name", text()), ("arguments", json_text())]),
        ),
    ])
}

/// A content part or block in any protocol (OpenAI parts, Anthropic blocks, Gemini parts).
fn part(depth: u32) -> Json {
    let nested = if depth == 0 {
        text()
    } else {
        either(text(), list(part(depth - 1)))
    };
    obj(vec![
        ("type", words(PART_TYPES)),
        ("text", text()),
        (
            "image_url",
            either(obj(vec![("url", words(URLS))]), words(URLS)),
        ),
        (
            "source",
            obj(vec![
                ("type", words(TYPES)),
                ("media_type", text()),
                ("data", text()),
                ("url", words(URLS)),
            ]),
        ),
        ("id", text()),
        ("name", text()),
        ("input", schema()),
        ("tool_use_id", text()),
        ("content", nested),
        ("thinking", text()),
        (
            "thought",
            either(
                any::<bool>().prop_map(Value::Bool).boxed(),
                json_value().boxed(),
            ),
        ),
        (
            "functionCall",
            obj(vec![("name", text()), ("args", schema())]),
        ),
    ])
}

/// A message in any protocol: OpenAI's, Anthropic's, a Gemini content, or a stream delta.
fn message() -> Json {
    obj_with(
        vec![("role", words(ROLES))],
        vec![
            (
                "content",
                prop_oneof![text(), Just(Value::Null).boxed(), list(part(1))].boxed(),
            ),
            ("parts", list(part(0))),
            ("tool_calls", list(tool_call())),
            ("tool_call_id", text()),
            ("reasoning_content", text()),
        ],
    )
}

/// An OpenAI chat request, or an Anthropic Messages request (they share most field names).
fn request() -> Json {
    obj_with(
        vec![("messages", list(message()))],
        vec![
            ("model", text()),
            ("system", either(text(), list(part(0)))),
            ("max_tokens", count()),
            ("max_completion_tokens", count()),
            ("temperature", count()),
            ("stop", either(text(), list(text()))),
            ("stop_sequences", list(text())),
            ("stream", any::<bool>().prop_map(Value::Bool).boxed()),
            ("user", text()),
            ("metadata", obj(vec![("user_id", text())])),
            (
                "tools",
                list(obj(vec![
                    ("type", words(TYPES)),
                    ("name", text()),
                    ("description", text()),
                    ("input_schema", schema()),
                    (
                        "function",
                        obj(vec![
                            ("name", text()),
                            ("description", text()),
                            ("parameters", schema()),
                        ]),
                    ),
                ])),
            ),
            (
                "tool_choice",
                either(
                    words(&["none", "required", "auto", "any"]),
                    obj(vec![
                        ("type", words(TYPES)),
                        ("name", text()),
                        (
                            "disable_parallel_tool_use",
                            any::<bool>().prop_map(Value::Bool).boxed(),
                        ),
                        ("function", obj(vec![("name", text())])),
                    ]),
                ),
            ),
            (
                "parallel_tool_calls",
                any::<bool>().prop_map(Value::Bool).boxed(),
            ),
            (
                "response_format",
                obj(vec![
                    ("type", words(TYPES)),
                    ("json_schema", obj(vec![("schema", schema())])),
                ]),
            ),
            ("input", either(text(), list(text()))),
            ("dimensions", count()),
        ],
    )
}

/// A response (or stream chunk or event) in any protocol.
fn response() -> Json {
    obj(vec![
        ("id", text()),
        ("type", words(TYPES)),
        ("model", text()),
        ("index", count()),
        (
            "choices",
            list(obj(vec![
                ("index", count()),
                ("message", message()),
                ("delta", message()),
                ("finish_reason", words(REASONS)),
            ])),
        ),
        ("content", list(part(1))),
        ("content_block", part(0)),
        (
            "delta",
            obj(vec![
                ("type", words(TYPES)),
                ("text", text()),
                ("thinking", text()),
                ("partial_json", json_text()),
                ("stop_reason", words(REASONS)),
            ]),
        ),
        (
            "message",
            obj(vec![("id", text()), ("model", text()), ("usage", usage())]),
        ),
        ("stop_reason", words(REASONS)),
        ("usage", usage()),
        ("responseId", text()),
        ("modelVersion", text()),
        (
            "candidates",
            list(obj(vec![
                ("content", message()),
                ("finishReason", words(REASONS)),
                ("index", count()),
            ])),
        ),
        ("usageMetadata", usage()),
        ("embeddings", list(obj(vec![("values", list(count()))]))),
    ])
}

/// An error body or event in any protocol.
fn error() -> Json {
    obj(vec![
        ("type", words(TYPES)),
        (
            "error",
            obj(vec![
                ("type", words(TYPES)),
                ("message", text()),
                (
                    "status",
                    words(&["RESOURCE_EXHAUSTED", "INVALID_ARGUMENT", "NOT_FOUND"]),
                ),
                ("code", count()),
            ]),
        ),
    ])
}

/// A JSON body of the kinds the gateway reads: requests, responses, or anything.
fn json_object() -> Json {
    prop_oneof![
        4 => request(),
        4 => response(),
        1 => error(),
        1 => json_value(),
    ]
    .boxed()
}

/// Bytes that look like an SSE stream: field names, separators, line ends and anything else.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"data:".to_vec()),
        Just(b"event: ".to_vec()),
        Just(b": comment".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"{\"a\":1}".to_vec()),
        Just(b"[DONE]".to_vec()),
        Just(b"x".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(token, 0..40).prop_map(|tokens| tokens.concat())
}

/// One upstream event: a name or none, and data that is JSON (usually) or anything.
fn sse_event() -> impl Strategy<Value = SseEvent> {
    let data = prop_oneof![
        16 => response().prop_map(|v| v.to_string()),
        1 => request().prop_map(|v| v.to_string()),
        1 => error().prop_map(|v| v.to_string()),
        1 => json_value().prop_map(|v| v.to_string()),
        1 => string(),
    ];
    let name = proptest::option::of(
        words(TYPES)
            .prop_map(|v| v.as_str().unwrap_or("x").to_owned())
            .prop_filter("one line", |s| !s.contains(['\n', '\r'])),
    );
    (name, data, any::<bool>()).prop_map(|(name, data, split)| {
        let mut raw = String::new();
        if let Some(name) = name {
            raw.push_str(&format!("event: {name}\n"));
        }
        // One data line per line of the text, and sometimes more (cut at commas).
        for line in data.split(|c| c == '\n' || (split && c == ',')) {
            raw.push_str(&format!("data: {line}\n"));
        }
        raw.push('\n');
        SseEvent {
            raw: Bytes::from(raw),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// The SSE parser

/// What a parser makes of `bytes` fed in pieces cut at `cuts`: the events, the error if any,
/// and the final event left without a blank line.
fn parse_in_pieces(
    bytes: &[u8],
    cuts: &[usize],
    limit: usize,
) -> (Vec<Bytes>, Option<EventTooLarge>, Option<Bytes>) {
    let mut parser = SseParser::with_limit(limit);
    let mut events = Vec::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(bytes.len());
    points.sort_unstable();
    let mut from = 0;
    for to in points {
        if let Err(error) = parser.push(Bytes::copy_from_slice(&bytes[from..to]), &mut events) {
            return (
                events.into_iter().map(|e| e.raw).collect(),
                Some(error),
                None,
            );
        }
        from = to;
    }
    let last = parser.finish().map(|e| e.raw);
    (events.into_iter().map(|e| e.raw).collect(), None, last)
}

fn read_every_field(event: &SseEvent) {
    let _ = event.name();
    let _ = event.data();
    let _ = event.has_fields();
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn sse_split_anywhere_gives_the_same_events(
        bytes in sse_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        limit in prop_oneof![Just(usize::MAX), 1usize..48],
    ) {
        let whole = parse_in_pieces(&bytes, &[], limit);
        let pieces = parse_in_pieces(&bytes, &cuts, limit);
        prop_assert_eq!(&whole, &pieces);
        // The events are the stream's own bytes, in order, each within the limit.
        let (events, error, last) = whole;
        let mut joined: Vec<u8> = events.iter().flat_map(|e| e.to_vec()).collect();
        if error.is_none() {
            joined.extend(last.iter().flat_map(|e| e.to_vec()));
        }
        prop_assert!(bytes.starts_with(&joined));
        if error.is_none() && last.is_some() {
            prop_assert_eq!(joined.len(), bytes.len());
        }
        prop_assert!(events.iter().all(|e| e.len() <= limit));
        for raw in events {
            read_every_field(&SseEvent { raw });
        }
    }

    #[test]
    fn sse_never_panics_on_any_bytes(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
    ) {
        let mut parser = SseParser::with_limit(100);
        let mut events = Vec::new();
        for chunk in chunks {
            if parser.push(Bytes::from(chunk), &mut events).is_err() {
                break;
            }
        }
        events.extend(parser.finish());
        events.iter().for_each(read_every_field);
    }
}

// ---------------------------------------------------------------------------------------------
// The request peek

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn peek_never_panics_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = peek(&bytes);
    }

    #[test]
    fn peek_never_panics_on_any_json(value in json_value(), pretty in any::<bool>()) {
        let body = if pretty {
            serde_json::to_vec_pretty(&value)
        } else {
            serde_json::to_vec(&value)
        }
        .expect("serialises");
        let _ = peek(&body);
    }

    #[test]
    fn peek_finds_the_model_and_rewrites_only_it(
        mut body in prop_oneof![request(), response()],
        model in string(),
        stream in proptest::option::of(any::<bool>()),
        target in string(),
        pretty in any::<bool>(),
    ) {
        let object = body.as_object_mut().expect("an object");
        object.insert("model".into(), Value::from(model.as_str()));
        object.remove("stream");
        object.remove("stream_options");
        if let Some(stream) = stream {
            object.insert("stream".into(), Value::Bool(stream));
        }
        let bytes = Bytes::from(if pretty {
            serde_json::to_vec_pretty(&body)
        } else {
            serde_json::to_vec(&body)
        }
        .expect("serialises"));
        let peeked = match peek(&bytes) {
            Err(ProxyError::InvalidModel(_)) if model == "." || model == ".." => return Ok(()),
            other => other.expect("a valid body peeks"),
        };
        prop_assert_eq!(&peeked.model, &model);
        prop_assert_eq!(peeked.stream, stream == Some(true));
        // The span is the model's JSON string, and a rewrite changes that and nothing else.
        let span = peeked.model_span.clone();
        let spanned: String = serde_json::from_slice(&bytes[span.clone()]).expect("a JSON string");
        prop_assert_eq!(&spanned, &model);
        let rewritten = rewrite_model(&bytes, span.clone(), &target);
        prop_assert_eq!(&rewritten[..span.start], &bytes[..span.start]);
        prop_assert!(rewritten.ends_with(&bytes[span.end..]));
        // (Compared with the original bytes read back: serde_json reads floats inexactly.)
        let mut expected: Value = serde_json::from_slice(&bytes).expect("JSON");
        expected["model"] = Value::from(target.as_str());
        let reparsed: Value = serde_json::from_slice(&rewritten).expect("still JSON");
        prop_assert_eq!(reparsed, expected);
        // Asking for usage keeps the body valid and the model where it was.
        let with_usage = with_include_usage(&bytes, peeked.has_stream_options);
        let again = peek(&with_usage).expect("still peeks");
        prop_assert!(again.include_usage);
        prop_assert_eq!(&again.model, &model);
    }
}

// ---------------------------------------------------------------------------------------------
// The protocol translators

/// Everything a translator produces is sent or returned as JSON text.
fn serialises(value: &Value) {
    let _ = serde_json::to_string(value).expect("a translation serialises");
}

fn translate_everything(value: &Value, model: &str, max_tokens: u32) {
    // OpenAI → Anthropic and back.
    if let Ok(request) = anthropic::request(value, model, max_tokens) {
        serialises(&request);
    }
    let (completion, _) = anthropic::response(value);
    serialises(&completion);
    // OpenAI → Gemini and back.
    if let Ok(request) = gemini::request(value) {
        serialises(&request);
    }
    let (completion, _) = gemini::response(value, model);
    serialises(&completion);
    if let Ok(request) = gemini::embeddings_request(value, model) {
        serialises(&request);
    }
    serialises(&gemini::embeddings_response(value, model));
    // Anthropic clients: their request → OpenAI → each provider, and an answer back.
    if let Ok(openai) = messages_api::to_openai(value) {
        serialises(&openai);
        if let Ok(request) = anthropic::request(&openai, model, max_tokens) {
            serialises(&request);
        }
        if let Ok(request) = gemini::request(&openai) {
            serialises(&request);
        }
    }
    let (answer, _) = messages_api::from_openai_response(value, model);
    serialises(&answer);
    let _ = messages_api::estimate_tokens(value);
    // The newer protocols, on the same values (each has a property of its own in `fuzz/`).
    protocols_translate(value, model, max_tokens);
    // Error bodies, read in every protocol.
    let text = value.to_string();
    for protocol in ALL_PROTOCOLS {
        read_error(protocol, text.as_bytes());
    }
}

/// Every provider protocol.
const ALL_PROTOCOLS: [Protocol; 7] = [
    Protocol::OpenAi,
    Protocol::AzureOpenAi,
    Protocol::Anthropic,
    Protocol::Gemini,
    Protocol::Bedrock,
    Protocol::Vertex,
    Protocol::Cohere,
];

/// Reads an error body in a protocol; a status it names must be an HTTP error status.
fn read_error(protocol: Protocol, body: &[u8]) {
    let error = switchyard::protocols::provider_protocol(protocol).error(body);
    assert!(
        error
            .status
            .is_none_or(|status| (400..600).contains(&status)),
        "{protocol:?} read status {:?} from {:?}",
        error.status,
        String::from_utf8_lossy(body)
    );
}

/// The provider side of every protocol through the exchange's trait (Bedrock, Vertex and
/// Cohere included), and the client side of the Responses and Gemini APIs, on one value.
fn protocols_translate(value: &Value, model: &str, max_tokens: u32) {
    let settings = RequestSettings {
        target: model,
        default_max_tokens: max_tokens,
    };
    for protocol in ALL_PROTOCOLS {
        let provider = switchyard::protocols::provider_protocol(protocol);
        if let Ok(request) = provider.chat_request(value.clone(), &settings) {
            serialises(&request);
        }
        serialises(&provider.chat_answer(value, model).0);
        if let Ok(request) = provider.embeddings_request(value, model) {
            serialises(&request);
        }
        serialises(&provider.embeddings_answer(value, model));
    }
    if let Ok(chat) = responses::to_chat(value) {
        assert!(chat["messages"].is_array(), "{chat}");
    }
    serialises(&responses::from_chat(value, model));
    if let Ok(chat) = gemini::inbound::to_chat(value, model, max_tokens.is_multiple_of(2)) {
        assert!(chat["messages"].is_array(), "{chat}");
    }
    serialises(&gemini::inbound::from_chat(value, model));
    let _ = gemini::inbound::estimate_tokens(value);
    let _ = cohere::answer_failure(value);
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn translators_never_panic(
        value in json_object(),
        model in string(),
        max_tokens in any::<u32>(),
    ) {
        translate_everything(&value, &model, max_tokens);
    }

    #[test]
    fn translators_never_panic_on_any_value(value in json_value(), model in string()) {
        translate_everything(&value, &model, 1);
    }

    #[test]
    fn error_bodies_never_panic_on_any_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..128),
        error_type in "[A-Za-z#:/.]{0,40}",
    ) {
        for protocol in ALL_PROTOCOLS {
            read_error(protocol, &bytes);
        }
        // Bedrock names an error's class in a header when its body does not.
        let mut headers = http::HeaderMap::new();
        headers.insert("x-amzn-errortype", http::HeaderValue::from_str(&error_type).expect("a header value"));
        let error = switchyard::protocols::provider_protocol(Protocol::Bedrock).error_answer(&headers, &bytes);
        prop_assert!(error.status.is_none_or(|status| (400..600).contains(&status)));
    }
}

// ---------------------------------------------------------------------------------------------
// The stream decoders, encoders and stages

fn decoders(model: &str) -> Vec<Box<dyn Decoder>> {
    vec![
        Box::new(anthropic::AnthropicDecoder::default()),
        Box::new(gemini::GeminiDecoder::new(model)),
        Box::new(OpenAiDecoder::default()),
    ]
}

fn encoders(model: &str, include_usage: bool) -> Vec<Box<dyn Encoder>> {
    vec![
        Box::new(OpenAiEncoder::new(include_usage)),
        Box::new(AnthropicEncoder::new(model)),
    ]
}

/// What a client reads must be whole events whose data is JSON (or OpenAI's `[DONE]`, or none).
fn check_client_stream(out: BytesMut) -> Result<(), TestCaseError> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(out.freeze(), &mut events)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert!(parser.is_empty(), "the output ends with a whole event");
    for event in events {
        let data = event.data();
        let data = data.trim();
        prop_assert!(
            data.is_empty() || data == "[DONE]" || serde_json::from_str::<Value>(data).is_ok(),
            "not JSON: {:?}",
            data
        );
    }
    Ok(())
}

/// Every stage: the pass-throughs, and each decoder with each encoder.
fn stages(model: &str) -> Vec<Box<dyn SseStage>> {
    let mut stages: Vec<Box<dyn SseStage>> = vec![
        Box::new(OpenAiPassthrough::new(true)),
        Box::new(OpenAiPassthrough::new(false)),
        Box::new(AnthropicPassthrough::default()),
    ];
    for which in 0..decoders(model).len() {
        for encoder in encoders(model, true) {
            let decoder = decoders(model).swap_remove(which);
            stages.push(Box::new(Translated::new(decoder, encoder)));
        }
    }
    stages
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn stream_decoders_never_panic(
        events in proptest::collection::vec(sse_event(), 0..8),
        model in string(),
        include_usage in any::<bool>(),
    ) {
        for mut decoder in decoders(&model) {
            let mut items = Vec::new();
            for event in &events {
                if decoder.finished() {
                    break;
                }
                decoder.event(event, &mut items);
            }
            if !decoder.finished() {
                items.push(StreamItem::Error(switchyard::stream::truncated()));
            }
            for mut encoder in encoders(&model, include_usage) {
                let mut out = BytesMut::new();
                for item in &items {
                    encoder.item(clone_item(item), &mut out);
                }
                check_client_stream(out)?;
            }
        }
    }

    #[test]
    fn stream_stages_never_panic(
        events in proptest::collection::vec(sse_event(), 0..8),
        model in string(),
        fails in any::<bool>(),
    ) {
        for mut stage in stages(&model) {
            let mut out = BytesMut::new();
            for event in &events {
                let mut replacement = BytesMut::new();
                match stage.event(event, &mut replacement) {
                    Verdict::Forward => out.extend_from_slice(&event.raw),
                    Verdict::Replace => out.extend_from_slice(&replacement),
                }
            }
            let error = fails.then(|| ProxyError::BadUpstreamResponse("cut".into()));
            stage.end(error, &mut out);
            let _ = stage.usage();
            check_client_stream(out)?;
        }
    }
}

fn clone_item(item: &StreamItem) -> StreamItem {
    match item {
        StreamItem::Chunk(chunk) => StreamItem::Chunk(chunk.clone()),
        StreamItem::Usage(usage) => StreamItem::Usage(*usage),
        StreamItem::Done => StreamItem::Done,
        StreamItem::Error(error) => StreamItem::Error(error.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// Regression inputs found by the properties above

// Each of these panicked ("attempt to add with overflow") before usage counts saturated; the
// properties above found them within a few dozen cases (shrunk inputs, lightly tidied).

/// What every decoder and every stage makes of `events`, run to the end.
fn run_stream(events: &[&'static str]) {
    let events: Vec<SseEvent> = events
        .iter()
        .map(|raw| SseEvent {
            raw: Bytes::from_static(raw.as_bytes()),
        })
        .collect();
    for mut decoder in decoders("m") {
        let mut items = Vec::new();
        for event in &events {
            decoder.event(event, &mut items);
        }
        for mut encoder in encoders("m", true) {
            let mut out = BytesMut::new();
            for item in &items {
                encoder.item(clone_item(item), &mut out);
            }
            check_client_stream(out).expect("a valid client stream");
        }
    }
    for mut stage in stages("m") {
        let mut out = BytesMut::new();
        for event in &events {
            let _ = stage.event(event, &mut out);
        }
        stage.end(None, &mut out);
        let _ = stage.usage();
    }
}

#[test]
fn regression_gemini_total_tokens_overflow() {
    // Found by translators_never_panic: OpenAI's total_tokens = prompt + completion.
    let value = json!({"usageMetadata": {"candidatesTokenCount": 1, "promptTokenCount": u64::MAX}});
    translate_everything(&value, "user", 0);
    let (completion, usage) = gemini::response(&value, "m");
    assert_eq!(usage.prompt_tokens, u64::MAX);
    assert_eq!(completion["usage"]["total_tokens"], u64::MAX);
}

#[test]
fn regression_gemini_stream_thoughts_overflow() {
    // Found by stream_decoders_never_panic: completion = candidates + thoughts.
    run_stream(&[
        "data: {\"usageMetadata\":{\"candidatesTokenCount\":18446744073709551615,\"thoughtsTokenCount\":18446744073709551615},\"candidates\":[{\"finishReason\":\"STOP\"}]}\n\n",
    ]);
}

#[test]
fn regression_anthropic_cache_tokens_overflow() {
    // Found by stream_stages_never_panic: prompt = input + cache reads + cache writes.
    run_stream(&[
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1,\"cache_read_input_tokens\":18446744073709551615,\"cache_creation_input_tokens\":18446744073709551615}}}\n\n",
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":18446744073709551615}}\n\n",
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
    ]);
    let (_, usage) = anthropic::response(&json!({"usage": {
        "input_tokens": u64::MAX, "cache_read_input_tokens": u64::MAX}}));
    assert_eq!(usage.prompt_tokens, u64::MAX);
}

#[test]
fn regression_dot_segment_models_are_refused_by_the_peek() {
    // Not a crash: `..` would have reached Azure's and Gemini's URL paths as a dot-segment.
    for body in [&br#"{"model":".."}"#[..], br#"{"model":"\u002e"}"#] {
        assert!(matches!(peek(body), Err(ProxyError::InvalidModel(_))));
    }
}

#[test]
fn deeply_nested_bodies_do_not_overflow_the_stack() {
    // The peek skips fields it does not read without recursing, and serde_json refuses to build
    // a value nested past 128 levels, so no hostile body recurses without bound.
    let nest = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let deep = format!(
        "{{\"model\":\"m\",\"x\":{},\"stream_options\":{}}}",
        nest(100_000),
        nest(100_000)
    );
    let peeked = peek(deep.as_bytes()).expect("valid JSON, read without recursing");
    assert_eq!(peeked.model, "m");
    assert!(!peeked.include_usage);
    let body = Bytes::from(deep);
    assert_eq!(with_include_usage(&body, true), body, "left as it is");
    assert!(serde_json::from_slice::<Value>(&body).is_err());
    let (mut nested, mut depth) = (json!({}), 0);
    while serde_json::from_str::<Value>(&nested.to_string()).is_ok() {
        nested = json!({"type": "object", "properties": {"a": nested}});
        depth += 1;
    }
    assert!(depth < 100, "the parser's depth limit holds");
}
