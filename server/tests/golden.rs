//! Golden-file tests of every protocol translation: each file under `tests/golden/` holds an
//! input and the reviewed expected output. `UPDATE_GOLDEN=1 cargo test -p switchyard --test golden`
//! rewrites the expectations; review the diff before committing it.

use std::path::{Path, PathBuf};

use bytes::{Bytes, BytesMut};
use serde_json::{Value, json};
use switchyard::protocols::anthropic::AnthropicEncoder;
use switchyard::protocols::anthropic::inbound as messages_api;
use switchyard::protocols::openai::{OpenAiDecoder, OpenAiEncoder};
use switchyard::protocols::{anthropic, gemini};
use switchyard::sse::{SseEvent, SseParser};
use switchyard::stream::{Decoder, Encoder, StreamItem};

// The golden files of the newer protocols, each module beside its JSON files (a test crate's
// root resolves `mod` paths in `tests/` itself, hence the `path` attributes).
#[path = "golden/bedrock.rs"]
mod bedrock;
#[path = "golden/cohere.rs"]
mod cohere;
#[path = "golden/gemini_inbound.rs"]
mod gemini_inbound;
#[path = "golden/responses.rs"]
mod responses;

/// Removes the fields that change on every run (`created` timestamps), marks the Responses API's
/// `completed_at` (the time of the translation) as `<now>`, and numbers the random ids.
fn normalise(value: &mut Value) {
    let mut ids = Vec::new();
    normalise_in(value, &mut ids);
}

fn normalise_in(value: &mut Value, ids: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            map.remove("created");
            if let Some(completed_at) = map.get_mut("completed_at").filter(|v| v.is_u64()) {
                *completed_at = Value::from("<now>");
            }
            map.values_mut().for_each(|v| normalise_in(v, ids));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| normalise_in(v, ids)),
        Value::String(text) => {
            if let Some(numbered) = random_id(text, ids) {
                *text = numbered;
            }
        }
        _ => {}
    }
}

/// A fresh random id (`msg_` and 32 hex digits from the Responses API translation,
/// `chatcmpl-bedrock-` and 16 from Bedrock's) as `<prefix>_<random n>`, numbered in order of
/// first appearance so that a golden file still shows which events name the same item.
fn random_id(text: &str, ids: &mut Vec<String>) -> Option<String> {
    let (prefix, hex) = text
        .rsplit_once('_')
        .filter(|(_, hex)| hex.len() == 32)
        .map(|(prefix, hex)| (format!("{prefix}_"), hex))
        .or_else(|| {
            text.rsplit_once('-')
                .filter(|(prefix, hex)| *prefix == "chatcmpl-bedrock" && hex.len() == 16)
                .map(|(prefix, hex)| (format!("{prefix}-"), hex))
        })?;
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let n = match ids.iter().position(|id| id == text) {
        Some(n) => n,
        None => {
            ids.push(text.to_owned());
            ids.len() - 1
        }
    };
    Some(format!("{prefix}<random {n}>"))
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Runs `translate` on the file's `input` and compares with its `expected`.
fn check(name: &str, translate: impl Fn(&Value) -> Value) {
    let path = golden_dir().join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut case: Value = serde_json::from_str(&text).expect("golden file is JSON");
    let mut actual = translate(&case["input"]);
    normalise(&mut actual);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        case["expected"] = actual;
        let pretty = serde_json::to_string_pretty(&case).expect("serialises");
        std::fs::write(&path, pretty + "\n").expect("write golden file");
        return;
    }
    assert_eq!(
        actual,
        case["expected"],
        "{name}: translation differs from the golden file\nactual:\n{}",
        serde_json::to_string_pretty(&actual).unwrap_or_default()
    );
}

/// Feeds the input's raw SSE text (a list of chunks, split as the network might) through a
/// decoder and encoder, and returns what the client would read, event by event.
fn run_stream(input: &Value, decoder: Box<dyn Decoder>, encoder: Box<dyn Encoder>) -> Value {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    for chunk in input["chunks"].as_array().expect("chunks") {
        let chunk = chunk.as_str().expect("chunk text");
        parser
            .push(Bytes::copy_from_slice(chunk.as_bytes()), &mut events)
            .expect("events within the size limit");
    }
    events.extend(parser.finish());
    run_events(&events, decoder, encoder)
}

