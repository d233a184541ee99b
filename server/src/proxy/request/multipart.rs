//! Peeking at a `multipart/form-data` body (audio transcriptions): the `model` and `stream`
//! fields are found by scanning the bytes already read, part by part, so the uploaded file is
//! neither copied nor parsed; the model's span lets it be rewritten in place like a JSON body's.

use std::borrow::Cow;
use std::ops::Range;

use memchr::memmem;

use super::{ModelField, Peeked};
use crate::proxy::ProxyError;

/// The boundary of a `multipart/form-data` content type.
fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.split(';').find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| value.trim().trim_matches('"'))
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// The `name` of a part from its `Content-Disposition` header (`form-data; name="model"`): only
/// that header, and only an exact `name` parameter, count, so a part cannot pass for another by
/// naming itself elsewhere (a decoy header, `xname=`, `filename=`).
fn part_name(headers: &[u8]) -> Option<&[u8]> {
    headers.split(|&b| b == b'\n').find_map(|line| {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let colon = memchr::memchr(b':', line)?;
        if !line[..colon]
            .trim_ascii()
            .eq_ignore_ascii_case(b"content-disposition")
        {
            return None;
        }
        line[colon + 1..].split(|&b| b == b';').find_map(|param| {
            let param = param.trim_ascii();
            let equals = memchr::memchr(b'=', param)?;
            if !param[..equals].trim_ascii().eq_ignore_ascii_case(b"name") {
                return None;
            }
            let value = param[equals + 1..].trim_ascii();
            Some(
                value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(value),
            )
        })
    })
}

/// Finds each field's value span; `f` gets the name and the span.
fn fields(
    body: &[u8],
    boundary: &str,
    mut f: impl FnMut(&[u8], Range<usize>),
) -> Result<(), String> {
    let delimiter = format!("--{boundary}");
    let next_delimiter = format!("\r\n--{boundary}");
    let finder = memmem::Finder::new(next_delimiter.as_bytes());
    let mut at = memmem::find(body, delimiter.as_bytes())
        .ok_or("the multipart body has no part with its boundary")?
        + delimiter.len();
    loop {
        let rest = &body[at..];
        if rest.starts_with(b"--") {
            return Ok(());
        }
        let headers_start = at + 2;
        let headers_len = memmem::find(body.get(headers_start..).unwrap_or_default(), b"\r\n\r\n")
            .ok_or("a multipart part has no end of headers")?;
        let headers = &body[headers_start..headers_start + headers_len];
        let value_start = headers_start + headers_len + 4;
        let value_len = finder
            .find(body.get(value_start..).unwrap_or_default())
            .ok_or("the multipart body ends inside a part")?;
        if let Some(name) = part_name(headers) {
            f(name, value_start..value_start + value_len);
        }
        at = value_start + value_len + next_delimiter.len();
    }
}

/// Reads `model` and `stream` from a `multipart/form-data` body.
pub fn peek_multipart<'a>(body: &'a [u8], content_type: &str) -> Result<Peeked<'a>, ProxyError> {
    let boundary = boundary(content_type).ok_or_else(|| {
        ProxyError::BodyUnreadable(
            "this endpoint takes multipart/form-data with a boundary".to_owned(),
        )
    })?;
    let mut model = None;
    let mut stream = None;
    let mut repeated = None;
    fields(body, boundary, |name, span| match name {
        b"model" if model.is_none() => model = Some(span),
        b"stream" if stream.is_none() => stream = Some(body[span].eq_ignore_ascii_case(b"true")),
        // Servers differ on which of two values wins: the gateway would route by one and the
        // provider run the other.
        b"model" => repeated = Some("model"),
        b"stream" => repeated = Some("stream"),
        _ => {}
    })
    .map_err(ProxyError::BodyUnreadable)?;
    if let Some(field) = repeated {
        return Err(ProxyError::BodyUnreadable(format!(
            "the form has the field `{field}` more than once"
        )));
    }
    let stream = stream.unwrap_or(false);
    let span = model.ok_or(ProxyError::MissingModel)?;
    let text = std::str::from_utf8(&body[span.clone()]).map_err(|_| ProxyError::ModelNotString)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(ProxyError::MissingModel);
    }
    if switchyard_shared::validate::is_dot_segment(text) {
        return Err(ProxyError::InvalidModel(format!(
            "`{text}` cannot name a model."
        )));
    }
    Ok(Peeked {
        model: Cow::Borrowed(text),
        model_span: span,
        model_field: ModelField::FormField,
        stream,
        include_usage: false,
        has_stream_options: false,
        max_tokens: None,
    })
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::proxy::request::with_model;

    fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, filename, value) in parts {
            body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"");
            body.extend_from_slice(name.as_bytes());
            body.push(b'"');
            if let Some(filename) = filename {
                body.extend_from_slice(format!("; filename=\"{filename}\"").as_bytes());
                body.extend_from_slice(b"\r\nContent-Type: audio/mpeg");
            }
            body.extend_from_slice(b"\r\n\r\n");
            body.extend_from_slice(value);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn finds_the_model_after_a_file_and_rewrites_it_in_place() {
        // The file holds bytes that look like a part's headers; only real parts count.
        let audio: &[u8] = b"ID3\x00\x01name=\"model\"\r\n\r\nnot-this\r\n\xff\xfe";
        let body = Bytes::from(form(&[
            ("file", Some("speech.mp3"), audio),
            ("model", None, b"whisper-1"),
            ("stream", None, b"true"),
        ]));
        let content_type = "multipart/form-data; boundary=XyZ";
        let peeked = peek_multipart(&body, content_type).expect("a form");
        assert_eq!(peeked.model, "whisper-1");
        assert!(peeked.stream);
        let rewritten = with_model(&body, &peeked, "gpt-4o-transcribe");
        let again = peek_multipart(&rewritten, content_type).expect("still a form");
        assert_eq!(again.model, "gpt-4o-transcribe");
        assert!(
            memmem::find(&rewritten, audio).is_some(),
            "the file is untouched"
        );
    }

    #[test]
    fn only_the_content_disposition_name_counts_and_fields_are_not_repeated() {
        let content_type = "multipart/form-data; boundary=XyZ";
        let decoy = b"--XyZ\r\nX-Decoy: name=\"model\"\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nwhisper-1\r\n--XyZ\r\nContent-Disposition: form-data; xname=\"model\"; name=\"model\"\r\n\r\ngpt-4o-transcribe\r\n--XyZ--\r\n";
        let peeked = peek_multipart(decoy, content_type).expect("a form");
        assert_eq!(peeked.model, "gpt-4o-transcribe", "the real model field");
        let twice = form(&[
            ("model", None, b"whisper-1"),
            ("model", None, b"gpt-4o-transcribe"),
        ]);
        assert!(matches!(
            peek_multipart(&twice, content_type),
            Err(ProxyError::BodyUnreadable(message)) if message.contains("`model` more than once")
        ));
    }

    #[test]
    fn refuses_what_is_not_a_form_with_a_model() {
        let body = form(&[("file", Some("a.wav"), b"RIFF")]);
        assert!(matches!(
            peek_multipart(&body, "multipart/form-data; boundary=XyZ"),
            Err(ProxyError::MissingModel)
        ));
        assert!(matches!(
            peek_multipart(&body, "application/json"),
            Err(ProxyError::BodyUnreadable(_))
        ));
        assert!(matches!(
            peek_multipart(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper",
                "multipart/form-data; boundary=XyZ"
            ),
            Err(ProxyError::BodyUnreadable(_))
        ));
    }
}
