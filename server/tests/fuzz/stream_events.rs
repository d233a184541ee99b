//! Generators of stream events and items: OpenAI chunks as stream items, and each newer
//! protocol's own stream events (ConverseStream as the transcoder writes it, Cohere v2's, the
//! Responses API's, Gemini's), shaped like the real ones and now and then broken.

use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;
use switchyard::sse::SseEvent;
use switchyard::stream::StreamItem;
use switchyard::usage::Usage;

use crate::{Json, REASONS, count, json_value, list, obj, string, text, words};

/// A small index (the usual case: a few choices or calls), or any count.
fn index() -> Json {
    prop_oneof![
        8 => (0u64..3).prop_map(Value::from),
        1 => count(),
    ]
    .boxed()
}

/// A piece of streamed text: short words, blanks, or anything.
fn piece() -> Json {
    prop_oneof![
        4 => words(&["Hel", "lo", "", " ", "\n", "{\"a\":", "1}", "é"]),
        1 => text(),
    ]
    .boxed()
}

fn chunk_tool_call() -> Json {
    obj(vec![
        ("index", index()),
        ("id", words(&["call_1", "call_2", ""])),
        ("type", words(&["function"])),
        (
            "function",
            obj(vec![
                ("name", words(&["get_weather", "shell", ""])),
                ("arguments", piece()),
            ]),
        ),
    ])
}

/// A `chat.completion.chunk`, the stream items' chunks.
fn chat_chunk() -> Json {
    let delta = obj(vec![
        ("role", words(&["assistant"])),
        ("content", piece()),
        ("reasoning_content", piece()),
        ("reasoning", piece()),
        ("refusal", piece()),
        ("tool_calls", list(chunk_tool_call())),
    ]);
    obj(vec![
        ("id", words(&["chatcmpl-1", "resp_1", ""])),
        ("created", count()),
        ("model", text()),
        (
            "choices",
            list(obj(vec![
                ("index", index()),
                ("delta", delta),
                ("finish_reason", words(REASONS)),
            ])),
        ),
    ])
}

pub fn stream_item() -> impl Strategy<Value = StreamItem> {
    prop_oneof![
        12 => chat_chunk().prop_map(StreamItem::Chunk),
        2 => (any::<u64>(), any::<u64>(), 0u64..100).prop_map(|(prompt, completion, reasoning)| {
            StreamItem::Usage(Usage {
                prompt_tokens: prompt,
                completion_tokens: completion,
                reasoning_tokens: reasoning,
                ..Usage::default()
            })
        }),
        1 => Just(()).prop_map(|()| StreamItem::Done),
        1 => crate::error().prop_map(|e| StreamItem::Error(e.get("error").cloned().unwrap_or(e))),
    ]
}

/// One SSE event: `event: <name>` (when there is one) and the data as one line.
fn sse(name: Option<&str>, data: &str) -> SseEvent {
    let mut raw = String::new();
    if let Some(name) = name {
        raw.push_str(&format!("event: {}\n", name.replace(['\r', '\n'], " ")));
    }
    raw.push_str(&format!("data: {}\n\n", data.replace(['\r', '\n'], " ")));
    SseEvent {
        raw: Bytes::from(raw),
    }
}

/// An event named by its protocol's `kind` (usually) or by anything, its data the JSON of
/// `data` (usually), `[DONE]`, or any text.
fn named_event(kind: Json, data: Json) -> impl Strategy<Value = SseEvent> {
    let name = prop_oneof![
        6 => Just(None),
        1 => string().prop_map(Some),
    ];
    let body = prop_oneof![
        16 => data.prop_map(|d| d.to_string()),
        1 => Just("[DONE]".to_owned()),
        1 => string(),
    ];
    (kind, name, body, any::<bool>()).prop_map(|(kind, other, body, named)| {
        let name = match (named, kind.as_str()) {
            (true, Some(kind)) => Some(kind.to_owned()),
            _ => other,
        };
        sse(name.as_deref(), &body)
    })
}

#[rustfmt::skip]
const BEDROCK_EVENTS: &[&str] = &[
    "messageStart", "contentBlockStart", "contentBlockDelta", "contentBlockStop", "messageStop",
    "metadata", "exception",
];