/// Decodes upstream events and encodes them for the client; returns what the client would read,
/// event by event.
fn run_events(
    events: &[SseEvent],
    mut decoder: Box<dyn Decoder>,
    mut encoder: Box<dyn Encoder>,
) -> Value {
    let mut items = Vec::new();
    for event in events {
        decoder.event(event, &mut items);
    }
    if !decoder.finished() {
        items.push(StreamItem::Error(switchyard::stream::truncated()));
    }
    let mut out = BytesMut::new();
    for item in items {
        encoder.item(item, &mut out);
    }
    let mut client_parser = SseParser::default();
    let mut client_events = Vec::new();
    client_parser
        .push(out.freeze(), &mut client_events)
        .expect("events within the size limit");
    as_json(&client_events)
}

/// Events as JSON: each event's data (parsed when it is JSON), with its name when it has one.
fn as_json(events: &[SseEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|event| {
                let data = event.data();
                let data = serde_json::from_str::<Value>(&data)
                    .unwrap_or_else(|_| Value::from(data.as_ref()));
                match event.name() {
                    Some(name) => json!({"event": name, "data": data}),
                    None => data,
                }
            })
            .collect(),
    )
}

#[test]
fn openai_to_anthropic_request() {
    check("openai_to_anthropic_request", |input| {
        anthropic::request(input, "claude-sonnet-4-5", 4096).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn openai_to_anthropic_request_with_tools_and_images() {
    check("openai_to_anthropic_tools_images", |input| {
        anthropic::request(input, "claude-sonnet-4-5", 1024).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn anthropic_to_openai_response() {
    check("anthropic_to_openai_response", |input| {
        anthropic::response(input).0
    });
}

#[test]
fn anthropic_stream_to_openai_chunks() {
    check("anthropic_stream_to_openai", |input| {
        run_stream(
            input,
            Box::new(anthropic::AnthropicDecoder::default()),
            Box::new(OpenAiEncoder::new(true)),
        )
    });
}

#[test]
fn anthropic_stream_without_message_stop_ends_with_an_error() {
    check("anthropic_stream_truncated", |input| {
        run_stream(
            input,
            Box::new(anthropic::AnthropicDecoder::default()),
            Box::new(OpenAiEncoder::new(false)),
        )
    });
}

#[test]
fn openai_to_gemini_request() {
    check("openai_to_gemini_request", |input| {
        gemini::request(input).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn gemini_to_openai_response() {
    check("gemini_to_openai_response", |input| {
        gemini::response(input, "gemini-2.5-flash").0
    });
}

#[test]
fn gemini_stream_to_openai_chunks() {
    check("gemini_stream_to_openai", |input| {
        run_stream(
            input,
            Box::new(gemini::GeminiDecoder::new("gemini-2.5-flash")),
            Box::new(OpenAiEncoder::new(true)),
        )
    });
}

#[test]
fn gemini_embeddings_both_ways() {
    check("gemini_embeddings", |input| {
        json!({
            "request": gemini::embeddings_request(&input["request"], "text-embedding-004").unwrap_or_else(|e| json!({"error": e})),
            "response": gemini::embeddings_response(&input["response"], "text-embedding-004"),
        })
    });
}

#[test]
fn anthropic_inbound_request_to_openai() {
    check("messages_to_openai_request", |input| {
        messages_api::to_openai(input).unwrap_or_else(|e| json!({"error": e}))
    });
}

#[test]
fn openai_response_to_anthropic_inbound() {
    check("openai_to_messages_response", |input| {
        messages_api::from_openai_response(input, "deepseek-chat").0
    });
}

#[test]
fn openai_stream_to_anthropic_events() {
    check("openai_stream_to_messages", |input| {
        run_stream(
            input,
            Box::new(OpenAiDecoder::default()),
            Box::new(AnthropicEncoder::new("deepseek-chat")),
        )
    });
}

#[test]
fn usage_items_are_reported_by_every_decoder() {
    // A stream item list must carry usage for metering whatever the client asked.
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    let stream = Bytes::from_static(b"data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n");
    parser
        .push(stream, &mut events)
        .expect("events within the size limit");
    let mut decoder = OpenAiDecoder::default();
    let mut items = Vec::new();
    for event in &events {
        decoder.event(event, &mut items);
    }
    assert!(
        matches!(items.first(), Some(StreamItem::Usage(u)) if u.prompt_tokens == 3 && u.completion_tokens == 2)
    );
    assert_eq!(items.last(), Some(&StreamItem::Done));
}
