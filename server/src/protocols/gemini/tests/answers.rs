//! Tests of the answers to Gemini clients: chat completions and streams written as Gemini's
//! GenerateContentResponse, and round trips through the outbound translation.

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};

use crate::protocols::gemini::inbound::{GeminiEncoder, from_chat};
use crate::sse::SseParser;
use crate::stream::{ChunkBuilder, Decoder, Encoder, StreamItem};
use crate::usage::Usage;

fn completion(message: Value, finish: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 7, "total_tokens": 17,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 5}},
    })
}

#[test]
fn a_text_answer() {
    let answer = from_chat(
        &completion(json!({"role": "assistant", "content": "Hello."}), "stop"),
        "gemini-2.5-flash",
    );
    assert_eq!(
        answer,
        json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello."}]},
                "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 2,
                "totalTokenCount": 17, "cachedContentTokenCount": 4, "thoughtsTokenCount": 5},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "chatcmpl-1",
        })
    );
    // Usage::from_gemini reads back what was written.
    assert_eq!(
        Usage::from_gemini(&answer["usageMetadata"]),
        Usage {
            prompt_tokens: 10,
            completion_tokens: 7,
            cached_prompt_tokens: 4,
            reasoning_tokens: 5,
            cache_write_tokens: 0
        }
    );
}

#[test]
fn tool_calls_reasoning_and_finish_reasons() {
    let message = json!({
        "role": "assistant", "content": null, "reasoning_content": "Two cities.",
        "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
            {"id": "call_b", "type": "function", "function": {"name": "now", "arguments": ""}},
            {"id": "call_c", "type": "function", "function": {"name": "broken", "arguments": "{\"city\":"}},
        ],
    });
    let answer = from_chat(&completion(message, "tool_calls"), "m");
    assert_eq!(
        answer["candidates"][0],
        json!({"content": {"role": "model", "parts": [
            {"text": "Two cities.", "thought": true},
            {"functionCall": {"id": "call_a", "name": "get_weather", "args": {"city": "Paris"}}},
            {"functionCall": {"id": "call_b", "name": "now", "args": {}}},
            {"functionCall": {"id": "call_c", "name": "broken", "args": {}}},
        ]}, "finishReason": "STOP", "index": 0})
    );
    let cut = from_chat(
        &completion(
            json!({"role": "assistant", "content": "Once upon"}),
            "length",
        ),
        "m",
    );
    assert_eq!(cut["candidates"][0]["finishReason"], "MAX_TOKENS");
    let filtered = from_chat(
        &completion(
            json!({"role": "assistant", "content": ""}),
            "content_filter",
        ),
        "m",
    );
    assert_eq!(filtered["candidates"][0]["finishReason"], "SAFETY");
    assert_eq!(
        filtered["candidates"][0]["content"]["parts"],
        json!([{"text": ""}]),
        "a candidate always has a part"
    );
}

#[test]
fn an_answer_survives_the_trip_through_gemini() {
    let message = json!({"role": "assistant", "content": "Let me check.", "reasoning_content": "Hmm.",
        "tool_calls": [{"id": "call_0", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]});
    let original = completion(message.clone(), "tool_calls");
    let (back, usage) =
        crate::protocols::gemini::response(&from_chat(&original, "gpt-4o"), "gpt-4o");
    assert_eq!(back["choices"][0]["message"], message);
    assert_eq!(back["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(Some(usage), Usage::from_openai(&original["usage"]));
}

/// Encodes `items` and parses each `data:` event back.
fn encode(items: Vec<StreamItem>) -> (String, Vec<Value>) {
    let mut encoder = GeminiEncoder::new("gemini-2.5-flash");
    let mut out = BytesMut::new();
    for item in items {
        encoder.item(item, &mut out);
    }
    let text = String::from_utf8(out.to_vec()).expect("text");
    let events = text
        .split_terminator("\n\n")
        .map(|event| {
            let data = event.strip_prefix("data: ").expect("data events only");
            serde_json::from_str(data).expect("JSON")
        })
        .collect();
    (text, events)
}

fn chunks() -> ChunkBuilder {
    ChunkBuilder {
        id: "chatcmpl-9".into(),
        model: "gpt-4o".into(),
        created: 1,
    }
}

fn usage() -> Usage {
    Usage {
        prompt_tokens: 5,
        completion_tokens: 3,
        ..Usage::default()
    }
}

#[test]
fn a_text_stream() {
    let c = chunks();
    let (_, events) = encode(vec![
        StreamItem::Chunk(c.chunk(json!({"role": "assistant", "content": ""}), None)),
        StreamItem::Chunk(c.chunk(json!({"reasoning_content": "Greet."}), None)),
        StreamItem::Chunk(c.chunk(json!({"content": "Hel"}), None)),
        StreamItem::Chunk(c.chunk(json!({"content": "lo"}), None)),
        StreamItem::Chunk(c.chunk(json!({}), Some("stop"))),
        StreamItem::Usage(usage()),
        StreamItem::Done,
        StreamItem::Chunk(c.chunk(json!({"content": "late"}), None)),
    ]);
    let text = |text: &str| {
        json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
            "modelVersion": "gemini-2.5-flash", "responseId": "chatcmpl-9"})
    };
    assert_eq!(
        events,
        [
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": "Greet.", "thought": true}]}, "index": 0}],
                "modelVersion": "gemini-2.5-flash", "responseId": "chatcmpl-9"}),
            text("Hel"),
            text("lo"),
            json!({"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
                    "finishReason": "STOP", "index": 0}],
                "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
                "modelVersion": "gemini-2.5-flash", "responseId": "chatcmpl-9"}),
        ]
    );
}

