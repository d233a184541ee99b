//! AWS's binary event stream (`application/vnd.amazon.eventstream`), the framing ConverseStream
//! answers in, rewritten as server-sent events so the gateway's SSE pipeline can read it.
//!
//! A frame (AWS calls it a message) is: a 12-byte prelude (total length u32, headers length u32,
//! CRC32 of those 8 bytes), the headers, the payload, and a CRC32 of everything before it, all
//! big-endian. Each header is a name (u8 length, bytes), a type byte and a value whose layout the
//! type decides. Both checksums are verified: a stream that fails one cannot be trusted past it.

use bytes::{Buf, BufMut, BytesMut};
use serde_json::{Map, Value};

/// The largest frame accepted. ConverseStream's frames are small (one delta each); a larger one
/// means a broken or hostile upstream, and refusing it early keeps the buffer bounded.
pub const MAX_FRAME_BYTES: usize = 1024 * 1024;

/// Prelude (12 bytes) plus the message CRC (4 bytes): the smallest possible frame.
const FRAME_OVERHEAD: usize = 16;
const PRELUDE_BYTES: usize = 12;

/// One decoded frame: its string headers (other header types are skipped) and its payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub headers: Vec<(String, String)>,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The value of a string header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Reads frames from a byte stream that may split them anywhere, and writes each as one SSE
/// event: `event: <:event-type>` with the JSON payload as `data:` for events, and
/// `event: exception` with `{"__type": <exception type>, "message": …}` for exceptions and errors.
#[derive(Default)]
pub struct EventStreamTranscoder {
    pending: BytesMut,
    failed: Option<String>,
}

impl EventStreamTranscoder {
    pub fn new() -> EventStreamTranscoder {
        EventStreamTranscoder::default()
    }

    /// Feeds one chunk; every frame it completes is written to `out`. A malformed frame is an
    /// error for this call and every later one: the frames before it are still written.
    pub fn push(&mut self, chunk: &[u8], out: &mut BytesMut) -> Result<(), String> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        self.pending.extend_from_slice(chunk);
        loop {
            let written = match self.next_frame() {
                Ok(Some(frame)) => write_sse(&frame, out),
                Ok(None) => return Ok(()),
                Err(error) => Err(error),
            };
            if let Err(error) = written {
                self.failed = Some(error.clone());
                self.pending = BytesMut::new();
                return Err(error);
            }
        }
    }

    /// Ends the stream: bytes of a frame that never completed are an error.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "the event stream ended inside a frame ({} bytes left over)",
                self.pending.len()
            ))
        }
    }

    /// Takes the first complete frame off the buffer, if there is one.
    fn next_frame(&mut self) -> Result<Option<Frame>, String> {
        let Some(total) = frame_length(&self.pending)? else {
            return Ok(None);
        };
        if self.pending.len() < total {
            return Ok(None);
        }
        let bytes = self.pending.split_to(total);
        decode_frame(&bytes).map(Some)
    }
}

/// The total length a buffer's first frame announces, once its prelude is complete and checked.
fn frame_length(buffer: &[u8]) -> Result<Option<usize>, String> {
    let Some(mut prelude) = buffer.get(..PRELUDE_BYTES) else {
        return Ok(None);
    };
    let total = prelude.get_u32() as usize;
    let headers = prelude.get_u32() as usize;
    let crc = prelude.get_u32();
    if crc32fast::hash(&buffer[..8]) != crc {
        return Err("an event stream frame's prelude checksum does not match".to_owned());
    }
    if total > MAX_FRAME_BYTES {
        return Err(format!(
            "an event stream frame is too large ({total} bytes; the limit is {MAX_FRAME_BYTES})"
        ));
    }
    if total < FRAME_OVERHEAD || headers > total - FRAME_OVERHEAD {
        return Err(format!(
            "an event stream frame announces impossible lengths (total {total}, headers {headers})"
        ));
    }
    Ok(Some(total))
}

/// Decodes one whole frame (`bytes` is exactly one frame), verifying both checksums.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, String> {
    let total = bytes.len();
    let Some(total_checked) = frame_length(bytes)? else {
        return Err("an event stream frame is shorter than its prelude".to_owned());
    };
    if total_checked != total {
        return Err("an event stream frame's length does not match its prelude".to_owned());
    }
    let (body, mut crc_bytes) = bytes.split_at(total - 4);
    if crc32fast::hash(body) != crc_bytes.get_u32() {
        return Err("an event stream frame's checksum does not match".to_owned());
    }
    let headers_len = u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
    let headers_end = PRELUDE_BYTES + headers_len;
    Ok(Frame {
        headers: decode_headers(&body[PRELUDE_BYTES..headers_end])?,
        payload: body[headers_end..].to_vec(),
    })
}

