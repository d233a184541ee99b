//! The stream codecs of the newer protocols: every encoder on any sequence of stream items (with
//! the Responses API's and Gemini's own stream rules checked), the Bedrock and Cohere decoders on
//! their own events, and the Responses and Gemini pass-through stages.

use std::collections::HashSet;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use serde_json::Value;
use switchyard::protocols::anthropic::AnthropicEncoder;
use switchyard::protocols::bedrock::BedrockDecoder;
use switchyard::protocols::cohere::CohereDecoder;
use switchyard::protocols::gemini::{GeminiEncoder, GeminiPassthrough};
use switchyard::protocols::openai::OpenAiEncoder;
use switchyard::protocols::responses::{RequestEcho, ResponsesEncoder, ResponsesPassthrough};
use switchyard::proxy::ProxyError;
use switchyard::sse::{SseEvent, SseParser};
use switchyard::stream::{Decoder, Encoder, SseStage, StreamItem, Verdict};

use crate::stream_events::{
    bedrock_event, cohere_event, gemini_event, responses_event, stream_item,
};
use crate::{check_client_stream, clone_item, config, json_value, string};

// ---------------------------------------------------------------------------------------------
// Checks

fn encoders(model: &str) -> Vec<Box<dyn Encoder>> {
    vec![
        Box::new(OpenAiEncoder::new(true)),
        Box::new(AnthropicEncoder::new(model)),
        Box::new(ResponsesEncoder::new(model)),
        Box::new(GeminiEncoder::new(model)),
    ]
}

fn encode(encoder: &mut dyn Encoder, items: &[StreamItem]) -> BytesMut {
    let mut out = BytesMut::new();
    for item in items {
        encoder.item(clone_item(item), &mut out);
    }
    out
}

fn events_of(out: &BytesMut) -> Vec<SseEvent> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(Bytes::copy_from_slice(out), &mut events)
        .expect("events within the size limit");
    events
}

fn json_of(event: &SseEvent) -> Result<Value, TestCaseError> {
    serde_json::from_str(&event.data()).map_err(|e| TestCaseError::fail(format!("{e}: {event:?}")))
}

/// Whether the items end the stream (a client must then see its final event).
fn ends(items: &[StreamItem]) -> bool {
    items
        .iter()
        .any(|item| matches!(item, StreamItem::Done | StreamItem::Error(_)))
}

/// The Responses API's stream rules: each event is named by its `type`, numbered from 0, every
/// item event names an item announced before it at its own output index, and a final event
/// (`response.completed`, `.incomplete` or `.failed`) is the last, and comes once the items end.
fn check_responses_stream(out: &BytesMut, ended: bool) -> Result<(), TestCaseError> {
    let events = events_of(out);
    let mut items = HashSet::new();
    let mut last_kind = String::new();
    for (n, event) in events.iter().enumerate() {
        prop_assert!(
            last_kind.is_empty() || !is_final(&last_kind),
            "after the end"
        );
        let data = json_of(event)?;
        let kind = data["type"].as_str().unwrap_or_default();
        prop_assert_eq!(event.name(), Some(kind));
        prop_assert_eq!(data["sequence_number"].as_u64(), Some(n as u64));
        if n == 0 {
            prop_assert_eq!(kind, "response.created");
        }
        if kind == "response.output_item.added" {
            prop_assert_eq!(data["output_index"].as_u64(), Some(items.len() as u64));
            let id = data["item"]["id"].as_str().unwrap_or_default().to_owned();
            prop_assert!(items.insert(id), "a new item id");
        } else if let Some(id) = data.get("item_id").and_then(Value::as_str) {
            prop_assert!(items.contains(id), "{} names an unknown item", kind);
        }
        kind.clone_into(&mut last_kind);
    }
    if ended {
        prop_assert!(is_final(&last_kind), "the stream ends with {}", last_kind);
    }
    Ok(())
}

fn is_final(kind: &str) -> bool {
    matches!(
        kind,
        "response.completed" | "response.incomplete" | "response.failed"
    )
}

