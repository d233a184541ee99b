//! Tests of the event-stream transcoder: frames built byte by byte (three of them checked with
//! botocore's own decoder), split anywhere, corrupted, oversized, and exceptions.

use bytes::BytesMut;
use serde_json::{Value, json};

use super::eventstream::{EventStreamTranscoder, MAX_FRAME_BYTES, decode_frame};
use crate::sse::SseParser;

/// Encodes one frame with string headers, as AWS's event stream does.
pub(super) fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(u8::try_from(name.len()).expect("short name"));
        block.extend_from_slice(name.as_bytes());
        block.push(7);
        block.extend_from_slice(&u16::try_from(value.len()).expect("short").to_be_bytes());
        block.extend_from_slice(value.as_bytes());
    }
    let total = u32::try_from(12 + block.len() + payload.len() + 4).expect("small frame");
    let headers_len = u32::try_from(block.len()).expect("small headers");
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&total.to_be_bytes());
    bytes.extend_from_slice(&headers_len.to_be_bytes());
    let prelude_crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&prelude_crc.to_be_bytes());
    bytes.extend_from_slice(&block);
    bytes.extend_from_slice(payload);
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_be_bytes());
    bytes
}

/// An event frame as ConverseStream sends it.
pub(super) fn event(event_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// A contentBlockDelta frame; botocore's `EventStreamBuffer` reads it as
/// `{':event-type': 'contentBlockDelta', ':content-type': 'application/json',
/// ':message-type': 'event'}` with this payload.
const BOTOCORE_DELTA: &str = "000000c20000005703f8a0850b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a2248656c6c6f227d2c2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a4142434445464748494a227d0fbba8f2";
/// A throttlingException frame (botocore reads the same headers and payload).
const BOTOCORE_EXCEPTION: &str = "000000b2000000613590d5d30f3a657863657074696f6e2d747970650700137468726f74746c696e67457863657074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d74797065070009657863657074696f6e7b226d657373616765223a22546f6f206d616e792072657175657374732c20706c656173652077616974206265666f726520747279696e6720616761696e2e227de8ffb26a";
/// A messageStart frame with a header of every other type (bool true and false, byte, short,
/// int, long, bytes, timestamp, uuid) before the string ones; botocore reads them all.
const BOTOCORE_MIXED_HEADERS: &str = "000000ab000000871109676d04666c616700036f6666010162020702736803fffe01690400000007016c050000010000000000056279746573060003000102053a64617465080000018bcfe5680002696409000000000000000000000000000000010d3a6d6573736167652d747970650700056576656e740b3a6576656e742d7479706507000c6d65737361676553746172747b22726f6c65223a22617373697374616e74227d00e21f71";

fn transcode(chunks: &[&[u8]]) -> Result<String, String> {
    let mut transcoder = EventStreamTranscoder::new();
    let mut out = BytesMut::new();
    for chunk in chunks {
        transcoder.push(chunk, &mut out)?;
    }
    transcoder.finish()?;
    Ok(String::from_utf8(out.to_vec()).expect("UTF-8"))
}

#[test]
fn our_frames_match_botocores_byte_for_byte() {
    let payload = br#"{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}"#;
    let built = frame(
        &[
            (":event-type", "contentBlockDelta"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
    );
    assert_eq!(built, unhex(BOTOCORE_DELTA));
    let decoded = decode_frame(&built).expect("valid frame");
    assert_eq!(decoded.header(":event-type"), Some("contentBlockDelta"));
    assert_eq!(decoded.payload, payload);
}

#[test]
fn a_frame_becomes_one_sse_event() {
    let sse = transcode(&[&unhex(BOTOCORE_DELTA)]).expect("valid");
    assert_eq!(
        sse,
        "event: contentBlockDelta\ndata: {\"contentBlockIndex\":0,\"delta\":{\"text\":\"Hello\"},\"p\":\"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ\"}\n\n"
    );
}

#[test]
fn headers_of_every_type_are_read_past() {
    let sse = transcode(&[&unhex(BOTOCORE_MIXED_HEADERS)]).expect("valid");
    assert_eq!(
        sse,
        "event: messageStart\ndata: {\"role\":\"assistant\"}\n\n"
    );
    let decoded = decode_frame(&unhex(BOTOCORE_MIXED_HEADERS)).expect("valid");
    let names: Vec<&str> = decoded.headers.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, [":message-type", ":event-type"], "only strings kept");
}

#[test]
fn exceptions_and_errors_become_exception_events() {
    let sse = transcode(&[&unhex(BOTOCORE_EXCEPTION)]).expect("valid");
    let events = parse_sse(&sse);
    assert_eq!(events[0].0.as_deref(), Some("exception"));
    assert_eq!(
        events[0].1,
        json!({"__type": "throttlingException",
            "message": "Too many requests, please wait before trying again."})
    );

    // An error the service did not model: its code and message are headers.
    let error = frame(
        &[
            (":message-type", "error"),
            (":error-code", "InternalFailure"),
            (":error-message", "An internal error occurred."),
        ],
        b"",
    );
    let events = parse_sse(&transcode(&[&error]).expect("valid"));
    assert_eq!(
        events[0].1,
        json!({"__type": "InternalFailure", "message": "An internal error occurred."})
    );
}

fn parse_sse(text: &str) -> Vec<(Option<String>, Value)> {
    let mut parser = SseParser::default();
    let mut events = Vec::new();
    parser
        .push(bytes::Bytes::copy_from_slice(text.as_bytes()), &mut events)
        .expect("small events");
    events
        .iter()
        .map(|e| {
            let data = serde_json::from_str(&e.data()).expect("JSON data");
            (e.name().map(str::to_owned), data)
        })
        .collect()
}

/// A whole stream in one buffer: start, a delta, a stop, metadata.
fn sample_stream() -> Vec<u8> {
    let mut bytes = event("messageStart", &json!({"role": "assistant"}));
    bytes.extend(unhex(BOTOCORE_DELTA));
    bytes.extend(event("messageStop", &json!({"stopReason": "end_turn"})));
    bytes.extend(event(
        "metadata",
        &json!({"usage": {"inputTokens": 3, "outputTokens": 1, "totalTokens": 4}, "metrics": {"latencyMs": 100}}),
    ));
    bytes
}

#[test]
fn several_frames_in_one_chunk_and_any_split_give_the_same_events() {
    let stream = sample_stream();
    let whole = transcode(&[&stream]).expect("valid");
    let names: Vec<_> = parse_sse(&whole).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        [
            "messageStart",
            "contentBlockDelta",
            "messageStop",
            "metadata"
        ]
        .map(|n| Some(n.into()))
    );
    for at in 0..=stream.len() {
        let (head, tail) = stream.split_at(at);
        assert_eq!(
            transcode(&[head, tail]).as_ref(),
            Ok(&whole),
            "split at {at}"
        );
    }
    let bytes: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(transcode(&bytes), Ok(whole), "one byte at a time");
}

#[test]
fn a_partial_frame_at_the_end_is_an_error() {
    let stream = sample_stream();
    let error = transcode(&[&stream[..stream.len() - 1]]).expect_err("cut short");
    assert!(error.contains("ended inside a frame"), "{error}");
    assert!(transcode(&[&stream[..5]]).is_err(), "inside the prelude");
    assert_eq!(transcode(&[]), Ok(String::new()), "an empty stream is fine");
}

#[test]
fn corrupt_checksums_are_errors_and_the_stream_stays_failed() {
    let good = unhex(BOTOCORE_DELTA);
    let mut bad_prelude = good.clone();
    bad_prelude[9] ^= 1;
    let error = transcode(&[&bad_prelude]).expect_err("prelude CRC");
    assert!(error.contains("prelude checksum"), "{error}");

    let mut bad_payload = good.clone();
    bad_payload[100] ^= 0x20;
    let error = transcode(&[&bad_payload]).expect_err("message CRC");
    assert!(error.contains("checksum does not match"), "{error}");

    // The frames before the bad one are written; nothing after it, and later pushes fail too.
    let mut transcoder = EventStreamTranscoder::new();
    let mut out = BytesMut::new();
    let mut stream = good.clone();
    stream.extend(&bad_payload);
    assert!(transcoder.push(&stream, &mut out).is_err());
    assert_eq!(
        parse_sse(std::str::from_utf8(&out).expect("UTF-8")).len(),
        1
    );
    assert!(transcoder.push(&good, &mut out).is_err());
    assert!(transcoder.finish().is_err());
}

#[test]
fn a_frame_over_the_limit_is_refused_from_its_prelude() {
    let payload = vec![b'x'; MAX_FRAME_BYTES];
    let big = frame(&[(":message-type", "event")], &payload);
    let mut transcoder = EventStreamTranscoder::new();
    let error = transcoder
        .push(&big[..12], &mut BytesMut::new())
        .expect_err("too large");
    assert!(error.contains("too large"), "{error}");

    // A frame of exactly the limit passes.
    let headers = [
        (":message-type", "event"),
        (":event-type", "contentBlockDelta"),
    ];
    let overhead = frame(&headers, b"").len();
    let largest = frame(&headers, &vec![b'a'; MAX_FRAME_BYTES - overhead]);
    assert_eq!(largest.len(), MAX_FRAME_BYTES);
    assert!(transcode(&[&largest]).is_ok());
}

#[test]
fn malformed_frames_are_errors() {
    // Lengths that cannot hold a frame, with a valid prelude checksum.
    let mut tiny = Vec::new();
    tiny.extend_from_slice(&8u32.to_be_bytes());
    tiny.extend_from_slice(&0u32.to_be_bytes());
    let crc = crc32fast::hash(&tiny);
    tiny.extend_from_slice(&crc.to_be_bytes());
    assert!(transcode(&[&tiny]).is_err());

    let no_type = frame(&[(":event-type", "messageStart")], b"{}");
    assert!(
        transcode(&[&no_type])
            .expect_err("no type")
            .contains(":message-type")
    );
    let no_event = frame(&[(":message-type", "event")], b"{}");
    assert!(
        transcode(&[&no_event])
            .expect_err("no event")
            .contains(":event-type")
    );
    let unknown = frame(&[(":message-type", "gossip")], b"{}");
    assert!(transcode(&[&unknown]).is_err());
    let newline = frame(
        &[(":message-type", "event"), (":event-type", "a\nb")],
        b"{}",
    );
    assert!(
        transcode(&[&newline]).is_err(),
        "an event name cannot break SSE"
    );

    // A header whose type byte is unknown.
    let mut bad_header = frame(&[(":message-type", "event")], b"{}");
    bad_header[12 + 1 + ":message-type".len()] = 42;
    let crc = crc32fast::hash(&bad_header[..bad_header.len() - 4]);
    let at = bad_header.len() - 4;
    bad_header[at..].copy_from_slice(&crc.to_be_bytes());
    assert!(
        transcode(&[&bad_header])
            .expect_err("type 42")
            .contains("unknown type")
    );
}

#[test]
fn payloads_with_line_breaks_stay_one_data_line() {
    let pretty = frame(
        &[(":message-type", "event"), (":event-type", "messageStop")],
        b"{\n  \"stopReason\": \"end_turn\"\r\n}",
    );
    let sse = transcode(&[&pretty]).expect("valid");
    assert_eq!(
        sse,
        "event: messageStop\ndata: {\"stopReason\":\"end_turn\"}\n\n"
    );
}