#[test]
fn a_tool_call_stream() {
    let c = chunks();
    let call = |index: u64, head: Option<(&str, &str)>, arguments: &str| {
        let mut call = json!({"index": index, "function": {"arguments": arguments}});
        if let Some((id, name)) = head {
            call["id"] = json!(id);
            call["type"] = json!("function");
            call["function"]["name"] = json!(name);
        }
        StreamItem::Chunk(c.chunk(json!({"tool_calls": [call]}), None))
    };
    let (_, events) = encode(vec![
        StreamItem::Chunk(c.chunk(json!({"role": "assistant", "content": null}), None)),
        call(0, Some(("call_p", "get_weather")), ""),
        call(0, None, "{\"city\":"),
        call(0, None, "\"Paris\"}"),
        call(1, Some(("call_r", "get_weather")), "{\"city\":\"Rome\"}"),
        StreamItem::Chunk(c.chunk(json!({}), Some("tool_calls"))),
        StreamItem::Usage(usage()),
        StreamItem::Done,
    ]);
    assert_eq!(
        events,
        [json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"id": "call_p", "name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "call_r", "name": "get_weather", "args": {"city": "Rome"}}},
            ]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 3, "totalTokenCount": 8},
            "modelVersion": "gemini-2.5-flash", "responseId": "chatcmpl-9",
        })]
    );
}

#[test]
fn a_stream_error_is_googles_error_chunk() {
    let c = chunks();
    let (text, events) = encode(vec![
        StreamItem::Chunk(c.chunk(json!({"content": "Hi"}), None)),
        StreamItem::Error(crate::stream::truncated()),
        StreamItem::Done,
    ]);
    assert_eq!(events.len(), 2, "nothing after the error");
    // google-genai recognises an error chunk by its first key.
    let last = text.split_terminator("\n\n").last().expect("an event");
    assert!(last.starts_with("data: {\"error\":"), "{last}");
    assert_eq!(events[1]["error"]["code"], 502);
    assert_eq!(events[1]["error"]["status"], "UNAVAILABLE");
    let (_, limited) = encode(vec![StreamItem::Error(crate::stream::stream_error(
        "Rate limit reached.",
        "tokens",
        "rate_limit_exceeded",
    ))]);
    assert_eq!(
        limited,
        [
            json!({"error": {"code": 429, "message": "Rate limit reached.", "status": "RESOURCE_EXHAUSTED"}})
        ]
    );
}

#[test]
fn a_gemini_stream_decoded_and_encoded_again_keeps_its_meaning() {
    let upstream = concat!(
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"Paris \"}],\"role\": \"model\"},\"index\": 0}],\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\r\n\r\n",
        "data: {\"candidates\": [{\"content\": {\"parts\": [{\"functionCall\": {\"name\": \"get_weather\",\"args\": {\"city\": \"Paris\"}}}],\"role\": \"model\"},\"finishReason\": \"STOP\",\"index\": 0}],\"usageMetadata\": {\"promptTokenCount\": 12,\"candidatesTokenCount\": 4,\"totalTokenCount\": 16},\"modelVersion\": \"gemini-2.5-flash\",\"responseId\": \"r1\"}\r\n\r\n",
    );
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(Bytes::from_static(upstream.as_bytes()), &mut events)
        .expect("parses");
    let mut decoder = crate::protocols::gemini::GeminiDecoder::new("gemini-2.5-flash");
    let mut items = Vec::new();
    for event in &events {
        decoder.event(event, &mut items);
    }
    let (_, events) = encode(items);
    assert_eq!(events.len(), 2);
    assert_eq!(
        events[0]["candidates"][0]["content"]["parts"],
        json!([{"text": "Paris "}])
    );
    let last = &events[1];
    assert_eq!(last["responseId"], "r1");
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(
        last["candidates"][0]["content"]["parts"],
        json!([{"functionCall": {"id": "call_0", "name": "get_weather", "args": {"city": "Paris"}}}])
    );
    assert_eq!(
        last["usageMetadata"],
        json!({"promptTokenCount": 12, "candidatesTokenCount": 4, "totalTokenCount": 16})
    );
}
