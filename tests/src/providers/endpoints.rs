//! The wire formats of OpenAI's endpoints beyond chat: legacy completions (JSON and stream, with
//! usage), image generation, text to speech (binary audio), transcriptions (a
//! `multipart/form-data` upload, built and parsed here byte by byte), moderations and rerank.

use bytes::Bytes;
use serde_json::{Value, json};

use super::{Answer, words};

/// A `text_completion` body for an answer, with its usage.
pub fn completion(answer: &Answer, model: &str) -> Value {
    json!({
        "id": format!("cmpl-{}", answer.id),
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"text": answer.text, "index": 0, "logprobs": null,
            "finish_reason": answer.finish.openai()}],
        "usage": super::openai::usage(answer),
    })
}

fn completion_chunk(answer: &Answer, model: &str, text: &str, finish: Option<&str>) -> Bytes {
    let chunk = json!({
        "id": format!("cmpl-{}", answer.id),
        "object": "text_completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}],
    });
    Bytes::from(format!("data: {chunk}\n\n"))
}

/// A completions stream: a chunk per word, the finish chunk, the usage chunk (no choices) when
/// `include_usage`, then `[DONE]`.
pub fn completion_stream(answer: &Answer, model: &str, include_usage: bool) -> Vec<Bytes> {
    let mut events: Vec<Bytes> = words(&answer.text)
        .iter()
        .map(|word| completion_chunk(answer, model, word, None))
        .collect();
    events.push(completion_chunk(
        answer,
        model,
        "",
        Some(answer.finish.openai()),
    ));
    if include_usage {
        let usage = json!({
            "id": format!("cmpl-{}", answer.id), "object": "text_completion",
            "created": 1_700_000_000, "model": model, "choices": [],
            "usage": super::openai::usage(answer),
        });
        events.push(Bytes::from(format!("data: {usage}\n\n")));
    }
    events.push(Bytes::from_static(b"data: [DONE]\n\n"));
    events
}

/// A tiny PNG (its signature and an IHDR chunk) in base64, as `b64_json` carries images.
pub const IMAGE_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/// An image generation answer.
pub fn image(model: &str, prompt: &str) -> Value {
    json!({
        "created": 1_700_000_000,
        "data": [{"b64_json": IMAGE_B64, "revised_prompt": format!("{prompt} ({model})")}],
        "usage": {"input_tokens": 12, "input_tokens_details": {"image_tokens": 0, "text_tokens": 12},
            "output_tokens": 272, "total_tokens": 284},
    })
}

/// The `audio/mpeg` bytes spoken for `input`: an ID3 header, then bytes that are neither UTF-8
/// nor free of what SSE and multipart parsers look for (`\r\n\r\n`, `data:`, `[DONE]`), so any
/// gateway that reads them as text changes them. Derived from `input`, so they differ per request.
pub fn speech(input: &str) -> Bytes {
    let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    let mut state = input
        .bytes()
        .fold(0x9E37_79B9_u32, |h, b| h.rotate_left(5) ^ u32::from(b));
    for i in 0..48 * 1024_u32 {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        bytes.push((state >> 24) as u8);
        if i.is_multiple_of(4096) {
            bytes.extend_from_slice(b"\xff\xfb\r\n\r\ndata: [DONE]\n\n");
        }
    }
    Bytes::from(bytes)
}

/// A moderation answer: nothing flagged.
pub fn moderation(model: &str) -> Value {
    let categories = ["harassment", "hate", "self-harm", "sexual", "violence"];
    let flags: serde_json::Map<String, Value> = categories
        .iter()
        .map(|c| ((*c).to_owned(), json!(false)))
        .collect();
    let scores: serde_json::Map<String, Value> = categories
        .iter()
        .map(|c| ((*c).to_owned(), json!(0.0001)))
        .collect();
    json!({
        "id": "modr-0001",
        "model": model,
        "results": [{"flagged": false, "categories": flags, "category_scores": scores}],
    })
}

/// A rerank answer (the Cohere and Jina shape vLLM and others serve): the documents in reverse
/// order of their position, each with a score.
pub fn rerank(model: &str, documents: usize) -> Value {
    let results: Vec<Value> = (0..documents)
        .rev()
        .enumerate()
        .map(|(rank, index)| json!({"index": index, "relevance_score": 1.0 - rank as f64 / 10.0}))
        .collect();
    json!({"id": "rerank-0001", "model": model, "results": results, "usage": {"total_tokens": 23}})
}