/// Gemini's stream rules: unnamed events whose data is a GenerateContentResponse, each candidate
/// a model turn with at least one part (google-genai drops a turn without), and the final event
/// (the finish reasons, or an error) last, once the items end.
fn check_gemini_stream(out: &BytesMut, ended: bool) -> Result<(), TestCaseError> {
    let events = events_of(out);
    let mut over = false;
    for event in &events {
        prop_assert!(!over, "an event after the end");
        prop_assert_eq!(event.name(), None);
        let data = json_of(event)?;
        if data.get("error").is_some() {
            over = true;
            continue;
        }
        let candidates = data["candidates"].as_array();
        prop_assert!(candidates.is_some(), "no candidates: {}", data);
        for candidate in candidates.into_iter().flatten() {
            prop_assert_eq!(&candidate["content"]["role"], "model");
            let parts = candidate["content"]["parts"].as_array();
            prop_assert!(parts.is_some_and(|p| !p.is_empty()), "{}", candidate);
            over |= candidate.get("finishReason").is_some();
        }
    }
    if ended {
        prop_assert!(over, "the stream has no final event");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn encoders_never_panic_on_any_items(
        items in proptest::collection::vec(stream_item(), 0..10),
        model in string(),
        request in prop_oneof![crate::request(), json_value()],
    ) {
        for mut encoder in encoders(&model) {
            check_client_stream(encode(encoder.as_mut(), &items))?;
        }
        let ended = ends(&items);
        let mut responses = ResponsesEncoder::with_echo(&model, RequestEcho::new(&request));
        check_responses_stream(&encode(&mut responses, &items), ended)?;
        check_gemini_stream(&encode(&mut GeminiEncoder::new(&model), &items), ended)?;
    }

    #[test]
    fn bedrock_and_cohere_decoders_never_panic(
        bedrock in proptest::collection::vec(bedrock_event(), 0..10),
        cohere in proptest::collection::vec(cohere_event(), 0..10),
        model in string(),
    ) {
        let runs: [(Box<dyn Decoder>, &Vec<SseEvent>); 2] = [
            (Box::new(BedrockDecoder::new(&model)), &bedrock),
            (Box::new(CohereDecoder::new(&model)), &cohere),
        ];
        for (mut decoder, events) in runs {
            let mut items = Vec::new();
            for event in events {
                let (finished, before) = (decoder.finished(), items.len());
                decoder.event(event, &mut items);
                prop_assert!(!finished || items.len() == before, "items after the end");
            }
            // The end (Done or an error) is the last item, and the decoder knows it ended.
            if let Some(at) = items.iter().position(|i| matches!(i, StreamItem::Done | StreamItem::Error(_))) {
                prop_assert_eq!(at, items.len() - 1);
                prop_assert!(decoder.finished());
            }
            if !decoder.finished() {
                items.push(StreamItem::Error(switchyard::stream::truncated()));
            }
            for mut encoder in encoders(&model) {
                check_client_stream(encode(encoder.as_mut(), &items))?;
            }
            check_responses_stream(&encode(&mut ResponsesEncoder::new(&model), &items), true)?;
            check_gemini_stream(&encode(&mut GeminiEncoder::new(&model), &items), true)?;
        }
    }

    #[test]
    fn responses_and_gemini_passthroughs_never_panic(
        responses in proptest::collection::vec(responses_event(), 0..8),
        gemini in proptest::collection::vec(gemini_event(), 0..8),
        fails in any::<bool>(),
    ) {
        let runs: [StageRun<'_>; 2] = [
            (Box::new(ResponsesPassthrough::default()), &responses, responses_final),
            (Box::new(GeminiPassthrough::default()), &gemini, gemini_final),
        ];
        for (mut stage, events, is_end) in runs {
            let mut out = BytesMut::new();
            let mut over = false;
            for event in events {
                let mut replacement = BytesMut::new();
                let verdict = stage.event(event, &mut replacement);
                // Once the answer has ended, nothing more reaches the client.
                prop_assert!(!over || (verdict == Verdict::Replace && replacement.is_empty()));
                match verdict {
                    Verdict::Forward => {
                        out.extend_from_slice(&event.raw);
                        over |= is_end(event);
                    }
                    Verdict::Replace => {
                        over |= !replacement.is_empty();
                        out.extend_from_slice(&replacement);
                    }
                }
            }
            let error = fails.then(|| ProxyError::BadUpstreamResponse("cut".into()));
            stage.end(error, &mut out);
            let _ = stage.usage();
            check_client_stream(out)?;
        }
    }
}

/// A stage, the events it is fed, and which forwarded events end the answer.
type StageRun<'a> = (Box<dyn SseStage>, &'a Vec<SseEvent>, fn(&SseEvent) -> bool);

fn data_of(event: &SseEvent) -> Value {
    serde_json::from_str(event.data().trim()).unwrap_or_default()
}

/// A forwarded Responses API event that ends the answer: a final event, named by the event's
/// name or else by its data's `type`. (After an `error` event OpenAI's `response.failed` still
/// follows, so an `error` does not end it here; nor does a `[DONE]`, whatever its name.)
fn responses_final(event: &SseEvent) -> bool {
    if event.data().trim() == "[DONE]" {
        return false;
    }
    match event.name() {
        Some(name) => is_final(name),
        None => data_of(event)["type"].as_str().is_some_and(is_final),
    }
}

/// A forwarded Gemini event after which nothing more belongs to the answer: an error.
fn gemini_final(event: &SseEvent) -> bool {
    data_of(event).get("error").is_some_and(|e| !e.is_null())
}
