//! AWS Bedrock: the event-stream transcoder (AWS's binary frames as SSE) on any bytes and on
//! valid frames however they are split or corrupted, and the Converse translations. The
//! ConverseStream decoder is fuzzed in `fuzz/streams.rs`.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use serde_json::Value;
use switchyard::protocols::bedrock::{self, EventStreamTranscoder, MAX_FRAME_BYTES};
use switchyard::sse::SseParser;

use crate::chat::chat_request;
use crate::{config, json_value, string};

/// One header of a frame: a name and a typed value, encoded as AWS's event stream does.
#[derive(Clone, Debug)]
enum Header {
    Bool(bool),
    Byte(u8),
    Short(u16),
    Int(u32),
    Long(u64),
    Bytes(Vec<u8>),
    String(String),
    Timestamp(u64),
    Uuid([u8; 16]),
}

impl Header {
    fn encode(&self, name: &str, out: &mut Vec<u8>) {
        out.push(u8::try_from(name.len()).expect("a short name"));
        out.extend_from_slice(name.as_bytes());
        match self {
            Header::Bool(value) => out.push(if *value { 0 } else { 1 }),
            Header::Byte(value) => out.extend([2, *value]),
            Header::Short(value) => {
                out.push(3);
                out.extend(value.to_be_bytes());
            }
            Header::Int(value) => {
                out.push(4);
                out.extend(value.to_be_bytes());
            }
            Header::Long(value) => {
                out.push(5);
                out.extend(value.to_be_bytes());
            }
            Header::Bytes(value) => {
                out.push(6);
                out.extend(u16::try_from(value.len()).expect("short").to_be_bytes());
                out.extend_from_slice(value);
            }
            Header::String(value) => {
                out.push(7);
                out.extend(u16::try_from(value.len()).expect("short").to_be_bytes());
                out.extend_from_slice(value.as_bytes());
            }
            Header::Timestamp(value) => {
                out.push(8);
                out.extend(value.to_be_bytes());
            }
            Header::Uuid(value) => {
                out.push(9);
                out.extend_from_slice(value);
            }
        }
    }
}

/// A frame: its headers and payload, and the SSE event name the transcoder must give it (`None`
/// when it must refuse it).
#[derive(Clone, Debug)]
struct Frame {
    headers: Vec<(String, Header)>,
    payload: Vec<u8>,
    expected_name: Option<String>,
}

impl Frame {
    fn encode(&self) -> Vec<u8> {
        let mut block = Vec::new();
        for (name, header) in &self.headers {
            header.encode(name, &mut block);
        }
        let total = u32::try_from(12 + block.len() + self.payload.len() + 4).expect("small");
        let mut bytes = Vec::new();
        bytes.extend(total.to_be_bytes());
        bytes.extend(u32::try_from(block.len()).expect("small").to_be_bytes());
        let prelude_crc = crc32fast::hash(&bytes);
        bytes.extend(prelude_crc.to_be_bytes());
        bytes.extend_from_slice(&block);
        bytes.extend_from_slice(&self.payload);
        let crc = crc32fast::hash(&bytes);
        bytes.extend(crc.to_be_bytes());
        bytes
    }
}

fn other_header() -> impl Strategy<Value = Header> {
    prop_oneof![
        any::<bool>().prop_map(Header::Bool),
        any::<u8>().prop_map(Header::Byte),
        any::<u16>().prop_map(Header::Short),
        any::<u32>().prop_map(Header::Int),
        any::<u64>().prop_map(Header::Long),
        proptest::collection::vec(any::<u8>(), 0..8).prop_map(Header::Bytes),
        string().prop_map(Header::String),
        any::<u64>().prop_map(Header::Timestamp),
        any::<[u8; 16]>().prop_map(Header::Uuid),
    ]
}

/// An event type: ConverseStream's, or a name the transcoder must refuse (empty, or with a
/// control character that would break the SSE framing).
fn event_type() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => proptest::sample::select(&[
            "messageStart", "contentBlockDelta", "contentBlockStop", "messageStop", "metadata",
        ][..]).prop_map(str::to_owned),
        1 => Just(String::new()),
        1 => Just("a\nb".to_owned()),
        1 => "[ -~]{1,12}",
    ]
}

fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => json_value().prop_map(|v| v.to_string().into_bytes()),
        1 => json_value().prop_map(|v| serde_json::to_vec_pretty(&v).expect("serialises")),
        1 => proptest::collection::vec(any::<u8>(), 0..24),
    ]
}

