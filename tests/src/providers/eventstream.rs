//! AWS's binary event stream (`application/vnd.amazon.eventstream`) as ConverseStream writes it:
//! each message is a prelude (total length, headers length, the prelude's CRC32), string headers,
//! the JSON payload and a CRC32 of all that, big-endian. A response body of such messages is sent
//! in pieces cut at awkward places, so that a reader must join frames across reads.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use serde_json::Value;

/// The content type of an event stream.
pub const CONTENT_TYPE: &str = "application/vnd.amazon.eventstream";

/// Header value type 7: a string (u16 length, UTF-8 bytes).
const STRING_HEADER: u8 = 7;

/// One message with string headers, in order.
pub fn frame(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut block = Vec::new();
    for (name, value) in headers {
        block.push(u8::try_from(name.len()).expect("header names are short"));
        block.extend_from_slice(name.as_bytes());
        block.push(STRING_HEADER);
        let len = u16::try_from(value.len()).expect("header values are short");
        block.extend_from_slice(&len.to_be_bytes());
        block.extend_from_slice(value.as_bytes());
    }
    let total = 12 + block.len() + payload.len() + 4;
    let mut bytes = Vec::with_capacity(total);
    bytes.extend_from_slice(&u32::try_from(total).expect("small frames").to_be_bytes());
    bytes.extend_from_slice(
        &u32::try_from(block.len())
            .expect("small headers")
            .to_be_bytes(),
    );
    let prelude_crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&prelude_crc.to_be_bytes());
    bytes.extend_from_slice(&block);
    bytes.extend_from_slice(payload);
    let message_crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&message_crc.to_be_bytes());
    bytes
}

/// An event message (`:message-type: event`) of `event_type` with a JSON payload.
pub fn event(event_type: &str, payload: &Value) -> Vec<u8> {
    frame(
        &[
            (":event-type", event_type),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// An exception message, as a stream reports a modelled error: `exception_type` in the stream's
/// lower camel case (`throttlingException`) and the message in the payload.
pub fn exception(exception_type: &str, message: &str) -> Vec<u8> {
    let payload = serde_json::json!({ "message": message });
    frame(
        &[
            (":exception-type", exception_type),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        payload.to_string().as_bytes(),
    )
}

/// The sizes the body is cut into, in turn: pieces smaller than a prelude, pieces that end inside
/// a CRC or a header, and pieces that span the end of one frame and the start of the next.
const PIECES: [usize; 9] = [1, 6, 13, 3, 29, 2, 71, 9, 150];

/// Cuts bytes into pieces of the sizes of [`PIECES`], in turn.
pub fn awkward_pieces(bytes: &[u8]) -> Vec<Bytes> {
    let mut pieces = Vec::new();
    let mut at = 0;
    for size in PIECES.iter().cycle() {
        if at >= bytes.len() {
            break;
        }
        let end = (at + size).min(bytes.len());
        pieces.push(Bytes::copy_from_slice(&bytes[at..end]));
        at = end;
    }
    pieces
}

/// A `200` event-stream answer whose frames are written in [`awkward_pieces`], each in its own
/// write: the body yields to the runtime between pieces, so the server flushes each one.
pub fn reply(frames: Vec<Vec<u8>>, request_id: &str) -> Response {
    let pieces = awkward_pieces(&frames.concat());
    let stream = futures_util::stream::unfold(pieces.into_iter(), |mut pieces| async move {
        let piece = pieces.next()?;
        tokio::task::yield_now().await;
        Some((Ok::<_, Infallible>(piece), pieces))
    });
    Response::builder()
        .status(200)
        .header("content-type", CONTENT_TYPE)
        .header("x-amzn-requestid", request_id)
        .body(Body::from_stream(stream))
        .expect("static event-stream headers are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// A contentBlockDelta frame exactly as botocore's `EventStreamBuffer` reads it back:
    /// the same three headers and payload.
    #[test]
    fn frames_match_what_botocore_reads() {
        let botocore = "000000c20000005703f8a0850b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a2248656c6c6f227d2c2270223a226162636465666768696a6b6c6d6e6f707172737475767778797a4142434445464748494a227d0fbba8f2";
        let payload = br#"{"contentBlockIndex":0,"delta":{"text":"Hello"},"p":"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"}"#;
        let headers = [
            (":event-type", "contentBlockDelta"),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ];
        assert_eq!(frame(&headers, payload), unhex(botocore));
    }

    #[test]
    fn pieces_keep_every_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let pieces = awkward_pieces(&bytes);
        assert_eq!(pieces.concat(), bytes);
        assert_eq!(pieces[0].len(), 1);
    }
}
