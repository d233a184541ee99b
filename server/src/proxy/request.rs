//! Reading just enough of a request body: `model` and `stream`, without building a JSON tree, and
//! rewriting `model` in place so every other byte reaches the upstream unchanged.

use std::borrow::Cow;
use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::error::ProxyError;

mod gemini;
mod multipart;

pub use gemini::peek_gemini;
pub use multipart::peek_multipart;

/// What the gateway needs to know about a request body.
#[derive(Debug)]
pub struct Peeked<'a> {
    pub model: Cow<'a, str>,
    /// Where the model sits in the body: its JSON string (quotes included), or the raw value of
    /// a form field; empty when the body does not carry it (Gemini names it in the path).
    pub model_span: Range<usize>,
    /// How the model is written at `model_span`.
    pub model_field: ModelField,
    pub stream: bool,
    /// Whether the client asked for usage in its stream (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Whether the body has a `stream_options` field at all.
    pub has_stream_options: bool,
    /// The completion budget the client set (`max_completion_tokens`, else `max_tokens`), for
    /// token-limit reservations; a value that is not a whole number counts as unset.
    pub max_tokens: Option<u64>,
}

/// How a request body carries its model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelField {
    /// A JSON string in a JSON body.
    Json,
    /// The raw value of a `multipart/form-data` field.
    FormField,
    /// Not in the body: the URL path names it.
    Path,
}

#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    model: Option<&'a RawValue>,
    #[serde(borrow)]
    stream: Option<&'a RawValue>,
    #[serde(borrow)]
    stream_options: Option<&'a RawValue>,
    #[serde(borrow)]
    max_tokens: Option<&'a RawValue>,
    #[serde(borrow)]
    max_completion_tokens: Option<&'a RawValue>,
    /// The Responses API's completion budget.
    #[serde(borrow)]
    max_output_tokens: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct StreamOptions {
    include_usage: Option<bool>,
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
    if switchyard_shared::validate::is_dot_segment(&model) {
        // It would be a dot-segment in Azure's and Gemini's URL paths.
        return Err(ProxyError::InvalidModel(format!(
            "`{model}` cannot name a model."
        )));
    }
    let start = raw.get().as_ptr() as usize - body.as_ptr() as usize;
    let model_span = start..start + raw.get().len();
    let stream = match fields.stream.map(RawValue::get) {
        None | Some("null") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ProxyError::StreamNotBool),
    };
    let include_usage = fields
        .stream_options
        .and_then(|raw| serde_json::from_str::<StreamOptions>(raw.get()).ok())
        .and_then(|options| options.include_usage)
        .unwrap_or(false);
    let whole = |raw: Option<&RawValue>| raw.and_then(|raw| raw.get().parse::<u64>().ok());
    Ok(Peeked {
        model,
        model_span,
        model_field: ModelField::Json,
        stream,
        include_usage,
        has_stream_options: fields.stream_options.is_some_and(|raw| raw.get() != "null"),
        max_tokens: whole(fields.max_completion_tokens)
            .or(whole(fields.max_tokens))
            .or(whole(fields.max_output_tokens)),
    })
}

/// The body with `stream_options.include_usage` set, so the provider reports usage at the end of
/// the stream. Without a `stream_options` field the field is spliced in after the opening brace;
/// otherwise the body is re-serialised, which only happens when a client sent the option as false.
pub fn with_include_usage(body: &Bytes, has_stream_options: bool) -> Bytes {
    const FIELD: &[u8] = br#""stream_options":{"include_usage":true},"#;
    if !has_stream_options {
        if let Some(open) = body.iter().position(|&b| b == b'{') {
            let mut out = BytesMut::with_capacity(body.len() + FIELD.len());
            out.put_slice(&body[..=open]);
            out.put_slice(FIELD);
            out.put_slice(&body[open + 1..]);
            return out.freeze();
        }
        return body.clone();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut value) => {
            value["stream_options"] = serde_json::json!({"include_usage": true});
            Bytes::from(value.to_string())
        }
        Err(_) => body.clone(),
    }
}

/// The body with its model replaced by `model`, written as the body carries it; the body as it
/// is when it does not carry one (or a form field's new value would break the form).
pub fn with_model(body: &Bytes, peeked: &Peeked<'_>, model: &str) -> Bytes {
    match peeked.model_field {
        ModelField::Json => rewrite_model(body, peeked.model_span.clone(), model),
        ModelField::FormField if !model.contains(['\r', '\n']) => {
            let span = peeked.model_span.clone();
            let mut out = BytesMut::with_capacity(body.len() - span.len() + model.len());
            out.put_slice(&body[..span.start]);
            out.put_slice(model.as_bytes());
            out.put_slice(&body[span.end..]);
            out.freeze()
        }
        ModelField::FormField | ModelField::Path => body.clone(),
    }
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
        assert_eq!(peeked.max_tokens, None);
    }

    #[test]
    fn peeks_the_completion_budget() {
        let peek_max = |body: &str| peek(body.as_bytes()).expect("valid").max_tokens;
        assert_eq!(peek_max(r#"{"model":"m","max_tokens":50}"#), Some(50));
        assert_eq!(
            peek_max(r#"{"model":"m","max_tokens":50,"max_completion_tokens":70}"#),
            Some(70)
        );
        assert_eq!(peek_max(r#"{"model":"m","max_tokens":"many"}"#), None);
        assert_eq!(peek_max(r#"{"model":"m","max_tokens":-3}"#), None);
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
    fn rejects_dot_segment_models() {
        // Escaped or not, `.` and `..` would climb the Azure and Gemini URL paths.
        for body in [
            &br#"{"model":".."}"#[..],
            br#"{"model":"."}"#,
            br#"{"model":".."}"#,
        ] {
            let error = peek(body).expect_err("a dot-segment model");
            assert!(matches!(error, ProxyError::InvalidModel(_)), "{error:?}");
            assert_eq!(error.status(), http::StatusCode::BAD_REQUEST);
            let body = error.body();
            assert_eq!(body["error"]["type"], "invalid_request_error");
            assert_eq!(body["error"]["param"], "model");
            assert!(
                body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("cannot name a model")),
                "{body}"
            );
        }
        for model in ["...", ".x", "a..b", "v1.5"] {
            let body = format!(r#"{{"model":"{model}"}}"#);
            assert_eq!(peek(body.as_bytes()).expect("a model").model, model);
        }
    }

    #[test]
    fn asks_for_usage_without_touching_the_rest() {
        let body = Bytes::from_static(br#"{"model":"m","stream":true,"x":1}"#);
        let peeked = peek(&body).expect("valid");
        assert!(!peeked.include_usage && !peeked.has_stream_options);
        let with = with_include_usage(&body, false);
        assert_eq!(
            &with[..],
            br#"{"stream_options":{"include_usage":true},"model":"m","stream":true,"x":1}"#
        );
        assert!(peek(&with).expect("still valid").include_usage);
        let off = Bytes::from_static(br#"{"model":"m","stream_options":{"include_usage":false}}"#);
        assert!(
            peek(&with_include_usage(&off, true))
                .expect("valid")
                .include_usage
        );
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
