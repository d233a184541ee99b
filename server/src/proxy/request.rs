//! Reading just enough of a request body: `model` and `stream`, without building a JSON tree, and
//! rewriting `model` in place so every other byte reaches the upstream unchanged.

use std::borrow::Cow;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ProxyError;

/// What the gateway needs to know about a request body.
#[derive(Debug)]
pub struct Peeked<'a> {
    pub model: Cow<'a, str>,
    /// Where the model's JSON string (quotes included) sits in the body.
    pub model_span: Range<usize>,
    pub stream: bool,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
}

/// Reads `model` and `stream` from a JSON object body. Other fields are skipped, not parsed into
/// values, so the cost does not grow with the size of `messages` beyond one scan.
pub fn peek(body: &[u8]) -> Result<Peeked<'_>, ProxyError> {
    // serde accepts a JSON array for a struct (as a tuple), so insist on an object first.
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        None => return Err(ProxyError::MalformedJson("the body is empty".into())),
        Some(_) => return Err(ProxyError::NotAnObject("found another JSON value".into())),
    }
    let fields: Fields = serde_json::from_slice(body).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => ProxyError::NotAnObject(e.to_string()),
        _ => ProxyError::MalformedJson(e.to_string()),
    })?;
    let raw = fields.model.ok_or(ProxyError::MissingModel)?;
    let model: Cow<'_, str> =
        serde_json::from_str(raw.get()).map_err(|_| ProxyError::ModelNotString)?;
    let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
    let model_span = start..start + raw.get().len();
    let stream = match fields.stream.map(RawValue::get) {
        None | Some("null") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ProxyError::StreamNotBool),
    };
    Ok(Peeked {
        model,
        model_span,
        stream,
    })
}

/// The body with the model's JSON string at `span` replaced by `model`.
pub fn rewrite_model(body: &Bytes, span: Range<usize>, model: &str) -> Bytes {
    let encoded = serde_json::to_string(model).unwrap_or_else(|_| String::from("\"\""));
    let mut out = BytesMut::with_capacity(body.len() - span.len() + encoded.len());
    out.put_slice(&body[..span.start]);
    out.put_slice(encoded.as_bytes());
    out.put_slice(&body[span.end..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peeks_model_and_stream() {
        let body = br#"{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o","stream":true,"x":{"y":1}}"#;
        let peeked = peek(body).expect("valid");
        assert_eq!(peeked.model, "gpt-4o");
        assert!(peeked.stream);
        assert_eq!(&body[peeked.model_span.clone()], br#""gpt-4o""#);
    }

    #[test]
    fn rejects_bad_bodies() {
        assert!(matches!(
            peek(b"{\"model\":"),
            Err(ProxyError::MalformedJson(_))
        ));
        assert!(matches!(peek(b"[1,2]"), Err(ProxyError::NotAnObject(_))));
        assert!(matches!(peek(b"{}"), Err(ProxyError::MissingModel)));
        assert!(matches!(
            peek(br#"{"model":5}"#),
            Err(ProxyError::ModelNotString)
        ));
        assert!(matches!(
            peek(br#"{"model":"m","stream":"yes"}"#),
            Err(ProxyError::StreamNotBool)
        ));
        assert!(matches!(
            peek(br#"{"model":"a","model":"b"}"#),
            Err(ProxyError::NotAnObject(_))
        ));
    }

    #[test]
    fn rewrites_only_the_model() {
        let body = Bytes::from_static(br#"{"model" : "de\u0065pseek-chat", "extra":[1,2]}"#);
        let peeked = peek(&body).expect("valid");
        assert_eq!(peeked.model, "deepseek-chat");
        let rewritten = rewrite_model(&body, peeked.model_span.clone(), "ds-\"v3\"");
        assert_eq!(&rewritten[..], br#"{"model" : "ds-\"v3\"", "extra":[1,2]}"#);
    }
}