/// A transcription answer naming what was received, so a client sees it too.
pub fn transcription(model: &str, file: &FormPart) -> Value {
    let text = format!(
        "{} bytes of {} transcribed by {model}",
        file.body.len(),
        file.filename.as_deref().unwrap_or("(no name)")
    );
    json!({"text": text, "usage": {"type": "duration", "seconds": 3}})
}

/// One part of a `multipart/form-data` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormPart {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl FormPart {
    /// A text field.
    pub fn field(name: &str, value: &str) -> FormPart {
        FormPart {
            name: name.to_owned(),
            filename: None,
            content_type: None,
            body: Bytes::copy_from_slice(value.as_bytes()),
        }
    }

    /// An uploaded file.
    pub fn file(name: &str, filename: &str, content_type: &str, body: Bytes) -> FormPart {
        FormPart {
            name: name.to_owned(),
            filename: Some(filename.to_owned()),
            content_type: Some(content_type.to_owned()),
            body,
        }
    }
}

/// A `multipart/form-data` body of `parts` with `boundary`, as HTTP clients write it.
pub fn form_body(boundary: &str, parts: &[FormPart]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(filename) = &part.filename {
            disposition.push_str(&format!("; filename=\"{filename}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = &part.content_type {
            body.extend_from_slice(format!("Content-Type: {content_type}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(&part.body);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// The boundary of a `multipart/form-data` content type.
pub fn form_boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        (name.trim() == "boundary").then(|| value.trim().trim_matches('"'))
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A header parameter (`name="…"`) of a part's `Content-Disposition`.
fn disposition_param(line: &str, param: &str) -> Option<String> {
    line.split(';').find_map(|piece| {
        let (key, value) = piece.trim().split_once('=')?;
        (key == param).then(|| value.trim_matches('"').to_owned())
    })
}

/// Parses a `multipart/form-data` body strictly, as a server would: every part between
/// boundaries, with its headers, and the closing boundary at the end.
pub fn parse_form(content_type: &str, body: &[u8]) -> Result<Vec<FormPart>, String> {
    let boundary = form_boundary(content_type).ok_or("no multipart boundary")?;
    let first = format!("--{boundary}\r\n");
    if !body.starts_with(first.as_bytes()) {
        return Err("the body does not start with the boundary".into());
    }
    let delimiter = format!("\r\n--{boundary}");
    let mut rest = &body[first.len()..];
    let mut parts = Vec::new();
    loop {
        let headers_end = find(rest, b"\r\n\r\n").ok_or("a part without the end of its headers")?;
        let headers =
            std::str::from_utf8(&rest[..headers_end]).map_err(|_| "part headers are not UTF-8")?;
        let content = &rest[headers_end + 4..];
        let end =
            find(content, delimiter.as_bytes()).ok_or("a part without a boundary after it")?;
        let mut part = FormPart {
            name: String::new(),
            filename: None,
            content_type: None,
            body: Bytes::copy_from_slice(&content[..end]),
        };
        for line in headers.split("\r\n") {
            let (name, value) = line.split_once(':').ok_or("a malformed part header")?;
            match name.trim().to_ascii_lowercase().as_str() {
                "content-disposition" => {
                    part.name = disposition_param(value, "name").ok_or("a part without a name")?;
                    part.filename = disposition_param(value, "filename");
                }
                "content-type" => part.content_type = Some(value.trim().to_owned()),
                _ => {}
            }
        }
        parts.push(part);
        rest = &content[end + delimiter.len()..];
        if rest == b"--\r\n" || rest == b"--" {
            return Ok(parts);
        }
        rest = rest
            .strip_prefix(b"\r\n")
            .ok_or("a boundary followed by neither a part nor the end")?;
    }
}

/// The text of a form's field `name`, if it has one.
pub fn form_field(parts: &[FormPart], name: &str) -> Option<String> {
    parts
        .iter()
        .find(|p| p.name == name && p.filename.is_none())
        .map(|p| String::from_utf8_lossy(&p.body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_round_trip_and_broken_ones_are_refused() {
        let audio = Bytes::from_static(b"ID3\x00\r\n\r\n--not-it\r\nname=\"model\"\xff");
        let parts = vec![
            FormPart::field("model", "whisper-1"),
            FormPart::file("file", "a.mp3", "audio/mpeg", audio),
        ];
        let content_type = "multipart/form-data; boundary=b0undary";
        let body = form_body("b0undary", &parts);
        assert_eq!(parse_form(content_type, &body), Ok(parts.clone()));
        assert_eq!(form_field(&parts, "model").as_deref(), Some("whisper-1"));
        assert!(parse_form(content_type, &body[..body.len() - 12]).is_err());
        assert!(parse_form("application/json", &body).is_err());
    }
}