/// A frame as ConverseStream sends it (an event, an exception or an unmodelled error), with
/// other typed headers mixed in, or now and then one the transcoder must refuse.
fn frame() -> impl Strategy<Value = Frame> {
    let kind = prop_oneof![
        8 => Just("event"),
        2 => Just("exception"),
        1 => Just("error"),
        1 => Just("bogus"),
    ];
    (
        kind,
        event_type(),
        proptest::collection::vec(("[a-z-]{1,8}", other_header()), 0..3),
        payload(),
        any::<bool>(),
    )
        .prop_map(|(kind, event_type, others, payload, has_type)| {
            let mut headers: Vec<(String, Header)> = others
                .into_iter()
                .map(|(name, header)| (format!("x-{name}"), header))
                .collect();
            headers.push((":message-type".into(), Header::String(kind.into())));
            let type_header = match kind {
                "event" => ":event-type",
                "exception" => ":exception-type",
                _ => ":error-code",
            };
            if has_type || kind == "error" {
                headers.push((type_header.into(), Header::String(event_type.clone())));
            }
            let refused_name = event_type.is_empty() || event_type.contains('\n');
            let expected_name = match kind {
                "event" if has_type && !refused_name => Some(event_type),
                "exception" if has_type => Some("exception".to_owned()),
                "error" => Some("exception".to_owned()),
                _ => None,
            };
            Frame {
                headers,
                payload,
                expected_name,
            }
        })
}