/// A ConverseStream event as the event-stream transcoder writes it.
pub fn bedrock_event() -> impl Strategy<Value = SseEvent> {
    let input = words(&["{\"city\":", "\"Paris\"}", "", "{}"]);
    let payload = obj(vec![
        ("role", words(&["assistant"])),
        ("contentBlockIndex", index()),
        (
            "delta",
            obj(vec![
                ("text", piece()),
                (
                    "reasoningContent",
                    obj(vec![("text", piece()), ("signature", text())]),
                ),
                ("toolUse", obj(vec![("input", input)])),
            ]),
        ),
        (
            "start",
            obj(vec![(
                "toolUse",
                obj(vec![("toolUseId", text()), ("name", text())]),
            )]),
        ),
        (
            "stopReason",
            words(&["end_turn", "tool_use", "max_tokens", "guardrail_intervened"]),
        ),
        (
            "usage",
            obj(vec![
                ("inputTokens", count()),
                ("outputTokens", count()),
                ("cacheReadInputTokens", count()),
                ("cacheWriteInputTokens", count()),
            ]),
        ),
        (
            "__type",
            words(&["throttlingException", "modelStreamErrorException"]),
        ),
        ("message", text()),
    ]);
    (words(BEDROCK_EVENTS), payload).prop_map(|(name, payload)| {
        let name = name.as_str().unwrap_or("x").to_owned();
        sse(Some(&name), &payload.to_string())
    })
}

#[rustfmt::skip]
const COHERE_EVENTS: &[&str] = &[
    "message-start", "content-start", "content-delta", "content-end", "tool-plan-delta",
    "tool-call-start", "tool-call-delta", "tool-call-end", "citation-start", "message-end",
];

/// A Cohere v2 chat stream event.
pub fn cohere_event() -> impl Strategy<Value = SseEvent> {
    let call = obj(vec![
        ("id", text()),
        ("type", words(&["function"])),
        (
            "function",
            obj(vec![("name", text()), ("arguments", piece())]),
        ),
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
    let message = obj(vec![
        (
            "content",
            obj(vec![
                ("type", words(&["text", "thinking"])),
                ("text", piece()),
                ("thinking", piece()),
            ]),
        ),
        ("tool_plan", piece()),
        ("tool_calls", prop_oneof![call.clone(), list(call)].boxed()),
    ]);
    let kind = words(COHERE_EVENTS);
    let data = (
        kind.clone(),
        obj(vec![
            ("id", text()),
            ("index", index()),
            (
                "delta",
                obj(vec![
                    ("message", message),
                    (
                        "finish_reason",
                        words(&["COMPLETE", "TOOL_CALL", "MAX_TOKENS", "ERROR", "TIMEOUT"]),
                    ),
                    ("usage", usage),
                    ("error", text()),
                ]),
            ),
            ("message", text()),
        ]),
        any::<bool>(),
    )
        .prop_map(|(kind, mut data, typed)| {
            if typed && let Some(object) = data.as_object_mut() {
                object.insert("type".into(), kind);
            }
            data
        })
        .boxed();
    named_event(kind, data)
}

#[rustfmt::skip]
const RESPONSES_EVENTS: &[&str] = &[
    "response.created", "response.in_progress", "response.output_item.added",
    "response.output_text.delta", "response.completed", "response.incomplete",
    "response.failed", "error",
];

/// A Responses API stream event from a provider that speaks it.
pub fn responses_event() -> impl Strategy<Value = SseEvent> {
    let usage = obj(vec![
        ("input_tokens", count()),
        ("output_tokens", count()),
        (
            "input_tokens_details",
            obj(vec![("cached_tokens", count())]),
        ),
        (
            "output_tokens_details",
            obj(vec![("reasoning_tokens", count())]),
        ),
    ]);
    let kind = words(RESPONSES_EVENTS);
    let data = obj(vec![
        ("type", kind.clone()),
        ("sequence_number", count()),
        ("response", obj(vec![("usage", usage), ("status", text())])),
        ("code", text()),
        ("message", text()),
    ]);
    named_event(kind, data)
}

/// A Gemini `streamGenerateContent?alt=sse` event.
pub fn gemini_event() -> impl Strategy<Value = SseEvent> {
    let candidate = obj(vec![
        (
            "content",
            obj(vec![
                ("role", words(&["model"])),
                (
                    "parts",
                    list(obj(vec![
                        ("text", piece()),
                        ("thought", json_value().boxed()),
                    ])),
                ),
            ]),
        ),
        ("finishReason", words(REASONS)),
        ("index", index()),
    ]);
    let data = obj(vec![
        ("candidates", list(candidate)),
        (
            "usageMetadata",
            obj(vec![
                ("promptTokenCount", count()),
                ("candidatesTokenCount", count()),
                ("thoughtsTokenCount", count()),
            ]),
        ),
        (
            "promptFeedback",
            obj(vec![("blockReason", words(&["SAFETY", "OTHER"]))]),
        ),
        (
            "error",
            obj(vec![
                ("code", count()),
                ("message", text()),
                ("status", text()),
            ]),
        ),
    ]);
    named_event(Just(Value::Null).boxed(), data)
}