/// Reads the header block, keeping the string headers and skipping the others by their size.
fn decode_headers(mut block: &[u8]) -> Result<Vec<(String, String)>, String> {
    let truncated = || "an event stream frame's headers are truncated".to_owned();
    let mut headers = Vec::new();
    while block.has_remaining() {
        let name_len = usize::from(block.try_get_u8().map_err(|_| truncated())?);
        let name = take(&mut block, name_len).ok_or_else(truncated)?;
        let name = std::str::from_utf8(name)
            .map_err(|_| "an event stream header name is not UTF-8".to_owned())?
            .to_owned();
        let kind = block.try_get_u8().map_err(|_| truncated())?;
        let fixed = match kind {
            // Booleans carry their value in the type byte.
            0 | 1 => 0,
            2 => 1,
            3 => 2,
            4 => 4,
            5 | 8 => 8,
            9 => 16,
            6 | 7 => {
                let len = usize::from(block.try_get_u16().map_err(|_| truncated())?);
                let value = take(&mut block, len).ok_or_else(truncated)?;
                if kind == 7 {
                    let value = std::str::from_utf8(value)
                        .map_err(|_| format!("the event stream header '{name}' is not UTF-8"))?;
                    headers.push((name, value.to_owned()));
                }
                continue;
            }
            other => {
                return Err(format!(
                    "the event stream header '{name}' has an unknown type ({other})"
                ));
            }
        };
        take(&mut block, fixed).ok_or_else(truncated)?;
    }
    Ok(headers)
}

fn take<'a>(block: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    if block.len() < len {
        return None;
    }
    let (head, tail) = block.split_at(len);
    *block = tail;
    Some(head)
}

/// Writes one frame as an SSE event.
fn write_sse(frame: &Frame, out: &mut BytesMut) -> Result<(), String> {
    let message_type = frame
        .header(":message-type")
        .ok_or("an event stream frame has no :message-type header")?;
    match message_type {
        "event" => {
            let event_type = frame
                .header(":event-type")
                .ok_or("an event stream event has no :event-type header")?;
            write_event(out, event_type, &frame.payload)
        }
        "exception" => {
            let exception_type = frame
                .header(":exception-type")
                .ok_or("an event stream exception has no :exception-type header")?;
            let mut error = match serde_json::from_slice::<Value>(&frame.payload) {
                Ok(Value::Object(object)) => object,
                _ => {
                    let mut object = Map::new();
                    let text = String::from_utf8_lossy(&frame.payload).trim().to_owned();
                    object.insert("message".into(), Value::from(text));
                    object
                }
            };
            error.insert("__type".into(), Value::from(exception_type));
            write_event(
                out,
                "exception",
                Value::Object(error).to_string().as_bytes(),
            )
        }
        // Errors the service did not model name themselves in headers, without a payload.
        "error" => {
            let code = frame.header(":error-code").unwrap_or("InternalFailure");
            let message = frame.header(":error-message").unwrap_or("upstream error");
            let error = serde_json::json!({"__type": code, "message": message});
            write_event(out, "exception", error.to_string().as_bytes())
        }
        other => Err(format!(
            "an event stream frame has an unknown :message-type ('{other}')"
        )),
    }
}

fn write_event(out: &mut BytesMut, name: &str, payload: &[u8]) -> Result<(), String> {
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_control()) {
        return Err("an event stream event type is empty or has control characters".to_owned());
    }
    out.put_slice(b"event: ");
    out.put_slice(name.as_bytes());
    out.put_slice(b"\ndata: ");
    if payload.iter().any(|&b| b == b'\n' || b == b'\r') {
        // An SSE field ends at a line break, so a payload spread over lines (JSON whitespace) is
        // written compactly; one that is not JSON has its line breaks blanked, and then fails to
        // parse downstream as the malformed event it is.
        match serde_json::from_slice::<Value>(payload) {
            Ok(value) => out.put_slice(value.to_string().as_bytes()),
            Err(_) => out.extend(payload.iter().map(|&b| match b {
                b'\n' | b'\r' => b' ',
                other => other,
            })),
        }
    } else {
        out.put_slice(payload);
    }
    out.put_slice(b"\n\n");
    Ok(())
}