/// What the transcoder makes of `bytes` fed in pieces cut at `cuts`: its SSE text, and the
/// first error (of a push or of the end).
fn transcode(bytes: &[u8], cuts: &[usize]) -> (Vec<u8>, Option<String>) {
    let mut transcoder = EventStreamTranscoder::new();
    let mut out = BytesMut::new();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(bytes.len());
    points.sort_unstable();
    let mut from = 0;
    for to in points {
        if let Err(error) = transcoder.push(&bytes[from..to], &mut out) {
            return (out.to_vec(), Some(error));
        }
        from = to;
    }
    (out.to_vec(), transcoder.finish().err())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn the_transcoder_never_panics_on_any_bytes(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..6),
    ) {
        let mut transcoder = EventStreamTranscoder::new();
        let mut out = BytesMut::new();
        for chunk in &chunks {
            let _ = transcoder.push(chunk, &mut out);
        }
        let _ = transcoder.finish();
    }

    #[test]
    fn the_transcoder_gives_the_same_events_however_the_frames_are_split(
        frames in proptest::collection::vec(frame(), 0..6),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
    ) {
        let bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let whole = transcode(&bytes, &[]);
        prop_assert_eq!(&whole, &transcode(&bytes, &cuts));
        // Each frame up to the first refused one is one SSE event, named as it should be.
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        parser.push(Bytes::from(whole.0), &mut events).expect("events within the limit");
        prop_assert!(parser.is_empty(), "the output ends with a whole event");
        let accepted = frames.iter().take_while(|f| f.expected_name.is_some()).count();
        prop_assert_eq!(events.len(), accepted);
        prop_assert_eq!(whole.1.is_none(), accepted == frames.len(), "{:?}", whole.1);
        for (event, frame) in events.iter().zip(&frames) {
            prop_assert_eq!(event.name(), frame.expected_name.as_deref());
            let data = event.data();
            let payload = String::from_utf8_lossy(&frame.payload);
            if frame.expected_name.as_deref() == Some("exception") {
                prop_assert!(serde_json::from_str::<Value>(&data).is_ok_and(|e| e["__type"].is_string()));
            } else if !payload.contains(['\n', '\r']) {
                prop_assert_eq!(data.as_ref(), payload.as_ref());
            } else if let Ok(json) = serde_json::from_slice::<Value>(&frame.payload) {
                // JSON spread over lines is written on one. (Compared as the transcoder's text
                // reads back: serde_json reads floats inexactly.)
                let expected = serde_json::from_str::<Value>(&json.to_string()).ok();
                prop_assert_eq!(serde_json::from_str::<Value>(&data).ok(), expected);
            }
        }
    }

    #[test]
    fn the_transcoder_detects_any_corrupted_byte(
        frames in proptest::collection::vec(frame(), 1..4),
        at in any::<usize>(),
        flip in 1u8..=255,
        cuts in proptest::collection::vec(any::<usize>(), 0..6),
    ) {
        let mut bytes: Vec<u8> = frames.iter().flat_map(Frame::encode).collect();
        let at = at % bytes.len();
        bytes[at] ^= flip;
        let whole = transcode(&bytes, &[]);
        prop_assert_eq!(&whole, &transcode(&bytes, &cuts));
        // Both checksums cover every byte of a frame (the prelude's its first eight), so the
        // frame with the changed byte is refused and nothing of it is written.
        prop_assert!(whole.1.is_some(), "byte {} changed unnoticed", at);
        let mut parser = SseParser::default();
        let mut events = Vec::new();
        parser.push(Bytes::from(whole.0), &mut events).expect("events within the limit");
        let ends: Vec<usize> = frames
            .iter()
            .scan(0, |end, frame| {
                *end += frame.encode().len();
                Some(*end)
            })
            .collect();
        let whole_frames_before = ends.iter().filter(|&&end| end <= at).count();
        prop_assert!(events.len() <= whole_frames_before);
    }

    #[test]
    fn the_transcoder_checks_a_prelude_before_waiting_for_its_frame(
        total in prop_oneof![0u32..64, Just(u32::MAX), any::<u32>(), Just(MAX_FRAME_BYTES as u32 + 1)],
        headers in prop_oneof![0u32..64, any::<u32>()],
    ) {
        let mut prelude = Vec::new();
        prelude.extend(total.to_be_bytes());
        prelude.extend(headers.to_be_bytes());
        let crc = crc32fast::hash(&prelude);
        prelude.extend(crc.to_be_bytes());
        let mut transcoder = EventStreamTranscoder::new();
        let pushed = transcoder.push(&prelude, &mut BytesMut::new());
        let (total, headers) = (total as usize, headers as usize);
        let possible = (16..=MAX_FRAME_BYTES).contains(&total) && headers <= total - 16;
        // A frame that cannot be is refused at once, without buffering up to its length.
        prop_assert_eq!(pushed.is_ok(), possible);
        if possible {
            prop_assert!(transcoder.finish().is_err(), "the frame never came");
        }
    }

    #[test]
    fn chat_requests_become_what_converse_accepts(
        request in prop_oneof![6 => chat_request(), 1 => crate::request(), 1 => json_value()],
        claude in any::<bool>(),
        model in string(),
    ) {
        let model = if claude { format!("us.anthropic.claude-{model}") } else { model };
        let Ok(sent) = bedrock::request(&request, &model) else {
            return Ok(());
        };
        crate::serialises(&sent);
        // Converse refuses turns that do not alternate, empty turns, blank text blocks, and
        // tool calls in a request without a toolConfig. (A tool result that answers no call is
        // refused by every API, OpenAI's too, and left to the provider to say so.)
        let messages = sent["messages"].as_array();
        prop_assert!(messages.is_some(), "{}", sent);
        let mut previous = None;
        let mut calls = false;
        for message in messages.into_iter().flatten() {
            let role = message["role"].as_str();
            prop_assert!(matches!(role, Some("user" | "assistant")), "{}", message);
            prop_assert_ne!(role, previous, "turns alternate");
            previous = role;
            let blocks = message["content"].as_array();
            prop_assert!(blocks.is_some_and(|b| !b.is_empty()), "{}", message);
            for block in blocks.into_iter().flatten() {
                if let Some(text) = block.get("text") {
                    prop_assert!(text.as_str().is_some_and(|t| !t.trim().is_empty()), "{}", block);
                }
                calls |= block.get("toolUse").is_some();
            }
        }
        if calls {
            prop_assert!(sent["toolConfig"]["tools"].as_array().is_some_and(|t| !t.is_empty()));
        }
        if let Some(max) = sent.pointer("/inferenceConfig/maxTokens") {
            prop_assert!(max.as_u64().is_some_and(|max| max >= 1), "{}", max);
        }
    }

    #[test]
    fn converse_answers_become_chat_completions(
        answer in prop_oneof![crate::response(), json_value()],
        model in string(),
    ) {
        let (completion, usage) = bedrock::response(&answer, &model);
        crate::serialises(&completion);
        prop_assert_eq!(completion["usage"]["prompt_tokens"].as_u64(), Some(usage.prompt_tokens));
    }
}
